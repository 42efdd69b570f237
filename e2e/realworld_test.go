package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RealWorldEnv makes TestRealWorldEmitters run every scenario (make
// realworld) and fail when a part is missing. Without it, the test runs the
// scenarios whose parts are there: the JS emitters when realworld/node_modules
// is installed (make test runs npm ci), vMCP when realworld/vmcp/build.sh
// has built it.
const RealWorldEnv = "MCP_REALWORLD"

// realWorldScenario is one real emitter run against the collector.
type realWorldScenario struct {
	name string
	// vmcp runs realworld/vmcp/record.sh, with its stderr read by the
	// filelog receiver (deploy/toolhive-vmcp-logs.yaml); the others run
	// realworld/js/record.sh <name>.
	vmcp bool
	// failuresShown says whether the emitter's spans show a failed
	// operation as failed (vMCP's do not: status OK, no code).
	failuresShown bool
	// gaps counts the operations whose span lacks a field the client knew
	// (as in processor/mcpnormalizer's fixtures).
	gaps map[string]int
	// unmapped is a reason of otelcol_exporter_mcppg_items_unmapped the
	// run must count (the emitter sends spans that are no operation).
	unmapped string
}

var realWorldScenarios = []realWorldScenario{
	{name: "traceloop-js-stdio", failuresShown: true, gaps: map[string]int{"request_id": 8}, unmapped: "not_mcp"},
	{name: "traceloop-js-http", failuresShown: true, gaps: map[string]int{"request_id": 8, "session": 8}, unmapped: "not_mcp"},
	{name: "sentry-js-stdio", failuresShown: true, gaps: map[string]int{}},
	{name: "sentry-js-http", failuresShown: true, gaps: map[string]int{}},
	{name: "toolhive-vmcp", vmcp: true, failuresShown: false, gaps: map[string]int{"session": 1}, unmapped: "not_mcp"},
}

// realWorldTruth is a scenario's operations.json, written by the client.
type realWorldTruth struct {
	Operations  []realWorldOp         `json:"operations"`
	Transitions []realWorldTransition `json:"transitions"`
}

type realWorldOp struct {
	Side      string  `json:"side"` // server, client, upstream
	Method    string  `json:"method"`
	Tool      *string `json:"tool"`
	RequestID *string `json:"request_id"`
	SessionID *string `json:"session_id"`
	Failed    bool    `json:"failed"`
	RPCCode   any     `json:"rpc_code"`
	Backend   string  `json:"backend"`
}

type realWorldTransition struct {
	Kind    string `json:"kind"`
	Backend string `json:"backend"`
	Status  string `json:"status"`
	From    string `json:"from"`
	To      string `json:"to"`
	Logged  *bool  `json:"logged"`
}

// storedOp is a routing_log or tool_call_record row.
type storedOp struct {
	method, tool, requestID, sessionID, rpcCode, serverKey, spanID, parentSpanID string
	failed                                                                       bool
}

// TestRealWorldEmitters runs real third-party MCP instrumentation (traceloop
// and Sentry on the official TypeScript SDK and server-everything, over
// stdio and streamable HTTP) and a real router (ToolHive vMCP routing to two
// server-everything backends and one that never answers) against the
// distribution with its default configuration, and checks row by row that
// what the client did is stored: one routing_log row per operation a
// serving side saw, one tool_call_record row per operation a calling side
// made, each with method, tool, session, failure and code where the emitter
// shows them; failures in error_log; vMCP's health and breaker changes in
// their tables; no payload in any attributes column.
func TestRealWorldEmitters(t *testing.T) {
	all := os.Getenv(RealWorldEnv) != ""
	_, npmErr := os.Stat(filepath.Join(repoRoot, "realworld", "node_modules", "@modelcontextprotocol", "sdk"))
	_, vmcpErr := os.Stat(filepath.Join(repoRoot, ".run", "realworld", "bin", "vmcp"))
	for _, sc := range realWorldScenarios {
		t.Run(sc.name, func(t *testing.T) {
			missing := npmErr
			if sc.vmcp && missing == nil {
				missing = vmcpErr
			}
			switch {
			case missing != nil && all:
				t.Fatalf("%s: %v (make realworld installs and builds it)", sc.name, missing)
			case missing != nil:
				t.Skipf("%s: %v; make realworld runs it", sc.name, missing)
			}
			runRealWorld(t, sc)
		})
	}
}

func runRealWorld(t *testing.T, sc realWorldScenario) {
	schemaName := freshSchema("realworld")
	out := t.TempDir()
	httpAddr, metricsAddr := freePort(t), freePort(t)
	env := []string{
		"MCP_OTLP_HTTP_ENDPOINT=" + httpAddr,
		"MCP_METRICS_HOST=127.0.0.1", "MCP_METRICS_PORT=" + portOf(metricsAddr),
		// Every healthy health check, so that each logged change is a row.
		"MCP_SAMPLE_HEALTH_CHECK_PERCENT=100",
	}
	configs := []string{configPath}
	if sc.vmcp {
		configs = append(configs, filepath.Join(repoRoot, "deploy", "toolhive-vmcp-logs.yaml"))
		env = append(env, "MCP_VMCP_LOG="+filepath.Join(out, "vmcp.log"), "MCP_VMCP_LOG_START_AT=beginning",
			"MCP_VMCP_SERVICE_NAME=realworld-vmcp")
	}
	startCollectorConfigs(t, configs, schemaName, env...)

	var cmd *exec.Cmd
	dir := out
	if sc.vmcp {
		cmd = exec.Command("bash", filepath.Join(repoRoot, "realworld", "vmcp", "record.sh"), out)
		cmd.Env = append(os.Environ(), "OTLP_ENDPOINT="+httpAddr)
	} else {
		cmd = exec.Command("bash", filepath.Join(repoRoot, "realworld", "js", "record.sh"), out, sc.name)
		cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+httpAddr)
		dir = filepath.Join(out, sc.name)
	}
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", sc.name, output)

	var truth realWorldTruth
	doc, err := os.ReadFile(filepath.Join(dir, "operations.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(doc, &truth))

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDB.DSN)
	require.NoError(t, err)
	defer conn.Close(ctx)

	// Wait until every operation and every logged transition has its row.
	wantRows := map[string]int{}
	for _, op := range truth.Operations {
		wantRows[tableOfSide(op.Side)]++
	}
	for _, tr := range truth.Transitions {
		if tr.Logged == nil || *tr.Logged {
			wantRows[transitionTable(tr.Kind)]++
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := tableCounts(ctx, t, conn, schemaName)
		done := true
		for table, n := range wantRows {
			done = done && got[table] >= n
		}
		if done {
			break
		}
		require.True(t, time.Now().Before(deadline), "rows of %s: want at least %v, have %v", sc.name, wantRows, got)
		time.Sleep(200 * time.Millisecond)
	}

	rows := map[string][]storedOp{
		"routing_log":      storedOps(ctx, t, conn, schemaName, "routing_log"),
		"tool_call_record": storedOps(ctx, t, conn, schemaName, "tool_call_record"),
	}
	used := map[string][]bool{"routing_log": make([]bool, len(rows["routing_log"])), "tool_call_record": make([]bool, len(rows["tool_call_record"]))}
	gaps := map[string]int{}
	for i, op := range truth.Operations {
		table := tableOfSide(op.Side)
		j := matchStored(rows[table], used[table], op)
		if !assert.GreaterOrEqual(t, j, 0, "%s operation %d (%s %s %s) has no %s row", sc.name, i, op.Side, op.Method, str(op.Tool), table) {
			continue
		}
		used[table][j] = true
		r := rows[table][j]
		what := fmt.Sprintf("%s operation %d (%s %s %s)", sc.name, i, op.Side, op.Method, str(op.Tool))
		if sc.failuresShown {
			assert.Equal(t, op.Failed, r.failed, "%s: failed", what)
			if op.Failed {
				var n int
				require.NoError(t, conn.QueryRow(ctx, fmt.Sprintf(
					`SELECT count(*) FROM %s.error_log WHERE encode(span_id, 'hex') = $1 AND method = $2`,
					pgx.Identifier{schemaName}.Sanitize()), r.spanID, op.Method).Scan(&n))
				assert.Positive(t, n, "%s: its error_log row", what)
			}
		}
		if op.RPCCode == nil {
			assert.Empty(t, r.rpcCode, "%s: no JSON-RPC code was returned", what)
		}
		if op.Backend != "" {
			assert.Equal(t, op.Backend, r.serverKey, "%s: upstream", what)
		}
		if op.SessionID != nil && r.sessionID == "" {
			gaps["session"]++
		}
		if op.RequestID != nil && r.requestID == "" {
			gaps["request_id"]++
		}
	}
	assert.Equal(t, sc.gaps, gaps, "%s: operations whose row lacks a field the client knew", sc.name)
	// A row no operation of the client matched is a notification, or a
	// router's call to a backend made for a routed request the client sent
	// (the client cannot see those): the child of a matched routing_log row,
	// to the backend its tool name is prefixed with.
	routed := map[string]storedOp{}
	for j, r := range rows["routing_log"] {
		if used["routing_log"][j] {
			routed[r.spanID] = r
		}
	}
	for table, rs := range rows {
		for j, r := range rs {
			if used[table][j] || strings.HasPrefix(r.method, "notifications/") {
				continue
			}
			parent, ok := routed[r.parentSpanID]
			assert.True(t, ok && table == "tool_call_record" && r.serverKey != "" && parent.tool == r.serverKey+"_"+r.tool,
				"%s: %s row %+v is no operation of the client nor a call made for one", sc.name, table, r)
		}
	}

	for _, tr := range truth.Transitions {
		if tr.Logged != nil && !*tr.Logged {
			continue
		}
		var n int
		var err error
		s := pgx.Identifier{schemaName}.Sanitize()
		if tr.Kind == "health" {
			err = conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.health_check_record WHERE server_key = $1 AND status = $2`, s),
				tr.Backend, tr.Status).Scan(&n)
		} else {
			err = conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.circuit_breaker_event WHERE server_key = $1 AND from_state = $2 AND to_state = $3`, s),
				tr.Backend, strings.ReplaceAll(tr.From, "-", "_"), strings.ReplaceAll(tr.To, "-", "_")).Scan(&n)
		}
		require.NoError(t, err)
		assert.Positive(t, n, "%s: %s transition %+v", sc.name, tr.Kind, tr)
	}

	// Tool payloads are off: none is stored, under any emitter's key.
	// (the clients' arguments say hello)
	assertNoPayloadInAttributes(ctx, t, conn, schemaName, "hello",
		"routing_log", "tool_call_record", "error_log", "health_check_record", "circuit_breaker_event")
	var payloads int
	require.NoError(t, conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.tool_call_payload`, pgx.Identifier{schemaName}.Sanitize())).Scan(&payloads))
	assert.Zero(t, payloads, "%s: tool_call_payload with tool payloads off", sc.name)

	if sc.unmapped != "" {
		assert.Positive(t, scrapeSum(t, metricsAddr, "otelcol_exporter_mcppg_items_unmapped", `reason="`+sc.unmapped+`"`),
			"%s: spans that are no operation are counted", sc.name)
	}
}

func tableOfSide(side string) string {
	if side == "server" {
		return "routing_log"
	}
	return "tool_call_record"
}

func transitionTable(kind string) string {
	if kind == "health" {
		return "health_check_record"
	}
	return "circuit_breaker_event"
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func storedOps(ctx context.Context, t *testing.T, conn *pgx.Conn, schemaName, table string) []storedOp {
	t.Helper()
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT coalesce(method, ''), coalesce(tool_name, ''), coalesce(request_id, ''),
		coalesce(session_id, ''), coalesce(rpc_status_code, ''), coalesce(server_key, ''), encode(span_id, 'hex'),
		coalesce(encode(parent_span_id, 'hex'), ''), failed
		FROM %s.%s ORDER BY ts, span_id`, pgx.Identifier{schemaName}.Sanitize(), table))
	require.NoError(t, err)
	defer rows.Close()
	var out []storedOp
	for rows.Next() {
		var r storedOp
		require.NoError(t, rows.Scan(&r.method, &r.tool, &r.requestID, &r.sessionID, &r.rpcCode, &r.serverKey, &r.spanID, &r.parentSpanID, &r.failed))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// matchStored finds the first unused row of the operation's method and tool
// whose request id and session, where the row has them, are the
// operation's. A router's call to a backend is stored under the backend's
// own tool name, without the router's "<backend>_" prefix.
func matchStored(rows []storedOp, used []bool, op realWorldOp) int {
	tool := str(op.Tool)
	if op.Backend != "" {
		tool = strings.TrimPrefix(tool, op.Backend+"_")
	}
	for j, r := range rows {
		switch {
		case used[j], r.method != op.Method, op.Tool != nil && r.tool != tool,
			op.RequestID != nil && r.requestID != "" && r.requestID != *op.RequestID,
			op.SessionID != nil && r.sessionID != "" && r.sessionID != *op.SessionID:
			continue
		}
		return j
	}
	return -1
}
