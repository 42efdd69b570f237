package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
	"github.com/mcp-bridge/otelcol-mcp/internal/reconcile/reconciletest"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

var testDB *pgtest.Database

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "mcp_reconcile_test", &testDB)) }

func execSQL(t *testing.T, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testDB.DSN)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	require.NoError(t, err)
}

// reconcileOpts are the options of `mcprouter-sim reconcile` by default:
// health checks and LB decisions may be sampled at mcpsampler's rates.
func reconcileOpts(t *testing.T, manifest, schema string) Options {
	t.Helper()
	sampled, err := ParseKindSet(DefaultSampled)
	require.NoError(t, err)
	return Options{Manifest: manifest, DSN: testDB.DSN, Schema: schema, Sampled: sampled}
}

func TestReconcile(t *testing.T) {
	everyTenth := func(i int) bool { return i%10 == 0 }
	tests := []struct {
		name   string
		spec   reconciletest.Spec
		damage string // SQL run on the stored rows (%s: the schema)
		ok     bool
		want   map[simmanifest.Kind]string // a substring of the kind's report line
		metric string                      // a substring of the metric's report line
	}{
		{name: "everything stored", spec: reconciletest.Spec{Requests: 40, Healthy: 20, Unhealthy: 2}, ok: true,
			want:   map[simmanifest.Kind]string{simmanifest.KindRouting: "ok", simmanifest.KindHealthCheck: "SUM 22  ok", simmanifest.KindSession: "final state compared  ok"},
			metric: "ok"},
		{name: "a deleted routing row", spec: reconciletest.Spec{Requests: 40, Healthy: 20, Unhealthy: 2},
			damage: `DELETE FROM %s.routing_log WHERE span_id = '\x01001d0000000000'::bytea`,
			want:   map[simmanifest.Kind]string{simmanifest.KindRouting: "FAIL: 1 missing", simmanifest.KindToolCall: "ok"}},
		{name: "a duplicated tool call", spec: reconciletest.Spec{Requests: 40, Healthy: 20, Unhealthy: 2},
			damage: `INSERT INTO %[1]s.tool_call_record (ts, trace_id, span_id, duration_us, status)
			         SELECT ts + interval '1 microsecond', trace_id, span_id, duration_us, status FROM %[1]s.tool_call_record LIMIT 1`,
			want: map[simmanifest.Kind]string{simmanifest.KindToolCall: "FAIL: 1 ids stored more than once"}},
		{name: "a lost session end", spec: reconciletest.Spec{Requests: 40, Healthy: 20, Unhealthy: 2},
			damage: `UPDATE %s.session_record SET ended_at = NULL, request_count = 3 WHERE session_id = 'sess-2'`,
			want:   map[simmanifest.Kind]string{simmanifest.KindSession: "FAIL: 1 not in their final state"}},
		{name: "a lost histogram point", spec: reconciletest.Spec{Requests: 40, Healthy: 20, Unhealthy: 2},
			damage: `DELETE FROM %s.metric_point WHERE ts = (SELECT max(ts) FROM %[1]s.metric_point)`,
			metric: "FAIL: 20 stored, 40 expected"},
		{name: "sample within bounds", spec: reconciletest.Spec{Requests: 10, Healthy: 4000, Unhealthy: 30, HealthKept: everyTenth, HealthPercent: 10},
			ok: true, want: map[simmanifest.Kind]string{simmanifest.KindHealthCheck: "healthy kept 400 of 4000, expected 305.1..494.9 at 10 %; SUM 4030"}},
		{name: "sample out of bounds", spec: reconciletest.Spec{Requests: 10, Healthy: 4000, Unhealthy: 30,
			HealthKept: func(i int) bool { return i%2 == 0 }, HealthPercent: 10},
			want: map[simmanifest.Kind]string{simmanifest.KindHealthCheck: "FAIL: 2000 healthy kept, outside 305.1..494.9"}},
		{name: "a missing failure of a sampled kind", spec: reconciletest.Spec{Requests: 10, Healthy: 4000, Unhealthy: 30, HealthKept: everyTenth, HealthPercent: 10},
			damage: `DELETE FROM %s.health_check_record WHERE event_id = 'hc-4010'`,
			want:   map[simmanifest.Kind]string{simmanifest.KindHealthCheck: "FAIL: 1 failures missing"}},
		{name: "a sampled kind stored unsampled must be complete", spec: reconciletest.Spec{Requests: 10, Healthy: 100, Unhealthy: 3},
			damage: `DELETE FROM %s.health_check_record WHERE event_id = 'hc-7'`,
			want:   map[simmanifest.Kind]string{simmanifest.KindHealthCheck: "FAIL: 1 missing (the stored rows are unsampled)"}},
		{name: "nothing healthy kept: the assumed rate decides", spec: reconciletest.Spec{Requests: 10, Healthy: 20, Unhealthy: 3,
			HealthKept: func(int) bool { return false }},
			ok: true, want: map[simmanifest.Kind]string{simmanifest.KindHealthCheck: "healthy kept 0 of 20, expected 0.0..8.7 at 10 %, assumed"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := fmt.Sprintf("reconcile_%d", i)
			run := reconciletest.NewRun(t, tt.spec)
			run.Store(t, testDB.DSN, schema)
			if tt.damage != "" {
				execSQL(t, fmt.Sprintf(tt.damage, schema))
			}
			rep, err := Run(context.Background(), reconcileOpts(t, run.Manifest, schema), io.Discard)
			require.NoError(t, err)
			var out bytes.Buffer
			rep.Print(&out)
			t.Log("\n" + out.String())
			assert.Equal(t, tt.ok, rep.OK())
			for k, want := range tt.want {
				assert.Contains(t, reportLine(out.String(), k.String()+" "), want, "%s", k)
			}
			if tt.metric != "" {
				assert.Contains(t, reportLine(out.String(), "metric "+mcpconv.MetricServerOperationDuration), tt.metric)
			}
		})
	}
}

