package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

func testTraces(spans int, seed byte) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range spans {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{seed, byte(i), 1})
		s.SetSpanID(pcommon.SpanID{seed, byte(i)})
		s.SetName("tools/call")
		s.Attributes().PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	}
	return td
}

func testLogs(records int) plog.Logs {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i := range records {
		r := sl.LogRecords().AppendEmpty()
		r.SetEventName(mcpconv.EventHealthCheck)
		r.Attributes().PutInt("n", int64(i))
	}
	return ld
}

// captureOf sends requests to a fresh capture server and returns its file.
func captureOf(t *testing.T, send func(conn *grpc.ClientConn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "load.bin")
	cs, err := startCaptureServer(path)
	require.NoError(t, err)
	conn, err := grpc.NewClient(cs.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	send(conn)
	require.NoError(t, conn.Close())
	require.NoError(t, cs.close())
	return path
}

func TestCaptureAndReplayDeliverEveryRequestUnchanged(t *testing.T) {
	ctx := context.Background()
	first := captureOf(t, func(conn *grpc.ClientConn) {
		for i := range 5 {
			_, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(testTraces(10+i, byte(i))))
			require.NoError(t, err)
		}
		_, err := plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs(7)))
		require.NoError(t, err)
	})
	recs, err := readCapture(first)
	require.NoError(t, err)
	require.Len(t, recs, 6)
	var spans, logs int
	for _, r := range recs {
		switch r.signal {
		case captureTraces:
			spans += r.items
		case captureLogs:
			logs += r.items
		}
	}
	assert.Equal(t, 10+11+12+13+14, spans)
	assert.Equal(t, 7, logs)

	// Replayed into a second capture server: the same requests, byte for byte.
	secondPath := filepath.Join(t.TempDir(), "again.bin")
	second, err := startCaptureServer(secondPath)
	require.NoError(t, err)
	res, err := replay(ctx, replayOptions{endpoint: second.Addr(), workers: 3, timeout: 5 * time.Second, retryFor: 5 * time.Second}, recs)
	require.NoError(t, err)
	require.NoError(t, second.close())
	assert.EqualValues(t, 6, res.requests)
	assert.EqualValues(t, spans, res.delivered[captureTraces])
	assert.EqualValues(t, logs, res.delivered[captureLogs])
	assert.Zero(t, res.failed[captureTraces]+res.failed[captureLogs])

	again, err := readCapture(secondPath)
	require.NoError(t, err)
	bodies := func(rs []captureRecord) [][]byte {
		var out [][]byte
		for _, r := range rs {
			out = append(out, r.body)
		}
		slices.SortFunc(out, bytes.Compare)
		return out
	}
	assert.Equal(t, bodies(recs), bodies(again))
}

// pushBack refuses the first n exports as a full collector queue does.
type pushBack struct {
	ptraceotlp.UnimplementedGRPCServer
	refuse   int64
	calls    atomic.Int64
	accepted atomic.Int64
	code     codes.Code
}

func (p *pushBack) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	if p.calls.Add(1) <= p.refuse {
		return ptraceotlp.NewExportResponse(), status.Error(p.code, "sending queue is full")
	}
	p.accepted.Add(int64(req.Traces().SpanCount()))
	return ptraceotlp.NewExportResponse(), nil
}

func servePushBack(t *testing.T, p *pushBack) string {
	t.Helper()
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, p)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestReplayRetriesWhileTheCollectorPushesBack(t *testing.T) {
	recs := tracesRecords(t, 4)
	p := &pushBack{refuse: 3, code: codes.Unavailable}
	addr := servePushBack(t, p)
	res, err := replay(context.Background(), replayOptions{endpoint: addr, workers: 1, timeout: 5 * time.Second, retryFor: 30 * time.Second}, recs)
	require.NoError(t, err)
	assert.EqualValues(t, 3, res.retries)
	assert.EqualValues(t, 4*3, p.accepted.Load())
	assert.EqualValues(t, 4*3, res.delivered[captureTraces])
}

