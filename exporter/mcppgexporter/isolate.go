package mcppgexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The isolate path. It runs after PostgreSQL refused a row of the batch as
// bad data, and finds every such row in one pass per chunk of rows:
//
//   - Rows an earlier attempt recorded in rejected_event (by fingerprint)
//     are skipped, so an attempt that ran out of time is not repeated.
//   - A chunk is copied into a staging table whose text, jsonb and text[]
//     columns are bytea (bytea[]): COPY cannot refuse a row there.
//   - Tables written by COPY first try the chunk in one INSERT ... SELECT
//     under a savepoint; most chunks of a batch with a few bad rows pass.
//   - Otherwise, and for the upsert tables, a DO block inserts the chunk row
//     by row, in order, each under its own exception block; it converts the
//     bytea back to text and jsonb there, so every refusal (class 22, 23 but
//     a missing partition, 54) is caught for its own row, and records the
//     refusals in a temporary table the exporter reads back.
//   - Between chunks the attempt's budget is checked: past it, what is done
//     commits and the attempt answers errIsolationIncomplete (retryable).
//
// Rows the exporter can tell are unstorable never get here (screen).

// isolateChunk is the most rows one pass stages.
const isolateChunk = 1000

// isolationBudget says, from the number of rows this attempt has put
// through the row-by-row loop, whether it must stop starting new chunks.
type isolationBudget func(slowRows int) bool

// deadlineBudget gives the isolate path half of the time left before the
// attempt's deadline (the exporter's timeout), keeping the other half for
// writing rejected_event and committing; without a deadline it never stops.
func deadlineBudget(ctx context.Context) isolationBudget {
	deadline, ok := ctx.Deadline()
	if !ok {
		return func(int) bool { return false }
	}
	end := time.Now().Add(time.Until(deadline) / 2)
	return func(int) bool { return time.Now().After(end) }
}

// columnKind is how the isolate path stages a column.
type columnKind int

const (
	plainColumn     columnKind = iota // staged in its own type
	textColumn                        // text, staged as bytea
	jsonbColumn                       // jsonb, staged as bytea
	textArrayColumn                   // text[], staged as bytea[]
)

// isolation holds the isolate path's statements for one table.
type isolation struct {
	stage    string       // the staging table's name
	stageSQL string       // creates the staging tables once per connection, empties them
	columns  []string     // the staging table's columns: mcp_ord, then the table's
	kinds    []columnKind // per column of the table
	mergeSQL string       // the chunk in one statement; "" for upsert tables
	loopSQL  string       // the chunk row by row (a DO block)
}

const isolateRefused = "pg_temp.mcp_isolate_refused"

