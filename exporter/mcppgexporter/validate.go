package mcppgexporter

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxJSONDepth is the deepest nesting of arrays and objects a jsonb value
// may have. PostgreSQL's JSON parser recurses once per level and refuses a
// document that exhausts max_stack_depth (54001, "stack depth limit
// exceeded"). Measured with binary COPY on PostgreSQL 15: objects nest
// 13,090 levels and arrays 14,544 at the default max_stack_depth of 2MB,
// 622 and 691 at its minimum of 100kB. 512 is below what every setting
// accepts, so whether a row is stored does not depend on the server's
// configuration.
const maxJSONDepth = 512

// Values of the cause attribute of otelcol_exporter_mcppg_rows_rejected.
const (
	causeUnstorable = "unstorable_value" // text or jsonb PostgreSQL cannot store
	causeEventTime  = "event_time"       // outside event_time::max_age / max_future
	causeCountRange = "count_range"      // a metric count above the bigint range
	causeMalformed  = "malformed"        // a span or event the exporter cannot map
	causeDatabase   = "database"         // PostgreSQL refused the row
)

// screen moves every row that PostgreSQL would refuse at input, and every
// row whose event time lies outside the window, from b.rows to b.rejected
// with the reason, so that no round trip is spent on them and no retry can
// ever be caused by them.
func (b *rowBatch) screen(window EventTimeConfig, now time.Time) {
	var oldest, newest time.Time
	if window.MaxAge > 0 {
		oldest = now.Add(-window.MaxAge)
	}
	if window.MaxFuture > 0 {
		newest = now.Add(window.MaxFuture)
	}
	for id := range tables {
		rows := b.rows[id]
		kept := rows[:0]
		for _, row := range rows {
			cause, reason := rowProblem(tableID(id), row, oldest, newest, window)
			if reason == "" {
				kept = append(kept, row)
				continue
			}
			b.rejected = append(b.rejected, rejection{table: tables[id].name, cause: cause, reason: reason,
				payload: rowPayload(tables[id].columns, row)})
		}
		clear(rows[len(kept):])
		b.rows[id] = kept
	}
}

// rowProblem says why PostgreSQL would refuse row, or why its event time is
// implausible; "" when neither.
func rowProblem(id tableID, row []any, oldest, newest time.Time, window EventTimeConfig) (cause, reason string) {
	t := tables[id]
	if ts, ok := row[t.timeColumn].(time.Time); ok {
		switch {
		case !oldest.IsZero() && ts.Before(oldest):
			return causeEventTime, t.columns[t.timeColumn] + ": event time " + ts.Format(time.RFC3339Nano) +
				" is more than event_time::max_age (" + window.MaxAge.String() + ") in the past"
		case !newest.IsZero() && ts.After(newest):
			return causeEventTime, t.columns[t.timeColumn] + ": event time " + ts.Format(time.RFC3339Nano) +
				" is more than event_time::max_future (" + window.MaxFuture.String() + ") in the future"
		}
	}
	for i, v := range row {
		var problem string
		switch v := v.(type) {
		case string:
			problem = textProblem(v)
		case []string:
			for j, s := range v {
				if problem = textProblem(s); problem != "" {
					problem = "element " + strconv.Itoa(j+1) + ": " + problem
					break
				}
			}
		case json.RawMessage:
			problem = jsonbProblem(v)
		}
		if problem != "" {
			return causeUnstorable, t.columns[i] + ": " + problem
		}
	}
	return "", ""
}

// textProblem says why PostgreSQL text cannot hold s: a NUL byte, or bytes
// that are not UTF-8 (22021 on the server).
func textProblem(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return "NUL byte at offset " + strconv.Itoa(i) + " (PostgreSQL text cannot hold NUL)"
	}
	if utf8.ValidString(s) {
		return ""
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return "invalid UTF-8 byte 0x" + strconv.FormatUint(uint64(s[i]), 16) + " at offset " + strconv.Itoa(i)
		}
		i += size
	}
	return ""
}

// jsonbProblem says why PostgreSQL would refuse the JSON text js as jsonb:
// the escape \u0000 (22P05: jsonb text cannot hold NUL), a lone UTF-16
// surrogate escape (22P02), an unescaped control character or invalid
// UTF-8 (22P02, 22021), or nesting deeper than maxJSONDepth (54001). js is
// JSON the exporter encoded, so its syntax is not checked again.
func jsonbProblem(js json.RawMessage) string {
	depth := 0
	inString := false
	for i := 0; i < len(js); i++ {
		c := js[i]
		if !inString {
			switch c {
			case '"':
				inString = true
			case '[', '{':
				if depth++; depth > maxJSONDepth {
					return "JSON nested more than " + strconv.Itoa(maxJSONDepth) + " levels deep"
				}
			case ']', '}':
				depth--
			}
			continue
		}
		switch {
		case c == '"':
			inString = false
		case c < 0x20:
			return "unescaped control character 0x" + strconv.FormatUint(uint64(c), 16) + " in a JSON string at offset " + strconv.Itoa(i)
		case c == '\\' && i+1 < len(js):
			i++
			if js[i] != 'u' || i+4 >= len(js) {
				continue
			}
			code, ok := hex4(js[i+1 : i+5])
			i += 4
			switch {
			case !ok:
			case code == 0:
				return `\u0000 in a JSON string at offset ` + strconv.Itoa(i-5) + " (jsonb text cannot hold NUL)"
			case code >= 0xd800 && code <= 0xdbff:
				low, ok := uint16(0), false
				if i+6 < len(js) && js[i+1] == '\\' && js[i+2] == 'u' {
					low, ok = hex4(js[i+3 : i+7])
				}
				if !ok || low < 0xdc00 || low > 0xdfff {
					return "unpaired UTF-16 surrogate escape in a JSON string at offset " + strconv.Itoa(i-5)
				}
				i += 6
			case code >= 0xdc00 && code <= 0xdfff:
				return "unpaired UTF-16 surrogate escape in a JSON string at offset " + strconv.Itoa(i-5)
			}
		}
	}
	if !utf8.Valid(js) {
		return "JSON text is not valid UTF-8"
	}
	return ""
}

func hex4(b []byte) (uint16, bool) {
	var n uint16
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint16(c)
	}
	return n, true
}
