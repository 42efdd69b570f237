package mcpconv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestClassifySpan(t *testing.T) {
	tests := []struct {
		name   string
		kind   ptrace.SpanKind
		method any // nil: absent
		want   Kind
		failed bool
		status ptrace.StatusCode
		errTyp any
	}{
		{name: "routed request", kind: ptrace.SpanKindServer, method: "tools/list", want: KindRouting},
		{name: "tool call upstream", kind: ptrace.SpanKindClient, method: MethodToolsCall, want: KindToolCall},
		{name: "other call upstream", kind: ptrace.SpanKindClient, method: "initialize", want: KindToolCall},
		{name: "empty method", kind: ptrace.SpanKindServer, method: "", want: KindOther},
		{name: "no method", kind: ptrace.SpanKindServer, want: KindOther},
		{name: "internal", kind: ptrace.SpanKindInternal, method: MethodToolsCall, want: KindOther},
		{name: "failed by status", kind: ptrace.SpanKindServer, method: "ping", want: KindRouting, status: ptrace.StatusCodeError, failed: true},
		{name: "failed by error.type", kind: ptrace.SpanKindServer, method: "ping", want: KindRouting, errTyp: "timeout", failed: true},
		{name: "failed by numeric error.type", kind: ptrace.SpanKindServer, method: "ping", want: KindRouting, errTyp: int64(-32603), failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := ptrace.NewSpan()
			span.SetKind(tt.kind)
			if m, ok := tt.method.(string); ok {
				span.Attributes().PutStr(MethodName, m)
			}
			span.Status().SetCode(tt.status)
			switch e := tt.errTyp.(type) {
			case string:
				span.Attributes().PutStr(ErrorType, e)
			case int64:
				span.Attributes().PutInt(ErrorType, e)
			}
			assert.Equal(t, tt.want, ClassifySpan(span))
			assert.Equal(t, tt.failed, IsFailedSpan(span))
		})
	}
}

func TestClassifyLog(t *testing.T) {
	tests := []struct {
		name   string
		build  func(plog.LogRecord)
		want   Kind
		failed bool
	}{
		{name: "healthy check", want: KindHealthCheck, build: func(lr plog.LogRecord) {
			lr.SetEventName(EventHealthCheck)
			lr.Attributes().PutStr(HealthStatus, HealthHealthy)
		}},
		{name: "failed check", want: KindHealthCheck, failed: true, build: func(lr plog.LogRecord) {
			lr.SetEventName(EventHealthCheck)
			lr.Attributes().PutStr(HealthStatus, HealthUnhealthy)
		}},
		{name: "event name as attribute", want: KindLBDecision, build: func(lr plog.LogRecord) {
			lr.Attributes().PutStr(EventNameAttr, EventLBDecision)
		}},
		{name: "breaker opens", want: KindCircuitBreaker, failed: true, build: func(lr plog.LogRecord) {
			lr.SetEventName(EventBreakerStateChange)
			lr.Attributes().PutStr(BreakerToState, BreakerOpen)
		}},
		{name: "breaker closes", want: KindCircuitBreaker, build: func(lr plog.LogRecord) {
			lr.SetEventName(EventBreakerStateChange)
			lr.Attributes().PutStr(BreakerToState, BreakerClosed)
		}},
		{name: "registry", want: KindServer, build: func(lr plog.LogRecord) { lr.SetEventName(EventServerDeregistered) }},
		{name: "session", want: KindSession, build: func(lr plog.LogRecord) { lr.SetEventName(EventSessionStats) }},
		{name: "router error event", want: KindError, failed: true, build: func(lr plog.LogRecord) { lr.SetEventName(EventError) }},
		{name: "ERROR record", want: KindError, failed: true, build: func(lr plog.LogRecord) { lr.SetSeverityNumber(plog.SeverityNumberError) }},
		{name: "exception at INFO", want: KindError, build: func(lr plog.LogRecord) { lr.Attributes().PutStr(ExceptionType, "E") }},
		{name: "INFO record", want: KindOther, build: func(lr plog.LogRecord) { lr.SetSeverityNumber(plog.SeverityNumberInfo) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := plog.NewLogRecord()
			tt.build(lr)
			assert.Equal(t, tt.want, ClassifyLog(lr))
			assert.Equal(t, tt.failed, IsFailedLog(lr))
		})
	}
}

func TestKindNames(t *testing.T) {
	for _, k := range Kinds() {
		got, ok := ParseKind(k.String())
		assert.True(t, ok)
		assert.Equal(t, k, got)
	}
	_, ok := ParseKind("nope")
	assert.False(t, ok)
	assert.Equal(t, "unknown", Kind(200).String())
}

// Earlier drafts' payload keys (ToolHive vMCP's default useLegacyAttributes
// among others) are payloads too.
func TestDraftPayloadKeys(t *testing.T) {
	for _, k := range []string{"mcp.tool.arguments", "mcp.tool.result"} {
		assert.True(t, IsPayloadKey(k), k)
	}
	for _, k := range []string{"mcp.tool.result.is_error", "mcp.tool.result.content_count", "mcp.tool.name"} {
		assert.False(t, IsPayloadKey(k), k)
	}
}
