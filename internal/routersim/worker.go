package routersim

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
)

// simRequest is one routed request as simulated, before and after it is
// emitted; a worker reuses one.
type simRequest struct {
	info     instrumentation.RequestInfo
	end      time.Time
	err      error
	attempts [2]simAttempt
	n        int // attempts used
	// routerErr, when set, is emitted in the request's context.
	routerErr *instrumentation.ErrorEvent

	// Set by the emitter.
	traceID     trace.TraceID
	spanID      trace.SpanID
	routerErrID string
}

// simAttempt is one load-balancer choice and, for tools/call, the call.
type simAttempt struct {
	choice  instrumentation.Choice
	lbID    string // set by the emitter
	hasCall bool
	call    instrumentation.ToolCallInfo
	callEnd time.Time
	callErr error
	spanID  trace.SpanID // set by the emitter

	// offsets from the request's start while it is being simulated
	startOffset, endOffset time.Duration
}

// simSession is one client session owned by a worker.
type simSession struct {
	id              string
	clientAddress   string
	protocolVersion string
	transport       string
	requests        int64
	errors          int64
	endsAt          time.Time
	nextStats       time.Time
}

// worker generates a share of the traffic with its own random source and
// sessions, so that the hot path takes no lock of the fleet's but the
// breakers'.
type worker struct {
	f        *fleet
	rng      *rand.Rand
	rec      *simmanifest.Recorder
	sessions []*simSession
	req      simRequest
	routeErr instrumentation.ErrorEvent
}

func newWorker(f *fleet, seed uint64, sessions int) *worker {
	return &worker{
		f:        f,
		rng:      rand.New(rand.NewPCG(seed, seed^0x6d63702d726f7574)),
		rec:      simmanifest.NewRecorder(f.man, f.count),
		sessions: make([]*simSession, sessions),
	}
}

