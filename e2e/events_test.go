package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	yaml "go.yaml.in/yaml/v3"
)

// The mcpevents receiver through the distribution: JSON events posted over
// HTTP (plain, gzip, with a bearer token) land in PostgreSQL; a malformed
// request stores nothing; a retry stores nothing twice; the README's curl
// examples do what the README says.

// eventsReceiverDir holds the receiver's README and its bearer-token overlay.
func eventsReceiverDir() string { return filepath.Join(repoRoot, "receiver", "mcpeventsreceiver") }

// eventsCollector is a running distribution with the mcpevents receiver.
type eventsCollector struct {
	*collector
	eventsAddr  string
	metricsAddr string
}

func (c *eventsCollector) url() string { return "http://" + c.eventsAddr + "/v1/events" }

// startEventsCollector runs the distribution with the configuration the
// other tests use, merged with overlay when one is given (the collector
// would merge `--config base --config overlay` the same way), with the
// events receiver on a free port.
func startEventsCollector(t *testing.T, schemaName, overlay string, env ...string) *eventsCollector {
	t.Helper()
	c := &eventsCollector{eventsAddr: freePort(t), metricsAddr: freePort(t)}
	if overlay != "" {
		base, err := confmaptest.LoadConf(configPath)
		require.NoError(t, err)
		over, err := confmaptest.LoadConf(overlay)
		require.NoError(t, err)
		require.NoError(t, base.Merge(over))
		merged, err := yaml.Marshal(base.ToStringMap())
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "otelcol-config.yaml")
		require.NoError(t, os.WriteFile(path, merged, 0o600))
		saved := configPath
		configPath = path
		defer func() { configPath = saved }()
	}
	env = append(append(env, keepEverySampledEvent...),
		"MCP_EVENTS_ENDPOINT="+c.eventsAddr, "MCP_METRICS_PORT="+portOf(c.metricsAddr))
	c.collector = startCollector(t, schemaName, env...)
	return c
}

// postEvents posts a body to the receiver and returns the status and answer.
// fixtureDay is the date the event fixtures (and the receiver README's
// examples) are written with.
const fixtureDay = "2025-06-18T"

// dated moves the fixtures' events to today (UTC, same time of day): the
// exporter refuses event times outside its plausible window (a year back,
// a day ahead), and the fixtures were written in June 2025.
func dated(s string) string {
	return strings.ReplaceAll(s, fixtureDay, time.Now().UTC().Format("2006-01-02")+"T")
}

func postEvents(t *testing.T, url, contentType string, body []byte, header ...string) (int, string) {
	t.Helper()
	if !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) { // gzip bodies are dated before compression
		body = []byte(dated(string(body)))
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, strings.TrimSpace(string(answer))
}

