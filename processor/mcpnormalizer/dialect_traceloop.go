package mcpnormalizer

import (
	"encoding/json"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// @traceloop/instrumentation-mcp 0.27.0 (OpenLLMetry JS) on the official
// TypeScript SDK client. Its CLIENT spans carry no MCP key at all:
//
//   - "{method}.mcp" (initialize.mcp, tools/list.mcp, ...) for a request;
//   - "{tool}.tool" with traceloop.span.kind = tool and
//     traceloop.entity.name = the tool, for a tools/call;
//   - a root "mcp.client.session" span (kind session), which is no
//     operation and stays unmapped;
//   - traceloop.entity.input / .output hold the whole request and result;
//     an isError result shows as "is_error": true in the output and as
//     status Error with "MCP error <code>: ..." in the status message.
//
// Each span gets mcp.method.name, the tool, the conventional name and the
// failure; the payloads move to the conventional payload keys (stored only
// in tool_call_payload, redacted, when tool payloads are on). No request id
// and no session id exist on these spans.
func init() {
	register(&dialect{
		name: "traceloop-js",
		// The scope only: traceloop.span.kind is on every OpenLLMetry
		// span (its @tool decorator's too), MCP or not.
		scopes: []string{"@traceloop/instrumentation-mcp"},
		span:   traceloopSpan,
	})
}

const (
	traceloopSpanKind   = "traceloop.span.kind"
	traceloopEntityName = "traceloop.entity.name"
)

// mcpErrorCode finds the JSON-RPC code in the SDK's "MCP error <code>: ..."
// messages.
var mcpErrorCode = regexp.MustCompile(`^MCP error (-?\d+):`)

func traceloopSpan(span ptrace.Span) bool {
	attrs := span.Attributes()
	name := span.Name()
	var method, tool string
	switch {
	case strAttr(attrs, traceloopSpanKind) == "tool":
		method = mcpconv.MethodToolsCall
		tool = strAttr(attrs, traceloopEntityName)
		if tool == "" {
			tool = strings.TrimSuffix(name, ".tool")
		}
	case strings.HasSuffix(name, ".mcp"):
		method = strings.TrimSuffix(name, ".mcp")
	default:
		return false // the session span, or anything else: no operation
	}
	changed := putStrIfAbsent(attrs, mcpconv.MethodName, method)
	if method == mcpconv.MethodToolsCall {
		changed = putStrIfAbsent(attrs, mcpconv.ToolName, tool) || changed
		attrs.Remove(traceloopEntityName)
	}
	// The instrumentation wraps the client: an operation it records is a
	// call, whatever kind the SDK gave the span.
	changed = setRole(span, false) || changed

	output := strAttr(attrs, mcpconv.TraceloopEntityOutput)
	// (error.type tool_error: the output was read in an earlier pass)
	isError := traceloopIsError(output) || strAttr(attrs, mcpconv.ErrorType) == mcpconv.ErrorTypeToolError
	if isError {
		changed = putStrIfAbsent(attrs, mcpconv.ErrorType, mcpconv.ErrorTypeToolError) || changed
	} else if span.Status().Code() == ptrace.StatusCodeError {
		// A JSON-RPC error answer, not a tool result.
		if m := mcpErrorCode.FindStringSubmatch(span.Status().Message()); m != nil {
			changed = putStrIfAbsent(attrs, mcpconv.RPCResponseStatusCode, m[1]) || changed
		}
	}
	if method == mcpconv.MethodToolsCall {
		changed = traceloopPayloads(attrs) || changed
	}
	return setName(span) || changed
}

// traceloopIsError reports an output that says the tool result is an error.
func traceloopIsError(output string) bool {
	if !strings.Contains(output, `"is_error"`) {
		return false
	}
	var out struct {
		IsError bool `json:"is_error"`
	}
	return json.Unmarshal([]byte(output), &out) == nil && out.IsError
}

// traceloopPayloads moves a tool call's input and output to the
// conventional payload keys: the arguments of the input
// ({"tool_name":..,"arguments":{..}}) and the whole output.
func traceloopPayloads(attrs pcommon.Map) bool {
	changed := false
	if in, ok := attrs.Get(mcpconv.TraceloopEntityInput); ok {
		var input struct {
			Arguments json.RawMessage `json:"arguments"`
		}
		if json.Unmarshal([]byte(in.AsString()), &input) == nil && len(input.Arguments) > 0 {
			putStrIfAbsent(attrs, mcpconv.ToolArguments, string(input.Arguments))
		}
		attrs.Remove(mcpconv.TraceloopEntityInput)
		changed = true
	}
	if out, ok := attrs.Get(mcpconv.TraceloopEntityOutput); ok {
		if json.Valid([]byte(out.AsString())) {
			putStrIfAbsent(attrs, mcpconv.ToolResult, out.AsString())
		}
		attrs.Remove(mcpconv.TraceloopEntityOutput)
		changed = true
	}
	return changed
}
