package mcpnormalizer

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// ToolHive vMCP (github.com/stacklok/toolhive cmd/vmcp, v0.47.0), a router
// that aggregates backend MCP servers behind one endpoint, with
// telemetry.useLegacyAttributes false.
//
//   - SERVER spans (scope .../pkg/telemetry) are conventional but for the
//     name of initialize ("initialize <client name>") and notifications
//     ("notifications/initialized initialized"). JSON-RPC errors and isError
//     results leave no trace on them (status OK, no code): nothing to map.
//   - CLIENT spans to backends (scope .../pkg/vmcp) carry the prefixed tool
//     name (everything_echo) and the backend as target.workload_name; they
//     become server_key = the backend, tool = the name without its prefix.
//     mcp.protocol.revision is mcp.protocol.version.
//   - Health and circuit-breaker changes exist only as JSON log lines on
//     stderr (read with the filelog receiver and a json_parser); they become
//     mcp.router.health_check and mcp.router.circuit_breaker.state_change
//     events.
func init() {
	register(&dialect{
		name:    "toolhive-vmcp",
		scopes:  []string{"github.com/stacklok/toolhive/*"},
		span:    toolhiveSpan,
		ownsLog: toolhiveOwnsLog,
		log:     toolhiveLog,
	})
}

const (
	toolhiveWorkload         = "target.workload_name"
	toolhiveProtocolRevision = "mcp.protocol.revision"
	toolhiveToolName         = "tool_name"
)

func toolhiveSpan(span ptrace.Span) bool {
	attrs := span.Attributes()
	method := strAttr(attrs, mcpconv.MethodName)
	if method == "" {
		return false
	}
	changed := moveKey(attrs, toolhiveProtocolRevision, mcpconv.ProtocolVersion)
	if span.Kind() == ptrace.SpanKindClient {
		backend := strAttr(attrs, toolhiveWorkload)
		changed = putStrIfAbsent(attrs, mcpconv.ServerKey, backend) || changed
		// vMCP's own tool_name says the name is the router's prefixed one;
		// it goes with the first pass, so a second pass (agent and gateway)
		// does not strip a backend tool's own "<backend>_" again.
		tool := strAttr(attrs, mcpconv.ToolName)
		if backend != "" && strAttr(attrs, toolhiveToolName) == tool {
			if bare, ok := strings.CutPrefix(tool, backend+"_"); ok && bare != "" {
				attrs.PutStr(mcpconv.ToolName, bare)
				changed = true
			}
			attrs.Remove(toolhiveToolName)
		}
	}
	return setName(span) || changed
}

// The log messages of v0.47.0 (pkg/vmcp/health/monitor.go and
// pkg/vmcp/health/circuit_breaker.go) and what each says happened.
var toolhiveMessages = map[string]toolhiveEvent{
	"backend initialized with failure":                                  {health: true},
	"backend health degraded":                                           {health: true},
	"backend remains unhealthy":                                         {health: true},
	"backend recovering from failures":                                  {health: true},
	"backend status changed":                                            {health: true},
	"circuit breaker OPENED (threshold exceeded)":                       {from: mcpconv.BreakerClosed, to: mcpconv.BreakerOpen},
	"circuit breaker returned to OPEN from half-open (recovery failed)": {from: mcpconv.BreakerHalfOpen, to: mcpconv.BreakerOpen},
	"circuit breaker CLOSED (recovery successful)":                      {from: mcpconv.BreakerHalfOpen, to: mcpconv.BreakerClosed},
}

type toolhiveEvent struct {
	health   bool
	from, to string
}

// The fields of vMCP's JSON log lines (log/slog).
const (
	toolhiveMsg      = "msg"
	toolhiveBackend  = "backend"
	toolhiveStatus   = "status"
	toolhiveFailures = "consecutive_failures"
	toolhiveLevel    = "level"
)

func toolhiveOwnsLog(lr plog.LogRecord) bool {
	msg, ok := lr.Attributes().Get(toolhiveMsg)
	if !ok || msg.Type() != pcommon.ValueTypeStr {
		return false
	}
	_, known := toolhiveMessages[msg.Str()]
	return known
}

func toolhiveLog(lr plog.LogRecord) bool {
	attrs := lr.Attributes()
	msg := strAttr(attrs, toolhiveMsg)
	ev, known := toolhiveMessages[msg]
	backend := strAttr(attrs, toolhiveBackend)
	if !known || backend == "" {
		return false
	}
	attrs.PutStr(mcpconv.ServerKey, backend)
	attrs.Remove(toolhiveBackend)
	if ev.health {
		lr.SetEventName(mcpconv.EventHealthCheck)
		status := strAttr(attrs, toolhiveStatus)
		if status == "" {
			status = mcpconv.HealthUnhealthy
		}
		attrs.PutStr(mcpconv.HealthStatus, status)
		attrs.Remove(toolhiveStatus)
	} else {
		lr.SetEventName(mcpconv.EventBreakerStateChange)
		attrs.PutStr(mcpconv.BreakerFromState, ev.from)
		attrs.PutStr(mcpconv.BreakerToState, ev.to)
		if v, ok := attrs.Get(toolhiveFailures); ok {
			v.CopyTo(attrs.PutEmpty(mcpconv.BreakerFailureCount))
		}
	}
	if lr.SeverityNumber() == plog.SeverityNumberUnspecified {
		lr.SetSeverityText(strAttr(attrs, toolhiveLevel))
		lr.SetSeverityNumber(slogSeverity(lr.SeverityText()))
	}
	// The message column gets the sentence, not the whole JSON line.
	lr.Body().SetStr(msg)
	attrs.Remove(toolhiveMsg)
	return true
}

// slogSeverity maps the levels of Go's log/slog to severity numbers.
func slogSeverity(level string) plog.SeverityNumber {
	switch strings.ToUpper(level) {
	case "DEBUG":
		return plog.SeverityNumberDebug
	case "INFO":
		return plog.SeverityNumberInfo
	case "WARN":
		return plog.SeverityNumberWarn
	case "ERROR":
		return plog.SeverityNumberError
	}
	return plog.SeverityNumberUnspecified
}
