package eventsclient

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeReceiver answers with the status codes of answers, in turn (200
// once they run out), and keeps the events of the requests it accepted.
type fakeReceiver struct {
	mu       sync.Mutex
	answers  []int
	requests int
	events   []string
	headers  []http.Header
	block    chan struct{} // when set, requests wait for it to close
}

func (f *fakeReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if f.block != nil {
		select {
		case <-f.block:
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.headers = append(f.headers, r.Header.Clone())
	code := http.StatusOK
	if len(f.answers) > 0 {
		code, f.answers = f.answers[0], f.answers[1:]
	}
	if code != http.StatusOK {
		http.Error(w, `{"error":"try again"}`, code)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f.events = append(f.events, sc.Text())
	}
	_, _ = w.Write([]byte(`{"accepted":1}`))
}

func (f *fakeReceiver) counts() (requests, events int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, len(f.events)
}

func start(t *testing.T, f *fakeReceiver, cfg Config) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.Endpoint = srv.URL
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	return c
}

func TestNewEndpoint(t *testing.T) {
	for endpoint, want := range map[string]string{
		"http://collector:4320":            "http://collector:4320/v1/events",
		"http://collector:4320/":           "http://collector:4320/v1/events",
		"https://gw.example/mcp/v1/events": "https://gw.example/mcp/v1/events",
	} {
		c, err := New(Config{Endpoint: endpoint})
		require.NoError(t, err)
		assert.Equal(t, want, c.URL())
		require.NoError(t, c.Shutdown(context.Background()))
	}
	for _, bad := range []string{"", "collector:4320", "ftp://x/", "http://"} {
		_, err := New(Config{Endpoint: bad})
		assert.Error(t, err, bad)
	}
	_, err := New(Config{Endpoint: "http://x", BatchSize: -1})
	assert.Error(t, err)
}

// TestAddBatches: full batches go at once, the rest on Flush; every event
// arrives once, in NDJSON, with the configured headers.
func TestAddBatches(t *testing.T) {
	f := &fakeReceiver{}
	c := start(t, f, Config{BatchSize: 10, FlushInterval: time.Hour, Resource: testResource,
		Header: http.Header{"Authorization": {"Bearer s3cret"}}})
	for i := range 25 {
		c.Add(&HealthCheck{ID: NewID(), ServerKey: "k", Healthy: i%2 == 0})
	}
	require.Eventually(t, func() bool { r, _ := f.counts(); return r == 2 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, c.Flush(context.Background()))
	requests, events := f.counts()
	assert.Equal(t, 3, requests)
	assert.Equal(t, 25, events)
	assert.Equal(t, Stats{Posted: 25}, c.Stats())
	for _, h := range f.headers {
		assert.Equal(t, "Bearer s3cret", h.Get("Authorization"))
		assert.Equal(t, "application/x-ndjson", h.Get("Content-Type"))
	}
	for _, line := range f.events {
		assert.Equal(t, "health_check", decode(t, []byte(line))["type"])
	}
}

func TestFlushIntervalSendsPartialBatches(t *testing.T) {
	f := &fakeReceiver{}
	c := start(t, f, Config{FlushInterval: 20 * time.Millisecond})
	c.Add(ServerDeregistered{ServerKey: "k"})
	require.Eventually(t, func() bool { _, n := f.counts(); return n == 1 }, 5*time.Second, 5*time.Millisecond)
}

// TestRetries: 503 and 500 are retried, within RetryFor; the events arrive once.
func TestRetries(t *testing.T) {
	f := &fakeReceiver{answers: []int{http.StatusServiceUnavailable, http.StatusInternalServerError}}
	c := start(t, f, Config{RetryFor: 10 * time.Second})
	require.NoError(t, c.Post(context.Background(), SessionStart{SessionID: "s1"}, SessionEnd{SessionID: "s1"}))
	requests, events := f.counts()
	assert.Equal(t, 3, requests)
	assert.Equal(t, 2, events)
	assert.Equal(t, int64(2), c.Stats().Retries)
}

// TestRefusedIsFinal: a 400 is not retried; the error carries the answer.
func TestRefusedIsFinal(t *testing.T) {
	f := &fakeReceiver{answers: []int{http.StatusBadRequest}}
	var noted []error
	var mu sync.Mutex
	c := start(t, f, Config{OnError: func(err error) { mu.Lock(); noted = append(noted, err); mu.Unlock() }})
	err := c.Post(context.Background(), ErrorEvent{Message: "m"})
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, http.StatusBadRequest, refused.StatusCode)
	assert.Equal(t, 1, refused.Events)
	assert.Contains(t, refused.Body, "try again")
	assert.Contains(t, err.Error(), "refused 1 events: 400 Bad Request")

	// In the background: counted as failed and passed to OnError.
	f.mu.Lock()
	f.answers = []int{http.StatusRequestEntityTooLarge}
	f.mu.Unlock()
	c.Add(PoolStats{ServerKey: "k"})
	require.NoError(t, c.Flush(context.Background()))
	assert.Equal(t, Stats{Failed: 1}, c.Stats())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, noted, 1)
	assert.ErrorAs(t, noted[0], &refused)
}

// TestGivesUpAfterRetryFor: still pushed back when RetryFor has passed.
func TestGivesUpAfterRetryFor(t *testing.T) {
	f := &fakeReceiver{answers: []int{503, 503, 503, 503, 503, 503, 503, 503, 503, 503}}
	c := start(t, f, Config{RetryFor: 250 * time.Millisecond})
	err := c.Post(context.Background(), PoolStats{ServerKey: "k"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up after 250ms: 503 Service Unavailable")
	var refused *RefusedError
	assert.ErrorAs(t, err, &refused)
}

// TestPostHonoursContext: a cancelled context ends a request in flight
// and a backoff at once, not after RetryFor.
func TestPostHonoursContext(t *testing.T) {
	f := &fakeReceiver{block: make(chan struct{})}
	defer close(f.block)
	c := start(t, f, Config{RetryFor: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := c.Post(ctx, PoolStats{ServerKey: "k"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(began), 5*time.Second)

	g := &fakeReceiver{answers: []int{503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503}}
	c = start(t, g, Config{RetryFor: time.Hour})
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began = time.Now()
	err = c.Post(ctx, PoolStats{ServerKey: "k"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "503")
	assert.Less(t, time.Since(began), 5*time.Second)
}

// TestShutdownDeadline: batches still unanswered when Shutdown's context
// ends are cancelled and counted as failed; Shutdown returns promptly.
func TestShutdownDeadline(t *testing.T) {
	f := &fakeReceiver{block: make(chan struct{})}
	defer close(f.block)
	c := start(t, f, Config{RetryFor: time.Hour})
	for range 3 {
		c.Add(PoolStats{ServerKey: "k"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := c.Shutdown(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(began), 5*time.Second)
	assert.Equal(t, int64(3), c.Stats().Failed)
	c.Add(PoolStats{ServerKey: "k"})
	assert.Equal(t, int64(1), c.Stats().Dropped)
	assert.NoError(t, c.Shutdown(context.Background()), "a second Shutdown")
}

// TestConcurrentAdd: many goroutines, small batches and few senders (Add
// blocks meanwhile): every event is posted once.
func TestConcurrentAdd(t *testing.T) {
	f := &fakeReceiver{}
	c := start(t, f, Config{BatchSize: 7, Senders: 1, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	var added atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c.Add(&SessionStats{SessionID: "s", Requests: int64(g*1000 + i)})
				added.Add(1)
			}
		})
	}
	wg.Wait()
	require.NoError(t, c.Shutdown(context.Background()))
	_, events := f.counts()
	assert.Equal(t, int(added.Load()), events)
	assert.Equal(t, Stats{Posted: added.Load()}, c.Stats())
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(Config{Endpoint: url, RetryFor: 300 * time.Millisecond})
	require.NoError(t, err)
	defer func() { assert.NoError(t, c.Shutdown(context.Background())) }()
	err = c.Post(context.Background(), PoolStats{ServerKey: "k"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up after 300ms")
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Positive(t, c.Stats().Retries)
}

// TestAddDuringShutdown: every event added while Shutdown runs is either
// posted or counted as dropped, none lost without a count.
func TestAddDuringShutdown(t *testing.T) {
	for range 5 {
		f := &fakeReceiver{}
		c := start(t, f, Config{BatchSize: 5, FlushInterval: time.Hour})
		var added atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					c.Add(&PoolStats{ServerKey: "k"})
					added.Add(1)
				}
			})
		}
		require.Eventually(t, func() bool { return added.Load() >= 50 }, 10*time.Second, time.Millisecond)
		require.NoError(t, c.Shutdown(context.Background()))
		close(stop)
		wg.Wait()
		s := c.Stats()
		_, events := f.counts()
		assert.Equal(t, added.Load(), s.Posted+s.Dropped)
		assert.Equal(t, int64(events), s.Posted)
	}
}

// TestFlushWhileAdding: Flush waits for the batches in flight while other
// goroutines keep handing over new ones (a WaitGroup here raced: Add grew
// it during Wait). Every event is posted once Shutdown returns.
func TestFlushWhileAdding(t *testing.T) {
	f := &fakeReceiver{}
	c := start(t, f, Config{BatchSize: 2, FlushInterval: time.Hour})
	const perAdder = 500
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range perAdder {
				c.Add(&PoolStats{ServerKey: "k"})
			}
		})
	}
	addersDone := waitChan(&wg)
	flushed := 0
	for done := false; !done; {
		require.NoError(t, c.Flush(context.Background()))
		flushed++
		select {
		case <-addersDone:
			done = true
		default:
		}
	}
	require.NoError(t, c.Shutdown(context.Background()))
	_, events := f.counts()
	assert.Equal(t, 4*perAdder, events)
	assert.Equal(t, int64(4*perAdder), c.Stats().Posted)
	assert.Positive(t, flushed)
}

func waitChan(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}