// run sends requests at rate per second (0: as fast as possible) until ctx
// ends or claim refuses, then closes the worker's sessions.
func (w *worker) run(ctx context.Context, rate float64, claim func() bool) {
	start := time.Now()
	for i := range w.sessions {
		w.sessions[i] = w.openSession(start)
	}
	var sent int64
	nextMaintain := start
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(nextMaintain) {
			w.maintainSessions(now)
			w.rec.FlushIfFull()
			nextMaintain = now.Add(100 * time.Millisecond)
		}
		burst := int64(256)
		if rate > 0 {
			due := int64(math.Floor(now.Sub(start).Seconds() * rate))
			burst = min(due-sent, 4096)
			if burst <= 0 {
				// Next request's due time; sleep at least a millisecond.
				wait := time.Duration(float64(sent+1)/rate*float64(time.Second)) - now.Sub(start)
				sleep(ctx, max(wait, time.Millisecond))
				continue
			}
		}
		for range burst {
			if !claim() {
				w.closeSessions(time.Now(), "router_shutdown")
				return
			}
			w.request(time.Now())
			sent++
		}
	}
	w.closeSessions(time.Now(), "router_shutdown")
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// request simulates and emits one routed request that ends at now.
func (w *worker) request(now time.Time) {
	f, rng, r := w.f, w.rng, &w.req
	s := w.sessions[rng.IntN(len(w.sessions))]
	s.requests++
	*r = simRequest{}
	r.info = instrumentation.RequestInfo{
		Method:          pick(rng, methodMix),
		SessionID:       s.id,
		RequestID:       strconv.FormatInt(s.requests, 10),
		ProtocolVersion: s.protocolVersion,
		Transport:       "tcp",
		ClientAddress:   s.clientAddress,
	}
	// Offsets from the request's start; made absolute once the total is known.
	elapsed := routerOverhead.draw(rng)
	switch r.info.Method {
	case methodToolsCall:
		d := rng.IntN(len(f.domains))
		r.info.Tool = f.domains[d].tools[rng.IntN(len(f.domains[d].tools))]
		var prev *upstream
		for attempt := 1; attempt <= len(r.attempts); attempt++ {
			u, candidates := f.choose(d, prev)
			if u == nil {
				if attempt == 1 {
					w.noUpstream(d, now)
				}
				break
			}
			u.calls.Add(1)
			a := &r.attempts[r.n]
			r.n++
			a.choice = instrumentation.Choice{ServerKey: u.key, Strategy: strategyRoundRobin, Attempt: attempt,
				Candidates: candidates, Reason: "next in turn"}
			a.hasCall = true
			a.call = instrumentation.ToolCallInfo{CallID: w.callID(), ServerAddress: u.address, ServerPort: u.port, Attempt: attempt}
			a.callErr = f.callOutcome(rng, u, r.info.Tool, now)
			callDuration := toolLatency.draw(rng)
			if _, ok := a.callErr.(*TimeoutError); ok { //nolint:errorlint // the simulator's own errors are never wrapped; no errors.As per request
				callDuration = upstreamTimeout
			}
			a.startOffset = elapsed
			elapsed += callDuration
			a.endOffset = elapsed
			f.callResult(w.rec, u, a.callErr != nil, now)
			r.err = a.callErr
			if !retryable(a.callErr) {
				break
			}
			prev = u
		}
	case methodResourcesRead:
		d := rng.IntN(len(f.domains))
		res := domains[d].resources
		r.info.ResourceURI = res[rng.IntN(len(res))]
		if u, candidates := f.choose(d, nil); u != nil {
			r.attempts[0].choice = instrumentation.Choice{ServerKey: u.key, Strategy: strategyRoundRobin, Attempt: 1,
				Candidates: candidates, Reason: "next in turn"}
			r.attempts[0].startOffset = elapsed
			r.n = 1
			elapsed += methodLatency[r.info.Method].draw(rng)
			if rng.Float64() < f.cfg.ErrorRate {
				r.err = routerFailures[r.info.Method]()
			}
		} else {
			w.noUpstream(d, now)
		}
	default:
		elapsed += methodLatency[r.info.Method].draw(rng)
		if rng.Float64() < f.cfg.ErrorRate {
			r.err = routerFailures[r.info.Method]()
			if _, ok := r.err.(*TimeoutError); ok { //nolint:errorlint // as above
				elapsed += upstreamTimeout
			}
		}
	}
	elapsed += routerOverhead.draw(rng) / 2

	start := now.Add(-elapsed)
	r.info.Start, r.end = start, now
	for i := range r.n {
		a := &r.attempts[i]
		a.choice.Time = start.Add(a.startOffset)
		if a.hasCall {
			a.call.Start, a.callEnd = start.Add(a.startOffset), start.Add(a.endOffset)
		}
	}
	if r.err != nil {
		s.errors++
	}
	f.em.request(r)
	w.recordRequest(r)
}

// noUpstream fails the request; a router error event reports it, at most
// once per domain and second.
func (w *worker) noUpstream(d int, now time.Time) {
	r := &w.req
	r.err = &NoUpstreamError{Domain: w.f.domains[d].name}
	last := &w.f.lastNoUpstream[d]
	prev := last.Load()
	if now.UnixNano()-prev < int64(time.Second) || !last.CompareAndSwap(prev, now.UnixNano()) {
		return
	}
	w.routeErr = instrumentation.ErrorEvent{Err: r.err, RequestID: r.info.RequestID, SessionID: r.info.SessionID,
		Method: r.info.Method, Tool: r.info.Tool, Time: now}
	r.routerErr = &w.routeErr
}

// retryable errors move the call to another replica.
func retryable(err error) bool {
	switch e := err.(type) { //nolint:errorlint // the simulator's own errors are never wrapped
	case *TimeoutError:
		return true
	case *instrumentation.RPCError:
		return e.Code == -32603
	}
	return false
}

