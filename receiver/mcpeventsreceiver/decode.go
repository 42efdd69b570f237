package mcpeventsreceiver

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The JSON grammar (RFC 8259: UTF-8, escapes, surrogates, numbers) is
// jsontext's. This file frames the events of a body, walks the tokens of
// each (values.go reads the value of each field by its kind), and turns
// what is wrong into problems with their positions.

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

// Bounds: the problems a 400 answer lists (the rest are counted), the
// nesting of an event (tool arguments and results are the only deep
// values), the elements of one array (tools, candidates, an attribute's
// values) and the extra attributes of an event (their lookup is linear,
// here and in pdata). An event keeps as many fields as there are, plus
// maxDetails unknown or repeated ones.
const (
	maxDetails    = 100
	maxDepth      = 64
	maxElements   = 1024
	maxAttributes = 128
)

// problem is one reason a request was refused, as the 400 answer lists it.
type problem struct {
	// Index is the 0-based position of the event in the request (blank
	// NDJSON lines do not count).
	Index int `json:"index"`
	// Line is the 1-based line of the offending value (NDJSON: the event's line).
	Line int `json:"line"`
	// Path names the field: server_key, exception.type, tools[2],
	// attributes.tenant; empty for the event as a whole.
	Path string `json:"path"`
	// Pointer is the JSON pointer (RFC 6901) of the offending value (or of
	// the missing field) in the body, or in the NDJSON line: /3/tools/2,
	// /3/attributes/tenant; /3 for the fourth event of an array as a whole.
	Pointer string `json:"pointer"`
	Reason  string `json:"reason"`
}

// loc names a value of an event: a field, a member of the exception or
// attributes object, an element of an array (elem is 1 + its index).
type loc struct {
	name, key string
	keyed     bool // key is set, maybe to ""
	elem      int
}

// decodeOptions: a repeated name is a problem of the event, not malformed JSON.
var decodeOptions = jsontext.AllowDuplicateNames(true)

// decoder turns the body of one request into pdata, or into the problems
// that refuse it. It checks every event before anything is handed on.
type decoder struct {
	limits decodeLimits
	// pipelines tells which signals have a consumer.
	pipelines [numSignals]bool
	// observed is the receive time, the log records' observed timestamp.
	observed pcommon.Timestamp

	dec *jsontext.Decoder
	src bytes.Buffer
	// data is what dec reads, the body or one NDJSON line (offsets are
	// into it); lineBase is the line of data[0].
	data     []byte
	lineBase int
	ndjson   bool
	// depth0 is dec's stack depth around an event (1 in an array of events).
	depth0 int
	// err is the malformed JSON that stopped the event being read; every
	// read is a no-op once it is set.
	err     *syntaxError
	scratch []byte

	ev  event
	out batch

	events        int
	invalidEvents int
	problems      []problem
	moreProblems  int
	tooMany       bool
}

func newDecoder(limits decodeLimits, pipelines [numSignals]bool) *decoder {
	d := &decoder{limits: limits, pipelines: pipelines}
	d.dec = jsontext.NewDecoder(&d.src, decodeOptions)
	return d
}

// decode reads a request body. The result is valid when d.problems is
// empty and d.tooMany is false.
func (d *decoder) decode(body []byte, format bodyFormat, now time.Time) {
	d.observed = pcommon.NewTimestampFromTime(now)
	d.events, d.invalidEvents, d.moreProblems, d.tooMany = 0, 0, 0, false
	d.ndjson, d.depth0, d.err = format == formatNDJSON, 0, nil
	d.problems = d.problems[:0]
	d.ev.reset(0)
	d.out.reset()
	if d.ndjson {
		d.decodeNDJSON(body)
	} else {
		d.decodeArray(body)
	}
	d.start(nil, 0) // keep no reference to the body
}

// start points the tokenizer at data, whose first line is line.
func (d *decoder) start(data []byte, line int) {
	d.data, d.lineBase = data, line
	d.src = *bytes.NewBuffer(data) // read in place, not copied
	d.dec.Reset(&d.src, decodeOptions)
}

