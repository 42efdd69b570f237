package mcpnormalizer

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// The official MCP Python SDK v2 (modelcontextprotocol/python-sdk,
// the module mcp.shared._otel), scope "mcp-python-sdk". SERVER spans are
// conventional ("{method} {target}", convention keys, no mcp.session.id).
// CLIENT spans are named "MCP send {method} {target}" and carry only
// mcp.method.name and jsonrpc.request.id: the tool (or prompt) comes from
// the name, and the name becomes the conventional one. The CLIENT span ends
// before the response is read, so a JSON-RPC error or an isError result
// never shows on it.
func init() {
	register(&dialect{
		name:   "python-sdk",
		scopes: []string{"mcp-python-sdk"},
		span:   pythonSDKSpan,
	})
}

const pythonSendPrefix = "MCP send "

func pythonSDKSpan(span ptrace.Span) bool {
	rest, ok := strings.CutPrefix(span.Name(), pythonSendPrefix)
	if !ok {
		return false
	}
	return targetFromName(span, rest)
}

// targetFromName takes the target of "{method} {target}" (name, without any
// prefix of the emitter) into the span's tool or prompt key when the span
// lacks it, and gives the span its conventional name. It reports whether it
// changed the span.
func targetFromName(span ptrace.Span, name string) bool {
	attrs := span.Attributes()
	method := strAttr(attrs, mcpconv.MethodName)
	if method == "" {
		return false
	}
	target := ""
	if rest, ok := strings.CutPrefix(name, method); ok {
		target = strings.TrimSpace(rest)
	}
	changed := false
	switch method {
	case mcpconv.MethodToolsCall:
		changed = putStrIfAbsent(attrs, mcpconv.ToolName, target)
	case mcpconv.MethodPromptsGet:
		changed = putStrIfAbsent(attrs, mcpconv.PromptName, target)
	}
	return setName(span) || changed
}
