package mcpnormalizer

import (
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// agentgateway (agentgateway/agentgateway, v1.4), scope "agentgateway".
// SERVER spans are named "{mcp.method.name}" and report a JSON-RPC error
// only as mcp.error.code (an int) and mcp.error.message, status unset (the
// shared fix-ups turn the code into rpc.response.status_code, error.type and
// status Error); CLIENT spans to a target are named "{method} {target}_{tool}"
// and carry the target as mcp.target. Neither carries jsonrpc.request.id;
// the CLIENT spans carry no session. isError results leave no trace.
func init() {
	register(&dialect{
		name:   "agentgateway",
		scopes: []string{"agentgateway"},
		span:   agentgatewaySpan,
	})
}

const (
	agentgatewayTarget       = "mcp.target"
	agentgatewayErrorMessage = "mcp.error.message"
)

func agentgatewaySpan(span ptrace.Span) bool {
	attrs := span.Attributes()
	if strAttr(attrs, mcpconv.MethodName) == "" {
		return false
	}
	changed := false
	if target := strAttr(attrs, agentgatewayTarget); target != "" {
		changed = putStrIfAbsent(attrs, mcpconv.ServerKey, target)
	}
	if msg := strAttr(attrs, agentgatewayErrorMessage); msg != "" && span.Status().Message() == "" {
		span.Status().SetMessage(msg)
		changed = true
	}
	return setName(span) || changed
}