// recordRequest writes what the request stored into the manifest.
func (w *worker) recordRequest(r *simRequest) {
	rec := w.rec
	rec.Span(simmanifest.KindRouting, r.traceID, r.spanID, r.err != nil)
	if r.err != nil {
		rec.SpanError(r.traceID, r.spanID, -1) // span_status row
	}
	for i := range r.n {
		a := &r.attempts[i]
		if a.lbID != "" {
			rec.Event(simmanifest.KindLBDecision, a.lbID, false)
		}
		if a.hasCall {
			rec.Span(simmanifest.KindToolCall, r.traceID, a.spanID, a.callErr != nil)
			if a.callErr != nil {
				rec.SpanError(r.traceID, a.spanID, 0) // the exception event
			}
		}
	}
	if r.routerErrID != "" {
		rec.Event(simmanifest.KindError, r.routerErrID, true)
	}
}

func (w *worker) openSession(now time.Time) *simSession {
	rng := w.rng
	s := &simSession{
		id:              uuid(rng),
		clientAddress:   "10." + strconv.Itoa(20+rng.IntN(4)) + "." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(1+rng.IntN(254)),
		protocolVersion: pick(rng, protocolVersionMix),
		transport:       pick(rng, sessionTransportMix),
		endsAt:          now.Add(time.Duration(rng.ExpFloat64() * float64(w.f.cfg.SessionLife))),
		nextStats:       now.Add(w.f.cfg.SessionStats),
	}
	w.f.em.sessionStart(instrumentation.Session{SessionID: s.id, Transport: s.transport,
		ProtocolVersion: s.protocolVersion, ClientAddress: s.clientAddress, Time: now})
	w.rec.Count(simmanifest.KindSessionEvent, false)
	return s
}

// maintainSessions reports stats that are due and replaces ended sessions.
func (w *worker) maintainSessions(now time.Time) {
	for i, s := range w.sessions {
		if !now.Before(s.endsAt) {
			w.endSession(s, now, pick(w.rng, closeReasonMix))
			w.sessions[i] = w.openSession(now)
			continue
		}
		if !now.Before(s.nextStats) {
			s.nextStats = s.nextStats.Add(w.f.cfg.SessionStats)
			w.f.em.sessionStats(instrumentation.SessionStats{SessionID: s.id, Requests: s.requests, Errors: s.errors, Time: now})
			w.rec.Count(simmanifest.KindSessionEvent, false)
		}
	}
}

func (w *worker) endSession(s *simSession, now time.Time, reason string) {
	w.f.em.sessionEnd(instrumentation.SessionEnd{SessionID: s.id, Requests: s.requests, Errors: s.errors,
		CloseReason: reason, Time: now})
	w.rec.Count(simmanifest.KindSessionEvent, false)
	w.rec.Session(s.id, s.requests, s.errors, true)
}

func (w *worker) closeSessions(now time.Time, reason string) {
	for _, s := range w.sessions {
		if s != nil {
			w.endSession(s, now, reason)
		}
	}
	w.sessions = w.sessions[:0]
	w.rec.Flush()
}

var sessionTransportMix = []weighted[string]{{70, "streamable_http"}, {30, "sse"}}

var closeReasonMix = []weighted[string]{{80, "client_closed"}, {20, "idle_timeout"}}

// uuid returns a random (version 4 layout) UUID.
func uuid(rng *rand.Rand) string {
	hi, lo := rng.Uint64(), rng.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12
	lo = lo&^(0x3<<62) | 0x2<<62
	const digits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 0xf
		} else {
			nib = lo >> (60 - 4*(i-16)) & 0xf
		}
		b[j] = digits[nib]
		j++
	}
	return string(b[:])
}

func (w *worker) callID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [len("call_") + 24]byte
	copy(b[:], "call_")
	for i := len("call_"); i < len(b); i++ {
		b[i] = alphabet[w.rng.IntN(len(alphabet))]
	}
	return string(b[:])
}

// claimer hands out request slots until limit (0: no limit).
func claimer(limit int64) func() bool {
	var n atomic.Int64
	return func() bool { return limit == 0 || n.Add(1) <= limit }
}
