package instrumentation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRoutedToolCallFollowsTheConventions(t *testing.T) {
	tr := newTestRouter(t)
	start := time.Date(2025, 6, 18, 12, 0, 0, 0, time.UTC)
	ctx, req := tr.StartRequest(context.Background(), RequestInfo{
		Method: mcpconv.MethodToolsCall, Tool: "get_weather", SessionID: "sess-1", RequestID: "17",
		ProtocolVersion: "2025-06-18", Transport: "tcp", ClientAddress: "10.0.0.7", Start: start,
	})
	lbID := req.ChooseServer(Choice{ServerKey: "weather-1", Strategy: "round_robin",
		Candidates: []string{"weather-1", "weather-2"}, Reason: "next in turn", Time: start})
	_, call := req.StartToolCall(ctx, ToolCallInfo{CallID: "call_1", ServerAddress: "weather.internal",
		ServerPort: 8080, Start: start.Add(time.Millisecond)})
	call.EndAt(start.Add(101*time.Millisecond), &RPCError{Code: -32603, Message: "Internal error"})
	req.EndAt(start.Add(102*time.Millisecond), &RPCError{Code: -32603, Message: "Internal error"})

	spans := tr.spans.Ended()
	require.Len(t, spans, 2)
	client, server := spanToPdata(spans[0]), spanToPdata(spans[1])

	assert.Equal(t, mcpconv.KindRouting, mcpconv.ClassifySpan(server))
	assert.True(t, mcpconv.IsFailedSpan(server))
	assert.Equal(t, "tools/call get_weather", server.Name())
	assert.Equal(t, map[string]any{
		mcpconv.MethodName: "tools/call", mcpconv.ToolName: "get_weather",
		mcpconv.OperationName: "execute_tool", mcpconv.SessionID: "sess-1", mcpconv.JSONRPCRequestID: "17",
		mcpconv.ProtocolVersion: "2025-06-18", mcpconv.NetworkTransport: "tcp", mcpconv.ClientAddress: "10.0.0.7",
		mcpconv.ServerKey: "weather-1", mcpconv.Attempt: int64(1), mcpconv.Strategy: "round_robin",
		mcpconv.ErrorType: "-32603", mcpconv.RPCResponseStatusCode: "-32603",
	}, server.Attributes().AsRaw())
	assert.Equal(t, 0, server.Events().Len(), "the SERVER span's failure is its status (span_status row)")
	assert.Equal(t, start, spans[1].StartTime())
	assert.Equal(t, start.Add(102*time.Millisecond), spans[1].EndTime())

	assert.Equal(t, mcpconv.KindToolCall, mcpconv.ClassifySpan(client))
	assert.True(t, mcpconv.IsFailedSpan(client))
	assert.Equal(t, "tools/call get_weather", client.Name())
	assert.Equal(t, server.SpanID(), client.ParentSpanID())
	assert.Equal(t, server.TraceID(), client.TraceID())
	assert.Equal(t, map[string]any{
		mcpconv.MethodName: "tools/call", mcpconv.OperationName: "execute_tool", mcpconv.ToolName: "get_weather",
		mcpconv.ToolCallID: "call_1", mcpconv.SessionID: "sess-1", mcpconv.JSONRPCRequestID: "17",
		mcpconv.ServerKey: "weather-1", mcpconv.ServerAddress: "weather.internal", mcpconv.ServerPort: int64(8080),
		mcpconv.Attempt: int64(1), mcpconv.ErrorType: "-32603", mcpconv.RPCResponseStatusCode: "-32603",
	}, client.Attributes().AsRaw())
	require.Equal(t, 1, client.Events().Len())
	assert.Equal(t, mcpconv.ExceptionEventName, client.Events().At(0).Name(),
		"the exception is event 0: error_log id <trace>-<span>-0")

	logs := tr.logs.all()
	require.Len(t, logs, 1)
	lr := logToPdata(logs[0])
	assert.Equal(t, mcpconv.KindLBDecision, mcpconv.ClassifyLog(lr))
	assert.False(t, mcpconv.IsFailedLog(lr))
	assert.Equal(t, server.TraceID(), lr.TraceID())
	assert.Equal(t, server.SpanID(), lr.SpanID())
	assert.Regexp(t, hexID, lbID)
	assert.Equal(t, map[string]any{
		mcpconv.EventID: lbID, mcpconv.MethodName: "tools/call", mcpconv.ServerKey: "weather-1",
		mcpconv.Attempt: int64(1), mcpconv.Strategy: "round_robin", mcpconv.JSONRPCRequestID: "17",
		mcpconv.SessionID: "sess-1", mcpconv.ToolName: "get_weather",
		mcpconv.LBCandidates: []any{"weather-1", "weather-2"}, mcpconv.LBReason: "next in turn",
	}, lr.Attributes().AsRaw())
	assert.Equal(t, start, logs[0].Timestamp())
}

