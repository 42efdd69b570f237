package mcpeventsreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

// EventsPath is where events are posted.
const EventsPath = "/v1/events"

// Reasons of otelcol_receiver_mcpevents_requests_rejected.
const (
	reasonInvalidEvent        = "invalid_event"
	reasonNoEvents            = "no_events"
	reasonBodyTooLarge        = "body_too_large"
	reasonTooManyEvents       = "too_many_events"
	reasonUnsupportedMedia    = "unsupported_media_type"
	reasonUnsupportedEncoding = "unsupported_encoding"
	reasonMethodNotAllowed    = "method_not_allowed"
	reasonUnauthorized        = "unauthorized"
	reasonUnreadableBody      = "unreadable_body"
	reasonReadTimeout         = "read_timeout"
)

// keepBodyBuffer is the largest body buffer returned to the pool, so that
// one huge request does not pin its memory for ever.
const keepBodyBuffer = 4 << 20

// eventsReceiver serves POST /v1/events for the traces, logs and metrics
// pipelines of one mcpevents component.
type eventsReceiver struct {
	cfg       *Config
	settings  receiver.Settings
	obsrep    *receiverhelper.ObsReport
	telemetry *metadata.TelemetryBuilder

	nextTraces  consumer.Traces
	nextLogs    consumer.Logs
	nextMetrics consumer.Metrics

	server     *http.Server
	listener   net.Listener
	shutdownWG sync.WaitGroup

	bodies   sync.Pool
	decoders sync.Pool

	// inflight counts what admit let in (max_requests_in_flight,
	// max_bytes_in_flight).
	inflight inflight
}

func newEventsReceiver(cfg *Config, set receiver.Settings) (*eventsReceiver, error) {
	obsrep, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	r := &eventsReceiver{cfg: cfg, settings: set, obsrep: obsrep, telemetry: tb}
	r.bodies.New = func() any { return new(bytes.Buffer) }
	r.inflight.maxRequests = int64(cfg.MaxRequestsInFlight)
	r.inflight.maxBytes = cfg.MaxBytesInFlight
	return r, nil
}

// Start starts the HTTP server; the pipelines sharing the receiver start it
// once (see receivers).
func (r *eventsReceiver) Start(ctx context.Context, host component.Host) error {
	mux := http.NewServeMux()
	mux.HandleFunc(EventsPath, r.serveEvents)
	server, err := r.cfg.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, mux,
		confighttp.WithErrorHandler(r.serverError))
	if err != nil {
		return err
	}
	server.Handler = r.admit(server.Handler)
	ln, err := r.cfg.ToListener(ctx)
	if err != nil {
		return err
	}
	r.server, r.listener = server, ln
	r.settings.Logger.Info("Starting HTTP server", zap.String("endpoint", ln.Addr().String()),
		zap.String("path", EventsPath))
	r.shutdownWG.Go(func() {
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	})
	return nil
}

// Shutdown stops the server when the last pipeline sharing it shuts down.
func (r *eventsReceiver) Shutdown(ctx context.Context) error {
	var err error
	if r.server != nil {
		// Past ctx's deadline the connections still open are cut, so that
		// their clients see it instead of waiting on a collector that left.
		if err = r.server.Shutdown(ctx); err != nil {
			_ = r.server.Close()
		}
	}
	r.shutdownWG.Wait()
	return err
}

func (r *eventsReceiver) pipelines() [numSignals]bool {
	return [numSignals]bool{
		signalTraces:  r.nextTraces != nil,
		signalLogs:    r.nextLogs != nil,
		signalMetrics: r.nextMetrics != nil,
	}
}

// errorBody is the JSON body of every answer but 200.
type errorBody struct {
	Error string `json:"error"`
	// Details lists the problems of a refused request, at most 100.
	Details []problem `json:"details,omitempty"`
	// MoreDetails counts the problems left out of Details.
	MoreDetails int `json:"more_details,omitempty"`
}

// acceptedBody is the JSON body of a 200 answer.
type acceptedBody struct {
	Accepted int `json:"accepted"`
}

// invalidEventsMessage is the error of a 400 answer listing problems.
const invalidEventsMessage = "invalid events, nothing was accepted"

