package mcpnormalizer

import (
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// The shared fix-ups run on every span after its dialect's rules (or
// without any dialect): they make telemetry that is nearly conventional
// exactly so, at the cost of one pass over the span's attributes.
//
//   - keys of earlier drafts of the MCP conventions move to today's
//     (mcp.tool.name, mcp.request.id, mcp.error.code);
//   - the rest applies to spans of MCP operations (with mcp.method.name)
//     only:
//   - rpc.response.status_code becomes a string (an int64 in some emitters);
//   - an empty error.type is no error and is removed;
//   - a tools/call whose result says isError (mcp.tool.result.is_error)
//     gets error.type tool_error, as the MCP conventions ask;
//   - a span of an MCP operation whose rpc.response.status_code holds a
//     JSON-RPC error code and that shows no failure gets error.type = the
//     code and, when its status is unset, status Error. Spans without
//     mcp.method.name are left alone: in other RPC systems the key holds
//     codes such as "OK".
func fixSpan(span ptrace.Span) bool {
	attrs := span.Attributes()
	var (
		changed    bool
		method     bool
		code       pcommon.Value
		hasCode    bool
		errType    pcommon.Value
		hasErrType bool
		aliases    bool
		isError    bool
	)
	attrs.Range(func(k string, v pcommon.Value) bool {
		switch k {
		case mcpconv.MethodName:
			method = v.Type() == pcommon.ValueTypeStr && v.Str() != ""
		case mcpconv.RPCResponseStatusCode:
			code, hasCode = v, true
		case mcpconv.ErrorType:
			errType, hasErrType = v, true
		case draftToolName, draftRequestID, draftErrorCode:
			aliases = true
		case mcpconv.ToolResultIsError:
			isError = (v.Type() == pcommon.ValueTypeBool && v.Bool()) ||
				(v.Type() == pcommon.ValueTypeStr && v.Str() == "true")
		}
		return true
	})
	if aliases {
		for _, a := range draftKeys {
			if moveKey(attrs, a.from, a.to) {
				changed = true
			}
		}
		// Moving keys moves the map's entries: read them again.
		code, hasCode = attrs.Get(mcpconv.RPCResponseStatusCode)
		errType, hasErrType = attrs.Get(mcpconv.ErrorType)
		m, ok := attrs.Get(mcpconv.MethodName)
		method = ok && m.Type() == pcommon.ValueTypeStr && m.Str() != ""
	}
	if !method {
		// Not an MCP operation: its codes and error type are another
		// system's (gRPC's "OK", say) and stay as they are.
		return changed
	}
	if hasCode && code.Type() != pcommon.ValueTypeStr {
		if s, ok := codeText(code); ok {
			attrs.PutStr(mcpconv.RPCResponseStatusCode, s)
		} else {
			attrs.Remove(mcpconv.RPCResponseStatusCode)
			hasCode = false
		}
		changed = true
	}
	if hasErrType && isEmpty(errType) {
		attrs.Remove(mcpconv.ErrorType)
		hasErrType = false
		changed = true
	}
	if isError && !hasErrType {
		attrs.PutStr(mcpconv.ErrorType, mcpconv.ErrorTypeToolError)
		hasErrType = true
		changed = true
	}
	// Removing and adding keys moves entries: read the code again.
	code, hasCode = attrs.Get(mcpconv.RPCResponseStatusCode)
	if hasCode && !hasErrType && code.Type() == pcommon.ValueTypeStr && isJSONRPCError(code.Str()) {
		attrs.PutStr(mcpconv.ErrorType, code.Str())
		if span.Status().Code() == ptrace.StatusCodeUnset {
			span.Status().SetCode(ptrace.StatusCodeError)
		}
		changed = true
	}
	return changed
}

// Keys of earlier drafts of the MCP conventions, still written by some
// emitters, and the keys that replaced them.
const (
	draftToolName  = "mcp.tool.name"
	draftRequestID = "mcp.request.id"
	draftErrorCode = "mcp.error.code"
)

var draftKeys = []struct{ from, to string }{
	{draftToolName, mcpconv.ToolName},
	{draftRequestID, mcpconv.JSONRPCRequestID},
	{draftErrorCode, mcpconv.RPCResponseStatusCode},
}

// codeText renders a numeric status code as the string the conventions
// want: an int as is, a whole double without a fraction.
func codeText(v pcommon.Value) (string, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10), true
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return strconv.FormatInt(int64(f), 10), true
		}
	case pcommon.ValueTypeBool, pcommon.ValueTypeMap, pcommon.ValueTypeSlice, pcommon.ValueTypeBytes:
		return "", false
	}
	return "", false
}