func (d *decoder) decodeNDJSON(body []byte) {
	for line := 1; len(body) > 0; line++ {
		var text []byte
		text, body, _ = bytes.Cut(body, []byte{'\n'})
		if len(bytes.TrimLeft(text, " \t\r")) == 0 {
			continue // blank line
		}
		if !d.startEvent() {
			return
		}
		d.start(text, line)
		if d.decodeEvent(); d.err != nil {
			d.syntaxProblem()
		}
	}
}

func (d *decoder) decodeArray(body []byte) {
	d.start(body, 1)
	switch d.peek() {
	case '{': // a single event
		if !d.startEvent() {
			return
		}
		d.decodeEvent()
	case '[':
		d.depth0 = 1
		d.token()
		for d.err == nil && d.more() {
			if d.peek() == 0 { // malformed between events: the problem takes the next index
				d.ev.closed = true
				d.token()
				break
			}
			if !d.startEvent() {
				return
			}
			d.decodeEvent()
		}
	default:
		if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
			return // no events
		}
		d.events++
		d.fail(d.nextPos(), "the body must be a JSON array of events or one event object")
	}
	if pos := d.skipWS(int(d.dec.InputOffset())); d.err == nil && pos < len(d.data) {
		d.ev.closed = true
		d.fail(pos, "unexpected data after the events")
	}
	if d.err != nil {
		d.syntaxProblem()
	}
}

// startEvent counts an event about to be read; false when there are too many.
func (d *decoder) startEvent() bool {
	if d.events >= d.limits.maxEvents {
		d.tooMany = true
		return false
	}
	d.ev.reset(d.events)
	d.events++
	return true
}

// decodeEvent reads one event object, checks it and, while the request is
// still valid, adds it to the batch.
func (d *decoder) decodeEvent() {
	e := &d.ev
	if k := d.peek(); k != '{' {
		e.start = d.nextPos()
		if d.skip(nil); d.err == nil {
			e.invalid = true
			d.invalidEvents++
			d.addProblem(e.start, loc{}, "an event must be a JSON object, got "+kindNames[k])
		}
		return
	}
	d.token()
	for e.start = int(d.dec.InputOffset()) - 1; d.more(); {
		if key, keyPos := d.name(); key != nil {
			d.member(key, keyPos)
		}
	}
	if d.err != nil {
		return
	}
	e.closed = true
	if pos := d.skipWS(int(d.dec.InputOffset())); d.ndjson && pos < len(d.data) {
		d.fail(pos, "unexpected data after the event; NDJSON takes one event per line")
		return
	}
	d.finishEvent()
}

// member reads the value of the top-level field key.
func (d *decoder) member(key []byte, keyPos int) {
	e := &d.ev
	id, known := fieldByName[string(key)]
	first := known && e.seen&bit(id) == 0
	if !first && len(e.refs) >= len(fields)+maxDetails {
		// Unknown or repeated, beyond what a 400 answer lists: count it.
		e.extraProblems++
		d.skip(nil)
		return
	}
	ref := fieldRef{id: id, pos: keyPos, from: len(e.problems)}
	if known {
		ref.name = fields[id].name
	} else {
		ref.id, ref.name = fieldNone, string(key)
	}
	e.refs = append(e.refs, ref)
	extra := e.extraProblems
	switch {
	case !known:
		d.skip(nil)
	case !first:
		e.problem(keyPos, loc{name: ref.name}, "duplicate field")
		d.skip(nil)
	default:
		e.seen |= bit(id)
		d.decodeField(id)
	}
	r := &e.refs[len(e.refs)-1]
	r.to = len(e.problems)
	r.failed = r.to > r.from || e.extraProblems > extra
}

// open reads the '{' or '[' (want) that starts the value of whole at pos;
// a value of another kind is a problem, skipped.
func (d *decoder) open(pos int, whole loc, got, want jsontext.Kind, kind fieldKind) bool {
	if got != want {
		d.wrong(pos, whole, kindWants[kind], got)
		return false
	}
	d.token()
	return true
}

