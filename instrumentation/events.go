package instrumentation

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Every event below has an optional Time (zero: now) and ID (the event.id;
// empty: a new one). Each method returns the event.id it sent.

// HealthCheck is one probe of an upstream server (health_check_record).
type HealthCheck struct {
	ServerKey string // required
	Healthy   bool
	// Check is the kind of probe: ping, tools_list, http.
	Check   string
	Latency time.Duration
	// Err is why the probe failed: its error.type and message are stored.
	Err  error
	Time time.Time
	ID   string
}

// HealthCheck emits mcp.router.health_check.
func (r *Router) HealthCheck(ctx context.Context, h HealthCheck) string {
	rec := r.event(mcpconv.EventHealthCheck, h.Time, log.SeverityInfo)
	status := mcpconv.HealthHealthy
	if !h.Healthy {
		status = mcpconv.HealthUnhealthy
		rec.SetSeverity(log.SeverityWarn)
	}
	rec.AddAttributes(
		attribute.String(mcpconv.ServerKey, h.ServerKey),
		attribute.String(mcpconv.HealthStatus, status),
		attribute.Float64(mcpconv.HealthLatency, h.Latency.Seconds()),
	)
	addNonEmpty(&rec, mcpconv.HealthCheck, h.Check)
	if h.Err != nil {
		rec.AddAttributes(attribute.String(mcpconv.ErrorType, ErrorType(h.Err)))
		rec.SetBody(attribute.StringValue(h.Err.Error()))
	}
	return r.emit(ctx, &rec, h.ID)
}

// Server is an upstream server joining the registry (mcp_server).
type Server struct {
	Key       string // required
	Name      string
	URL       string
	Version   string
	Transport string // stdio, sse, streamable_http
	Tools     []string
	// Health is the server's health when it registers: mcpconv.HealthHealthy,
	// mcpconv.HealthUnhealthy, or empty when unknown.
	Health string
	Time   time.Time
	ID     string
}

// ServerRegistered emits mcp.router.server.registered.
func (r *Router) ServerRegistered(ctx context.Context, s Server) string {
	rec := r.event(mcpconv.EventServerRegistered, s.Time, log.SeverityInfo)
	rec.AddAttributes(attribute.String(mcpconv.ServerKey, s.Key))
	addNonEmpty(&rec, mcpconv.ServerName, s.Name)
	addNonEmpty(&rec, mcpconv.ServerURL, s.URL)
	addNonEmpty(&rec, mcpconv.ServerVersion, s.Version)
	addNonEmpty(&rec, mcpconv.ServerTransport, s.Transport)
	if len(s.Tools) > 0 {
		rec.AddAttributes(attribute.StringSlice(mcpconv.ServerTools, s.Tools))
	}
	addNonEmpty(&rec, mcpconv.HealthStatus, s.Health)
	return r.emit(ctx, &rec, s.ID)
}

// Deregistration is an upstream server leaving the registry.
type Deregistration struct {
	ServerKey string // required
	Time      time.Time
	ID        string
}

// ServerDeregistered emits mcp.router.server.deregistered.
func (r *Router) ServerDeregistered(ctx context.Context, d Deregistration) string {
	rec := r.event(mcpconv.EventServerDeregistered, d.Time, log.SeverityInfo)
	rec.AddAttributes(attribute.String(mcpconv.ServerKey, d.ServerKey))
	return r.emit(ctx, &rec, d.ID)
}

// HealthChange is an upstream server turning healthy or unhealthy.
type HealthChange struct {
	ServerKey string // required
	Healthy   bool
	Time      time.Time
	ID        string
}

// ServerHealthChanged emits mcp.router.server.health_changed.
func (r *Router) ServerHealthChanged(ctx context.Context, h HealthChange) string {
	rec := r.event(mcpconv.EventServerHealthChanged, h.Time, log.SeverityInfo)
	status := mcpconv.HealthHealthy
	if !h.Healthy {
		status = mcpconv.HealthUnhealthy
		rec.SetSeverity(log.SeverityWarn)
	}
	rec.AddAttributes(attribute.String(mcpconv.ServerKey, h.ServerKey), attribute.String(mcpconv.HealthStatus, status))
	return r.emit(ctx, &rec, h.ID)
}

// BreakerChange is a circuit-breaker transition (circuit_breaker_event).
type BreakerChange struct {
	ServerKey string // required
	// From and To are mcpconv.BreakerClosed, BreakerOpen or BreakerHalfOpen;
	// To is required.
	From, To string
	// FailureCount is the consecutive failures that led here (0: not sent).
	FailureCount int
	// Reason is stored as the event's body.
	Reason string
	Time   time.Time
	ID     string
}

// BreakerStateChange emits mcp.router.circuit_breaker.state_change.
func (r *Router) BreakerStateChange(ctx context.Context, b BreakerChange) string {
	sev := log.SeverityInfo
	if b.To == mcpconv.BreakerOpen {
		sev = log.SeverityWarn
	}
	rec := r.event(mcpconv.EventBreakerStateChange, b.Time, sev)
	rec.AddAttributes(attribute.String(mcpconv.ServerKey, b.ServerKey), attribute.String(mcpconv.BreakerToState, b.To))
	addNonEmpty(&rec, mcpconv.BreakerFromState, b.From)
	if b.FailureCount > 0 {
		rec.AddAttributes(attribute.Int(mcpconv.BreakerFailureCount, b.FailureCount))
	}
	if b.Reason != "" {
		rec.SetBody(attribute.StringValue(b.Reason))
	}
	return r.emit(ctx, &rec, b.ID)
}

// Session is a client session opening (session_record).
type Session struct {
	SessionID       string // required
	Transport       string // sse, streamable_http, stdio
	ProtocolVersion string
	ClientAddress   string
	ServerKey       string
	Time            time.Time
	ID              string
}

// SessionStart emits mcp.router.session.start.
func (r *Router) SessionStart(ctx context.Context, s Session) string {
	rec := r.event(mcpconv.EventSessionStart, s.Time, log.SeverityInfo)
	rec.AddAttributes(attribute.String(mcpconv.SessionID, s.SessionID))
	addNonEmpty(&rec, mcpconv.SessionTransport, s.Transport)
	addNonEmpty(&rec, mcpconv.ProtocolVersion, s.ProtocolVersion)
	addNonEmpty(&rec, mcpconv.ClientAddress, s.ClientAddress)
	addNonEmpty(&rec, mcpconv.ServerKey, s.ServerKey)
	return r.emit(ctx, &rec, s.ID)
}

// SessionStats are a session's counters, cumulative since it started.
type SessionStats struct {
	SessionID string // required
	Requests  int64
	Errors    int64
	Time      time.Time
	ID        string
}

// SessionStats emits mcp.router.session.stats.
func (r *Router) SessionStats(ctx context.Context, s SessionStats) string {
	rec := r.event(mcpconv.EventSessionStats, s.Time, log.SeverityInfo)
	rec.AddAttributes(attribute.String(mcpconv.SessionID, s.SessionID),
		attribute.Int64(mcpconv.SessionRequestCount, s.Requests),
		attribute.Int64(mcpconv.SessionErrorCount, s.Errors))
	return r.emit(ctx, &rec, s.ID)
}

// SessionEnd is a session closing, with its final counters.
type SessionEnd struct {
	SessionID   string // required
	Requests    int64
	Errors      int64
	CloseReason string
	Time        time.Time
	ID          string
}

// SessionEnd emits mcp.router.session.end.
func (r *Router) SessionEnd(ctx context.Context, s SessionEnd) string {
	rec := r.event(mcpconv.EventSessionEnd, s.Time, log.SeverityInfo)
	rec.AddAttributes(attribute.String(mcpconv.SessionID, s.SessionID),
		attribute.Int64(mcpconv.SessionRequestCount, s.Requests),
		attribute.Int64(mcpconv.SessionErrorCount, s.Errors))
	addNonEmpty(&rec, mcpconv.SessionCloseReason, s.CloseReason)
	return r.emit(ctx, &rec, s.ID)
}

// ErrorEvent is an error that belongs to no span (error_log): configuration,
// registry or transport trouble. Emit it with a request's context to link it.
type ErrorEvent struct {
	// Err is the error: exception.type (its Go type), exception.message and,
	// unless Type is set, error.type (ErrorType).
	Err error
	// Type is error.type; default ErrorType(Err).
	Type string
	// Message is the body; default Err's message.
	Message                                       string
	RequestID, SessionID, ServerKey, Method, Tool string
	Time                                          time.Time
	ID                                            string
}

// Error emits mcp.router.error at severity ERROR.
func (r *Router) Error(ctx context.Context, e ErrorEvent) string {
	rec := r.event(mcpconv.EventError, e.Time, log.SeverityError)
	if e.Type == "" {
		e.Type = ErrorType(e.Err)
	}
	if e.Message == "" && e.Err != nil {
		e.Message = e.Err.Error()
	}
	addNonEmpty(&rec, mcpconv.ErrorType, e.Type)
	if e.Err != nil {
		rec.AddAttributes(attribute.String(mcpconv.ExceptionType, typeName(e.Err)),
			attribute.String(mcpconv.ExceptionMessage, e.Err.Error()))
	}
	if e.Message != "" {
		rec.SetBody(attribute.StringValue(e.Message))
	}
	addNonEmpty(&rec, mcpconv.JSONRPCRequestID, e.RequestID)
	addNonEmpty(&rec, mcpconv.SessionID, e.SessionID)
	addNonEmpty(&rec, mcpconv.ServerKey, e.ServerKey)
	addNonEmpty(&rec, mcpconv.MethodName, e.Method)
	addNonEmpty(&rec, mcpconv.ToolName, e.Tool)
	return r.emit(ctx, &rec, e.ID)
}

func (r *Router) event(name string, t time.Time, sev log.Severity) log.Record {
	var rec log.Record
	rec.SetEventName(name)
	rec.SetTimestamp(orNow(t))
	rec.SetSeverity(sev)
	return rec
}

// emit adds the event.id and sends the record.
func (r *Router) emit(ctx context.Context, rec *log.Record, id string) string {
	id = r.eventID(id)
	rec.AddAttributes(attribute.String(mcpconv.EventID, id))
	r.logger.Emit(ctx, *rec)
	return id
}

// PoolStats is the connection pool toward one upstream server.
type PoolStats struct {
	ServerKey             string
	Active, Idle, Pending int64
}

// Values of mcp.router.pool.state (mcpconv's).
const (
	PoolActive  = mcpconv.PoolActive
	PoolIdle    = mcpconv.PoolIdle
	PoolPending = mcpconv.PoolPending
)

// ObservePools registers the mcp.router.pool.connections gauge: pools is
// called at every metric collection and each server gets one point per
// state. Call the returned function to stop observing.
func (r *Router) ObservePools(pools func() []PoolStats) (unregister func() error, err error) {
	gauge, err := r.meter.Int64ObservableGauge(mcpconv.MetricPoolConnections,
		metric.WithUnit("{connection}"),
		metric.WithDescription("Connections of the router's pool toward each upstream server, by state."))
	if err != nil {
		return nil, err
	}
	type poolKey struct{ server, state string }
	var mu sync.Mutex // several readers may collect at once
	sets := map[poolKey]metric.MeasurementOption{}
	option := func(server, state string) metric.MeasurementOption {
		k := poolKey{server, state}
		o, ok := sets[k]
		if !ok {
			o = metric.WithAttributeSet(attribute.NewSet(
				attribute.String(mcpconv.ServerKey, server), attribute.String(mcpconv.PoolState, state)))
			if len(sets) < maxCachedSets {
				sets[k] = o
			}
		}
		return o
	}
	reg, err := r.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range pools() {
			o.ObserveInt64(gauge, p.Active, option(p.ServerKey, PoolActive))
			o.ObserveInt64(gauge, p.Idle, option(p.ServerKey, PoolIdle))
			o.ObserveInt64(gauge, p.Pending, option(p.ServerKey, PoolPending))
		}
		return nil
	}, gauge)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}
