package eventsclient_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation/eventsclient"
	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver"
)

// TestTheReceiverAcceptsEveryType posts one event of every type, every
// field set, to the real mcpeventsreceiver: the client and the receiver
// agree on the format.
func TestTheReceiverAcceptsEveryType(t *testing.T) {
	ctx := context.Background()
	f := mcpeventsreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*mcpeventsreceiver.Config)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cfg.NetAddr.Endpoint = addr
	traces, logs, metrics := new(consumertest.TracesSink), new(consumertest.LogsSink), new(consumertest.MetricsSink)
	set := receivertest.NewNopSettings(f.Type())
	tr, err := f.CreateTraces(ctx, set, cfg, traces)
	require.NoError(t, err)
	lr, err := f.CreateLogs(ctx, set, cfg, logs)
	require.NoError(t, err)
	mr, err := f.CreateMetrics(ctx, set, cfg, metrics)
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	for _, c := range []interface {
		Start(context.Context, component.Host) error
	}{tr, lr, mr} {
		require.NoError(t, c.Start(ctx, host))
	}
	t.Cleanup(func() {
		assert.NoError(t, tr.Shutdown(ctx))
		assert.NoError(t, lr.Shutdown(ctx))
		assert.NoError(t, mr.Shutdown(ctx))
	})

	c, err := eventsclient.New(eventsclient.Config{Endpoint: "http://" + addr, RetryFor: 10 * time.Second,
		Resource: eventsclient.Resource{ServiceName: "mcp-router", ServiceInstanceID: "router-1"}})
	require.NoError(t, err)
	defer func() { assert.NoError(t, c.Shutdown(ctx)) }()
	events := everyType(time.Now())
	require.NoError(t, c.Post(ctx, events...))

	spans := 0
	for _, td := range traces.AllTraces() {
		spans += td.SpanCount()
	}
	records := 0
	for _, ld := range logs.AllLogs() {
		records += ld.LogRecordCount()
	}
	points := 0
	for _, md := range metrics.AllMetrics() {
		points += md.DataPointCount()
	}
	assert.Equal(t, 2, spans, "routing, tool_call")
	assert.Equal(t, len(events)-3, records, "every log event")
	assert.Equal(t, 3, points, "pool_stats: one point per state")
	rs := traces.AllTraces()[0].ResourceSpans().At(0)
	name, _ := rs.Resource().Attributes().Get("service.name")
	assert.Equal(t, "mcp-router", name.Str())

	// The same events in the background.
	for _, e := range events {
		c.Add(e)
	}
	require.NoError(t, c.Flush(ctx))
	assert.Equal(t, eventsclient.Stats{Posted: int64(len(events))}, c.Stats())
}

