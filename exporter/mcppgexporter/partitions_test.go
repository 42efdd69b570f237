package mcppgexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr"
)

var managerID = component.MustNewID("partitionmgr")

// startPartitionManager runs a real partitionmgr extension on schemaName.
func startPartitionManager(t *testing.T, schemaName string) extension.Extension {
	t.Helper()
	f := partitionmgr.NewFactory()
	cfg := f.CreateDefaultConfig().(*partitionmgr.Config)
	cfg.DSN = configopaque.String(testDB.DSN)
	cfg.Schema = schemaName
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), testHost{}))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext
}

// TestPartitionManagerOwnsTheSchema checks that with a partition manager the
// exporter waits for it to apply the schema, and asks it for a partition
// when PostgreSQL finds none for a row (here: the DEFAULT partition was
// dropped by an operator).
func TestPartitionManagerOwnsTheSchema(t *testing.T) {
	ctx := context.Background()
	s := freshSchema("managed")
	ext := startPartitionManager(t, s)
	manager := ext.(partitionmgr.Manager)
	cfg := testConfig(testDB.DSN, s)
	cfg.PartitionManager = &managerID
	set := exportertest.NewNopSettings(metadata.Type)
	e, err := newPGExporter(cfg, set)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, testHost{managerID: ext}))
	defer func() { require.NoError(t, e.Shutdown(ctx)) }()

	deadline := time.Now().Add(30 * time.Second)
	for !manager.SchemaReady() {
		require.ErrorIs(t, e.pushTraces(ctx, routerTraces(0, 1)), errSchemaNotReady, "retryable until the schema is there")
		require.True(t, time.Now().Before(deadline), "schema not applied in time")
		time.Sleep(10 * time.Millisecond)
	}

	pool := testPool(t)
	_, err = pool.Exec(ctx, "DROP TABLE "+s+".routing_log_default, "+s+".tool_call_record_default, "+s+".error_log_default")
	require.NoError(t, err)
	// testStart (November 2026) lies outside the partitions made around today.
	td := routerTraces(0, 50)
	require.NoError(t, e.pushTraces(ctx, td))
	assert.Equal(t, 50, countRows(ctx, t, pool, s, "routing_log"))
	var partition string
	require.NoError(t, pool.QueryRow(ctx, "SELECT DISTINCT tableoid::regclass::text FROM "+s+".routing_log").Scan(&partition))
	assert.Equal(t, s+".routing_log_p"+testStart.Format("20060102"), partition)
}

func TestPartitionManagerMisconfigured(t *testing.T) {
	ctx := context.Background()
	ext := startPartitionManager(t, "other_schema")
	tests := []struct {
		name    string
		host    testHost
		wantErr string
	}{
		{name: "not running", host: testHost{}, wantErr: `partition_manager: extension "partitionmgr" is not running (list it under service::extensions)`},
		{name: "not a manager", host: testHost{managerID: startFileStorage(t, t.TempDir())}, wantErr: `partition_manager: extension "partitionmgr" is not a partitionmgr`},
		{name: "another schema", host: testHost{managerID: ext}, wantErr: `partition_manager: extension "partitionmgr" manages schema "other_schema", but this exporter writes to "misconfigured"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(testDB.DSN, "misconfigured")
			cfg.PartitionManager = &managerID
			e, err := newPGExporter(cfg, exportertest.NewNopSettings(metadata.Type))
			require.NoError(t, err)
			require.EqualError(t, e.Start(ctx, tt.host), tt.wantErr)
		})
	}
}
