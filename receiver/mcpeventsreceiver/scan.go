package mcpeventsreceiver

import (
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects (tool arguments and
// results are the only deep values), so that a hostile body cannot make the
// decoder recurse without limit.
const maxDepth = 64

// jsonKind is the kind of the JSON value that starts at the scanner's position.
type jsonKind uint8

const (
	jsonInvalid jsonKind = iota
	jsonString
	jsonNumber
	jsonObject
	jsonArray
	jsonBool
	jsonNull
)

var jsonKindNames = [...]string{
	jsonInvalid: "invalid",
	jsonString:  "string",
	jsonNumber:  "number",
	jsonObject:  "object",
	jsonArray:   "array",
	jsonBool:    "boolean",
	jsonNull:    "null",
}

func (k jsonKind) String() string { return jsonKindNames[k] }

// syntaxError is malformed JSON at byte offset pos of the scanned text.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return "invalid JSON: " + e.msg }

// scanner reads JSON values from a byte slice without reflection. It checks
// the grammar strictly (RFC 8259): no invalid UTF-8, no unpaired surrogate
// escapes, no control characters in strings; it reports NUL characters,
// which PostgreSQL text and jsonb refuse.
type scanner struct {
	data []byte
	pos  int
	// nul is set when a string read since the last reset held a NUL character.
	nul bool
	// scratch is reused to unescape object keys.
	scratch []byte
}

func (s *scanner) reset(data []byte) {
	s.data, s.pos, s.nul = data, 0, false
}

func (s *scanner) fail(msg string) error { return &syntaxError{pos: s.pos, msg: msg} }

func (s *scanner) unexpected() error {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of input")
	}
	c := s.data[s.pos]
	if c < 0x20 || c >= utf8.RuneSelf {
		return s.fail("unexpected byte 0x" + string(hexDigits[c>>4]) + string(hexDigits[c&0xf]))
	}
	return s.fail("unexpected character '" + string(rune(c)) + "'")
}

const hexDigits = "0123456789abcdef"

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) eof() bool { return s.pos >= len(s.data) }

// peekKind tells the kind of the value at the position (after whitespace).
func (s *scanner) peekKind() jsonKind {
	s.skipWS()
	if s.pos >= len(s.data) {
		return jsonInvalid
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		return jsonString
	case c == '{':
		return jsonObject
	case c == '[':
		return jsonArray
	case c == 't' || c == 'f':
		return jsonBool
	case c == 'n':
		return jsonNull
	case c == '-' || (c >= '0' && c <= '9'):
		return jsonNumber
	}
	return jsonInvalid
}

