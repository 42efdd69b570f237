package mcpstateconnector

import (
	"context"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mcp-bridge/otelcol-mcp/connector/mcpstateconnector/internal/metadata"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// event is one log record of a router's resource.
type event struct {
	router  string // service.name; "" for none
	name    string // EventName field
	nameAt  string // event.name attribute
	at      time.Duration
	noTime  bool
	attrs   map[string]any
	observe time.Duration // ObservedTimestamp, when set
}

func logs(t *testing.T, events ...event) plog.Logs {
	ld := plog.NewLogs()
	for _, e := range events {
		rl := ld.ResourceLogs().AppendEmpty()
		if e.router != "" {
			rl.Resource().Attributes().PutStr("service.name", e.router)
			rl.Resource().Attributes().PutStr("service.instance.id", e.router+"-0")
		}
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetEventName(e.name)
		if !e.noTime {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(e.at)))
		}
		if e.observe != 0 {
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(t0.Add(e.observe)))
		}
		require.NoError(t, lr.Attributes().FromRaw(e.attrs))
		if e.nameAt != "" {
			lr.Attributes().PutStr(eventNameAttr, e.nameAt)
		}
	}
	return ld
}

func health(router, key, status string, at time.Duration) event {
	return event{router: router, name: eventHealthCheck, at: at, attrs: map[string]any{attrServerKey: key, attrHealthStatus: status}}
}

func breaker(router, key, to string, at time.Duration) event {
	return event{router: router, name: eventBreakerChange, at: at, attrs: map[string]any{attrServerKey: key, attrBreakerToState: to}}
}

func session(router string) event {
	return event{router: router, name: eventSessionStart, attrs: map[string]any{"mcp.session.id": "s"}}
}

