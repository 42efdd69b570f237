package partitionmgr

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// The per-minute rollups (schema/0005_rollups.sql). Triggers on the source
// tables queue the minutes each insert touched in rollup_dirty; the refresh
// takes the queue and recomputes those minutes from the raw rows, in one
// transaction, so a rollup always equals a GROUP BY over the rows it was
// built from (docs/queries.md, "Rollups").

// rollupLockKey is held, for one transaction, by the collector refreshing
// the rollups of a schema; it is not the leader lock of the partition runs,
// so neither waits for the other.
func rollupLockKey(schemaName string) int64 { return schema.LockKey(schemaName + "/rollup-refresh") }

// rollupSources are the partitioned source tables of rollup_refresh's
// *_since parameters, in their order.
var rollupSources = []string{"routing_log", "tool_call_record", "health_check_record"}

// rollupCount is what one refresh did with the queued minutes of one rollup.
type rollupCount struct {
	rollup    string
	refreshed int64
	frozen    int64
}

// refreshRollups recomputes the queued minutes that ended by endedBy (the
// zero time: every one) unless another collector is refreshing (skipped is
// then true). A minute before the cut-off of its
// source table's retention (the start of the period holding now - retention,
// where retention removes rows) is taken off the queue and left as it is: its
// raw rows may be gone.
func (m *maintainer) refreshRollups(ctx context.Context, now, endedBy time.Time) (counts []rollupCount, skipped bool, err error) {
	args := make([]any, len(rollupSources), len(rollupSources)+1) // the *_since bounds, then ended_by
	for i, table := range rollupSources {
		var bound *time.Time
		if plan, ok := m.tables[table]; ok {
			if start, ok := m.retentionCutoff(plan, now); ok {
				bound = &start
			}
		}
		args[i] = bound
	}
	var ended *time.Time
	if !endedBy.IsZero() {
		ended = &endedBy
	}
	args = append(args, ended)
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", rollupLockKey(m.schemaName)).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			skipped = true
			return nil
		}
		rows, err := tx.Query(ctx, "SELECT kind, refreshed, frozen FROM "+
			pgx.Identifier{m.schemaName, "rollup_refresh"}.Sanitize()+"($1, $2, $3, $4)", args...)
		if err != nil {
			return err
		}
		counts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (rollupCount, error) {
			var c rollupCount
			err := r.Scan(&c.rollup, &c.refreshed, &c.frozen)
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("refresh rollups: %w", err)
	}
	return counts, skipped, nil
}

// rollupLoop refreshes the rollups at once and then every rollups::interval
// until ctx ends. A failed refresh leaves the queue as it was (its
// transaction rolled back); the next one takes it.
func (pm *partitionManager) rollupLoop(ctx context.Context) {
	for {
		pm.refreshRollups(ctx)
		select {
		case <-ctx.Done():
			return
		case <-pm.clock.After(pm.cfg.Rollups.Interval):
		}
	}
}

func (pm *partitionManager) refreshRollups(ctx context.Context) {
	started := time.Now()
	now := pm.clock.Now()
	counts, skipped, err := pm.m.refreshRollups(ctx, now, now.Add(-pm.cfg.Rollups.Delay))
	if ctx.Err() != nil {
		return // shutting down: not a failure
	}
	t := pm.telemetry
	record := context.WithoutCancel(ctx)
	result := "ok"
	switch {
	case err != nil:
		result = "failed"
		pm.logger.Warn("rollup refresh failed; the queued minutes wait for the next one", zap.Error(err),
			zap.Duration("retry_in", pm.cfg.Rollups.Interval))
	case skipped:
		result = "skipped"
	default:
		t.PartitionmgrRollupRefreshDuration.Record(record, time.Since(started).Seconds())
		for _, c := range counts {
			if c.refreshed > 0 {
				t.PartitionmgrRollupMinutes.Add(record, c.refreshed, metric.WithAttributes(
					attribute.String("rollup", c.rollup), attribute.String("outcome", "refreshed")))
			}
			if c.frozen > 0 {
				t.PartitionmgrRollupMinutes.Add(record, c.frozen, metric.WithAttributes(
					attribute.String("rollup", c.rollup), attribute.String("outcome", "frozen")))
				pm.logger.Warn("rows arrived for minutes older than their table's retention; their rollups are left as they were",
					zap.String("rollup", c.rollup), zap.Int64("minutes", c.frozen))
			}
		}
		pm.markSuccess(rollupJob, now)
	}
	t.PartitionmgrRollupRefreshes.Add(record, 1, metric.WithAttributes(attribute.String("result", result)))
}
