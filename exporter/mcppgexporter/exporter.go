package mcppgexporter

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// pgExporter owns the connection pool and the writer shared by the signals.
type pgExporter struct {
	cfg    *Config
	logger *zap.Logger
	pool   *pgxpool.Pool
	writer *pgWriter
}

func newPGExporter(cfg *Config, set exporter.Settings) *pgExporter {
	return &pgExporter{cfg: cfg, logger: set.Logger}
}

// start creates the pool without connecting: the collector starts while
// PostgreSQL is down, and the data waits on the sending queue until it is back.
func (e *pgExporter) start(_ context.Context, _ component.Host) error {
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

// shutdown closes the pool after exporterhelper has drained (or persisted)
// the queue.
func (e *pgExporter) shutdown(context.Context) error {
	if e.pool != nil {
		e.pool.Close()
	}
	return nil
}

func (e *pgExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	var b rowBatch
	appendTraces(&b, td)
	return classifyError(e.writer.commitBatch(ctx, &b))
}