func newTestConnector(t *testing.T, cfg *Config) (*mcpState, *time.Time) {
	t.Helper()
	now := t0.Add(time.Hour)
	c := newConnector(connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	c.now = func() time.Time { return now }
	return c, &now
}

// points flattens md into "router|metric|attr=value,...|value" lines, sorted.
func flatten(md pmetric.Metrics) []string {
	var out []string
	for _, rm := range md.ResourceMetrics().All() {
		router, _ := rm.Resource().Attributes().Get("service.name")
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				}
				for _, p := range dps.All() {
					var attrs []string
					for k, v := range p.Attributes().All() {
						attrs = append(attrs, k+"="+v.AsString())
					}
					sort.Strings(attrs)
					out = append(out, strings.Join([]string{router.AsString(), m.Name(), strings.Join(attrs, ","), pcommon.NewValueInt(p.IntValue()).AsString()}, "|"))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestLatestStateByEventTime(t *testing.T) {
	c, _ := newTestConnector(t, createDefaultConfig())
	ctx := context.Background()
	require.NoError(t, c.ConsumeLogs(ctx, logs(t,
		health("r", "a", "healthy", 1*time.Second),
		health("r", "a", "unhealthy", 3*time.Second),
		health("r", "a", "healthy", 2*time.Second), // older than the last: ignored
		health("r", "b", "degraded", 0),            // anything but healthy counts as not healthy
		breaker("r", "a", "open", 1*time.Second),
		breaker("r", "a", "half_open", 5*time.Second),
		breaker("r", "a", "closed", 4*time.Second), // older: ignored
		breaker("r", "c", "forced_open", 0),        // a state outside the conventions is kept
	)))
	assert.Equal(t, []string{
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=a,state=closed|0",
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=a,state=half_open|1",
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=a,state=open|0",
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=c,state=closed|0",
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=c,state=forced_open|1",
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=c,state=half_open|0",
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=c,state=open|0",
		"r|mcp.router.server.healthy|mcp.router.server.key=a|0",
		"r|mcp.router.server.healthy|mcp.router.server.key=b|0",
	}, flatten(c.snapshot()))

	// A newer event in a later request wins; so does one of the same time.
	require.NoError(t, c.ConsumeLogs(ctx, logs(t, health("r", "a", "healthy", 3*time.Second), breaker("r", "a", "closed", 6*time.Second))))
	got := flatten(c.snapshot())
	assert.Contains(t, got, "r|mcp.router.server.healthy|mcp.router.server.key=a|1")
	assert.Contains(t, got, "r|mcp.router.circuit_breaker.state|mcp.router.server.key=a,state=closed|1")
	assert.Contains(t, got, "r|mcp.router.circuit_breaker.state|mcp.router.server.key=a,state=half_open|0")
}

func TestStatePerRouter(t *testing.T) {
	c, _ := newTestConnector(t, createDefaultConfig())
	require.NoError(t, c.ConsumeLogs(context.Background(), logs(t,
		health("r1", "a", "unhealthy", 0),
		health("r2", "a", "healthy", 0),
		session("r1"), session("r1"), session("r2"),
	)))
	md := c.snapshot()
	assert.Equal(t, []string{
		"r1|mcp.router.server.healthy|mcp.router.server.key=a|0",
		"r1|mcp.router.session.starts||2",
		"r2|mcp.router.server.healthy|mcp.router.server.key=a|1",
		"r2|mcp.router.session.starts||1",
	}, flatten(md))
	// Each router is a resource of its own, with its identity and this
	// component's scope; the counter is cumulative and monotonic.
	require.Equal(t, 2, md.ResourceMetrics().Len())
	for _, rm := range md.ResourceMetrics().All() {
		name, _ := rm.Resource().Attributes().Get("service.name")
		inst, _ := rm.Resource().Attributes().Get("service.instance.id")
		assert.Equal(t, name.Str()+"-0", inst.Str())
		assert.Equal(t, metadata.ScopeName, rm.ScopeMetrics().At(0).Scope().Name())
		for _, m := range rm.ScopeMetrics().At(0).Metrics().All() {
			if m.Name() == MetricSessionStarts {
				assert.True(t, m.Sum().IsMonotonic())
				assert.Equal(t, pmetric.AggregationTemporalityCumulative, m.Sum().AggregationTemporality())
				assert.NotZero(t, m.Sum().DataPoints().At(0).StartTimestamp())
			}
		}
	}
}

func TestEventNameAttributeAndOtherEvents(t *testing.T) {
	c, _ := newTestConnector(t, createDefaultConfig())
	require.NoError(t, c.ConsumeLogs(context.Background(), logs(t,
		// An SDK without the EventName field sends the attribute.
		event{router: "r", nameAt: eventHealthCheck, attrs: map[string]any{attrServerKey: "a", attrHealthStatus: "unhealthy"}},
		// The field wins over the attribute.
		event{router: "r", name: eventBreakerChange, nameAt: eventHealthCheck, attrs: map[string]any{attrServerKey: "b", attrBreakerToState: "open", attrHealthStatus: "healthy"}},
		// health_changed and registered carry a health status too.
		event{router: "r", name: eventHealthChanged, attrs: map[string]any{attrServerKey: "c", attrHealthStatus: "healthy"}},
		event{router: "r", name: eventRegistered, attrs: map[string]any{attrServerKey: "d", attrHealthStatus: "unhealthy"}},
		// A registration without a status says nothing about the state.
		event{router: "r", name: eventRegistered, attrs: map[string]any{attrServerKey: "e"}},
		// No server key (refused by the exporter too), other events, plain logs.
		event{router: "r", name: eventHealthCheck, attrs: map[string]any{attrHealthStatus: "unhealthy"}},
		event{router: "r", name: "mcp.router.lb.decision", attrs: map[string]any{attrServerKey: "f", attrHealthStatus: "unhealthy"}},
		event{router: "r", attrs: map[string]any{attrServerKey: "g", attrHealthStatus: "unhealthy"}},
		// A breaker event without to_state.
		event{router: "r", name: eventBreakerChange, attrs: map[string]any{attrServerKey: "h"}},
	)))
	assert.Equal(t, []string{
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=b,state=closed|0",
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=b,state=half_open|0",
		"r|mcp.router.circuit_breaker.state|mcp.router.server.key=b,state=open|1",
		"r|mcp.router.server.healthy|mcp.router.server.key=a|0",
		"r|mcp.router.server.healthy|mcp.router.server.key=c|1",
		"r|mcp.router.server.healthy|mcp.router.server.key=d|0",
	}, flatten(c.snapshot()))
}

func TestEventTimeFallbacks(t *testing.T) {
	c, _ := newTestConnector(t, createDefaultConfig())
	ctx := context.Background()
	// Without Timestamp the ObservedTimestamp orders events, without both
	// the arrival time (an hour after t0 here).
	require.NoError(t, c.ConsumeLogs(ctx, logs(t,
		event{router: "r", name: eventHealthCheck, noTime: true, observe: 10 * time.Second, attrs: map[string]any{attrServerKey: "a", attrHealthStatus: "unhealthy"}},
		health("r", "a", "healthy", 5*time.Second), // older than the observed time
		event{router: "r", name: eventHealthCheck, noTime: true, attrs: map[string]any{attrServerKey: "b", attrHealthStatus: "unhealthy"}},
		health("r", "b", "healthy", 30*time.Minute), // older than the arrival
	)))
	assert.Equal(t, []string{
		"r|mcp.router.server.healthy|mcp.router.server.key=a|0",
		"r|mcp.router.server.healthy|mcp.router.server.key=b|0",
	}, flatten(c.snapshot()))
}

func TestDeregistrationForgetsTheServer(t *testing.T) {
	c, _ := newTestConnector(t, createDefaultConfig())
	ctx := context.Background()
	dereg := func(key string, at time.Duration) event {
		return event{router: "r", name: eventDeregistered, at: at, attrs: map[string]any{attrServerKey: key}}
	}
	require.NoError(t, c.ConsumeLogs(ctx, logs(t,
		health("r", "a", "unhealthy", time.Second), breaker("r", "a", "open", time.Second),
		health("r", "b", "unhealthy", 10*time.Second),
		dereg("a", 2*time.Second),
		dereg("b", 5*time.Second), // older than b's health check: kept
		dereg("zzz", 0),           // unknown: nothing to do
	)))
	assert.Equal(t, []string{"r|mcp.router.server.healthy|mcp.router.server.key=b|0"}, flatten(c.snapshot()))
}

func TestExpiration(t *testing.T) {
	c, now := newTestConnector(t, &Config{FlushInterval: time.Second, Expiration: time.Minute})
	ctx := context.Background()
	require.NoError(t, c.ConsumeLogs(ctx, logs(t, health("r", "a", "unhealthy", 0), session("r"))))
	*now = now.Add(30 * time.Second)
	require.NoError(t, c.ConsumeLogs(ctx, logs(t, health("r", "b", "unhealthy", 0))))
	*now = now.Add(40 * time.Second) // a and the session counter: 70 s old; b: 40 s
	assert.Equal(t, []string{"r|mcp.router.server.healthy|mcp.router.server.key=b|0"}, flatten(c.snapshot()))

	// Expiration 0 keeps everything.
	c, now = newTestConnector(t, createDefaultConfig())
	require.NoError(t, c.ConsumeLogs(ctx, logs(t, health("r", "a", "unhealthy", 0))))
	*now = now.Add(1000 * time.Hour)
	assert.Len(t, flatten(c.snapshot()), 1)
}

func TestFlushLoopEmitsTheState(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	cfg := &Config{FlushInterval: 10 * time.Millisecond}
	conn, err := NewFactory().CreateLogsToMetrics(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, conn.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, conn.Shutdown(context.Background())) }()
	assert.False(t, conn.Capabilities().MutatesData)

	// Nothing known: nothing emitted.
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, sink.AllMetrics())

	require.NoError(t, conn.ConsumeLogs(context.Background(), logs(t, breaker("r", "a", "open", 0))))
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) >= 2 }, 5*time.Second, 5*time.Millisecond)
	// Every flush repeats the whole state.
	for _, md := range sink.AllMetrics()[:2] {
		assert.Contains(t, flatten(md), "r|mcp.router.circuit_breaker.state|mcp.router.server.key=a,state=open|1")
	}
}