// writeJSON answers. The server's write deadline (write_timeout) runs from
// the end of the request headers, so a slow upload or a slow pipeline would
// use it up and the answer of a stored request would be lost: the answer
// gets write_timeout from now instead.
func (r *eventsReceiver) writeJSON(w http.ResponseWriter, status int, body any) {
	if d := r.cfg.WriteTimeout; d > 0 {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
	}
	buf, err := json.Marshal(body)
	if err != nil { // cannot happen with the bodies above
		buf = []byte(`{"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(buf, '\n'))
}

// reject answers a request refused before anything was handed on.
func (r *eventsReceiver) reject(ctx context.Context, w http.ResponseWriter, status int, reason string, body errorBody) {
	r.telemetry.ReceiverMcpeventsRequestsRejected.Add(ctx, 1,
		metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))
	r.writeJSON(w, status, body)
}

// retryAfter is retry_after in whole seconds, rounded up.
func (r *eventsReceiver) retryAfter() string {
	return strconv.Itoa(int(math.Ceil(r.cfg.RetryAfter.Seconds())))
}

// refuse answers 503 with Retry-After a request that the receiver has no
// room for (max_requests_in_flight, max_bytes_in_flight).
func (r *eventsReceiver) refuse(ctx context.Context, w http.ResponseWriter, reason, msg string) {
	r.telemetry.ReceiverMcpeventsRequestsRefused.Add(ctx, 1,
		metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))
	ra := r.retryAfter()
	w.Header().Set("Retry-After", ra)
	r.writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: msg + "; nothing was accepted, retry after " + ra + " s"})
}

// serverError answers for confighttp: a failed authentication, an
// unsupported or corrupt Content-Encoding.
func (r *eventsReceiver) serverError(w http.ResponseWriter, req *http.Request, msg string, status int) {
	reason := reasonUnreadableBody
	switch {
	case status == http.StatusUnauthorized:
		reason = reasonUnauthorized
	case strings.HasPrefix(msg, "unsupported Content-Encoding"):
		status, reason = http.StatusUnsupportedMediaType, reasonUnsupportedEncoding
	}
	r.reject(req.Context(), w, status, reason, errorBody{Error: msg})
}

// formatOf tells the framing of a Content-Type; ok is false for anything
// else.
func formatOf(contentType string) (bodyFormat, bool) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return 0, false
	}
	switch mediaType {
	case "application/json":
		return formatJSON, true
	case "application/x-ndjson", "application/ndjson":
		return formatNDJSON, true
	}
	return 0, false
}

// serveEvents answers POST /v1/events, behind admit.
func (r *eventsReceiver) serveEvents(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.reject(ctx, w, http.StatusMethodNotAllowed, reasonMethodNotAllowed,
			errorBody{Error: "method " + req.Method + " not allowed: POST events to " + EventsPath})
		return
	}
	contentType := req.Header.Get("Content-Type")
	format, ok := formatOf(contentType)
	if !ok {
		r.reject(ctx, w, http.StatusUnsupportedMediaType, reasonUnsupportedMedia, errorBody{Error: "unsupported Content-Type " +
			strconv.Quote(contentType) + ": send application/json (an array of events) or application/x-ndjson (one event per line)"})
		return
	}

	buf := r.bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= keepBodyBuffer {
			r.bodies.Put(buf)
		}
	}()
	t, _ := ctx.Value(ticketKey{}).(*ticket)
	if t == nil { // only admit lets a request in
		r.writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error: request not admitted"})
		return
	}
	if err := t.readBody(buf, req.Body); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.Is(err, errOverCapacity):
			r.refuse(ctx, w, reasonBytesInFlight, bytesInFlightMessage(r.inflight.maxBytes))
		case errors.As(err, &tooLarge):
			r.reject(ctx, w, http.StatusRequestEntityTooLarge, reasonBodyTooLarge, errorBody{Error: bodyTooLargeMessage(r.cfg.bodyLimit())})
		case isTimeout(err):
			// The connection cannot be read any more: close it after the answer.
			w.Header().Set("Connection", "close")
			r.reject(ctx, w, http.StatusRequestTimeout, reasonReadTimeout, errorBody{Error: "request body not received within read_timeout (" +
				r.cfg.ReadTimeout.String() + "), nothing was accepted"})
		default:
			r.reject(ctx, w, http.StatusBadRequest, reasonUnreadableBody, errorBody{Error: "cannot read the request body: " + err.Error()})
		}
		return
	}

	dec, _ := r.decoders.Get().(*decoder)
	if dec == nil {
		dec = newDecoder(r.cfg.limits(), r.pipelines())
	}
	defer r.decoders.Put(dec)
	dec.decode(buf.Bytes(), format, time.Now())
	switch {
	case dec.tooMany:
		r.reject(ctx, w, http.StatusRequestEntityTooLarge, reasonTooManyEvents, errorBody{Error: "more than " +
			strconv.Itoa(r.cfg.MaxEventsPerRequest) + " events in one request (max_events_per_request)"})
		return
	case dec.invalidEvents > 0:
		r.telemetry.ReceiverMcpeventsEventsInvalid.Add(ctx, int64(dec.invalidEvents))
		r.reject(ctx, w, http.StatusBadRequest, reasonInvalidEvent,
			errorBody{Error: invalidEventsMessage, Details: dec.problems, MoreDetails: dec.moreProblems})
		return
	case dec.events == 0:
		r.reject(ctx, w, http.StatusBadRequest, reasonNoEvents, errorBody{Error: "the request holds no events"})
		return
	}
	r.handOn(ctx, w, &dec.out, format, dec.events)
}

// handOff is one signal's part of a request.
type handOff struct {
	signal  signal
	items   int
	start   func(context.Context) context.Context
	end     func(ctx context.Context, format string, items int, err error)
	consume func(context.Context) error
}

// handOn gives each signal's part of the batch to its pipeline, traces,
// logs, then metrics, and stops at the first refusal. The request is
// answered 200 only when every part was accepted; a refusal after another
// part was accepted is still answered so that the client retries the whole
// request, which the event ids make safe.
func (r *eventsReceiver) handOn(ctx context.Context, w http.ResponseWriter, b *batch, format bodyFormat, events int) {
	parts := make([]handOff, 0, numSignals)
	if b.spans > 0 {
		td := b.traces
		parts = append(parts, handOff{signal: signalTraces, items: b.spans, start: r.obsrep.StartTracesOp,
			end: r.obsrep.EndTracesOp, consume: func(ctx context.Context) error { return r.nextTraces.ConsumeTraces(ctx, td) }})
	}
	if b.records > 0 {
		ld := b.logs
		parts = append(parts, handOff{signal: signalLogs, items: b.records, start: r.obsrep.StartLogsOp,
			end: r.obsrep.EndLogsOp, consume: func(ctx context.Context) error { return r.nextLogs.ConsumeLogs(ctx, ld) }})
	}
	if b.points > 0 {
		md := b.metrics
		parts = append(parts, handOff{signal: signalMetrics, items: b.points, start: r.obsrep.StartMetricsOp,
			end: r.obsrep.EndMetricsOp, consume: func(ctx context.Context) error { return r.nextMetrics.ConsumeMetrics(ctx, md) }})
	}
	var refused error
	var refusedSignal signal
	var accepted []string
	for _, p := range parts {
		opCtx := p.start(ctx)
		if refused != nil {
			// Not attempted: counted as refused with the refusal that stopped it.
			p.end(opCtx, format.String(), p.items, refused)
			continue
		}
		err := p.consume(opCtx)
		p.end(opCtx, format.String(), p.items, err)
		if err != nil {
			refused, refusedSignal = err, p.signal
			continue
		}
		accepted = append(accepted, signalNames[p.signal])
	}
	if refused == nil {
		r.writeJSON(w, http.StatusOK, acceptedBody{Accepted: events})
		return
	}
	msg := "the " + signalNames[refusedSignal] + " pipeline refused the events"
	if len(accepted) > 0 {
		msg += " (the " + strings.Join(accepted, " and ") + " of this request were accepted)"
	}
	if consumererror.IsPermanent(refused) {
		r.writeJSON(w, http.StatusBadRequest, errorBody{Error: msg + ", permanently: " + refused.Error()})
		return
	}
	ra := r.retryAfter()
	w.Header().Set("Retry-After", ra)
	r.writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: msg + "; retry after " + ra + " s: " + refused.Error()})
}
