package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// The manifest records every id a run sent, so that reconciliation can
// anti-join it against the tables. It is a gzip stream of text lines:
//
//	{"format":"mcprouter-sim-manifest/1", ...}   the header: one JSON object
//	R <trace id> <span id> <failed 0|1>          routing_log (SERVER span)
//	T <trace id> <span id> <failed 0|1>          tool_call_record (CLIENT span)
//	E <event id> 1                               error_log (span or router error)
//	H <event id> <failed 0|1>                    health_check_record
//	L <event id> <failed 0|1>                    lb_decision
//	B <event id> <failed 0|1>                    circuit_breaker_event
//	S <session id> <requests> <errors> <ended 0|1>  session_record, final state
//	V <server key> <registered 0|1> <health>     mcp_server, final state
//
// "failed" follows mcpconv.IsFailedSpan / IsFailedLog: a sampler keeps every
// failure, so reconciliation requires all of them. Ids are hex; an event id
// never holds a space. The header comes first although it is known last:
// the lines go to a temporary gzip member while the run lasts, and the
// file is the header's member followed by it (gzip allows concatenation;
// zcat F | head -n 1 | jq shows the header).
const manifestFormat = "mcprouter-sim-manifest/1"

// kind is a kind of manifest record.
type kind uint8

const (
	kindRouting kind = iota
	kindToolCall
	kindError
	kindHealthCheck
	kindLBDecision
	kindBreaker
	kindSession
	kindServer
	// Events counted but not listed: the upserts keep no event id.
	kindSessionEvent
	kindServerEvent
	numKinds
)

var kindInfo = [numKinds]struct {
	name  string
	code  byte
	table string
}{
	kindRouting:      {"routing", 'R', "routing_log"},
	kindToolCall:     {"tool_call", 'T', "tool_call_record"},
	kindError:        {"error", 'E', "error_log"},
	kindHealthCheck:  {"health_check", 'H', "health_check_record"},
	kindLBDecision:   {"lb_decision", 'L', "lb_decision"},
	kindBreaker:      {"circuit_breaker", 'B', "circuit_breaker_event"},
	kindSession:      {"session", 'S', "session_record"},
	kindServer:       {"server", 'V', "mcp_server"},
	kindSessionEvent: {"session_event", 0, "session_record"},
	kindServerEvent:  {"server_event", 0, "mcp_server"},
}

func (k kind) String() string { return kindInfo[k].name }

func kindOfCode(c byte) (kind, bool) {
	for k := range numKinds {
		if kindInfo[k].code == c && c != 0 {
			return k, true
		}
	}
	return 0, false
}

// kindCount is how many records of a kind were sent, and how many of them
// were failures.
type kindCount struct {
	Sent   int64 `json:"sent"`
	Failed int64 `json:"failed"`
}

// manifestHeader describes the run.
type manifestHeader struct {
	Format      string    `json:"format"`
	Mode        string    `json:"mode"`
	Protocol    string    `json:"protocol,omitempty"`
	Endpoint    string    `json:"endpoint"`
	ServiceName string    `json:"service_name"`
	InstanceID  string    `json:"service_instance_id"`
	Seed        uint64    `json:"seed,string"` // a string: JSON numbers lose 64-bit precision
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended"`
	// FirstEvent and LastEvent bound the event times of the run (requests
	// are back-dated by their duration).
	FirstEvent   time.Time `json:"first_event"`
	LastEvent    time.Time `json:"last_event"`
	TargetRate   float64   `json:"target_rate"`
	AchievedRate float64   `json:"achieved_rate"`
	Servers      []string  `json:"servers"`
	ErrorRate    float64   `json:"error_rate"`

	Kinds map[string]kindCount `json:"kinds"`
	// Metrics are the expected totals: the count of each duration histogram
	// (summed over its series) and the number of pool gauge series.
	Metrics map[string]int64 `json:"metrics"`

	Delivery deliverySnapshot `json:"delivery"`
}

// manifestWriter collects record lines from every goroutine.
type manifestWriter struct {
	path string
	mu   sync.Mutex
	tmp  *os.File
	zw   *gzip.Writer
	err  error
}

func createManifest(path string) (*manifestWriter, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.records")
	if err != nil {
		return nil, err
	}
	zw, _ := gzip.NewWriterLevel(tmp, gzip.BestSpeed)
	return &manifestWriter{path: path, tmp: tmp, zw: zw}, nil
}

func (m *manifestWriter) write(lines []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		_, m.err = m.zw.Write(lines)
	}
}

// finish writes the file: the header, then the records.
func (m *manifestWriter) finish(h manifestHeader) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer os.Remove(m.tmp.Name())
	err := errors.Join(m.err, m.zw.Close())
	if _, serr := m.tmp.Seek(0, io.SeekStart); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		m.tmp.Close()
		return err
	}
	defer m.tmp.Close()
	h.Format = manifestFormat
	js, err := json.Marshal(h)
	if err != nil {
		return err
	}
	out, err := os.CreateTemp(filepath.Dir(m.path), filepath.Base(m.path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	if err := out.Chmod(0o644); err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	_, err1 := zw.Write(append(js, '\n'))
	err2 := zw.Close()
	_, err3 := io.Copy(out, m.tmp)
	err4 := out.Close()
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return err
	}
	return os.Rename(out.Name(), m.path)
}

// abort removes the temporary file of a run that writes no manifest.
func (m *manifestWriter) abort() {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.tmp.Close()
	_ = os.Remove(m.tmp.Name())
}

