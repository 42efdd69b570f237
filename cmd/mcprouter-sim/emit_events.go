package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// eventsPath is where mcpeventsreceiver takes events.
const eventsPath = "/v1/events"

// eventsEmitter posts NDJSON events to mcpeventsreceiver, for routers that
// run no OpenTelemetry SDK. The event format is the receiver's (one object
// per line, a "type" and flat fields; see receiver/mcpeventsreceiver). It
// sets trace and span ids itself, so the manifest knows them.
type eventsEmitter struct {
	url                     string
	client                  *http.Client
	serviceName, instanceID string
	retryFor                time.Duration
	metricInterval          time.Duration
	stats                   *deliveryStats

	mu        sync.Mutex
	buf       []byte
	n         int
	batchSize int
	stopped   bool

	batches  chan eventBatch
	inFlight sync.WaitGroup
	senders  sync.WaitGroup
	stop     chan struct{}
	tickers  sync.WaitGroup
	pools    func() []instrumentation.PoolStats

	lines sync.Pool
}

type eventBatch struct {
	body []byte
	n    int
}

func newEventsEmitter(endpoint, serviceName, instanceID string, retryFor, metricInterval time.Duration, senders int) *eventsEmitter {
	e := &eventsEmitter{
		url:            endpoint + eventsPath,
		client:         &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}},
		serviceName:    serviceName,
		instanceID:     instanceID,
		retryFor:       retryFor,
		metricInterval: metricInterval,
		stats:          &deliveryStats{},
		batchSize:      1000,
		batches:        make(chan eventBatch, 2*senders),
		stop:           make(chan struct{}),
	}
	e.lines.New = func() any { return new(jsonLine) }
	for range senders {
		e.senders.Add(1)
		go e.send()
	}
	e.tickers.Add(1)
	go e.tick(200 * time.Millisecond)
	return e
}

// jsonLine builds one event object.
type jsonLine struct{ b []byte }

func (j *jsonLine) begin(typ string, id string, at time.Time, e *eventsEmitter) {
	j.b = append(j.b[:0], `{"type":`...)
	j.b = appendJSONString(j.b, typ)
	j.str("id", id)
	j.b = append(j.b, `,"time":`...)
	j.b = strconv.AppendInt(j.b, at.UnixNano(), 10)
	j.str("service_name", e.serviceName)
	j.str("service_instance_id", e.instanceID)
}

func (j *jsonLine) key(k string) {
	j.b = append(j.b, ',', '"')
	j.b = append(j.b, k...)
	j.b = append(j.b, '"', ':')
}

func (j *jsonLine) str(k, v string) {
	if v != "" {
		j.key(k)
		j.b = appendJSONString(j.b, v)
	}
}

func (j *jsonLine) int(k string, v int64) {
	j.key(k)
	j.b = strconv.AppendInt(j.b, v, 10)
}

func (j *jsonLine) millis(k string, d time.Duration) {
	j.key(k)
	j.b = strconv.AppendFloat(j.b, float64(d)/float64(time.Millisecond), 'f', -1, 64)
}

func (j *jsonLine) list(k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	j.key(k)
	j.b = append(j.b, '[')
	for i, v := range vs {
		if i > 0 {
			j.b = append(j.b, ',')
		}
		j.b = appendJSONString(j.b, v)
	}
	j.b = append(j.b, ']')
}

func (j *jsonLine) hexID(k string, id []byte) {
	j.key(k)
	j.b = append(j.b, '"')
	j.b = hex.AppendEncode(j.b, id)
	j.b = append(j.b, '"')
}

// failure adds error_type, error_message and rpc_status_code of err.
func (j *jsonLine) failure(err error) {
	if err == nil {
		return
	}
	j.str("error_type", instrumentation.ErrorType(err))
	j.str("error_message", err.Error())
	j.str("rpc_status_code", instrumentation.RPCStatusCode(err))
}

