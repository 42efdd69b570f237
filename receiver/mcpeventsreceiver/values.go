package mcpeventsreceiver

import (
	"bytes"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// How each kind of field value is read, on the tokenizer of decode.go, and
// checked: decodeField reads a value by its field's kind (lists, the
// exception and the attributes have readers of their own), setString and
// setNumber check and store a scalar.

// decodeField reads the value of a known field.
func (d *decoder) decodeField(id fieldID) {
	e, spec := &d.ev, &fields[id]
	at, k, kind := loc{name: spec.name}, d.peek(), spec.kind
	switch {
	case k == 'n': // null is as good as absent
		d.skip(nil)
	case kind == kindShortList:
		d.decodeList(id, at, d.nextPos(), k)
	case kind == kindException:
		d.decodeException(id, at, d.nextPos(), k)
	case kind == kindAttributes:
		d.decodeAttributes(id, at, d.nextPos(), k)
	case kind == kindRawJSON:
		var nul bool
		pos := d.nextPos()
		if d.skip(&nul); d.err == nil {
			switch raw := d.data[pos:d.dec.InputOffset()]; {
			case nul:
				e.problem(pos, at, "must not contain NUL characters (\\u0000)")
			case len(raw) > d.limits.maxTextLength:
				e.problem(pos, at, tooLong(d.limits.maxTextLength, "max_text_length"))
			default:
				e.str[id] = string(raw)
				e.set |= bit(id)
			}
		}
	case k == '0' && (kind == kindInt || kind == kindMillis || kind == kindStrOrInt || kind == kindTime):
		if raw := d.value(); raw != nil {
			e.problem(d.posOf(raw), at, e.setNumber(id, raw))
		}
	case k == '"' && kind != kindInt && kind != kindMillis:
		// The kinds whose content is checked (type, time, enums, ids,
		// thresholds) need no length limit.
		limit := math.MaxInt
		switch kind {
		case kindText:
			limit = d.limits.maxTextLength
		case kindShort, kindStrOrInt:
			limit = d.limits.maxFieldLength
		}
		if v, pos, ok := d.text(at, limit); v == "" && ok {
			e.empty |= bit(id)
		} else if ok {
			e.problem(pos, at, e.setString(id, v))
		}
	default:
		d.wrong(d.nextPos(), at, kindWants[kind], k)
	}
}

// decodeList reads an array of short strings.
func (d *decoder) decodeList(id fieldID, whole loc, pos int, k jsontext.Kind) {
	e, before := &d.ev, d.ev.problemCount()
	if !d.open(pos, whole, k, '[', kindShortList) {
		return
	}
	list := e.list(id)
	for i := 0; d.next(i, maxElements, whole, "elements"); i++ {
		at, epos := loc{name: whole.name, elem: i + 1}, d.nextPos()
		if v, ok := d.stringAt(at, d.limits.maxFieldLength); v == "" && ok {
			e.problem(epos, at, "must not be empty")
		} else if ok {
			*list = append(*list, v)
		}
	}
	if e.problemCount() == before && len(*list) > 0 {
		e.set |= bit(id)
	}
}

// decodeException reads {"type", "message", "stacktrace"}.
func (d *decoder) decodeException(id fieldID, whole loc, pos int, k jsontext.Kind) {
	e, before := &d.ev, d.ev.problemCount()
	if !d.open(pos, whole, k, '{', kindException) {
		return
	}
	var seen [len(exceptionKeys)]bool
	for d.more() {
		key, kpos := d.name()
		if key == nil {
			return
		}
		at := loc{name: whole.name, key: string(key), keyed: true}
		switch slot := slices.Index(exceptionKeys[:], at.key); {
		case slot < 0:
			e.problem(kpos, at, "unknown field")
			d.skip(nil)
		case seen[slot]:
			e.problem(kpos, at, "duplicate field")
			d.skip(nil)
		case d.peek() == 'n':
			seen[slot] = true
			d.skip(nil)
		default:
			seen[slot] = true
			limit := d.limits.maxTextLength
			if slot == 0 { // the type
				limit = d.limits.maxFieldLength
			}
			e.exception[slot], _ = d.stringAt(at, limit)
		}
	}
	switch {
	case e.problemCount() > before || d.err != nil:
	case e.exception[0] == "" && e.exception[1] == "":
		e.problem(pos, whole, "one of type, message is required")
	default:
		e.set |= bit(id)
	}
}

// decodeAttributes reads the extra attributes object.
func (d *decoder) decodeAttributes(id fieldID, whole loc, pos int, k jsontext.Kind) {
	e := &d.ev
	if !d.open(pos, whole, k, '{', kindAttributes) {
		return
	}
	for n := 0; d.next(n, maxAttributes, whole, "attributes"); n++ {
		key, kpos := d.name()
		switch {
		case key == nil:
			return
		case len(key) == 0:
			e.problem(kpos, whole, "an attribute key must not be empty")
		case len(key) > d.limits.maxFieldLength:
			e.problem(kpos, whole, "an attribute key is "+tooLong(d.limits.maxFieldLength, "max_field_length"))
		case bytes.IndexByte(key, 0) >= 0:
			e.problem(kpos, whole, "an attribute key must not contain NUL characters (\\u0000)")
		case slices.ContainsFunc(e.attrs, func(a extraAttr) bool { return a.key == string(key) }):
			e.problem(kpos, loc{name: whole.name, key: string(key), keyed: true}, "duplicate attribute")
		default:
			name := string(key)
			if v, ok := d.attrValue(loc{name: whole.name, key: name, keyed: true}); ok {
				e.attrs = append(e.attrs, extraAttr{key: name, value: v, pos: kpos})
			}
			continue
		}
		d.skip(nil)
	}
	if len(e.attrs) > 0 {
		e.set |= bit(id)
	}
}

// attrValue reads the value of attribute at: a scalar, or an array of
// scalars (at.elem is 0 for the attribute itself, else 1 + the index of an
// array element). ok is false when a problem was recorded, or for a null
// attribute, which is dropped like an absent one.
func (d *decoder) attrValue(at loc) (v attrValue, ok bool) {
	pos, k := d.nextPos(), d.peek()
	switch {
	case k == '"':
		v.tag = 's'
		v.str, _, ok = d.text(at, d.limits.maxTextLength)
		return v, ok
	case k == 't' || k == 'f':
		v.tag = byte(k)
		return v, d.value() != nil
	case k == '0':
		raw := d.value()
		if raw == nil {
			return v, false
		}
		n, isInt := parseInt(raw)
		v.tag, v.num = 'i', uint64(n)
		if !isInt {
			v.tag = 'd'
			f, err := strconv.ParseFloat(string(raw), 64)
			if err != nil || math.IsInf(f, 0) {
				d.ev.problem(pos, at, "number out of range: "+excerpt(raw))
				return v, false
			}
			v.num = math.Float64bits(f)
		}
		return v, true
	case at.elem == 0 && k == 'n':
		d.skip(nil)
		return v, false
	case at.elem == 0 && k == '[':
		v.tag = 'a'
		before := d.ev.problemCount()
		d.token()
		for i := 0; d.next(i, maxElements, at, "elements"); i++ {
			if ev, ok := d.attrValue(loc{name: at.name, key: at.key, keyed: true, elem: i + 1}); ok {
				v.list = append(v.list, ev)
			}
		}
		return v, d.ev.problemCount() == before && d.err == nil
	}
	want := "a string, number or boolean"
	if at.elem == 0 && k == '{' {
		want = "a string, number, boolean or array of those"
	}
	d.wrong(pos, at, want, k)
	return v, false
}

// setString checks a non-empty string against its field's kind.
func (e *event) setString(id fieldID, v string) (reason string) {
	spec := &fields[id]
	switch spec.kind {
	case kindType:
		t, ok := typeByName[v]
		if !ok {
			return "unknown event type " + quoted(v)
		}
		e.typ = t
	case kindTime:
		t, ok := parseRFC3339(v)
		n, nanos := parseInt(v)
		if nanos = nanos && v[0] != '-'; nanos {
			t = time.Unix(0, n)
		} else if !ok {
			return "invalid timestamp " + quoted(v) + ": " + timeHint
		}
		if reason := outOfRange(t, nanos); reason != "" {
			return reason
		}
		e.num[id] = t.UnixNano()
	case kindEnum:
		if !slices.Contains(spec.enum, v) {
			return "must be one of " + quoteList(spec.enum) + ", got " + quoted(v)
		}
	case kindTraceID:
		if len(v) != 32 || !decodeHexID(e.traceID[:], v) {
			return "must be 32 hex digits, not all zero"
		}
	case kindSpanID:
		dst := e.spanID[:]
		if id == fParentSpanID {
			dst = e.parentSpanID[:]
		}
		if len(v) != 16 || !decodeHexID(dst, v) {
			return "must be 16 hex digits, not all zero"
		}
	case kindThreshold:
		if len(v) > 14 || strings.Trim(v, "0123456789abcdef") != "" {
			return "must be 1 to 14 lowercase hex digits (an OpenTelemetry sampling threshold)"
		}
	}
	e.str[id] = v
	e.set |= bit(id)
	return ""
}

// setNumber checks the text of a JSON number against its field's kind.
func (e *event) setNumber(id fieldID, raw []byte) (reason string) {
	spec := &fields[id]
	n, isInt := parseInt(raw)
	switch spec.kind {
	case kindStrOrInt:
		if !isInt {
			return "must be a string or an integer, got " + excerpt(raw)
		}
		e.str[id] = string(raw)
	case kindMillis:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f < 0 || f > float64(spec.max) {
			return "must be between 0 and " + strconv.FormatInt(spec.max, 10) + ", got " + excerpt(raw)
		}
		e.flt[id] = f
	case kindTime:
		if !isInt {
			return "invalid timestamp " + excerpt(raw) + ": " + timeHint + " as an integer"
		}
		if reason := outOfRange(time.Unix(0, n), true); reason != "" {
			return reason
		}
		e.num[id] = n
	default:
		if bytes.ContainsAny(raw, ".eE") {
			return "must be an integer, got " + excerpt(raw)
		}
		if !isInt || n < spec.min || n > spec.max {
			return "must be between " + strconv.FormatInt(spec.min, 10) + " and " +
				strconv.FormatInt(spec.max, 10) + ", got " + excerpt(raw)
		}
		e.num[id] = n
	}
	e.set |= bit(id)
	return ""
}

// Timestamps outside [minTime, maxTime) are refused: a unix time in
// seconds or milliseconds sent as an integer falls far below minTime.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

const timeHint = "use RFC 3339 (2025-06-18T12:00:00.5Z) or unix nanoseconds"

// outOfRange tells why t is refused, if it is; nanos: t was sent as unix
// nanoseconds.
func outOfRange(t time.Time, nanos bool) string {
	if !t.Before(minTime) && t.Before(maxTime) {
		return ""
	}
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
func parseRFC3339(v string) (time.Time, bool) {
	if len(v) < 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' {
		return time.Time{}, false
	}
	if i := strings.IndexByte(v, '.'); i >= 0 {
		j := i + 1
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		if j-i-1 < 1 || j-i-1 > 9 {
			return time.Time{}, false
		}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// decodeHexID decodes hex into dst and rejects an all-zero id.
func decodeHexID(dst []byte, v string) bool {
	_, err := hex.Decode(dst, []byte(v))
	return err == nil && slices.ContainsFunc(dst, func(b byte) bool { return b != 0 })
}

// parseInt parses the text of an integer number; ok is false when it is
// not one or does not fit an int64.
func parseInt[T ~string | ~[]byte](b T) (n int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for i := range len(b) {
		if b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		u = u*10 + uint64(b[i]-'0')
	}
	if neg && u <= 1<<63 {
		return -int64(u), true
	}
	return int64(u), !neg && u <= 1<<63-1
}

// quoted quotes a refused value for a reason, shortened when long.
func quoted(v string) string {
	head, more := shorten(v)
	return strconv.Quote(head) + more
}

// excerpt is the text of a refused number for a reason, shortened when long.
func excerpt(raw []byte) string {
	head, more := shorten(string(raw))
	return head + more
}

// shorten cuts v to 64 bytes at most, at a character boundary; more is
// "..." when it did.
func shorten(v string) (head, more string) {
	cut := 64
	if len(v) <= cut {
		return v, ""
	}
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut], "..."
}

func quoteList(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = strconv.Quote(s)
	}
	return strings.Join(quoted, ", ")
}

func tooLong(limit int, setting string) string {
	return "longer than " + strconv.Itoa(limit) + " bytes (" + setting + ")"
}
