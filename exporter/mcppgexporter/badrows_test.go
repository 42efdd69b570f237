package mcppgexporter

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// incompressible is n characters PostgreSQL cannot compress below an index
// entry's limit.
func incompressible(n int) string {
	rng := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(strconv.FormatUint(rng.Uint64(), 36))
	}
	return b.String()[:n]
}

type refusal struct {
	Table, SQLState, Reason string
}

// TestBadRowsAreIsolated sends a batch of 200 routed requests in which six
// spans are bad in different ways: five land in rejected_event with their
// reason (an attempt out of range only leaves its column NULL, see
// numbers.go), every other row commits, and a replay of the batch adds
// nothing.
func TestBadRowsAreIsolated(t *testing.T) {
	ctx := context.Background()
	e := startDirect(t, "bad_rows")
	const n = 200
	td := routerTraces(0, n)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	// Spans alternate SERVER, CLIENT: request i is spans 2i and 2i+1.
	spans.At(2*17).Attributes().PutStr(mcpconv.SessionID, "sess\x00nul")                         // text with a NUL byte
	spans.At(2*60).Attributes().PutStr("note", "bad \xff\xfe utf-8 \x00")                        // jsonb refuses the \u0000
	spans.At(2*99).Attributes().PutInt(mcpconv.Attempt, 3_000_000_000)                           // out of range for integer: stored, attempt NULL
	spans.At(2*140 + 1).SetStartTimestamp(0)                                                     // tool call without a start time
	spans.At(2*141 + 1).SetEndTimestamp(pcommon.NewTimestampFromTime(testStart.Add(-time.Hour))) // ends before it starts
	spans.At(2*180).Attributes().PutStr(mcpconv.ServerKey, incompressible(20000))                // too large for an index entry

	require.NoError(t, e.pushTraces(ctx, td))
	require.NoError(t, e.pushTraces(ctx, td), "a replay of the same batch")

	pool := testPool(t)
	assert.Equal(t, map[string]int{"routing_log": n - 3, "tool_call_record": n - 2, "error_log": failuresIn(0, n) - 1, "rejected_event": 5},
		map[string]int{
			"routing_log":      countRows(ctx, t, pool, "bad_rows", "routing_log"),
			"tool_call_record": countRows(ctx, t, pool, "bad_rows", "tool_call_record"),
			"error_log":        countRows(ctx, t, pool, "bad_rows", "error_log"),
			"rejected_event":   countRows(ctx, t, pool, "bad_rows", "rejected_event"),
		}, "request 140's tool call failed: its exception goes with it")

	rows, err := pool.Query(ctx, `SELECT target_table, coalesce(sqlstate, ''), reason FROM bad_rows.rejected_event ORDER BY id`)
	require.NoError(t, err)
	var got []refusal
	for rows.Next() {
		var r refusal
		require.NoError(t, rows.Scan(&r.Table, &r.SQLState, &r.Reason))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	assert.ElementsMatch(t, []refusal{
		{Table: "tool_call_record", Reason: "span start time is unset"},
		{Table: "tool_call_record", Reason: "span ends before it starts"},
		{Table: "routing_log", SQLState: "54000", Reason: "index row requires 20024 bytes, maximum size is 8191"},
		// Refused before writing: PostgreSQL would refuse both at input.
		{Table: "routing_log", Reason: "session_id: NUL byte at offset 4 (PostgreSQL text cannot hold NUL)"},
		{Table: "routing_log", Reason: `attributes: \u0000 in a JSON string at offset 42 (jsonb text cannot hold NUL)`},
	}, got)

	var payload string
	require.NoError(t, pool.QueryRow(ctx, `SELECT payload FROM bad_rows.rejected_event WHERE reason LIKE 'session_id:%'`).Scan(&payload))
	assert.Contains(t, payload, `"session_id":"sess\u0000nul"`)
	assert.Contains(t, payload, `"trace_id":"00110000000000000000000000000001"`)
}
