package mcppgexporter

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

var testDB *pgtest.Database

// runTests is the package's test main, called by the generated TestMain
// (metadata.yaml, tests::goleak::setup): one database for the package's
// tests, a check for leaked goroutines after them, the database dropped.
// It exits the process.
func runTests(m *testing.M) {
	os.Exit(pgtest.Main(leakChecked{m}, "mcp_exporter_test", &testDB))
}

// leakChecked runs the tests, then fails the run if goroutines were left
// behind (pools not closed, exporters not shut down).
type leakChecked struct{ m *testing.M }

func (l leakChecked) Run() int {
	code := l.m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// testHost hands extensions (the file storage) to the exporter.
type testHost map[component.ID]component.Component

func (h testHost) GetExtensions() map[component.ID]component.Component { return h }

var fileStorageID = component.MustNewID("file_storage")

// startFileStorage starts a file_storage extension over dir.
func startFileStorage(t *testing.T, dir string) component.Component {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return ext
}

// testConfig is the default config pointed at dsn and schemaName, with the
// persistent queue on file_storage and short flush and retry intervals.
func testConfig(dsn, schemaName string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.DSN = configopaque.String(dsn)
	cfg.Schema = schemaName
	q := cfg.QueueConfig.Get()
	q.StorageID = &fileStorageID
	b := q.Batch.Get()
	b.FlushTimeout = 20 * time.Millisecond
	b.MinSize = 100
	cfg.QueueConfig = configoptional.Some(*q)
	cfg.BackOffConfig.InitialInterval = 20 * time.Millisecond
	cfg.BackOffConfig.MaxInterval = 200 * time.Millisecond
	cfg.Timeout = 5 * time.Second
	// The test data is dated around testStart; the event-time window is
	// tested on its own, against a clock of the test's (window_test.go).
	cfg.EventTime = EventTimeConfig{}
	return cfg
}

func startExporter(t *testing.T, cfg *Config, storage component.Component) exporter.Traces {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	// A fixed id: the persistent queue's storage is keyed by the exporter id,
	// and a restarted collector finds its queue under the same one.
	set.ID = component.NewID(metadata.Type)
	set.Logger = zaptest.NewLogger(t)
	exp, err := NewFactory().CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), testHost{fileStorageID: storage}))
	return exp
}

func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testDB.DSN)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// countRows returns the rows of schemaName.table, 0 while the table does not exist.
func countRows(ctx context.Context, t *testing.T, pool *pgxpool.Pool, schemaName, table string) int {
	t.Helper()
	var exists bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", schemaName+"."+table).Scan(&exists))
	if !exists {
		return 0
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schemaName, table}.Sanitize()).Scan(&n))
	return n
}

// waitForRows polls until every table holds the wanted number of rows.
func waitForRows(t *testing.T, pool *pgxpool.Pool, schemaName string, want map[string]int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[string]int{}
		for table := range want {
			got[table] = countRows(ctx, t, pool, schemaName, table)
		}
		if assert.ObjectsAreEqual(want, got) {
			return
		}
		if time.Now().After(deadline) {
			require.Equal(t, want, got, "rows did not arrive before the deadline")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// routerTraces builds n routed requests starting at id first: each a SERVER
// span and a CLIENT tools/call child; every tenth tool call fails with an
// exception.
func routerTraces(first, n int) ptrace.Traces {
	td, spans := newTestTraces()
	for i := first; i < first+n; i++ {
		var traceID pcommon.TraceID
		traceID[0], traceID[1], traceID[15] = byte(i>>8), byte(i), 1
		start := testStart.Add(time.Duration(i) * time.Millisecond)
		server := spans.AppendEmpty()
		putRoutingSpan(server, traceID, pcommon.SpanID{1, byte(i >> 8), byte(i)}, start)
		client := spans.AppendEmpty()
		client.SetTraceID(traceID)
		client.SetSpanID(pcommon.SpanID{2, byte(i >> 8), byte(i)})
		client.SetParentSpanID(server.SpanID())
		client.SetKind(ptrace.SpanKindClient)
		client.SetName("tools/call get_weather")
		client.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		client.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(40 * time.Millisecond)))
		client.Attributes().PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		client.Attributes().PutStr(mcpconv.ToolName, "get_weather")
		client.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		if i%10 == 0 {
			client.Status().SetCode(ptrace.StatusCodeError)
			ev := client.Events().AppendEmpty()
			ev.SetName(mcpconv.ExceptionEventName)
			ev.SetTimestamp(client.EndTimestamp())
			ev.Attributes().PutStr(mcpconv.ExceptionType, "timeout")
		}
	}
	return td
}

func failuresIn(first, n int) int {
	c := 0
	for i := first; i < first+n; i++ {
		if i%10 == 0 {
			c++
		}
	}
	return c
}

