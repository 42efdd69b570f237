package routersim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// FleetConfig says what traffic to simulate.
type FleetConfig struct {
	// Rate is the target of routed requests per second; 0 sends as fast as
	// the pipeline takes them.
	Rate float64
	// Duration and Requests bound the run; whichever is reached first ends
	// it (0: no bound of that kind).
	Duration time.Duration
	Requests int64

	Servers        int
	ToolsPerServer int
	// ServerPrefix starts every upstream's server key, so that simulators
	// sharing a schema keep their mcp_server rows apart.
	ServerPrefix string
	// ErrorRate is the share of requests (and tool calls) that fail.
	ErrorRate float64
	// OutageRate is how many outages an upstream has per minute; during one
	// most calls to it fail, its health checks fail and its breaker opens.
	OutageRate   float64
	OutageLength time.Duration

	HealthInterval   time.Duration
	BreakerThreshold int
	BreakerCooldown  time.Duration

	// Sessions is how many client sessions are open at any time; each lives
	// about SessionLife and reports stats every SessionStats.
	Sessions     int
	SessionLife  time.Duration
	SessionStats time.Duration
	// ChurnInterval deregisters an upstream, or registers it again, this
	// often (0: the registry does not change after start-up).
	ChurnInterval time.Duration

	Workers int
	Seed    uint64

	// Runtime is what the router reports of its runtime over OTLP:
	// RuntimeGo ("" too), RuntimeJVM or RuntimeNone (runtime.go).
	Runtime string
}

// Validate names every field that cannot produce traffic.
func (c FleetConfig) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Rate >= 0 && !math.IsInf(c.Rate, 0), "rate: %v must be 0 (unlimited) or positive", c.Rate)
	check(c.Duration >= 0, "duration: %v must not be negative", c.Duration)
	check(c.Requests >= 0, "requests: %d must not be negative", c.Requests)
	check(c.Duration > 0 || c.Requests > 0, "set -duration or -requests (or both): the run needs an end")
	check(c.Servers >= 1, "servers: %d must be at least 1", c.Servers)
	check(c.ToolsPerServer >= 1, "tools: %d must be at least 1", c.ToolsPerServer)
	check(!strings.ContainsFunc(c.ServerPrefix, unicode.IsSpace), "server-prefix: %q must not contain spaces (the manifest separates fields by spaces)", c.ServerPrefix)
	check(c.ErrorRate >= 0 && c.ErrorRate <= 1, "error-rate: %v must be between 0 and 1", c.ErrorRate)
	check(c.OutageRate >= 0, "outage-rate: %v must not be negative", c.OutageRate)
	check(c.OutageLength > 0, "outage-length: %v must be positive", c.OutageLength)
	check(c.HealthInterval > 0, "health-interval: %v must be positive", c.HealthInterval)
	check(c.BreakerThreshold >= 1, "breaker-threshold: %d must be at least 1", c.BreakerThreshold)
	check(c.BreakerCooldown > 0, "breaker-cooldown: %v must be positive", c.BreakerCooldown)
	check(c.Sessions >= 1, "sessions: %d must be at least 1", c.Sessions)
	check(c.SessionLife > 0, "session-life: %v must be positive", c.SessionLife)
	check(c.SessionStats > 0, "session-stats: %v must be positive", c.SessionStats)
	check(c.ChurnInterval >= 0, "churn-interval: %v must not be negative", c.ChurnInterval)
	check(c.Workers >= 1, "workers: %d must be at least 1", c.Workers)
	check(validRuntime(c.Runtime), "runtime: %q must be %s, %s or %s", c.Runtime, RuntimeGo, RuntimeJVM, RuntimeNone)
	return errors.Join(errs...)
}

// upstream is one MCP server behind the router.
type upstream struct {
	key, name, url, address string
	port                    int
	tools                   []string
	domain                  int

	// available: registered and its breaker not open; read by the LB.
	available   atomic.Bool
	outageUntil atomic.Int64 // unix nanoseconds
	calls       atomic.Int64 // calls routed to it, for the pool gauge

	mu         sync.Mutex
	registered bool
	version    int
	healthy    bool // as last reported
	breaker    string
	failures   int // consecutive
	openedAt   time.Time
}

