package mcpstateconnector

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/connector/mcpstateconnector/internal/metadata"
)

// The router conventions this connector reads (docs/conventions.md; the
// same strings as package mcpconv of the repository's root module, which
// this module does not import so that it depends on the collector only).
const (
	eventNameAttr       = "event.name"
	eventHealthCheck    = "mcp.router.health_check"
	eventHealthChanged  = "mcp.router.server.health_changed"
	eventRegistered     = "mcp.router.server.registered"
	eventDeregistered   = "mcp.router.server.deregistered"
	eventBreakerChange  = "mcp.router.circuit_breaker.state_change"
	eventSessionStart   = "mcp.router.session.start"
	attrServerKey       = "mcp.router.server.key"
	attrHealthStatus    = "mcp.router.health.status"
	attrBreakerToState  = "mcp.router.circuit_breaker.to_state"
	healthHealthy       = "healthy"
	resServiceName      = "service.name"
	resServiceNamespace = "service.namespace"
	resServiceInstance  = "service.instance.id"
)

// The metrics this connector emits.
const (
	MetricServerHealthy = "mcp.router.server.healthy"
	MetricBreakerState  = "mcp.router.circuit_breaker.state"
	MetricSessionStarts = "mcp.router.session.starts"
	// AttrBreakerState is the state a breaker-state series stands for.
	AttrBreakerState = "state"
)

// breakerStates are emitted for every server whose breaker state is known
// (1 for the current state, 0 for the others), so that a query for the open
// state finds a 0 rather than nothing while the breaker is closed.
var breakerStates = []string{"closed", "open", "half_open"}

// router is the resource identity of the router that sent an event.
type router struct{ name, namespace, instance string }

type serverID struct {
	router router
	key    string
}

type serverState struct {
	healthKnown bool
	healthy     bool
	healthAt    pcommon.Timestamp
	breaker     string
	breakerAt   pcommon.Timestamp
	seen        time.Time // arrival of the latest event, for expiration
}

type sessionState struct {
	starts uint64
	start  pcommon.Timestamp // of the cumulative counter
	seen   time.Time
}

type mcpState struct {
	component.StartFunc
	cfg    *Config
	next   consumer.Metrics
	logger *zap.Logger
	now    func() time.Time

	mu       sync.Mutex
	servers  map[serverID]*serverState
	sessions map[router]*sessionState

	stop context.CancelFunc // ends the flush loop and the emission in flight
	done chan struct{}      // closed when the flush loop has returned
}

var _ connector.Logs = (*mcpState)(nil)

func newConnector(set connector.Settings, cfg *Config, next consumer.Metrics) *mcpState {
	return &mcpState{
		cfg: cfg, next: next, logger: set.Logger, now: time.Now,
		servers:  map[serverID]*serverState{},
		sessions: map[router]*sessionState{},
	}
}

func (c *mcpState) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start begins the flush loop.
func (c *mcpState) Start(context.Context, component.Host) error {
	ctx, stop := context.WithCancel(context.Background())
	c.stop, c.done = stop, make(chan struct{})
	go c.loop(ctx)
	return nil
}

// Shutdown stops the flush loop, cancelling an emission in flight, and
// waits for it until ctx ends; the state is not flushed again. The pipeline
// after the connector is still running then, and may be slow to give up.
func (c *mcpState) Shutdown(ctx context.Context) error {
	if c.stop == nil {
		return nil
	}
	c.stop()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mcpstate: the state's emission has not returned: %w", ctx.Err())
	}
}

func (c *mcpState) loop(ctx context.Context) {
	defer close(c.done)
	ticker := time.NewTicker(c.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if md := c.snapshot(); md.DataPointCount() > 0 {
				if err := c.next.ConsumeMetrics(ctx, md); err != nil && ctx.Err() == nil {
					c.logger.Warn("mcpstate: emitting the state failed", zap.Error(err))
				}
			}
		}
	}
}

// ConsumeLogs updates the state from the router events among ld; other
// records are ignored.
func (c *mcpState) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rl := range ld.ResourceLogs().All() {
		r := routerOf(rl.Resource().Attributes())
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				c.apply(r, lr, now)
			}
		}
	}
	return nil
}

func (c *mcpState) apply(r router, lr plog.LogRecord, now time.Time) {
	name := lr.EventName()
	if name == "" {
		if v, ok := lr.Attributes().Get(eventNameAttr); ok {
			name = v.AsString()
		}
	}
	at := lr.Timestamp()
	if at == 0 {
		at = lr.ObservedTimestamp()
	}
	if at == 0 {
		at = pcommon.NewTimestampFromTime(now)
	}
	if name == eventSessionStart {
		s := c.sessions[r]
		if s == nil {
			s = &sessionState{start: pcommon.NewTimestampFromTime(now)}
			c.sessions[r] = s
		}
		s.starts++
		s.seen = now
		return
	}
	switch name {
	case eventHealthCheck, eventHealthChanged, eventRegistered, eventDeregistered, eventBreakerChange:
	default:
		return
	}
	key := str(lr.Attributes(), attrServerKey)
	if key == "" {
		return // refused by the exporter too (required attribute)
	}
	id := serverID{router: r, key: key}
	s := c.servers[id]
	if name == eventDeregistered {
		// A deregistration newer than everything known forgets the server.
		if s != nil && at >= s.healthAt && at >= s.breakerAt {
			delete(c.servers, id)
		}
		return
	}
	if s == nil {
		s = &serverState{}
	}
	switch name {
	case eventBreakerChange:
		to := str(lr.Attributes(), attrBreakerToState)
		if to == "" || (s.breaker != "" && at < s.breakerAt) {
			break
		}
		s.breaker, s.breakerAt = to, at
	default: // health_check, health_changed, registered carrying a status
		status := str(lr.Attributes(), attrHealthStatus)
		if status == "" || (s.healthKnown && at < s.healthAt) {
			break
		}
		s.healthKnown, s.healthy, s.healthAt = true, status == healthHealthy, at
	}
	if !s.healthKnown && s.breaker == "" {
		return // nothing known about it (a registration without a status)
	}
	s.seen = now
	c.servers[id] = s
}

