package main

import (
	"fmt"
	"time"
)

// domain is a family of upstream MCP servers offering the same tools; the
// simulated fleet runs one or more replicas of each.
type domain struct {
	name      string
	tools     []string
	resources []string
}

var domains = []domain{
	{"weather", []string{"get_weather", "get_forecast", "get_alerts", "get_air_quality"},
		[]string{"weather://stations/berlin", "weather://stations/tokyo", "weather://stations/lima"}},
	{"github", []string{"search_code", "create_issue", "list_pull_requests", "get_file_contents"},
		[]string{"repo://mcp-bridge/router/README.md", "repo://mcp-bridge/router/CHANGELOG.md"}},
	{"filesystem", []string{"read_file", "list_directory", "search_files", "write_file"},
		[]string{"file:///srv/docs/handbook.md", "file:///srv/docs/runbook.md", "file:///srv/docs/faq.md"}},
	{"postgres", []string{"query", "list_tables", "describe_table", "explain_query"},
		[]string{"postgres://analytics/schema", "postgres://billing/schema"}},
	{"search", []string{"web_search", "fetch_url", "summarize_page", "news_search"},
		[]string{"search://saved/weekly-digest"}},
	{"calendar", []string{"list_events", "create_event", "find_free_slot", "cancel_event"},
		[]string{"calendar://team/on-call"}},
	{"slack", []string{"post_message", "search_messages", "list_channels", "get_thread"},
		[]string{"slack://channels/incidents"}},
	{"jira", []string{"create_ticket", "search_tickets", "transition_ticket", "add_comment"},
		[]string{"jira://projects/MCP/board"}},
}

// toolName returns the i-th tool of a domain; past the catalog the names
// repeat with a numeric suffix so any -tools value yields distinct names.
func (d domain) toolName(i int) string {
	base := d.tools[i%len(d.tools)]
	if round := i / len(d.tools); round > 0 {
		return fmt.Sprintf("%s_%d", base, round+1)
	}
	return base
}

// MCP methods the simulated clients call, with their share of the traffic.
const (
	methodToolsCall     = "tools/call"
	methodToolsList     = "tools/list"
	methodResourcesRead = "resources/read"
	methodInitialize    = "initialize"
	methodPing          = "ping"
)

var methodMix = []weighted[string]{
	{70, methodToolsCall},
	{10, methodToolsList},
	{8, methodResourcesRead},
	{6, methodInitialize},
	{6, methodPing},
}

var protocolVersionMix = []weighted[string]{
	{70, "2025-06-18"},
	{25, "2025-03-26"},
	{5, "2024-11-05"},
}

// strategyRoundRobin is the load-balancing strategy of the simulated router.
const strategyRoundRobin = "round_robin"

// upstreamTimeout is how long the router waits for an upstream answer.
const upstreamTimeout = 10 * time.Second

// Values of error.type (the JSON-RPC error code as a string, tool_error for a
// CallToolResult with isError, timeout when the upstream did not answer).
const (
	errorTypeToolError = "tool_error"
	errorTypeTimeout   = "timeout"
)

// toolCallFailures are the ways an upstream tools/call fails.
var toolCallFailures = []weighted[Failure]{
	{40, Failure{ErrorType: errorTypeToolError, Message: "tool reported an error: upstream API rate limit exceeded"}},
	{25, Failure{ErrorType: "-32603", StatusCode: "-32603", Message: "Internal error"}},
	{20, Failure{ErrorType: errorTypeTimeout, Message: "no response from upstream within " + upstreamTimeout.String()}},
	{15, Failure{ErrorType: "-32602", StatusCode: "-32602", Message: "Invalid params: missing required argument"}},
}

// routerFailures are the ways the router itself answers other methods with an
// error (no upstream call is simulated for them yet).
var routerFailures = map[string]Failure{
	methodToolsList:     {ErrorType: errorTypeTimeout, Message: "tools/list aggregation did not finish within " + upstreamTimeout.String()},
	methodResourcesRead: {ErrorType: "-32002", StatusCode: "-32002", Message: "Resource not found"},
	methodInitialize:    {ErrorType: "-32602", StatusCode: "-32602", Message: "Unsupported protocol version"},
	methodPing:          {ErrorType: "-32603", StatusCode: "-32603", Message: "Internal error: session expired"},
}

// latency is a log-normal duration: median and spread (sigma of the log).
type latency struct {
	median time.Duration
	sigma  float64
	max    time.Duration
}

var (
	routerOverhead = latency{300 * time.Microsecond, 0.5, 20 * time.Millisecond}
	toolLatency    = latency{120 * time.Millisecond, 0.9, 8 * time.Second}
	// handling time of the methods the router answers without a CLIENT span
	methodLatency = map[string]latency{
		methodToolsList:     {15 * time.Millisecond, 0.6, 2 * time.Second},
		methodResourcesRead: {40 * time.Millisecond, 0.8, 5 * time.Second},
		methodInitialize:    {2 * time.Millisecond, 0.5, 200 * time.Millisecond},
		methodPing:          {200 * time.Microsecond, 0.4, 50 * time.Millisecond},
	}
)