func (j *jsonLine) exception(err error) {
	j.key("exception")
	j.b = append(j.b, `{"type":`...)
	j.b = appendJSONString(j.b, reflect.TypeOf(err).String())
	j.b = append(j.b, `,"message":`...)
	j.b = appendJSONString(j.b, err.Error())
	j.b = append(j.b, '}')
}

// appendJSONString appends s as a JSON string (s is valid UTF-8 or its
// invalid bytes become U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r)
		i += size
	}
	return append(b, '"')
}

// add queues one finished event line.
func (e *eventsEmitter) add(j *jsonLine) {
	j.b = append(j.b, '}', '\n')
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		e.lines.Put(j)
		return
	}
	e.buf = append(e.buf, j.b...)
	e.n++
	e.lines.Put(j)
	if e.n < e.batchSize {
		e.mu.Unlock()
		return
	}
	b := eventBatch{body: e.buf, n: e.n}
	e.buf, e.n = make([]byte, 0, len(b.body)+len(b.body)/4), 0
	e.inFlight.Add(1)
	e.mu.Unlock()
	e.batches <- b
}

func (e *eventsEmitter) line() *jsonLine { return e.lines.Get().(*jsonLine) }

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

func (e *eventsEmitter) request(r *simRequest) {
	r.traceID, r.spanID = randomTraceID(), randomSpanID()
	var serverKey, strategy string
	var attempt int
	for i := range r.n {
		a := &r.attempts[i]
		serverKey, strategy, attempt = a.choice.ServerKey, a.choice.Strategy, a.choice.Attempt
		a.lbID = instrumentation.NewEventID()
		j := e.line()
		j.begin("lb_decision", a.lbID, a.choice.Time, e)
		j.hexID("trace_id", r.traceID[:])
		j.hexID("span_id", r.spanID[:])
		j.str("request_id", r.info.RequestID)
		j.str("session_id", r.info.SessionID)
		j.str("method", r.info.Method)
		j.str("tool", r.info.Tool)
		j.str("strategy", strategy)
		j.str("server_key", serverKey)
		j.list("candidates", a.choice.Candidates)
		j.str("reason", a.choice.Reason)
		j.key("attributes")
		j.b = append(j.b, `{"`+mcpconv.Attempt+`":`...)
		j.b = strconv.AppendInt(j.b, int64(attempt), 10)
		j.b = append(j.b, '}')
		e.add(j)
		if !a.hasCall {
			continue
		}
		a.spanID = randomSpanID()
		j = e.line()
		j.begin("tool_call", "", a.call.Start, e)
		j.str("tool", r.info.Tool)
		j.millis("duration_ms", a.callEnd.Sub(a.call.Start))
		j.hexID("trace_id", r.traceID[:])
		j.hexID("span_id", a.spanID[:])
		j.hexID("parent_span_id", r.spanID[:])
		j.str("tool_call_id", a.call.CallID)
		j.str("session_id", r.info.SessionID)
		j.str("request_id", r.info.RequestID)
		j.str("server_key", serverKey)
		j.str("server_address", a.call.ServerAddress)
		j.int("server_port", int64(a.call.ServerPort))
		j.int("attempt", int64(attempt))
		j.failure(a.callErr)
		if a.callErr != nil {
			j.exception(a.callErr)
		}
		e.add(j)
	}
	if r.routerErr != nil {
		ev := r.routerErr
		r.routerErrID = instrumentation.NewEventID()
		j := e.line()
		j.begin("error", r.routerErrID, ev.Time, e)
		j.str("message", ev.Err.Error())
		j.str("error_type", instrumentation.ErrorType(ev.Err))
		j.exception(ev.Err)
		j.hexID("trace_id", r.traceID[:])
		j.hexID("span_id", r.spanID[:])
		j.str("request_id", ev.RequestID)
		j.str("session_id", ev.SessionID)
		j.str("method", ev.Method)
		j.str("tool", ev.Tool)
		j.str("severity", "ERROR")
		e.add(j)
	}
	j := e.line()
	j.begin("routing", "", r.info.Start, e)
	j.str("method", r.info.Method)
	j.millis("duration_ms", r.end.Sub(r.info.Start))
	j.hexID("trace_id", r.traceID[:])
	j.hexID("span_id", r.spanID[:])
	j.str("tool", r.info.Tool)
	j.str("resource_uri", r.info.ResourceURI)
	j.str("session_id", r.info.SessionID)
	j.str("request_id", r.info.RequestID)
	j.str("server_key", serverKey)
	j.str("strategy", strategy)
	if attempt > 0 {
		j.int("attempt", int64(attempt))
	}
	j.failure(r.err)
	j.str("protocol_version", r.info.ProtocolVersion)
	j.str("transport", r.info.Transport)
	j.str("client_address", r.info.ClientAddress)
	e.add(j)
}

