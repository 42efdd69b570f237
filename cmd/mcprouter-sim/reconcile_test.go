package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter"
	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

var testDB *pgtest.Database

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "mcp_sim_test", &testDB)) }

// testRun is a small run: what the manifest says was sent and the pdata
// a collector would have received for it.
type testRun struct {
	manifest string
	traces   ptrace.Traces
	logs     plog.Logs
	metrics  pmetric.Metrics
}

// runSpec shapes a testRun.
type runSpec struct {
	requests      int // every 5th is a tools/call, every 10th fails
	healthy       int // healthy health checks sent
	unhealthy     int
	healthKept    func(i int) bool // which healthy checks reach the tables
	healthPercent float64          // their recorded sampling rate; 0: unsampled
	// Two runs in one schema: service.instance.id (default testInstance),
	// a prefix of every id (trace ids take its first 8 bytes) and of the
	// server keys.
	instance, idPrefix, serverPrefix string
}

const testInstance = "sim-test-instance"

var t0 = time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)

// newTestRun writes the manifest and builds the matching pdata.
func newTestRun(t *testing.T, spec runSpec) testRun {
	t.Helper()
	run := testRun{manifest: filepath.Join(t.TempDir(), "sent.gz"), traces: ptrace.NewTraces(),
		logs: plog.NewLogs(), metrics: pmetric.NewMetrics()}
	instance := cmp.Or(spec.instance, testInstance)
	weather1 := spec.serverPrefix + "weather-1"
	man, err := createManifest(run.manifest)
	require.NoError(t, err)
	count := &counters{}
	rec := newRecorder(man, count)

	rs := run.traces.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, instance)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	rl := run.logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, instance)
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	ts := func(i int) pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * time.Millisecond))
	}
	event := func(name string, i int, id string) plog.LogRecord {
		lr := records.AppendEmpty()
		lr.SetEventName(name)
		lr.SetTimestamp(ts(i))
		lr.Attributes().PutStr(mcpconv.EventID, id)
		return lr
	}

	toolCalls := 0
	for i := range spec.requests {
		var tid trace.TraceID
		copy(tid[:8], spec.idPrefix)
		binary.BigEndian.PutUint64(tid[8:], uint64(i+1))
		sid := trace.SpanID{1, byte(i >> 8), byte(i)}
		failed := i%10 == 9
		s := spans.AppendEmpty()
		s.SetKind(ptrace.SpanKindServer)
		s.SetName("ping")
		s.SetTraceID(pcommon.TraceID(tid))
		s.SetSpanID(pcommon.SpanID(sid))
		s.SetStartTimestamp(ts(i))
		s.SetEndTimestamp(ts(i + 1))
		s.Attributes().PutStr(mcpconv.MethodName, "ping")
		if failed {
			s.Status().SetCode(ptrace.StatusCodeError)
			rec.spanError(tid, sid, -1)
		}
		rec.span(kindRouting, tid, sid, failed)
		if i%5 != 0 {
			continue
		}
		toolCalls++
		csid := trace.SpanID{2, byte(i >> 8), byte(i)}
		c := spans.AppendEmpty()
		c.SetKind(ptrace.SpanKindClient)
		c.SetName("tools/call t")
		c.SetTraceID(pcommon.TraceID(tid))
		c.SetSpanID(pcommon.SpanID(csid))
		c.SetParentSpanID(pcommon.SpanID(sid))
		c.SetStartTimestamp(ts(i))
		c.SetEndTimestamp(ts(i + 1))
		c.Attributes().PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		if failed {
			c.Status().SetCode(ptrace.StatusCodeError)
			ev := c.Events().AppendEmpty()
			ev.SetName(mcpconv.ExceptionEventName)
			ev.SetTimestamp(ts(i + 1))
			ev.Attributes().PutStr(mcpconv.ExceptionType, "E")
			rec.spanError(tid, csid, 0)
		}
		rec.span(kindToolCall, tid, csid, failed)

		lbID := fmt.Sprintf("%slb-%d", spec.idPrefix, i)
		lb := event(mcpconv.EventLBDecision, i, lbID)
		lb.SetTraceID(pcommon.TraceID(tid))
		lb.Attributes().PutStr(mcpconv.ServerKey, weather1)
		rec.event(kindLBDecision, lbID, false)
	}
	var tvalue string
	if spec.healthPercent > 0 {
		th, err := sampling.ProbabilityToThreshold(spec.healthPercent / 100)
		require.NoError(t, err)
		tvalue = th.TValue()
	}
	for i := range spec.healthy + spec.unhealthy {
		id := fmt.Sprintf("%shc-%d", spec.idPrefix, i)
		healthy := i < spec.healthy
		rec.event(kindHealthCheck, id, !healthy)
		if healthy && spec.healthKept != nil && !spec.healthKept(i) {
			continue
		}
		lr := event(mcpconv.EventHealthCheck, i, id)
		lr.Attributes().PutStr(mcpconv.ServerKey, weather1)
		lr.Attributes().PutStr(mcpconv.HealthStatus, healthText(healthy))
		if healthy && tvalue != "" {
			lr.Attributes().PutStr(mcpconv.SamplingThreshold, tvalue)
		}
	}
	for i, to := range []string{mcpconv.BreakerOpen, mcpconv.BreakerHalfOpen, mcpconv.BreakerClosed} {
		id := fmt.Sprintf("%scb-%d", spec.idPrefix, i)
		lr := event(mcpconv.EventBreakerStateChange, i, id)
		lr.Attributes().PutStr(mcpconv.ServerKey, weather1)
		lr.Attributes().PutStr(mcpconv.BreakerToState, to)
		rec.event(kindBreaker, id, to == mcpconv.BreakerOpen)
	}
	for i := range 3 {
		sess := fmt.Sprintf("%ssess-%d", spec.idPrefix, i)
		event(mcpconv.EventSessionStart, i, sess+"-start").Attributes().PutStr(mcpconv.SessionID, sess)
		end := event(mcpconv.EventSessionEnd, i+10, sess+"-end")
		end.Attributes().PutStr(mcpconv.SessionID, sess)
		end.Attributes().PutInt(mcpconv.SessionRequestCount, int64(10*i))
		end.Attributes().PutInt(mcpconv.SessionErrorCount, int64(i))
		rec.session(sess, int64(10*i), int64(i), true)
	}
	for i, key := range []string{weather1, spec.serverPrefix + "weather-2"} {
		reg := event(mcpconv.EventServerRegistered, i, key+"-reg")
		reg.Attributes().PutStr(mcpconv.ServerKey, key)
		reg.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
		rec.server(key, true, mcpconv.HealthHealthy)
	}

	if spec.requests == 0 {
		rec.flush()
		require.NoError(t, man.finish(manifestHeader{Mode: "otlp", InstanceID: instance, Kinds: count.snapshot()}))
		return run
	}
	rm := run.metrics.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, instance)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(mcpconv.MetricServerOperationDuration)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for series, n := range []int{spec.requests / 2, spec.requests - spec.requests/2} {
		for step, frac := range []float64{0.5, 1} { // an early point and the final one
			p := h.DataPoints().AppendEmpty()
			p.SetStartTimestamp(ts(0))
			p.SetTimestamp(ts(1000 * (step + 1)))
			p.Attributes().PutStr(mcpconv.ServerKey, fmt.Sprintf("s-%d", series))
			p.SetCount(uint64(float64(n) * frac))
		}
	}

	rec.flush()
	require.NoError(t, man.finish(manifestHeader{Mode: "otlp", InstanceID: instance, Started: t0, Ended: t0.Add(time.Hour),
		FirstEvent: t0.Add(-time.Minute), LastEvent: t0.Add(time.Hour), Kinds: count.snapshot(),
		Metrics: map[string]int64{mcpconv.MetricServerOperationDuration: int64(spec.requests)}}))
	return run
}

