package routersim

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"reflect"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/instrumentation/eventsclient"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// eventsEmitter sends JSON events to mcpeventsreceiver through
// instrumentation/eventsclient, as a router without an OpenTelemetry SDK
// would. It sets trace, span and event ids itself, so the manifest knows
// them.
type eventsEmitter struct {
	c              *eventsclient.Client
	stats          *deliveryStats // the errors of the batches not delivered
	metricInterval time.Duration

	mu      sync.Mutex
	pools   func() []instrumentation.PoolStats
	stop    chan struct{}
	tickers sync.WaitGroup
}

// eventsConfig says where and how the events go.
type eventsConfig struct {
	Endpoint    string // base URL
	ServiceName string
	InstanceID  string
	// RetryFor bounds the retries of one batch.
	RetryFor       time.Duration
	MetricInterval time.Duration
	Senders        int
	// HTTPClient sends the requests (nil: the events client's default).
	HTTPClient *http.Client
}

func newEventsEmitter(cfg eventsConfig) (*eventsEmitter, error) {
	e := &eventsEmitter{stats: &deliveryStats{}, metricInterval: cfg.MetricInterval, stop: make(chan struct{})}
	var err error
	e.c, err = eventsclient.New(eventsclient.Config{
		Endpoint:      cfg.Endpoint,
		Resource:      eventsclient.Resource{ServiceName: cfg.ServiceName, ServiceInstanceID: cfg.InstanceID},
		HTTPClient:    cfg.HTTPClient,
		BatchSize:     1000,
		FlushInterval: 200 * time.Millisecond,
		Senders:       cfg.Senders,
		RetryFor:      cfg.RetryFor,
		OnError:       e.stats.note,
	})
	return e, err
}

