package mcpeventsreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcp-bridge/otelcol-mcp/internal/sharedcomponent"
	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

// consumers are the next consumers of a test receiver; nil leaves a signal
// without a pipeline.
type consumers struct {
	traces  consumer.Traces
	logs    consumer.Logs
	metrics consumer.Metrics
}

type sinks struct {
	traces  *consumertest.TracesSink
	logs    *consumertest.LogsSink
	metrics *consumertest.MetricsSink
}

func newSinks() (sinks, consumers) {
	s := sinks{traces: new(consumertest.TracesSink), logs: new(consumertest.LogsSink), metrics: new(consumertest.MetricsSink)}
	return s, consumers{traces: s.traces, logs: s.logs, metrics: s.metrics}
}

func (s sinks) counts() [3]int {
	return [3]int{s.traces.SpanCount(), s.logs.LogRecordCount(), s.metrics.DataPointCount()}
}

func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	return cfg
}

// startReceiver runs a receiver through the factory as the collector does:
// it creates, starts and shuts down the instance of each signal, which share
// one receiver. It returns the URL to post events to.
func startReceiver(t *testing.T, cfg *Config, next consumers, set receiver.Settings, host component.Host) string {
	t.Helper()
	ctx := context.Background()
	f := NewFactory()
	var instances []component.Component
	if next.traces != nil {
		r, err := f.CreateTraces(ctx, set, cfg, next.traces)
		require.NoError(t, err)
		instances = append(instances, r)
	}
	if next.logs != nil {
		r, err := f.CreateLogs(ctx, set, cfg, next.logs)
		require.NoError(t, err)
		instances = append(instances, r)
	}
	if next.metrics != nil {
		r, err := f.CreateMetrics(ctx, set, cfg, next.metrics)
		require.NoError(t, err)
		instances = append(instances, r)
	}
	shared := receiverOf(cfg)
	for _, r := range instances {
		require.Same(t, shared, r.(*sharedcomponent.Ref[*eventsReceiver]).Unwrap(), "one receiver per configuration")
	}
	t.Cleanup(func() {
		for _, r := range instances {
			require.NoError(t, r.Shutdown(ctx))
			require.NoError(t, r.Shutdown(ctx))
		}
		_, left := receivers.Load(cfg)
		assert.False(t, left, "the receiver outlived its pipelines")
	})
	for _, r := range instances {
		require.NoError(t, r.Start(ctx, host))
		require.NoError(t, r.Start(ctx, host), "a second start is a no-op")
	}
	return "http://" + shared.listener.Addr().String() + EventsPath
}

func startDefault(t *testing.T, next consumers) string {
	return startReceiver(t, testConfig(), next, receivertest.NewNopSettings(metadata.Type), componenttest.NewNopHost())
}

type response struct {
	status int
	header http.Header
	body   string
}

