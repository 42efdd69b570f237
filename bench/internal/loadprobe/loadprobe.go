// Package loadprobe holds what the load harnesses (bench/internal/e2eload,
// bench/internal/soak) read from a running collector: its Prometheus
// metrics, the /proc figures of a process, and the wait for its exporter's
// queue to drain.
package loadprobe

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// --- Prometheus text ---------------------------------------------------------

// Sample is one line of the Prometheus text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Scrape reads the Prometheus text at url.
func Scrape(url string) ([]Sample, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var out []Sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		s := Sample{Labels: map[string]string{}}
		var rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			s.Name = line[:i]
			for _, kv := range splitLabels(line[i+1 : j]) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					s.Labels[k] = strings.Trim(v, `"`)
				}
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			s.Name, rest = f[0], strings.Join(f[1:], " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

func splitLabels(s string) []string {
	var out []string
	inQ, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQ = !inQ
		case ',':
			if !inQ {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// Sum adds every sample whose name starts with prefix and ends with one of
// the suffixes ("" matches the bare name), filtered by label values.
func Sum(ss []Sample, prefix string, suffixes []string, match map[string]string) float64 {
	var t float64
	for _, s := range ss {
		if !strings.HasPrefix(s.Name, prefix) {
			continue
		}
		rest := s.Name[len(prefix):]
		ok := false
		for _, suf := range suffixes {
			if rest == suf || (suf != "" && strings.HasSuffix(rest, suf) && !strings.Contains(strings.TrimSuffix(rest, suf), "bucket")) {
				ok = true
			}
		}
		if !ok {
			continue
		}
		for k, v := range match {
			if s.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			t += s.Value
		}
	}
	return t
}

// RowsSuffixes are the names otelcol_exporter_mcppg_rows_written takes in
// the Prometheus exposition, by version.
var RowsSuffixes = []string{"", "_total", "_row_total", "_rows_total"}

// RowsWritten is the exporter's rows_written counter, summed over tables.
func RowsWritten(ss []Sample) float64 {
	return Sum(ss, "otelcol_exporter_mcppg_rows_written", RowsSuffixes, nil)
}

// QueueSize is the exporter queue's size (otelcol_exporter_queue_size).
func QueueSize(ss []Sample) float64 {
	return Sum(ss, "otelcol_exporter_queue_size", []string{""}, nil)
}

// Buckets returns the cumulative bucket counts of a histogram, summed over
// its label sets, by upper bound.
func Buckets(ss []Sample, prefix string) map[float64]float64 {
	out := map[float64]float64{}
	for _, s := range ss {
		if !strings.HasPrefix(s.Name, prefix) || !strings.HasSuffix(s.Name, "_bucket") {
			continue
		}
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil {
			continue
		}
		out[le] += s.Value
	}
	return out
}

// Quantile of a histogram given as cumulative bucket counts (delta of two
// scrapes), interpolated linearly inside the bucket; NaN when it is empty.
func Quantile(cum map[float64]float64, q float64) float64 {
	bounds := make([]float64, 0, len(cum))
	for b := range cum {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return math.NaN()
	}
	total := cum[bounds[len(bounds)-1]]
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	prevB, prevC := 0.0, 0.0
	for _, b := range bounds {
		c := cum[b]
		if c >= rank {
			if math.IsInf(b, 1) {
				return prevB
			}
			if c == prevC {
				return b
			}
			return prevB + (b-prevB)*(rank-prevC)/(c-prevC)
		}
		prevB, prevC = b, c
	}
	return bounds[len(bounds)-1]
}

// CommitWindow is the exporter's commits between two scrapes, from the
// otelcol_exporter_mcppg_commit_duration histogram's deltas.
type CommitWindow struct {
	Commits float64
	P50ms   float64 // -1 when there was no commit
	P99ms   float64
}

// Commits compares the commit-duration histogram of two scrapes.
func Commits(first, last []Sample) CommitWindow {
	b0 := Buckets(first, "otelcol_exporter_mcppg_commit_duration")
	d := map[float64]float64{}
	for k, v := range Buckets(last, "otelcol_exporter_mcppg_commit_duration") {
		d[k] = v - b0[k]
	}
	// The +Inf bucket counts them all.
	w := CommitWindow{Commits: d[math.Inf(1)], P50ms: Quantile(d, 0.50) * 1000, P99ms: Quantile(d, 0.99) * 1000}
	if math.IsNaN(w.P50ms) || math.IsNaN(w.P99ms) {
		w.P50ms, w.P99ms = -1, -1
	}
	return w
}

// --- /proc ---------------------------------------------------------------------

// ClkTck is the kernel's clock ticks per second (USER_HZ) /proc counts in.
const ClkTck = 100.0

// ProcTicks returns utime+stime of pid.
func ProcTicks(pid int) (ticks float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+2:])
	// f[0] = state (field 3); utime 14, stime 15.
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return u + st, nil
}

// RSSMiB reads a field of /proc/PID/status in MiB: VmRSS (resident memory)
// or RssAnon (its anonymous part: the Go heap and stacks, without the pages
// of mapped files such as the persistent queue's bbolt file).
func RSSMiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// LoadAvg is the first three fields of /proc/loadavg.
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// --- drain ---------------------------------------------------------------------

// WaitDrained polls the collector's metrics until the exporter's queue is
// empty and rows_written stopped growing; it returns the seconds it waited
// (up to the last change) and an error when timeout passed first.
func WaitDrained(metricsURL string, timeout time.Duration) (float64, error) {
	start := time.Now()
	prev, stable := -1.0, 0
	for time.Since(start) < timeout {
		m, err := Scrape(metricsURL)
		if err != nil {
			return time.Since(start).Seconds(), err
		}
		q, rw := QueueSize(m), RowsWritten(m)
		if q == 0 && rw == prev {
			stable++
			if stable >= 2 {
				// The last change happened before the two stable samples.
				return max(0, time.Since(start).Seconds()-1), nil
			}
		} else {
			stable = 0
		}
		prev = rw
		time.Sleep(500 * time.Millisecond)
	}
	return time.Since(start).Seconds(), errors.New("queue not drained within the timeout")
}