// isJSONRPCError reports a JSON-RPC error code: a non-zero integer. (JSON-RPC
// reserves -32768..-32000; applications use other integers.)
func isJSONRPCError(code string) bool {
	n, err := strconv.ParseInt(code, 10, 64)
	return err == nil && n != 0
}

// durationMetrics are the MCP duration histograms, in seconds by the
// conventions.
var durationMetrics = map[string]bool{
	mcpconv.MetricServerOperationDuration: true,
	mcpconv.MetricClientOperationDuration: true,
}

// unitScale is the factor from a duration unit to seconds.
var unitScale = map[string]float64{"ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "min": 60}

// fixMetric converts an MCP duration histogram or summary recorded in
// another unit to seconds (bounds, sum, min, max, exemplars; a summary's sum
// and quantile values). Exponential histograms are left as they are: their
// buckets cannot be rescaled exactly.
func fixMetric(m pmetric.Metric) bool {
	if !durationMetrics[m.Name()] {
		return false
	}
	f, ok := unitScale[m.Unit()]
	if !ok {
		return false
	}
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
	case pmetric.MetricTypeSummary:
		points := m.Summary().DataPoints()
		for i := 0; i < points.Len(); i++ {
			dp := points.At(i)
			dp.SetSum(dp.Sum() * f)
			for j := 0; j < dp.QuantileValues().Len(); j++ {
				q := dp.QuantileValues().At(j)
				q.SetValue(q.Value() * f)
			}
		}
		m.SetUnit("s")
		return true
	default:
		return false
	}
	points := m.Histogram().DataPoints()
	for i := 0; i < points.Len(); i++ {
		dp := points.At(i)
		scaleExemplars(dp.Exemplars(), f)
		bounds := dp.ExplicitBounds()
		for j := 0; j < bounds.Len(); j++ {
			bounds.SetAt(j, bounds.At(j)*f)
		}
		if dp.HasSum() {
			dp.SetSum(dp.Sum() * f)
		}
		if dp.HasMin() {
			dp.SetMin(dp.Min() * f)
		}
		if dp.HasMax() {
			dp.SetMax(dp.Max() * f)
		}
	}
	m.SetUnit("s")
	return true
}

// setRole makes a span of an MCP operation a SERVER span (the serving side:
// a server or a router's inbound request) or a CLIENT span (the calling
// side), whatever kind its emitter gave it; the exporter's classification
// reads the kind.
func setRole(span ptrace.Span, server bool) bool {
	want := ptrace.SpanKindClient
	if server {
		want = ptrace.SpanKindServer
	}
	if span.Kind() == want {
		return false
	}
	span.SetKind(want)
	return true
}

// conventionalName is the span name of the conventions: "{method} {target}",
// or the method alone when there is no target.
func conventionalName(method, target string) string {
	if target == "" {
		return method
	}
	return method + " " + target
}

// setName gives a span of an MCP operation its conventional name,
// "{method} {target}": the tool of a tools/call, the prompt of a
// prompts/get, no target otherwise. It reports whether the name changed.
func setName(span ptrace.Span) bool {
	attrs := span.Attributes()
	method := strAttr(attrs, mcpconv.MethodName)
	if method == "" {
		return false
	}
	target := ""
	switch method {
	case mcpconv.MethodToolsCall:
		// Before the shared fix-ups, which move the draft key.
		if target = strAttr(attrs, mcpconv.ToolName); target == "" {
			target = strAttr(attrs, draftToolName)
		}
	case mcpconv.MethodPromptsGet:
		target = strAttr(attrs, mcpconv.PromptName)
	}
	name := conventionalName(method, target)
	if span.Name() == name {
		return false
	}
	span.SetName(name)
	return true
}

// scaleExemplars converts exemplar values to seconds; an integer exemplar
// becomes a double (a millisecond count is a fraction of a second).
func scaleExemplars(exemplars pmetric.ExemplarSlice, f float64) {
	for i := 0; i < exemplars.Len(); i++ {
		e := exemplars.At(i)
		switch e.ValueType() {
		case pmetric.ExemplarValueTypeDouble:
			e.SetDoubleValue(e.DoubleValue() * f)
		case pmetric.ExemplarValueTypeInt:
			e.SetDoubleValue(float64(e.IntValue()) * f)
		case pmetric.ExemplarValueTypeEmpty:
		}
	}
}