func severity(warn bool) string {
	if warn {
		return "WARN"
	}
	return "INFO"
}

func (e *eventsEmitter) healthCheck(h instrumentation.HealthCheck) string {
	id := instrumentation.NewEventID()
	j := e.line()
	j.begin("health_check", id, h.Time, e)
	j.str("server_key", h.ServerKey)
	j.str("health_status", healthText(h.Healthy))
	j.str("check", h.Check)
	j.millis("latency_ms", h.Latency)
	if h.Err != nil {
		j.str("error_type", instrumentation.ErrorType(h.Err))
		j.str("message", h.Err.Error())
	}
	j.str("severity", severity(!h.Healthy))
	e.add(j)
	return id
}

func (e *eventsEmitter) serverRegistered(s instrumentation.Server) string {
	id := instrumentation.NewEventID()
	j := e.line()
	j.begin("server_registered", id, s.Time, e)
	j.str("server_key", s.Key)
	j.str("name", s.Name)
	j.str("url", s.URL)
	j.str("version", s.Version)
	j.str("transport", s.Transport)
	j.list("tools", s.Tools)
	j.str("health_status", s.Health)
	j.str("severity", "INFO")
	e.add(j)
	return id
}

func (e *eventsEmitter) serverDeregistered(d instrumentation.Deregistration) string {
	id := instrumentation.NewEventID()
	j := e.line()
	j.begin("server_deregistered", id, d.Time, e)
	j.str("server_key", d.ServerKey)
	j.str("severity", "INFO")
	e.add(j)
	return id
}

func (e *eventsEmitter) serverHealthChanged(h instrumentation.HealthChange) string {
	id := instrumentation.NewEventID()
	j := e.line()
	j.begin("server_health_changed", id, h.Time, e)
	j.str("server_key", h.ServerKey)
	j.str("health_status", healthText(h.Healthy))
	j.str("severity", severity(!h.Healthy))
	e.add(j)
	return id
}

func (e *eventsEmitter) breakerStateChange(b instrumentation.BreakerChange) string {
	id := instrumentation.NewEventID()
	j := e.line()
	j.begin("circuit_breaker_state_change", id, b.Time, e)
	j.str("server_key", b.ServerKey)
	j.str("to_state", b.To)
	j.str("from_state", b.From)
	if b.FailureCount > 0 {
		j.int("failure_count", int64(b.FailureCount))
	}
	j.str("reason", b.Reason)
	j.str("severity", severity(b.To == mcpconv.BreakerOpen))
	e.add(j)
	return id
}

func (e *eventsEmitter) sessionStart(s instrumentation.Session) string {
	id := instrumentation.NewEventID()
	j := e.line()
	j.begin("session_start", id, s.Time, e)
	j.str("session_id", s.SessionID)
	j.str("transport", s.Transport)
	j.str("protocol_version", s.ProtocolVersion)
	j.str("client_address", s.ClientAddress)
	j.str("server_key", s.ServerKey)
	e.add(j)
	return id
}

