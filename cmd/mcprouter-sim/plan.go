package main

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// PlanConfig says what traffic to generate.
type PlanConfig struct {
	Requests       int
	Servers        int
	ToolsPerServer int
	ErrorRate      float64
	Seed           uint64
	// Window is the time span the request start times are spread over.
	Window time.Duration
}

// Validate names every field that cannot produce a plan.
func (c PlanConfig) Validate() error {
	var errs error
	if c.Requests < 1 {
		errs = errors.Join(errs, fmt.Errorf("requests: %d must be at least 1", c.Requests))
	}
	if c.Servers < 1 {
		errs = errors.Join(errs, fmt.Errorf("servers: %d must be at least 1", c.Servers))
	}
	if c.ToolsPerServer < 1 {
		errs = errors.Join(errs, fmt.Errorf("tools: %d must be at least 1", c.ToolsPerServer))
	}
	if c.ErrorRate < 0 || c.ErrorRate > 1 || math.IsNaN(c.ErrorRate) {
		errs = errors.Join(errs, fmt.Errorf("error-rate: %v must be between 0 and 1", c.ErrorRate))
	}
	if c.Window <= 0 {
		errs = errors.Join(errs, fmt.Errorf("window: %v must be positive", c.Window))
	}
	return errs
}

// Upstream is one MCP server behind the router.
type Upstream struct {
	Key     string // mcp.router.server.key
	Address string // server.address
	Port    int    // server.port
	Tools   []string
	domain  int
}

// Session is one client session with the router.
type Session struct {
	ID              string
	ClientAddress   string
	ProtocolVersion string
	Transport       string // network.transport
}

// Failure is how a span ended in error.
type Failure struct {
	ErrorType  string // error.type
	StatusCode string // rpc.response.status_code: the JSON-RPC error code, empty when none
	Message    string // span status description and exception message
}

// UpstreamCall is the router's CLIENT call toward an upstream server.
type UpstreamCall struct {
	Upstream int // index into Plan.Upstreams
	Attempt  int
	CallID   string        // gen_ai.tool.call.id
	Start    time.Duration // offset from the request's start
	Duration time.Duration
	Failure  *Failure // recorded as an exception event on the CLIENT span
}

// Request is one routed MCP request: the router's SERVER span and the
// upstream calls it made.
type Request struct {
	Start       time.Duration // offset from the plan's start
	Duration    time.Duration
	Method      string
	Tool        string // gen_ai.tool.name, tools/call only
	ResourceURI string // mcp.resource.uri, resources/read only
	Session     int    // index into Plan.Sessions
	RequestID   string // jsonrpc.request.id
	Upstream    int    // index into Plan.Upstreams; -1 when the router answers itself
	Strategy    string
	Attempt     int
	Calls       []UpstreamCall
	Failure     *Failure // the SERVER span's error (status only, no exception event)
}

// SpanName follows the semantic conventions: "{mcp.method.name} {target}"
// with the tool name as target; resource URIs stay out (high cardinality).
func (r Request) SpanName() string {
	if r.Tool != "" {
		return r.Method + " " + r.Tool
	}
	return r.Method
}

// Plan is the whole burst, generated before anything is sent so that what was
// sent can be reconciled against what was stored.
type Plan struct {
	Upstreams []Upstream
	Sessions  []Session
	Requests  []Request // in start order
}

// NewPlan generates the traffic for cfg; the same config always yields the
// same plan.
func NewPlan(cfg PlanConfig) (Plan, error) {
	if err := cfg.Validate(); err != nil {
		return Plan{}, err
	}
	g := &planner{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6d63702d726f7574)),
	}
	g.upstreams()
	g.sessions()
	p := Plan{Upstreams: g.ups, Sessions: g.sess, Requests: make([]Request, cfg.Requests)}
	starts := make([]time.Duration, cfg.Requests)
	for i := range starts {
		starts[i] = time.Duration(g.rng.Int64N(int64(cfg.Window)))
	}
	slices.Sort(starts)
	for i := range p.Requests {
		p.Requests[i] = g.request(starts[i])
	}
	return p, nil
}

type planner struct {
	cfg  PlanConfig
	rng  *rand.Rand
	ups  []Upstream
	sess []Session
	// next round-robin position per domain
	rr map[int]int
}

func (g *planner) upstreams() {
	nDomains := min(len(domains), max(1, (g.cfg.Servers+1)/2))
	g.rr = make(map[int]int, nDomains)
	g.ups = make([]Upstream, g.cfg.Servers)
	for i := range g.ups {
		d := i % nDomains
		replica := i/nDomains + 1
		tools := make([]string, g.cfg.ToolsPerServer)
		for t := range tools {
			tools[t] = domains[d].toolName(t)
		}
		g.ups[i] = Upstream{
			Key:     fmt.Sprintf("%s-%d", domains[d].name, replica),
			Address: fmt.Sprintf("mcp-%s-%d.mcp.svc.cluster.local", domains[d].name, replica),
			Port:    8080,
			Tools:   tools,
			domain:  d,
		}
	}
}