func TestReplayCountsWhatTheCollectorRefuses(t *testing.T) {
	recs := tracesRecords(t, 2)
	p := &pushBack{refuse: 1, code: codes.InvalidArgument}
	addr := servePushBack(t, p)
	res, err := replay(context.Background(), replayOptions{endpoint: addr, workers: 1, timeout: 5 * time.Second, retryFor: 30 * time.Second}, recs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sending queue is full")
	assert.Zero(t, res.retries, "a permanent error is not retried")
	assert.EqualValues(t, 3, res.failed[captureTraces])
	assert.EqualValues(t, 3, res.delivered[captureTraces])
}

func TestReplayStopsAfterDuration(t *testing.T) {
	recs := tracesRecords(t, 50)
	p := &pushBack{}
	addr := servePushBack(t, p)
	// 3 items per record at 10 items/s: one record due every 300 ms, so a
	// 750 ms run sends records 0, 1 and 2 (due at 0, 300, 600 ms) and not
	// the 4th (due at 900 ms).
	res, err := replay(context.Background(), replayOptions{endpoint: addr, workers: 2, rate: 10, duration: 750 * time.Millisecond,
		timeout: 5 * time.Second, retryFor: 5 * time.Second}, recs)
	require.NoError(t, err)
	assert.EqualValues(t, 3, res.requests)
	assert.EqualValues(t, 9, p.accepted.Load())
}

// tracesRecords captures n trace requests of 3 spans each.
func tracesRecords(t *testing.T, n int) []captureRecord {
	t.Helper()
	path := captureOf(t, func(conn *grpc.ClientConn) {
		for i := range n {
			_, err := ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(3, byte(i))))
			require.NoError(t, err)
		}
	})
	recs, err := readCapture(path)
	require.NoError(t, err)
	require.Len(t, recs, n)
	return recs
}

func TestReadCaptureRejectsOtherAndTruncatedFiles(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	require.NoError(t, os.WriteFile(other, []byte("hello\n"), 0o600))
	_, err := readCapture(other)
	require.ErrorContains(t, err, "not a capture file")

	recs := tracesRecords(t, 1)
	good := captureOf(t, func(conn *grpc.ClientConn) {
		_, err := ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(3, 9)))
		require.NoError(t, err)
	})
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	cut := filepath.Join(dir, "cut")
	require.NoError(t, os.WriteFile(cut, data[:len(data)-len(recs[0].body)/2], 0o600))
	_, err = readCapture(cut)
	require.ErrorContains(t, err, "unexpected EOF")
}

func TestReplayFlags(t *testing.T) {
	_, err := parseReplayFlags([]string{"-endpoint", "http://x:4317", "-rate", "-1", "-workers", "0"}, &strings.Builder{})
	require.Error(t, err)
	for _, want := range []string{"in: the capture file is required", `endpoint: "http://x:4317" must be host:port`,
		"rate: -1 must not be negative", "workers: 0 must be at least 1"} {
		assert.ErrorContains(t, err, want)
	}
	o, err := parseReplayFlags([]string{"-in", "x.bin", "-rate", "50000", "-duration", "20s"}, &strings.Builder{})
	require.NoError(t, err)
	assert.Equal(t, replayOptions{in: "x.bin", endpoint: "localhost:4317", rate: 50000, duration: 20 * time.Second,
		workers: 8, timeout: 10 * time.Second, retryFor: 2 * time.Minute}, o)
}

// TestRunCaptureRecordsWhatTheFleetSent: `run -capture` delivers to the file
// exactly what its exporters report as delivered.
func TestRunCaptureRecordsWhatTheFleetSent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load.bin")
	var stdout, stderr strings.Builder
	code := runCommand(context.Background(), []string{"-capture", path, "-rate", "0", "-requests", "300", "-progress", "0",
		"-endpoint", "ignored:1"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	recs, err := readCapture(path)
	require.NoError(t, err)
	counts := map[captureSignal]int{}
	for _, r := range recs {
		counts[r.signal] += r.items
	}
	assert.Contains(t, stdout.String(), "captured ")
	assert.Regexp(t, `delivered `+strconv.Itoa(counts[captureTraces])+` spans, `+strconv.Itoa(counts[captureLogs])+` log records`, stdout.String())
	assert.GreaterOrEqual(t, counts[captureTraces], 300, "at least one SERVER span per routed request")

	_, err = parseRunFlags([]string{"-capture", path, "-mode", "events", "-requests", "1"}, &strings.Builder{})
	require.ErrorContains(t, err, "capture: needs -mode otlp -protocol grpc")
}