func TestRetryGetsItsOwnAttemptAndSpan(t *testing.T) {
	tr := newTestRouter(t, WithLBDecisions(false))
	ctx, req := tr.StartRequest(context.Background(), RequestInfo{Method: mcpconv.MethodToolsCall, Tool: "query"})
	assert.Empty(t, req.ChooseServer(Choice{ServerKey: "pg-1", Strategy: "least_conn"}))
	_, call := req.StartToolCall(ctx, ToolCallInfo{})
	call.End(context.DeadlineExceeded)
	req.ChooseServer(Choice{ServerKey: "pg-2", Strategy: "least_conn"})
	_, call = req.StartToolCall(ctx, ToolCallInfo{})
	call.SetResult(`{"rows":3}`)
	call.End(nil)
	req.End(nil)

	spans := tr.spans.Ended()
	require.Len(t, spans, 3)
	first, second, server := spanToPdata(spans[0]), spanToPdata(spans[1]), spanToPdata(spans[2])
	for _, tc := range []struct {
		span    ptrace.Span
		server  string
		attempt int64
		failed  bool
	}{{first, "pg-1", 1, true}, {second, "pg-2", 2, false}, {server, "pg-2", 2, false}} {
		attrs := tc.span.Attributes().AsRaw()
		assert.Equal(t, tc.server, attrs[mcpconv.ServerKey], tc.span.Name())
		assert.Equal(t, tc.attempt, attrs[mcpconv.Attempt], tc.span.Name())
		assert.Equal(t, tc.failed, mcpconv.IsFailedSpan(tc.span), tc.span.Name())
	}
	assert.Equal(t, ErrorTypeTimeout, first.Attributes().AsRaw()[mcpconv.ErrorType])
	assert.Equal(t, `{"rows":3}`, second.Attributes().AsRaw()[mcpconv.ToolResult])
	assert.Empty(t, tr.logs.all(), "lb decisions are off")
}

func TestSpanNames(t *testing.T) {
	tests := []struct {
		info RequestInfo
		want string
	}{
		{RequestInfo{Method: "tools/list"}, "tools/list"},
		{RequestInfo{Method: "resources/read", ResourceURI: "file:///a"}, "resources/read"},
		{RequestInfo{Method: "prompts/get", Target: "summarize"}, "prompts/get summarize"},
		{RequestInfo{Method: "tools/call", Tool: "t", Target: "other"}, "tools/call other"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			tr := newTestRouter(t)
			_, req := tr.StartRequest(context.Background(), tt.info)
			req.End(nil)
			spans := tr.spans.Ended()
			require.Len(t, spans, 1)
			assert.Equal(t, tt.want, spans[0].Name())
			_, hasOp := spanToPdata(spans[0]).Attributes().Get(mcpconv.OperationName)
			assert.Equal(t, tt.info.Method == mcpconv.MethodToolsCall, hasOp)
		})
	}
}