// store writes the run through the mcppg exporter (factory, no queue),
// which also applies the schema.
func (run testRun) store(t *testing.T, schema string) {
	t.Helper()
	ctx := context.Background()
	f := mcppgexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*mcppgexporter.Config)
	cfg.DSN = configopaque.String(testDB.DSN)
	cfg.Schema = schema
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	set := exportertest.NewNopSettings(f.Type())
	traces, err := f.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	logs, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	metrics, err := f.CreateMetrics(ctx, set, cfg)
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	require.NoError(t, traces.Start(ctx, host))
	require.NoError(t, logs.Start(ctx, host))
	require.NoError(t, metrics.Start(ctx, host))
	require.NoError(t, traces.ConsumeTraces(ctx, run.traces))
	require.NoError(t, logs.ConsumeLogs(ctx, run.logs))
	require.NoError(t, metrics.ConsumeMetrics(ctx, run.metrics))
	require.NoError(t, traces.Shutdown(ctx))
	require.NoError(t, logs.Shutdown(ctx))
	require.NoError(t, metrics.Shutdown(ctx))
}

func execSQL(t *testing.T, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testDB.DSN)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	require.NoError(t, err)
}

func reconcileOpts(t *testing.T, manifest, schema string) reconcileOptions {
	t.Helper()
	o, err := parseReconcileFlags([]string{"-manifest", manifest, "-dsn", testDB.DSN, "-schema", schema}, io.Discard)
	require.NoError(t, err)
	return o
}