func gzipBody(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// eventTables are the tables the tests below expect rows in (and
// rejected_event, which must stay empty).
var eventTables = []string{"routing_log", "tool_call_record", "tool_call_payload", "error_log", "health_check_record",
	"mcp_server", "session_record", "lb_decision", "circuit_breaker_event", "metric_point", "rejected_event"}

// waitForEventRows polls until the event tables hold exactly want rows.
func waitForEventRows(t *testing.T, schemaName string, want map[string]int) {
	t.Helper()
	ctx := context.Background()
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]int{}
		all := tableCounts(ctx, t, conn, schemaName)
		for _, table := range eventTables {
			got[table] = all[table]
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			require.Equal(t, want, got, "event tables did not reach the expected counts in time")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// duplicateRows scrapes otelcol_exporter_mcppg_rows_duplicate: the rows of
// replayed batches the exporter recognised, summed over tables.
func duplicateRows(t *testing.T, metricsAddr string) int {
	t.Helper()
	return int(scrapeSum(t, metricsAddr, "otelcol_exporter_mcppg_rows_duplicate"))
}

// waitForDuplicates polls until the exporter has skipped want replayed rows.
func waitForDuplicates(t *testing.T, metricsAddr string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := duplicateRows(t, metricsAddr)
		if got == want {
			return
		}
		require.True(t, got < want && time.Now().Before(deadline), "duplicate rows: %d, want %d", got, want)
		time.Sleep(100 * time.Millisecond)
	}
}

// allTypes holds one event of every type, with ids; 12 rows and 3 metric
// points, as eventsAllTypesRows counts them.
const allTypes = `{"type":"routing","id":"e2e-r1","time":"2025-06-18T12:00:00.000Z","duration_ms":41.5,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","method":"tools/call","tool":"get_weather","session_id":"sess-e2e","request_id":17,"server_key":"weather-1","attempt":1,"error_type":"timeout","exception":{"type":"TimeoutError","message":"no answer in 10s"},"service_name":"e2e-router"}
{"type":"tool_call","id":"e2e-t1","time":"2025-06-18T12:00:00.002Z","duration_ms":38,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b8","parent_span_id":"00f067aa0ba902b7","tool":"get_weather","request_id":17,"server_key":"weather-1","arguments":{"city":"Paris","api_key":"secret"},"result":{"temp_c":21},"service_name":"e2e-router"}
{"type":"health_check","id":"e2e-h1","time":"2025-06-18T12:00:00Z","server_key":"weather-1","health_status":"healthy","latency_ms":12.5,"service_name":"e2e-router"}
{"type":"server_registered","id":"e2e-s1","time":"2025-06-18T11:00:00Z","server_key":"weather-1","name":"Weather","tools":["get_weather"],"service_name":"e2e-router"}
{"type":"server_health_changed","id":"e2e-s2","time":"2025-06-18T11:30:00Z","server_key":"weather-1","health_status":"unhealthy","service_name":"e2e-router"}
{"type":"server_deregistered","id":"e2e-s3","time":"2025-06-18T11:45:00Z","server_key":"github-1","service_name":"e2e-router"}
{"type":"session_start","id":"e2e-ss1","time":"2025-06-18T12:00:00Z","session_id":"sess-e2e","transport":"sse","service_name":"e2e-router"}
{"type":"session_stats","id":"e2e-ss2","time":"2025-06-18T12:00:30Z","session_id":"sess-e2e","request_count":4,"service_name":"e2e-router"}
{"type":"session_end","id":"e2e-ss3","time":"2025-06-18T12:01:00Z","session_id":"sess-e2e","request_count":5,"close_reason":"client_closed","service_name":"e2e-router"}
{"type":"lb_decision","id":"e2e-lb1","time":"2025-06-18T12:00:00.001Z","server_key":"weather-1","candidates":["weather-1","weather-2"],"strategy":"least_conn","service_name":"e2e-router"}
{"type":"circuit_breaker_state_change","id":"e2e-cb1","time":"2025-06-18T12:00:05Z","server_key":"weather-2","from_state":"closed","to_state":"open","failure_count":5,"service_name":"e2e-router"}
{"type":"error","id":"e2e-err1","time":"2025-06-18T12:00:09Z","message":"config reload failed","error_type":"config_invalid","service_name":"e2e-router"}
{"type":"pool_stats","time":"2025-06-18T12:01:00Z","server_key":"weather-1","active":3,"idle":5,"pending":0,"service_name":"e2e-router"}
`

// allTypesRows are the rows allTypes becomes, per table.
var allTypesRows = map[string]int{
	"routing_log": 1, "tool_call_record": 1, "tool_call_payload": 1,
	"error_log":           2, // the routing event's exception + the error event
	"health_check_record": 1, "mcp_server": 2, "session_record": 1, "lb_decision": 1,
	"circuit_breaker_event": 1, "metric_point": 3, "rejected_event": 0,
}

// gzipEvents are routing events without ids or trace context (identified
// by their content) and health checks, as a JSON array.
func gzipEvents() []byte {
	var events []string
	for i := range 5 {
		events = append(events,
			dated(fmt.Sprintf(`{"type":"routing","time":"2025-06-18T12:10:0%dZ","method":"tools/call","tool":"search","duration_ms":%d,"server_key":"search-1","service_name":"e2e-router"}`, i, 10+i)),
			dated(fmt.Sprintf(`{"type":"health_check","id":"e2e-gz-h%d","time":"2025-06-18T12:10:0%dZ","server_key":"search-1","health_status":"healthy","service_name":"e2e-router"}`, i, i)))
	}
	return []byte("[" + strings.Join(events, ",\n") + "]")
}

func plus(base map[string]int, add map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range base {
		out[k] = v + add[k]
	}
	return out
}

// TestEventsThroughTheDistribution posts events of every type, plain and
// gzip, then a malformed request and retries, and checks the rows.
func TestEventsThroughTheDistribution(t *testing.T) {
	schemaName := freshSchema("e2e_events")
	c := startEventsCollector(t, schemaName, "", "MCP_TOOL_PAYLOADS=true")

	// A malformed line refuses its whole request: 400 naming the line and
	// the field, and the valid lines around it are not stored.
	status, answer := postEvents(t, c.url(), "application/x-ndjson", []byte(
		`{"type":"health_check","id":"e2e-bad-0","time":"2025-06-18T12:00:00Z","server_key":"weather-1","health_status":"healthy"}`+"\n"+
			`{"type":"health_check","id":"e2e-bad-1","time":"2025-06-18T12:00:00Z","health_status":"healthy"}`+"\n"+
			`{"type":"routing","id":"e2e-bad-2","time":"2025-06-18T12:00:00Z","method":"ping","duration_ms":1}`+"\n"))
	assert.Equal(t, 400, status)
	assert.Equal(t, `{"error":"invalid events, nothing was accepted","details":[{"index":1,"line":2,"path":"server_key","pointer":"/server_key","reason":"required field missing"}]}`, answer)

	status, answer = postEvents(t, c.url(), "application/x-ndjson", []byte(allTypes))
	require.Equal(t, 200, status, answer)
	assert.Equal(t, `{"accepted":13}`, answer)
	status, answer = postEvents(t, c.url(), "application/json", gzipBody(t, gzipEvents()), "Content-Encoding", "gzip")
	require.Equal(t, 200, status, answer)
	assert.Equal(t, `{"accepted":10}`, answer)

	want := plus(allTypesRows, map[string]int{"routing_log": 5, "health_check_record": 5})
	waitForEventRows(t, schemaName, want)

	// The client retries both requests (it never saw the answers, say): the
	// exporter recognises every row and stores nothing twice. The upserts
	// (mcp_server, session_record) merge instead and count no duplicate.
	require.Zero(t, duplicateRows(t, c.metricsAddr))
	status, _ = postEvents(t, c.url(), "application/x-ndjson", []byte(allTypes))
	require.Equal(t, 200, status)
	status, _ = postEvents(t, c.url(), "application/json", gzipBody(t, gzipEvents()), "Content-Encoding", "gzip")
	require.Equal(t, 200, status)
	waitForDuplicates(t, c.metricsAddr, 11+10)
	waitForEventRows(t, schemaName, want)

	ctx := context.Background()
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	q := func(sql string) []string {
		t.Helper()
		rows, err := conn.Query(ctx, strings.ReplaceAll(sql, "$schema", pgx.Identifier{schemaName}.Sanitize()))
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	assert.Equal(t, []string{"e2e-gz-h0", "e2e-gz-h1", "e2e-gz-h2", "e2e-gz-h3", "e2e-gz-h4", "e2e-h1"},
		q(`SELECT event_id FROM $schema.health_check_record ORDER BY event_id`), "nothing of the malformed request")
	assert.Equal(t, []string{"4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7 tools/call get_weather tools/call get_weather sess-e2e 17 weather-1 1 error timeout 41500 e2e-router"},
		q(`SELECT encode(trace_id, 'hex') || '/' || encode(span_id, 'hex') || ' ' || span_name || ' ' || method || ' ' || tool_name || ' ' ||
			session_id || ' ' || request_id || ' ' || server_key || ' ' || attempt || ' ' || status || ' ' || error_type || ' ' ||
			duration_us || ' ' || service_name FROM $schema.routing_log WHERE server_key = 'weather-1'`))
	assert.Equal(t, []string{`{"city": "Paris", "api_key": "[REDACTED]"}`},
		q(`SELECT arguments::text FROM $schema.tool_call_payload`), "tool arguments, redacted by the exporter")
	assert.Equal(t, []string{"exception timeout no answer in 10s", "log config_invalid config reload failed"},
		q(`SELECT source || ' ' || error_type || ' ' || message FROM $schema.error_log ORDER BY source`))
	assert.Equal(t, []string{"active 3", "idle 5", "pending 0"},
		q(`SELECT (attributes->>'mcp.router.pool.state') || ' ' || value FROM $schema.metric_point ORDER BY 1`))
	assert.Equal(t, []string{"github-1 false", "weather-1 false"},
		q(`SELECT server_key || ' ' || (health_status IS NOT DISTINCT FROM 'healthy') FROM $schema.mcp_server ORDER BY 1`))
	assert.Equal(t, []string{"sess-e2e sse 5 client_closed"},
		q(`SELECT session_id || ' ' || transport || ' ' || request_count || ' ' || close_reason FROM $schema.session_record`))
	c.stop(t)
}

// TestEventsWithBearerToken runs the distribution with the receiver's
// bearer-token overlay (examples/bearer-auth.yaml): requests without the
// token are refused, gzip and plain requests with it are stored.
func TestEventsWithBearerToken(t *testing.T) {
	schemaName := freshSchema("e2e_events_auth")
	c := startEventsCollector(t, schemaName, filepath.Join(eventsReceiverDir(), "examples", "bearer-auth.yaml"),
		"MCP_EVENTS_TOKEN=e2e-s3cret")

	status, answer := postEvents(t, c.url(), "application/x-ndjson", []byte(allTypes))
	assert.Equal(t, 401, status)
	assert.Equal(t, `{"error":"missing or empty authorization header: Authorization"}`, answer)
	status, answer = postEvents(t, c.url(), "application/x-ndjson", []byte(allTypes), "Authorization", "Bearer wrong")
	assert.Equal(t, 401, status)
	assert.Equal(t, `{"error":"provided authorization does not match expected scheme or token"}`, answer)

	status, answer = postEvents(t, c.url(), "application/x-ndjson", []byte(allTypes), "Authorization", "Bearer e2e-s3cret")
	require.Equal(t, 200, status, answer)
	status, answer = postEvents(t, c.url(), "application/json", gzipBody(t, gzipEvents()),
		"Authorization", "Bearer e2e-s3cret", "Content-Encoding", "gzip")
	require.Equal(t, 200, status, answer)
	waitForEventRows(t, schemaName, plus(allTypesRows, map[string]int{
		"routing_log": 5, "health_check_record": 5,
		"tool_call_payload": -1, // tool payloads are off by default
	}))
	c.stop(t)
}

// readmeCurl is a curl example of the receiver's README.
type readmeCurl struct {
	script string // the shell lines, up to the heredoc's end
	answer string // the answer the README shows (`# => 200 {...}`)
	auth   bool
}

var (
	readmeShBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")
	readmeAnswer  = regexp.MustCompile(`(?m)^# => (\d{3}) (.*)$`)
)

func readmeCurls(t *testing.T) []readmeCurl {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(eventsReceiverDir(), "README.md"))
	require.NoError(t, err)
	var out []readmeCurl
	for _, m := range readmeShBlock.FindAllStringSubmatch(string(readme), -1) {
		block := m[1]
		a := readmeAnswer.FindStringSubmatch(block)
		if !strings.Contains(block, "curl") || a == nil {
			continue
		}
		out = append(out, readmeCurl{script: block[:strings.Index(block, "\nEOF\n")+len("\nEOF\n")],
			answer: a[2], auth: strings.Contains(block, "Authorization")})
	}
	return out
}

// runCurl runs a README example with bash and curl, against addr instead
// of localhost:4320, and returns what curl printed.
func runCurl(t *testing.T, ex readmeCurl, addr string, env ...string) string {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", dated(strings.ReplaceAll(ex.script, "localhost:4320", addr)))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", ex.script, out)
	return strings.TrimSpace(string(out))
}