func TestDurationHistograms(t *testing.T) {
	tr := newTestRouter(t, WithLBDecisions(false))
	start := time.Now().Add(-time.Second)
	for i := range 3 {
		ctx, req := tr.StartRequest(context.Background(), RequestInfo{Method: mcpconv.MethodToolsCall, Tool: "query", Start: start})
		req.ChooseServer(Choice{ServerKey: "pg-1"})
		_, call := req.StartToolCall(ctx, ToolCallInfo{Start: start})
		var err error
		if i == 2 {
			err = &ToolError{Tool: "query", Message: "syntax error"}
		}
		call.EndAt(start.Add(150*time.Millisecond), err)
		req.EndAt(start.Add(200*time.Millisecond), err)
	}
	rm := tr.collect(t)
	require.Len(t, rm.ScopeMetrics, 1)
	assert.Equal(t, ScopeName, rm.ScopeMetrics[0].Scope.Name)
	got := map[string]map[string]uint64{} // metric -> error.type -> count
	for _, m := range rm.ScopeMetrics[0].Metrics {
		h, ok := m.Data.(metricdata.Histogram[float64])
		require.True(t, ok, m.Name)
		assert.Equal(t, "s", m.Unit)
		got[m.Name] = map[string]uint64{}
		for _, p := range h.DataPoints {
			assert.Equal(t, mcpconv.DurationBucketsSeconds, p.Bounds, m.Name)
			method, _ := p.Attributes.Value(attribute.Key(mcpconv.MethodName))
			server, _ := p.Attributes.Value(attribute.Key(mcpconv.ServerKey))
			tool, _ := p.Attributes.Value(attribute.Key(mcpconv.ToolName))
			assert.Equal(t, []string{"tools/call", "pg-1", "query"},
				[]string{method.AsString(), server.AsString(), tool.AsString()})
			errType, _ := p.Attributes.Value(attribute.Key(mcpconv.ErrorType))
			got[m.Name][errType.AsString()] += p.Count
		}
	}
	assert.Equal(t, map[string]map[string]uint64{
		mcpconv.MetricServerOperationDuration: {"": 2, "tool_error": 1},
		mcpconv.MetricClientOperationDuration: {"": 2, "tool_error": 1},
	}, got)
}

