// Package reconciletest builds small simulated runs for tests of
// reconciliation: a manifest (internal/simmanifest) and the pdata a
// collector would have received for it, which Store writes through the
// mcppg exporter.
package reconciletest

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
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
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Run is a small run: what the manifest says was sent and the pdata
// a collector would have received for it.
type Run struct {
	Manifest string
	Traces   ptrace.Traces
	Logs     plog.Logs
	Metrics  pmetric.Metrics
}

// Spec shapes a Run.
type Spec struct {
	Requests      int // every 5th is a tools/call, every 10th fails
	Healthy       int // healthy health checks sent
	Unhealthy     int
	HealthKept    func(i int) bool // which healthy checks reach the tables
	HealthPercent float64          // their recorded sampling rate; 0: unsampled
	// Two runs in one schema: service.instance.id (default DefaultInstance),
	// a prefix of every id (trace ids take its first 8 bytes) and of the
	// server keys.
	Instance, IDPrefix, ServerPrefix string
}

// DefaultInstance is the service.instance.id of a Spec without Instance.
const DefaultInstance = "sim-test-instance"

// T0 is when the runs' events begin: a minute ago, when the test started.
var T0 = time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)

// NewRun writes the manifest and builds the matching pdata.
func NewRun(t *testing.T, spec Spec) Run {
	t.Helper()
	run := Run{Manifest: filepath.Join(t.TempDir(), "sent.gz"), Traces: ptrace.NewTraces(),
		Logs: plog.NewLogs(), Metrics: pmetric.NewMetrics()}
	instance := cmp.Or(spec.Instance, DefaultInstance)
	weather1 := spec.ServerPrefix + "weather-1"
	man, err := simmanifest.Create(run.Manifest)
	require.NoError(t, err)
	count := &simmanifest.Counters{}
	rec := simmanifest.NewRecorder(man, count)

	rs := run.Traces.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, instance)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	rl := run.Logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, instance)
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	ts := func(i int) pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(T0.Add(time.Duration(i) * time.Millisecond))
	}
	event := func(name string, i int, id string) plog.LogRecord {
		lr := records.AppendEmpty()
		lr.SetEventName(name)
		lr.SetTimestamp(ts(i))
		lr.Attributes().PutStr(mcpconv.EventID, id)
		return lr
	}

	toolCalls := 0
	for i := range spec.Requests {
		var tid trace.TraceID
		copy(tid[:8], spec.IDPrefix)
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
			rec.SpanError(tid, sid, -1)
		}
		rec.Span(simmanifest.KindRouting, tid, sid, failed)
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
			rec.SpanError(tid, csid, 0)
		}
		rec.Span(simmanifest.KindToolCall, tid, csid, failed)

		lbID := fmt.Sprintf("%slb-%d", spec.IDPrefix, i)
		lb := event(mcpconv.EventLBDecision, i, lbID)
		lb.SetTraceID(pcommon.TraceID(tid))
		lb.Attributes().PutStr(mcpconv.ServerKey, weather1)
		rec.Event(simmanifest.KindLBDecision, lbID, false)
	}
	var tvalue string
	if spec.HealthPercent > 0 {
		th, err := sampling.ProbabilityToThreshold(spec.HealthPercent / 100)
		require.NoError(t, err)
		tvalue = th.TValue()
	}
	for i := range spec.Healthy + spec.Unhealthy {
		id := fmt.Sprintf("%shc-%d", spec.IDPrefix, i)
		healthy := i < spec.Healthy
		rec.Event(simmanifest.KindHealthCheck, id, !healthy)
		if healthy && spec.HealthKept != nil && !spec.HealthKept(i) {
			continue
		}
		lr := event(mcpconv.EventHealthCheck, i, id)
		lr.Attributes().PutStr(mcpconv.ServerKey, weather1)
		lr.Attributes().PutStr(mcpconv.HealthStatus, health(healthy))
		if healthy && tvalue != "" {
			lr.Attributes().PutStr(mcpconv.SamplingThreshold, tvalue)
		}
	}
	for i, to := range []string{mcpconv.BreakerOpen, mcpconv.BreakerHalfOpen, mcpconv.BreakerClosed} {
		id := fmt.Sprintf("%scb-%d", spec.IDPrefix, i)
		lr := event(mcpconv.EventBreakerStateChange, i, id)
		lr.Attributes().PutStr(mcpconv.ServerKey, weather1)
		lr.Attributes().PutStr(mcpconv.BreakerToState, to)
		rec.Event(simmanifest.KindBreaker, id, to == mcpconv.BreakerOpen)
	}
	for i := range 3 {
		sess := fmt.Sprintf("%ssess-%d", spec.IDPrefix, i)
		event(mcpconv.EventSessionStart, i, sess+"-start").Attributes().PutStr(mcpconv.SessionID, sess)
		end := event(mcpconv.EventSessionEnd, i+10, sess+"-end")
		end.Attributes().PutStr(mcpconv.SessionID, sess)
		end.Attributes().PutInt(mcpconv.SessionRequestCount, int64(10*i))
		end.Attributes().PutInt(mcpconv.SessionErrorCount, int64(i))
		rec.Session(sess, int64(10*i), int64(i), true)
	}
	for i, key := range []string{weather1, spec.ServerPrefix + "weather-2"} {
		reg := event(mcpconv.EventServerRegistered, i, key+"-reg")
		reg.Attributes().PutStr(mcpconv.ServerKey, key)
		reg.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
		rec.Server(key, true, mcpconv.HealthHealthy)
	}

	if spec.Requests == 0 {
		rec.Flush()
		require.NoError(t, man.Finish(simmanifest.Header{Mode: "otlp", InstanceID: instance, Kinds: count.Snapshot()}))
		return run
	}
	rm := run.Metrics.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, instance)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(mcpconv.MetricServerOperationDuration)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for series, n := range []int{spec.Requests / 2, spec.Requests - spec.Requests/2} {
		for step, frac := range []float64{0.5, 1} { // an early point and the final one
			p := h.DataPoints().AppendEmpty()
			p.SetStartTimestamp(ts(0))
			p.SetTimestamp(ts(1000 * (step + 1)))
			p.Attributes().PutStr(mcpconv.ServerKey, fmt.Sprintf("s-%d", series))
			p.SetCount(uint64(float64(n) * frac))
		}
	}

	rec.Flush()
	require.NoError(t, man.Finish(simmanifest.Header{Mode: "otlp", InstanceID: instance, Started: T0, Ended: T0.Add(time.Hour),
		FirstEvent: T0.Add(-time.Minute), LastEvent: T0.Add(time.Hour), Kinds: count.Snapshot(),
		Metrics: map[string]int64{mcpconv.MetricServerOperationDuration: int64(spec.Requests)}}))
	return run
}

// Store writes the run through the mcppg exporter (factory, no queue),
// which also applies the schema. The schema is dropped when the test ends,
// so a rerun (go test -count=N) starts from nothing: the simulator's seeded
// runs repeat their session ids, and rows left by the previous run would
// merge into this one's.
func (run Run) Store(t *testing.T, dsn, schema string) {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	f := mcppgexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*mcppgexporter.Config)
	cfg.DSN = configopaque.String(dsn)
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
	require.NoError(t, traces.ConsumeTraces(ctx, run.Traces))
	require.NoError(t, logs.ConsumeLogs(ctx, run.Logs))
	require.NoError(t, metrics.ConsumeMetrics(ctx, run.Metrics))
	require.NoError(t, traces.Shutdown(ctx))
	require.NoError(t, logs.Shutdown(ctx))
	require.NoError(t, metrics.Shutdown(ctx))
}

func health(healthy bool) string {
	if healthy {
		return mcpconv.HealthHealthy
	}
	return mcpconv.HealthUnhealthy
}
