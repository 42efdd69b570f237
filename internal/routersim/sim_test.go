package routersim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// memorySpans, memoryLogs and memoryMetrics keep what the SDK exports.
type memorySpans struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (m *memorySpans) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.spans = append(m.spans, spans...)
	return nil
}
func (m *memorySpans) Shutdown(context.Context) error { return nil }

type memoryLogs struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (m *memoryLogs) Export(_ context.Context, records []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range records {
		m.records = append(m.records, r.Clone())
	}
	return nil
}
func (m *memoryLogs) Shutdown(context.Context) error   { return nil }
func (m *memoryLogs) ForceFlush(context.Context) error { return nil }

type memoryMetrics struct {
	mu   sync.Mutex
	last *metricdata.ResourceMetrics
}

func (m *memoryMetrics) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}
func (m *memoryMetrics) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}
func (m *memoryMetrics) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *rm
	m.last = &cp
	return nil
}
func (m *memoryMetrics) ForceFlush(context.Context) error { return nil }
func (m *memoryMetrics) Shutdown(context.Context) error   { return nil }

// testRunOptions is a short, busy run: at 3000 requests/s, failures,
// outages, breaker transitions and churn happen within a second.
func testRunOptions(t *testing.T, requests int64) Options {
	o := Options{
		Fleet: FleetConfig{Rate: 3000, Requests: requests, Servers: 6, ToolsPerServer: 3, ErrorRate: 0.2,
			OutageRate: 60, OutageLength: 300 * time.Millisecond, HealthInterval: 50 * time.Millisecond,
			BreakerThreshold: 3, BreakerCooldown: 100 * time.Millisecond, Sessions: 20, SessionLife: 200 * time.Millisecond,
			SessionStats: 50 * time.Millisecond, ChurnInterval: 100 * time.Millisecond, Workers: 3, Seed: 7},
		Mode: "otlp", Protocol: "grpc", Endpoint: "memory", ServiceName: "sim-test", InstanceID: "sim-test-1",
		LBEvents: true, MetricInterval: time.Hour, FlushTimeout: 10 * time.Second,
		Manifest: filepath.Join(t.TempDir(), "sent.gz"),
	}
	require.NoError(t, o.Fleet.Validate())
	return o
}

// manifestRecords reads a manifest into per-kind sets of lines.
func manifestRecords(t *testing.T, path string) (simmanifest.Header, map[simmanifest.Kind]map[string]bool) {
	t.Helper()
	out := map[simmanifest.Kind]map[string]bool{}
	h, err := simmanifest.Read(path, func(k simmanifest.Kind, f [][]byte) error {
		if out[k] == nil {
			out[k] = map[string]bool{}
		}
		line := string(bytes.Join(f, []byte{' '}))
		if out[k][line] {
			return fmt.Errorf("duplicate record %c %s", k.Code(), line)
		}
		out[k][line] = true
		return nil
	})
	require.NoError(t, err)
	return h, out
}

