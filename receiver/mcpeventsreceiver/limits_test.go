package mcpeventsreceiver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

// waitFor bounds every wait of these tests; a pass never comes near it.
const waitFor = 20 * time.Second

// healthChecks is an NDJSON body of health_check events (log records) of at
// least size bytes; prefix keeps the ids of two bodies apart.
func healthChecks(prefix string, size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `{"type":"health_check","id":"%s-%06d","time":"2025-06-18T12:00:00Z","server_key":"weather-1","health_status":"healthy","latency_ms":12.5}`+"\n", prefix, i)
	}
	return b.Bytes()
}

// exactly cuts an NDJSON body to its events that fit in size bytes, and
// pads it with blanks to size.
func exactly(body []byte, size int) []byte {
	body = body[:bytes.LastIndexByte(body[:size], '\n')+1]
	return append(body, bytes.Repeat([]byte(" "), size-len(body))...)
}

// gateLogs holds every call until open, and records how many calls it
// held at once.
type gateLogs struct {
	consumertest.LogsSink
	release chan struct{}
	once    sync.Once
	inside  atomic.Int64
	peak    atomic.Int64
}

// newGateLogs returns a closed gate. Open it in a cleanup registered after
// the receiver's, so that a failed test opens it before stopping the
// receiver (which waits for the requests held).
func newGateLogs() *gateLogs { return &gateLogs{release: make(chan struct{})} }

func (g *gateLogs) open() { g.once.Do(func() { close(g.release) }) }

func (g *gateLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	n := g.inside.Add(1)
	for p := g.peak.Load(); n > p; p = g.peak.Load() {
		if g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-g.release
	g.inside.Add(-1)
	return g.LogsSink.ConsumeLogs(ctx, ld)
}

// telemetryReceiver starts a receiver whose own telemetry the test reads.
func telemetryReceiver(t *testing.T, cfg *Config, next consumers) (string, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	return startReceiver(t, cfg, next, set, componenttest.NewNopHost()), tel
}

// byReason sums a counter of the receiver's own telemetry by reason.
func byReason(t *testing.T, tel *componenttest.Telemetry, name string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	m, err := tel.GetMetric(name)
	if err != nil {
		return got // not recorded yet
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value("reason")
		got[v.AsString()] += dp.Value
	}
	return got
}

// requireIdle waits until every admitted request has let go of its
// reservation (the handler returns just after its answer is written).
func requireIdle(t *testing.T, cfg *Config) {
	t.Helper()
	r := receiverOf(cfg)
	require.Eventually(t, func() bool { return r.inflight.requests.Load() == 0 && r.inflight.bytes.Load() == 0 },
		waitFor, time.Millisecond, "requests %d, bytes %d still in flight", r.inflight.requests.Load(), r.inflight.bytes.Load())
}

func receiverOf(cfg *Config) *eventsReceiver {
	r, _ := receivers.Load(cfg)
	return r
}

// watchedBody tells whether the client sent any of the body.
type watchedBody struct {
	io.Reader
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.Reader.Read(p)
}

// continueClient sends its bodies only once the server asks for them
// (Expect: 100-continue), so that a body the server never read is never
// sent.
func continueClient(t *testing.T) *http.Client {
	tr := &http.Transport{ExpectContinueTimeout: time.Hour}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitFor}
}

type sent struct {
	resp response
	body *watchedBody
}

// postAll posts the bodies at once, each with Expect: 100-continue, and
// returns the answers in the order of bodies.
func postAll(t *testing.T, client *http.Client, url string, bodies [][]byte) []sent {
	out := make([]sent, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Go(func() {
			wb := &watchedBody{Reader: bytes.NewReader(b)}
			req, err := http.NewRequest(http.MethodPost, url, wb)
			if !assert.NoError(t, err) {
				return
			}
			req.ContentLength = int64(len(b))
			req.Header.Set("Content-Type", "application/x-ndjson")
			req.Header.Set("Expect", "100-continue")
			resp, err := client.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			rb, err := io.ReadAll(resp.Body)
			assert.NoError(t, err)
			out[i] = sent{resp: response{status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(rb))}, body: wb}
		})
	}
	wg.Wait()
	return out
}

