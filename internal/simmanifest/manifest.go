// Package simmanifest is the manifest of a simulated router run
// (cmd/mcprouter-sim): every id the run sent, per kind, with a header that
// describes the run. The simulator writes it while it sends (Recorder,
// Writer); internal/reconcile reads it (Read) and anti-joins it with the
// tables.
package simmanifest

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
const Format = "mcprouter-sim-manifest/1"

// Kind is a kind of manifest record.
type Kind uint8

const (
	KindRouting Kind = iota
	KindToolCall
	KindError
	KindHealthCheck
	KindLBDecision
	KindBreaker
	KindSession
	KindServer
	// Events counted but not listed: the upserts keep no event id.
	KindSessionEvent
	KindServerEvent
	NumKinds
)

var kindInfo = [NumKinds]struct {
	name  string
	code  byte
	table string
}{
	KindRouting:      {"routing", 'R', "routing_log"},
	KindToolCall:     {"tool_call", 'T', "tool_call_record"},
	KindError:        {"error", 'E', "error_log"},
	KindHealthCheck:  {"health_check", 'H', "health_check_record"},
	KindLBDecision:   {"lb_decision", 'L', "lb_decision"},
	KindBreaker:      {"circuit_breaker", 'B', "circuit_breaker_event"},
	KindSession:      {"session", 'S', "session_record"},
	KindServer:       {"server", 'V', "mcp_server"},
	KindSessionEvent: {"session_event", 0, "session_record"},
	KindServerEvent:  {"server_event", 0, "mcp_server"},
}

func (k Kind) String() string { return kindInfo[k].name }

// Code is the kind's letter at the start of its record lines (0 for the
// kinds counted but not listed).
func (k Kind) Code() byte { return kindInfo[k].code }

// Table is the table the kind's rows go to.
func (k Kind) Table() string { return kindInfo[k].table }

func KindOfCode(c byte) (Kind, bool) {
	for k := range NumKinds {
		if kindInfo[k].code == c && c != 0 {
			return k, true
		}
	}
	return 0, false
}

// KindCount is how many records of a kind were sent, and how many of them
// were failures.
type KindCount struct {
	Sent   int64 `json:"sent"`
	Failed int64 `json:"failed"`
}

// Header describes the run.
type Header struct {
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

	Kinds map[string]KindCount `json:"kinds"`
	// Metrics are the expected totals: the count of each duration histogram
	// (summed over its series) and the number of pool gauge series.
	Metrics map[string]int64 `json:"metrics"`

	Delivery Delivery `json:"delivery"`
}

// Delivery is what reached the collector, per signal, as the simulator's
// exporters or events client counted it.
type Delivery struct {
	SpansExported int64    `json:"spans_exported"`
	SpansFailed   int64    `json:"spans_failed"`
	LogsExported  int64    `json:"logs_exported"`
	LogsFailed    int64    `json:"logs_failed"`
	MetricExports int64    `json:"metric_exports"`
	MetricsFailed int64    `json:"metric_state_not_delivered"` // 1 when the last export failed
	EventsPosted  int64    `json:"events_posted,omitempty"`
	EventsFailed  int64    `json:"events_failed,omitempty"`
	Retries       int64    `json:"http_retries,omitempty"`
	Errors        []string `json:"errors,omitempty"`
}

// Failed counts everything that was not delivered.
func (d Delivery) Failed() int64 {
	return d.SpansFailed + d.LogsFailed + d.MetricsFailed + d.EventsFailed
}

// Writer collects record lines from every goroutine (Recorders); Finish
// writes the file.
type Writer struct {
	path string
	mu   sync.Mutex
	tmp  *os.File
	zw   *gzip.Writer
	err  error
}

// Create starts the manifest at path; nothing is there until Finish.
func Create(path string) (*Writer, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.records")
	if err != nil {
		return nil, err
	}
	zw, _ := gzip.NewWriterLevel(tmp, gzip.BestSpeed)
	return &Writer{path: path, tmp: tmp, zw: zw}, nil
}