func TestEventsFollowTheConventions(t *testing.T) {
	at := time.Date(2025, 6, 18, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		emit   func(context.Context, *Router) string
		kind   mcpconv.Kind
		event  string
		failed bool
		attrs  map[string]any
		body   string
	}{
		{name: "healthy check", kind: mcpconv.KindHealthCheck, event: mcpconv.EventHealthCheck,
			emit: func(ctx context.Context, r *Router) string {
				return r.HealthCheck(ctx, HealthCheck{ServerKey: "w-1", Healthy: true, Check: "ping", Latency: 3 * time.Millisecond, Time: at})
			},
			attrs: map[string]any{mcpconv.ServerKey: "w-1", mcpconv.HealthStatus: "healthy", mcpconv.HealthCheck: "ping", mcpconv.HealthLatency: 0.003}},
		{name: "failed check", kind: mcpconv.KindHealthCheck, event: mcpconv.EventHealthCheck, failed: true, body: "dial tcp: refused",
			emit: func(ctx context.Context, r *Router) string {
				return r.HealthCheck(ctx, HealthCheck{ServerKey: "w-1", Latency: 2 * time.Second, Err: errors.New("dial tcp: refused"), Time: at})
			},
			attrs: map[string]any{mcpconv.ServerKey: "w-1", mcpconv.HealthStatus: "unhealthy", mcpconv.HealthLatency: 2.0, mcpconv.ErrorType: "*errors.errorString"}},
		{name: "registered", kind: mcpconv.KindServer, event: mcpconv.EventServerRegistered,
			emit: func(ctx context.Context, r *Router) string {
				return r.ServerRegistered(ctx, Server{Key: "w-1", Name: "Weather", URL: "http://w:8080/mcp", Version: "1.4.2",
					Transport: "streamable_http", Tools: []string{"get_weather"}, Health: mcpconv.HealthHealthy, Time: at})
			},
			attrs: map[string]any{mcpconv.ServerKey: "w-1", mcpconv.ServerName: "Weather", mcpconv.ServerURL: "http://w:8080/mcp",
				mcpconv.ServerVersion: "1.4.2", mcpconv.ServerTransport: "streamable_http", mcpconv.ServerTools: []any{"get_weather"},
				mcpconv.HealthStatus: "healthy"}},
		{name: "deregistered", kind: mcpconv.KindServer, event: mcpconv.EventServerDeregistered,
			emit: func(ctx context.Context, r *Router) string {
				return r.ServerDeregistered(ctx, Deregistration{ServerKey: "w-1", Time: at})
			},
			attrs: map[string]any{mcpconv.ServerKey: "w-1"}},
		{name: "health changed", kind: mcpconv.KindServer, event: mcpconv.EventServerHealthChanged, failed: true,
			emit: func(ctx context.Context, r *Router) string {
				return r.ServerHealthChanged(ctx, HealthChange{ServerKey: "w-1", Time: at})
			},
			attrs: map[string]any{mcpconv.ServerKey: "w-1", mcpconv.HealthStatus: "unhealthy"}},
		{name: "breaker opens", kind: mcpconv.KindCircuitBreaker, event: mcpconv.EventBreakerStateChange, failed: true, body: "5 consecutive failures",
			emit: func(ctx context.Context, r *Router) string {
				return r.BreakerStateChange(ctx, BreakerChange{ServerKey: "w-2", From: mcpconv.BreakerClosed, To: mcpconv.BreakerOpen,
					FailureCount: 5, Reason: "5 consecutive failures", Time: at})
			},
			attrs: map[string]any{mcpconv.ServerKey: "w-2", mcpconv.BreakerFromState: "closed", mcpconv.BreakerToState: "open",
				mcpconv.BreakerFailureCount: int64(5)}},
		{name: "breaker half open", kind: mcpconv.KindCircuitBreaker, event: mcpconv.EventBreakerStateChange,
			emit: func(ctx context.Context, r *Router) string {
				return r.BreakerStateChange(ctx, BreakerChange{ServerKey: "w-2", From: mcpconv.BreakerOpen, To: mcpconv.BreakerHalfOpen, Time: at})
			},
			attrs: map[string]any{mcpconv.ServerKey: "w-2", mcpconv.BreakerFromState: "open", mcpconv.BreakerToState: "half_open"}},
		{name: "session start", kind: mcpconv.KindSession, event: mcpconv.EventSessionStart,
			emit: func(ctx context.Context, r *Router) string {
				return r.SessionStart(ctx, Session{SessionID: "s-1", Transport: "sse", ProtocolVersion: "2025-06-18",
					ClientAddress: "10.0.0.7", ServerKey: "w-1", Time: at})
			},
			attrs: map[string]any{mcpconv.SessionID: "s-1", mcpconv.SessionTransport: "sse", mcpconv.ProtocolVersion: "2025-06-18",
				mcpconv.ClientAddress: "10.0.0.7", mcpconv.ServerKey: "w-1"}},
		{name: "session stats", kind: mcpconv.KindSession, event: mcpconv.EventSessionStats,
			emit: func(ctx context.Context, r *Router) string {
				return r.SessionStats(ctx, SessionStats{SessionID: "s-1", Requests: 42, Errors: 3, Time: at})
			},
			attrs: map[string]any{mcpconv.SessionID: "s-1", mcpconv.SessionRequestCount: int64(42), mcpconv.SessionErrorCount: int64(3)}},
		{name: "session end", kind: mcpconv.KindSession, event: mcpconv.EventSessionEnd,
			emit: func(ctx context.Context, r *Router) string {
				return r.SessionEnd(ctx, SessionEnd{SessionID: "s-1", Requests: 57, Errors: 4, CloseReason: "client_closed", Time: at})
			},
			attrs: map[string]any{mcpconv.SessionID: "s-1", mcpconv.SessionRequestCount: int64(57), mcpconv.SessionErrorCount: int64(4),
				mcpconv.SessionCloseReason: "client_closed"}},
		{name: "router error", kind: mcpconv.KindError, event: mcpconv.EventError, failed: true, body: "reload: bad config",
			emit: func(ctx context.Context, r *Router) string {
				return r.Error(ctx, ErrorEvent{Err: fmt.Errorf("reload: %w", errors.New("bad config")), Type: "config_invalid",
					ServerKey: "w-1", Time: at})
			},
			attrs: map[string]any{mcpconv.ErrorType: "config_invalid", mcpconv.ExceptionType: "*fmt.wrapError",
				mcpconv.ExceptionMessage: "reload: bad config", mcpconv.ServerKey: "w-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestRouter(t)
			id := tt.emit(context.Background(), tr.Router)
			assert.Regexp(t, hexID, id)
			logs := tr.logs.all()
			require.Len(t, logs, 1)
			assert.Equal(t, at, logs[0].Timestamp())
			lr := logToPdata(logs[0])
			assert.Equal(t, tt.event, mcpconv.LogEventName(lr))
			assert.Equal(t, tt.kind, mcpconv.ClassifyLog(lr))
			assert.Equal(t, tt.failed, mcpconv.IsFailedLog(lr))
			want := map[string]any{mcpconv.EventID: id}
			for k, v := range tt.attrs {
				want[k] = v
			}
			assert.Equal(t, want, lr.Attributes().AsRaw())
			assert.Equal(t, tt.body, lr.Body().AsString())
			if tt.failed {
				assert.GreaterOrEqual(t, lr.SeverityNumber(), plog.SeverityNumberWarn)
			}
		})
	}
}

