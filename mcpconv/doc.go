// Package mcpconv is the contract between an MCP router, the mcpeventsreceiver,
// the mcpsampler processor and the mcppgexporter: attribute keys, event names,
// metric names and the classification of spans and log records into the kinds
// of router telemetry that have a table of their own.
//
// Keys defined by the OpenTelemetry semantic conventions (v1.41.0, the last
// version that carries MCP) are re-exported from the semconv package; keys the
// conventions do not cover live under the mcp.router.* namespace. No other
// package of this repository spells an attribute key as a string literal.
//
// docs/conventions.md is the prose version of this package.
package mcpconv
