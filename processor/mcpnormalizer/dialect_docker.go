package mcpnormalizer

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// docker/mcp-gateway (v0.43), scope "github.com/docker/mcp-gateway". No
// mcp.method.name: the method is in the span name. mcp.initialize and
// mcp.list.<type> are SERVER spans of requests the gateway answers itself;
// mcp.tool.call is a CLIENT span of the call to the MCP server
// (mcp.server.name, mcp.tool.name), and an inbound tools/call has no span of
// its own. Failures are status Error "Tool execution failed", without code;
// isError results end with status Ok. The metric mcp.tool.duration (ms) is
// the client operation duration of tools/call.
func init() {
	register(&dialect{
		name:   "docker-mcp-gateway",
		scopes: []string{"github.com/docker/mcp-gateway*"},
		span:   dockerSpan,
		metric: dockerMetric,
	})
}

const (
	dockerServerName   = "mcp.server.name"
	dockerToolDuration = "mcp.tool.duration"
)

// dockerMethods maps span names to MCP methods.
var dockerMethods = map[string]string{
	"mcp.initialize":              "initialize",
	"mcp.tool.call":               mcpconv.MethodToolsCall,
	"mcp.prompt.get":              mcpconv.MethodPromptsGet,
	"mcp.resource.read":           "resources/read",
	"mcp.list.resourceTemplates":  "resources/templates/list",
	"mcp.list.resource_templates": "resources/templates/list",
}

func dockerSpan(span ptrace.Span) bool {
	attrs := span.Attributes()
	method, ok := dockerMethods[span.Name()]
	if !ok {
		kind, isList := strings.CutPrefix(span.Name(), "mcp.list.")
		if !isList || kind == "" {
			return false
		}
		method = kind + "/list"
	}
	changed := putStrIfAbsent(attrs, mcpconv.MethodName, method)
	changed = putStrIfAbsent(attrs, mcpconv.ServerKey, strAttr(attrs, dockerServerName)) || changed
	return setName(span) || changed
}

func dockerMetric(m pmetric.Metric) bool {
	if m.Name() != dockerToolDuration {
		return false
	}
	m.SetName(mcpconv.MetricClientOperationDuration)
	forEachPointAttributes(m, func(attrs pcommon.Map) {
		putStrIfAbsent(attrs, mcpconv.MethodName, mcpconv.MethodToolsCall)
		moveKey(attrs, draftToolName, mcpconv.ToolName)
	})
	return true
}