func post(t *testing.T, url, contentType string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

// postFromGoroutine is post for a goroutine other than the test's, which
// must not stop the test: a request that fails comes back as status 0 with
// the error as its body, for the test's goroutine to judge.
func postFromGoroutine(url, contentType string, body []byte) response {
	resp, err := testClient.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		return response{body: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{body: err.Error()}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// testClient gives up on an answer after waitFor, so that a receiver that
// holds a request fails its test instead of hanging it.
var testClient = &http.Client{Timeout: waitFor}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func zstded(t *testing.T, b []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// mixedEvents holds one event of each signal: a span, a log record and
// two metric points.
const mixedEvents = `{"type":"routing","id":"r1","time":"2025-06-18T12:00:00.5Z","method":"tools/call","tool":"search","duration_ms":12}
{"type":"health_check","id":"h1","time":"2025-06-18T12:00:00.5Z","server_key":"w1","health_status":"healthy"}
{"type":"pool_stats","time":"2025-06-18T12:00:00.5Z","server_key":"w1","active":2,"idle":3}
`

func asArray(ndjson string) string {
	return "[" + strings.Join(strings.Split(strings.TrimSpace(ndjson), "\n"), ",") + "]"
}

func TestPostInEveryFramingAndEncoding(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        []byte
		header      []string
	}{
		{"NDJSON", "application/x-ndjson", []byte(mixedEvents), nil},
		{"application/ndjson with charset", "application/ndjson; charset=UTF-8", []byte(mixedEvents), nil},
		{"JSON array", "application/json", []byte(asArray(mixedEvents)), nil},
		{"gzip", "application/x-ndjson", gzipped(t, []byte(mixedEvents)), []string{"Content-Encoding", "gzip"}},
		{"zstd", "application/json", zstded(t, []byte(asArray(mixedEvents))), []string{"Content-Encoding", "zstd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, next := newSinks()
			url := startDefault(t, next)
			resp := post(t, url, tt.contentType, tt.body, tt.header...)
			assert.Equal(t, response{status: 200, body: `{"accepted":3}` + "\n"}, response{status: resp.status, body: resp.body})
			assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
			assert.Equal(t, [3]int{1, 1, 2}, s.counts())
			assert.Len(t, s.traces.AllTraces(), 1, "one request, one call per signal")
			assert.Len(t, s.logs.AllLogs(), 1)
			assert.Len(t, s.metrics.AllMetrics(), 1)
		})
	}
}

func TestClientErrors(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBodySize = 4096
	cfg.MaxEventsPerRequest = 3
	s, next := newSinks()
	url := startReceiver(t, cfg, next, receivertest.NewNopSettings(metadata.Type), componenttest.NewNopHost())
	bomb := gzipped(t, []byte("["+strings.Repeat(" ", 8192)+"]"))
	tests := []struct {
		name        string
		method      string
		url         string
		contentType string
		body        []byte
		header      []string
		want        response
	}{
		{
			name: "GET", method: http.MethodGet,
			want: response{status: 405, header: http.Header{"Allow": {"POST"}},
				body: `{"error":"method GET not allowed: POST events to /v1/events"}`},
		},
		{
			name: "PUT", method: http.MethodPut, contentType: "application/json", body: []byte(asArray(mixedEvents)),
			want: response{status: 405, header: http.Header{"Allow": {"POST"}},
				body: `{"error":"method PUT not allowed: POST events to /v1/events"}`},
		},
		{
			name: "text/plain", contentType: "text/plain", body: []byte(mixedEvents),
			want: response{status: 415, body: `{"error":"unsupported Content-Type \"text/plain\": send application/json (an array of events) or application/x-ndjson (one event per line)"}`},
		},
		{
			name: "no Content-Type", body: []byte(mixedEvents),
			want: response{status: 415, body: `{"error":"unsupported Content-Type \"\": send application/json (an array of events) or application/x-ndjson (one event per line)"}`},
		},
		{
			name: "a charset other than UTF-8", contentType: "application/json; charset=latin1", body: []byte(asArray(mixedEvents)),
			want: response{status: 415, body: `{"error":"unsupported Content-Type \"application/json; charset=latin1\": send application/json (an array of events) or application/x-ndjson (one event per line)"}`},
		},
		{
			name: "unsupported Content-Encoding", contentType: "application/json", body: []byte(asArray(mixedEvents)),
			header: []string{"Content-Encoding", "br"},
			want:   response{status: 415, body: `{"error":"unsupported Content-Encoding: br"}`},
		},
		{
			name: "corrupt gzip", contentType: "application/json", body: []byte("not gzip at all"),
			header: []string{"Content-Encoding", "gzip"},
			want:   response{status: 400, body: `{"error":"gzip: invalid header"}`},
		},
		{
			name: "body over the limit", contentType: "application/json", body: []byte("[" + strings.Repeat(" ", 5000) + "]"),
			want: response{status: 413, body: `{"error":"request body larger than max_request_body_size (4096 bytes, counted after decompression)"}`},
		},
		{
			name: "compressed body over the limit once decompressed", contentType: "application/json", body: bomb,
			header: []string{"Content-Encoding", "gzip"},
			want:   response{status: 413, body: `{"error":"request body larger than max_request_body_size (4096 bytes, counted after decompression)"}`},
		},
		{
			name: "too many events", contentType: "application/x-ndjson", body: []byte(mixedEvents + mixedEvents),
			want: response{status: 413, body: `{"error":"more than 3 events in one request (max_events_per_request)"}`},
		},
		{
			name: "no events", contentType: "application/json", body: []byte("[]"),
			want: response{status: 400, body: `{"error":"the request holds no events"}`},
		},
		{
			name: "a malformed line", contentType: "application/x-ndjson",
			body: []byte(strings.Split(mixedEvents, `"server_key":"w1","health`)[0] + `"health_status":"healthy"}` + "\n{\"type\":\"pool_stats\"" + "\n"),
			want: response{status: 400, body: `{"error":"invalid events, nothing was accepted","details":[` +
				`{"index":1,"line":2,"path":"server_key","pointer":"/server_key","reason":"required field missing"},` +
				`{"index":2,"line":3,"path":"type","pointer":"","reason":"invalid JSON: unexpected end of input, expected ',' or '}'"}]}`},
		},
		{
			name: "another path", url: strings.TrimSuffix(url, EventsPath) + "/v1/logs", contentType: "application/json", body: []byte("[]"),
			want: response{status: 404, body: "404 page not found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, target := tt.method, tt.url
			if method == "" {
				method = http.MethodPost
			}
			if target == "" {
				target = url
			}
			req, err := http.NewRequest(method, target, bytes.NewReader(tt.body))
			require.NoError(t, err)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			resp := do(t, req)
			got := response{status: resp.status, body: strings.TrimSpace(resp.body)}
			if tt.want.header != nil {
				got.header = http.Header{"Allow": resp.header.Values("Allow")}
			}
			assert.Equal(t, tt.want, got)
			if tt.want.status != 404 {
				assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
			}
		})
	}
	assert.Equal(t, [3]int{0, 0, 0}, s.counts(), "nothing was handed on")
}

func TestInvalidEventRefusesTheWholeRequest(t *testing.T) {
	s, next := newSinks()
	url := startDefault(t, next)
	body := mixedEvents + `{"type":"health_check","id":"h2","time":"2025-06-18T12:00:00.5Z","server_key":"w1","health_status":"up"}` + "\n" + mixedEvents
	resp := post(t, url, "application/x-ndjson", []byte(body))
	assert.Equal(t, 400, resp.status)
	assert.JSONEq(t, `{"error":"invalid events, nothing was accepted","details":[
		{"index":3,"line":4,"path":"health_status","pointer":"/health_status","reason":"must be one of \"healthy\", \"unhealthy\", got \"up\""}]}`, resp.body)
	assert.Equal(t, [3]int{0, 0, 0}, s.counts())
}

// flakyLogs refuses while refuse is set.
type flakyLogs struct {
	consumertest.LogsSink
	refuse error
}

func (f *flakyLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if f.refuse != nil {
		return f.refuse
	}
	return f.LogsSink.ConsumeLogs(ctx, ld)
}

func TestRefusalsAreRetryableOrPermanent(t *testing.T) {
	s, next := newSinks()
	logs := &flakyLogs{refuse: errors.New("data refused due to high memory usage")}
	next.logs, s.logs = logs, &logs.LogsSink
	cfg := testConfig()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	url := startReceiver(t, cfg, next, set, componenttest.NewNopHost())

	// The memory limiter refuses the logs after the traces were accepted:
	// 503, so that the client retries; the metrics are not attempted.
	resp := post(t, url, "application/x-ndjson", []byte(mixedEvents))
	assert.Equal(t, 503, resp.status)
	assert.Equal(t, "5", resp.header.Get("Retry-After"))
	assert.Equal(t, `{"error":"the logs pipeline refused the events (the traces of this request were accepted); retry after 5 s: data refused due to high memory usage"}`,
		strings.TrimSpace(resp.body))
	assert.Equal(t, [3]int{1, 0, 0}, s.counts())
	firstSpan := s.traces.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)

	// A permanent refusal: 400, do not retry.
	logs.refuse = consumererror.NewPermanent(errors.New("bad data"))
	resp = post(t, url, "application/x-ndjson", []byte(mixedEvents))
	assert.Equal(t, 400, resp.status)
	assert.Empty(t, resp.header.Get("Retry-After"))
	assert.Equal(t, `{"error":"the logs pipeline refused the events (the traces of this request were accepted), permanently: Permanent error: bad data"}`,
		strings.TrimSpace(resp.body))

	// The retry succeeds; the span it repeats has the same identity, so the
	// exporter stores it once.
	logs.refuse = nil
	resp = post(t, url, "application/x-ndjson", []byte(mixedEvents))
	assert.Equal(t, 200, resp.status)
	assert.Equal(t, [3]int{3, 1, 2}, s.counts())
	for _, td := range s.traces.AllTraces() {
		sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		assert.Equal(t, [3]any{firstSpan.TraceID(), firstSpan.SpanID(), firstSpan.StartTimestamp()},
			[3]any{sp.TraceID(), sp.SpanID(), sp.StartTimestamp()})
	}

	// Accepted and refused items, per signal, as receiverhelper counts them.
	sum := func(name string) int64 {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		var n int64
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			rcv, _ := dp.Attributes.Value("receiver")
			tr, _ := dp.Attributes.Value("transport")
			assert.Equal(t, [2]string{set.ID.String(), "http"}, [2]string{rcv.AsString(), tr.AsString()})
			n += dp.Value
		}
		return n
	}
	assert.Equal(t, [6]int64{3, 0, 1, 2, 2, 4}, [6]int64{
		sum("otelcol_receiver_accepted_spans"), sum("otelcol_receiver_refused_spans"),
		sum("otelcol_receiver_accepted_log_records"), sum("otelcol_receiver_refused_log_records"),
		sum("otelcol_receiver_accepted_metric_points"), sum("otelcol_receiver_refused_metric_points"),
	})
}

func TestOwnTelemetryCountsRejections(t *testing.T) {
	_, next := newSinks()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	url := startReceiver(t, testConfig(), next, set, componenttest.NewNopHost())

	post(t, url, "application/x-ndjson", []byte(`{"type":"x"}`+"\n"+`{"type":"y"}`))
	post(t, url, "application/x-ndjson", []byte(`{"type":"x"}`))
	post(t, url, "text/csv", []byte(`a,b`))
	post(t, url, "application/json", []byte(`[]`))

	m, err := tel.GetMetric("otelcol_receiver_mcpevents_requests_rejected")
	require.NoError(t, err)
	got := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value(attribute.Key("reason"))
		got[v.AsString()] += dp.Value
	}
	assert.Equal(t, map[string]int64{"invalid_event": 2, "unsupported_media_type": 1, "no_events": 1}, got)
	m, err = tel.GetMetric("otelcol_receiver_mcpevents_events_invalid")
	require.NoError(t, err)
	assert.Equal(t, int64(3), m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
}

// tokenAuth is a server authenticator standing in for bearertokenauth.
type tokenAuth struct {
	component.StartFunc
	component.ShutdownFunc
}

func (tokenAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	if v := sources["Authorization"]; len(v) == 1 && v[0] == "Bearer s3cret" {
		return ctx, nil
	}
	return ctx, errors.New("missing or invalid bearer token")
}

type hostWithAuth struct{ component.Host }

func (hostWithAuth) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{component.MustNewID("tokenauth"): tokenAuth{}}
}