// TestCapsRefuseBeforeReading posts more at once than the caps allow,
// with a pipeline that holds what it gets: the requests beyond the caps are
// answered 503 with Retry-After without their body being read (the client,
// waiting for 100 Continue, never sent it), and no more are decoded at once
// than the caps allow.
func TestCapsRefuseBeforeReading(t *testing.T) {
	const requests = 16
	tests := []struct {
		name      string
		configure func(*Config)
		bodySize  int
		admitted  int64
		reason    string
		message   string
	}{
		{
			// The 16 concurrent bodies of 17.5 MB, scaled down: two
			// fit in max_bytes_in_flight.
			name: "max_bytes_in_flight",
			configure: func(cfg *Config) {
				cfg.MaxRequestBodySize = 1 << 20
				cfg.MaxBytesInFlight = 2 << 20
			},
			bodySize: 900 << 10, admitted: 2, reason: reasonBytesInFlight,
			message: `{"error":"too many request bytes in flight (max_bytes_in_flight 2097152); nothing was accepted, retry after 7 s"}`,
		},
		{
			name:      "max_requests_in_flight",
			configure: func(cfg *Config) { cfg.MaxRequestsInFlight = 3 },
			bodySize:  2 << 10, admitted: 3, reason: reasonRequestsInFlight,
			message: `{"error":"too many requests in flight (max_requests_in_flight 3); nothing was accepted, retry after 7 s"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RetryAfter = 6500 * time.Millisecond
			tt.configure(cfg)
			require.NoError(t, cfg.Validate())
			gate := newGateLogs()
			url, tel := telemetryReceiver(t, cfg, consumers{logs: gate})
			t.Cleanup(gate.open)
			bodies := make([][]byte, requests)
			for i := range bodies {
				bodies[i] = healthChecks("b"+strconv.Itoa(i), tt.bodySize)
			}

			results := make(chan []sent, 1)
			go func() { results <- postAll(t, continueClient(t), url, bodies) }()
			// Every request but the admitted ones is refused while the
			// admitted ones are held in the pipeline.
			assert.Eventually(t, func() bool {
				return gate.inside.Load() == tt.admitted && byReason(t, tel, "otelcol_receiver_mcpevents_requests_refused")[tt.reason] == requests-tt.admitted
			}, waitFor, time.Millisecond)
			gate.open()
			got := <-results

			var ok, refused int64
			stored := 0
			for i, s := range got {
				switch s.resp.status {
				case http.StatusOK:
					ok++
					stored += bytes.Count(bodies[i], []byte("\n"))
					assert.Equal(t, fmt.Sprintf(`{"accepted":%d}`, bytes.Count(bodies[i], []byte("\n"))), s.resp.body)
				case http.StatusServiceUnavailable:
					refused++
					assert.Equal(t, "7", s.resp.header.Get("Retry-After"))
					assert.Equal(t, tt.message, s.resp.body)
					assert.False(t, s.body.read.Load(), "the body of a refused request was sent")
				default:
					t.Errorf("request %d: %d %s", i, s.resp.status, s.resp.body)
				}
			}
			assert.Equal(t, [2]int64{tt.admitted, requests - tt.admitted}, [2]int64{ok, refused})
			assert.Equal(t, tt.admitted, gate.peak.Load(), "requests decoded and handed on at once")
			assert.Equal(t, stored, gate.LogRecordCount())
			assert.Equal(t, map[string]int64{tt.reason: requests - tt.admitted}, byReason(t, tel, "otelcol_receiver_mcpevents_requests_refused"))
			requireIdle(t, cfg)
		})
	}
}

// chunked hides the length of a body, so that the client sends it chunked.
type chunked struct{ io.Reader }

// TestUnsizedBodyIsCountedAsRead: a body of unknown decoded size
// (compressed, or chunked) reserves a first chunk and grows its reservation
// as it is read; when max_bytes_in_flight has no room left it is refused
// with 503 and nothing of it is stored.
func TestUnsizedBodyIsCountedAsRead(t *testing.T) {
	body := healthChecks("late", 700<<10)
	tests := []struct {
		name   string
		body   func() io.Reader
		header []string
	}{
		{"gzip", func() io.Reader { return bytes.NewReader(gzipped(t, body)) }, []string{"Content-Encoding", "gzip"}},
		{"zstd", func() io.Reader { return bytes.NewReader(zstded(t, body)) }, []string{"Content-Encoding", "zstd"}},
		{"chunked", func() io.Reader { return chunked{bytes.NewReader(body)} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxRequestBodySize = 1 << 20
			cfg.MaxBytesInFlight = 1 << 20
			gate := newGateLogs()
			url, tel := telemetryReceiver(t, cfg, consumers{logs: gate})
			t.Cleanup(gate.open)

			// A sized body holds 768 KiB of the 1 MiB in the pipeline, which
			// leaves room for the first 256 KiB of the other.
			held := exactly(healthChecks("held", 768<<10), 768<<10)
			done := make(chan response, 1)
			go func() { done <- postFromGoroutine(url, "application/x-ndjson", held) }()
			require.Eventually(t, func() bool { return gate.inside.Load() == 1 }, waitFor, time.Millisecond)
			require.Equal(t, int64(768<<10), receiverOf(cfg).inflight.bytes.Load())

			send := func() response {
				req, err := http.NewRequest(http.MethodPost, url, tt.body())
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-ndjson")
				for i := 0; i+1 < len(tt.header); i += 2 {
					req.Header.Set(tt.header[i], tt.header[i+1])
				}
				return do(t, req)
			}
			resp := send()
			assert.Equal(t, http.StatusServiceUnavailable, resp.status)
			assert.Equal(t, "5", resp.header.Get("Retry-After"))
			assert.Equal(t, `{"error":"too many request bytes in flight (max_bytes_in_flight 1048576); nothing was accepted, retry after 5 s"}`,
				strings.TrimSpace(resp.body))
			assert.Equal(t, map[string]int64{reasonBytesInFlight: 1}, byReason(t, tel, "otelcol_receiver_mcpevents_requests_refused"))
			assert.Equal(t, int64(1), gate.inside.Load(), "nothing of the refused body was handed on")

			gate.open()
			assert.Equal(t, http.StatusOK, (<-done).status)
			requireIdle(t, cfg)
			// Alone, the same body fits.
			resp = send()
			assert.Equal(t, response{status: 200, body: fmt.Sprintf(`{"accepted":%d}`, bytes.Count(body, []byte("\n")))},
				response{status: resp.status, body: strings.TrimSpace(resp.body)})
			requireIdle(t, cfg)
		})
	}
}

// dialRaw opens a connection to the receiver of url, closed at cleanup;
// its reads give up at waitFor (a test that would otherwise hang fails).
func dialRaw(t *testing.T, url string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), EventsPath))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
	return conn, bufio.NewReader(conn)
}

func requestHead(contentLength int) string {
	return "POST " + EventsPath + " HTTP/1.1\r\nHost: mcpevents\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
		strconv.Itoa(contentLength) + "\r\n\r\n"
}

// requireClosed checks that the server closed the connection (rather than
// leaving it open until the test's own deadline).
func requireClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	_, err := br.ReadByte()
	require.Error(t, err)
	require.False(t, isTimeout(err), "the connection is still open: %v", err)
}

// TestSlowClientIsCutOffAtReadTimeout: a body still trickling in at
// read_timeout is answered 408, its connection is closed, and nothing of it
// is stored, although it starts with a complete event. A client trickling
// its headers is disconnected too.
func TestSlowClientIsCutOffAtReadTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.ReadHeaderTimeout = 50 * time.Millisecond
	cfg.ReadTimeout = 200 * time.Millisecond
	cfg.WriteTimeout = 20 * time.Millisecond // shorter: the answer gets out all the same
	require.NoError(t, cfg.Validate())
	s, next := newSinks()
	url, tel := telemetryReceiver(t, cfg, next)

	t.Run("body", func(t *testing.T) {
		conn, br := dialRaw(t, url)
		first := healthChecks("slow", 1)
		_, err := io.WriteString(conn, requestHead(1<<20)+string(first))
		require.NoError(t, err)
		// A space every few milliseconds (blank NDJSON), until the server
		// hangs up: the body would take hours to arrive.
		stop := make(chan struct{})
		trickled := make(chan struct{})
		go func() {
			defer close(trickled)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		defer func() { close(stop); <-trickled }()

		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		assert.True(t, resp.Close, "Connection: close")
		assert.Equal(t, `{"error":"request body not received within read_timeout (200ms), nothing was accepted"}`, strings.TrimSpace(string(b)))
		requireClosed(t, br)
		requireIdle(t, cfg)
		assert.Equal(t, [3]int{0, 0, 0}, s.counts())
		assert.Equal(t, map[string]int64{reasonReadTimeout: 1}, byReason(t, tel, "otelcol_receiver_mcpevents_requests_rejected"))
	})

	t.Run("headers", func(t *testing.T) {
		conn, br := dialRaw(t, url)
		head := requestHead(10)
		_, err := io.WriteString(conn, head[:20])
		require.NoError(t, err)
		go func() {
			for i := 20; i < len(head); i++ {
				time.Sleep(20 * time.Millisecond)
				if _, err := conn.Write([]byte{head[i]}); err != nil {
					return
				}
			}
		}()
		// Go's server answers a plain 400 and hangs up.
		rest, err := io.ReadAll(br)
		require.NoError(t, err, "the connection is still open")
		assert.True(t, strings.HasPrefix(string(rest), "HTTP/1.1 400 Bad Request\r\n"), "%q", rest)
		assert.Equal(t, [3]int{0, 0, 0}, s.counts())
	})
}

// slowLogs answers after a pause, with the error of its context if it was
// cancelled meanwhile (as an exporter without a queue would).
type slowLogs struct {
	consumertest.LogsSink
	pause time.Duration
}

func (l *slowLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	time.Sleep(l.pause) // the slowness under test
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.LogsSink.ConsumeLogs(ctx, ld)
}

// TestSlowButTimelyRequestIsStoredAndAnswered: an upload that takes longer
// than write_timeout but less than read_timeout, or a pipeline that takes
// longer than both, still gets its 200: the server's write deadline runs
// from the end of the request headers, the answer's from when it is ready.
// (read_timeout stops at the end of the body: the request's context is not
// cancelled under the pipeline.)
func TestSlowButTimelyRequestIsStoredAndAnswered(t *testing.T) {
	const writeTimeout = 50 * time.Millisecond
	body := healthChecks("timely", 64<<10)
	events := bytes.Count(body, []byte("\n"))
	tests := []struct {
		name          string
		readTimeout   time.Duration
		uploadPause   time.Duration
		pipelinePause time.Duration
	}{
		{name: "slow upload", readTimeout: time.Minute, uploadPause: 4 * writeTimeout},
		{name: "slow pipeline", readTimeout: 2 * writeTimeout, pipelinePause: 6 * writeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ReadTimeout = tt.readTimeout
			cfg.ReadHeaderTimeout = 0
			cfg.WriteTimeout = writeTimeout
			require.NoError(t, cfg.Validate())
			logs := &slowLogs{pause: tt.pipelinePause}
			url, _ := telemetryReceiver(t, cfg, consumers{logs: logs})

			conn, br := dialRaw(t, url)
			half := len(body) / 2
			_, err := io.WriteString(conn, requestHead(len(body))+string(body[:half]))
			require.NoError(t, err)
			time.Sleep(tt.uploadPause) // the slowness under test
			_, err = conn.Write(body[half:])
			require.NoError(t, err)

			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err, "no answer")
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, response{status: 200, body: fmt.Sprintf(`{"accepted":%d}`, events)},
				response{status: resp.StatusCode, body: strings.TrimSpace(string(b))})
			assert.Equal(t, events, logs.LogRecordCount())
		})
	}
}

// allocatedDuring is what the whole process allocated while f ran.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// bomb is n copies of one compressed member (gzip) or frame (zstd) of 1 MiB
// of spaces: a few kilobytes that expand to n MiB, both decoders reading
// every member or frame.
func bomb(t *testing.T, encoding string, n int) []byte {
	spaces := bytes.Repeat([]byte(" "), 1<<20)
	one := gzipped(t, spaces)
	if encoding == "zstd" {
		one = zstded(t, spaces)
	}
	return bytes.Repeat(one, n)
}

// TestDecompressionBombs: a small compressed body that expands far beyond
// max_request_body_size is refused with 413 once the limit is read, without
// decompressing the rest (confighttp limits the decompressed body too, and
// bounds the zstd window); a zstd frame that declares a huge window is
// refused before any memory is allocated for it.
func TestDecompressionBombs(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBodySize = 1 << 20
	cfg.MaxBytesInFlight = 1 << 20
	s, next := newSinks()
	url, tel := telemetryReceiver(t, cfg, next)
	const expanded = 256 // MiB
	tests := []struct {
		encoding string
		body     []byte
		status   int
		message  string
	}{
		{"gzip", bomb(t, "gzip", expanded), 413, `{"error":"request body larger than max_request_body_size (1048576 bytes, counted after decompression)"}`},
		{"zstd", bomb(t, "zstd", expanded), 413, `{"error":"request body larger than max_request_body_size (1048576 bytes, counted after decompression)"}`},
		// Magic number, a frame header with a window descriptor of 2^30
		// bytes, then a raw block of one byte.
		{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x09, 0x00, 0x00, '['}, 400, `{"error":"cannot read the request body: window size exceeded"}`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d bytes", tt.encoding, len(tt.body)), func(t *testing.T) {
			require.Less(t, len(tt.body), 512<<10)
			var resp response
			allocated := allocatedDuring(func() {
				resp = post(t, url, "application/json", tt.body, "Content-Encoding", tt.encoding)
			})
			assert.Equal(t, response{status: tt.status, body: tt.message}, response{status: resp.status, body: strings.TrimSpace(resp.body)})
			// The body buffer (1 MiB and its growth), the decoders' state
			// (zstd: its window, 8 MiB), the client: far from the 256 MiB the
			// bomb expands to.
			assert.Less(t, allocated, uint64(48<<20), "allocated while answering")
			t.Logf("allocated %.1f MiB", float64(allocated)/(1<<20))
			requireIdle(t, cfg)
		})
	}
	assert.Equal(t, [3]int{0, 0, 0}, s.counts())
	assert.Equal(t, map[string]int64{reasonBodyTooLarge: 2, reasonUnreadableBody: 1}, byReason(t, tel, "otelcol_receiver_mcpevents_requests_rejected"))
}

// TestHugeValuesAndObjects: a 10 MiB value and events of 100,000 fields or
// attributes are answered at once, refused with the reason, or stored when
// the limits allow them.
func TestHugeValuesAndObjects(t *testing.T) {
	tenMiB := strings.Repeat("x", 10<<20)
	var attrs, fields strings.Builder
	for i := range 100_000 {
		if i > 0 {
			attrs.WriteByte(',')
			fields.WriteByte(',')
		}
		fmt.Fprintf(&attrs, `"a%d":%d`, i, i)
		fmt.Fprintf(&fields, `"f%d":%d`, i, i)
	}
	const head = `{"type":"error","id":"e1","time":"2025-06-18T12:00:00Z",`
	detail := func(path, pointer, reason string) string {
		return fmt.Sprintf(`{"index":0,"line":1,"path":%q,"pointer":%q,"reason":%q}`, path, pointer, reason)
	}
	tests := []struct {
		name          string
		maxTextLength int
		body          string
		status        int
		message       string
		stored        int
	}{
		{
			name: "10 MiB message", body: head + `"message":"` + tenMiB + `"}`, status: 400,
			message: `{"error":"invalid events, nothing was accepted","details":[` + detail("message", "/message", "longer than 65536 bytes (max_text_length)") + `]}`,
		},
		{
			name: "10 MiB message within max_text_length", maxTextLength: 16 << 20, body: head + `"message":"` + tenMiB + `"}`,
			status: 200, message: `{"accepted":1}`, stored: 1,
		},
		{
			name: "10 MiB attribute value", body: head + `"message":"m","attributes":{"big":"` + tenMiB + `"}}`, status: 400,
			message: `{"error":"invalid events, nothing was accepted","details":[` + detail("attributes.big", "/attributes/big", "longer than 65536 bytes (max_text_length)") + `]}`,
		},
		{
			name: "100,000 attributes", body: head + `"message":"m","attributes":{` + attrs.String() + `}}`, status: 400,
			message: `{"error":"invalid events, nothing was accepted","details":[` + detail("attributes", "/attributes", "more than 128 attributes") + `]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.maxTextLength > 0 {
				cfg.MaxTextLength = tt.maxTextLength
			}
			s, next := newSinks()
			url := startReceiver(t, cfg, next, receivertest.NewNopSettings(metadata.Type), componenttest.NewNopHost())
			resp := post(t, url, "application/x-ndjson", []byte(tt.body))
			assert.Equal(t, response{status: tt.status, body: tt.message}, response{status: resp.status, body: strings.TrimSpace(resp.body)})
			assert.Equal(t, tt.stored, s.logs.LogRecordCount())
			if tt.stored > 0 {
				assert.Len(t, s.logs.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str(), 10<<20)
			}
		})
	}

	t.Run("100,000 unknown fields", func(t *testing.T) {
		s, next := newSinks()
		url := startDefault(t, next)
		resp := post(t, url, "application/x-ndjson", []byte(head+`"message":"m",`+fields.String()+`}`))
		assert.Equal(t, 400, resp.status)
		var got errorBody
		require.NoError(t, json.Unmarshal([]byte(resp.body), &got))
		assert.Equal(t, invalidEventsMessage, got.Error)
		require.Len(t, got.Details, maxDetails, "at most %d problems listed", maxDetails)
		assert.Equal(t, problem{Index: 0, Line: 1, Path: "f0", Pointer: "/f0", Reason: "unknown field for event type error"}, got.Details[0])
		assert.Positive(t, got.MoreDetails)
		assert.Equal(t, [3]int{0, 0, 0}, s.counts())
	})
}