// next tells whether member or element i follows in the object or array
// of whole being read; the one past limit is a problem ("more than limit
// what") and the rest is skipped.
func (d *decoder) next(i, limit int, whole loc, what string) bool {
	if !d.more() {
		return false
	}
	if i == limit {
		d.ev.problem(d.nextPos(), whole, "more than "+strconv.Itoa(limit)+" "+what)
		d.skipRest()
		return false
	}
	return true
}

// The tokenizer, with the first error kept in d.err.

// peek is the kind of the next token (0 if it is malformed).
func (d *decoder) peek() jsontext.Kind {
	if d.err != nil {
		return 0
	}
	return d.dec.PeekKind()
}

// value reads a string, number, literal or name; nil after an error.
func (d *decoder) value() []byte {
	if d.err != nil {
		return nil
	}
	raw, err := d.dec.ReadValue()
	if err != nil {
		d.setErr(err)
	}
	return raw
}

// posOf is the offset of raw, the value just read.
func (d *decoder) posOf(raw []byte) int { return int(d.dec.InputOffset()) - len(raw) }

// token reads a '{', '}', '[' or ']' that peek announced.
func (d *decoder) token() {
	if d.err == nil {
		_, err := d.dec.ReadToken()
		d.setErr(err)
	}
}

// more tells whether a member or element follows in the object or array
// being read, and reads its closing bracket when none does.
func (d *decoder) more() bool {
	if k := d.peek(); k == '}' || k == ']' {
		d.token()
		return false
	}
	return d.err == nil
}

// name reads an object member's name and its offset; nil after an error.
func (d *decoder) name() ([]byte, int) {
	if raw := d.value(); raw != nil {
		return d.unquote(raw), d.posOf(raw)
	}
	return nil, 0
}

// unquote is the content of a string token; it may be d.scratch, valid
// until the next call.
func (d *decoder) unquote(raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	d.scratch, _ = jsontext.AppendUnquote(d.scratch[:0], raw)
	return d.scratch
}

// stringAt reads the string value of at, up to limit bytes; ok is false
// when a problem was recorded (another kind of value: skipped), or the
// JSON is malformed.
func (d *decoder) stringAt(at loc, limit int) (v string, ok bool) {
	if pos, k := d.nextPos(), d.peek(); k != '"' {
		d.wrong(pos, at, "a string", k)
		return "", false
	}
	v, _, ok = d.text(at, limit)
	return v, ok
}

// text is stringAt for a value that peek announced as a string; pos is
// its offset.
func (d *decoder) text(at loc, limit int) (v string, pos int, ok bool) {
	raw := d.value()
	if raw == nil {
		return "", 0, false
	}
	pos = d.posOf(raw)
	switch b := d.unquote(raw); {
	case len(b) > limit:
		setting := "max_field_length"
		if limit == d.limits.maxTextLength && limit != d.limits.maxFieldLength {
			setting = "max_text_length"
		}
		d.ev.problem(pos, at, tooLong(limit, setting))
	case len(b) < len(raw)-2 && bytes.IndexByte(b, 0) >= 0: // only an escape makes a NUL
		d.ev.problem(pos, at, "must not contain NUL characters (\\u0000)")
	default:
		return string(b), pos, true
	}
	return "", pos, false
}

// skip reads and discards one value of any kind, within maxDepth; nul,
// if given, is set when a string in it holds a NUL character.
func (d *decoder) skip(nul *bool) {
	depth := d.dec.StackDepth()
	for d.err == nil {
		switch k := d.peek(); k {
		case '{', '[':
			if depth := d.dec.StackDepth(); depth-d.depth0 >= maxDepth {
				d.fail(d.nextPos(), "nesting deeper than 64 levels")
				if kind, n := d.dec.StackIndex(depth); kind == '[' { // the pointer of the element
					d.err.ptr = string(jsontext.Pointer(d.err.ptr).AppendToken(strconv.FormatInt(n, 10)))
				}
				return
			}
			d.token()
		case '}', ']':
			d.token()
		default:
			raw := d.value()
			if nul != nil && k == '"' && bytes.Contains(raw, []byte(`\u0000`)) && bytes.IndexByte(d.unquote(raw), 0) >= 0 {
				*nul = true
			}
		}
		if d.dec.StackDepth() <= depth {
			return
		}
	}
}