// snapshot expires what is too old and returns the current state as
// metrics, one resource per router.
func (c *mcpState) snapshot() pmetric.Metrics {
	now := c.now()
	ts := pcommon.NewTimestampFromTime(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp := c.cfg.Expiration; exp > 0 {
		for id, s := range c.servers {
			if now.Sub(s.seen) > exp {
				delete(c.servers, id)
			}
		}
		for r, s := range c.sessions {
			if now.Sub(s.seen) > exp {
				delete(c.sessions, r)
			}
		}
	}

	type metrics struct{ healthy, breaker, sessions pmetric.Metric }
	md := pmetric.NewMetrics()
	byRouter := map[router]*metrics{}
	get := func(r router) *metrics {
		if m := byRouter[r]; m != nil {
			return m
		}
		rm := md.ResourceMetrics().AppendEmpty()
		attrs := rm.Resource().Attributes()
		for _, kv := range [][2]string{{resServiceName, r.name}, {resServiceNamespace, r.namespace}, {resServiceInstance, r.instance}} {
			if kv[1] != "" {
				attrs.PutStr(kv[0], kv[1])
			}
		}
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(metadata.ScopeName)
		m := &metrics{}
		m.healthy = sm.Metrics().AppendEmpty()
		m.healthy.SetName(MetricServerHealthy)
		m.healthy.SetDescription("1 when the latest health event of the server (by event time) said healthy, 0 when it said otherwise.")
		m.healthy.SetEmptyGauge()
		m.breaker = sm.Metrics().AppendEmpty()
		m.breaker.SetName(MetricBreakerState)
		m.breaker.SetDescription("1 for the state the server's circuit breaker entered last (by event time), 0 for the other states.")
		m.breaker.SetEmptyGauge()
		m.sessions = sm.Metrics().AppendEmpty()
		m.sessions.SetName(MetricSessionStarts)
		m.sessions.SetDescription("Sessions started (mcp.router.session.start events) since the counter's start time.")
		m.sessions.SetUnit("{session}")
		sum := m.sessions.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		byRouter[r] = m
		return m
	}

	ids := make([]serverID, 0, len(c.servers))
	for id := range c.servers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return less(ids[i], ids[j]) })
	for _, id := range ids {
		s := c.servers[id]
		m := get(id.router)
		if s.healthKnown {
			p := m.healthy.Gauge().DataPoints().AppendEmpty()
			p.SetTimestamp(ts)
			p.Attributes().PutStr(attrServerKey, id.key)
			if s.healthy {
				p.SetIntValue(1)
			}
		}
		if s.breaker != "" {
			states := breakerStates
			if !known(s.breaker) {
				states = append(append([]string{}, breakerStates...), s.breaker)
			}
			for _, state := range states {
				p := m.breaker.Gauge().DataPoints().AppendEmpty()
				p.SetTimestamp(ts)
				p.Attributes().PutStr(attrServerKey, id.key)
				p.Attributes().PutStr(AttrBreakerState, state)
				if state == s.breaker {
					p.SetIntValue(1)
				}
			}
		}
	}
	for r, s := range c.sessions {
		p := get(r).sessions.Sum().DataPoints().AppendEmpty()
		p.SetStartTimestamp(s.start)
		p.SetTimestamp(ts)
		p.SetIntValue(int64(s.starts))
	}
	// Drop the metrics a router has no points of.
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			sm.Metrics().RemoveIf(func(m pmetric.Metric) bool { return points(m) == 0 })
		}
	}
	return md
}

func points(m pmetric.Metric) int {
	if m.Type() == pmetric.MetricTypeSum {
		return m.Sum().DataPoints().Len()
	}
	return m.Gauge().DataPoints().Len()
}

func routerOf(attrs pcommon.Map) router {
	return router{name: str(attrs, resServiceName), namespace: str(attrs, resServiceNamespace), instance: str(attrs, resServiceInstance)}
}

func str(attrs pcommon.Map, key string) string {
	if v, ok := attrs.Get(key); ok {
		return v.AsString()
	}
	return ""
}

func known(state string) bool {
	for _, s := range breakerStates {
		if s == state {
			return true
		}
	}
	return false
}

func less(a, b serverID) bool {
	if a.router != b.router {
		if a.router.name != b.router.name {
			return a.router.name < b.router.name
		}
		if a.router.namespace != b.router.namespace {
			return a.router.namespace < b.router.namespace
		}
		return a.router.instance < b.router.instance
	}
	return a.key < b.key
}
