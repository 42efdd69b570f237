package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
	"github.com/mcp-bridge/otelcol-mcp/internal/reconcile"
)

// The quick variants of chaos/run.sh's db-outage and collector-kill scenarios:
// a few thousand events from cmd/mcprouter-sim, a fault while they flow, then
// the anti-join of its manifest against the tables (internal/reconcile, as
// `mcprouter-sim reconcile` runs it), exact (every sampled kind kept):
// nothing lost, nothing duplicated.

var (
	simOnce sync.Once
	simPath string
	simErr  error
)

// simulator builds cmd/mcprouter-sim once per test binary.
func simulator(t *testing.T) string {
	t.Helper()
	simOnce.Do(func() {
		// Under .run/ (ignored by git), so that no temporary directory outlives the tests.
		simPath = filepath.Join(repoRoot, ".run", "e2e-mcprouter-sim")
		if simErr = os.MkdirAll(filepath.Dir(simPath), 0o755); simErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", simPath, "./cmd/mcprouter-sim")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			simErr = fmt.Errorf("go build ./cmd/mcprouter-sim: %w\n%s", err, out)
		}
	})
	require.NoError(t, simErr)
	return simPath
}

// simRun is a running `mcprouter-sim run`.
type simRun struct {
	cmd      *exec.Cmd
	out      *lockedBuffer
	manifest string
	done     chan error
}

// startSim sends requests routed requests (about 2.6 events each) at 2,000/s
// to the collector's OTLP/gRPC address; the SDK retries for up to a minute
// while the collector refuses or is gone.
func startSim(t *testing.T, grpcAddr string, requests int) *simRun {
	t.Helper()
	s := &simRun{out: &lockedBuffer{}, manifest: filepath.Join(t.TempDir(), "manifest.gz"), done: make(chan error, 1)}
	s.cmd = exec.Command(simulator(t), "run", "-endpoint", grpcAddr, "-rate", "2000", "-duration", "0",
		"-requests", strconv.Itoa(requests), "-manifest", s.manifest, "-seed", "8", "-health-interval", "200ms",
		"-metric-interval", "1s", "-progress", "0", "-flush-timeout", "60s")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	require.NoError(t, s.cmd.Start())
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			if err := <-s.done; err != nil {
				t.Logf("simulator killed: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("simulator output:\n%s", s.out.String())
		}
	})
	return s
}

// wait requires the simulator to exit 0 (everything acknowledged) in time.
func (s *simRun) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-s.done:
		require.NoError(t, err, "simulator:\n%s", s.out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("simulator did not finish within 90 s:\n%s", s.out.String())
	}
}

// reconcile runs the simulator's exact anti-join (no kind treated as
// sampled, internal/reconcile) until everything is stored or the counts
// settle: nothing lost and nothing duplicated.
func (s *simRun) reconcile(t *testing.T, schemaName string) {
	t.Helper()
	var progress bytes.Buffer
	rep, err := reconcile.Run(context.Background(), reconcile.Options{Manifest: s.manifest, DSN: testDB.DSN,
		Schema: schemaName, Wait: 60 * time.Second, Settle: 15 * time.Second, Poll: 200 * time.Millisecond}, &progress)
	require.NoError(t, err, "reconcile:\n%s", progress.String())
	var out bytes.Buffer
	rep.Print(&out)
	t.Logf("reconcile:\n%s", out.String())
	require.True(t, rep.OK(), "reconciliation found lost or duplicated rows: %s", rep.MissingSummary())
}

// waitForRoutingRows polls until schemaName.routing_log holds at least atLeast rows.
func waitForRoutingRows(t *testing.T, schemaName string, atLeast int) int {
	t.Helper()
	ctx := context.Background()
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM "+schemaName+".routing_log").Scan(&n)
		if err == nil && n >= atLeast {
			return n
		}
		require.True(t, time.Now().Before(deadline), "routing_log did not reach %d rows in 30 s (last error %v)", atLeast, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChaosDatabaseOutage: the database goes away (for this collector only)
// while the simulator sends; the rest of the run waits in the disk queue and
// is stored exactly once when the database comes back.
func TestChaosDatabaseOutage(t *testing.T) {
	schemaName := freshSchema("e2e_chaos_outage")
	proxy, dsn := pgtest.ProxyFor(t, testDB.DSN, true)
	c := startCollector(t, schemaName, append(keepEverySampledEvent, "MCP_PG_DSN="+dsn)...)

	start := time.Now()
	sim := startSim(t, c.grpcAddr, 4000)
	before := waitForRoutingRows(t, schemaName, 1) // the collector is writing
	proxy.SetUp(false)
	t.Logf("%v: database down after %d routing_log rows", time.Since(start).Round(time.Millisecond), before)
	sim.wait(t) // everything acknowledged while the database is away
	proxy.SetUp(true)
	t.Logf("%v: the simulator finished during the outage; database back", time.Since(start).Round(time.Millisecond))
	sim.reconcile(t, schemaName)
	t.Logf("%v: reconciled", time.Since(start).Round(time.Millisecond))
	c.stop(t)
}

// TestChaosCollectorKill: the collector is SIGKILLed while the simulator
// sends and restarted on the same queue directory and ports; the SDK retries
// what the dead collector refused, the queue replays what it held, and the
// exporter's dedupe path absorbs the replays.
func TestChaosCollectorKill(t *testing.T) {
	schemaName := freshSchema("e2e_chaos_kill")
	grpcAddr := freePort(t)
	env := append(append([]string{}, keepEverySampledEvent...),
		"MCP_STORAGE_DIR="+t.TempDir(), "MCP_OTLP_GRPC_ENDPOINT="+grpcAddr)
	c := startCollector(t, schemaName, env...)

	start := time.Now()
	sim := startSim(t, grpcAddr, 6000)
	before := waitForRoutingRows(t, schemaName, 1) // the collector is writing
	require.NoError(t, c.cmd.Process.Kill())
	_ = c.cmd.Wait()
	t.Logf("%v: SIGKILL after %d routing_log rows", time.Since(start).Round(time.Millisecond), before)
	c = startCollector(t, schemaName, env...)
	t.Logf("%v: collector restarted on the same queue", time.Since(start).Round(time.Millisecond))
	sim.wait(t)
	sim.reconcile(t, schemaName)
	t.Logf("%v: reconciled", time.Since(start).Round(time.Millisecond))
	c.stop(t)
}

// TestLoadQuick is the quick variant of bench/e2e_load.sh: 10,000 routed
// requests (about 26,000 events) at 2,000/s through the default pipeline,
// every one stored exactly once. Whether the collector keeps up is a
// benchmark's question (bench/e2e_load.sh), not a wall-clock threshold here.
func TestLoadQuick(t *testing.T) {
	schemaName := freshSchema("e2e_load_quick")
	c := startCollector(t, schemaName, keepEverySampledEvent...)
	start := time.Now()
	sim := startSim(t, c.grpcAddr, 10000)
	sim.wait(t)
	sent := time.Since(start)
	sim.reconcile(t, schemaName)
	t.Logf("10,000 requests sent in %v, all stored %v after the start", sent.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	c.stop(t)
}
