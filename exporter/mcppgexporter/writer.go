package mcppgexporter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// pgWriter commits row batches: one transaction per batch, binary COPY per
// table, and a dedupe path that recognises rows already committed.
type pgWriter struct {
	pool        *pgxpool.Pool
	schemaName  string
	applySchema bool
	logger      *zap.Logger

	schemaMu    sync.Mutex
	schemaReady atomic.Bool

	target    [numTables]pgx.Identifier
	stageName [numTables]string // session temp table of the dedupe path
	stageSQL  [numTables]string // creates the temp table once per connection, empties it
	mergeSQL  [numTables]string // inserts staged rows that are not there yet
	upsertSQL [numTables]string // merges one row of an upsert table

	rejectSQL string
}

func newPGWriter(pool *pgxpool.Pool, schemaName string, applySchema bool, logger *zap.Logger) *pgWriter {
	w := &pgWriter{pool: pool, schemaName: schemaName, applySchema: applySchema, logger: logger}
	for id, t := range tables {
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
	w.rejectSQL = "INSERT INTO " + pgx.Identifier{schemaName, "rejected_event"}.Sanitize() +
		" (fingerprint, target_table, sqlstate, reason, payload) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (fingerprint) DO NOTHING"
	return w
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// ensureSchema applies the migrations once, before the first write.
func (w *pgWriter) ensureSchema(ctx context.Context) error {
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
	// isolatePath: the dedupe path under savepoints, halving the rows of a
	// table until each row the database refuses as bad data stands alone;
	// those go to rejected_event and the rest commits.
	isolatePath
)

// commitBatch writes every row of b in one transaction, trying the fast path
// first and falling back as the error asks.
func (w *pgWriter) commitBatch(ctx context.Context, b *rowBatch) error {
	if b.len() == 0 && len(b.rejected) == 0 {
		return nil
	}
	if err := w.ensureSchema(ctx); err != nil {
		return err
	}
	err := w.writeBatch(ctx, b, fastPath)
	if isUniqueViolation(err) {
		w.logger.Debug("batch overlaps committed rows; writing through the dedupe path", zap.Error(err))
		err = w.writeBatch(ctx, b, dedupePath)
	}
	if isBadData(err) {
		w.logger.Warn("batch holds rows the database refuses; isolating them into rejected_event", zap.Error(err))
		err = w.writeBatch(ctx, b, isolatePath)
	}
	return err
}

func (w *pgWriter) writeBatch(ctx context.Context, b *rowBatch, mode writeMode) error {
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		rejected := b.rejected
		for id := range tables {
			rows := b.rows[id]
			if len(rows) == 0 {
				continue
			}
			var err error
			switch mode {
			case fastPath:
				err = w.writeRows(ctx, tx, tableID(id), rows, false)
			case dedupePath:
				err = w.writeRows(ctx, tx, tableID(id), rows, true)
			case isolatePath:
				rejected, err = w.isolateRows(ctx, tx, tableID(id), rows, rejected)
			}
			if err != nil {
				return err
			}
		}
		return w.copyRejected(ctx, tx, rejected)
	})
}

// writeRows writes the rows of one table: upsert tables statement by
// statement, the others by COPY, straight into the table or through the
// staging table that skips rows already there.
func (w *pgWriter) writeRows(ctx context.Context, tx pgx.Tx, id tableID, rows [][]any, dedupe bool) error {
	name := tables[id].name
	switch {
	case w.upsertSQL[id] != "":
		return w.upsertRows(ctx, tx, id, rows)
	case !dedupe:
		if _, err := tx.CopyFrom(ctx, w.target[id], tables[id].columns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", name, err)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, w.stageSQL[id]); err != nil {
		return fmt.Errorf("prepare staging table for %s: %w", name, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{w.stageName[id]}, tables[id].columns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy into staging table for %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, w.mergeSQL[id]); err != nil {
		return fmt.Errorf("merge into %s: %w", name, err)
	}
	return nil
}

// isolateRows writes rows under a savepoint; when the database refuses them
// as bad data it splits them in halves and tries each, down to single rows,
// which are added to rejected. Any other error ends the transaction.
func (w *pgWriter) isolateRows(ctx context.Context, tx pgx.Tx, id tableID, rows [][]any, rejected []rejection) ([]rejection, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return rejected, err
	}
	err = w.writeRows(ctx, sp, id, rows, true)
	if err == nil {
		return rejected, sp.Commit(ctx)
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil {
		return rejected, rbErr
	}
	if !isBadData(err) {
		return rejected, err
	}
	if len(rows) == 1 {
		var pgErr *pgconn.PgError
		errors.As(err, &pgErr)
		return append(rejected, rejection{
			table: tables[id].name, sqlstate: pgErr.Code, reason: refusalReason(pgErr),
			payload: rowPayload(tables[id].columns, rows[0]),
		}), nil
	}
	half := len(rows) / 2
	if rejected, err = w.isolateRows(ctx, tx, id, rows[:half], rejected); err != nil {
		return rejected, err
	}
	return w.isolateRows(ctx, tx, id, rows[half:], rejected)
}

// refusalReason is what the database said about a refused row.
func refusalReason(pgErr *pgconn.PgError) string {
	reason := pgErr.Message
	if pgErr.ColumnName != "" {
		reason += " (column " + pgErr.ColumnName + ")"
	}
	if pgErr.Detail != "" {
		reason += ": " + pgErr.Detail
	}
	if pgErr.Where != "" {
		reason += " [" + strings.ReplaceAll(pgErr.Where, "\n", "; ") + "]"
	}
	return reason
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

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
