package mcpeventsreceiver

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The JSON grammar (RFC 8259: UTF-8, escapes, surrogates, numbers) is
// jsontext's; this file walks its tokens through the field table of
// fields.go and turns what is wrong into problems.

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
// values), the fields and problems an event keeps, the elements of one
// array (tools, candidates, an attribute's values) and the extra
// attributes of an event (their lookup is linear, here and in pdata).
const (
	maxDetails    = 100
	maxDepth      = 64
	maxRefs       = int(numFields) + maxDetails
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

// Timestamps outside [minTime, maxTime) are refused: a unix time in
// seconds or milliseconds sent as an integer falls far below minTime.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// The kinds of attrValue.
const (
	jsonString = jsontext.Kind('"')
	jsonNumber = jsontext.Kind('0')
	jsonBool   = jsontext.Kind('t')
	jsonArray  = jsontext.Kind('[')
)

// attrValue is an extra attribute's value: a scalar or an array of
// scalars. It is kept small: arrays of tiny values are the densest input.
type attrValue struct {
	kind jsontext.Kind
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

var exceptionKeys = []string{"type", "message", "stacktrace"}

// loc names a value of an event: a field, a member of the exception or
// attributes object, an element of an array (elem is 1 + its index).
type loc struct {
	name, key string
	elem      int
}

func (l loc) path() string {
	p := l.name
	if l.key != "" {
		p += "." + l.key
	}
	if l.elem > 0 {
		p += "[" + strconv.Itoa(l.elem-1) + "]"
	}
	return p
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
	at     loc
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

func (e *event) reset(index int) {
	tools, candidates, attrs, refs, problems := e.tools[:0], e.candidates[:0], e.attrs[:0], e.refs[:0], e.problems[:0]
	*e = event{index: index}
	e.tools, e.candidates, e.attrs, e.refs, e.problems = tools, candidates, attrs, refs, problems
}

func (e *event) has(f fieldID) bool { return e.set&bit(f) != 0 }

func (e *event) problem(pos int, at loc, reason string) {
	if len(e.problems) >= maxDetails {
		e.extraProblems++
		return
	}
	e.problems = append(e.problems, fieldProblem{pos: pos, at: at, reason: reason})
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
	// data is what dec reads: the body, or one NDJSON line; offsets are
	// into it. lineBase is the line of data[0].
	data     []byte
	lineBase int
	ndjson   bool
	// depth0 is dec's stack depth around an event (1 in an array of events).
	depth0  int
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
	d.ndjson, d.depth0 = format == formatNDJSON, 0
	d.problems = d.problems[:0]
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
		if err := d.decodeEvent(); err != nil {
			d.syntaxProblem(err)
		}
	}
}

func (d *decoder) decodeArray(body []byte) {
	d.start(body, 1)
	dec := d.dec
	switch dec.PeekKind() {
	case '{': // a single event
		if !d.startEvent() {
			return
		}
		if err := d.decodeEvent(); err != nil {
			d.syntaxProblem(err)
			return
		}
	case '[':
		d.depth0 = 1
		_, _ = dec.ReadToken()
		for k := dec.PeekKind(); k != ']'; k = dec.PeekKind() {
			if k == 0 { // malformed between events: the problem takes the next index
				d.ev.closed = true
				_, err := dec.ReadToken()
				d.syntaxProblem(err)
				return
			}
			if !d.startEvent() {
				return
			}
			if err := d.decodeEvent(); err != nil {
				d.syntaxProblem(err)
				return
			}
		}
		_, _ = dec.ReadToken()
	default:
		if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
			return // no events
		}
		d.events++
		d.ev.reset(0)
		d.syntaxProblem(d.fail(d.nextPos(), "the body must be a JSON array of events or one event object"))
		return
	}
	if pos := d.skipWS(int(dec.InputOffset())); pos < len(d.data) {
		d.syntaxProblem(d.fail(pos, "unexpected data after the events"))
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

// pointer is the JSON pointer of a value of the current event.
func (d *decoder) pointer(at loc) string {
	var p jsontext.Pointer
	if d.depth0 == 1 {
		p = p.AppendToken(strconv.Itoa(d.ev.index))
	}
	for _, tok := range [...]string{at.name, at.key} {
		if tok != "" {
			p = p.AppendToken(tok)
		}
	}
	if at.elem > 0 {
		p = p.AppendToken(strconv.Itoa(at.elem - 1))
	}
	return string(p)
}

// addProblem records a problem of the current event.
func (d *decoder) addProblem(pos int, at loc, reason string) {
	d.add(pos, at.path(), d.pointer(at), reason)
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

func (e *syntaxError) Error() string { return "invalid JSON: " + e.msg }

func (d *decoder) fail(pos int, msg string) error {
	return &syntaxError{pos: pos, ptr: string(d.dec.StackPointer()), msg: msg}
}

// syntaxProblem records malformed JSON in the current event; the problems
// found in it so far are dropped, as they may stem from the same mistake.
// Outside an event of a JSON array (between or after them) the problem
// takes the index the next event would have; an NDJSON line is its event.
func (d *decoder) syntaxProblem(err error) {
	if d.ev.closed && !d.ndjson {
		d.ev.reset(d.events)
	}
	if !d.ev.invalid {
		d.ev.invalid = true
		d.invalidEvents++
	}
	se := d.syntax(err)
	d.add(se.pos, d.currentField(se.pos), se.ptr, se.Error())
}

// syntax words an error of the tokenizer: where it is, and what was
// expected there instead.
func (d *decoder) syntax(err error) *syntaxError {
	if se, ok := err.(*syntaxError); ok {
		return se
	}
	se := &syntaxError{pos: len(d.data), msg: err.Error()}
	var je *jsontext.SyntacticError
	if errors.As(err, &je) {
		se.pos, se.ptr, se.msg = int(je.ByteOffset), string(je.JSONPointer), je.Err.Error()
	}
	switch msg := se.msg; {
	case err == io.EOF || je != nil && je.Err == io.ErrUnexpectedEOF:
		se.pos, se.msg = len(d.data), "unexpected end of input in string"
		if pos := d.nextPos(); pos >= len(d.data) || d.data[pos] != '"' {
			se.msg = "unexpected end of input, " + d.expected()
		}
	case je == nil:
	case msg == "invalid UTF-8":
		se.msg = "invalid UTF-8 in string"
	case strings.HasPrefix(msg, "invalid surrogate pair"):
		se.msg = `unpaired surrogate in \u escape`
	case strings.HasPrefix(msg, "invalid escape sequence `\\u"):
		se.msg = `invalid \u escape`
	case strings.HasPrefix(msg, "invalid escape sequence") && se.pos+1 < len(d.data):
		se.msg = `invalid escape '\` + string(rune(d.data[se.pos+1])) + "'"
	case strings.Contains(msg, " in string"):
		se.msg = "control character in string (escape it)"
	case strings.Contains(msg, " in literal"):
		se.pos = d.nextPos()
		se.msg = d.unexpected(se.pos)
	case strings.Contains(msg, " in number"):
		se.msg = "invalid number"
	default: // a character out of place
		if strings.HasSuffix(msg, "at start of value") || je.Err == jsontext.ErrNonStringName {
			se.pos = d.nextPos()
		}
		se.msg = d.unexpected(se.pos) + ", " + d.expected()
	}
	return se
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

// expected tells what the grammar wants where the tokenizer stopped.
func (d *decoder) expected() string {
	depth := d.dec.StackDepth()
	kind, n := d.dec.StackIndex(depth)
	rest := bytes.TrimLeft(d.dec.UnreadBuffer(), " \t\r\n")
	sep := len(rest) > 0 && (rest[0] == ',' || rest[0] == ':')
	events := depth == 1 && d.depth0 == 1
	switch {
	case kind == '{' && n%2 == 1 && !sep:
		return "expected ':' after a field name"
	case kind == '{' && n%2 == 1:
		return "expected a value"
	case kind == '{' && (n == 0 || sep):
		return "expected a field name"
	case kind == '{':
		return "expected ',' or '}'"
	case kind == '[' && events && (n == 0 || sep):
		return "expected an event object"
	case kind == '[' && events:
		return "expected ',' or ']' after an event"
	case kind == '[' && (n == 0 || sep):
		return "expected a value"
	case kind == '[':
		return "expected ',' or ']'"
	}
	return "expected an event object"
}

// currentField names the top-level field being read at pos, if any.
func (d *decoder) currentField(pos int) string {
	refs := d.ev.refs
	if d.ev.closed || len(refs) == 0 || refs[len(refs)-1].pos > pos {
		return ""
	}
	if r := refs[len(refs)-1]; r.id == fieldNone {
		return r.name
	}
	return fields[refs[len(refs)-1].id].name
}

// token reads a '{', '}', '[' or ']' that PeekKind announced.
func (d *decoder) token() error {
	_, err := d.dec.ReadToken()
	return err
}

// skip reads and discards one value of any kind, within maxDepth; nul,
// if given, is set when a string in it holds a NUL character.
func (d *decoder) skip(nul *bool) error {
	dec := d.dec
	depth := dec.StackDepth()
	for {
		switch k := dec.PeekKind(); k {
		case '{', '[':
			if dec.StackDepth()-d.depth0 >= maxDepth {
				return d.fail(d.nextPos(), "nesting deeper than 64 levels")
			}
			fallthrough
		case '}', ']':
			if err := d.token(); err != nil {
				return err
			}
		default:
			raw, err := dec.ReadValue()
			if err != nil {
				return err
			}
			if nul != nil && k == '"' && bytes.Contains(raw, []byte(`\u0000`)) && bytes.IndexByte(d.unquote(raw), 0) >= 0 {
				*nul = true
			}
		}
		if dec.StackDepth() <= depth {
			return nil
		}
	}
}

// skipRest skips the remaining members or elements of the object or array
// being read, and its closing bracket.
func (d *decoder) skipRest() error {
	for k := d.dec.PeekKind(); k != '}' && k != ']'; k = d.dec.PeekKind() {
		if err := d.skip(nil); err != nil {
			return err
		}
	}
	return d.token()
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

func (d *decoder) readName() ([]byte, error) {
	raw, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	return d.unquote(raw), nil
}

// decodeEvent reads one event object, checks it and, while the request is
// still valid, adds it to the batch. Only malformed JSON is returned.
func (d *decoder) decodeEvent() error {
	dec, e := d.dec, &d.ev
	k := dec.PeekKind()
	e.start = d.nextPos()
	if k != '{' {
		if err := d.skip(nil); err != nil {
			return err
		}
		e.invalid = true
		d.invalidEvents++
		d.addProblem(e.start, loc{}, "an event must be a JSON object, got "+kindName(k))
		return nil
	}
	if err := d.token(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		keyPos := d.nextPos()
		key, err := d.readName()
		if err == nil {
			err = d.member(key, keyPos)
		}
		if err != nil {
			return err
		}
	}
	if err := d.token(); err != nil {
		return err
	}
	e.closed = true
	if pos := d.skipWS(int(dec.InputOffset())); d.ndjson && pos < len(d.data) {
		return d.fail(pos, "unexpected data after the event; NDJSON takes one event per line")
	}
	d.finishEvent()
	return nil
}

// member reads the value of the top-level field key.
func (d *decoder) member(key []byte, keyPos int) error {
	e := &d.ev
	id, known := fieldByName[string(key)]
	first := known && e.seen&bit(id) == 0
	if !first && len(e.refs) >= maxRefs {
		// Unknown or repeated, beyond what a 400 answer lists: count it.
		e.extraProblems++
		return d.skip(nil)
	}
	ref := fieldRef{id: id, pos: keyPos, from: len(e.problems), to: -1}
	extra := e.extraProblems
	var err error
	switch {
	case !known:
		ref.id, ref.name = fieldNone, string(key)
		e.refs = append(e.refs, ref)
		err = d.skip(nil)
	case !first:
		e.refs = append(e.refs, ref)
		e.problem(keyPos, loc{name: fields[id].name}, "duplicate field")
		err = d.skip(nil)
	default:
		e.seen |= bit(id)
		e.refs = append(e.refs, ref)
		err = d.decodeField(id)
	}
	r := &e.refs[len(e.refs)-1]
	r.to = len(e.problems)
	r.failed = r.to > r.from || e.extraProblems > extra
	return err
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "invalid"
}

// wrong records a value of the wrong JSON kind and skips it.
func (d *decoder) wrong(pos int, at loc, want string, got jsontext.Kind) error {
	d.ev.problem(pos, at, "must be "+want+", got "+kindName(got))
	return d.skip(nil)
}

// decodeField reads the value of a known field.
func (d *decoder) decodeField(id fieldID) error {
	dec, e, spec := d.dec, &d.ev, &fields[id]
	at := loc{name: spec.name}
	pos, k := d.nextPos(), dec.PeekKind()
	if k == 'n' { // null is as good as absent
		return d.skip(nil)
	}
	var raw []byte
	var err error
	switch spec.kind {
	case kindTime:
		return d.decodeTime(id, pos, k)
	case kindShortList:
		return d.decodeList(id, pos, k)
	case kindException:
		return d.decodeException(id, pos, k)
	case kindAttributes:
		return d.decodeAttributes(id, pos, k)
	case kindRawJSON:
		var nul bool
		if err := d.skip(&nul); err != nil {
			return err
		}
		raw = d.data[pos:dec.InputOffset()]
		switch {
		case nul:
			e.problem(pos, at, "must not contain NUL characters (\\u0000)")
		case len(raw) > d.limits.maxTextLength:
			e.problem(pos, at, tooLong(d.limits.maxTextLength, "max_text_length"))
		default:
			e.str[id] = string(raw)
			e.set |= bit(id)
		}
		return nil
	case kindInt, kindMillis, kindStrOrInt:
		if k != '0' {
			break
		}
		if raw, err = dec.ReadValue(); err != nil {
			return err
		}
		n, isInt := parseInt(raw)
		switch spec.kind {
		case kindStrOrInt:
			if !isInt {
				e.problem(pos, at, "must be a string or an integer, got "+excerpt(raw))
				return nil
			}
			e.str[id] = string(raw)
		case kindMillis:
			f, perr := strconv.ParseFloat(string(raw), 64)
			if perr != nil || f < 0 || f > float64(spec.max) {
				e.problem(pos, at, "must be between 0 and "+strconv.FormatInt(spec.max, 10)+", got "+excerpt(raw))
				return nil
			}
			e.flt[id] = f
		default:
			if bytes.ContainsAny(raw, ".eE") {
				e.problem(pos, at, "must be an integer, got "+excerpt(raw))
				return nil
			}
			if !isInt || n < spec.min || n > spec.max {
				e.problem(pos, at, "must be between "+strconv.FormatInt(spec.min, 10)+" and "+
					strconv.FormatInt(spec.max, 10)+", got "+excerpt(raw))
				return nil
			}
			e.num[id] = n
		}
		e.set |= bit(id)
		return nil
	}
	if k != '"' || spec.kind == kindInt || spec.kind == kindMillis {
		want := "a string"
		switch spec.kind {
		case kindInt:
			want = "an integer"
		case kindMillis:
			want = "a number"
		case kindStrOrInt:
			want = "a string or an integer"
		}
		return d.wrong(pos, at, want, k)
	}
	v, ok, err := d.readString(pos, at, d.lengthLimit(spec.kind))
	if err != nil || !ok {
		return err
	}
	if v == "" {
		e.empty |= bit(id)
		return nil
	}
	d.setString(id, pos, v)
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

// stringValue checks the length and content of a string token; reason
// tells what is wrong with it.
func (d *decoder) stringValue(raw []byte, limit int) (v, reason string) {
	b := d.unquote(raw)
	switch {
	case len(b) > limit:
		setting := "max_field_length"
		if limit == d.limits.maxTextLength && limit != d.limits.maxFieldLength {
			setting = "max_text_length"
		}
		return "", tooLong(limit, setting)
	case len(b) < len(raw)-2 && bytes.IndexByte(b, 0) >= 0: // only an escape makes a NUL
		return "", "must not contain NUL characters (\\u0000)"
	}
	return string(b), ""
}

// readString reads the string at pos; ok is false when a problem was recorded.
func (d *decoder) readString(pos int, at loc, limit int) (string, bool, error) {
	raw, err := d.dec.ReadValue()
	if err != nil {
		return "", false, err
	}
	v, reason := d.stringValue(raw, limit)
	if reason != "" {
		d.ev.problem(pos, at, reason)
		return "", false, nil
	}
	return v, true, nil
}

// setString checks a non-empty string value against its field's kind.
func (d *decoder) setString(id fieldID, pos int, v string) {
	e := &d.ev
	spec := &fields[id]
	at := loc{name: spec.name}
	switch spec.kind {
	case kindType:
		t, ok := typeByName[v]
		if !ok {
			e.problem(pos, at, "unknown event type "+quoted(v))
			return
		}
		e.typ, e.typeOK = t, true
	case kindEnum:
		if !slices.Contains(spec.enum, v) {
			e.problem(pos, at, "must be one of "+quoteList(spec.enum)+", got "+quoted(v))
			return
		}
	case kindTraceID:
		if len(v) != 32 || !decodeHexID(e.traceID[:], v) {
			e.problem(pos, at, "must be 32 hex digits, not all zero")
			return
		}
	case kindSpanID:
		dst := e.spanID[:]
		if id == fParentSpanID {
			dst = e.parentSpanID[:]
		}
		if len(v) != 16 || !decodeHexID(dst, v) {
			e.problem(pos, at, "must be 16 hex digits, not all zero")
			return
		}
	case kindThreshold:
		if len(v) > 14 || strings.Trim(v, "0123456789abcdef") != "" {
			e.problem(pos, at, "must be 1 to 14 lowercase hex digits (an OpenTelemetry sampling threshold)")
			return
		}
	}
	e.str[id] = v
	e.set |= bit(id)
}

func quoteList(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = strconv.Quote(s)
	}
	return strings.Join(quoted, ", ")
}

// decodeHexID decodes hex into dst and rejects an all-zero id.
func decodeHexID(dst []byte, v string) bool {
	_, err := hex.Decode(dst, []byte(v))
	return err == nil && slices.ContainsFunc(dst, func(b byte) bool { return b != 0 })
}

const timeHint = "use RFC 3339 (2025-06-18T12:00:00.5Z) or unix nanoseconds"

// decodeTime reads an RFC 3339 timestamp or unix nanoseconds.
func (d *decoder) decodeTime(id fieldID, pos int, k jsontext.Kind) error {
	e := &d.ev
	at := loc{name: fields[id].name}
	var nanos int64
	switch k {
	case '"':
		v, ok, err := d.readString(pos, at, math.MaxInt)
		if err != nil || !ok {
			return err
		}
		if v == "" {
			e.empty |= bit(id)
			return nil
		}
		if n, fits := parseInt(v); fits && v[0] != '-' {
			nanos = n
			break
		}
		t, err := parseRFC3339(v)
		if err != nil {
			e.problem(pos, at, "invalid timestamp "+quoted(v)+": "+timeHint)
			return nil
		}
		if t.Before(minTime) || !t.Before(maxTime) {
			e.problem(pos, at, outOfRange(t, false))
			return nil
		}
		nanos = t.UnixNano()
	case '0':
		raw, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		n, fits := parseInt(raw)
		if !fits {
			e.problem(pos, at, "invalid timestamp "+excerpt(raw)+": "+timeHint+" as an integer")
			return nil
		}
		nanos = n
	default:
		return d.wrong(pos, at, "an RFC 3339 string or unix nanoseconds", k)
	}
	if nanos < minTime.UnixNano() || nanos >= maxTime.UnixNano() {
		e.problem(pos, at, outOfRange(time.Unix(0, nanos).UTC(), true))
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

var errBadTime = errors.New("bad time")

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

// decodeList reads an array of short strings.
func (d *decoder) decodeList(id fieldID, pos int, k jsontext.Kind) error {
	dec, e, name := d.dec, &d.ev, fields[id].name
	if k != '[' {
		return d.wrong(pos, loc{name: name}, "an array of strings", k)
	}
	list := &e.tools
	if id == fCandidates {
		list = &e.candidates
	}
	if err := d.token(); err != nil {
		return err
	}
	ok := true
	for i := 0; dec.PeekKind() != ']'; i++ {
		epos, ek, at := d.nextPos(), dec.PeekKind(), loc{name: name, elem: i + 1}
		if i == maxElements {
			e.problem(epos, loc{name: name}, "more than "+strconv.Itoa(maxElements)+" elements")
			return d.skipRest()
		}
		if ek != '"' {
			ok = false
			if err := d.wrong(epos, at, "a string", ek); err != nil {
				return err
			}
			continue
		}
		raw, err := dec.ReadValue()
		if err != nil {
			return err
		}
		v, reason := d.stringValue(raw, d.limits.maxFieldLength)
		if reason == "" && v == "" {
			reason = "must not be empty"
		}
		if reason != "" {
			ok = false
			e.problem(epos, at, reason)
			continue
		}
		*list = append(*list, v)
	}
	if ok && len(*list) > 0 {
		e.set |= bit(id)
	}
	return d.token()
}

// decodeException reads {"type", "message", "stacktrace"}.
func (d *decoder) decodeException(id fieldID, pos int, k jsontext.Kind) error {
	dec, e := d.dec, &d.ev
	if k != '{' {
		return d.wrong(pos, loc{name: "exception"}, "an object", k)
	}
	if err := d.token(); err != nil {
		return err
	}
	var seen [3]bool
	ok := true
	for dec.PeekKind() != '}' {
		kpos := d.nextPos()
		key, err := d.readName()
		if err != nil {
			return err
		}
		at := loc{name: "exception", key: string(key)}
		vpos, vk := d.nextPos(), dec.PeekKind()
		slot := slices.Index(exceptionKeys, at.key)
		switch {
		case slot < 0:
			ok = false
			e.problem(kpos, at, "unknown field")
			err = d.skip(nil)
		case seen[slot]:
			ok = false
			e.problem(kpos, at, "duplicate field")
			err = d.skip(nil)
		case vk == 'n':
			seen[slot] = true
			err = d.skip(nil)
		case vk != '"':
			seen[slot] = true
			ok = false
			err = d.wrong(vpos, at, "a string", vk)
		default:
			seen[slot] = true
			limit := d.limits.maxTextLength
			if slot == 0 {
				limit = d.limits.maxFieldLength
			}
			var v string
			var vok bool
			v, vok, err = d.readString(vpos, at, limit)
			ok = ok && vok
			*[...]*string{&e.exception.typ, &e.exception.message, &e.exception.stacktrace}[slot] = v
		}
		if err != nil {
			return err
		}
	}
	if err := d.token(); err != nil || !ok {
		return err
	}
	if e.exception.typ == "" && e.exception.message == "" {
		e.problem(pos, loc{name: "exception"}, "one of type, message is required")
		return nil
	}
	e.set |= bit(id)
	return nil
}

// decodeAttributes reads the extra attributes object.
func (d *decoder) decodeAttributes(id fieldID, pos int, k jsontext.Kind) error {
	dec, e, whole := d.dec, &d.ev, loc{name: "attributes"}
	if k != '{' {
		return d.wrong(pos, whole, "an object", k)
	}
	if err := d.token(); err != nil {
		return err
	}
	for keys := 0; dec.PeekKind() != '}'; keys++ {
		kpos := d.nextPos()
		if keys == maxAttributes {
			e.problem(kpos, whole, "more than "+strconv.Itoa(maxAttributes)+" attributes")
			return d.skipRest()
		}
		key, err := d.readName()
		if err != nil {
			return err
		}
		reason := ""
		switch {
		case len(key) == 0:
			reason = "an attribute key must not be empty"
		case len(key) > d.limits.maxFieldLength:
			reason = "an attribute key is " + tooLong(d.limits.maxFieldLength, "max_field_length")
		case bytes.IndexByte(key, 0) >= 0:
			reason = "an attribute key must not contain NUL characters (\\u0000)"
		case slices.ContainsFunc(e.attrs, func(a extraAttr) bool { return a.key == string(key) }):
			e.problem(kpos, loc{name: "attributes", key: string(key)}, "duplicate attribute")
			err = d.skip(nil)
		default:
			name := string(key)
			var v attrValue
			var ok bool
			if v, ok, err = d.readAttrValue(name, 0); err == nil && ok {
				e.attrs = append(e.attrs, extraAttr{key: name, value: v, pos: kpos})
			}
		}
		if reason != "" {
			e.problem(kpos, whole, reason)
			err = d.skip(nil)
		}
		if err != nil {
			return err
		}
	}
	if len(e.attrs) > 0 {
		e.set |= bit(id)
	}
	return d.token()
}

// readAttrValue reads the value of attribute key: a scalar, or an array of
// scalars (elem 0 is the attribute itself, else 1 + the index of an array
// element). ok is false when a problem was recorded, or for a null
// attribute, which is dropped like an absent one.
func (d *decoder) readAttrValue(key string, elem int) (attrValue, bool, error) {
	dec, e := d.dec, &d.ev
	at := loc{name: "attributes", key: key, elem: elem}
	pos, k := d.nextPos(), dec.PeekKind()
	want := "a string, number or boolean"
	switch {
	case k == '"' || k == '0' || k == 't' || k == 'f':
		raw, err := dec.ReadValue()
		if err != nil {
			return attrValue{}, false, err
		}
		switch k {
		case '"':
			v, reason := d.stringValue(raw, d.limits.maxTextLength)
			if reason != "" {
				e.problem(pos, at, reason)
				return attrValue{}, false, nil
			}
			return attrValue{kind: jsonString, str: v}, true, nil
		case '0':
			if n, isInt := parseInt(raw); isInt {
				return attrValue{kind: jsonNumber, isInt: true, num: uint64(n)}, true, nil
			}
			f, perr := strconv.ParseFloat(string(raw), 64)
			if perr != nil || math.IsInf(f, 0) {
				e.problem(pos, at, "number out of range: "+excerpt(raw))
				return attrValue{}, false, nil
			}
			return attrValue{kind: jsonNumber, num: math.Float64bits(f)}, true, nil
		}
		return attrValue{kind: jsonBool, b: k == 't'}, true, nil
	case elem > 0:
	case k == 'n':
		return attrValue{}, false, d.skip(nil)
	case k == '{':
		want = "a string, number, boolean or array of those"
	case k == '[':
		if err := d.token(); err != nil {
			return attrValue{}, false, err
		}
		v, ok := attrValue{kind: jsonArray}, true
		for i := 0; dec.PeekKind() != ']'; i++ {
			if i == maxElements {
				e.problem(d.nextPos(), loc{name: "attributes", key: key}, "more than "+strconv.Itoa(maxElements)+" elements")
				return attrValue{}, false, d.skipRest()
			}
			ev, eok, err := d.readAttrValue(key, i+1)
			if err != nil {
				return attrValue{}, false, err
			}
			if eok {
				v.list = append(v.list, ev)
			}
			ok = ok && eok
		}
		return v, ok, d.token()
	}
	return attrValue{}, false, d.wrong(pos, at, want, k)
}

// parseInt parses the text of an integer number; ok is false when it is
// not one or does not fit an int64.
func parseInt[T ~string | ~[]byte](b T) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for i := range len(b) {
		if b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(b[i]-'0')
	}
	if neg && n <= 1<<63 {
		return -int64(n), true
	}
	return int64(n), !neg && n <= 1<<63-1
}