func TestAuthentication(t *testing.T) {
	s, next := newSinks()
	cfg := testConfig()
	cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: component.MustNewID("tokenauth")}})
	url := startReceiver(t, cfg, next, receivertest.NewNopSettings(metadata.Type), hostWithAuth{componenttest.NewNopHost()})

	resp := post(t, url, "application/x-ndjson", []byte(mixedEvents))
	assert.Equal(t, response{status: 401, body: `{"error":"missing or invalid bearer token"}`},
		response{status: resp.status, body: strings.TrimSpace(resp.body)})
	resp = post(t, url, "application/x-ndjson", []byte(mixedEvents), "Authorization", "Bearer wrong")
	assert.Equal(t, 401, resp.status)
	assert.Equal(t, [3]int{0, 0, 0}, s.counts())

	resp = post(t, url, "application/x-ndjson", []byte(mixedEvents), "Authorization", "Bearer s3cret")
	assert.Equal(t, 200, resp.status)
	assert.Equal(t, [3]int{1, 1, 2}, s.counts())
}

func TestSignalWithoutPipeline(t *testing.T) {
	s, next := newSinks()
	next.traces, next.metrics = nil, nil
	url := startDefault(t, next)
	resp := post(t, url, "application/x-ndjson", []byte(mixedEvents))
	assert.Equal(t, 400, resp.status)
	assert.JSONEq(t, `{"error":"invalid events, nothing was accepted","details":[
		{"index":0,"line":1,"path":"type","pointer":"/type","reason":"no traces pipeline uses this receiver, so routing events cannot be accepted"},
		{"index":2,"line":3,"path":"type","pointer":"/type","reason":"no metrics pipeline uses this receiver, so pool_stats events cannot be accepted"}]}`, resp.body)
	assert.Equal(t, [3]int{0, 0, 0}, s.counts())
}