func flag01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// TestManifestListsExactlyWhatWasEmitted runs the fleet on SDK pipelines
// that keep everything in memory and derives, with the exporter's rules,
// every row the emitted telemetry yields: the manifest must list exactly
// those ids, with the right failure flags, and the final session and
// registry states.
func TestManifestListsExactlyWhatWasEmitted(t *testing.T) {
	o := testRunOptions(t, 3000)
	spans, logs, metrics := &memorySpans{}, &memoryLogs{}, &memoryMetrics{}
	cfg := otlpConfig{ServiceName: o.ServiceName, InstanceID: o.InstanceID, RetryFor: time.Second,
		MetricInterval: o.MetricInterval, LBEvents: true}
	em, err := newOTLPEmitter(cfg, otlpExporters{spans: spans, logs: logs, metrics: metrics})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, simulate(context.Background(), o, em, &out, io.Discard))
	t.Log(out.String())

	want := map[simmanifest.Kind]map[string]bool{}
	add := func(k simmanifest.Kind, line string) {
		if want[k] == nil {
			want[k] = map[string]bool{}
		}
		require.False(t, want[k][line], "duplicate %s %s", k, line)
		want[k][line] = true
	}
	for _, s := range spans.spans {
		sc := s.SpanContext()
		tid, sid := sc.TraceID().String(), sc.SpanID().String()
		failed := s.Status().Code.String() == "Error"
		method := attrOf(s.Attributes(), mcpconv.MethodName)
		switch {
		case s.SpanKind() == trace.SpanKindServer && method != "":
			add(simmanifest.KindRouting, tid+" "+sid+" "+flag01(failed))
		case s.SpanKind() == trace.SpanKindClient && method == mcpconv.MethodToolsCall:
			add(simmanifest.KindToolCall, tid+" "+sid+" "+flag01(failed))
		default:
			t.Fatalf("span %s is neither routing nor a tool call", s.Name())
		}
		exceptions := 0
		for i, ev := range s.Events() {
			if ev.Name == mcpconv.ExceptionEventName {
				exceptions++
				add(simmanifest.KindError, tid+"-"+sid+"-"+strconv.Itoa(i)+" 1")
			}
		}
		if exceptions == 0 && failed {
			add(simmanifest.KindError, tid+"-"+sid+" 1")
		}
	}
	sessions := map[string]string{} // id -> last "requests errors ended"
	for _, r := range logs.records {
		id := logAttr(r, mcpconv.EventID)
		require.NotEmpty(t, id, "event %s without event.id", r.EventName())
		switch r.EventName() {
		case mcpconv.EventHealthCheck:
			add(simmanifest.KindHealthCheck, id+" "+flag01(logAttr(r, mcpconv.HealthStatus) != mcpconv.HealthHealthy))
		case mcpconv.EventLBDecision:
			add(simmanifest.KindLBDecision, id+" 0")
			assert.True(t, r.TraceID().IsValid(), "lb decision linked to its request")
		case mcpconv.EventBreakerStateChange:
			add(simmanifest.KindBreaker, id+" "+flag01(logAttr(r, mcpconv.BreakerToState) == mcpconv.BreakerOpen))
		case mcpconv.EventError:
			add(simmanifest.KindError, id+" 1")
		case mcpconv.EventSessionEnd:
			sessions[logAttr(r, mcpconv.SessionID)] = logAttr(r, mcpconv.SessionRequestCount) + " " +
				logAttr(r, mcpconv.SessionErrorCount) + " 1"
		}
	}
	for id, state := range sessions {
		add(simmanifest.KindSession, id+" "+state)
	}

	h, got := manifestRecords(t, o.Manifest)
	for _, k := range []simmanifest.Kind{simmanifest.KindRouting, simmanifest.KindToolCall, simmanifest.KindError, simmanifest.KindHealthCheck, simmanifest.KindLBDecision, simmanifest.KindBreaker, simmanifest.KindSession} {
		assert.Equal(t, sortedKeys(want[k]), sortedKeys(got[k]), "%s records", k)
		assert.Equal(t, int64(len(want[k])), h.Kinds[k.String()].Sent, "%s count in the header", k)
	}
	assert.Len(t, got[simmanifest.KindServer], o.Fleet.Servers)
	assert.Equal(t, int64(3000), h.Kinds[simmanifest.KindRouting.String()].Sent)
	for _, k := range []simmanifest.Kind{simmanifest.KindToolCall, simmanifest.KindError, simmanifest.KindHealthCheck, simmanifest.KindLBDecision, simmanifest.KindBreaker} {
		assert.NotEmpty(t, got[k], "the busy run produced no %s", k)
	}
	assert.NotZero(t, h.Kinds[simmanifest.KindHealthCheck.String()].Failed, "outages fail health checks")
	assert.NotZero(t, h.Kinds[simmanifest.KindBreaker.String()].Failed, "breakers open")
	assert.Equal(t, "sim-test-1", h.InstanceID)

	// The final metric export covers every request and call.
	require.NotNil(t, metrics.last)
	counts := map[string]int64{}
	for _, sm := range metrics.last.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					counts[m.Name] += int64(p.Count)
				}
			case metricdata.Gauge[int64]:
				counts[m.Name] += int64(len(d.DataPoints))
			}
		}
	}
	assert.Equal(t, h.Metrics, counts)
}

