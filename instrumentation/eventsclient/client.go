package eventsclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EventsPath is where the receiver takes events.
const EventsPath = "/v1/events"

// Config configures a Client. Only Endpoint is required.
type Config struct {
	// Endpoint is the receiver's base URL (http://collector:4320, the
	// events go to /v1/events) or the full URL of its events path.
	Endpoint string
	// Resource names the router in every event.
	Resource Resource
	// HTTPClient sends the requests; default: a client with a 30 s timeout
	// whose transport keeps Senders idle connections.
	HTTPClient *http.Client
	// Header is added to every request (Authorization, say).
	Header http.Header
	// BatchSize is the most events per request (default 1000; the
	// receiver's max_events_per_request is 10000 by default).
	BatchSize int
	// FlushInterval sends a partial batch this long after its first event
	// at the latest (default 1 s).
	FlushInterval time.Duration
	// Senders is how many requests may be in flight (default 2). Add
	// blocks while Senders requests and 2*Senders full batches wait: the
	// client applies back-pressure rather than dropping events.
	Senders int
	// RetryFor bounds the retries of one request (default 1 min): a 503,
	// 429 or other 5xx answer (honouring Retry-After) or a failed
	// connection is retried with backoff; any other answer is final.
	RetryFor time.Duration
	// OnError, when set, is called (from a sending goroutine) with the
	// error of every batch that was not delivered.
	OnError func(err error)
}

// Stats count what a Client delivered.
type Stats struct {
	Posted  int64 // events the receiver accepted
	Failed  int64 // events given up: refused, or retried for RetryFor in vain
	Dropped int64 // events added after Shutdown
	Retries int64 // requests sent again
}

// RefusedError is a final answer other than 200: the receiver refused the
// request (400 with the problems of each event, 413, 415, ...) or still
// pushed back when the retries ran out.
type RefusedError struct {
	URL        string
	StatusCode int
	Status     string
	Body       string // at most 4 KiB of the answer
	Events     int    // events in the refused request
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("events: %s refused %d events: %s: %s", e.URL, e.Events, e.Status, e.Body)
}

// Client sends events to mcpeventsreceiver: Add batches them and posts
// NDJSON in the background; Post sends a request and waits for its answer.
// It is safe for concurrent use.
type Client struct {
	url       string
	res       Resource
	http      *http.Client
	header    http.Header
	batchSize int
	retryFor  time.Duration
	onError   func(error)

	// ctx bounds the background requests; Shutdown cancels it when its own
	// context ends first.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	buf     []byte
	n       int
	stopped bool

	batches chan batch
	// Batches are numbered as they are handed to the senders (handed is
	// the next number); answeredUpTo is the count of the first batches all
	// answered, answered holds the numbers answered out of order beyond
	// it, and progress is closed (and replaced) whenever answeredUpTo
	// moves. Flush waits for the batches handed before it, not for those
	// other goroutines keep adding meanwhile (a WaitGroup could neither
	// grow during its Wait nor tell the two apart). All under mu.
	handed       uint64
	answeredUpTo uint64
	answered     map[uint64]struct{}
	progress     chan struct{}
	senders      sync.WaitGroup
	stopTick     chan struct{}
	ticker       sync.WaitGroup
	stopOnce     sync.Once

	scratch sync.Pool // *[]byte: one encoded event

	posted, failed, dropped, retries atomic.Int64
}

type batch struct {
	body []byte
	n    int
	seq  uint64 // order of handing over, see Client.handed
}

// New starts a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("eventsclient: endpoint %q must be an http(s) URL", cfg.Endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = EventsPath
	}
	if cfg.BatchSize < 0 || cfg.FlushInterval < 0 || cfg.Senders < 0 || cfg.RetryFor < 0 {
		return nil, errors.New("eventsclient: BatchSize, FlushInterval, Senders and RetryFor must not be negative")
	}
	senders := cmpOr(cfg.Senders, 2)
	c := &Client{
		url:       u.String(),
		res:       cfg.Resource,
		http:      cfg.HTTPClient,
		header:    cfg.Header,
		batchSize: cmpOr(cfg.BatchSize, 1000),
		retryFor:  cmpOr(cfg.RetryFor, time.Minute),
		onError:   cfg.OnError,
		batches:   make(chan batch, 2*senders),
		stopTick:  make(chan struct{}),
		answered:  map[uint64]struct{}{},
		progress:  make(chan struct{}),
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = senders
		c.http = &http.Client{Timeout: 30 * time.Second, Transport: t}
	}
	c.scratch.New = func() any { return new([]byte) }
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.senders.Add(senders)
	for range senders {
		go c.send()
	}
	c.ticker.Add(1)
	go c.tick(cmpOr(cfg.FlushInterval, time.Second))
	return c, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// URL is where the client posts.
func (c *Client) URL() string { return c.url }

// Add queues e for the next batch. It blocks while the senders are
// behind (see Config.Senders); after Shutdown it drops e (Stats.Dropped).
func (c *Client) Add(e Event) {
	s := c.scratch.Get().(*[]byte)
	line := append(AppendJSON((*s)[:0], c.res, e), '\n')
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		c.dropped.Add(1)
		c.scratch.Put(s)
		return
	}
	c.buf = append(c.buf, line...)
	c.n++
	if c.n < c.batchSize {
		c.mu.Unlock()
		*s = line
		c.scratch.Put(s)
		return
	}
	b := batch{body: c.buf, n: c.n, seq: c.handOverLocked()}
	c.buf, c.n = make([]byte, 0, len(b.body)+len(b.body)/4), 0
	c.mu.Unlock()
	*s = line
	c.scratch.Put(s)
	c.batches <- b
}

