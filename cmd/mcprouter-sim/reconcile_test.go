package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
	"github.com/mcp-bridge/otelcol-mcp/internal/reconcile/reconciletest"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
)

var testDB *pgtest.Database

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "mcp_sim_test", &testDB)) }

func execSQL(t *testing.T, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testDB.DSN)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	require.NoError(t, err)
}

// TestReconcileFlags: the defaults are mcpsampler's; -sampled "" is exact.
func TestReconcileFlags(t *testing.T) {
	o, err := parseReconcileFlags([]string{"-manifest", "m.gz"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, map[simmanifest.Kind]bool{simmanifest.KindHealthCheck: true, simmanifest.KindLBDecision: true}, o.Sampled)
	assert.Equal(t, map[simmanifest.Kind]float64{simmanifest.KindHealthCheck: 0.1, simmanifest.KindLBDecision: 0.01}, o.Rates)
	assert.Equal(t, "mcp", o.Schema)
	o, err = parseReconcileFlags([]string{"-manifest", "m.gz", "-sampled", ""}, io.Discard)
	require.NoError(t, err)
	assert.Empty(t, o.Sampled)
	_, err = parseReconcileFlags([]string{"-schema", "Bad-Name", "-sampled", "session", "-poll", "0"}, io.Discard)
	assert.ErrorContains(t, err, "manifest: required")
	assert.ErrorContains(t, err, "schema:")
	assert.ErrorContains(t, err, "sampled:")
	assert.ErrorContains(t, err, "poll must be positive")
	_, err = parseReconcileFlags([]string{"-manifest", "m.gz", "-rates", "health_check=10"}, io.Discard)
	assert.ErrorContains(t, err, "no rate for the sampled kind lb_decision")
}

func TestReconcileCommandExitCodes(t *testing.T) {
	run := reconciletest.NewRun(t, reconciletest.Spec{Requests: 10, Healthy: 3})
	run.Store(t, testDB.DSN, "reconcile_exit")
	var out, errOut bytes.Buffer
	args := []string{"-manifest", run.Manifest, "-dsn", testDB.DSN, "-schema", "reconcile_exit"}
	assert.Equal(t, 0, reconcileCommand(context.Background(), args, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "reconcile: OK")
	execSQL(t, "DELETE FROM reconcile_exit.circuit_breaker_event")
	out.Reset()
	assert.Equal(t, 1, reconcileCommand(context.Background(), args, &out, &errOut))
	assert.Contains(t, out.String(), "reconcile: FAILED: circuit_breaker 3 missing")
	assert.Equal(t, 2, reconcileCommand(context.Background(), []string{"-schema", "x"}, &out, io.Discard))
	assert.Equal(t, 2, reconcileCommand(context.Background(), []string{"-manifest", "/nonexistent", "-dsn", testDB.DSN}, &out, io.Discard))
}