// consume skips whitespace and reads c, reporting false when another byte is there.
func (s *scanner) consume(c byte) bool {
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// stringSpan reads the string at the position (its opening quote) and
// returns the bounds of its raw content and whether it holds escapes.
func (s *scanner) stringSpan() (start, end int, escaped bool, err error) {
	s.pos++ // opening quote
	start = s.pos
	high := false
	data := s.data
	for i := s.pos; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '"':
			if high && !utf8.Valid(data[start:i]) {
				s.pos = start + invalidUTF8At(data[start:i])
				return 0, 0, false, s.fail("invalid UTF-8 in string")
			}
			s.pos = i + 1
			return start, i, escaped, nil
		case c == '\\':
			escaped = true
			s.pos = i
			n, err := s.checkEscape()
			if err != nil {
				return 0, 0, false, err
			}
			i += n - 1
		case c < 0x20:
			s.pos = i
			return 0, 0, false, s.fail("control character in string (escape it)")
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	s.pos = len(data)
	return 0, 0, false, s.fail("unexpected end of input in string")
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return 0
}

// checkEscape validates the escape sequence at the position (a backslash)
// and returns its length; surrogate pairs count as one sequence.
func (s *scanner) checkEscape() (int, error) {
	data := s.data[s.pos:]
	if len(data) < 2 {
		return 0, s.fail("unexpected end of input in string")
	}
	switch data[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, s.fail("invalid escape '\\" + string(rune(data[1])) + "'")
	}
	r, ok := hex4(data[2:])
	if !ok {
		return 0, s.fail("invalid \\u escape")
	}
	if r == 0 {
		s.nul = true
	}
	switch {
	case r >= 0xd800 && r < 0xdc00:
		if len(data) < 12 || data[6] != '\\' || data[7] != 'u' {
			return 0, s.fail("unpaired surrogate in \\u escape")
		}
		lo, ok := hex4(data[8:])
		if !ok || lo < 0xdc00 || lo >= 0xe000 {
			return 0, s.fail("unpaired surrogate in \\u escape")
		}
		return 12, nil
	case r >= 0xdc00 && r < 0xe000:
		return 0, s.fail("unpaired surrogate in \\u escape")
	}
	return 6, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape appends the decoded content of a validated raw string to dst.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw[i+2:])
			if r >= 0xd800 && r < 0xdc00 {
				lo, _ := hex4(raw[i+8:])
				dst = utf8.AppendRune(dst, utf16.DecodeRune(r, lo))
				i += 12
				continue
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// readString reads a string value.
func (s *scanner) readString() (string, error) {
	start, end, escaped, err := s.stringSpan()
	if err != nil {
		return "", err
	}
	if !escaped {
		return string(s.data[start:end]), nil
	}
	return string(unescape(make([]byte, 0, end-start), s.data[start:end])), nil
}

// readKey reads an object key followed by its colon. The bytes returned are
// valid until the next call.
func (s *scanner) readKey() ([]byte, error) {
	s.skipWS()
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, s.unexpectedIn("expected a field name")
	}
	start, end, escaped, err := s.stringSpan()
	if err != nil {
		return nil, err
	}
	key := s.data[start:end]
	if escaped {
		s.scratch = unescape(s.scratch[:0], key)
		key = s.scratch
	}
	if !s.consume(':') {
		return nil, s.unexpectedIn("expected ':' after a field name")
	}
	return key, nil
}

// unexpectedIn reports an unexpected byte with what was expected instead.
// more reads what follows a member or an element: ',' (more to come), the
// closing '}' or ']' (no more), or anything else (a syntax error).
func (s *scanner) more(closing byte) (bool, error) {
	if s.consume(',') {
		return true, nil
	}
	if s.consume(closing) {
		return false, nil
	}
	return false, s.unexpectedIn("expected ',' or '" + string(closing) + "'")
}

func (s *scanner) unexpectedIn(expected string) error {
	err := s.unexpected().(*syntaxError)
	err.msg += ", " + expected
	return err
}

// readNumber reads a number and returns its text and whether it is written
// as an integer (no fraction, no exponent).
func (s *scanner) readNumber() ([]byte, bool, error) {
	data := s.data
	start := s.pos
	i := s.pos
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return nil, false, s.fail("invalid number")
	}
	isInt := true
	if i < len(data) && data[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			return nil, false, s.fail("invalid number")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		isInt = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		d := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			return nil, false, s.fail("invalid number")
		}
	}
	s.pos = i
	return data[start:i], isInt, nil
}

// readBool reads true or false.
func (s *scanner) readBool() (bool, error) {
	if s.literal("true") {
		return true, nil
	}
	if s.literal("false") {
		return false, nil
	}
	return false, s.unexpected()
}

// readNull reads null.
func (s *scanner) readNull() error {
	if s.literal("null") {
		return nil
	}
	return s.unexpected()
}

func (s *scanner) literal(word string) bool {
	if len(s.data)-s.pos >= len(word) && string(s.data[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return true
	}
	return false
}

// skipValue reads and discards one value of any kind, checking its grammar.
func (s *scanner) skipValue(depth int) error {
	switch s.peekKind() {
	case jsonString:
		_, _, _, err := s.stringSpan()
		return err
	case jsonNumber:
		_, _, err := s.readNumber()
		return err
	case jsonBool:
		_, err := s.readBool()
		return err
	case jsonNull:
		return s.readNull()
	case jsonObject:
		if depth >= maxDepth {
			return s.fail("nesting deeper than 64 levels")
		}
		s.pos++
		if s.consume('}') {
			return nil
		}
		for {
			if _, err := s.readKey(); err != nil {
				return err
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			more, err := s.more('}')
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
		}
	case jsonArray:
		if depth >= maxDepth {
			return s.fail("nesting deeper than 64 levels")
		}
		s.pos++
		if s.consume(']') {
			return nil
		}
		for {
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			more, err := s.more(']')
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
		}
	}
	return s.unexpectedIn("expected a value")
}

// parseInt parses the text of an integer number; ok is false when it does
// not fit an int64.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}