func TestExportThroughPersistentQueue(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	storage := startFileStorage(t, t.TempDir())
	defer func() { require.NoError(t, storage.Shutdown(ctx)) }()
	exp := startExporter(t, testConfig(testDB.DSN, "through_queue"), storage)

	const n = 250
	require.NoError(t, exp.ConsumeTraces(ctx, routerTraces(0, n)))
	waitForRows(t, pool, "through_queue", map[string]int{
		"routing_log": n, "tool_call_record": n, "error_log": failuresIn(0, n),
	})
	require.NoError(t, exp.Shutdown(ctx))

	// The known span: every routing_log column equals what was sent.
	type routingRow struct {
		TS                                                               time.Time
		TraceID, SpanID, ParentSpanID                                    []byte
		DurationUS                                                       int64
		SpanName, Method                                                 string
		ToolName, ResourceURI, SessionID, RequestID, ServerKey, Strategy *string
		Attempt                                                          *int32
		Status                                                           string
		StatusMessage, ErrorType, RPCStatusCode, ProtocolVersion         *string
		Transport, ClientAddress, ServiceName, ServiceInstance           *string
		AdjustedCount                                                    float64
		Attributes                                                       map[string]any
	}
	var got routingRow
	var traceID pcommon.TraceID
	traceID[0], traceID[1], traceID[15] = 0, 7, 1
	require.NoError(t, pool.QueryRow(ctx, `SELECT ts, trace_id, span_id, parent_span_id, duration_us, span_name, method,
		tool_name, resource_uri, session_id, request_id, server_key, strategy, attempt, status, status_message,
		error_type, rpc_status_code, protocol_version, transport, client_address, service_name, service_instance,
		adjusted_count, attributes FROM through_queue.routing_log WHERE trace_id = $1`, traceID[:]).Scan(
		&got.TS, &got.TraceID, &got.SpanID, &got.ParentSpanID, &got.DurationUS, &got.SpanName, &got.Method,
		&got.ToolName, &got.ResourceURI, &got.SessionID, &got.RequestID, &got.ServerKey, &got.Strategy, &got.Attempt,
		&got.Status, &got.StatusMessage, &got.ErrorType, &got.RPCStatusCode, &got.ProtocolVersion, &got.Transport,
		&got.ClientAddress, &got.ServiceName, &got.ServiceInstance, &got.AdjustedCount, &got.Attributes))
	str := func(s string) *string { return &s }
	two := int32(2)
	assert.Equal(t, routingRow{
		TS:              testStart.Add(7 * time.Millisecond),
		TraceID:         traceID[:],
		SpanID:          []byte{1, 0, 7, 0, 0, 0, 0, 0},
		ParentSpanID:    testParentID[:],
		DurationUS:      42007,
		SpanName:        "tools/call get_weather",
		Method:          "tools/call",
		ToolName:        str("get_weather"),
		SessionID:       str("sess-1"),
		RequestID:       str("17"),
		ServerKey:       str("weather-1"),
		Strategy:        str("round_robin"),
		Attempt:         &two,
		Status:          "unset",
		ProtocolVersion: str("2025-06-18"),
		Transport:       str("tcp"),
		ClientAddress:   str("10.0.0.7"),
		ServiceName:     str("mcp-router"),
		ServiceInstance: str("router-1"),
		AdjustedCount:   1,
		Attributes:      map[string]any{"tenant": "acme"},
	}, routingRow{
		TS: got.TS.UTC(), TraceID: got.TraceID, SpanID: got.SpanID, ParentSpanID: got.ParentSpanID,
		DurationUS: got.DurationUS, SpanName: got.SpanName, Method: got.Method, ToolName: got.ToolName,
		ResourceURI: got.ResourceURI, SessionID: got.SessionID, RequestID: got.RequestID, ServerKey: got.ServerKey,
		Strategy: got.Strategy, Attempt: got.Attempt, Status: got.Status, StatusMessage: got.StatusMessage,
		ErrorType: got.ErrorType, RPCStatusCode: got.RPCStatusCode, ProtocolVersion: got.ProtocolVersion,
		Transport: got.Transport, ClientAddress: got.ClientAddress, ServiceName: got.ServiceName,
		ServiceInstance: got.ServiceInstance, AdjustedCount: got.AdjustedCount, Attributes: got.Attributes,
	})
}

// TestStartWithDatabaseDown starts the exporter while PostgreSQL cannot be
// reached, restarts the collector side (exporter and file storage) while it
// is still down, and checks that every row arrives exactly once when it returns.
func TestStartWithDatabaseDown(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	proxy, dsn := pgtest.ProxyFor(t, testDB.DSN, false)
	s := freshSchema("db_down")
	cfg := testConfig(dsn, s)
	dir := t.TempDir()

	storage := startFileStorage(t, dir)
	exp := startExporter(t, cfg, storage)
	const batches, perBatch = 5, 40
	for i := range batches {
		require.NoError(t, exp.ConsumeTraces(ctx, routerTraces(i*perBatch, perBatch)), "accepted onto the disk queue")
	}
	assert.Equal(t, 0, countRows(ctx, t, pool, s, "routing_log"))

	// A collector restart while the database is still down keeps the queue.
	require.NoError(t, exp.Shutdown(ctx))
	require.NoError(t, storage.Shutdown(ctx))
	storage = startFileStorage(t, dir)
	defer func() { require.NoError(t, storage.Shutdown(ctx)) }()
	exp = startExporter(t, cfg, storage)
	defer func() { require.NoError(t, exp.Shutdown(ctx)) }()

	proxy.SetUp(true)
	const total = batches * perBatch
	waitForRows(t, pool, s, map[string]int{
		"routing_log": total, "tool_call_record": total, "error_log": failuresIn(0, total),
	})
	var distinct int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(DISTINCT trace_id) FROM "+s+".routing_log").Scan(&distinct))
	assert.Equal(t, total, distinct)
}