func reportLine(report, prefix string) string {
	for line := range strings.SplitSeq(report, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

// TestReconcileWaitsForRows starts reconciling before the rows are there.
func TestReconcileWaitsForRows(t *testing.T) {
	run := reconciletest.NewRun(t, reconciletest.Spec{Requests: 20, Healthy: 5})
	schema := "reconcile_wait"
	o := reconcileOpts(t, run.Manifest, schema)
	o.Wait, o.Settle, o.Poll = time.Minute, 30*time.Second, 50*time.Millisecond
	// The schema exists, the rows are not there yet.
	empty := reconciletest.NewRun(t, reconciletest.Spec{})
	empty.Store(t, testDB.DSN, schema)
	done := make(chan *Report, 1)
	waiting := &firstWrite{ch: make(chan struct{})}
	go func() {
		rep, err := Run(context.Background(), o, waiting)
		assert.NoError(t, err)
		done <- rep
	}()
	select { // it found the rows missing and waits
	case <-waiting.ch:
	case <-time.After(time.Minute):
		t.Fatal("reconcile did not start waiting")
	}
	run.Store(t, testDB.DSN, schema)
	select {
	case rep := <-done:
		assert.True(t, rep.OK())
	case <-time.After(time.Minute):
		t.Fatal("reconcile did not finish")
	}

	// Rows that never come: it stops once the counts settle.
	lost := reconciletest.NewRun(t, reconciletest.Spec{Requests: 5})
	o = reconcileOpts(t, lost.Manifest, schema)
	o.Wait, o.Settle, o.Poll = time.Minute, 300*time.Millisecond, 50*time.Millisecond
	rep, err := Run(context.Background(), o, io.Discard)
	require.NoError(t, err)
	assert.False(t, rep.OK())
	assert.Contains(t, rep.Note, "did not change")
}

// firstWrite closes ch on the first write.
type firstWrite struct {
	once sync.Once
	ch   chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ch) })
	return len(p), nil
}