func (e *eventsEmitter) sessionStats(s instrumentation.SessionStats) string {
	id := instrumentation.NewEventID()
	j := e.line()
	j.begin("session_stats", id, s.Time, e)
	j.str("session_id", s.SessionID)
	j.int("request_count", s.Requests)
	j.int("error_count", s.Errors)
	e.add(j)
	return id
}

func (e *eventsEmitter) sessionEnd(s instrumentation.SessionEnd) string {
	id := instrumentation.NewEventID()
	j := e.line()
	j.begin("session_end", id, s.Time, e)
	j.str("session_id", s.SessionID)
	j.int("request_count", s.Requests)
	j.int("error_count", s.Errors)
	j.str("close_reason", s.CloseReason)
	e.add(j)
	return id
}

func (e *eventsEmitter) observePools(pools func() []instrumentation.PoolStats) error {
	e.mu.Lock()
	e.pools = pools
	e.mu.Unlock()
	e.tickers.Add(1)
	go func() {
		defer e.tickers.Done()
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
	}()
	return nil
}

func (e *eventsEmitter) poolStats(pools func() []instrumentation.PoolStats) {
	now := time.Now()
	for _, p := range pools() {
		j := e.line()
		j.begin("pool_stats", "", now, e)
		j.str("server_key", p.ServerKey)
		j.int("active", p.Active)
		j.int("idle", p.Idle)
		j.int("pending", p.Pending)
		e.add(j)
	}
}

func (e *eventsEmitter) tick(every time.Duration) {
	defer e.tickers.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.sendPartial()
		}
	}
}

func (e *eventsEmitter) sendPartial() {
	e.mu.Lock()
	if e.stopped || e.n == 0 {
		e.mu.Unlock()
		return
	}
	b := eventBatch{body: e.buf, n: e.n}
	e.buf, e.n = nil, 0
	e.inFlight.Add(1)
	e.mu.Unlock()
	e.batches <- b
}

// send posts batches until the channel closes.
func (e *eventsEmitter) send() {
	defer e.senders.Done()
	for b := range e.batches {
		if err := e.post(b); err != nil {
			e.stats.eventsFailed.Add(int64(b.n))
			e.stats.note(err)
		} else {
			e.stats.eventsPosted.Add(int64(b.n))
		}
		e.inFlight.Done()
	}
}

// post sends one batch, retrying what the receiver says is temporary (503,
// 429, any 5xx, no connection) within retryFor; the event ids make a
// repeated batch safe.
func (e *eventsEmitter) post(b eventBatch) error {
	deadline := time.Now().Add(e.retryFor)
	wait := 100 * time.Millisecond
	for {
		req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(b.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := e.client.Do(req)
		var msg string
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				return nil
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
				msg = resp.Status + ": " + string(bytes.TrimSpace(body))
				if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
					wait = max(wait, time.Duration(s)*time.Second)
				}
			default:
				return fmt.Errorf("events: %s refused %d events: %s: %s", e.url, b.n, resp.Status, bytes.TrimSpace(body))
			}
		} else {
			msg = err.Error()
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("events: %s: gave up after %s: %s", e.url, e.retryFor, msg)
		}
		e.stats.requestsRetried.Add(1)
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
}

// shutdown reports the pools a last time, posts what is buffered and stops.
func (e *eventsEmitter) shutdown(ctx context.Context) error {
	e.mu.Lock()
	pools := e.pools
	e.mu.Unlock()
	if pools != nil {
		e.poolStats(pools)
	}
	close(e.stop)
	e.tickers.Wait()
	e.sendPartial()
	drained := make(chan struct{})
	go func() {
		e.inFlight.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = errors.New("events: batches still in flight at the flush deadline")
	}
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	if err == nil {
		close(e.batches)
		e.senders.Wait()
	}
	return err
}

func (e *eventsEmitter) delivery() simmanifest.Delivery { return e.stats.snapshot() }
