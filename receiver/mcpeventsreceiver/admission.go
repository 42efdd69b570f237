package mcpeventsreceiver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
)

// readChunk is the most read from a body at a time, and the step by which
// the reservation of a body of unknown size grows.
const readChunk = 256 << 10

// Reasons of otelcol_receiver_mcpevents_requests_refused.
const (
	reasonRequestsInFlight = "requests_in_flight"
	reasonBytesInFlight    = "bytes_in_flight"
)

// errOverCapacity ends the read of a body whose reservation could not grow.
var errOverCapacity = errors.New("max_bytes_in_flight reached")

// inflight counts the requests admitted and the body bytes they reserved,
// from admission to answer.
type inflight struct {
	maxRequests int64
	maxBytes    int64
	requests    atomic.Int64
	bytes       atomic.Int64
}

func (f *inflight) acquireRequest() bool { return addUpTo(&f.requests, 1, f.maxRequests) }

func (f *inflight) releaseRequest() { f.requests.Add(-1) }

func (f *inflight) reserve(n int64) bool { return addUpTo(&f.bytes, n, f.maxBytes) }

// addUpTo adds n to v unless the sum would exceed limit.
func addUpTo(v *atomic.Int64, n, limit int64) bool {
	for {
		cur := v.Load()
		if cur+n > limit {
			return false
		}
		if v.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// ticket is the admission of one request: the body bytes it reserved, and
// the most its body can hold.
type ticket struct {
	in       *inflight
	reserved int64
	// limit is the body's Content-Length when it is sent uncompressed with
	// one (sized), else max_request_body_size.
	limit int64
	sized bool
}

type ticketKey struct{}

// cover makes the reservation hold n bytes of body (n <= limit), in steps
// of readChunk; false when max_bytes_in_flight leaves no room.
func (t *ticket) cover(n int64) bool {
	if n <= t.reserved {
		return true
	}
	want := min(t.limit, (n+readChunk-1)/readChunk*readChunk)
	if !t.in.reserve(want - t.reserved) {
		return false
	}
	t.reserved = want
	return true
}

func (t *ticket) release() {
	t.in.bytes.Add(-t.reserved)
	t.reserved = 0
}

// readBody reads the body into buf, growing the reservation ahead of what
// is read: a sized body was reserved whole at admission, a compressed or
// chunked one is counted as it is decompressed or received, and its read
// stops with errOverCapacity when the reservation cannot grow.
func (t *ticket) readBody(buf *bytes.Buffer, body io.Reader) error {
	if t.sized {
		buf.Grow(int(t.limit) + 1) // +1: room to read the end of the body
	}
	for {
		if buf.Available() == 0 { // unsized: double, from 32 KiB
			n := int64(buf.Len())
			buf.Grow(int(max(1, min(max(32<<10, n), t.limit+1-n))))
		}
		free := buf.AvailableBuffer()
		free = free[:min(cap(free), readChunk)]
		if !t.cover(min(int64(buf.Len()+len(free)), t.limit)) {
			return errOverCapacity
		}
		n, err := body.Read(free)
		buf.Write(free[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// isTimeout tells a read that hit the connection's read deadline
// (read_timeout).
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// admit wraps the whole server, outside confighttp's authentication and
// decompression (which starts reading the body, and for snappy reads it
// whole): a POST to the events path is admitted only when
// max_requests_in_flight and max_bytes_in_flight leave room for it, and is
// otherwise answered 503 with Retry-After before any of its body is read.
// An uncompressed body with a Content-Length reserves that many bytes; any
// other (compressed, or chunked) reserves its Content-Length or readChunk,
// and grows its reservation as it is read.
func (r *eventsReceiver) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != EventsPath {
			next.ServeHTTP(w, req) // answered without reading a body
			return
		}
		ctx := req.Context()
		limit := r.cfg.bodyLimit()
		if req.ContentLength > limit {
			r.reject(ctx, w, http.StatusRequestEntityTooLarge, reasonBodyTooLarge, errorBody{Error: bodyTooLargeMessage(limit)})
			return
		}
		t := &ticket{in: &r.inflight, limit: limit}
		initial := min(limit, max(req.ContentLength, readChunk))
		if enc := req.Header.Get("Content-Encoding"); (enc == "" || enc == "identity") && req.ContentLength >= 0 {
			t.limit, t.sized, initial = req.ContentLength, true, req.ContentLength
		}
		if !r.inflight.acquireRequest() {
			r.refuse(ctx, w, reasonRequestsInFlight, "too many requests in flight (max_requests_in_flight "+
				strconv.FormatInt(r.inflight.maxRequests, 10)+")")
			return
		}
		defer r.inflight.releaseRequest()
		if !t.cover(initial) {
			r.refuse(ctx, w, reasonBytesInFlight, bytesInFlightMessage(r.inflight.maxBytes))
			return
		}
		defer t.release()
		next.ServeHTTP(w, req.WithContext(context.WithValue(ctx, ticketKey{}, t)))
	})
}

func bytesInFlightMessage(maxBytes int64) string {
	return "too many request bytes in flight (max_bytes_in_flight " + strconv.FormatInt(maxBytes, 10) + ")"
}

func bodyTooLargeMessage(limit int64) string {
	return "request body larger than max_request_body_size (" + strconv.FormatInt(limit, 10) +
		" bytes, counted after decompression)"
}
