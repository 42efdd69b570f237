package mcpnormalizer

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// IBM ContextForge (IBM/mcp-context-forge v1.0, mcpgateway/observability),
// scope "mcp-gateway". The HTTP SERVER span is generic; the MCP work is in
// INTERNAL spans without mcp.method.name: mcp.initialize, tool.list and
// tool.invoke (tool.name, the gateway's prefixed name) for requests the
// gateway serves, mcp.client.initialize and mcp.client.call (mcp.tool.name,
// contextforge.gateway_id) for its calls to an upstream. Failures are
// error.type class names with error=true, status Error; an isError result
// is only success=false. request_id is a correlation id, not the JSON-RPC
// id, and stays as it is.
func init() {
	register(&dialect{
		name:   "contextforge",
		scopes: []string{"mcp-gateway"},
		span:   contextforgeSpan,
	})
}

// contextforgeSpans maps span names to the method and side they record.
var contextforgeSpans = map[string]struct {
	method string
	server bool
}{
	"mcp.initialize":        {"initialize", true},
	"tool.list":             {"tools/list", true},
	"tool.invoke":           {mcpconv.MethodToolsCall, true},
	"mcp.client.initialize": {"initialize", false},
	"mcp.client.call":       {mcpconv.MethodToolsCall, false},
}

const (
	contextforgeToolName  = "tool.name"
	contextforgeGatewayID = "contextforge.gateway_id"
	contextforgeToolGW    = "tool.gateway_id"
	contextforgeSuccess   = "success"
)

func contextforgeSpan(span ptrace.Span) bool {
	op, ok := contextforgeSpans[span.Name()]
	// Every span of ContextForge's is INTERNAL; "mcp-gateway" is a tracer
	// name other applications use too, whose spans keep their kind.
	if !ok || span.Kind() != ptrace.SpanKindInternal {
		return false
	}
	attrs := span.Attributes()
	putStrIfAbsent(attrs, mcpconv.MethodName, op.method)
	setRole(span, op.server)
	moveKey(attrs, "mcp.protocol_version", mcpconv.ProtocolVersion)
	moveKey(attrs, "mcp.session_id", mcpconv.SessionID)
	moveKey(attrs, draftToolName, mcpconv.ToolName)
	moveKey(attrs, contextforgeToolName, mcpconv.ToolName)
	for _, k := range []string{contextforgeToolGW, contextforgeGatewayID} {
		putStrIfAbsent(attrs, mcpconv.ServerKey, strAttr(attrs, k))
	}
	if v, ok := attrs.Get(contextforgeSuccess); ok && v.Type() == pcommon.ValueTypeBool && !v.Bool() {
		putStrIfAbsent(attrs, mcpconv.ErrorType, mcpconv.ErrorTypeToolError)
	}
	setName(span)
	return true
}
