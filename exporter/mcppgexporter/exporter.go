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
	"go.uber.org/zap"
)

// pgExporter owns the connection pool and the writer; the traces, logs and
// metrics exporters of one component share it (see sharedExporters).
type pgExporter struct {
	cfg    *Config
	logger *zap.Logger
	pool   *pgxpool.Pool
	writer *pgWriter

	mu      sync.Mutex
	started int // signals started and not yet shut down
}

func newPGExporter(cfg *Config, set exporter.Settings) *pgExporter {
	return &pgExporter{cfg: cfg, logger: set.Logger}
}

// sharedExporters hands the signals of one configured component the same
// pgExporter; the collector passes them the same *Config.
var sharedExporters = struct {
	sync.Mutex
	m map[*Config]*pgExporter
}{m: map[*Config]*pgExporter{}}

func sharedExporter(cfg *Config, set exporter.Settings) *pgExporter {
	sharedExporters.Lock()
	defer sharedExporters.Unlock()
	e, ok := sharedExporters.m[cfg]
	if !ok {
		e = newPGExporter(cfg, set)
		sharedExporters.m[cfg] = e
	}
	return e
}

// start opens the pool for the first signal that starts; the others reuse it.
func (e *pgExporter) start(ctx context.Context, host component.Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.started++
	if e.started > 1 {
		return nil
	}
	return e.openPool(ctx, host)
}

// shutdown closes the pool when the last signal has shut down, after its
// exporterhelper has drained (or persisted) its queue.
func (e *pgExporter) shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started == 0 {
		return nil
	}
	e.started--
	if e.started > 0 {
		return nil
	}
	sharedExporters.Lock()
	if sharedExporters.m[e.cfg] == e {
		delete(sharedExporters.m, e.cfg)
	}
	sharedExporters.Unlock()
	if e.pool != nil {
		e.pool.Close()
		e.pool = nil
	}
	return nil
}

// openPool creates the pool without connecting: the collector starts while
// PostgreSQL is down, and the data waits on the sending queue until it is back.
func (e *pgExporter) openPool(_ context.Context, _ component.Host) error {
	poolCfg, err := pgxpool.ParseConfig(string(e.cfg.DSN))
	if err != nil {
		return fmt.Errorf("dsn: %w", err)
	}
	poolCfg.MaxConns = e.cfg.poolSize()
	poolCfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		return err
	}
	e.pool = pool
	e.writer = newPGWriter(pool, e.cfg.Schema, e.cfg.ApplySchema, e.logger)
	e.logger.Info("mcppg exporter started",
		zap.String("host", poolCfg.ConnConfig.Host), zap.String("database", poolCfg.ConnConfig.Database),
		zap.String("schema", e.cfg.Schema), zap.Int32("max_conns", poolCfg.MaxConns))
	return nil
}

func (e *pgExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	var b rowBatch
	appendTraces(&b, td)
	return classifyError(e.writer.commitBatch(ctx, &b))
}

func (e *pgExporter) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	var b rowBatch
	appendMetrics(&b, md)
	return classifyError(e.writer.commitBatch(ctx, &b))
}

func (e *pgExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	var b rowBatch
	appendLogs(&b, ld)
	if b.unmapped > 0 {
		e.logger.Debug("dropped log records of no known kind", zap.Int("records", b.unmapped))
	}
	return classifyError(e.writer.commitBatch(ctx, &b))
}
