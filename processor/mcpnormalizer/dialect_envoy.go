package mcpnormalizer

import (
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Envoy AI Gateway (envoyproxy/ai-gateway v1.1, internal/tracing/mcp*.go),
// scope "envoyproxy/ai-gateway". One span per inbound request, of kind
// CLIENT although it is the gateway serving the request; by default named
// after the Go SDK call (Initialize, ListTools, CallTool, ...) with keys of
// an earlier draft (mcp.tool.name, mcp.request.id), and with
// AI_GATEWAY_TRACING_SEMCONV=gen_ai named and keyed conventionally, with an
// int64 rpc.response.status_code. The backend it routed to is only in the
// "route to backend" span event (mcp.backend.name). Failures: status Error
// and an exception event whose type is the gateway's error class.
//
// The span becomes a SERVER span (a routed request) with the conventional
// name and mcp.router.server.key from the event. Its metric
// mcp.request.duration (seconds, no unit) is the server operation duration.
func init() {
	register(&dialect{
		name:   "envoy-ai-gateway",
		scopes: []string{"envoyproxy/ai-gateway"},
		span:   envoySpan,
		metric: envoyMetric,
	})
}

const (
	envoyRouteEvent  = "route to backend"
	envoyBackendName = "mcp.backend.name"
	envoyDuration    = "mcp.request.duration"
)

func envoySpan(span ptrace.Span) bool {
	attrs := span.Attributes()
	method := strAttr(attrs, mcpconv.MethodName)
	if method == "" {
		return false
	}
	changed := setRole(span, true)
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		if ev := events.At(i); ev.Name() == envoyRouteEvent {
			changed = putStrIfAbsent(attrs, mcpconv.ServerKey, strAttr(ev.Attributes(), envoyBackendName)) || changed
			break
		}
	}
	return setName(span) || changed
}

func envoyMetric(m pmetric.Metric) bool {
	if m.Name() != envoyDuration {
		return false
	}
	m.SetName(mcpconv.MetricServerOperationDuration)
	if m.Unit() == "" {
		m.SetUnit("s")
	}
	return true
}
