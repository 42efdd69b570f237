package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/schema"
)

var start = time.Now().UTC().Truncate(time.Second).Add(-time.Minute)

func ts(offset time.Duration) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(start.Add(offset))
}

// routedRequests builds n routed requests, each a SERVER span and its CLIENT
// tools/call with arguments and result; request 0 fails upstream (an
// exception on the tool call, error.type on both spans).
func routedRequests(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(mcpconv.ServiceName, "e2e-router")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		traceID := pcommon.TraceID{0xe2, 0xe0, byte(i), 1}
		at := time.Duration(i) * time.Millisecond
		server := spans.AppendEmpty()
		server.SetTraceID(traceID)
		server.SetSpanID(pcommon.SpanID{1, byte(i)})
		server.SetKind(ptrace.SpanKindServer)
		server.SetName("tools/call get_weather")
		server.SetStartTimestamp(ts(at))
		server.SetEndTimestamp(ts(at + 30*time.Millisecond))
		sa := server.Attributes()
		sa.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		sa.PutStr(mcpconv.ToolName, "get_weather")
		sa.PutStr(mcpconv.JSONRPCRequestID, fmt.Sprint(i))
		sa.PutStr(mcpconv.SessionID, "sess-1")
		sa.PutStr(mcpconv.ServerKey, "weather-1")

		client := spans.AppendEmpty()
		client.SetTraceID(traceID)
		client.SetSpanID(pcommon.SpanID{2, byte(i)})
		client.SetParentSpanID(server.SpanID())
		client.SetKind(ptrace.SpanKindClient)
		client.SetName("tools/call get_weather")
		client.SetStartTimestamp(ts(at + time.Millisecond))
		client.SetEndTimestamp(ts(at + 29*time.Millisecond))
		ca := client.Attributes()
		ca.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		ca.PutStr(mcpconv.ToolName, "get_weather")
		ca.PutStr(mcpconv.ServerKey, "weather-1")
		ca.PutStr(mcpconv.ToolArguments, `{"city":"Paris","api_key":"secret"}`)
		ca.PutStr(mcpconv.ToolResult, `{"temp_c":21}`)
		if i == 0 {
			for _, s := range []ptrace.Span{server, client} {
				s.Status().SetCode(ptrace.StatusCodeError)
				s.Attributes().PutStr(mcpconv.ErrorType, "timeout")
			}
			ev := client.Events().AppendEmpty()
			ev.SetName(mcpconv.ExceptionEventName)
			ev.SetTimestamp(client.EndTimestamp())
			ev.Attributes().PutStr(mcpconv.ExceptionMessage, "upstream timed out")
		}
	}
	return td
}