// TestReplayInsertsNothingTwice writes the same batch twice and then a batch
// that overlaps it, as a retry after a lost commit acknowledgement or a queue
// replay after a crash would.
func TestReplayInsertsNothingTwice(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := freshSchema("replay")
	e := startDirect(t, s)

	require.NoError(t, e.pushTraces(ctx, routerTraces(0, 100)))
	require.NoError(t, e.pushTraces(ctx, routerTraces(0, 100)))
	want := map[string]int{"routing_log": 100, "tool_call_record": 100, "error_log": failuresIn(0, 100)}
	waitForRows(t, pool, s, want)

	require.NoError(t, e.pushTraces(ctx, routerTraces(50, 100)))
	waitForRows(t, pool, s, map[string]int{"routing_log": 150, "tool_call_record": 150, "error_log": failuresIn(0, 150)})
}

// TestNeverStartedExporterLeavesNoSharedEntry: a collector that fails to
// start shuts down what it created; the shared exporter must not outlive it.
func TestNeverStartedExporterLeavesNoSharedEntry(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.DSN = "postgres://postgres@127.0.0.1:5432/never_started"
	set := exportertest.NewNopSettings(metadata.Type)
	exp, err := NewFactory().CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	_, created := sharedExporters.Load(cfg)
	require.True(t, created)

	require.NoError(t, exp.Shutdown(context.Background()))
	_, left := sharedExporters.Load(cfg)
	assert.False(t, left, "the shared exporter of a never-started component is still registered")
}

// TestFailedCreateLeavesNoSharedEntry: a signal whose exporterhelper cannot
// be built lets go of the shared exporter it took (the collector never sees
// that signal, so never shuts it down).
func TestFailedCreateLeavesNoSharedEntry(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.DSN = "postgres://postgres@127.0.0.1:5432/never_built"
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = nil // exporterhelper refuses to build without one
	_, err := NewFactory().CreateTraces(context.Background(), set, cfg)
	require.Error(t, err)
	_, left := sharedExporters.Load(cfg)
	assert.False(t, left, "the shared exporter of a signal that was never built is still registered")
}

// TestFailedSignalDoesNotSizeThePool: the pool is sized for the signals
// that hold the shared exporter; one whose exporterhelper could not be built
// let go of it and counts no more (it was counted for good before).
func TestFailedSignalDoesNotSizeThePool(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(testDB.DSN, freshSchema("failed_signal_pool"))
	cfg.QueueConfig.Get().StorageID = nil // in memory
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zaptest.NewLogger(t)
	traces, err := NewFactory().CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	noLogger := set
	noLogger.Logger = nil // exporterhelper refuses to build without one
	_, err = NewFactory().CreateLogs(ctx, noLogger, cfg)
	require.Error(t, err)
	require.NoError(t, traces.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, traces.Shutdown(ctx)) })
	e, ok := sharedExporters.Load(cfg)
	require.True(t, ok)
	assert.Equal(t, cfg.poolSize(1), e.pool.Stat().MaxConns())
}

// TestUnstartedSignalKeepsThePoolOfTheStartedOne: when a collector fails to
// start, it shuts down the signals it started and those it did not, in any
// order. Shutting down a signal that never started must not close the pool
// a started signal still drains its queue into.
func TestUnstartedSignalKeepsThePoolOfTheStartedOne(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := freshSchema("unstarted_signal")
	cfg := testConfig(testDB.DSN, s)
	cfg.QueueConfig.Get().StorageID = nil // in memory
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zaptest.NewLogger(t)
	traces, err := NewFactory().CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	logs, err := NewFactory().CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	// exporterhelper's Shutdown may be called once only.
	shutdownLogs := sync.OnceValue(func() error { return logs.Shutdown(ctx) })
	t.Cleanup(func() {
		require.NoError(t, shutdownLogs())
		require.NoError(t, traces.Shutdown(ctx))
		_, left := sharedExporters.Load(cfg)
		assert.False(t, left)
	})
	require.NoError(t, traces.Start(ctx, componenttest.NewNopHost()))

	require.NoError(t, shutdownLogs())
	require.NoError(t, traces.ConsumeTraces(ctx, routerTraces(0, 50)))
	waitForRows(t, pool, s, map[string]int{"routing_log": 50, "tool_call_record": 50, "error_log": failuresIn(0, 50)})
}
