// Package mcpstateconnector is a logs-to-metrics connector that turns the
// state an MCP router reports in log events into metrics an alerting
// system can evaluate: per upstream server the latest health
// (mcp.router.health_check) and circuit-breaker state
// (mcp.router.circuit_breaker.state_change), and per router a counter of
// session starts (mcp.router.session.start).
//
//go:generate mdatagen metadata.yaml
package mcpstateconnector