// skipRest skips the rest of the object or array being read.
func (d *decoder) skipRest() {
	for d.more() {
		d.skip(nil)
	}
}

// Positions and problems.

func (d *decoder) skipWS(pos int) int {
	for pos < len(d.data) && strings.IndexByte(" \t\r\n", d.data[pos]) >= 0 {
		pos++
	}
	return pos
}

// nextPos is the offset of the next token (past a ',' or ':').
func (d *decoder) nextPos() int {
	pos := d.skipWS(int(d.dec.InputOffset()))
	if pos < len(d.data) && (d.data[pos] == ',' || d.data[pos] == ':') {
		pos = d.skipWS(pos + 1)
	}
	return pos
}

// lineAt is the line of offset pos of data.
func (d *decoder) lineAt(pos int) int {
	if d.ndjson {
		return d.lineBase
	}
	return d.lineBase + bytes.Count(d.data[:min(pos, len(d.data))], []byte{'\n'})
}

// where is the path (tools[2], attributes.tenant) and the JSON pointer of
// a value of the current event.
func (d *decoder) where(at loc) (path, pointer string) {
	var p jsontext.Pointer
	if d.depth0 == 1 {
		p = p.AppendToken(strconv.Itoa(d.ev.index))
	}
	if path = at.name; at.name != "" {
		p = p.AppendToken(at.name)
	}
	if at.keyed {
		path, p = path+"."+at.key, p.AppendToken(at.key)
	}
	if at.elem > 0 {
		path, p = path+"["+strconv.Itoa(at.elem-1)+"]", p.AppendToken(strconv.Itoa(at.elem-1))
	}
	return path, string(p)
}

var kindNames = map[jsontext.Kind]string{'"': "string", '0': "number", 't': "boolean", 'f': "boolean", 'n': "null",
	'{': "object", '[': "array"}

// wrong records a value of the wrong JSON kind and skips it.
func (d *decoder) wrong(pos int, at loc, want string, got jsontext.Kind) {
	if got != 0 {
		d.ev.problem(pos, at, "must be "+want+", got "+kindNames[got])
	}
	d.skip(nil)
}

// addProblem records a problem of the request about the current event.
func (d *decoder) addProblem(pos int, at loc, reason string) {
	path, pointer := d.where(at)
	d.add(pos, path, pointer, reason)
}

func (d *decoder) add(pos int, path, pointer, reason string) {
	if len(d.problems) >= maxDetails {
		d.moreProblems++
		return
	}
	d.problems = append(d.problems, problem{Index: d.ev.index, Line: d.lineAt(pos), Path: path, Pointer: pointer, Reason: reason})
}

// syntaxError is malformed JSON at offset pos of data.
type syntaxError struct {
	pos      int
	ptr, msg string
}

func (d *decoder) fail(pos int, msg string) {
	if d.err == nil {
		d.err = &syntaxError{pos: pos, ptr: string(d.dec.StackPointer()), msg: msg}
	}
}

// syntaxProblem records d.err; the problems found in the event so far are
// dropped, as they may stem from the same mistake. Outside an event of a
// JSON array (after them) the problem takes the index the next event
// would have; an NDJSON line is its event.
func (d *decoder) syntaxProblem() {
	if d.ev.closed && !d.ndjson {
		d.ev.reset(d.events)
	}
	if !d.ev.invalid {
		d.ev.invalid = true
		d.invalidEvents++
	}
	se := d.err
	d.err = nil
	d.add(se.pos, d.currentField(se.pos), se.ptr, "invalid JSON: "+se.msg)
}