func TestEventIDs(t *testing.T) {
	t.Run("unique by default", func(t *testing.T) {
		tr := newTestRouter(t)
		seen := map[string]bool{}
		for range 1000 {
			id := tr.HealthCheck(context.Background(), HealthCheck{ServerKey: "w-1", Healthy: true})
			require.False(t, seen[id], "duplicate id %s", id)
			seen[id] = true
		}
	})
	t.Run("given id wins", func(t *testing.T) {
		tr := newTestRouter(t)
		assert.Equal(t, "retry-7", tr.HealthCheck(context.Background(), HealthCheck{ServerKey: "w-1", ID: "retry-7"}))
	})
	t.Run("custom generator", func(t *testing.T) {
		n := 0
		tr := newTestRouter(t, WithEventIDs(func() string { n++; return fmt.Sprintf("id-%d", n) }))
		_, req := tr.StartRequest(context.Background(), RequestInfo{Method: "tools/list"})
		assert.Equal(t, "id-1", req.ChooseServer(Choice{ServerKey: "a"}))
		assert.Equal(t, "id-2", tr.SessionStart(context.Background(), Session{SessionID: "s"}))
	})
}

func TestObservePools(t *testing.T) {
	tr := newTestRouter(t)
	unregister, err := tr.ObservePools(func() []PoolStats {
		return []PoolStats{{ServerKey: "w-1", Active: 3, Idle: 5, Pending: 0}, {ServerKey: "w-2", Active: 1, Idle: 7, Pending: 2}}
	})
	require.NoError(t, err)
	rm := tr.collect(t)
	require.Len(t, rm.ScopeMetrics, 1)
	require.Len(t, rm.ScopeMetrics[0].Metrics, 1)
	m := rm.ScopeMetrics[0].Metrics[0]
	assert.Equal(t, mcpconv.MetricPoolConnections, m.Name)
	assert.Equal(t, "{connection}", m.Unit)
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok)
	got := map[string]int64{}
	for _, p := range g.DataPoints {
		server, _ := p.Attributes.Value(attribute.Key(mcpconv.ServerKey))
		state, _ := p.Attributes.Value(attribute.Key(mcpconv.PoolState))
		got[server.AsString()+"/"+state.AsString()] = p.Value
	}
	assert.Equal(t, map[string]int64{"w-1/active": 3, "w-1/idle": 5, "w-1/pending": 0,
		"w-2/active": 1, "w-2/idle": 7, "w-2/pending": 2}, got)
	require.NoError(t, unregister())
}

type typedErr struct{}