// TestREADMECurlExamples runs every curl example of the receiver's README
// against the distribution, as printed there, and checks the answer the
// README shows and the rows the examples stand for.
func TestREADMECurlExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	examples := readmeCurls(t)
	require.NotEmpty(t, examples)

	schemaName := freshSchema("e2e_events_readme")
	c := startEventsCollector(t, schemaName, "")
	for _, ex := range examples {
		if !ex.auth {
			assert.Equal(t, ex.answer, runCurl(t, ex, c.eventsAddr), ex.script)
		}
	}
	waitForEventRows(t, schemaName, map[string]int{
		"routing_log": 2, "tool_call_record": 1, "tool_call_payload": 0,
		"error_log":           2, // the failed routing event's exception + the error event
		"health_check_record": 3, "mcp_server": 1, "session_record": 1, "lb_decision": 1,
		"circuit_breaker_event": 1, "metric_point": 5, "rejected_event": 0,
	})
	c.stop(t)

	authSchema := freshSchema("e2e_events_readme_auth")
	c = startEventsCollector(t, authSchema, filepath.Join(eventsReceiverDir(), "examples", "bearer-auth.yaml"),
		"MCP_EVENTS_TOKEN=readme-s3cret")
	for _, ex := range examples {
		if ex.auth {
			assert.Equal(t, ex.answer, runCurl(t, ex, c.eventsAddr, "MCP_EVENTS_TOKEN=readme-s3cret"), ex.script)
		}
	}
	waitForEventRows(t, authSchema, map[string]int{
		"routing_log": 0, "tool_call_record": 0, "tool_call_payload": 0, "error_log": 0, "health_check_record": 0,
		"mcp_server": 1, "session_record": 0, "lb_decision": 0, "circuit_breaker_event": 0, "metric_point": 0, "rejected_event": 0,
	})
	c.stop(t)
}
