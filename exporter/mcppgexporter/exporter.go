package mcppgexporter

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr"
	"github.com/mcp-bridge/otelcol-mcp/internal/sharedcomponent"
)

// pgExporter owns the connection pool and the writer; the traces, logs and
// metrics exporters of one component share it (see sharedExporters).
type pgExporter struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	pool      *pgxpool.Pool
	writer    *pgWriter
	payloads  *payloadOptions
	unmapped  *unmappedReporter

	mu sync.Mutex
}

func newPGExporter(cfg *Config, set exporter.Settings) (*pgExporter, error) {
	telemetry, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &pgExporter{cfg: cfg, logger: set.Logger, telemetry: telemetry, payloads: newPayloadOptions(cfg.ToolPayloads),
		unmapped: newUnmappedReporter(telemetry, set.Logger)}, nil
}

// sharedExporters hands the signals of one configured component the same
// pgExporter (the collector passes them the same *Config): the first signal
// to start opens the pool, the last to shut down closes it, after every
// signal's exporterhelper has drained (or persisted) its queue.
var sharedExporters = sharedcomponent.NewMap[*Config, *pgExporter]()

func sharedExporter(cfg *Config, set exporter.Settings) (*sharedcomponent.Ref[*pgExporter], error) {
	return sharedExporters.LoadOrStore(cfg, func() (*pgExporter, error) { return newPGExporter(cfg, set) })
}

// Start opens the pool.
func (e *pgExporter) Start(ctx context.Context, host component.Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.openPool(ctx, host)
}

// Shutdown unregisters the pool gauge's callback and closes the pool (none
// when Start was not called: a collector that failed to start shuts down
// what it created). The queues are drained by then, so no commit holds a
// connection the close would wait for.
func (e *pgExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.telemetry.Shutdown()
	if e.pool != nil {
		e.pool.Close()
		e.pool = nil
	}
	return nil
}

// openPool creates the pool without connecting: the collector starts while
// PostgreSQL is down, and the data waits on the sending queue until it is back.
func (e *pgExporter) openPool(_ context.Context, host component.Host) error {
	poolCfg, err := pgxpool.ParseConfig(string(e.cfg.DSN))
	if err != nil {
		return fmt.Errorf("dsn: %w", err)
	}
	manager, err := e.partitionManager(host)
	if err != nil {
		return err
	}
	// Sized for the signals holding this exporter (a signal whose
	// exporterhelper could not be built has let go of it).
	poolCfg.MaxConns = e.cfg.poolSize(sharedExporters.Refs(e.cfg))
	poolCfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		return err
	}
	e.pool = pool
	e.writer = newPGWriter(pool, e.cfg.Schema, e.cfg.ApplySchema, manager, e.cfg.EventTime, e.logger, e.telemetry)
	err = e.telemetry.RegisterExporterMcppgPoolConnectionsCallback(func(_ context.Context, o metric.Int64Observer) error {
		st := pool.Stat()
		o.Observe(int64(st.AcquiredConns()), metric.WithAttributes(attribute.String("state", "acquired")))
		o.Observe(int64(st.IdleConns()), metric.WithAttributes(attribute.String("state", "idle")))
		o.Observe(int64(st.MaxConns()), metric.WithAttributes(attribute.String("state", "max")))
		return nil
	})
	if err != nil {
		return err
	}
	e.logger.Info("mcppg exporter started",
		zap.String("host", poolCfg.ConnConfig.Host), zap.String("database", poolCfg.ConnConfig.Database),
		zap.String("schema", e.cfg.Schema), zap.Int32("max_conns", poolCfg.MaxConns))
	return nil
}

// partitionManager finds the configured partitionmgr extension, nil when
// none is configured.
func (e *pgExporter) partitionManager(host component.Host) (partitionmgr.Manager, error) {
	id := e.cfg.PartitionManager
	if id == nil {
		return nil, nil
	}
	ext, ok := host.GetExtensions()[*id]
	if !ok {
		return nil, fmt.Errorf("partition_manager: extension %q is not running (list it under service::extensions)", id)
	}
	manager, ok := ext.(partitionmgr.Manager)
	if !ok {
		return nil, fmt.Errorf("partition_manager: extension %q is not a partitionmgr", id)
	}
	if manager.Schema() != e.cfg.Schema {
		return nil, fmt.Errorf("partition_manager: extension %q manages schema %q, but this exporter writes to %q", id, manager.Schema(), e.cfg.Schema)
	}
	return manager, nil
}

func (e *pgExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	var b rowBatch
	appendTraces(&b, td, e.payloads)
	return e.commit(ctx, &b)
}

func (e *pgExporter) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	var b rowBatch
	appendMetrics(&b, md)
	return e.commit(ctx, &b)
}

func (e *pgExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	var b rowBatch
	appendLogs(&b, ld)
	return e.commit(ctx, &b)
}

// commit writes the batch and, once it is written, counts what the mapping
// dropped or kept out of columns (once per delivered batch, not per attempt).
func (e *pgExporter) commit(ctx context.Context, b *rowBatch) error {
	err := classifyError(e.writer.commitBatch(ctx, b))
	if err != nil {
		return err
	}
	e.unmapped.report(ctx, &b.unmapped)
	for k, n := range b.notPromoted {
		e.telemetry.ExporterMcppgValuesNotPromoted.Add(ctx, n, metric.WithAttributes(
			attribute.String("table", k.table), attribute.String("attribute", k.attribute)))
	}
	return nil
}
