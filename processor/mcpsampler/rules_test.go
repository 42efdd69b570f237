package mcpsampler

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// TestRulePrecedence: failures first, then the first rule that matches (item
// attributes before resource attributes, values compared as text), then the
// kind; span_kind rules never match log records, event_name rules never
// match spans.
func TestRulePrecedence(t *testing.T) {
	cfg := testConfig(t, nil,
		RuleConfig{Name: "acme_weather", Match: map[string]string{"tenant": "acme", mcpconv.ServerKey: "weather-1"}, Percent: percent(50)},
		RuleConfig{Name: "acme", Match: map[string]string{"tenant": "acme"}, Percent: percent(20)},
		RuleConfig{Name: "billing_service", Match: map[string]string{mcpconv.ServiceName: "billing"}, Percent: percent(100)},
		RuleConfig{Name: "internal_spans", SpanKind: "internal", Percent: percent(5)},
		RuleConfig{Name: "cache_events", EventName: "app.cache.refresh", Percent: percent(2)},
		RuleConfig{Name: "second_attempts", Match: map[string]string{mcpconv.Attempt: "2"}, Percent: percent(30)},
	)
	s := newSampler(cfg)

	spanTests := []struct {
		name     string
		edit     func(span ptrace.Span, resource pcommon.Map)
		wantRule string
	}{
		{"no rule matches", func(ptrace.Span, pcommon.Map) {}, "routing"},
		{"the first of two matching rules", func(span ptrace.Span, _ pcommon.Map) {
			span.Attributes().PutStr("tenant", "acme")
		}, "acme_weather"},
		{"a rule needs every attribute", func(span ptrace.Span, _ pcommon.Map) {
			span.Attributes().PutStr("tenant", "acme")
			span.Attributes().PutStr(mcpconv.ServerKey, "github-1")
		}, "acme"},
		{"failures before rules", func(span ptrace.Span, _ pcommon.Map) {
			span.Attributes().PutStr("tenant", "acme")
			span.Attributes().PutStr(mcpconv.ErrorType, "timeout")
		}, "failure"},
		{"a resource attribute", func(_ ptrace.Span, resource pcommon.Map) {
			resource.PutStr(mcpconv.ServiceName, "billing")
		}, "billing_service"},
		{"the span's attribute before its resource's", func(span ptrace.Span, resource pcommon.Map) {
			resource.PutStr(mcpconv.ServiceName, "billing")
			span.Attributes().PutStr(mcpconv.ServiceName, "frontend")
		}, "routing"},
		{"span kind", func(span ptrace.Span, _ pcommon.Map) { span.SetKind(ptrace.SpanKindInternal) }, "internal_spans"},
		{"an int attribute compared as text", func(span ptrace.Span, _ pcommon.Map) {
			span.Attributes().PutInt(mcpconv.Attempt, 2)
		}, "second_attempts"},
		{"a client tools/call", func(span ptrace.Span, _ pcommon.Map) { span.SetKind(ptrace.SpanKindClient) }, "tool_call"},
	}
	for _, tt := range spanTests {
		t.Run("span: "+tt.name, func(t *testing.T) {
			_, resource, spans := newSpans()
			span := routingSpan(spans, traceIDWithRandomness(0))
			tt.edit(span, resource)
			assert.Equal(t, tt.wantRule, s.policies[s.spanPolicy(span, resource)].name)
		})
	}

	logTests := []struct {
		name     string
		edit     func(lr plog.LogRecord)
		wantRule string
	}{
		{"event name field", func(lr plog.LogRecord) { lr.SetEventName("app.cache.refresh") }, "cache_events"},
		{"event.name attribute", func(lr plog.LogRecord) {
			lr.Attributes().PutStr(mcpconv.EventNameAttr, "app.cache.refresh")
		}, "cache_events"},
		{"attributes", func(lr plog.LogRecord) { lr.Attributes().PutStr("tenant", "acme") }, "acme"},
		{"a span_kind rule never matches a record", func(plog.LogRecord) {}, "other"},
		{"a kind", func(lr plog.LogRecord) { lr.SetEventName(mcpconv.EventLBDecision) }, "lb_decision"},
		{"a healthy check", func(lr plog.LogRecord) {
			lr.SetEventName(mcpconv.EventHealthCheck)
			lr.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
		}, "health_check"},
		{"a failed check", func(lr plog.LogRecord) {
			lr.SetEventName(mcpconv.EventHealthCheck)
			lr.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthUnhealthy)
		}, "failure"},
		{"a failed cache event", func(lr plog.LogRecord) {
			lr.SetEventName("app.cache.refresh")
			lr.SetSeverityNumber(plog.SeverityNumberError)
		}, "failure"},
	}
	for _, tt := range logTests {
		t.Run("log: "+tt.name, func(t *testing.T) {
			_, resource, records := newRecords()
			lr := records.AppendEmpty()
			tt.edit(lr)
			assert.Equal(t, tt.wantRule, s.policies[s.logPolicy(lr, resource)].name)
		})
	}
}