func (typedErr) Error() string     { return "typed" }
func (typedErr) ErrorType() string { return "quota_exceeded" }

func TestErrorType(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		err      error
		wantType string
		wantCode string
	}{
		{nil, "", ""},
		{&RPCError{Code: -32602, Message: "Invalid params"}, "-32602", "-32602"},
		{fmt.Errorf("upstream: %w", &RPCError{Code: -32002}), "-32002", "-32002"},
		{&ToolError{Tool: "t"}, "tool_error", ""},
		{fmt.Errorf("wrapped: %w", typedErr{}), "quota_exceeded", ""},
		{context.DeadlineExceeded, "timeout", ""},
		{ctx.Err(), "cancelled", ""},
		{errors.New("plain"), "*errors.errorString", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.wantType, ErrorType(tt.err), "%v", tt.err)
		assert.Equal(t, tt.wantCode, RPCStatusCode(tt.err), "%v", tt.err)
	}
}

func TestNewWithGlobalProviders(t *testing.T) {
	r, err := New(nil, nil, nil)
	require.NoError(t, err)
	ctx, req := r.StartRequest(context.Background(), RequestInfo{Method: "ping"})
	_, call := req.StartToolCall(ctx, ToolCallInfo{})
	call.End(nil)
	req.End(errors.New("x"))
	assert.NotEmpty(t, r.HealthCheck(context.Background(), HealthCheck{ServerKey: "a"}))
	_, err = New(nil, nil, nil, WithScope("", ""))
	assert.Error(t, err)
}

// attribute sets of the cache equal fresh ones.
func TestMetricSetCache(t *testing.T) {
	var c setCache
	k := metricKey{"tools/call", "a", "t", ""}
	first := c.get(k)
	assert.Len(t, c.sets, 1)
	assert.Equal(t, first, c.get(k))
	want := attribute.NewSet(attribute.String(mcpconv.MethodName, "tools/call"),
		attribute.String(mcpconv.ServerKey, "a"), attribute.String(mcpconv.ToolName, "t"))
	got := k.set()
	assert.True(t, reflect.DeepEqual(want.ToSlice(), got.ToSlice()))
}

func TestLBDecisionSampling(t *testing.T) {
	for _, fraction := range []float64{0.5, 0.1, 0.01, 1.0 / 3} {
		th, tvalue, err := samplingThreshold(fraction)
		require.NoError(t, err)
		want, err := sampling.ProbabilityToThreshold(fraction)
		require.NoError(t, err)
		assert.Equal(t, want.Unsigned(), th, "threshold of %v", fraction)
		assert.Equal(t, want.TValue(), tvalue, "t-value of %v", fraction)
	}
	th, tvalue, err := samplingThreshold(1)
	assert.NoError(t, err)
	assert.Zero(t, th)
	assert.Empty(t, tvalue)
	for _, bad := range []float64{0, -1, 1.5} {
		_, err := New(nil, nil, nil, WithLBDecisionSampling(bad))
		assert.Error(t, err, "%v", bad)
	}

	tr := newTestRouter(t, WithLBDecisionSampling(0.1))
	const n = 5000
	emitted := 0
	for range n {
		_, req := tr.StartRequest(context.Background(), RequestInfo{Method: "ping"})
		id := req.ChooseServer(Choice{ServerKey: "a"})
		tid := req.SpanContext().TraceID()
		keep := sampling.TraceIDToRandomness(pcommon.TraceID(tid)).Unsigned() >= th10(t)
		assert.Equal(t, keep, id != "", "the collector's decision for trace %s", tid)
		if id != "" {
			emitted++
		}
		req.End(nil)
	}
	assert.InDelta(t, n/10, emitted, 5*math.Sqrt(n*0.1*0.9))
	for _, r := range tr.logs.all() {
		assert.Equal(t, "e6666666666666", logToPdata(r).Attributes().AsRaw()[mcpconv.SamplingThreshold])
	}
}

func th10(t *testing.T) uint64 {
	th, err := sampling.ProbabilityToThreshold(0.1)
	require.NoError(t, err)
	return th.Unsigned()
}