// Write appends record lines.
func (m *Writer) Write(lines []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		_, m.err = m.zw.Write(lines)
	}
}

// Finish writes the file: the header, then the records.
func (m *Writer) Finish(h Header) error {
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
	h.Format = Format
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

// Abort removes the temporary file of a run that writes no manifest.
func (m *Writer) Abort() {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.tmp.Close()
	_ = os.Remove(m.tmp.Name())
}

// Read reads the header and calls visit for every record line
// (fields split at spaces, the code first).
func Read(path string, visit func(k Kind, fields [][]byte) error) (Header, error) {
	var h Header
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
	if h.Format != Format {
		return h, fmt.Errorf("%s: format %q, want %q", path, h.Format, Format)
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
			k, ok := KindOfCode(fields[0][0])
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

// Counters count what was sent, per kind.
type Counters struct {
	sent, failed [NumKinds]atomic.Int64
}

// Sent is how many of kind k were sent so far.
func (c *Counters) Sent(k Kind) int64 { return c.sent[k].Load() }

// Snapshot is the counts per kind name.
func (c *Counters) Snapshot() map[string]KindCount {
	out := make(map[string]KindCount, NumKinds)
	for k := range NumKinds {
		out[k.String()] = KindCount{Sent: c.sent[k].Load(), Failed: c.failed[k].Load()}
	}
	return out
}

// Recorder counts what one goroutine sent and buffers its manifest lines
// (Flush writes them).
type Recorder struct {
	man      *Writer // nil: count only
	Counters *Counters
	buf      []byte
}

const recorderFlushSize = 64 << 10

// NewRecorder records into man (nil: count only) and count.
func NewRecorder(man *Writer, count *Counters) *Recorder {
	r := &Recorder{man: man, Counters: count}
	if man != nil {
		r.buf = make([]byte, 0, recorderFlushSize+256)
	}
	return r
}

func (r *Recorder) add(k Kind, failed bool) {
	r.Counters.sent[k].Add(1)
	if failed {
		r.Counters.failed[k].Add(1)
	}
}

// Count counts an event that the manifest does not list.
func (r *Recorder) Count(k Kind, failed bool) { r.add(k, failed) }

func appendFlag(b []byte, on bool) []byte {
	if on {
		return append(b, " 1\n"...)
	}
	return append(b, " 0\n"...)
}

// Span records a span of kind k (routing or tool call).
func (r *Recorder) Span(k Kind, tid trace.TraceID, sid trace.SpanID, failed bool) {
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

// SpanError records the error_log row of a failed span: its exception
// event's index, or -1 for the span_status row (docs/conventions.md,
// Identity).
func (r *Recorder) SpanError(tid trace.TraceID, sid trace.SpanID, exception int) {
	r.add(KindError, true)
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

// Event records an event of kind k by its id.
func (r *Recorder) Event(k Kind, id string, failed bool) {
	r.add(k, failed)
	if r.man == nil {
		return
	}
	r.buf = append(r.buf, kindInfo[k].code, ' ')
	r.buf = append(r.buf, id...)
	r.buf = appendFlag(r.buf, failed)
}

// Session records the final state of a session.
func (r *Recorder) Session(id string, requests, errs int64, ended bool) {
	r.add(KindSession, false)
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

// Server records the final state of an upstream.
func (r *Recorder) Server(key string, registered bool, health string) {
	r.add(KindServer, false)
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

// FlushIfFull writes the buffered lines once they are many.
func (r *Recorder) FlushIfFull() {
	if len(r.buf) >= recorderFlushSize {
		r.Flush()
	}
}

// Flush writes the buffered lines.
func (r *Recorder) Flush() {
	if r.man != nil && len(r.buf) > 0 {
		r.man.Write(r.buf)
		r.buf = r.buf[:0]
	}
}