func TestConfigCanBeReusedAfterShutdown(t *testing.T) {
	cfg := testConfig()
	ctx := context.Background()
	set := receivertest.NewNopSettings(metadata.Type)
	r1, err := NewFactory().CreateLogs(ctx, set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r1.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, r1.Shutdown(ctx))
	r2, err := NewFactory().CreateLogs(ctx, set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.NotSame(t, sharedOf(r1), sharedOf(r2), "a receiver that was shut down was handed out again")
	require.NoError(t, r2.Shutdown(ctx), "shutdown without start")
}

func sharedOf(c component.Component) *eventsReceiver {
	return c.(*sharedcomponent.Ref[*eventsReceiver]).Unwrap()
}

// TestServesUntilTheLastPipelineShutsDown: the pipelines sharing the
// receiver shut down one by one; the server stays up for those left.
func TestServesUntilTheLastPipelineShutsDown(t *testing.T) {
	s, _ := newSinks()
	cfg := testConfig()
	ctx := context.Background()
	set := receivertest.NewNopSettings(metadata.Type)
	traces, err := NewFactory().CreateTraces(ctx, set, cfg, s.traces)
	require.NoError(t, err)
	logs, err := NewFactory().CreateLogs(ctx, set, cfg, s.logs)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, traces.Shutdown(ctx))
		require.NoError(t, logs.Shutdown(ctx))
	})
	require.NoError(t, traces.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, logs.Start(ctx, componenttest.NewNopHost()))
	url := "http://" + sharedOf(logs).listener.Addr().String() + EventsPath

	require.NoError(t, traces.Shutdown(ctx))
	resp := post(t, url, "application/x-ndjson", healthChecks("after-traces", 1))
	assert.Equal(t, 200, resp.status, resp.body)

	require.NoError(t, logs.Shutdown(ctx))
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(healthChecks("after-logs", 1)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if res, err := http.DefaultClient.Do(req); err == nil {
		_ = res.Body.Close()
		t.Fatalf("the server still answers (%s) after every pipeline shut down", res.Status)
	}
}