// TestReconcileTwoRoutersInOneSchema stores two runs in one schema, as two
// simulators behind two gateway collectors do (chaos/run.sh gateways): each
// with its own service.instance.id, ids and server-key prefix. Each manifest
// reconciles on its own; the other run's rows (routing, events, sessions,
// mcp_server rows, histogram series) are not counted.
func TestReconcileTwoRoutersInOneSchema(t *testing.T) {
	const schema = "reconcile_two_routers"
	a := reconciletest.NewRun(t, reconciletest.Spec{Requests: 40, Healthy: 20, Unhealthy: 2, Instance: "sim-a", IDPrefix: "a-", ServerPrefix: "a-"})
	b := reconciletest.NewRun(t, reconciletest.Spec{Requests: 30, Healthy: 10, Unhealthy: 1, Instance: "sim-b", IDPrefix: "b-", ServerPrefix: "b-"})
	a.Store(t, testDB.DSN, schema)
	b.Store(t, testDB.DSN, schema)
	for _, tt := range []struct {
		run                                reconciletest.Run
		routing, failed, health, histogram string
	}{
		{run: a, routing: "40", failed: "4", health: "22", histogram: "40"},
		{run: b, routing: "30", failed: "3", health: "11", histogram: "30"},
	} {
		rep, err := Run(context.Background(), reconcileOpts(t, tt.run.Manifest, schema), io.Discard)
		require.NoError(t, err)
		var out bytes.Buffer
		rep.Print(&out)
		t.Log("\n" + out.String())
		assert.True(t, rep.OK())
		assert.Equal(t, []string{"routing", "routing_log", tt.routing, tt.failed, tt.routing, "0", "0", "-"},
			strings.Fields(reportLine(out.String(), "routing "))[:8])
		assert.Equal(t, tt.health, strings.Fields(reportLine(out.String(), "health_check "))[2])
		assert.Equal(t, []string{"server", "mcp_server", "2", "0", "2", "0", "0", "0"},
			strings.Fields(reportLine(out.String(), "server "))[:8])
		assert.Equal(t, tt.histogram, strings.Fields(reportLine(out.String(), "metric "+mcpconv.MetricServerOperationDuration))[2])
		for _, k := range rep.Kinds {
			assert.Zero(t, k.SharedKeys, "%s", k.Kind)
		}
	}
}

// TestReconcileSharedServerKeys: two routers reporting the same server keys
// merge into the same mcp_server rows, so their final state cannot be
// judged against either manifest, even when it happens to match; reconcile
// says so instead of passing (or blaming a lost event).
func TestReconcileSharedServerKeys(t *testing.T) {
	const schema = "reconcile_shared_keys"
	a := reconciletest.NewRun(t, reconciletest.Spec{Requests: 10, Healthy: 5, Instance: "sim-a", IDPrefix: "a-"})
	b := reconciletest.NewRun(t, reconciletest.Spec{Requests: 10, Healthy: 6, Unhealthy: 1, Instance: "sim-b", IDPrefix: "b-"})
	a.Store(t, testDB.DSN, schema)
	b.Store(t, testDB.DSN, schema)
	rep, err := Run(context.Background(), reconcileOpts(t, a.Manifest, schema), io.Discard)
	require.NoError(t, err)
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	assert.False(t, rep.OK())
	assert.Contains(t, reportLine(out.String(), "server "),
		"FAIL: server keys also reported by another router during the run: 1 (7 health checks not in this manifest)")
	for _, k := range rep.Kinds {
		if k.Kind != simmanifest.KindServer {
			assert.True(t, k.OK(), "%s: %v", k.Kind, k.Problems)
		}
	}
	assert.Contains(t, out.String(), "reconcile: FAILED: server: server keys also reported by another router")
}
