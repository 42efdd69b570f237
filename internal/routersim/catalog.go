package routersim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
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
	methodToolsCall     = mcpconv.MethodToolsCall
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

// failure is one way an operation fails, with its share.
type failure = weighted[func(tool, server string) error]

// toolCallFailures are the ways an upstream tools/call fails.
var toolCallFailures = []failure{
	{40, func(tool, _ string) error {
		return &instrumentation.ToolError{Tool: tool, Message: "tool reported an error: upstream API rate limit exceeded"}
	}},
	{25, func(string, string) error { return &instrumentation.RPCError{Code: -32603, Message: "Internal error"} }},
	{20, func(_, server string) error { return &TimeoutError{Server: server, After: upstreamTimeout} }},
	{15, func(string, string) error {
		return &instrumentation.RPCError{Code: -32602, Message: "Invalid params: missing required argument"}
	}},
}

// outageFailures are how calls to an upstream in an outage fail.
var outageFailures = []failure{
	{70, func(_, server string) error { return &TimeoutError{Server: server, After: upstreamTimeout} }},
	{30, func(string, string) error {
		return &instrumentation.RPCError{Code: -32603, Message: "Internal error: upstream unavailable"}
	}},
}

// routerFailures are the ways the router itself answers other methods with
// an error.
var routerFailures = map[string]func() error{
	methodToolsList:     func() error { return &TimeoutError{Server: "aggregate", After: upstreamTimeout} },
	methodResourcesRead: func() error { return &instrumentation.RPCError{Code: -32002, Message: "Resource not found"} },
	methodInitialize:    func() error { return &instrumentation.RPCError{Code: -32602, Message: "Unsupported protocol version"} },
	methodPing: func() error {
		return &instrumentation.RPCError{Code: -32603, Message: "Internal error: session expired"}
	},
}

// TimeoutError is an upstream that did not answer in time.
type TimeoutError struct {
	Server string
	After  time.Duration
}

func (e *TimeoutError) Error() string {
	return "upstream " + e.Server + " did not answer within " + e.After.String()
}

// ErrorType is timeout.
func (e *TimeoutError) ErrorType() string { return "timeout" }

// NoUpstreamError is a request for a domain whose every replica is
// deregistered or behind an open breaker.
type NoUpstreamError struct{ Domain string }

func (e *NoUpstreamError) Error() string { return "no available upstream for " + e.Domain }

// ErrorType is no_upstream.
func (e *NoUpstreamError) ErrorType() string { return "no_upstream" }

// RPCStatusCode is the JSON-RPC internal error the client receives.
func (e *NoUpstreamError) RPCStatusCode() string { return "-32603" }

// latency is a log-normal duration: median and spread (sigma of the log).
type latency struct {
	median time.Duration
	sigma  float64
	max    time.Duration
}

var (
	routerOverhead = latency{300 * time.Microsecond, 0.5, 20 * time.Millisecond}
	toolLatency    = latency{120 * time.Millisecond, 0.9, 8 * time.Second}
	probeLatency   = latency{3 * time.Millisecond, 0.6, 2 * time.Second}
	// handling time of the methods the router answers without a CLIENT span
	methodLatency = map[string]latency{
		methodToolsList:     {15 * time.Millisecond, 0.6, 2 * time.Second},
		methodResourcesRead: {40 * time.Millisecond, 0.8, 5 * time.Second},
		methodInitialize:    {2 * time.Millisecond, 0.5, 200 * time.Millisecond},
		methodPing:          {200 * time.Microsecond, 0.4, 50 * time.Millisecond},
	}
)

// draw returns a duration from the distribution.
func (l latency) draw(rng *rand.Rand) time.Duration {
	d := time.Duration(float64(l.median) * math.Exp(l.sigma*rng.NormFloat64()))
	return min(max(d, time.Microsecond), l.max)
}

type weighted[T any] struct {
	weight int
	value  T
}

func pick[T any](rng *rand.Rand, choices []weighted[T]) T {
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	n := rng.IntN(total)
	for _, c := range choices {
		if n < c.weight {
			return c.value
		}
		n -= c.weight
	}
	panic("unreachable")
}