func (u *upstream) inOutage(now time.Time) bool { return u.outageUntil.Load() > now.UnixNano() }

// versionText is the upstream's implementation version.
func (u *upstream) versionText() string { return "1." + strconv.Itoa(u.version) + ".0" }

// updateAvailable recomputes available; u.mu is held.
func (u *upstream) updateAvailable() {
	u.available.Store(u.registered && u.breaker != mcpconv.BreakerOpen)
}

// domainPool is the replicas serving one domain's tools.
type domainPool struct {
	name     string
	tools    []string
	replicas []*upstream
	keys     []string // of every replica: the candidates when all are available
	rr       atomic.Uint64
}

// fleet is the simulated router and its upstreams.
type fleet struct {
	cfg   FleetConfig
	em    emitter
	man   *simmanifest.Writer
	count *simmanifest.Counters

	ups     []*upstream
	domains []*domainPool
	// lastNoUpstream rate-limits the router error events per domain.
	lastNoUpstream []atomic.Int64

	poolMu    sync.Mutex
	poolCalls []int64
	poolAt    time.Time
}

func newFleet(cfg FleetConfig, em emitter, man *simmanifest.Writer, count *simmanifest.Counters) *fleet {
	f := &fleet{cfg: cfg, em: em, man: man, count: count}
	nDomains := min(len(domains), max(1, (cfg.Servers+1)/2))
	for d := range nDomains {
		tools := make([]string, cfg.ToolsPerServer)
		for t := range tools {
			tools[t] = domains[d].toolName(t)
		}
		f.domains = append(f.domains, &domainPool{name: domains[d].name, tools: tools})
	}
	for i := range cfg.Servers {
		d := i % nDomains
		replica := i/nDomains + 1
		name := domains[d].name
		u := &upstream{
			key:     cfg.ServerPrefix + name + "-" + strconv.Itoa(replica),
			name:    name + " MCP server " + strconv.Itoa(replica),
			address: "mcp-" + name + "-" + strconv.Itoa(replica) + ".mcp.svc.cluster.local",
			port:    8080,
			tools:   f.domains[d].tools,
			domain:  d,
			breaker: mcpconv.BreakerClosed,
			healthy: true,
		}
		u.url = "http://" + u.address + ":8080/mcp"
		f.ups = append(f.ups, u)
		f.domains[d].replicas = append(f.domains[d].replicas, u)
		f.domains[d].keys = append(f.domains[d].keys, u.key)
	}
	f.lastNoUpstream = make([]atomic.Int64, nDomains)
	f.poolCalls = make([]int64, len(f.ups))
	f.startRuntime()
	return f
}

// register announces every upstream, as a router does at start-up.
func (f *fleet) register(rec *simmanifest.Recorder) {
	for _, u := range f.ups {
		u.mu.Lock()
		u.registered, u.version = true, 1
		u.updateAvailable()
		u.mu.Unlock()
		f.em.serverRegistered(f.serverInfo(u, time.Now()))
		rec.Count(simmanifest.KindServerEvent, false)
	}
}

func (f *fleet) serverInfo(u *upstream, at time.Time) instrumentation.Server {
	return instrumentation.Server{Key: u.key, Name: u.name, URL: u.url, Version: u.versionText(),
		Transport: "streamable_http", Tools: u.tools, Health: healthText(u.healthy), Time: at}
}

func healthText(healthy bool) string {
	if healthy {
		return mcpconv.HealthHealthy
	}
	return mcpconv.HealthUnhealthy
}

