// Package eventsclient sends MCP router telemetry to otelcol-mcp as JSON
// events (receiver/mcpeventsreceiver, POST /v1/events), for routers that
// run no OpenTelemetry SDK. Routers with the SDK use the parent package,
// instrumentation; the collector stores both the same way.
//
// Build an event of one of the types (Routing, ToolCall, HealthCheck,
// LBDecision, ...) and either
//
//   - Client.Add it: events are encoded at once, batched (Config.BatchSize,
//     Config.FlushInterval) and posted as NDJSON by background senders
//     that retry what the receiver pushes back (503, 429, 5xx) for up to
//     Config.RetryFor; Flush or Shutdown waits for the answers; or
//   - Client.Post them: one request, now, answered or refused
//     (*RefusedError carries the receiver's 400 details) within a context.
//
// AppendJSON and AppendNDJSON encode without a client (a test's body, a
// file to replay). The encoder writes each type's fields itself, without
// reflection; an event passed to Add or AppendJSON stays on the caller's
// stack.
//
// The package depends on the standard library only.
package eventsclient