// currentField names the top-level field being read at pos, if any.
func (d *decoder) currentField(pos int) string {
	refs := d.ev.refs
	if d.ev.closed || len(refs) == 0 || refs[len(refs)-1].pos > pos {
		return ""
	}
	return refs[len(refs)-1].name
}

// setErr keeps the tokenizer's first error, worded with where it is and
// what was expected there instead.
func (d *decoder) setErr(err error) {
	if err == nil || d.err != nil {
		return
	}
	se := &syntaxError{pos: len(d.data), msg: err.Error()}
	var je *jsontext.SyntacticError
	if errors.As(err, &je) {
		se.pos, se.ptr, se.msg = int(je.ByteOffset), string(je.JSONPointer), je.Err.Error()
	}
	d.err = se
	next := d.nextPos()
	switch msg := se.msg; {
	case next < len(d.data) && d.data[next] != '"' && d.expected() == "expected a field name":
		se.pos, se.msg = next, d.unexpected(next)+", expected a field name" // jsontext reads on to the end of a value
	case errors.Is(err, io.EOF) || je != nil && errors.Is(je.Err, io.ErrUnexpectedEOF):
		se.pos, se.msg = len(d.data), "unexpected end of input in string"
		if next >= len(d.data) || d.data[next] != '"' {
			se.msg = "unexpected end of input, " + d.expected()
		}
	case je == nil:
	case msg == "invalid UTF-8":
		se.msg = "invalid UTF-8 in string"
	case strings.HasPrefix(msg, "invalid surrogate pair"):
		se.msg = `unpaired surrogate in \u escape`
	case strings.HasPrefix(msg, "invalid escape sequence") && se.pos+1 < len(d.data) && d.data[se.pos+1] == 'u':
		se.msg = `invalid \u escape`
	case strings.HasPrefix(msg, "invalid escape sequence") && se.pos+1 < len(d.data):
		se.msg = `invalid escape '\` + string(rune(d.data[se.pos+1])) + "'"
	case strings.Contains(msg, " in string"):
		se.msg = "control character in string (escape it)"
	case strings.Contains(msg, " in literal"):
		se.pos, se.msg = next, d.unexpected(next)
	case strings.Contains(msg, " in number"):
		se.msg = "invalid number"
	default: // a character out of place
		if strings.HasSuffix(msg, "at start of value") || errors.Is(je.Err, jsontext.ErrNonStringName) {
			se.pos = next
		}
		se.msg = d.unexpected(se.pos) + ", " + d.expected()
	}
}

func (d *decoder) unexpected(pos int) string {
	if pos >= len(d.data) {
		return "unexpected end of input"
	}
	if c := d.data[pos]; c >= 0x20 && c < utf8.RuneSelf {
		return "unexpected character '" + string(rune(c)) + "'"
	}
	return "unexpected byte 0x" + hex.EncodeToString(d.data[pos:pos+1])
}

// expected tells what the grammar wants where the tokenizer stopped: in
// an object or array, a name or value first or after a separator, else a
// separator or the end.
func (d *decoder) expected() string {
	depth := d.dec.StackDepth()
	kind, n := d.dec.StackIndex(depth)
	rest := bytes.TrimLeft(d.dec.UnreadBuffer(), " \t\r\n")
	sep := n == 0 || len(rest) > 0 && rest[0] == ','
	switch {
	case kind == '{' && n%2 == 1 && (len(rest) == 0 || rest[0] != ':'):
		return "expected ':' after a field name"
	case kind == '{' && n%2 == 1:
		return "expected a value"
	case kind == '{' && sep:
		return "expected a field name"
	case kind == '{':
		return "expected ',' or '}'"
	case kind == '[' && (depth > 1 || d.depth0 == 0) && sep:
		return "expected a value"
	case kind == '[' && (depth > 1 || d.depth0 == 0):
		return "expected ',' or ']'"
	case kind == '[' && !sep: // in the array of events
		return "expected ',' or ']' after an event"
	}
	return "expected an event object"
}