// readManifest reads the header and calls visit for every record line
// (fields split at spaces, the code first).
func readManifest(path string, visit func(k kind, fields [][]byte) error) (manifestHeader, error) {
	var h manifestHeader
	f, err := os.Open(path)
	if err != nil {
		return h, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return h, fmt.Errorf("%s: %w", path, err)
	}
	br := bufio.NewReaderSize(zr, 1<<16)
	first, err := br.ReadBytes('\n')
	if err != nil {
		return h, fmt.Errorf("%s: no header: %w", path, err)
	}
	if err := json.Unmarshal(first, &h); err != nil {
		return h, fmt.Errorf("%s: header: %w", path, err)
	}
	if h.Format != manifestFormat {
		return h, fmt.Errorf("%s: format %q, want %q", path, h.Format, manifestFormat)
	}
	line := 1
	var fields [][]byte
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return h, fmt.Errorf("%s:%d: line too long", path, line+1)
		}
		if len(b) > 0 {
			line++
			b = bytes.TrimSuffix(b, []byte{'\n'})
			fields = fields[:0]
			for f := range bytes.SplitSeq(b, []byte{' '}) {
				fields = append(fields, f)
			}
			k, ok := kindOfCode(fields[0][0])
			if !ok || len(fields[0]) != 1 {
				return h, fmt.Errorf("%s:%d: unknown record %q", path, line, fields[0])
			}
			if verr := visit(k, fields[1:]); verr != nil {
				return h, fmt.Errorf("%s:%d: %w", path, line, verr)
			}
		}
		if err == io.EOF {
			return h, nil
		}
		if err != nil {
			return h, fmt.Errorf("%s: %w", path, err)
		}
	}
}

// counters count what was sent, per kind.
type counters struct {
	sent, failed [numKinds]atomic.Int64
}

func (c *counters) snapshot() map[string]kindCount {
	out := make(map[string]kindCount, numKinds)
	for k := range numKinds {
		out[k.String()] = kindCount{Sent: c.sent[k].Load(), Failed: c.failed[k].Load()}
	}
	return out
}

// recorder buffers one goroutine's manifest lines.
type recorder struct {
	man      *manifestWriter // nil: count only
	counters *counters
	buf      []byte
}

const recorderFlushSize = 64 << 10

func newRecorder(man *manifestWriter, count *counters) *recorder {
	r := &recorder{man: man, counters: count}
	if man != nil {
		r.buf = make([]byte, 0, recorderFlushSize+256)
	}
	return r
}

func (r *recorder) add(k kind, failed bool) {
	r.counters.sent[k].Add(1)
	if failed {
		r.counters.failed[k].Add(1)
	}
}

// count counts an event that the manifest does not list.
func (r *recorder) count(k kind, failed bool) { r.add(k, failed) }

func appendFlag(b []byte, on bool) []byte {
	if on {
		return append(b, " 1\n"...)
	}
	return append(b, " 0\n"...)
}

func (r *recorder) span(k kind, tid trace.TraceID, sid trace.SpanID, failed bool) {
	r.add(k, failed)
	if r.man == nil {
		return
	}
	r.buf = append(r.buf, kindInfo[k].code, ' ')
	r.buf = hex.AppendEncode(r.buf, tid[:])
	r.buf = append(r.buf, ' ')
	r.buf = hex.AppendEncode(r.buf, sid[:])
	r.buf = appendFlag(r.buf, failed)
}

// spanError records the error_log row of a failed span: its exception
// event's index, or -1 for the span_status row (docs/conventions.md,
// Identity).
func (r *recorder) spanError(tid trace.TraceID, sid trace.SpanID, exception int) {
	r.add(kindError, true)
	if r.man == nil {
		return
	}
	r.buf = append(r.buf, 'E', ' ')
	r.buf = hex.AppendEncode(r.buf, tid[:])
	r.buf = append(r.buf, '-')
	r.buf = hex.AppendEncode(r.buf, sid[:])
	if exception >= 0 {
		r.buf = append(r.buf, '-')
		r.buf = strconv.AppendInt(r.buf, int64(exception), 10)
	}
	r.buf = appendFlag(r.buf, true)
}

func (r *recorder) event(k kind, id string, failed bool) {
	r.add(k, failed)
	if r.man == nil {
		return
	}
	r.buf = append(r.buf, kindInfo[k].code, ' ')
	r.buf = append(r.buf, id...)
	r.buf = appendFlag(r.buf, failed)
}

func (r *recorder) session(id string, requests, errs int64, ended bool) {
	r.add(kindSession, false)
	if r.man == nil {
		return
	}
	r.buf = append(r.buf, 'S', ' ')
	r.buf = append(r.buf, id...)
	r.buf = append(r.buf, ' ')
	r.buf = strconv.AppendInt(r.buf, requests, 10)
	r.buf = append(r.buf, ' ')
	r.buf = strconv.AppendInt(r.buf, errs, 10)
	r.buf = appendFlag(r.buf, ended)
}

func (r *recorder) server(key string, registered bool, health string) {
	r.add(kindServer, false)
	if r.man == nil {
		return
	}
	r.buf = append(r.buf, 'V', ' ')
	r.buf = append(r.buf, key...)
	r.buf = append(r.buf, ' ')
	if registered {
		r.buf = append(r.buf, '1')
	} else {
		r.buf = append(r.buf, '0')
	}
	r.buf = append(r.buf, ' ')
	r.buf = append(r.buf, health...)
	r.buf = append(r.buf, '\n')
}

func (r *recorder) flushIfFull() {
	if len(r.buf) >= recorderFlushSize {
		r.flush()
	}
}

func (r *recorder) flush() {
	if r.man != nil && len(r.buf) > 0 {
		r.man.write(r.buf)
		r.buf = r.buf[:0]
	}
}
