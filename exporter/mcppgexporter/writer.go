package mcppgexporter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr"
	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// pgWriter commits row batches: one transaction per batch, binary COPY per
// table, and a dedupe path that recognises rows already committed.
type pgWriter struct {
	pool        *pgxpool.Pool
	schemaName  string
	applySchema bool
	manager     partitionmgr.Manager // nil without a partition manager
	logger      *zap.Logger

	schemaMu    sync.Mutex
	schemaReady atomic.Bool

	target    [numTables]pgx.Identifier
	stageName [numTables]string // session temp table of the dedupe path
	stageSQL  [numTables]string // creates the temp table once per connection, empties it
	mergeSQL  [numTables]string // inserts staged rows that are not there yet
	upsertSQL [numTables]string // merges one row of an upsert table

	rejectSQL string
	knownSQL  string // which fingerprints rejected_event holds already

	isolationMu sync.Mutex
	isolation   [numTables]*isolation // built from the catalog on first use

	window EventTimeConfig  // plausible event times
	now    func() time.Time // the clock the window is measured from
	// budget bounds one attempt of the isolate path (see deadlineBudget).
	budget func(ctx context.Context) isolationBudget

	telemetry *metadata.TelemetryBuilder
	tableAttr [numTables]metric.AddOption // table=<name>, built once
}

