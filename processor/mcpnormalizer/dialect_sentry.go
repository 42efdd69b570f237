package mcpnormalizer

import (
	"encoding/json"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// @sentry/node 10.x wrapMcpServerWithSentry (@sentry/core
// integrations/mcp-server), exported over OTLP by an OpenTelemetry span
// processor. Its spans are INTERNAL, named conventionally, with keys of an
// earlier draft (mcp.request.id, mcp.tool.name: the shared fix-ups move
// them) and the side in sentry.op:
//
//   - mcp.server: a request the server handled, and
//     mcp.notification.client_to_server: a notification it received
//     (SERVER);
//   - mcp.notification.server_to_client: a notification it sent (CLIENT);
//   - an isError result is mcp.tool.result.is_error = true (a shared
//     fix-up makes it error.type tool_error); a thrown error is status
//     Error "internal_error";
//   - arguments as mcp.request.argument.<name> (each JSON text) and result
//     content as mcp.tool.result.content (with recordInputs/recordOutputs):
//     they move to the conventional payload keys.
func init() {
	register(&dialect{
		name:    "sentry-js",
		scopes:  []string{"@sentry/node", "@sentry/core", "@sentry/*"},
		markers: []string{sentryOp},
		span:    sentrySpan,
	})
}

const (
	sentryOp         = "sentry.op"
	sentryArgPrefix  = "mcp.request.argument."
	sentryResultText = "mcp.tool.result.content"
)

func sentrySpan(span ptrace.Span) bool {
	attrs := span.Attributes()
	if strAttr(attrs, mcpconv.MethodName) == "" {
		return false
	}
	var changed bool
	switch strAttr(attrs, sentryOp) {
	case "mcp.server", "mcp.notification.client_to_server":
		changed = setRole(span, true)
	case "mcp.notification.server_to_client":
		changed = setRole(span, false)
	default:
		return false
	}
	return sentryPayloads(attrs) || changed
}

// sentryPayloads gathers mcp.request.argument.* into one JSON object of
// arguments and the result content into a JSON result.
func sentryPayloads(attrs pcommon.Map) bool {
	args := map[string]json.RawMessage{}
	var keys []string
	attrs.Range(func(k string, v pcommon.Value) bool {
		if name, ok := strings.CutPrefix(k, sentryArgPrefix); ok {
			raw := json.RawMessage(v.AsString())
			if !json.Valid(raw) {
				raw, _ = json.Marshal(v.AsString())
			}
			args[name] = raw
			keys = append(keys, k)
		}
		return true
	})
	changed := false
	if len(args) > 0 {
		sort.Strings(keys)
		if b, err := json.Marshal(args); err == nil {
			putStrIfAbsent(attrs, mcpconv.ToolArguments, string(b))
		}
		for _, k := range keys {
			attrs.Remove(k)
		}
		changed = true
	}
	if v, ok := attrs.Get(sentryResultText); ok {
		if b, err := json.Marshal(map[string]string{"content": v.AsString()}); err == nil {
			putStrIfAbsent(attrs, mcpconv.ToolResult, string(b))
		}
		attrs.Remove(sentryResultText)
		changed = true
	}
	return changed
}
