package simcapture

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
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
	cs, err := Start(path)
	require.NoError(t, err)
	conn, err := grpc.NewClient(cs.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	send(conn)
	require.NoError(t, conn.Close())
	require.NoError(t, cs.Close())
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
	recs, err := Read(first)
	require.NoError(t, err)
	require.Len(t, recs, 6)
	var spans, logs int
	for _, r := range recs {
		switch r.Signal {
		case Traces:
			spans += r.Items
		case Logs:
			logs += r.Items
		}
	}
	assert.Equal(t, 10+11+12+13+14, spans)
	assert.Equal(t, 7, logs)

	// Replayed into a second capture server: the same requests, byte for byte.
	secondPath := filepath.Join(t.TempDir(), "again.bin")
	second, err := Start(secondPath)
	require.NoError(t, err)
	res, err := Replay(ctx, ReplayOptions{Endpoint: second.Addr(), Workers: 3, Timeout: 5 * time.Second, RetryFor: 5 * time.Second}, recs)
	require.NoError(t, err)
	require.NoError(t, second.Close())
	assert.EqualValues(t, 6, res.Requests)
	assert.EqualValues(t, spans, res.Delivered[Traces])
	assert.EqualValues(t, logs, res.Delivered[Logs])
	assert.Zero(t, res.Failed[Traces]+res.Failed[Logs])

	again, err := Read(secondPath)
	require.NoError(t, err)
	bodies := func(rs []Record) [][]byte {
		var out [][]byte
		for _, r := range rs {
			out = append(out, r.Body)
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
	res, err := Replay(context.Background(), ReplayOptions{Endpoint: addr, Workers: 1, Timeout: 5 * time.Second, RetryFor: 30 * time.Second}, recs)
	require.NoError(t, err)
	assert.EqualValues(t, 3, res.Retries)
	assert.EqualValues(t, 4*3, p.accepted.Load())
	assert.EqualValues(t, 4*3, res.Delivered[Traces])
}

func TestReplayCountsWhatTheCollectorRefuses(t *testing.T) {
	recs := tracesRecords(t, 2)
	p := &pushBack{refuse: 1, code: codes.InvalidArgument}
	addr := servePushBack(t, p)
	res, err := Replay(context.Background(), ReplayOptions{Endpoint: addr, Workers: 1, Timeout: 5 * time.Second, RetryFor: 30 * time.Second}, recs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sending queue is full")
	assert.Zero(t, res.Retries, "a permanent error is not retried")
	assert.EqualValues(t, 3, res.Failed[Traces])
	assert.EqualValues(t, 3, res.Delivered[Traces])
}

func TestReplayStopsAfterDuration(t *testing.T) {
	recs := tracesRecords(t, 50)
	p := &pushBack{}
	addr := servePushBack(t, p)
	// 3 items per record at 10 items/s: one record due every 300 ms, so a
	// 750 ms run sends records 0, 1 and 2 (due at 0, 300, 600 ms) and not
	// the 4th (due at 900 ms).
	res, err := Replay(context.Background(), ReplayOptions{Endpoint: addr, Workers: 2, Rate: 10, Duration: 750 * time.Millisecond,
		Timeout: 5 * time.Second, RetryFor: 5 * time.Second}, recs)
	require.NoError(t, err)
	assert.EqualValues(t, 3, res.Requests)
	assert.EqualValues(t, 9, p.accepted.Load())
}

// tracesRecords captures n trace requests of 3 spans each.
func tracesRecords(t *testing.T, n int) []Record {
	t.Helper()
	path := captureOf(t, func(conn *grpc.ClientConn) {
		for i := range n {
			_, err := ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(3, byte(i))))
			require.NoError(t, err)
		}
	})
	recs, err := Read(path)
	require.NoError(t, err)
	require.Len(t, recs, n)
	return recs
}

func TestReadCaptureRejectsOtherAndTruncatedFiles(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	require.NoError(t, os.WriteFile(other, []byte("hello\n"), 0o600))
	_, err := Read(other)
	require.ErrorContains(t, err, "not a capture file")

	recs := tracesRecords(t, 1)
	good := captureOf(t, func(conn *grpc.ClientConn) {
		_, err := ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(3, 9)))
		require.NoError(t, err)
	})
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	cut := filepath.Join(dir, "cut")
	require.NoError(t, os.WriteFile(cut, data[:len(data)-len(recs[0].Body)/2], 0o600))
	_, err = Read(cut)
	require.ErrorContains(t, err, "unexpected EOF")
}