func TestReconcile(t *testing.T) {
	everyTenth := func(i int) bool { return i%10 == 0 }
	tests := []struct {
		name   string
		spec   runSpec
		damage string // SQL run on the stored rows (%s: the schema)
		ok     bool
		want   map[kind]string // a substring of the kind's report line
		metric string          // a substring of the metric's report line
	}{
		{name: "everything stored", spec: runSpec{requests: 40, healthy: 20, unhealthy: 2}, ok: true,
			want:   map[kind]string{kindRouting: "ok", kindHealthCheck: "SUM 22  ok", kindSession: "final state compared  ok"},
			metric: "ok"},
		{name: "a deleted routing row", spec: runSpec{requests: 40, healthy: 20, unhealthy: 2},
			damage: `DELETE FROM %s.routing_log WHERE span_id = '\x01001d0000000000'::bytea`,
			want:   map[kind]string{kindRouting: "FAIL: 1 missing", kindToolCall: "ok"}},
		{name: "a duplicated tool call", spec: runSpec{requests: 40, healthy: 20, unhealthy: 2},
			damage: `INSERT INTO %[1]s.tool_call_record (ts, trace_id, span_id, duration_us, status)
			         SELECT ts + interval '1 microsecond', trace_id, span_id, duration_us, status FROM %[1]s.tool_call_record LIMIT 1`,
			want: map[kind]string{kindToolCall: "FAIL: 1 ids stored more than once"}},
		{name: "a lost session end", spec: runSpec{requests: 40, healthy: 20, unhealthy: 2},
			damage: `UPDATE %s.session_record SET ended_at = NULL, request_count = 3 WHERE session_id = 'sess-2'`,
			want:   map[kind]string{kindSession: "FAIL: 1 not in their final state"}},
		{name: "a lost histogram point", spec: runSpec{requests: 40, healthy: 20, unhealthy: 2},
			damage: `DELETE FROM %s.metric_point WHERE ts = (SELECT max(ts) FROM %[1]s.metric_point)`,
			metric: "FAIL: 20 stored, 40 expected"},
		{name: "sample within bounds", spec: runSpec{requests: 10, healthy: 4000, unhealthy: 30, healthKept: everyTenth, healthPercent: 10},
			ok: true, want: map[kind]string{kindHealthCheck: "healthy kept 400 of 4000, expected 305.1..494.9 at 10 %; SUM 4030"}},
		{name: "sample out of bounds", spec: runSpec{requests: 10, healthy: 4000, unhealthy: 30,
			healthKept: func(i int) bool { return i%2 == 0 }, healthPercent: 10},
			want: map[kind]string{kindHealthCheck: "FAIL: 2000 healthy kept, outside 305.1..494.9"}},
		{name: "a missing failure of a sampled kind", spec: runSpec{requests: 10, healthy: 4000, unhealthy: 30, healthKept: everyTenth, healthPercent: 10},
			damage: `DELETE FROM %s.health_check_record WHERE event_id = 'hc-4010'`,
			want:   map[kind]string{kindHealthCheck: "FAIL: 1 failures missing"}},
		{name: "a sampled kind stored unsampled must be complete", spec: runSpec{requests: 10, healthy: 100, unhealthy: 3},
			damage: `DELETE FROM %s.health_check_record WHERE event_id = 'hc-7'`,
			want:   map[kind]string{kindHealthCheck: "FAIL: 1 missing (the stored rows are unsampled)"}},
		{name: "nothing healthy kept: the assumed rate decides", spec: runSpec{requests: 10, healthy: 20, unhealthy: 3,
			healthKept: func(int) bool { return false }},
			ok: true, want: map[kind]string{kindHealthCheck: "healthy kept 0 of 20, expected 0.0..8.7 at 10 %, assumed"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := fmt.Sprintf("reconcile_%d", i)
			run := newTestRun(t, tt.spec)
			run.store(t, schema)
			if tt.damage != "" {
				execSQL(t, fmt.Sprintf(tt.damage, schema))
			}
			rep, err := reconcile(context.Background(), reconcileOpts(t, run.manifest, schema), io.Discard)
			require.NoError(t, err)
			var out bytes.Buffer
			rep.print(&out)
			t.Log("\n" + out.String())
			assert.Equal(t, tt.ok, rep.ok())
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
	run := newTestRun(t, runSpec{requests: 20, healthy: 5})
	schema := "reconcile_wait"
	o := reconcileOpts(t, run.manifest, schema)
	o.wait, o.settle, o.poll = time.Minute, 30*time.Second, 50*time.Millisecond
	// The schema exists, the rows are not there yet.
	empty := newTestRun(t, runSpec{})
	empty.store(t, schema)
	done := make(chan *report, 1)
	waiting := &firstWrite{ch: make(chan struct{})}
	go func() {
		rep, err := reconcile(context.Background(), o, waiting)
		assert.NoError(t, err)
		done <- rep
	}()
	select { // it found the rows missing and waits
	case <-waiting.ch:
	case <-time.After(time.Minute):
		t.Fatal("reconcile did not start waiting")
	}
	run.store(t, schema)
	select {
	case rep := <-done:
		assert.True(t, rep.ok())
	case <-time.After(time.Minute):
		t.Fatal("reconcile did not finish")
	}

	// Rows that never come: it stops once the counts settle.
	lost := newTestRun(t, runSpec{requests: 5})
	o = reconcileOpts(t, lost.manifest, schema)
	o.wait, o.settle, o.poll = time.Minute, 300*time.Millisecond, 50*time.Millisecond
	rep, err := reconcile(context.Background(), o, io.Discard)
	require.NoError(t, err)
	assert.False(t, rep.ok())
	assert.Contains(t, rep.note, "did not change")
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

func TestReconcileCommandExitCodes(t *testing.T) {
	run := newTestRun(t, runSpec{requests: 10, healthy: 3})
	run.store(t, "reconcile_exit")
	var out, errOut bytes.Buffer
	args := []string{"-manifest", run.manifest, "-dsn", testDB.DSN, "-schema", "reconcile_exit"}
	assert.Equal(t, 0, reconcileCommand(context.Background(), args, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "reconcile: OK")
	execSQL(t, "DELETE FROM reconcile_exit.circuit_breaker_event")
	out.Reset()
	assert.Equal(t, 1, reconcileCommand(context.Background(), args, &out, &errOut))
	assert.Contains(t, out.String(), "reconcile: FAILED: circuit_breaker 3 missing")
	assert.Equal(t, 2, reconcileCommand(context.Background(), []string{"-schema", "x"}, &out, io.Discard))
	assert.Equal(t, 2, reconcileCommand(context.Background(), []string{"-manifest", "/nonexistent", "-dsn", testDB.DSN}, &out, io.Discard))
}