// isolationFor builds the statements of table id from the catalog, once.
func (w *pgWriter) isolationFor(ctx context.Context, tx pgx.Tx, id tableID) (*isolation, error) {
	w.isolationMu.Lock()
	defer w.isolationMu.Unlock()
	if iso := w.isolation[id]; iso != nil {
		return iso, nil
	}
	t := tables[id]
	rows, err := tx.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, w.target[id].Sanitize())
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", t.name, err)
	}
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		types[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	iso := &isolation{stage: "mcp_isolate_" + t.name, columns: append([]string{"mcp_ord"}, t.columns...)}
	stage := "pg_temp." + pgx.Identifier{iso.stage}.Sanitize()
	defs := []string{"mcp_ord integer"}
	fromStage := make([]string, len(t.columns)) // expressions over the staging table's row s
	fromLoop := make([]string, len(t.columns))  // over the loop's record mcp_r
	for i, col := range t.columns {
		typ, ok := types[col]
		if !ok {
			return nil, fmt.Errorf("%s has no column %s: the schema is older than the exporter", t.name, col)
		}
		kind, stageType := plainColumn, typ
		switch typ {
		case "text":
			kind, stageType = textColumn, "bytea"
		case "jsonb":
			kind, stageType = jsonbColumn, "bytea"
		case "text[]":
			kind, stageType = textArrayColumn, "bytea[]"
		}
		iso.kinds = append(iso.kinds, kind)
		quoted := pgx.Identifier{col}.Sanitize()
		defs = append(defs, quoted+" "+stageType)
		fromStage[i] = fromBytea(kind, "s."+quoted)
		fromLoop[i] = fromBytea(kind, "mcp_r."+quoted)
	}
	iso.stageSQL = fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s (%s) ON COMMIT DELETE ROWS; TRUNCATE %s;
		CREATE TEMP TABLE IF NOT EXISTS mcp_isolate_refused (ord integer, sqlstate text, message text, detail text,
			column_name text, context text) ON COMMIT DELETE ROWS; TRUNCATE %s`,
		stage, strings.Join(defs, ", "), stage, isolateRefused)
	target := w.target[id].Sanitize()
	cols := strings.Join(quoteAll(t.columns), ", ")
	onConflict := t.upsert
	if onConflict == "" {
		onConflict = "ON CONFLICT DO NOTHING"
		iso.mergeSQL = fmt.Sprintf("INSERT INTO %s AS t (%s) SELECT %s FROM %s AS s %s",
			target, cols, strings.Join(fromStage, ", "), stage, onConflict)
	}
	// The handler catches data errors only: anything else (a lost
	// connection, a full disk, a deadlock) ends the attempt, to be retried.
	// A missing partition is raised again for the exporter to ask for it.
	iso.loopSQL = fmt.Sprintf(`DO $mcp_isolate$
DECLARE
	mcp_r record;
	mcp_n bigint;
	mcp_written bigint := 0;
	mcp_state text;
	mcp_message text;
	mcp_detail text;
	mcp_column text;
	mcp_context text;
BEGIN
	FOR mcp_r IN SELECT * FROM %s ORDER BY mcp_ord LOOP
		BEGIN
			INSERT INTO %s AS t (%s) VALUES (%s) %s;
			GET DIAGNOSTICS mcp_n = ROW_COUNT;
			mcp_written := mcp_written + mcp_n;
		EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
			GET STACKED DIAGNOSTICS mcp_state = RETURNED_SQLSTATE, mcp_message = MESSAGE_TEXT,
				mcp_detail = PG_EXCEPTION_DETAIL, mcp_column = COLUMN_NAME, mcp_context = PG_EXCEPTION_CONTEXT;
			IF mcp_state = '%s' AND mcp_message LIKE '%s %%' THEN
				RAISE;
			END IF;
			INSERT INTO %s VALUES (mcp_r.mcp_ord, mcp_state, mcp_message, mcp_detail, mcp_column, mcp_context);
		END;
	END LOOP;
	INSERT INTO %s (ord, message) VALUES (-1, mcp_written::text);
END
$mcp_isolate$`, stage, target, cols, strings.Join(fromLoop, ", "), onConflict, sqlstateCheckViolation, missingPartitionMessage,
		isolateRefused, isolateRefused)
	w.isolation[id] = iso
	return iso, nil
}

// fromBytea turns a staged value back into the column's type.
func fromBytea(kind columnKind, ref string) string {
	switch kind {
	case textColumn:
		return "convert_from(" + ref + ", 'UTF8')"
	case jsonbColumn:
		return "convert_from(" + ref + ", 'UTF8')::jsonb"
	case textArrayColumn:
		return "CASE WHEN cardinality(" + ref + ") = 0 THEN '{}'::text[] ELSE (SELECT array_agg(convert_from(mcp_x, 'UTF8') ORDER BY mcp_i) FROM unnest(" +
			ref + ") WITH ORDINALITY AS mcp_u(mcp_x, mcp_i)) END"
	}
	return ref
}

// stageRow is row as the staging table takes it, numbered ord.
func (iso *isolation) stageRow(ord int, row []any) []any {
	out := make([]any, len(row)+1)
	out[0] = int32(ord)
	for i, v := range row {
		switch iso.kinds[i] {
		case textColumn, jsonbColumn:
			switch v := v.(type) {
			case string:
				out[i+1] = []byte(v)
			case json.RawMessage:
				out[i+1] = []byte(v)
			default:
				out[i+1] = v
			}
		case textArrayColumn:
			if ss, ok := v.([]string); ok && ss != nil { // nil stays NULL, as on the fast path
				bs := make([][]byte, len(ss))
				for j, s := range ss {
					bs[j] = []byte(s)
				}
				out[i+1] = bs
			} else {
				out[i+1] = v
			}
		default:
			out[i+1] = v
		}
	}
	return out
}

// isolateRun is one attempt of the isolate path over a batch.
type isolateRun struct {
	b        *rowBatch
	budget   isolationBudget
	chunks   int                 // chunks done by this attempt
	slowRows int                 // rows this attempt put through the row-by-row loop
	stopped  bool                // the budget is spent
	payloads [numTables][]string // each row as rejected_event would keep it
	fps      [numTables][]string // and its fingerprint there
	known    map[string]struct{} // fingerprints rejected_event holds already
}

// startIsolation renders every row as a rejected_event payload and finds
// the ones an earlier attempt recorded already.
func (w *pgWriter) startIsolation(ctx context.Context, tx pgx.Tx, b *rowBatch) (*isolateRun, error) {
	run := &isolateRun{b: b, budget: w.budget(ctx), known: map[string]struct{}{}}
	var fingerprints []string
	for id, rows := range b.rows {
		run.payloads[id] = make([]string, len(rows))
		run.fps[id] = make([]string, len(rows))
		for i, row := range rows {
			run.payloads[id][i] = rowPayload(tables[id].columns, row)
			run.fps[id][i] = rejection{table: tables[id].name, payload: run.payloads[id][i]}.fingerprint()
		}
		fingerprints = append(fingerprints, run.fps[id]...)
	}
	rows, err := tx.Query(ctx, w.knownSQL, fingerprints)
	if err != nil {
		return nil, fmt.Errorf("look up earlier refusals: %w", err)
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up earlier refusals: %w", err)
	}
	for _, f := range known {
		run.known[f] = struct{}{}
	}
	return run, nil
}

// isolateRows writes the rows of table id through the isolate path. Chunks
// are fixed ranges of the batch's rows, so that on the next attempt the
// chunks an attempt finished hold only stored rows (its refusals are known
// then) and pass in one statement.
func (w *pgWriter) isolateRows(ctx context.Context, tx pgx.Tx, id tableID, run *isolateRun, res *writeResult) error {
	rows := run.b.rows[id]
	todo := make([]bool, len(rows))
	for i := range rows {
		_, known := run.known[run.fps[id][i]]
		todo[i] = !known
		if known {
			res.known[id]++
		}
	}
	var iso *isolation
	for start := 0; start < len(rows); start += isolateChunk {
		var chunk []int
		for i := start; i < min(start+isolateChunk, len(rows)); i++ {
			if todo[i] {
				chunk = append(chunk, i)
			}
		}
		if len(chunk) == 0 {
			continue
		}
		if run.stopped || (run.chunks > 0 && run.budget(run.slowRows)) {
			run.stopped = true
			res.left[id] += int64(len(chunk))
			continue
		}
		if iso == nil {
			var err error
			if iso, err = w.isolationFor(ctx, tx, id); err != nil {
				return err
			}
		}
		run.chunks++
		if err := w.isolateChunk(ctx, tx, id, iso, chunk, run, res); err != nil {
			return err
		}
	}
	return nil
}

func (w *pgWriter) isolateChunk(ctx context.Context, tx pgx.Tx, id tableID, iso *isolation, chunk []int, run *isolateRun, res *writeResult) error {
	t := tables[id]
	rows := run.b.rows[id]
	if _, err := tx.Exec(ctx, iso.stageSQL); err != nil {
		return fmt.Errorf("prepare isolation of %s: %w", t.name, err)
	}
	staged := make([][]any, len(chunk))
	for ord, i := range chunk {
		staged[ord] = iso.stageRow(ord, rows[i])
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", iso.stage}, iso.columns, pgx.CopyFromRows(staged)); err != nil {
		return fmt.Errorf("copy into isolation table for %s: %w", t.name, err)
	}
	if iso.mergeSQL != "" {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		tag, err := sp.Exec(ctx, iso.mergeSQL)
		if err == nil {
			if err = sp.Commit(ctx); err != nil {
				return err
			}
			res.written[id] += tag.RowsAffected()
			return nil
		}
		if rbErr := sp.Rollback(ctx); rbErr != nil {
			return rbErr
		}
		if !isBadData(err) {
			return fmt.Errorf("merge into %s: %w", t.name, err)
		}
	}
	run.slowRows += len(chunk)
	if _, err := tx.Exec(ctx, iso.loopSQL); err != nil {
		return fmt.Errorf("insert rows of %s one by one: %w", t.name, err)
	}
	found, err := tx.Query(ctx, "SELECT ord, coalesce(sqlstate, ''), message, coalesce(detail, ''), coalesce(column_name, ''), coalesce(context, '') FROM "+
		isolateRefused+" ORDER BY ord")
	if err != nil {
		return fmt.Errorf("read the refusals of %s: %w", t.name, err)
	}
	type refused struct {
		ord                                      int32
		sqlstate, message, detail, column, where string
	}
	list, err := pgx.CollectRows(found, func(r pgx.CollectableRow) (refused, error) {
		var f refused
		err := r.Scan(&f.ord, &f.sqlstate, &f.message, &f.detail, &f.column, &f.where)
		return f, err
	})
	if err != nil {
		return fmt.Errorf("read the refusals of %s: %w", t.name, err)
	}
	for _, f := range list {
		if f.ord < 0 {
			n, err := strconv.ParseInt(f.message, 10, 64)
			if err != nil {
				return fmt.Errorf("read the rows written into %s: %w", t.name, err)
			}
			res.written[id] += n
			continue
		}
		res.refused[id]++
		res.rejected = append(res.rejected, rejection{
			table: t.name, cause: causeDatabase, sqlstate: f.sqlstate,
			reason:  refusalReason(f.message, f.column, f.detail, f.where),
			payload: run.payloads[id][chunk[f.ord]],
		})
	}
	return nil
}

// refusalReason is what the database said about a refused row: the message,
// column, detail and the parts of the context that describe the data (not
// the DO block's statement).
func refusalReason(message, column, detail, context string) string {
	reason := message
	if column != "" {
		reason += " (column " + column + ")"
	}
	if detail != "" {
		reason += ": " + detail
	}
	var where []string
	for _, line := range strings.Split(context, "\n") {
		if line == "" || strings.HasPrefix(line, "PL/pgSQL function ") || strings.HasPrefix(line, "SQL statement ") {
			continue
		}
		where = append(where, line)
	}
	if len(where) > 0 {
		reason += " [" + strings.Join(where, "; ") + "]"
	}
	return reason
}