func (g *planner) sessions() {
	g.sess = make([]Session, max(1, g.cfg.Requests/25))
	for i := range g.sess {
		g.sess[i] = Session{
			ID:              g.uuid(),
			ClientAddress:   fmt.Sprintf("10.%d.%d.%d", 20+g.rng.IntN(4), g.rng.IntN(256), 1+g.rng.IntN(254)),
			ProtocolVersion: pick(g.rng, protocolVersionMix),
			Transport:       "tcp", // streamable HTTP
		}
	}
}

func (g *planner) request(start time.Duration) Request {
	r := Request{
		Start:     start,
		Method:    pick(g.rng, methodMix),
		Session:   g.rng.IntN(len(g.sess)),
		RequestID: g.uuid(),
		Upstream:  -1,
	}
	failed := g.rng.Float64() < g.cfg.ErrorRate
	pre, post := g.duration(routerOverhead), g.duration(routerOverhead)/2
	switch r.Method {
	case methodToolsCall:
		u := g.rng.IntN(len(g.ups))
		r.Tool = g.ups[u].Tools[g.rng.IntN(len(g.ups[u].Tools))]
		g.route(&r, g.ups[u].domain)
		call := UpstreamCall{
			Upstream: r.Upstream,
			Attempt:  r.Attempt,
			CallID:   g.callID(),
			Start:    pre,
			Duration: g.duration(toolLatency),
		}
		if failed {
			f := pick(g.rng, toolCallFailures)
			if f.ErrorType == errorTypeTimeout {
				call.Duration = upstreamTimeout
			}
			call.Failure = &f
			r.Failure = &f
		}
		r.Calls = []UpstreamCall{call}
		r.Duration = pre + call.Duration + post
	default:
		if r.Method == methodResourcesRead {
			d := g.ups[g.rng.IntN(len(g.ups))].domain
			res := domains[d].resources
			r.ResourceURI = res[g.rng.IntN(len(res))]
			g.route(&r, d)
		}
		handling := g.duration(methodLatency[r.Method])
		if failed {
			f := routerFailures[r.Method]
			if f.ErrorType == errorTypeTimeout {
				handling = upstreamTimeout
			}
			r.Failure = &f
		}
		r.Duration = pre + handling + post
	}
	return r
}

// route picks the upstream replica of domain d round-robin.
func (g *planner) route(r *Request, d int) {
	var replicas []int
	for i, u := range g.ups {
		if u.domain == d {
			replicas = append(replicas, i)
		}
	}
	r.Upstream = replicas[g.rr[d]%len(replicas)]
	g.rr[d]++
	r.Strategy = strategyRoundRobin
	r.Attempt = 1
}

// duration draws from a log-normal latency distribution.
func (g *planner) duration(l latency) time.Duration {
	d := time.Duration(float64(l.median) * math.Exp(l.sigma*g.rng.NormFloat64()))
	return min(max(d, time.Microsecond), l.max)
}

// uuid returns a random (version 4 layout) UUID from the plan's generator.
func (g *planner) uuid() string {
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12
	lo = lo&^(0x3<<62) | 0x2<<62
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

func (g *planner) callID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := []byte("call_000000000000000000000000")
	for i := len("call_"); i < len(b); i++ {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
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

// Expected is what the collector should store for a plan.
type Expected struct {
	RoutingSpans    int // rows in routing_log
	ToolCallSpans   int // rows in tool_call_record
	FailedRequests  int
	FailedToolCalls int
	ErrorRows       int // rows in error_log
	Methods         map[string]int
}

// Expected counts the rows the plan produces under the exporter's mapping.
func (p Plan) Expected() Expected {
	e := Expected{Methods: map[string]int{}}
	for _, r := range p.Requests {
		e.RoutingSpans++
		e.Methods[r.Method]++
		if r.Failure != nil {
			e.FailedRequests++
		}
		e.ErrorRows += spanErrorRows(r.Failure != nil, 0)
		for _, c := range r.Calls {
			e.ToolCallSpans++
			exceptions := 0
			if c.Failure != nil {
				e.FailedToolCalls++
				exceptions = 1
			}
			e.ErrorRows += spanErrorRows(c.Failure != nil, exceptions)
		}
	}
	return e
}

// spanErrorRows mirrors appendSpanErrors in exporter/mcppgexporter/traces.go:
// one error_log row per exception event, or one for a failed span that
// recorded none.
func spanErrorRows(failed bool, exceptionEvents int) int {
	if exceptionEvents > 0 {
		return exceptionEvents
	}
	if failed {
		return 1
	}
	return 0
}

// End is the offset at which the last request finishes.
func (p Plan) End() time.Duration {
	var end time.Duration
	for _, r := range p.Requests {
		end = max(end, r.Start+r.Duration)
	}
	return end
}