// sendPartial hands the current batch to the senders, if it has events.
func (c *Client) sendPartial() {
	c.mu.Lock()
	if c.stopped || c.n == 0 {
		c.mu.Unlock()
		return
	}
	b := batch{body: c.buf, n: c.n, seq: c.handOverLocked()}
	c.buf, c.n = nil, 0
	c.mu.Unlock()
	c.batches <- b
}

// handOverLocked numbers the next batch handed to the senders; c.mu is
// held.
func (c *Client) handOverLocked() uint64 {
	c.handed++
	return c.handed - 1
}

// answer records batch seq answered (posted or given up).
func (c *Client) answer(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered[seq] = struct{}{}
	moved := false
	for {
		if _, ok := c.answered[c.answeredUpTo]; !ok {
			break
		}
		delete(c.answered, c.answeredUpTo)
		c.answeredUpTo++
		moved = true
	}
	if moved {
		close(c.progress)
		c.progress = make(chan struct{})
	}
}

func (c *Client) tick(every time.Duration) {
	defer c.ticker.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stopTick:
			return
		case <-t.C:
			c.sendPartial()
		}
	}
}

// send posts batches until the channel closes.
func (c *Client) send() {
	defer c.senders.Done()
	for b := range c.batches {
		if err := c.post(c.ctx, b.body, b.n); err != nil {
			c.failed.Add(int64(b.n))
			if c.onError != nil {
				c.onError(err)
			}
		} else {
			c.posted.Add(int64(b.n))
		}
		c.answer(b.seq)
	}
}

// Flush sends what is queued and waits until every batch is answered or
// ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	c.sendPartial()
	return c.wait(ctx)
}

// wait returns once every batch handed over before the call is answered.
func (c *Client) wait(ctx context.Context) error {
	c.mu.Lock()
	target := c.handed
	for c.answeredUpTo < target {
		progress := c.progress
		c.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("events: batches still in flight: %w", context.Cause(ctx))
		}
		c.mu.Lock()
	}
	c.mu.Unlock()
	return nil
}

// Shutdown sends what is queued, waits for the answers until ctx ends
// (then the requests still in flight are cancelled and their events
// counted as failed) and stops the client. Later calls return nil.
func (c *Client) Shutdown(ctx context.Context) error {
	var err error
	c.stopOnce.Do(func() {
		close(c.stopTick)
		c.ticker.Wait()
		err = c.Flush(ctx)
		if err != nil {
			c.cancel() // the senders give up at once
		}
		// Events added meanwhile go too (or fail at once when ctx ended).
		c.mu.Lock()
		c.stopped = true
		rest := batch{body: c.buf, n: c.n}
		c.buf, c.n = nil, 0
		if rest.n > 0 {
			rest.seq = c.handOverLocked()
		}
		c.mu.Unlock()
		if rest.n > 0 {
			c.batches <- rest
		}
		// Every batch numbered before stopped was set is sent and answered
		// before the channel closes: Add sends its batch after unlocking, and a
		// send on a closed channel would panic. The senders answer or give up.
		_ = c.wait(context.Background())
		close(c.batches)
		c.senders.Wait()
		c.cancel()
	})
	return err
}

// Stats returns the counts so far.
func (c *Client) Stats() Stats {
	return Stats{Posted: c.posted.Load(), Failed: c.failed.Load(), Dropped: c.dropped.Load(), Retries: c.retries.Load()}
}

// Post sends the events in one request, now, and returns when the receiver
// accepted them, refused them (a *RefusedError) or ctx ended; it retries as
// the background batches do, within ctx and Config.RetryFor.
func (c *Client) Post(ctx context.Context, events ...Event) error {
	body := AppendNDJSON(nil, c.res, events...)
	n := bytes.Count(body, []byte{'\n'})
	if n == 0 {
		return nil
	}
	return c.post(ctx, body, n)
}

// post sends one body, retrying what the receiver says is temporary (503,
// 429, any 5xx, no connection) with backoff within retryFor and ctx; the
// events' ids make a repeated request safe.
func (c *Client) post(ctx context.Context, body []byte, n int) error {
	deadline := time.Now().Add(c.retryFor)
	wait := 100 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		for k, vs := range c.header {
			req.Header[k] = vs
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := c.http.Do(req)
		var last error
		if err == nil {
			answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = &RefusedError{URL: c.url, StatusCode: resp.StatusCode, Status: resp.Status,
				Body: string(bytes.TrimSpace(answer)), Events: n}
			if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
				return last
			}
			if s, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr == nil && s > 0 {
				wait = max(wait, time.Duration(s)*time.Second)
			}
		} else {
			if ctx.Err() != nil {
				return fmt.Errorf("events: %s: %d events not delivered: %w", c.url, n, context.Cause(ctx))
			}
			last = err
		}
		if time.Now().Add(wait).After(deadline) {
			return &gaveUp{url: c.url, after: c.retryFor, last: last}
		}
		c.retries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("events: %s: %d events not delivered: %w (last answer: %w)", c.url, n, context.Cause(ctx), last)
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// gaveUp is a request still pushed back, or not connected, when the
// retries ran out.
type gaveUp struct {
	url   string
	after time.Duration
	last  error
}

func (e *gaveUp) Error() string {
	msg := e.last.Error()
	var r *RefusedError
	if errors.As(e.last, &r) {
		msg = r.Status + ": " + r.Body
	}
	return "events: " + e.url + ": gave up after " + e.after.String() + ": " + msg
}

func (e *gaveUp) Unwrap() error { return e.last }

// NewID returns 16 random bytes in hex: an event id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
