// Package e2e runs the built distribution (build/otelcol-mcp) with the
// default otelcol-config.yaml against a real PostgreSQL and checks what
// reaches the tables.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
)

// BinaryEnv names the variable holding the collector binary to test; without
// it the tests build one with `make build`.
const BinaryEnv = "OTELCOL_MCP_BIN"

// ConfigEnv names the variable holding the collector configuration to run;
// without it the tests run the repository's otelcol-config.yaml.
const ConfigEnv = "OTELCOL_MCP_CONFIG"

var (
	testDB     *pgtest.Database
	binary     string
	configPath string
	repoRoot   string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := testDB.Drop(); err != nil {
		fmt.Fprintln(os.Stderr, "drop test database:", err)
	}
	os.Exit(code)
}

func setup() error {
	binary = os.Getenv(BinaryEnv)
	if binary == "" {
		cmd := exec.Command("make", "build")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("make build: %w\n%s", err, out)
		}
		binary = filepath.Join(repoRoot, "build", "otelcol-mcp")
	}
	if _, err := os.Stat(binary); err != nil {
		return fmt.Errorf("collector binary: %w", err)
	}
	configPath = os.Getenv(ConfigEnv)
	if configPath == "" {
		configPath = filepath.Join(repoRoot, "otelcol-config.yaml")
	}
	if _, err := os.Stat(configPath); err != nil {
		return fmt.Errorf("collector config: %w", err)
	}
	db, err := pgtest.CreateDatabase("mcp_e2e_test")
	if err != nil {
		return err
	}
	testDB = db
	return nil
}

// collector is a running build/otelcol-mcp.
type collector struct {
	cmd      *exec.Cmd
	log      *lockedBuffer
	grpcAddr string
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startCollector runs the distribution with the default config (or the one
// ConfigEnv names), pointed at schemaName, with the extra environment given,
// and waits for its health check.
func startCollector(t *testing.T, schemaName string, env ...string) *collector {
	t.Helper()
	return startCollectorConfig(t, configPath, schemaName, env...)
}

// startCollectorConfig is startCollector with another configuration file.
func startCollectorConfig(t *testing.T, config, schemaName string, env ...string) *collector {
	t.Helper()
	return startCollectorConfigs(t, []string{config}, schemaName, env...)
}

// startCollectorConfigs runs the collector with several configuration
// files, merged in order (a later file's lists replace an earlier one's).
func startCollectorConfigs(t *testing.T, configs []string, schemaName string, env ...string) *collector {
	t.Helper()
	c := &collector{log: &lockedBuffer{}, grpcAddr: freePort(t)}
	health := freePort(t)
	var args []string
	for _, config := range configs {
		args = append(args, "--config", config)
	}
	c.cmd = exec.Command(binary, args...)
	c.cmd.Env = append(os.Environ(),
		"MCP_PG_DSN="+testDB.DSN,
		"MCP_PG_SCHEMA="+schemaName,
		"MCP_STORAGE_DIR="+t.TempDir(),
		"MCP_OTLP_GRPC_ENDPOINT="+c.grpcAddr,
		"MCP_OTLP_HTTP_ENDPOINT="+freePort(t),
		"MCP_HEALTH_ENDPOINT="+health,
		"MCP_EVENTS_ENDPOINT="+freePort(t),
		"MCP_METRICS_PORT="+portOf(freePort(t)),
	)
	c.cmd.Env = append(c.cmd.Env, env...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("collector log:\n%s", c.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + health + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		require.True(t, time.Now().Before(deadline), "collector not healthy in time:\n%s", c.log.String())
		time.Sleep(50 * time.Millisecond)
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// stop sends SIGTERM and requires a clean exit.
func (c *collector) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "collector exit")
	case <-time.After(30 * time.Second):
		t.Fatalf("collector did not stop within 30 s")
	}
}

func (c *collector) dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// tableCounts returns the rows of every table of schemaName (partitions
// counted in their parent) but the per-minute rollups and their queue,
// which are derived from the others (rollups_test.go checks them).
func tableCounts(ctx context.Context, t *testing.T, conn *pgx.Conn, schemaName string) map[string]int {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		AND c.relname <> 'rollup_dirty' AND c.relname NOT LIKE '%\_rollup\_1m'`, schemaName)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	counts := map[string]int{}
	for _, name := range names {
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schemaName, name}.Sanitize()).Scan(&n))
		counts[name] = n
	}
	return counts
}

// waitForCounts polls until the tables hold exactly want.
func waitForCounts(t *testing.T, schemaName string, want map[string]int) {
	t.Helper()
	ctx := context.Background()
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := tableCounts(ctx, t, conn, schemaName)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			require.Equal(t, want, got, "tables did not reach the expected counts in time")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lockedBuffer is the collector's output: written by exec's copying
// goroutine while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freshSchema names a schema for one run of one test: tests rerun
// (go test -count=N) in the same database, and a fixed name would find the
// rows of the run before.
func freshSchema(base string) string {
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	return base + "_" + hex.EncodeToString(suffix[:])
}
