package mcpsampler

import (
	"context"
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpsampler/internal/metadata"
)

// testConfig is the default config with the given rates and rules.
func testConfig(t testing.TB, rates map[string]float64, rules ...RuleConfig) *Config {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	maps.Copy(cfg.Rates, rates)
	cfg.Rules = rules
	require.NoError(t, cfg.Validate())
	return cfg
}

func startTraces(t testing.TB, cfg *Config, set processor.Settings, next consumer.Traces) processor.Traces {
	t.Helper()
	p, err := NewFactory().CreateTraces(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p
}

func startLogs(t testing.TB, cfg *Config, set processor.Settings, next consumer.Logs) processor.Logs {
	t.Helper()
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p
}

func nopSettings() processor.Settings { return processortest.NewNopSettings(metadata.Type) }

func settingsWith(tel *componenttest.Telemetry) processor.Settings {
	set := nopSettings()
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.ID = component.NewID(metadata.Type)
	return set
}

// traceIDWithRandomness is a trace id whose last 56 bits are r.
func traceIDWithRandomness(r uint64) pcommon.TraceID {
	var tid pcommon.TraceID
	binary.BigEndian.PutUint64(tid[:8], 0x4bf92f3577b34da6)
	binary.BigEndian.PutUint64(tid[8:], r&(sampling.MaxAdjustedCount-1)|0xa3<<56)
	return tid
}

func randomTraceID(rng *rand.Rand) pcommon.TraceID {
	var tid pcommon.TraceID
	binary.BigEndian.PutUint64(tid[:8], rng.Uint64())
	binary.BigEndian.PutUint64(tid[8:], rng.Uint64())
	return tid
}

// thresholdOf is the threshold of a rate, as the sampler computes it.
func thresholdOf(percent float64) uint64 {
	th, err := sampling.ProbabilityToThreshold(percent / 100)
	if err != nil {
		panic(err)
	}
	return th.Unsigned()
}

// tvalueOf is the t-value the sampler records for a rate.
func tvalueOf(percent float64) string {
	th, err := sampling.ProbabilityToThreshold(percent / 100)
	if err != nil {
		panic(err)
	}
	return th.TValue()
}

// spanWeight reads a span's weight back the way the exporter does.
func spanWeight(span ptrace.Span) float64 { return mcpconv.SpanAdjustedCount(span) }

// logWeight reads a log record's weight back the way the exporter does.
func logWeight(lr plog.LogRecord) float64 { return mcpconv.LogAdjustedCount(lr) }

// routingSpan appends a SERVER span of a routed request.
func routingSpan(spans ptrace.SpanSlice, tid pcommon.TraceID) ptrace.Span {
	span := spans.AppendEmpty()
	span.SetTraceID(tid)
	span.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	span.SetKind(ptrace.SpanKindServer)
	span.SetName("tools/call get_weather")
	span.SetStartTimestamp(1795651200000000000)
	span.SetEndTimestamp(1795651200042000000)
	a := span.Attributes()
	a.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	a.PutStr(mcpconv.ToolName, "get_weather")
	a.PutStr(mcpconv.SessionID, "0f8e2a9c-3b1d-4c5e-9f7a-1234567890ab")
	a.PutStr(mcpconv.JSONRPCRequestID, "17")
	a.PutStr(mcpconv.ServerKey, "weather-1")
	a.PutStr(mcpconv.Strategy, "round_robin")
	a.PutInt(mcpconv.Attempt, 1)
	a.PutStr(mcpconv.ProtocolVersion, "2025-06-18")
	return span
}

// healthCheck appends a health-check event of the given status.
func healthCheck(records plog.LogRecordSlice, status string) plog.LogRecord {
	lr := records.AppendEmpty()
	lr.SetEventName(mcpconv.EventHealthCheck)
	lr.SetTimestamp(1795651200000000000)
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	a := lr.Attributes()
	a.PutStr(mcpconv.ServerKey, "weather-1")
	a.PutStr(mcpconv.HealthStatus, status)
	a.PutStr(mcpconv.HealthCheck, "ping")
	a.PutDouble(mcpconv.HealthLatency, 0.012)
	if status != mcpconv.HealthHealthy {
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		a.PutStr(mcpconv.ErrorType, "timeout")
	}
	return lr
}

// lbDecision appends a load-balancer decision event.
func lbDecision(records plog.LogRecordSlice, tid pcommon.TraceID) plog.LogRecord {
	lr := records.AppendEmpty()
	lr.SetEventName(mcpconv.EventLBDecision)
	lr.SetTimestamp(1795651200000000000)
	lr.SetTraceID(tid)
	a := lr.Attributes()
	a.PutStr(mcpconv.ServerKey, "weather-1")
	a.PutStr(mcpconv.Strategy, "least_conn")
	_ = a.PutEmptySlice(mcpconv.LBCandidates).FromRaw([]any{"weather-1", "weather-2"}) // strings only: FromRaw cannot fail
	return lr
}

func newSpans() (ptrace.Traces, pcommon.Map, ptrace.SpanSlice) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(mcpconv.ServiceName, "mcp-router")
	return td, rs.Resource().Attributes(), rs.ScopeSpans().AppendEmpty().Spans()
}

func newRecords() (plog.Logs, pcommon.Map, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(mcpconv.ServiceName, "mcp-router")
	return ld, rl.Resource().Attributes(), rl.ScopeLogs().AppendEmpty().LogRecords()
}
