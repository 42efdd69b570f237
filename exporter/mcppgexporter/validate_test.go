package mcppgexporter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTextProblem(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"get_weather":              "",
		"Grüße, 天気 ☀ \U0001F600":   "",
		"get\x00weather":           "NUL byte at offset 3 (PostgreSQL text cannot hold NUL)",
		"caf\xe9":                  "invalid UTF-8 byte 0xe9 at offset 3",
		"\xed\xa0\x80":             "invalid UTF-8 byte 0xed at offset 0", // an encoded surrogate
		"x'); DROP TABLE t; -- \\": "",
	} {
		assert.Equal(t, want, textProblem(in), "%q", in)
	}
}

func TestJSONBProblem(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for in, want := range map[string]string{
		`{"a":"b"}`:                  "",
		`{"a":"\\u0000"}`:            "", // an escaped backslash, then the text u0000
		`{"a":"x\u0000"}`:            `\u0000 in a JSON string at offset 7 (jsonb text cannot hold NUL)`,
		`{"\u0000":1}`:               `\u0000 in a JSON string at offset 2 (jsonb text cannot hold NUL)`,
		`{"a":"\u00e9\u0041"}`:       "",
		`{"a":"\ud83d\ude00"}`:       "", // a surrogate pair
		`{"a":"\ud83d"}`:             "unpaired UTF-16 surrogate escape in a JSON string at offset 6",
		`{"a":"\ud83d\u0041"}`:       "unpaired UTF-16 surrogate escape in a JSON string at offset 6",
		`{"a":"\ude00"}`:             "unpaired UTF-16 surrogate escape in a JSON string at offset 6",
		"{\"a\":\"x\ny\"}":           "unescaped control character 0xa in a JSON string at offset 7",
		"{\"a\":\"caf\xe9\"}":        "JSON text is not valid UTF-8",
		`{"a":"[[[["}`:               "", // brackets in a string do not nest
		deep(maxJSONDepth):           "",
		deep(maxJSONDepth + 1):       "JSON nested more than 512 levels deep",
		`{"a":` + deep(511) + `}`:    "",
		`{"a":` + deep(512) + `}`:    "JSON nested more than 512 levels deep",
		`[` + deep(10) + `,` + `[]]`: "",
	} {
		assert.Equal(t, want, jsonbProblem(json.RawMessage(in)), "%.60s", in)
	}
}

// TestScreenKeepsTheRestInOrder screens a batch of routing rows: the bad
// ones leave for rejected with the column and the problem, the good ones
// stay in their order.
func TestScreenKeepsTheRestInOrder(t *testing.T) {
	now := testStart
	row := func(ts time.Time, tool any, attrs any) []any {
		return rowOf(tables[routingLog], map[string]any{"ts": ts, "tool_name": tool, "attributes": attrs})
	}
	var b rowBatch
	b.add(routingLog, row(now, "a", nil))
	b.add(routingLog, row(now, "b\x00", nil))
	b.add(routingLog, row(now, "c", json.RawMessage(`{"k":"\u0000"}`)))
	b.add(routingLog, row(now.Add(-366*24*time.Hour), "d", nil))
	b.add(routingLog, row(now.Add(25*time.Hour), "e", nil))
	b.add(routingLog, row(now.Add(23*time.Hour), "f", nil))
	b.add(lbDecision, rowOf(tables[lbDecision], map[string]any{"ts": now, "event_id": "id",
		"candidates": []string{"ok", "bad\xff"}, "adjusted_count": 1.0}))
	b.screen(EventTimeConfig{MaxAge: 365 * 24 * time.Hour, MaxFuture: 24 * time.Hour}, now)

	var kept []any
	for _, r := range b.rows[routingLog] {
		kept = append(kept, byName(tables[routingLog], r)["tool_name"])
	}
	assert.Equal(t, []any{"a", "f"}, kept)
	assert.Empty(t, b.rows[lbDecision])
	var got [][3]string
	for _, r := range b.rejected {
		got = append(got, [3]string{r.table, r.cause, r.reason})
	}
	assert.Equal(t, [][3]string{
		{"routing_log", causeUnstorable, "tool_name: NUL byte at offset 1 (PostgreSQL text cannot hold NUL)"},
		{"routing_log", causeUnstorable, `attributes: \u0000 in a JSON string at offset 6 (jsonb text cannot hold NUL)`},
		{"routing_log", causeEventTime, "ts: event time 2025-11-24T10:30:15.123456Z is more than event_time::max_age (8760h0m0s) in the past"},
		{"routing_log", causeEventTime, "ts: event time 2026-11-26T11:30:15.123456Z is more than event_time::max_future (24h0m0s) in the future"},
		{"lb_decision", causeUnstorable, "candidates: element 2: invalid UTF-8 byte 0xff at offset 3"},
	}, got)

	// A window of zeros bounds nothing.
	var open rowBatch
	open.add(routingLog, row(time.Unix(0, 1).UTC(), "old", nil))
	open.add(routingLog, row(time.Unix(0, 1<<63-1).UTC(), "late", nil))
	open.screen(EventTimeConfig{}, now)
	assert.Len(t, open.rows[routingLog], 2)
	assert.Empty(t, open.rejected)
}
