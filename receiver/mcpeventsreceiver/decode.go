package mcpeventsreceiver

import (
	"bytes"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// bodyFormat is how the events of a request are framed.
type bodyFormat uint8

const (
	formatJSON   bodyFormat = iota // a JSON array of events (or one event object)
	formatNDJSON                   // one event object per line
)

func (f bodyFormat) String() string {
	if f == formatNDJSON {
		return "ndjson"
	}
	return "json"
}

// decodeLimits are the per-request limits of the configuration.
type decodeLimits struct {
	maxEvents      int
	maxFieldLength int
	maxTextLength  int
}

// maxDetails caps the problems a 400 answer lists; the rest are counted.
const maxDetails = 100

// problem is one reason a request was refused, as the 400 answer lists it.
type problem struct {
	// Index is the 0-based position of the event in the request (blank
	// NDJSON lines do not count).
	Index int `json:"index"`
	// Line is the 1-based line of the offending value (NDJSON: the event's line).
	Line int `json:"line"`
	// Path names the field: server_key, exception.type, tools[2],
	// attributes.tenant; empty for the event as a whole.
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Timestamps outside [minTime, maxTime) are refused: a unix time in
// seconds or milliseconds sent as an integer falls far below minTime.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// attrValue is an extra attribute's value: a scalar or an array of
// scalars. It is kept small: arrays of tiny values are the densest input.
type attrValue struct {
	kind jsonKind // jsonString, jsonNumber, jsonBool or jsonArray
	// isInt tells an integer number from a double; b is a boolean's value.
	isInt, b bool
	// num holds an integer, or a double's bits.
	num  uint64
	str  string
	list []attrValue
}

func (v *attrValue) int() int64      { return int64(v.num) }
func (v *attrValue) double() float64 { return math.Float64frombits(v.num) }

type extraAttr struct {
	key   string
	value attrValue
	pos   int
}

type exceptionValue struct {
	typ, message, stacktrace string
}

// fieldRef records a field as it appeared in the event, for the problems
// that can only be told once the event's type is known.
type fieldRef struct {
	id   fieldID
	name string // unknown fields only
	pos  int
	// problems[from:to] of the event are about this field's value.
	from, to int
	// failed is set when the value had a problem (listed or not).
	failed bool
}

type fieldProblem struct {
	pos    int
	path   string
	reason string
}

// event is one decoded event, reused from event to event.
type event struct {
	index int
	start int // offset of its '{'
	typ   eventType
	// typeOK is set when the type field named a known type.
	typeOK bool
	// invalid is set once the event is counted as invalid.
	invalid bool
	// closed is set once the event's closing brace was read.
	closed bool
	// seen: fields present; set: fields with a value (not null, not "");
	// empty: fields given as "".
	seen, set, empty uint64

	str          [numFields]string
	num          [numFields]int64
	flt          [numFields]float64
	traceID      pcommon.TraceID
	spanID       pcommon.SpanID
	parentSpanID pcommon.SpanID
	tools        []string
	candidates   []string
	exception    exceptionValue
	attrs        []extraAttr

	refs     []fieldRef
	problems []fieldProblem
	// extraProblems counts the problems beyond what the event keeps (a
	// request lists at most maxDetails anyway).
	extraProblems int
}

// Per-event bounds: the fields and problems an event keeps, and the
// elements of one array (tools, candidates, an attribute's values).
const (
	maxRefs     = int(numFields) + maxDetails
	maxElements = 1024
)

func (e *event) reset(index, start int) {
	tools, candidates, attrs, refs, problems := e.tools[:0], e.candidates[:0], e.attrs[:0], e.refs[:0], e.problems[:0]
	*e = event{index: index, start: start}
	e.tools, e.candidates, e.attrs, e.refs, e.problems = tools, candidates, attrs, refs, problems
}

func (e *event) has(f fieldID) bool { return e.set&bit(f) != 0 }

func (e *event) problem(pos int, path, reason string) {
	if len(e.problems) >= maxDetails {
		e.extraProblems++
		return
	}
	e.problems = append(e.problems, fieldProblem{pos: pos, path: path, reason: reason})
}

// decoder turns the body of one request into pdata, or into the problems
// that refuse it. It checks every event before anything is handed on.
type decoder struct {
	limits decodeLimits
	// pipelines tells which signals have a consumer.
	pipelines [numSignals]bool
	// observed is the receive time, the log records' observed timestamp.
	observed pcommon.Timestamp

	s   scanner
	ev  event
	out batch

	// lineBase is the line of s.data[0] (NDJSON: the current line);
	// ndjson tells whether a problem's line is the line itself.
	lineBase int
	ndjson   bool

	events        int
	invalidEvents int
	problems      []problem
	moreProblems  int
	tooMany       bool
}

func newDecoder(limits decodeLimits, pipelines [numSignals]bool) *decoder {
	return &decoder{limits: limits, pipelines: pipelines}
}

// decode reads a request body. The result is valid when d.problems is
// empty and d.tooMany is false.
func (d *decoder) decode(body []byte, format bodyFormat, now time.Time) {
	d.observed = pcommon.NewTimestampFromTime(now)
	d.events, d.invalidEvents, d.moreProblems, d.tooMany, d.ndjson = 0, 0, 0, false, false
	d.problems = d.problems[:0]
	d.out.reset()
	if format == formatNDJSON {
		d.decodeNDJSON(body)
	} else {
		d.decodeArray(body)
	}
}

func (d *decoder) decodeNDJSON(body []byte) {
	d.ndjson = true
	line := 0
	for len(body) > 0 && !d.tooMany {
		line++
		text := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			text, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		d.s.reset(text)
		d.lineBase = line
		d.s.skipWS()
		if d.s.eof() {
			continue // blank line
		}
		if !d.startEvent() {
			return
		}
		if err := d.decodeEvent(); err != nil {
			d.syntaxProblem(err)
		}
	}
}

func (d *decoder) decodeArray(body []byte) {
	d.s.reset(body)
	d.lineBase = 1
	s := &d.s
	switch s.peekKind() {
	case jsonObject: // a single event
		if !d.startEvent() {
			return
		}
		if err := d.decodeEvent(); err != nil {
			d.syntaxProblem(err)
			return
		}
	case jsonArray:
		s.pos++
		if !s.consume(']') {
			for {
				s.skipWS()
				if !d.startEvent() {
					return
				}
				if err := d.decodeEvent(); err != nil {
					d.syntaxProblem(err)
					return
				}
				if s.consume(',') {
					continue
				}
				if s.consume(']') {
					break
				}
				d.syntaxProblem(s.unexpectedIn("expected ',' or ']' after an event"))
				return
			}
		}
	default:
		if s.eof() {
			return // no events
		}
		d.events++
		d.ev.reset(0, s.pos)
		d.syntaxProblem(s.fail("the body must be a JSON array of events or one event object"))
		return
	}
	s.skipWS()
	if !s.eof() {
		d.syntaxProblem(s.fail("unexpected data after the events"))
	}
}

// startEvent counts an event about to be read; false when there are too many.
func (d *decoder) startEvent() bool {
	if d.events >= d.limits.maxEvents {
		d.tooMany = true
		return false
	}
	d.ev.reset(d.events, d.s.pos)
	d.events++
	return true
}

// lineAt is the line of offset pos of the scanned text.
func (d *decoder) lineAt(pos int) int {
	if d.ndjson {
		return d.lineBase
	}
	pos = min(pos, len(d.s.data))
	return d.lineBase + bytes.Count(d.s.data[:pos], []byte{'\n'})
}

// addProblem records a problem of the current event.
func (d *decoder) addProblem(pos int, path, reason string) {
	if len(d.problems) >= maxDetails {
		d.moreProblems++
		return
	}
	d.problems = append(d.problems, problem{Index: d.ev.index, Line: d.lineAt(pos), Path: path, Reason: reason})
}

// syntaxProblem records malformed JSON in the current event; the problems
// found in it so far are dropped, as they may stem from the same mistake.
// Outside an event of a JSON array (between or after them) the problem
// takes the index the next event would have; an NDJSON line is its event.
func (d *decoder) syntaxProblem(err error) {
	if d.ev.closed && !d.ndjson {
		d.ev.reset(d.events, d.s.pos)
	}
	if !d.ev.invalid {
		d.ev.invalid = true
		d.invalidEvents++
	}
	se, ok := err.(*syntaxError)
	if !ok {
		d.addProblem(d.s.pos, "", err.Error())
		return
	}
	d.addProblem(se.pos, d.currentField(se.pos), se.Error())
}

// currentField names the top-level field being read at pos, if any.
func (d *decoder) currentField(pos int) string {
	refs := d.ev.refs
	if d.ev.closed || len(refs) == 0 || refs[len(refs)-1].pos > pos {
		return ""
	}
	r := refs[len(refs)-1]
	if r.id == fieldNone {
		return r.name
	}
	return fields[r.id].name
}

// decodeEvent reads one event object, checks it and, while the request is
// still valid, adds it to the batch. Only malformed JSON is returned.
func (d *decoder) decodeEvent() error {
	s := &d.s
	e := &d.ev
	if k := s.peekKind(); k != jsonObject {
		if k == jsonInvalid {
			return s.unexpectedIn("expected an event object")
		}
		start := s.pos
		if err := s.skipValue(0); err != nil {
			return err
		}
		d.ev.invalid = true
		d.invalidEvents++
		d.addProblem(start, "", "an event must be a JSON object, got "+k.String())
		return nil
	}
	s.pos++
	if !s.consume('}') {
		for {
			s.skipWS()
			keyPos := s.pos
			key, err := s.readKey()
			if err != nil {
				return err
			}
			s.skipWS()
			id, known := fieldByName[string(key)]
			first := known && e.seen&bit(id) == 0
			if !first && len(e.refs) >= maxRefs {
				// Unknown or repeated, beyond what a 400 answer lists: count it.
				e.extraProblems++
				if err := s.skipValue(1); err != nil {
					return err
				}
			} else {
				ref := fieldRef{id: id, pos: keyPos, from: len(e.problems), to: -1}
				extra := e.extraProblems
				switch {
				case !known:
					ref.id, ref.name = fieldNone, string(key)
					e.refs = append(e.refs, ref)
					err = s.skipValue(1)
				case !first:
					e.refs = append(e.refs, ref)
					e.problem(keyPos, fields[id].name, "duplicate field")
					err = s.skipValue(1)
				default:
					e.seen |= bit(id)
					e.refs = append(e.refs, ref)
					err = d.decodeField(id)
				}
				if err != nil {
					return err
				}
				r := &e.refs[len(e.refs)-1]
				r.to = len(e.problems)
				r.failed = r.to > r.from || e.extraProblems > extra
			}
			more, err := s.more('}')
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	e.closed = true
	if d.ndjson {
		if s.skipWS(); !s.eof() {
			return s.fail("unexpected data after the event; NDJSON takes one event per line")
		}
	}
	d.finishEvent()
	return nil
}

// valueProblem records a problem with the value at pos and skips it.
func (d *decoder) valueProblem(pos int, path, reason string) error {
	d.ev.problem(pos, path, reason)
	d.s.pos = pos
	return d.s.skipValue(1)
}

func wrongType(want string, got jsonKind) string { return "must be " + want + ", got " + got.String() }

// decodeField reads the value of a known field.
func (d *decoder) decodeField(id fieldID) error {
	s := &d.s
	e := &d.ev
	spec := &fields[id]
	pos := s.pos
	k := s.peekKind()
	if k == jsonNull { // null is as good as absent
		return s.readNull()
	}
	switch spec.kind {
	case kindType, kindShort, kindText, kindEnum, kindTraceID, kindSpanID, kindThreshold:
		if k != jsonString {
			return d.valueProblem(pos, spec.name, wrongType("a string", k))
		}
		v, ok, err := d.readString(spec.name, pos, d.lengthLimit(spec.kind))
		if err != nil || !ok {
			return err
		}
		if v == "" {
			e.empty |= bit(id)
			return nil
		}
		d.setString(id, pos, v)
	case kindStrOrInt:
		switch k {
		case jsonString:
			v, ok, err := d.readString(spec.name, pos, d.limits.maxFieldLength)
			if err != nil || !ok {
				return err
			}
			if v == "" {
				e.empty |= bit(id)
				return nil
			}
			e.str[id] = v
			e.set |= bit(id)
		case jsonNumber:
			raw, isInt, err := s.readNumber()
			if err != nil {
				return err
			}
			if _, fits := parseInt(raw); !isInt || !fits {
				return d.valueProblem(pos, spec.name, "must be a string or an integer, got "+excerpt(raw))
			}
			e.str[id] = string(raw)
			e.set |= bit(id)
		default:
			return d.valueProblem(pos, spec.name, wrongType("a string or an integer", k))
		}
	case kindTime:
		return d.decodeTime(id, pos, k)
	case kindInt:
		if k != jsonNumber {
			return d.valueProblem(pos, spec.name, wrongType("an integer", k))
		}
		raw, isInt, err := s.readNumber()
		if err != nil {
			return err
		}
		n, fits := parseInt(raw)
		if !isInt || !fits || n < spec.min || n > spec.max {
			if !isInt {
				e.problem(pos, spec.name, "must be an integer, got "+excerpt(raw))
			} else {
				e.problem(pos, spec.name, "must be between "+strconv.FormatInt(spec.min, 10)+" and "+
					strconv.FormatInt(spec.max, 10)+", got "+excerpt(raw))
			}
			return nil
		}
		e.num[id] = n
		e.set |= bit(id)
	case kindMillis:
		if k != jsonNumber {
			return d.valueProblem(pos, spec.name, wrongType("a number", k))
		}
		raw, _, err := s.readNumber()
		if err != nil {
			return err
		}
		f, perr := strconv.ParseFloat(string(raw), 64)
		if perr != nil || f < 0 || f > float64(spec.max) {
			e.problem(pos, spec.name, "must be between 0 and "+strconv.FormatInt(spec.max, 10)+", got "+excerpt(raw))
			return nil
		}
		e.flt[id] = f
		e.set |= bit(id)
	case kindShortList:
		return d.decodeList(id, pos, k)
	case kindRawJSON:
		start := pos
		s.nul = false
		if err := s.skipValue(1); err != nil {
			return err
		}
		raw := s.data[start:s.pos]
		switch {
		case s.nul:
			e.problem(pos, spec.name, "must not contain NUL characters (\\u0000)")
		case len(raw) > d.limits.maxTextLength:
			e.problem(pos, spec.name, tooLong(d.limits.maxTextLength, "max_text_length"))
		default:
			e.str[id] = string(raw)
			e.set |= bit(id)
		}
	case kindException:
		return d.decodeException(id, pos, k)
	case kindAttributes:
		return d.decodeAttributes(id, pos, k)
	}
	return nil
}

// lengthLimit is the longest string a field kind takes; the kinds whose
// content is checked (type, enums, ids, thresholds) need none.
func (d *decoder) lengthLimit(kind fieldKind) int {
	switch kind {
	case kindText:
		return d.limits.maxTextLength
	case kindShort, kindStrOrInt:
		return d.limits.maxFieldLength
	}
	return math.MaxInt
}

// excerptLength bounds the part of a refused value quoted in a reason.
const excerptLength = 64

// quoted quotes a value for a reason, shortened when long.
func quoted(v string) string {
	if len(v) <= excerptLength {
		return strconv.Quote(v)
	}
	cut := excerptLength
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return strconv.Quote(v[:cut]) + "..."
}

// excerpt shortens the text of a refused number for a reason.
func excerpt(raw []byte) string {
	if len(raw) <= excerptLength {
		return string(raw)
	}
	return string(raw[:excerptLength]) + "..."
}

func tooLong(limit int, setting string) string {
	return "longer than " + strconv.Itoa(limit) + " bytes (" + setting + ")"
}

// stringValue reads a string and checks its length and content; reason
// tells what is wrong with it.
func (d *decoder) stringValue(limit int) (v, reason string, err error) {
	s := &d.s
	s.nul = false
	v, err = s.readString()
	switch {
	case err != nil:
		return "", "", err
	case len(v) > limit:
		setting := "max_field_length"
		if limit == d.limits.maxTextLength && limit != d.limits.maxFieldLength {
			setting = "max_text_length"
		}
		return "", tooLong(limit, setting), nil
	case s.nul:
		return "", "must not contain NUL characters (\\u0000)", nil
	}
	return v, "", nil
}

// readString reads a string at pos; ok is false when a problem was recorded.
func (d *decoder) readString(path string, pos, limit int) (string, bool, error) {
	v, reason, err := d.stringValue(limit)
	if err != nil {
		return "", false, err
	}
	if reason != "" {
		d.ev.problem(pos, path, reason)
		return "", false, nil
	}
	return v, true, nil
}

// indexPath names an element of an array field.
func indexPath(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

// setString checks a non-empty string value against its field's kind.
func (d *decoder) setString(id fieldID, pos int, v string) {
	e := &d.ev
	spec := &fields[id]
	switch spec.kind {
	case kindType:
		t, ok := typeByName[v]
		if !ok {
			e.problem(pos, spec.name, "unknown event type "+quoted(v))
			return
		}
		e.typ, e.typeOK = t, true
	case kindEnum:
		if !contains(spec.enum, v) {
			e.problem(pos, spec.name, "must be one of "+quoteList(spec.enum)+", got "+quoted(v))
			return
		}
	case kindTraceID:
		if len(v) != 32 || !decodeHexID(e.traceID[:], v) {
			e.problem(pos, spec.name, "must be 32 hex digits, not all zero")
			return
		}
	case kindSpanID:
		dst := e.spanID[:]
		if id == fParentSpanID {
			dst = e.parentSpanID[:]
		}
		if len(v) != 16 || !decodeHexID(dst, v) {
			e.problem(pos, spec.name, "must be 16 hex digits, not all zero")
			return
		}
	case kindThreshold:
		if !validThreshold(v) {
			e.problem(pos, spec.name, "must be 1 to 14 lowercase hex digits (an OpenTelemetry sampling threshold)")
			return
		}
	}
	e.str[id] = v
	e.set |= bit(id)
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func quoteList(list []string) string {
	var b strings.Builder
	for i, s := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s))
	}
	return b.String()
}

// decodeHexID decodes hex into dst and rejects an all-zero id.
func decodeHexID(dst []byte, v string) bool {
	if _, err := hex.Decode(dst, []byte(v)); err != nil {
		return false
	}
	for _, b := range dst {
		if b != 0 {
			return true
		}
	}
	return false
}

func validThreshold(v string) bool {
	if len(v) < 1 || len(v) > 14 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

const timeHint = "use RFC 3339 (2025-06-18T12:00:00.5Z) or unix nanoseconds"

// decodeTime reads an RFC 3339 timestamp or unix nanoseconds.
func (d *decoder) decodeTime(id fieldID, pos int, k jsonKind) error {
	s := &d.s
	e := &d.ev
	name := fields[id].name
	var nanos int64
	switch k {
	case jsonString:
		v, ok, err := d.readString(name, pos, math.MaxInt)
		if err != nil || !ok {
			return err
		}
		if v == "" {
			e.empty |= bit(id)
			return nil
		}
		if n, fits := parseInt([]byte(v)); fits && v[0] != '-' {
			nanos = n
			break
		}
		t, err := parseRFC3339(v)
		if err != nil {
			e.problem(pos, name, "invalid timestamp "+quoted(v)+": "+timeHint)
			return nil
		}
		if t.Before(minTime) || !t.Before(maxTime) {
			e.problem(pos, name, outOfRange(t, false))
			return nil
		}
		nanos = t.UnixNano()
	case jsonNumber:
		raw, isInt, err := s.readNumber()
		if err != nil {
			return err
		}
		n, fits := parseInt(raw)
		if !isInt || !fits {
			e.problem(pos, name, "invalid timestamp "+excerpt(raw)+": "+timeHint+" as an integer")
			return nil
		}
		nanos = n
	default:
		return d.valueProblem(pos, name, wrongType("an RFC 3339 string or unix nanoseconds", k))
	}
	if nanos < minTime.UnixNano() || nanos >= maxTime.UnixNano() {
		e.problem(pos, name, outOfRange(time.Unix(0, nanos).UTC(), true))
		return nil
	}
	e.num[id] = nanos
	e.set |= bit(id)
	return nil
}

func outOfRange(t time.Time, nanos bool) string {
	msg := "timestamp " + t.UTC().Format(time.RFC3339Nano) + " is out of range [" +
		minTime.Format(time.RFC3339) + ", " + maxTime.Format(time.RFC3339) + ")"
	if nanos {
		msg += "; integers are unix nanoseconds"
	}
	return msg
}

// parseRFC3339 parses RFC 3339 with at most nanosecond precision; Go's
// parser is lenient about some forms RFC 3339 does not allow, so the shape
// is checked first.
func parseRFC3339(v string) (time.Time, error) {
	if len(v) < 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' {
		return time.Time{}, errBadTime
	}
	if i := strings.IndexByte(v, '.'); i >= 0 {
		j := i + 1
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		if j-i-1 < 1 || j-i-1 > 9 {
			return time.Time{}, errBadTime
		}
	}
	return time.Parse(time.RFC3339Nano, v)
}

var errBadTime = &syntaxError{msg: "bad time"}

// decodeList reads an array of short strings.
func (d *decoder) decodeList(id fieldID, pos int, k jsonKind) error {
	s := &d.s
	e := &d.ev
	name := fields[id].name
	if k != jsonArray {
		return d.valueProblem(pos, name, wrongType("an array of strings", k))
	}
	list := &e.tools
	if id == fCandidates {
		list = &e.candidates
	}
	s.pos++
	ok := true
	if !s.consume(']') {
		for i := 0; ; i++ {
			ek := s.peekKind()
			epos := s.pos
			if i == maxElements {
				e.problem(epos, name, "more than "+strconv.Itoa(maxElements)+" elements")
				return d.skipRest(']')
			}
			if ek != jsonString {
				ok = false
				if err := d.valueProblem(epos, indexPath(name, i), wrongType("a string", ek)); err != nil {
					return err
				}
			} else {
				v, reason, err := d.stringValue(d.limits.maxFieldLength)
				if err != nil {
					return err
				}
				if reason == "" && v == "" {
					reason = "must not be empty"
				}
				if reason != "" {
					ok = false
					e.problem(epos, indexPath(name, i), reason)
				} else {
					*list = append(*list, v)
				}
			}
			more, err := s.more(']')
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if ok && len(*list) > 0 {
		e.set |= bit(id)
	}
	return nil
}

// decodeException reads {"type", "message", "stacktrace"}.
func (d *decoder) decodeException(id fieldID, pos int, k jsonKind) error {
	s := &d.s
	e := &d.ev
	if k != jsonObject {
		return d.valueProblem(pos, "exception", wrongType("an object", k))
	}
	s.pos++
	var seen [3]bool
	ok := true
	if !s.consume('}') {
		for {
			s.skipWS()
			kpos := s.pos
			key, err := s.readKey()
			if err != nil {
				return err
			}
			s.skipWS()
			vpos := s.pos
			var dst *string
			limit := d.limits.maxTextLength
			slot := -1
			switch string(key) {
			case "type":
				dst, limit, slot = &e.exception.typ, d.limits.maxFieldLength, 0
			case "message":
				dst, slot = &e.exception.message, 1
			case "stacktrace":
				dst, slot = &e.exception.stacktrace, 2
			}
			path := "exception." + string(key)
			vk := s.peekKind()
			switch {
			case dst == nil:
				ok = false
				e.problem(kpos, path, "unknown field")
				err = s.skipValue(1)
			case seen[slot]:
				ok = false
				e.problem(kpos, path, "duplicate field")
				err = s.skipValue(1)
			case vk == jsonNull:
				seen[slot] = true
				err = s.readNull()
			case vk != jsonString:
				seen[slot] = true
				ok = false
				err = d.valueProblem(vpos, path, wrongType("a string", vk))
			default:
				seen[slot] = true
				var v string
				var vok bool
				v, vok, err = d.readString(path, vpos, limit)
				ok = ok && vok
				*dst = v
			}
			if err != nil {
				return err
			}
			more, err := s.more('}')
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if !ok {
		return nil
	}
	if e.exception.typ == "" && e.exception.message == "" {
		e.problem(pos, "exception", "one of type, message is required")
		return nil
	}
	e.set |= bit(id)
	return nil
}

// decodeAttributes reads the extra attributes object.
func (d *decoder) decodeAttributes(id fieldID, pos int, k jsonKind) error {
	s := &d.s
	e := &d.ev
	if k != jsonObject {
		return d.valueProblem(pos, "attributes", wrongType("an object", k))
	}
	s.pos++
	if s.consume('}') {
		return nil
	}
	first := len(e.attrs)
	for keys := 0; ; keys++ {
		s.skipWS()
		kpos := s.pos
		if keys == maxAttributes {
			e.problem(kpos, "attributes", "more than "+strconv.Itoa(maxAttributes)+" attributes")
			return d.skipRest('}')
		}
		key, err := s.readKey()
		if err != nil {
			return err
		}
		s.skipWS()
		switch {
		case len(key) == 0:
			e.problem(kpos, "attributes", "an attribute key must not be empty")
			err = s.skipValue(1)
		case len(key) > d.limits.maxFieldLength:
			e.problem(kpos, "attributes", "an attribute key is "+tooLong(d.limits.maxFieldLength, "max_field_length"))
			err = s.skipValue(1)
		case bytes.IndexByte(key, 0) >= 0:
			e.problem(kpos, "attributes", "an attribute key must not contain NUL characters (\\u0000)")
			err = s.skipValue(1)
		case hasAttr(e.attrs[first:], key):
			e.problem(kpos, attrPath(string(key), -1), "duplicate attribute")
			err = s.skipValue(1)
		default:
			name := string(key)
			var v attrValue
			var ok bool
			v, ok, err = d.readAttrValue(name, -1)
			if err == nil && ok {
				e.attrs = append(e.attrs, extraAttr{key: name, value: v, pos: kpos})
			}
		}
		if err != nil {
			return err
		}
		more, err := s.more('}')
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	if len(e.attrs) > 0 {
		e.set |= bit(id)
	}
	return nil
}

// skipRest skips the remaining members of the array or object being read,
// up to and including its closing bracket.
func (d *decoder) skipRest(closing byte) error {
	s := &d.s
	for {
		if closing == '}' {
			if _, err := s.readKey(); err != nil {
				return err
			}
		}
		if err := s.skipValue(1); err != nil {
			return err
		}
		if s.consume(',') {
			continue
		}
		if s.consume(closing) {
			return nil
		}
		return s.unexpectedIn("expected ',' or '" + string(closing) + "'")
	}
}

// maxAttributes bounds the extra attributes of one event (their lookup is
// linear, here and in pdata).
const maxAttributes = 128

// attrPath names an attribute, or an element of an array attribute (i >= 0).
func attrPath(key string, i int) string {
	if i < 0 {
		return "attributes." + key
	}
	return "attributes." + key + "[" + strconv.Itoa(i) + "]"
}

func hasAttr(attrs []extraAttr, key []byte) bool {
	for i := range attrs {
		if attrs[i].key == string(key) {
			return true
		}
	}
	return false
}

// readAttrValue reads the value of attribute key: a scalar, or an array of
// scalars (index < 0 is the attribute itself, else an array element). ok is
// false when a problem was recorded, or for a null attribute, which is
// dropped like an absent one.
func (d *decoder) readAttrValue(key string, index int) (attrValue, bool, error) {
	s := &d.s
	e := &d.ev
	pos := s.pos
	k := s.peekKind()
	inArray := index >= 0
	switch k {
	case jsonNull:
		if inArray {
			return attrValue{}, false, d.valueProblem(pos, attrPath(key, index), wrongType("a string, number or boolean", k))
		}
		return attrValue{}, false, s.readNull()
	case jsonString:
		v, reason, err := d.stringValue(d.limits.maxTextLength)
		if err != nil {
			return attrValue{}, false, err
		}
		if reason != "" {
			e.problem(pos, attrPath(key, index), reason)
			return attrValue{}, false, nil
		}
		return attrValue{kind: jsonString, str: v}, true, nil
	case jsonBool:
		b, err := s.readBool()
		return attrValue{kind: jsonBool, b: b}, true, err
	case jsonNumber:
		raw, isInt, err := s.readNumber()
		if err != nil {
			return attrValue{}, false, err
		}
		if isInt {
			if n, fits := parseInt(raw); fits {
				return attrValue{kind: jsonNumber, isInt: true, num: uint64(n)}, true, nil
			}
		}
		f, perr := strconv.ParseFloat(string(raw), 64)
		if perr != nil || math.IsInf(f, 0) {
			e.problem(pos, attrPath(key, index), "number out of range: "+excerpt(raw))
			return attrValue{}, false, nil
		}
		return attrValue{kind: jsonNumber, num: math.Float64bits(f)}, true, nil
	case jsonArray:
		if inArray {
			return attrValue{}, false, d.valueProblem(pos, attrPath(key, index), wrongType("a string, number or boolean", k))
		}
		s.pos++
		v := attrValue{kind: jsonArray}
		ok := true
		if !s.consume(']') {
			for i := 0; ; i++ {
				s.skipWS()
				if i == maxElements {
					e.problem(s.pos, attrPath(key, -1), "more than "+strconv.Itoa(maxElements)+" elements")
					return attrValue{}, false, d.skipRest(']')
				}
				elem, eok, err := d.readAttrValue(key, i)
				if err != nil {
					return attrValue{}, false, err
				}
				if eok {
					v.list = append(v.list, elem)
				} else {
					ok = false
				}
				more, err := s.more(']')
				if err != nil {
					return attrValue{}, false, err
				}
				if !more {
					break
				}
			}
		}
		return v, ok, nil
	case jsonObject:
		want := "a string, number, boolean or array of those"
		if inArray {
			want = "a string, number or boolean"
		}
		return attrValue{}, false, d.valueProblem(pos, attrPath(key, index), wrongType(want, k))
	}
	return attrValue{}, false, s.unexpectedIn("expected a value")
}