// choose picks a replica of domain d round-robin among the available ones,
// skipping exclude; nil when none is available.
func (f *fleet) choose(d int, exclude *upstream) (*upstream, []string) {
	pool := f.domains[d]
	n := len(pool.replicas)
	all := true
	for _, u := range pool.replicas {
		if u == exclude || !u.available.Load() {
			all = false
			break
		}
	}
	candidates := pool.keys
	if !all {
		candidates = make([]string, 0, n)
		for _, u := range pool.replicas {
			if u != exclude && u.available.Load() {
				candidates = append(candidates, u.key)
			}
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	start := int(pool.rr.Add(1) % uint64(n))
	for i := range n {
		u := pool.replicas[(start+i)%n]
		if u != exclude && u.available.Load() {
			return u, candidates
		}
	}
	return nil, nil
}

// callOutcome decides how a call to u ends.
func (f *fleet) callOutcome(rng *rand.Rand, u *upstream, tool string, now time.Time) error {
	if u.inOutage(now) {
		if rng.Float64() < 0.85 {
			return pick(rng, outageFailures)(tool, u.key)
		}
		return nil
	}
	if rng.Float64() < f.cfg.ErrorRate {
		return pick(rng, toolCallFailures)(tool, u.key)
	}
	return nil
}

// callResult feeds the breaker of u with a call's outcome.
func (f *fleet) callResult(rec *simmanifest.Recorder, u *upstream, failed bool, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	from := u.breaker
	switch {
	case !failed:
		u.failures = 0
		if from == mcpconv.BreakerHalfOpen {
			f.breakerTo(rec, u, mcpconv.BreakerClosed, "trial call succeeded", at)
		}
	case from == mcpconv.BreakerHalfOpen:
		u.failures++
		f.breakerTo(rec, u, mcpconv.BreakerOpen, "trial call failed", at)
	case from == mcpconv.BreakerClosed:
		u.failures++
		if u.failures >= f.cfg.BreakerThreshold {
			f.breakerTo(rec, u, mcpconv.BreakerOpen, strconv.Itoa(u.failures)+" consecutive failures", at)
		}
	}
}

// breakerTo moves u's breaker to state and emits the transition; u.mu is held.
func (f *fleet) breakerTo(rec *simmanifest.Recorder, u *upstream, to, reason string, at time.Time) {
	from := u.breaker
	u.breaker = to
	if to == mcpconv.BreakerOpen {
		u.openedAt = at
	}
	if to == mcpconv.BreakerClosed {
		u.failures = 0
	}
	u.updateAvailable()
	id := f.em.breakerStateChange(instrumentation.BreakerChange{ServerKey: u.key, From: from, To: to,
		FailureCount: u.failures, Reason: reason, Time: at})
	rec.Event(simmanifest.KindBreaker, id, to == mcpconv.BreakerOpen)
}

// maintain runs the time-driven part of the fleet until ctx ends: health
// checks, outages, breakers half-opening, registry churn.
func (f *fleet) maintain(ctx context.Context, rec *simmanifest.Recorder, rng *rand.Rand) {
	const tick = 100 * time.Millisecond
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	nextHealth := time.Now().Add(f.cfg.HealthInterval)
	nextChurn := time.Now().Add(f.cfg.ChurnInterval)
	var churned *upstream
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			f.outages(rng, now, tick)
			f.halfOpen(rec, now)
			if !now.Before(nextHealth) {
				nextHealth = nextHealth.Add(f.cfg.HealthInterval)
				f.healthChecks(rec, rng, now)
			}
			if f.cfg.ChurnInterval > 0 && !now.Before(nextChurn) {
				nextChurn = nextChurn.Add(f.cfg.ChurnInterval)
				churned = f.churn(rec, rng, churned, now)
			}
			rec.FlushIfFull()
		}
	}
}

func (f *fleet) outages(rng *rand.Rand, now time.Time, tick time.Duration) {
	p := f.cfg.OutageRate / 60 * tick.Seconds()
	for _, u := range f.ups {
		if !u.inOutage(now) && rng.Float64() < p {
			length := time.Duration(float64(f.cfg.OutageLength) * (0.5 + rng.Float64()))
			u.outageUntil.Store(now.Add(length).UnixNano())
		}
	}
}

func (f *fleet) halfOpen(rec *simmanifest.Recorder, now time.Time) {
	for _, u := range f.ups {
		u.mu.Lock()
		if u.breaker == mcpconv.BreakerOpen && now.Sub(u.openedAt) >= f.cfg.BreakerCooldown {
			f.breakerTo(rec, u, mcpconv.BreakerHalfOpen, "cool-down of "+f.cfg.BreakerCooldown.String()+" elapsed", now)
		}
		u.mu.Unlock()
	}
}

