package mcppgexporter

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// nested puts under key a value of depth map levels, each holding the next.
func nested(m pcommon.Map, key string, depth int) {
	for range depth {
		m = m.PutEmptyMap(key)
	}
}

// rejectedReasons returns the reason of every rejected_event row by target
// table, and the rows' SQLSTATEs ("" for NULL), in reason order.
func rejectedReasons(t *testing.T, schemaName string) []refusal {
	t.Helper()
	rows, err := testPool(t).Query(context.Background(), `SELECT target_table, coalesce(sqlstate, ''), reason
		FROM `+schemaName+`.rejected_event ORDER BY reason`)
	require.NoError(t, err)
	var out []refusal
	for rows.Next() {
		var r refusal
		require.NoError(t, rows.Scan(&r.Table, &r.SQLState, &r.Reason))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestHostileValuesStoreOrRejectWithReason sends, among 200 ordinary routed
// requests, spans carrying values an attacker or a broken router could
// send. Each one is stored as sent or refused with its reason; none holds
// up the rest of the batch.
func TestHostileValuesStoreOrRejectWithReason(t *testing.T) {
	ctx := context.Background()
	s := freshSchema("hostile")
	e := startDirect(t, s)
	const meta = `x'); DROP TABLE routing_log; -- $1 $$ \' "quoted" \\ %_ E'\\x41' /* */ ;`
	tenMiB := strings.Repeat("0123456789abcdef", 10<<20/16)
	const (
		invalidToolName = 10 + iota
		invalidAttribute
		metacharacters
		tenMiBAttribute
		tenMiBResourceURI
		tenMiBSessionID
		manyAttributes
		deepestAccepted
		tooDeep
	)
	td := routingSpans(200, testStart, func(i int, span ptrace.Span) {
		a := span.Attributes()
		switch i {
		case invalidToolName:
			a.PutStr(mcpconv.ToolName, "get_\xffweather")
		case invalidAttribute:
			a.PutStr("note", "caf\xe9")
		case metacharacters:
			a.PutStr(mcpconv.ToolName, meta)
			a.PutStr(mcpconv.SessionID, meta)
			a.PutStr(meta, meta)
		case tenMiBAttribute:
			a.PutStr("blob", tenMiB)
		case tenMiBResourceURI:
			a.PutStr(mcpconv.ResourceURI, tenMiB)
		case tenMiBSessionID:
			a.PutStr(mcpconv.SessionID, incompressible(10<<20))
		case manyAttributes:
			raw := a.AsRaw() // Put looks for the key first: 100,000 of them take minutes
			for k := range 100_000 {
				raw["k"+strconv.Itoa(k)] = int64(k)
			}
			require.NoError(t, a.FromRaw(raw))
		case deepestAccepted:
			nested(a, "deep", maxJSONDepth-1) // the attributes object is the first level
		case tooDeep:
			nested(a, "deep", maxJSONDepth)
		}
	})
	began := time.Now()
	require.NoError(t, e.pushTraces(ctx, td))
	t.Logf("pushed in %v", time.Since(began))

	assert.Equal(t, map[string]int{"routing_log": 200 - 3, "rejected_event": 3}, tableCounts(t, s, "routing_log", "rejected_event"))
	reasons := rejectedReasons(t, s)
	require.Len(t, reasons, 3)
	assert.Equal(t, refusal{Table: "routing_log", Reason: "attributes: JSON nested more than 512 levels deep"}, reasons[0])
	assert.Equal(t, "54000", reasons[1].SQLState, "a 10 MiB session id does not fit an index entry")
	assert.Regexp(t, `^index row requires \d+ bytes, maximum size is 8191$`, reasons[1].Reason)
	assert.Equal(t, refusal{Table: "routing_log", Reason: "tool_name: invalid UTF-8 byte 0xff at offset 4"}, reasons[2])

	pool := testPool(t)
	row := func(i int) string {
		return "SELECT %s FROM " + s + ".routing_log WHERE span_id = '\\x0102" + spanIDHex(i) + "'"
	}
	var tool, session, attr string
	require.NoError(t, pool.QueryRow(ctx, strings.Replace(row(metacharacters), "%s", "tool_name, session_id, attributes ->> $1", 1), meta).
		Scan(&tool, &session, &attr))
	assert.Equal(t, []string{meta, meta, meta}, []string{tool, session, attr}, "SQL metacharacters are stored verbatim")
	require.NoError(t, pool.QueryRow(ctx, strings.Replace(row(invalidAttribute), "%s", "attributes ->> 'note'", 1)).Scan(&attr))
	assert.Equal(t, "caf\ufffd", attr, "invalid UTF-8 inside attributes becomes U+FFFD")
	var n int
	require.NoError(t, pool.QueryRow(ctx, strings.Replace(row(tenMiBAttribute), "%s", "length(attributes ->> 'blob')", 1)).Scan(&n))
	assert.Equal(t, 10<<20, n)
	require.NoError(t, pool.QueryRow(ctx, strings.Replace(row(tenMiBResourceURI), "%s", "length(resource_uri)", 1)).Scan(&n))
	assert.Equal(t, 10<<20, n)
	require.NoError(t, pool.QueryRow(ctx, strings.Replace(row(manyAttributes), "%s", "(SELECT count(*) FROM jsonb_object_keys(attributes))", 1)).Scan(&n))
	assert.Equal(t, 100_000+1, n, "every attribute, and tenant")
	require.NoError(t, pool.QueryRow(ctx, strings.Replace(row(deepestAccepted), "%s",
		"length(attributes::text) - length(replace(attributes::text, '{', ''))", 1)).Scan(&n))
	assert.Equal(t, maxJSONDepth, n, "512 levels are stored")
}

// spanIDHex is the hex of bytes 3 to 6 of the span id routingSpans gives span i.
func spanIDHex(i int) string {
	return strconv.FormatUint(uint64(uint32(i))|1<<32, 16)[1:] + "0000"
}
