package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	byteorder "encoding/binary"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
	"github.com/mcp-bridge/otelcol-mcp/internal/tmpfs"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// spanRun names the spans of one test: a random 4-byte tag opens every trace
// id, so rows are counted by SQL over the ids sent, not by the collector.
type spanRun struct {
	tag [4]byte
}

func newSpanRun() spanRun {
	var r spanRun
	_, _ = rand.Read(r.tag[:])
	return r
}

// serverSpans builds n routed requests (SERVER tools/call spans), numbered
// from first, each with pad bytes of an extra attribute.
func (r spanRun) serverSpans(first, n, pad int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(mcpconv.ServiceName, "e2e-durability")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	padding := strings.Repeat("p", pad)
	now := time.Now()
	for i := first; i < first+n; i++ {
		var tid pcommon.TraceID
		copy(tid[:4], r.tag[:])
		byteorder.BigEndian.PutUint64(tid[8:], uint64(i)) //nolint:gosec // i >= 0
		s := spans.AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
		s.SetKind(ptrace.SpanKindServer)
		s.SetName("tools/call echo")
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		s.Attributes().PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		s.Attributes().PutStr(mcpconv.ToolName, "echo")
		if pad > 0 {
			s.Attributes().PutStr("padding", padding)
		}
	}
	return td
}