// healthChecks probes every registered upstream once.
func (f *fleet) healthChecks(rec *simmanifest.Recorder, rng *rand.Rand, now time.Time) {
	for _, u := range f.ups {
		u.mu.Lock()
		registered := u.registered
		u.mu.Unlock()
		if !registered {
			continue
		}
		h := instrumentation.HealthCheck{ServerKey: u.key, Healthy: true, Check: "ping",
			Latency: probeLatency.draw(rng), Time: now}
		switch {
		case u.inOutage(now) && rng.Float64() < 0.9:
			h.Healthy, h.Err, h.Latency = false, &TimeoutError{Server: u.key, After: 2 * time.Second}, 2*time.Second
		case rng.Float64() < f.cfg.ErrorRate/4:
			h.Healthy, h.Err = false, &instrumentation.RPCError{Code: -32603, Message: "ping failed: internal error"}
		}
		rec.Event(simmanifest.KindHealthCheck, f.em.healthCheck(h), !h.Healthy)
		u.mu.Lock()
		changed := u.healthy != h.Healthy
		u.healthy = h.Healthy
		u.mu.Unlock()
		if changed {
			f.em.serverHealthChanged(instrumentation.HealthChange{ServerKey: u.key, Healthy: h.Healthy, Time: now})
			rec.Count(simmanifest.KindServerEvent, !h.Healthy)
		}
	}
}

// churn registers the previously deregistered upstream again, or
// deregisters one whose domain keeps another registered replica. It
// returns the upstream now deregistered, if any.
func (f *fleet) churn(rec *simmanifest.Recorder, rng *rand.Rand, deregistered *upstream, now time.Time) *upstream {
	if deregistered != nil {
		u := deregistered
		u.mu.Lock()
		u.registered = true
		u.version++
		u.updateAvailable()
		info := f.serverInfo(u, now)
		u.mu.Unlock()
		f.em.serverRegistered(info)
		rec.Count(simmanifest.KindServerEvent, false)
		return nil
	}
	u := f.ups[rng.IntN(len(f.ups))]
	if len(f.domains[u.domain].replicas) < 2 {
		return nil
	}
	u.mu.Lock()
	u.registered = false
	u.updateAvailable()
	u.mu.Unlock()
	f.em.serverDeregistered(instrumentation.Deregistration{ServerKey: u.key, Time: now})
	rec.Count(simmanifest.KindServerEvent, false)
	return u
}

// finalServers records the registry as the run leaves it.
func (f *fleet) finalServers(rec *simmanifest.Recorder) {
	for _, u := range f.ups {
		u.mu.Lock()
		rec.Server(u.key, u.registered, healthText(u.healthy))
		u.mu.Unlock()
	}
}

// poolSize is the connections the router keeps toward each upstream.
const poolSize = 32

// poolStats estimates each pool from the calls routed since the last
// collection (Little's law with the median tool latency).
func (f *fleet) poolStats() []instrumentation.PoolStats {
	f.poolMu.Lock()
	defer f.poolMu.Unlock()
	now := time.Now()
	elapsed := now.Sub(f.poolAt).Seconds()
	if f.poolAt.IsZero() || elapsed <= 0 {
		elapsed = 1
	}
	f.poolAt = now
	out := make([]instrumentation.PoolStats, len(f.ups))
	for i, u := range f.ups {
		calls := u.calls.Load()
		rate := float64(calls-f.poolCalls[i]) / elapsed
		f.poolCalls[i] = calls
		busy := int64(math.Round(rate * toolLatency.median.Seconds()))
		p := instrumentation.PoolStats{ServerKey: u.key, Active: min(busy, poolSize), Idle: max(0, poolSize-busy),
			Pending: max(0, busy-poolSize)}
		if u.inOutage(now) {
			p.Pending += 4
		}
		out[i] = p
	}
	return out
}
