// Package instrumentation emits the telemetry of an MCP router in the
// otelcol-mcp conventions (docs/conventions.md, package mcpconv) through the
// OpenTelemetry Go API: a router creates one Router from its tracer, logger
// and meter providers (usually the SDK's, exporting OTLP to otelcol-mcp) and
// calls it where the facts happen.
//
//   - StartRequest / Request.ChooseServer / Request.StartToolCall /
//     ToolCall.End / Request.End: the SERVER span of a routed request
//     (routing_log), the CLIENT span of each upstream tools/call
//     (tool_call_record), the load-balancer decision event (lb_decision) and
//     the two operation-duration histograms (metric_point).
//   - HealthCheck, ServerRegistered, ServerDeregistered, ServerHealthChanged,
//     BreakerStateChange, SessionStart, SessionStats, SessionEnd, Error: one
//     log event each, every one with a unique event.id so that retries are
//     stored once and what was sent can be counted by id.
//   - ObservePools: the mcp.router.pool.connections gauge.
//   - WithRuntimeMetrics: the router's runtime (metric_point, read per
//     minute by router_runtime): the Go runtime metrics of the
//     OpenTelemetry contrib runtime instrumentation (go.memory.*,
//     go.goroutine.count, go.processor.limit, go.config.gogc), plus
//     go.memory.gc.cycles and process.cpu.time, process.memory.usage and
//     process.thread.count, which that package does not report. The
//     scheduler histogram go.schedule.duration is a reader's producer
//     (runtime.NewProducer), not an instrument: add it to the reader.
//
// The hot path (one routed request) builds its attributes in place and
// caches the metric attribute sets; see docs/benchmarks.md for what it adds
// to the SDK's own cost. WithLBDecisionSampling samples the LB decision
// events at the source, consistently with the collector's mcpsampler.
//
// The sub-package registry reads the last known server registry back from
// PostgreSQL at router start-up.
package instrumentation