// everyType is one event of each type with every field set (at now: the
// receiver refuses times far from it).
func everyType(now time.Time) []eventsclient.Event {
	tid := eventsclient.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sid, child := eventsclient.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, eventsclient.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb8}
	attrs := []eventsclient.Attribute{eventsclient.String("tenant", "acme"), eventsclient.Int("shard", 3),
		eventsclient.Float64("ratio", 0.25), eventsclient.Bool("canary", true), eventsclient.Strings("tags", []string{"a", "b"})}
	exc := &eventsclient.Exception{Type: "TimeoutError", Message: "no answer in 10s", Stacktrace: "at route()"}
	return []eventsclient.Event{
		eventsclient.Routing{ID: "req-1", Time: now, Method: "tools/call", Duration: 41500 * time.Microsecond, Target: "get_weather",
			TraceID: tid, SpanID: sid, Tool: "get_weather", ResourceURI: "file:///x",
			SessionID: "sess-1", RequestID: "17", ServerKey: "weather-1", Strategy: "round_robin", Attempt: 2,
			Status: eventsclient.StatusError, ErrorType: "timeout", ErrorMessage: "upstream timed out", RPCStatusCode: "-32603",
			ProtocolVersion: "2025-06-18", Transport: "tcp", ClientAddress: "10.0.0.7", Exception: exc,
			SamplingThreshold: "8", Attributes: attrs},
		&eventsclient.ToolCall{ID: "call-1", Time: now, Tool: "get_weather", Duration: 38 * time.Millisecond, TraceID: tid, SpanID: child,
			ParentSpanID: sid, ToolCallID: "call_abc", SessionID: "sess-1", RequestID: "17", ServerKey: "weather-1",
			ServerAddress: "weather.internal", ServerPort: 8080, Attempt: 1, ErrorType: "tool_error",
			RPCStatusCode: "-32000", Arguments: []byte(`{"city":"Paris"}`), Result: []byte(`not json`),
			Exception: &eventsclient.Exception{Message: "only a message"}, Attributes: attrs},
		eventsclient.HealthCheck{ID: "hc-1", Time: now, ServerKey: "weather-2", Check: "ping", Latency: 2 * time.Second,
			ErrorType: "timeout", Message: "ping timed out", Severity: eventsclient.SeverityWarn, SamplingThreshold: "e6", Attributes: attrs},
		eventsclient.ServerRegistered{ID: "reg-1", Time: now, ServerKey: "weather-1", Name: "Weather", URL: "http://weather.internal:8080/mcp",
			Version: "1.4.2", Transport: "streamable_http", Tools: []string{"get_weather", "get_forecast"}, Health: eventsclient.Healthy,
			Severity: eventsclient.SeverityInfo, SamplingThreshold: "0", Attributes: attrs},
		eventsclient.ServerDeregistered{ID: "dereg-1", Time: now, ServerKey: "weather-1", Severity: eventsclient.SeverityInfo, Attributes: attrs},
		eventsclient.ServerHealthChanged{ID: "hch-1", Time: now, ServerKey: "weather-1", Healthy: true, Attributes: attrs},
		eventsclient.SessionStart{ID: "ss-1", Time: now, SessionID: "sess-1", Transport: "sse", ProtocolVersion: "2025-06-18",
			ClientAddress: "10.0.0.7", ServerKey: "weather-1", Severity: eventsclient.SeverityDebug, Attributes: attrs},
		eventsclient.SessionStats{ID: "st-1", Time: now, SessionID: "sess-1", Attributes: attrs},
		eventsclient.SessionEnd{ID: "se-1", Time: now, SessionID: "sess-1", Requests: 12, Errors: 1, CloseReason: "client_closed", Attributes: attrs},
		eventsclient.LBDecision{ID: "lb-1", Time: now, TraceID: tid, SpanID: sid, RequestID: "17", SessionID: "sess-1", Method: "tools/call",
			Tool: "get_weather", Strategy: "round_robin", ServerKey: "weather-1", Candidates: []string{"weather-1", "weather-2"},
			Reason: "next in turn", SamplingThreshold: "fd70a3d70a3d71", Attributes: []eventsclient.Attribute{eventsclient.Int("mcp.router.attempt", 1)}},
		eventsclient.BreakerStateChange{ID: "cb-1", Time: now, ServerKey: "weather-2", From: eventsclient.BreakerClosed, To: eventsclient.BreakerOpen,
			FailureCount: 5, Reason: "5 consecutive failures", Severity: eventsclient.SeverityWarn, Attributes: attrs},
		eventsclient.ErrorEvent{ID: "err-1", Time: now, Message: "no upstream for weather", ErrorType: "no_upstream", Exception: exc,
			TraceID: tid, SpanID: sid, RequestID: "17", SessionID: "sess-1", ServerKey: "weather-1", Method: "tools/call",
			Tool: "get_weather", Severity: eventsclient.SeverityError, Attributes: attrs},
		eventsclient.PoolStats{ID: "pool-1", Time: now, ServerKey: "weather-1", Active: 3, Idle: 0, Pending: 1, Attributes: attrs},
	}
}