func newPGWriter(pool *pgxpool.Pool, schemaName string, applySchema bool, manager partitionmgr.Manager,
	window EventTimeConfig, logger *zap.Logger, telemetry *metadata.TelemetryBuilder,
) *pgWriter {
	w := &pgWriter{pool: pool, schemaName: schemaName, applySchema: applySchema, manager: manager, logger: logger,
		telemetry: telemetry, window: window, now: time.Now, budget: deadlineBudget}
	for id, t := range tables {
		w.tableAttr[id] = metric.WithAttributeSet(attribute.NewSet(attribute.String("table", t.name)))
		w.target[id] = pgx.Identifier{schemaName, t.name}
		target := w.target[id].Sanitize()
		stage := pgx.Identifier{"mcp_stage_" + t.name}.Sanitize()
		cols := strings.Join(quoteAll(t.columns), ", ")
		w.stageName[id] = "mcp_stage_" + t.name
		// Emptied before each use: under savepoints a staging table can
		// still hold rows merged by an earlier, released savepoint.
		w.stageSQL[id] = fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DELETE ROWS; TRUNCATE %s", stage, target, stage)
		w.mergeSQL[id] = fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT DO NOTHING", target, cols, cols, stage)
		if t.upsert != "" {
			params := make([]string, len(t.columns))
			for i := range params {
				params[i] = "$" + strconv.Itoa(i+1)
			}
			w.upsertSQL[id] = fmt.Sprintf("INSERT INTO %s AS t (%s) VALUES (%s) %s", target, cols, strings.Join(params, ", "), t.upsert)
		}
	}
	rejected := pgx.Identifier{schemaName, "rejected_event"}.Sanitize()
	w.rejectSQL = "INSERT INTO " + rejected +
		" (fingerprint, target_table, sqlstate, reason, payload) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (fingerprint) DO NOTHING"
	w.knownSQL = "SELECT fingerprint FROM " + rejected + " WHERE fingerprint = ANY($1)"
	return w
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// errSchemaNotReady is the retryable answer while a partition manager has
// not applied the schema yet: the batch waits on the sending queue.
var errSchemaNotReady = errors.New("the partition manager has not applied the schema yet")

// ensureSchema makes sure the schema exists before the first write: a
// partition manager applies it, else the exporter does, once.
func (w *pgWriter) ensureSchema(ctx context.Context) error {
	if w.manager != nil {
		if !w.manager.SchemaReady() {
			return errSchemaNotReady
		}
		return nil
	}
	if !w.applySchema || w.schemaReady.Load() {
		return nil
	}
	w.schemaMu.Lock()
	defer w.schemaMu.Unlock()
	if w.schemaReady.Load() {
		return nil
	}
	applied, err := schema.Apply(ctx, w.pool, w.schemaName)
	if err != nil {
		return fmt.Errorf("apply schema %q: %w", w.schemaName, err)
	}
	if len(applied) > 0 {
		w.logger.Info("applied schema migrations", zap.String("schema", w.schemaName), zap.Ints("versions", applied))
	}
	w.schemaReady.Store(true)
	return nil
}

// writeMode is how a batch is written.
type writeMode int

const (
	// fastPath: plain COPY into the tables.
	fastPath writeMode = iota
	// dedupePath: COPY into a staging table, then insert what is not there
	// yet; after a unique violation (part of the batch was committed before).
	dedupePath
	// isolatePath: after the database refused a row as bad data. Each row
	// is inserted under its own exception block on the server, in one pass
	// per chunk of rows; the refused ones go to rejected_event and the rest
	// commits (isolate.go).
	isolatePath
)

var writePathNames = [...]string{fastPath: "fast", dedupePath: "dedupe", isolatePath: "isolate"}

// writeResult is what one committed batch did, for the telemetry.
type writeResult struct {
	written   [numTables]int64
	duplicate [numTables]int64
	refused   [numTables]int64 // rows the database refused, now in rejected
	known     [numTables]int64 // rows an earlier attempt recorded in rejected_event
	left      [numTables]int64 // rows the isolate path left for the next attempt
	rejected  []rejection
}

func (r *writeResult) leftOver() int64 {
	var n int64
	for _, l := range r.left {
		n += l
	}
	return n
}

// errIsolationIncomplete is the retryable answer of an isolate path that ran
// out of its time budget: what it had done is committed, and the next
// attempt goes on from there.
var errIsolationIncomplete = errors.New("isolating the rows the database refuses ran out of time")

// commitBatch writes every row of b in one transaction, trying the fast path
// first and falling back as the error asks.
func (w *pgWriter) commitBatch(ctx context.Context, b *rowBatch) error {
	b.screen(w.window, w.now())
	if b.len() == 0 && len(b.rejected) == 0 {
		return nil
	}
	if err := w.ensureSchema(ctx); err != nil {
		w.recordFailure(ctx, err)
		return err
	}
	// The commit duration starts once a connection is ours: waiting for the
	// pool is contention, not the database's time (see the pool gauge).
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		w.recordFailure(ctx, err)
		return err
	}
	defer conn.Release()
	start := time.Now()
	mode := fastPath
	res, err := w.writeBatch(ctx, conn, b, mode)
	if isMissingPartitionError(err) && w.manager != nil {
		w.logger.Info("a row has no partition; asking the partition manager for it", zap.Error(err))
		if ensureErr := w.ensurePartitions(ctx, b); ensureErr != nil {
			w.recordFailure(ctx, ensureErr)
			return errors.Join(err, ensureErr)
		}
		res, err = w.writeBatch(ctx, conn, b, mode)
	}
	if isUniqueViolation(err) {
		w.logger.Debug("batch overlaps committed rows; writing through the dedupe path", zap.Error(err))
		mode = dedupePath
		res, err = w.writeBatch(ctx, conn, b, mode)
	}
	if isBadData(err) {
		w.logger.Warn("batch holds rows the database refuses; isolating them into rejected_event", zap.Error(err))
		mode = isolatePath
		res, err = w.writeBatch(ctx, conn, b, mode)
	}
	if err != nil {
		w.recordFailure(ctx, err)
		return err
	}
	w.recordCommit(ctx, mode, time.Since(start), res)
	if left := res.leftOver(); left > 0 {
		w.logger.Warn("isolating refused rows ran out of time; committed what was done, the rest is retried",
			zap.Int64("rows_left", left), zap.Int("rejected", len(res.rejected)))
		return fmt.Errorf("%w: %d rows left for the next attempt", errIsolationIncomplete, left)
	}
	return nil
}

func (w *pgWriter) recordFailure(ctx context.Context, err error) {
	w.telemetry.ExporterMcppgCommitFailures.Add(ctx, 1,
		metric.WithAttributes(attribute.Bool("retryable", !isBadData(err))))
}

func (w *pgWriter) recordCommit(ctx context.Context, mode writeMode, took time.Duration, res writeResult) {
	t := w.telemetry
	path := metric.WithAttributeSet(attribute.NewSet(attribute.String("path", writePathNames[mode])))
	t.ExporterMcppgCommitDuration.Record(ctx, took.Seconds(), path)
	if mode != fastPath {
		t.ExporterMcppgBatchFallbacks.Add(ctx, 1, path)
	}
	for id := range tables {
		if n := res.written[id]; n > 0 {
			t.ExporterMcppgRowsWritten.Add(ctx, n, w.tableAttr[id])
		}
		if n := res.duplicate[id]; n > 0 {
			t.ExporterMcppgRowsDuplicate.Add(ctx, n, w.tableAttr[id])
		}
	}
	for _, r := range res.rejected {
		t.ExporterMcppgRowsRejected.Add(ctx, 1, metric.WithAttributes(attribute.String("table", r.table),
			attribute.String("cause", r.cause)))
	}
}

