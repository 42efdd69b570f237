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
	stageSQL  [numTables]string // creates the temp table once per connection
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
		w.stageSQL[id] = fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", stage, target)
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

// commitBatch writes every row of b in one transaction. A unique violation
// means part of the batch was committed before (a replay): the batch is then
// written again through the dedupe path, which skips what is already there.
func (w *pgWriter) commitBatch(ctx context.Context, b *rowBatch) error {
	if b.len() == 0 && len(b.rejected) == 0 {
		return nil
	}
	if err := w.ensureSchema(ctx); err != nil {
		return err
	}
	err := w.copyBatch(ctx, b, false)
	if isUniqueViolation(err) {
		w.logger.Debug("batch overlaps committed rows; writing through the dedupe path", zap.Error(err))
		err = w.copyBatch(ctx, b, true)
	}
	return err
}

func (w *pgWriter) copyBatch(ctx context.Context, b *rowBatch, dedupe bool) error {
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		for id := range tables {
			rows := b.rows[id]
			if len(rows) == 0 {
				continue
			}
			if w.upsertSQL[id] != "" {
				if err := w.upsertRows(ctx, tx, tableID(id), rows); err != nil {
					return err
				}
				continue
			}
			if !dedupe {
				if _, err := tx.CopyFrom(ctx, w.target[id], tables[id].columns, pgx.CopyFromRows(rows)); err != nil {
					return fmt.Errorf("copy into %s: %w", tables[id].name, err)
				}
				continue
			}
			if _, err := tx.Exec(ctx, w.stageSQL[id]); err != nil {
				return fmt.Errorf("create staging table for %s: %w", tables[id].name, err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{w.stageName[id]}, tables[id].columns, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy into staging table for %s: %w", tables[id].name, err)
			}
			if _, err := tx.Exec(ctx, w.mergeSQL[id]); err != nil {
				return fmt.Errorf("merge into %s: %w", tables[id].name, err)
			}
		}
		return w.copyRejected(ctx, tx, b.rejected)
	})
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
