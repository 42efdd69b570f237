package loadprobe

import (
	"math"
	"testing"
)

func TestQuantile(t *testing.T) {
	// 10 commits up to 0.1 s, 10 more up to 0.2 s, none above.
	cum := map[float64]float64{0.1: 10, 0.2: 20, math.Inf(1): 20}
	for _, tc := range []struct {
		name string
		q    float64
		want float64
	}{
		{"median at the first bound", 0.5, 0.1},
		{"inside the second bucket", 0.75, 0.15},
		{"p99", 0.99, 0.198},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quantile(cum, tc.q); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	if got := Quantile(map[float64]float64{math.Inf(1): 0}, 0.5); !math.IsNaN(got) {
		t.Errorf("empty histogram: %v, want NaN", got)
	}
}

func TestCommits(t *testing.T) {
	bucket := func(le string, v float64) Sample {
		return Sample{Name: "otelcol_exporter_mcppg_commit_duration_seconds_bucket", Labels: map[string]string{"le": le}, Value: v}
	}
	first := []Sample{bucket("0.1", 5), bucket("0.2", 5), bucket("+Inf", 5)}
	last := []Sample{bucket("0.1", 15), bucket("0.2", 25), bucket("+Inf", 25)}
	got := Commits(first, last)
	want := CommitWindow{Commits: 20, P50ms: 100, P99ms: 198}
	if got.Commits != want.Commits || math.Abs(got.P50ms-want.P50ms) > 1e-6 || math.Abs(got.P99ms-want.P99ms) > 1e-6 {
		t.Errorf("Commits = %+v, want %+v", got, want)
	}
	if got := Commits(last, last); got != (CommitWindow{P50ms: -1, P99ms: -1}) {
		t.Errorf("no commits in between: %+v", got)
	}
}

func TestSumMatchesSuffixesAndLabels(t *testing.T) {
	ss := []Sample{
		{Name: "otelcol_exporter_mcppg_rows_written_total", Labels: map[string]string{"table": "routing_log"}, Value: 3},
		{Name: "otelcol_exporter_mcppg_rows_written_total", Labels: map[string]string{"table": "error_log"}, Value: 4},
		{Name: "otelcol_exporter_queue_size", Value: 7},
	}
	if got := RowsWritten(ss); got != 7 {
		t.Errorf("RowsWritten = %v, want 7", got)
	}
	if got := QueueSize(ss); got != 7 {
		t.Errorf("QueueSize = %v, want 7", got)
	}
	if got := Sum(ss, "otelcol_exporter_mcppg_rows_written", RowsSuffixes, map[string]string{"table": "error_log"}); got != 4 {
		t.Errorf("Sum(table=error_log) = %v, want 4", got)
	}
}