// routerEvents builds one or more log events of every kind, one bad health
// check (no server key) and one INFO record of no known kind.
func routerEvents(t *testing.T) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(mcpconv.ServiceName, "e2e-router")
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	event := func(name string, at time.Duration, attrs map[string]any) plog.LogRecord {
		lr := records.AppendEmpty()
		lr.SetEventName(name)
		lr.SetTimestamp(ts(at))
		require.NoError(t, lr.Attributes().FromRaw(attrs))
		return lr
	}
	for i, status := range []string{mcpconv.HealthHealthy, mcpconv.HealthHealthy, mcpconv.HealthUnhealthy} {
		event(mcpconv.EventHealthCheck, time.Duration(i)*time.Second, map[string]any{
			mcpconv.ServerKey: "weather-1", mcpconv.HealthStatus: status, mcpconv.HealthLatency: 0.01})
	}
	event(mcpconv.EventHealthCheck, 0, map[string]any{mcpconv.HealthStatus: mcpconv.HealthHealthy}) // refused
	event(mcpconv.EventServerRegistered, 0, map[string]any{mcpconv.ServerKey: "weather-1", mcpconv.ServerName: "Weather"})
	event(mcpconv.EventServerRegistered, 0, map[string]any{mcpconv.ServerKey: "github-1", mcpconv.ServerName: "GitHub"})
	event(mcpconv.EventServerDeregistered, time.Second, map[string]any{mcpconv.ServerKey: "github-1"})
	event(mcpconv.EventServerHealthChanged, 2*time.Second, map[string]any{mcpconv.ServerKey: "weather-1", mcpconv.HealthStatus: mcpconv.HealthUnhealthy})
	event(mcpconv.EventSessionStart, 0, map[string]any{mcpconv.SessionID: "sess-1", mcpconv.SessionTransport: "sse"})
	event(mcpconv.EventSessionStats, 30*time.Second, map[string]any{mcpconv.SessionID: "sess-1", mcpconv.SessionRequestCount: 10})
	event(mcpconv.EventSessionEnd, 40*time.Second, map[string]any{mcpconv.SessionID: "sess-1", mcpconv.SessionRequestCount: 12})
	event(mcpconv.EventSessionStart, 5*time.Second, map[string]any{mcpconv.SessionID: "sess-2"})
	for i := range 4 {
		event(mcpconv.EventLBDecision, time.Duration(i)*time.Millisecond, map[string]any{
			mcpconv.ServerKey: "weather-1", mcpconv.Strategy: "round_robin", mcpconv.LBCandidates: []any{"weather-1", "weather-2"}})
	}
	event(mcpconv.EventBreakerStateChange, 0, map[string]any{mcpconv.ServerKey: "weather-2",
		mcpconv.BreakerFromState: mcpconv.BreakerClosed, mcpconv.BreakerToState: mcpconv.BreakerOpen})
	event(mcpconv.EventBreakerStateChange, 30*time.Second, map[string]any{mcpconv.ServerKey: "weather-2",
		mcpconv.BreakerFromState: mcpconv.BreakerOpen, mcpconv.BreakerToState: mcpconv.BreakerHalfOpen})
	event(mcpconv.EventError, 0, map[string]any{mcpconv.ErrorType: "config_reload_failed"})
	errLog := records.AppendEmpty()
	errLog.SetTimestamp(ts(time.Second))
	errLog.SetSeverityNumber(plog.SeverityNumberError)
	errLog.Body().SetStr("upstream returned malformed JSON")
	info := records.AppendEmpty()
	info.SetTimestamp(ts(time.Second))
	info.SetSeverityNumber(plog.SeverityNumberInfo)
	info.Body().SetStr("cache warmed") // no kind, not an error: dropped
	return ld
}

// routerMetrics builds both operation-duration histograms and the pool gauge.
func routerMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(mcpconv.ServiceName, "e2e-router")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	for _, name := range []string{mcpconv.MetricServerOperationDuration, mcpconv.MetricClientOperationDuration} {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit("s")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		p := h.DataPoints().AppendEmpty()
		p.SetStartTimestamp(ts(0))
		p.SetTimestamp(ts(time.Minute))
		p.ExplicitBounds().FromRaw(mcpconv.DurationBucketsSeconds)
		counts := make([]uint64, len(mcpconv.DurationBucketsSeconds)+1)
		counts[2] = 10
		p.BucketCounts().FromRaw(counts)
		p.SetCount(10)
		p.SetSum(0.3)
		p.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
	}
	g := ms.AppendEmpty()
	g.SetName(mcpconv.MetricPoolConnections)
	points := g.SetEmptyGauge().DataPoints()
	for i, state := range []string{"active", "idle", "pending"} {
		p := points.AppendEmpty()
		p.SetTimestamp(ts(time.Minute))
		p.SetIntValue(int64(i + 1))
		p.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		p.Attributes().PutStr(mcpconv.PoolState, state)
	}
	return md
}

// TestEveryTableThroughTheDistribution sends traces, logs and metrics over
// OTLP/gRPC to the built collector with the default config and checks that
// every table of schema/ receives exactly the rows they stand for.
func TestEveryTableThroughTheDistribution(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	schemaName := freshSchema("e2e_every_table")
	c := startCollector(t, schemaName, append(keepEverySampledEvent, "MCP_TOOL_PAYLOADS=true")...)
	conn := c.dial(t)

	_, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(routedRequests(10)))
	require.NoError(t, err)
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(routerEvents(t)))
	require.NoError(t, err)
	_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(routerMetrics()))
	require.NoError(t, err)

	waitForCounts(t, schemaName, map[string]int{
		"routing_log":           10,
		"tool_call_record":      10,
		"tool_call_payload":     10,
		"error_log":             4, // exception + failed routing span + mcp.router.error + ERROR record
		"health_check_record":   3,
		"mcp_server":            2,
		"session_record":        2,
		"lb_decision":           4,
		"circuit_breaker_event": 2,
		"metric_point":          5,
		"rejected_event":        1,
		"schema_migrations":     migrationCount(t),
	})
	c.stop(t)
}

// migrationCount is the number of schema/ migrations: the rows
// schema_migrations holds once the partition manager applied them all.
func migrationCount(t *testing.T) int {
	t.Helper()
	m, err := schema.Migrations()
	require.NoError(t, err)
	return len(m)
}