func TestShutdownWithoutStart(t *testing.T) {
	c, _ := newTestConnector(t, createDefaultConfig())
	require.NoError(t, c.Shutdown(context.Background()))
}

// stuckMetrics holds every emission until released; honoursCtx says whether
// it gives up when the emission's context ends.
type stuckMetrics struct {
	consumertest.MetricsSink
	honoursCtx bool
	inside     atomic.Int32
	release    chan struct{}
}

func (s *stuckMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	s.inside.Add(1)
	defer s.inside.Add(-1)
	if s.honoursCtx {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.release:
		}
	} else {
		<-s.release
	}
	return s.MetricsSink.ConsumeMetrics(ctx, md)
}

// TestShutdownDuringAStuckEmission: the pipeline after the connector does
// not take the state. Shutdown cancels the emission and, when the pipeline
// does not give up, returns at its deadline rather than waiting for it.
func TestShutdownDuringAStuckEmission(t *testing.T) {
	for _, tc := range []struct {
		name       string
		honoursCtx bool
		shutdown   func() (context.Context, context.CancelFunc)
		wantErr    error
	}{
		{name: "pipeline gives up on cancellation", honoursCtx: true,
			shutdown: func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{name: "pipeline ignores cancellation", honoursCtx: false, wantErr: context.DeadlineExceeded,
			shutdown: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &stuckMetrics{honoursCtx: tc.honoursCtx, release: make(chan struct{})}
			cfg := &Config{FlushInterval: time.Millisecond}
			conn, err := NewFactory().CreateLogsToMetrics(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, next)
			require.NoError(t, err)
			require.NoError(t, conn.Start(context.Background(), componenttest.NewNopHost()))
			done := conn.(*mcpState).done
			t.Cleanup(func() {
				close(next.release)
				<-done // no goroutine left for goleak
			})
			require.NoError(t, conn.ConsumeLogs(context.Background(), logs(t, breaker("r", "a", "open", 0))))
			require.Eventually(t, func() bool { return next.inside.Load() == 1 }, 10*time.Second, time.Millisecond)

			ctx, cancel := tc.shutdown()
			defer cancel()
			returned := make(chan error, 1)
			go func() { returned <- conn.Shutdown(ctx) }()
			select {
			case err = <-returned:
			case <-time.After(time.Minute):
				t.Fatal("Shutdown waited for the stuck emission past its deadline")
			}
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}