func attrOf(attrs []attribute.KeyValue, key string) string {
	for _, kv := range attrs {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func logAttr(r sdklog.Record, key string) string {
	var v string
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if string(kv.Key) == key {
			v = kv.Value.String()
			return false
		}
		return true
	})
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestBreakerTransitions(t *testing.T) {
	count := &simmanifest.Counters{}
	f := newFleet(FleetConfig{Servers: 2, ToolsPerServer: 1, BreakerThreshold: 3, BreakerCooldown: time.Second},
		nopEmitter{}, nil, count)
	rec := simmanifest.NewRecorder(nil, count)
	u := f.ups[0]
	u.registered = true
	u.updateAvailable()
	now := time.Now()
	steps := []struct {
		failed bool
		want   string
	}{{true, "closed"}, {false, "closed"}, {true, "closed"}, {true, "closed"}, {true, "open"}}
	for i, s := range steps {
		f.callResult(rec, u, s.failed, now)
		assert.Equal(t, s.want, u.breaker, "step %d", i)
	}
	assert.False(t, u.available.Load(), "an open breaker takes the server out of the LB")
	f.halfOpen(rec, now.Add(500*time.Millisecond))
	assert.Equal(t, "open", u.breaker)
	f.halfOpen(rec, now.Add(time.Second))
	assert.Equal(t, "half_open", u.breaker)
	assert.True(t, u.available.Load())
	f.callResult(rec, u, true, now)
	assert.Equal(t, "open", u.breaker)
	f.halfOpen(rec, now.Add(3*time.Second))
	f.callResult(rec, u, false, now)
	assert.Equal(t, "closed", u.breaker)
	assert.Equal(t, simmanifest.KindCount{Sent: 5, Failed: 2}, count.Snapshot()["circuit_breaker"])
}

func TestChooseRoundRobinAmongAvailable(t *testing.T) {
	f := newFleet(FleetConfig{Servers: 6, ToolsPerServer: 1}, nopEmitter{}, nil, &simmanifest.Counters{})
	f.register(simmanifest.NewRecorder(nil, &simmanifest.Counters{}))
	d := f.ups[0].domain
	seen := map[string]int{}
	for range 30 {
		u, candidates := f.choose(d, nil)
		require.NotNil(t, u)
		assert.Len(t, candidates, len(f.domains[d].replicas))
		seen[u.key]++
	}
	assert.Len(t, seen, len(f.domains[d].replicas), "round robin reaches every replica")
	for _, u := range f.domains[d].replicas[1:] {
		u.available.Store(false)
	}
	first := f.domains[d].replicas[0]
	u, candidates := f.choose(d, nil)
	assert.Equal(t, first, u)
	assert.Equal(t, []string{first.key}, candidates)
	u, _ = f.choose(d, first)
	assert.Nil(t, u, "the only available replica is excluded")
}

func TestUUIDLayout(t *testing.T) {
	w := newWorker(newFleet(FleetConfig{Servers: 1, ToolsPerServer: 1}, nopEmitter{}, nil, &simmanifest.Counters{}), 1, 0)
	id := uuid(w.rng)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)
	assert.Regexp(t, `^call_[A-Za-z0-9]{24}$`, w.callID())
}

// nopEmitter sends nothing.
type nopEmitter struct{}

func (nopEmitter) request(*simRequest)                                      {}
func (nopEmitter) healthCheck(instrumentation.HealthCheck) string           { return "h" }
func (nopEmitter) serverRegistered(instrumentation.Server) string           { return "r" }
func (nopEmitter) serverDeregistered(instrumentation.Deregistration) string { return "d" }
func (nopEmitter) serverHealthChanged(instrumentation.HealthChange) string  { return "c" }
func (nopEmitter) breakerStateChange(instrumentation.BreakerChange) string  { return "b" }
func (nopEmitter) sessionStart(instrumentation.Session) string              { return "s" }
func (nopEmitter) sessionStats(instrumentation.SessionStats) string         { return "s" }
func (nopEmitter) sessionEnd(instrumentation.SessionEnd) string             { return "s" }
func (nopEmitter) observePools(func() []instrumentation.PoolStats) error    { return nil }
func (nopEmitter) shutdown(context.Context) error                           { return nil }
func (nopEmitter) delivery() simmanifest.Delivery                           { return simmanifest.Delivery{} }

// TestServerPrefix: the prefix starts every upstream key.
func TestServerPrefix(t *testing.T) {
	cfg := testRunOptions(t, 1).Fleet
	cfg.Servers, cfg.ServerPrefix = 3, "gw1-"
	f := newFleet(cfg, nopEmitter{}, nil, &simmanifest.Counters{})
	var keys []string
	for _, u := range f.ups {
		keys = append(keys, u.key)
	}
	assert.Len(t, keys, 3)
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, "gw1-"), k)
	}
	cfg.ServerPrefix = ""
	assert.False(t, strings.HasPrefix(newFleet(cfg, nopEmitter{}, nil, &simmanifest.Counters{}).ups[0].key, "gw"))
	cfg.ServerPrefix = "gw 1"
	assert.ErrorContains(t, cfg.Validate(), "server-prefix")
}
