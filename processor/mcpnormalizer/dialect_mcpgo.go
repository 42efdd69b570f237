package mcpnormalizer

import (
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// mark3labs/mcp-go's otel module (v1.0 beta): SERVER and CLIENT spans named
// "mcp.{method}" with the method in mcp.method (not mcp.method.name), the
// tool as mcp.tool.name on the server side only, and INTERNAL "tool.{name}"
// children. The scope is whatever tracer the application passes, so the
// dialect is found by its marker key mcp.method. Failures are status Error
// with a message, without code; a client failure adds an exception event.
func init() {
	register(&dialect{
		name:    "mcp-go",
		markers: []string{mcpgoMethod},
		span:    mcpgoSpan,
	})
}

const mcpgoMethod = "mcp.method"

func mcpgoSpan(span ptrace.Span) bool {
	attrs := span.Attributes()
	if !moveKey(attrs, mcpgoMethod, mcpconv.MethodName) {
		return false
	}
	setName(span)
	return true
}