// stored counts the run's routing_log rows and the distinct spans among them.
func (r spanRun) stored(t *testing.T, schemaName string) (rows, distinct int) {
	t.Helper()
	ctx := context.Background()
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM `+schemaName+
		`.routing_log WHERE substring(trace_id FROM 1 FOR 4) = $1`, r.tag[:]).Scan(&rows, &distinct)
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return 0, 0 // the schema is not applied yet
	}
	require.NoError(t, err)
	return rows, distinct
}

// waitStored polls until want rows of the run are stored, then requires
// each to be there exactly once.
func (r spanRun) waitStored(t *testing.T, schemaName string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rows, distinct := r.stored(t, schemaName)
		if rows >= want {
			require.Equal(t, want, distinct, "lost spans")
			require.Equal(t, want, rows, "duplicated spans")
			return
		}
		require.Truef(t, time.Now().Before(deadline), "%d of %d acknowledged spans stored after %v", distinct, want, within)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestChaosDiskFull is the quick variant of chaos/run.sh disk-full: the
// queue's directory on a 48 MiB filesystem, the database down until the
// queue has refused data for lack of disk, four senders retrying every
// refused request until it is acknowledged. Every acknowledged span is
// stored exactly once, without a restart, and the queue counts nothing
// that it does not hold.
func TestChaosDiskFull(t *testing.T) {
	schemaName := freshSchema("e2e_chaos_disk_full")
	const (
		senders    = 4
		requests   = 240 // per run: 48,000 spans of 2 KiB, about 2x the filesystem
		perRequest = 200
		pad        = 2048
	)
	dir := tmpfs.Mount(t, 48)
	proxy, dsn := pgtest.ProxyFor(t, testDB.DSN, true)
	metrics := freePort(t)
	c := startCollector(t, schemaName, "MCP_PG_DSN="+dsn, "MCP_STORAGE_DIR="+dir, "MCP_QUEUE_MIN_FREE_MIB=8",
		"MCP_METRICS_HOST=127.0.0.1", "MCP_METRICS_PORT="+portOf(metrics))
	run := newSpanRun()
	client := ptraceotlp.NewGRPCClient(c.dial(t))

	// The schema first, then the outage.
	_, err := client.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(run.serverSpans(0, 1, 0)))
	require.NoError(t, err)
	run.waitStored(t, schemaName, 1, 60*time.Second)
	proxy.SetUp(false)

	var next, refusedForDisk atomic.Int64
	next.Store(1)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1)) - 2
				if n >= requests {
					return
				}
				req := ptraceotlp.NewExportRequestFromTraces(run.serverSpans(1+n*perRequest, perRequest, pad))
				for backoff := 20 * time.Millisecond; ; backoff = min(2*backoff, 500*time.Millisecond) {
					_, err := client.Export(context.Background(), req)
					if err == nil {
						break
					}
					st, _ := status.FromError(err)
					if st.Code() != codes.Unavailable && st.Code() != codes.ResourceExhausted {
						errs <- err
						return
					}
					if strings.Contains(st.Message(), "below the reserve") {
						refusedForDisk.Add(1)
					}
					time.Sleep(backoff)
				}
			}
		}()
	}

	// The outage lasts until the disk has refused data for a while.
	deadline := time.Now().Add(90 * time.Second)
	for refusedForDisk.Load() < 20 {
		require.True(t, time.Now().Before(deadline), "the queue never refused for lack of disk:\n%s", c.log.String())
		time.Sleep(50 * time.Millisecond)
	}
	proxy.SetUp(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "a sender got a refusal that is not backpressure")
	}
	run.waitStored(t, schemaName, 1+requests*perRequest, 120*time.Second)

	// Drained, and the queue says so.
	deadline = time.Now().Add(30 * time.Second)
	for scrapeSum(t, metrics, "otelcol_exporter_queue_size") != 0 {
		require.True(t, time.Now().Before(deadline), "otelcol_exporter_queue_size stays above 0 with the queue drained")
		time.Sleep(100 * time.Millisecond)
	}
	assert.Positive(t, scrapeSum(t, metrics, "otelcol_diskguard_refused"))
	t.Logf("%d spans acknowledged and stored once; %d refusals for disk space", 1+requests*perRequest, refusedForDisk.Load())
	c.stop(t)
}

// deepTraces is one ordinary span and one whose attribute nests levels maps.
func deepTraces(run spanRun, first, levels int) ptrace.Traces {
	td := run.serverSpans(first, 2, 0)
	v := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).Attributes().PutEmpty("deep")
	for range levels {
		v = v.SetEmptyMap().PutEmpty("k")
	}
	v.SetStr("leaf")
	return td
}

// TestDeepValuesAreRefusedOrStored: a value nested deeper than the queue's
// protobuf round trip allows is refused before it is acknowledged (over
// OTLP/HTTP JSON it used to be acknowledged and then lost in the queue, the
// valid spans of its request with it); what is acknowledged is stored.
func TestDeepValuesAreRefusedOrStored(t *testing.T) {
	schemaName := freshSchema("e2e_deep_values")
	httpAddr := freePort(t)
	c := startCollector(t, schemaName, "MCP_OTLP_HTTP_ENDPOINT="+httpAddr)
	client := ptraceotlp.NewGRPCClient(c.dial(t))
	run := newSpanRun()
	want := 0
	first := 0
	for _, levels := range []int{32, 33, 100, 10_000} {
		for _, transport := range []string{"http-json", "http-protobuf", "grpc"} {
			td := deepTraces(run, first, levels)
			first += 2
			var accepted bool
			var reason string
			switch transport {
			case "grpc":
				_, err := client.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(td))
				accepted = err == nil
				if err != nil {
					// gRPC's own decoder refuses first (code Internal).
					st, _ := status.FromError(err)
					reason = st.Message()
				}
			default:
				var body []byte
				var err error
				contentType := "application/json"
				if transport == "http-json" {
					body, err = (&ptrace.JSONMarshaler{}).MarshalTraces(td)
				} else {
					contentType = "application/x-protobuf"
					body, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
				}
				require.NoError(t, err)
				resp, err := http.Post("http://"+httpAddr+"/v1/traces", contentType, bytes.NewReader(body))
				require.NoError(t, err)
				var msg bytes.Buffer
				_, _ = msg.ReadFrom(resp.Body)
				resp.Body.Close()
				accepted = resp.StatusCode == http.StatusOK
				if !accepted {
					// JSON is refused by the exporter, protobuf by the receiver's decoder.
					assert.Equalf(t, http.StatusBadRequest, resp.StatusCode, "%d levels over %s: %s", levels, transport, msg.String())
					reason = msg.String()
				}
			}
			if levels <= 32 {
				assert.Truef(t, accepted, "%d levels over %s refused: %s", levels, transport, reason)
			} else {
				assert.Falsef(t, accepted, "%d levels over %s acknowledged: the queue cannot carry it", levels, transport)
				assert.NotEmpty(t, reason, "a refusal says why")
			}
			if accepted {
				want += 2
			}
			t.Logf("%d levels over %s: accepted %v %s", levels, transport, accepted, reason)
		}
	}
	run.waitStored(t, schemaName, want, 60*time.Second)
	// Nothing more arrives later.
	require.Eventually(t, func() bool { n, _ := run.stored(t, schemaName); return n == want }, 3*time.Second, 100*time.Millisecond)
	c.stop(t)
}