func randomTraceID() trace.TraceID {
	var id trace.TraceID
	binary.LittleEndian.PutUint64(id[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rand.Uint64())
	return id
}

func randomSpanID() trace.SpanID {
	var id trace.SpanID
	for id == (trace.SpanID{}) {
		binary.LittleEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

// exception is err as the exception of a span or error event.
func exception(err error) eventsclient.Exception {
	return eventsclient.Exception{Type: reflect.TypeOf(err).String(), Message: err.Error()}
}

func (e *eventsEmitter) request(r *simRequest) {
	r.traceID, r.spanID = randomTraceID(), randomSpanID()
	tid, sid := eventsclient.TraceID(r.traceID), eventsclient.SpanID(r.spanID)
	var serverKey, strategy string
	var attempt int
	for i := range r.n {
		a := &r.attempts[i]
		serverKey, strategy, attempt = a.choice.ServerKey, a.choice.Strategy, a.choice.Attempt
		a.lbID = instrumentation.NewEventID()
		e.c.Add(&eventsclient.LBDecision{ID: a.lbID, Time: a.choice.Time, TraceID: tid, SpanID: sid,
			RequestID: r.info.RequestID, SessionID: r.info.SessionID, Method: r.info.Method, Tool: r.info.Tool,
			Strategy: strategy, ServerKey: serverKey, Candidates: a.choice.Candidates, Reason: a.choice.Reason,
			Attributes: []eventsclient.Attribute{eventsclient.Int(mcpconv.Attempt, attempt)}})
		if !a.hasCall {
			continue
		}
		a.spanID = randomSpanID()
		call := eventsclient.ToolCall{Time: a.call.Start, Tool: r.info.Tool, Duration: a.callEnd.Sub(a.call.Start),
			TraceID: tid, SpanID: eventsclient.SpanID(a.spanID), ParentSpanID: sid, ToolCallID: a.call.CallID,
			SessionID: r.info.SessionID, RequestID: r.info.RequestID, ServerKey: serverKey,
			ServerAddress: a.call.ServerAddress, ServerPort: a.call.ServerPort, Attempt: attempt}
		var exc eventsclient.Exception
		if err := a.callErr; err != nil {
			call.ErrorType, call.ErrorMessage, call.RPCStatusCode = instrumentation.ErrorType(err), err.Error(), instrumentation.RPCStatusCode(err)
			exc = exception(err)
			call.Exception = &exc
		}
		e.c.Add(&call)
	}
	if ev := r.routerErr; ev != nil {
		r.routerErrID = instrumentation.NewEventID()
		exc := exception(ev.Err)
		e.c.Add(&eventsclient.ErrorEvent{ID: r.routerErrID, Time: ev.Time, Message: ev.Err.Error(),
			ErrorType: instrumentation.ErrorType(ev.Err), Exception: &exc, TraceID: tid, SpanID: sid,
			RequestID: ev.RequestID, SessionID: ev.SessionID, Method: ev.Method, Tool: ev.Tool,
			Severity: eventsclient.SeverityError})
	}
	routing := eventsclient.Routing{Time: r.info.Start, Method: r.info.Method, Duration: r.end.Sub(r.info.Start),
		TraceID: tid, SpanID: sid, Tool: r.info.Tool, ResourceURI: r.info.ResourceURI, SessionID: r.info.SessionID,
		RequestID: r.info.RequestID, ServerKey: serverKey, Strategy: strategy, Attempt: attempt,
		ProtocolVersion: r.info.ProtocolVersion, Transport: r.info.Transport, ClientAddress: r.info.ClientAddress}
	if err := r.err; err != nil {
		routing.ErrorType, routing.ErrorMessage, routing.RPCStatusCode = instrumentation.ErrorType(err), err.Error(), instrumentation.RPCStatusCode(err)
	}
	e.c.Add(&routing)
}

func severity(warn bool) string {
	if warn {
		return eventsclient.SeverityWarn
	}
	return eventsclient.SeverityInfo
}

func (e *eventsEmitter) healthCheck(h instrumentation.HealthCheck) string {
	ev := eventsclient.HealthCheck{ID: instrumentation.NewEventID(), Time: h.Time, ServerKey: h.ServerKey,
		Healthy: h.Healthy, Check: h.Check, Latency: h.Latency, Severity: severity(!h.Healthy)}
	if h.Err != nil {
		ev.ErrorType, ev.Message = instrumentation.ErrorType(h.Err), h.Err.Error()
	}
	e.c.Add(&ev)
	return ev.ID
}

func (e *eventsEmitter) serverRegistered(s instrumentation.Server) string {
	id := instrumentation.NewEventID()
	e.c.Add(&eventsclient.ServerRegistered{ID: id, Time: s.Time, ServerKey: s.Key, Name: s.Name, URL: s.URL,
		Version: s.Version, Transport: s.Transport, Tools: s.Tools, Health: s.Health, Severity: eventsclient.SeverityInfo})
	return id
}

func (e *eventsEmitter) serverDeregistered(d instrumentation.Deregistration) string {
	id := instrumentation.NewEventID()
	e.c.Add(&eventsclient.ServerDeregistered{ID: id, Time: d.Time, ServerKey: d.ServerKey, Severity: eventsclient.SeverityInfo})
	return id
}

func (e *eventsEmitter) serverHealthChanged(h instrumentation.HealthChange) string {
	id := instrumentation.NewEventID()
	e.c.Add(&eventsclient.ServerHealthChanged{ID: id, Time: h.Time, ServerKey: h.ServerKey, Healthy: h.Healthy,
		Severity: severity(!h.Healthy)})
	return id
}

func (e *eventsEmitter) breakerStateChange(b instrumentation.BreakerChange) string {
	id := instrumentation.NewEventID()
	e.c.Add(&eventsclient.BreakerStateChange{ID: id, Time: b.Time, ServerKey: b.ServerKey, From: b.From, To: b.To,
		FailureCount: b.FailureCount, Reason: b.Reason, Severity: severity(b.To == mcpconv.BreakerOpen)})
	return id
}

func (e *eventsEmitter) sessionStart(s instrumentation.Session) string {
	id := instrumentation.NewEventID()
	e.c.Add(&eventsclient.SessionStart{ID: id, Time: s.Time, SessionID: s.SessionID, Transport: s.Transport,
		ProtocolVersion: s.ProtocolVersion, ClientAddress: s.ClientAddress, ServerKey: s.ServerKey})
	return id
}

func (e *eventsEmitter) sessionStats(s instrumentation.SessionStats) string {
	id := instrumentation.NewEventID()
	e.c.Add(&eventsclient.SessionStats{ID: id, Time: s.Time, SessionID: s.SessionID, Requests: s.Requests, Errors: s.Errors})
	return id
}

func (e *eventsEmitter) sessionEnd(s instrumentation.SessionEnd) string {
	id := instrumentation.NewEventID()
	e.c.Add(&eventsclient.SessionEnd{ID: id, Time: s.Time, SessionID: s.SessionID, Requests: s.Requests,
		Errors: s.Errors, CloseReason: s.CloseReason})
	return id
}

// observePools sends the pool sizes every metric interval.
func (e *eventsEmitter) observePools(pools func() []instrumentation.PoolStats) error {
	e.mu.Lock()
	e.pools = pools
	e.mu.Unlock()
	e.tickers.Go(func() {
		t := time.NewTicker(e.metricInterval)
		defer t.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-t.C:
				e.poolStats(pools)
			}
		}
	})
	return nil
}

func (e *eventsEmitter) poolStats(pools func() []instrumentation.PoolStats) {
	now := time.Now()
	for _, p := range pools() {
		e.c.Add(&eventsclient.PoolStats{Time: now, ServerKey: p.ServerKey, Active: p.Active, Idle: p.Idle, Pending: p.Pending})
	}
}

// shutdown reports the pools a last time and delivers what is buffered
// within ctx; the requests still in flight when ctx ends are cancelled.
func (e *eventsEmitter) shutdown(ctx context.Context) error {
	e.mu.Lock()
	pools := e.pools
	e.mu.Unlock()
	if pools != nil {
		e.poolStats(pools)
	}
	close(e.stop)
	e.tickers.Wait()
	return e.c.Shutdown(ctx)
}

func (e *eventsEmitter) delivery() simmanifest.Delivery {
	d := e.stats.snapshot()
	s := e.c.Stats()
	d.EventsPosted, d.EventsFailed, d.Retries = s.Posted, s.Failed+s.Dropped, s.Retries
	return d
}
