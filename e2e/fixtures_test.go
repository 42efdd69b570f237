package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// emitterFixtures holds the recorded or source-built telemetry of each MCP
// emitter (processor/mcpnormalizer/testdata/emitters).
var emitterFixtures = filepath.Join("processor", "mcpnormalizer", "testdata", "emitters")

// TestEmitterFixturesLandAsRows sends each emitter fixture, as the emitter
// sent it, to the distribution over OTLP and checks the rows it gives: each
// operation of its ground truth is a row of the table of its side (found by
// span id where the fixture names it), and no payload reaches an
// attributes column.
func TestEmitterFixturesLandAsRows(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join(repoRoot, emitterFixtures))
	require.NoError(t, err)
	ran := 0
	for _, d := range dirs {
		base := filepath.Join(repoRoot, emitterFixtures, d.Name())
		if _, err := os.Stat(filepath.Join(base, "traces.jsonl")); err != nil {
			continue
		}
		ran++
		t.Run(d.Name(), func(t *testing.T) { fixtureLandsAsRows(t, base) })
	}
	require.Positive(t, ran, "no fixture found")
}

type fixtureOp struct {
	realWorldOp
	SpanID string `json:"span_id"`
}

func fixtureLandsAsRows(t *testing.T, base string) {
	var truth struct {
		Operations []fixtureOp `json:"operations"`
	}
	doc, err := os.ReadFile(filepath.Join(base, "operations.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(doc, &truth))

	schemaName := freshSchema("e2e_fixture")
	c := startCollector(t, schemaName)
	client := ptraceotlp.NewGRPCClient(c.dial(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	f, err := os.Open(filepath.Join(base, "traces.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	var requests []ptraceotlp.ExportRequest
	earliest := pcommon.Timestamp(1<<63 - 1)
	for sc.Scan() {
		req := ptraceotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalJSON(sc.Bytes()))
		forEachSpan(req.Traces(), func(s ptrace.Span) { earliest = min(earliest, s.StartTimestamp()) })
		requests = append(requests, req)
	}
	require.NoError(t, sc.Err())
	// The fixtures are dated when they were recorded or built; the exporter
	// refuses events older than a year, so they are moved to now.
	shift := pcommon.NewTimestampFromTime(time.Now().Add(-time.Minute)) - earliest
	for _, req := range requests {
		forEachSpan(req.Traces(), func(s ptrace.Span) {
			s.SetStartTimestamp(s.StartTimestamp() + shift)
			s.SetEndTimestamp(s.EndTimestamp() + shift)
			for i := 0; i < s.Events().Len(); i++ {
				s.Events().At(i).SetTimestamp(s.Events().At(i).Timestamp() + shift)
			}
		})
		_, err := client.Export(ctx, req)
		require.NoError(t, err)
	}

	conn, err := pgx.Connect(ctx, testDB.DSN)
	require.NoError(t, err)
	defer conn.Close(ctx)
	want := map[string]int{}
	for _, op := range truth.Operations {
		want[tableOfSide(op.Side)]++
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := tableCounts(ctx, t, conn, schemaName)
		if got["routing_log"] >= want["routing_log"] && got["tool_call_record"] >= want["tool_call_record"] {
			break
		}
		require.True(t, time.Now().Before(deadline), "rows: want at least %v, have %v", want, got)
		time.Sleep(100 * time.Millisecond)
	}

	rows := map[string][]storedOp{
		"routing_log":      storedOps(ctx, t, conn, schemaName, "routing_log"),
		"tool_call_record": storedOps(ctx, t, conn, schemaName, "tool_call_record"),
	}
	used := map[string][]bool{"routing_log": make([]bool, len(rows["routing_log"])), "tool_call_record": make([]bool, len(rows["tool_call_record"]))}
	for i, op := range truth.Operations {
		table := tableOfSide(op.Side)
		j := -1
		if op.SpanID != "" {
			for k, r := range rows[table] {
				if r.spanID == op.SpanID && !used[table][k] {
					j = k
				}
			}
		} else {
			j = matchStored(rows[table], used[table], op.realWorldOp)
		}
		if assert.GreaterOrEqual(t, j, 0, "operation %d (%s %s %s, span %s) has no %s row", i, op.Side, op.Method, str(op.Tool), op.SpanID, table) {
			used[table][j] = true
			assert.Equal(t, op.Method, rows[table][j].method, "operation %d: method", i)
		}
	}
	assertNoPayloadInAttributes(ctx, t, conn, schemaName, "", "routing_log", "tool_call_record", "error_log")
}

// payloadKeysPattern matches, in an attributes column as text, a payload
// key of any emitter (mcpconv.IsPayloadKey).
const payloadKeysPattern = `traceloop\.entity|gen_ai\.tool\.call\.(arguments|result)|mcp\.tool\.(arguments|result)"|mcp\.request\.argument|mcp\.tool\.result\.content"`

// assertNoPayloadInAttributes checks that no attributes column of the tables
// holds a payload key, nor the text value (a payload the test sent) when it
// is not empty.
func assertNoPayloadInAttributes(ctx context.Context, t *testing.T, conn *pgx.Conn, schemaName, value string, tables ...string) {
	t.Helper()
	pattern := payloadKeysPattern
	if value != "" {
		pattern = regexp.QuoteMeta(value) + "|" + pattern
	}
	for _, table := range tables {
		var n int
		require.NoError(t, conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.%s WHERE attributes::text ~* $1`,
			pgx.Identifier{schemaName}.Sanitize(), table), pattern).Scan(&n))
		assert.Zero(t, n, "payload in %s.attributes", table)
	}
}

func forEachSpan(td ptrace.Traces, fn func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				fn(spans.At(k))
			}
		}
	}
}