func (w *pgWriter) writeBatch(ctx context.Context, conn *pgxpool.Conn, b *rowBatch, mode writeMode) (writeResult, error) {
	var res writeResult
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Clipped: appending refusals must not write into b's array.
		res = writeResult{rejected: slices.Clip(b.rejected)}
		var iso *isolateRun
		if mode == isolatePath {
			var err error
			if iso, err = w.startIsolation(ctx, tx, b); err != nil {
				return err
			}
		}
		for id := range tables {
			rows := b.rows[id]
			if len(rows) == 0 {
				continue
			}
			var err error
			switch mode {
			case fastPath, dedupePath:
				res.written[id], err = w.writeRows(ctx, tx, tableID(id), rows, mode == dedupePath)
			case isolatePath:
				err = w.isolateRows(ctx, tx, tableID(id), iso, &res)
			}
			if err != nil {
				return err
			}
			res.duplicate[id] = int64(len(rows)) - res.written[id] - res.refused[id] - res.known[id] - res.left[id]
		}
		return w.copyRejected(ctx, tx, res.rejected)
	})
	return res, err
}

// writeRows writes the rows of one table: upsert tables statement by
// statement, the others by COPY, straight into the table or through the
// staging table that skips rows already there. It returns the rows inserted
// (or merged, for upsert tables).
func (w *pgWriter) writeRows(ctx context.Context, tx pgx.Tx, id tableID, rows [][]any, dedupe bool) (int64, error) {
	name := tables[id].name
	switch {
	case w.upsertSQL[id] != "":
		return int64(len(rows)), w.upsertRows(ctx, tx, id, rows)
	case !dedupe:
		n, err := tx.CopyFrom(ctx, w.target[id], tables[id].columns, pgx.CopyFromRows(rows))
		if err != nil {
			return 0, fmt.Errorf("copy into %s: %w", name, err)
		}
		return n, nil
	}
	if _, err := tx.Exec(ctx, w.stageSQL[id]); err != nil {
		return 0, fmt.Errorf("prepare staging table for %s: %w", name, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{w.stageName[id]}, tables[id].columns, pgx.CopyFromRows(rows)); err != nil {
		return 0, fmt.Errorf("copy into staging table for %s: %w", name, err)
	}
	tag, err := tx.Exec(ctx, w.mergeSQL[id])
	if err != nil {
		return 0, fmt.Errorf("merge into %s: %w", name, err)
	}
	return tag.RowsAffected(), nil
}

// upsertRows merges rows of an upsert table, one statement each, in one
// round trip; each statement sees the effect of the previous ones.
func (w *pgWriter) upsertRows(ctx context.Context, tx pgx.Tx, id tableID, rows [][]any) error {
	batch := &pgx.Batch{}
	for _, row := range rows {
		batch.Queue(w.upsertSQL[id], row...)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("upsert into %s: %w", tables[id].name, err)
	}
	return nil
}

// copyRejected records refused items with their reason, once each.
func (w *pgWriter) copyRejected(ctx context.Context, tx pgx.Tx, rejected []rejection) error {
	if len(rejected) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, r := range rejected {
		batch.Queue(w.rejectSQL, r.fingerprint(), r.table, textOrNil(r.sqlstate), r.reason, r.payload)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("insert into rejected_event: %w", err)
	}
	return nil
}

// ensurePartitions asks the partition manager for the partitions holding
// every row of the batch's partitioned tables (by their time column, ts).
func (w *pgWriter) ensurePartitions(ctx context.Context, b *rowBatch) error {
	for id, t := range tables {
		if _, partitioned := schema.PartitionedTables[t.name]; !partitioned || len(b.rows[id]) == 0 {
			continue
		}
		times := make([]time.Time, 0, len(b.rows[id]))
		for _, row := range b.rows[id] {
			if ts, ok := row[t.timeColumn].(time.Time); ok {
				times = append(times, ts)
			}
		}
		if err := w.manager.EnsurePartitions(ctx, t.name, times...); err != nil {
			return fmt.Errorf("ensure partitions of %s: %w", t.name, err)
		}
	}
	return nil
}