// TestShutdownPastItsDeadlineCutsConnections: a request held in the pipeline
// keeps Shutdown from finishing; once its context ends, Shutdown returns and
// the client sees its connection closed instead of waiting on.
func TestShutdownPastItsDeadlineCutsConnections(t *testing.T) {
	cfg := testConfig()
	gate := newGateLogs()
	ctx := context.Background()
	r, err := NewFactory().CreateLogs(ctx, receivertest.NewNopSettings(metadata.Type), cfg, gate)
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx, componenttest.NewNopHost()))
	shared := sharedOf(r)
	t.Cleanup(func() {
		gate.open()
		_ = r.Shutdown(ctx) // returns the test's own Shutdown's result when it got that far
		require.Eventually(t, func() bool { return shared.inflight.requests.Load() == 0 }, waitFor, time.Millisecond)
	})
	url := "http://" + shared.listener.Addr().String() + EventsPath

	answered := make(chan error, 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(healthChecks("held", 1)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-ndjson")
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = res.Body.Close()
		}
		answered <- err
	}()
	require.Eventually(t, func() bool { return gate.inside.Load() == 1 }, waitFor, time.Millisecond)

	ended, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, r.Shutdown(ended), context.Canceled)
	select {
	case err := <-answered:
		assert.Error(t, err, "the held request was answered")
	case <-time.After(waitFor):
		t.Fatal("the client of a request held past Shutdown's deadline still waits")
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	_, next := newSinks()
	url := startDefault(t, next)
	cfg := testConfig()
	cfg.NetAddr.Endpoint = strings.TrimSuffix(strings.TrimPrefix(url, "http://"), EventsPath)
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.ErrorContains(t, r.Start(context.Background(), componenttest.NewNopHost()), "address already in use")
	require.NoError(t, r.Shutdown(context.Background()))
}
