package partitionmgr

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// tablePlan is the resolved configuration of one partitioned table.
type tablePlan struct {
	interval  Interval
	premake   int
	retention time.Duration // 0: for ever
	expiry    Expiry
}

// maintainer runs the partition DDL against one schema.
type maintainer struct {
	pool          *pgxpool.Pool
	schemaName    string
	archiveSchema string
	loc           *time.Location
	tables        map[string]tablePlan
}

// ddlLockKey serialises partition DDL on a schema across collectors.
func ddlLockKey(schemaName string) int64 { return schema.LockKey(schemaName + "/partition-ddl") }

// leaderLockKey is held by the collector running a maintenance pass.
func leaderLockKey(schemaName string) int64 { return schema.LockKey(schemaName + "/partition-leader") }

// partitionInfo is an existing partition.
type partitionInfo struct {
	name     string
	from, to time.Time
}

// partitions lists the range partitions of table (not its DEFAULT).
func (m *maintainer) partitions(ctx context.Context, q pgx.Tx, table string) ([]partitionInfo, error) {
	rows, err := q.Query(ctx, `
		SELECT c.relname, b[1]::timestamptz, b[2]::timestamptz
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid,
		     regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\) TO \(''([^'']*)''\)') AS b
		WHERE i.inhparent = $1::regclass AND b IS NOT NULL`, pgx.Identifier{m.schemaName, table}.Sanitize())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (partitionInfo, error) {
		var p partitionInfo
		err := r.Scan(&p.name, &p.from, &p.to)
		return p, err
	})
}

// ensurePartition creates the partition of p for table unless a partition
// already covers any of its range. Rows of that range waiting in the DEFAULT
// partition are moved into it in the same transaction. It returns whether it
// created the partition and how many rows it moved.
func (m *maintainer) ensurePartition(ctx context.Context, table string, p period) (bool, int64, error) {
	var created bool
	var moved int64
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLockKey(m.schemaName)); err != nil {
			return err
		}
		existing, err := m.partitions(ctx, tx, table)
		if err != nil {
			return fmt.Errorf("list partitions of %s: %w", table, err)
		}
		for _, e := range existing {
			if e.from.Before(p.to) && p.from.Before(e.to) {
				return nil // covered already, by us or by hand
			}
		}
		parent := pgx.Identifier{m.schemaName, table}.Sanitize()
		def := pgx.Identifier{m.schemaName, schema.DefaultPartition(table)}.Sanitize()
		hasDefault, err := relationExists(ctx, tx, def)
		if err != nil {
			return err
		}
		// Rows of the range leave DEFAULT first: PostgreSQL refuses a new
		// partition while DEFAULT holds rows that belong to it.
		if hasDefault {
			// Block writers until the partition exists: an insert committed
			// between the DELETE below and the CREATE would put a row of the
			// range back into DEFAULT, and the CREATE would fail (23514,
			// "updated partition constraint for default partition ... would
			// be violated") on every retry while the range receives traffic.
			// CREATE ... PARTITION OF takes this lock on the parent anyway.
			if _, err = tx.Exec(ctx, "LOCK TABLE ONLY "+parent+" IN ACCESS EXCLUSIVE MODE"); err != nil {
				return err
			}
			if _, err = tx.Exec(ctx, "CREATE TEMP TABLE mcp_moving (LIKE "+parent+") ON COMMIT DROP"); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, "WITH moved AS (DELETE FROM "+def+" WHERE ts >= $1 AND ts < $2 RETURNING *) INSERT INTO mcp_moving SELECT * FROM moved", p.from, p.to)
			if err != nil {
				return fmt.Errorf("take rows of %s out of %s: %w", p.name, schema.DefaultPartition(table), err)
			}
			moved = tag.RowsAffected()
		}
		if _, err = tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s PARTITION OF %s FOR VALUES FROM (%s) TO (%s)",
			pgx.Identifier{m.schemaName, p.name}.Sanitize(), parent, timestampLiteral(p.from), timestampLiteral(p.to))); err != nil {
			return fmt.Errorf("create partition %s: %w", p.name, err)
		}
		if moved > 0 {
			cols, err := m.insertableColumns(ctx, tx, table)
			if err != nil {
				return err
			}
			if _, err = tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM mcp_moving", parent, cols, cols)); err != nil {
				return fmt.Errorf("move rows into %s: %w", p.name, err)
			}
		}
		created = true
		return nil
	})
	return created, moved, err
}

// insertableColumns lists the columns of table that take values (not
// generated), quoted and comma-separated.
func (m *maintainer) insertableColumns(ctx context.Context, tx pgx.Tx, table string) (string, error) {
	rows, err := tx.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass
		AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`, pgx.Identifier{m.schemaName, table}.Sanitize())
	if err != nil {
		return "", err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for i, n := range names {
		names[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(names, ", "), nil
}

// timestampLiteral renders t for a partition bound; the offset makes it exact
// whatever the session's time zone.
func timestampLiteral(t time.Time) string {
	return "'" + t.Format("2006-01-02 15:04:05.999999-07:00") + "'"
}

// createResult counts what a create pass did.
type createResult struct {
	created map[string]int
	moved   map[string]int64
}

// createAhead makes sure every table has partitions from the current period
// to premake periods ahead, and partitions for the rows waiting in DEFAULT
// that fall within retention and no later than that horizon.
func (m *maintainer) createAhead(ctx context.Context, now time.Time) (createResult, error) {
	res := createResult{created: map[string]int{}, moved: map[string]int64{}}
	var errs error
	for _, table := range sortedTables(m.tables) {
		plan := m.tables[table]
		want := map[time.Time]period{}
		p := plan.interval.periodOf(table, now, m.loc)
		for range plan.premake + 1 {
			want[p.from] = p
			next := plan.interval.Next(p.from)
			p = period{name: plan.interval.PartitionName(table, next), from: next, to: plan.interval.Next(next)}
		}
		horizon := p.from // end of the premade range
		waiting, err := m.defaultPeriods(ctx, table, plan.interval)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s: %w", table, err))
			continue
		}
		for _, start := range waiting {
			w := plan.interval.periodOf(table, start, m.loc)
			expired := plan.retention > 0 && !w.to.After(now.Add(-plan.retention))
			if !expired && w.from.Before(horizon) {
				want[w.from] = w
			}
		}
		for _, p := range sortedPeriods(want) {
			created, moved, err := m.ensurePartition(ctx, table, p)
			if err != nil {
				errs = errors.Join(errs, fmt.Errorf("%s: %w", table, err))
				continue
			}
			if created {
				res.created[table]++
			}
			res.moved[table] += moved
		}
	}
	return res, errs
}

// defaultPeriods returns the starts (in m.loc) of the periods of the rows
// waiting in table's DEFAULT partition.
func (m *maintainer) defaultPeriods(ctx context.Context, table string, iv Interval) ([]time.Time, error) {
	unit := map[Interval]string{Daily: "day", Weekly: "week", Monthly: "month"}[iv]
	def := pgx.Identifier{m.schemaName, schema.DefaultPartition(table)}.Sanitize()
	if exists, err := relationExists(ctx, m.pool, def); err != nil || !exists {
		return nil, err // an operator may have dropped the DEFAULT partition
	}
	rows, err := m.pool.Query(ctx, "SELECT DISTINCT date_trunc($1, ts AT TIME ZONE $2)::text FROM "+def, unit, m.loc.String())
	if err != nil {
		return nil, err
	}
	locals, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, len(locals))
	for _, l := range locals {
		t, err := time.ParseInLocation("2006-01-02 15:04:05", l, m.loc)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// rowsInDefault counts the rows waiting in each table's DEFAULT partition.
func (m *maintainer) rowsInDefault(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, table := range sortedTables(m.tables) {
		def := pgx.Identifier{m.schemaName, schema.DefaultPartition(table)}.Sanitize()
		exists, err := relationExists(ctx, m.pool, def)
		if err != nil {
			return out, err
		}
		var n int64
		if exists {
			if err := m.pool.QueryRow(ctx, "SELECT count(*) FROM "+def).Scan(&n); err != nil {
				return out, err
			}
		}
		out[table] = n
	}
	return out, nil
}

// rowQuerier is a pool, a connection or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func relationExists(ctx context.Context, q rowQuerier, quoted string) (bool, error) {
	var exists bool
	err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", quoted).Scan(&exists)
	return exists, err
}

// ensureArchiveSchema creates archive_schema when retention first archives.
func (m *maintainer) ensureArchiveSchema(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{m.archiveSchema}.Sanitize())
	return err
}

// expired is a partition retention removes.
type expired struct {
	table  string
	name   string
	expiry Expiry
}

// expire applies each table's retention: a partition whose period ended more
// than retention ago is dropped, detached or archived. The current period's
// partition never is, and only partitions named as this manager names them
// are touched.
func (m *maintainer) expire(ctx context.Context, now time.Time) ([]expired, error) {
	var done []expired
	var errs error
	for _, table := range sortedTables(m.tables) {
		plan := m.tables[table]
		if plan.retention == 0 {
			continue
		}
		cutoff := now.Add(-plan.retention)
		current := plan.interval.Start(now, m.loc)
		managed := regexp.MustCompile("^" + regexp.QuoteMeta(table) + `_p\d{4}(w\d{2}|\d{2}|\d{4})$`)
		var list []partitionInfo
		err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
			var err error
			list, err = m.partitions(ctx, tx, table)
			return err
		})
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s: %w", table, err))
			continue
		}
		for _, p := range list {
			if !managed.MatchString(p.name) || p.to.After(cutoff) || p.to.After(current) {
				continue
			}
			if err := m.expirePartition(ctx, table, p.name, plan.expiry); err != nil {
				errs = errors.Join(errs, fmt.Errorf("%s: %w", p.name, err))
				continue
			}
			done = append(done, expired{table: table, name: p.name, expiry: plan.expiry})
		}
	}
	return done, errs
}

func (m *maintainer) expirePartition(ctx context.Context, table, name string, how Expiry) error {
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLockKey(m.schemaName)); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = $1::regclass
			AND inhrelid = to_regclass($2))`, pgx.Identifier{m.schemaName, table}.Sanitize(),
			pgx.Identifier{m.schemaName, name}.Sanitize()).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return nil // another collector got there first
		}
		part := pgx.Identifier{m.schemaName, name}.Sanitize()
		if how == Drop {
			_, err := tx.Exec(ctx, "DROP TABLE "+part)
			return err
		}
		if _, err := tx.Exec(ctx, "ALTER TABLE "+pgx.Identifier{m.schemaName, table}.Sanitize()+" DETACH PARTITION "+part); err != nil {
			return err
		}
		if how == Archive {
			archive := pgx.Identifier{m.archiveSchema}.Sanitize()
			if err := m.ensureArchiveSchema(ctx, tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "ALTER TABLE "+part+" SET SCHEMA "+archive); err != nil {
				return err
			}
		}
		return nil
	})
}

// defaultExpiry is what retention did to the expired rows of one DEFAULT
// partition.
type defaultExpiry struct {
	table  string
	rows   int64
	expiry Expiry
	into   string // the table that received the rows (detach, archive)
}

// retentionCutoff is where retention removes rows of a table at now: the
// start of the period holding now - retention (false: kept for ever). The
// DEFAULT partition's expiry and the rollups' frozen minutes share it.
func (m *maintainer) retentionCutoff(plan tablePlan, now time.Time) (time.Time, bool) {
	if plan.retention == 0 {
		return time.Time{}, false
	}
	return plan.interval.Start(now.Add(-plan.retention), m.loc), true
}

// expireDefaults applies each table's retention to the rows waiting in its
// DEFAULT partition, with the cut-off of the partitions: a row goes when the
// period holding it ended by now - retention, that is when its ts is before
// the start of the period holding that instant. Rows far in the past (an
// unset time, 1970) therefore go at the first run. As the partitions are,
// the rows are deleted (drop), or moved into a plain table named
// <table>_default_before_<date of that start>, in place (detach) or in
// archive_schema (archive). Rows dated in the future stay.
func (m *maintainer) expireDefaults(ctx context.Context, now time.Time) ([]defaultExpiry, error) {
	var done []defaultExpiry
	var errs error
	for _, table := range sortedTables(m.tables) {
		plan := m.tables[table]
		before, ok := m.retentionCutoff(plan, now)
		if !ok {
			continue
		}
		e, err := m.expireDefault(ctx, table, plan.expiry, before)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s: %w", schema.DefaultPartition(table), err))
			continue
		}
		if e.rows > 0 {
			done = append(done, e)
		}
	}
	return done, errs
}

func (m *maintainer) expireDefault(ctx context.Context, table string, how Expiry, before time.Time) (defaultExpiry, error) {
	res := defaultExpiry{table: table, expiry: how}
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		// The lock of partition changes: ensurePartition moves rows out of
		// DEFAULT under it.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLockKey(m.schemaName)); err != nil {
			return err
		}
		def := pgx.Identifier{m.schemaName, schema.DefaultPartition(table)}.Sanitize()
		if exists, err := relationExists(ctx, tx, def); err != nil || !exists {
			return err // an operator may have dropped the DEFAULT partition
		}
		if how == Drop {
			tag, err := tx.Exec(ctx, "DELETE FROM "+def+" WHERE ts < $1", before)
			res.rows = tag.RowsAffected()
			return err
		}
		var found bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+def+" WHERE ts < $1)", before).Scan(&found); err != nil || !found {
			return err
		}
		dest := pgx.Identifier{m.schemaName, schema.DefaultPartition(table) + "_before_" + before.Format("20060102")}
		if how == Archive {
			if err := m.ensureArchiveSchema(ctx, tx); err != nil {
				return err
			}
			dest[0] = m.archiveSchema
		}
		res.into = dest[0] + "." + dest[1]
		// LIKE keeps the columns (a generated one as a plain column holding
		// its value), not the indexes: as a detached partition, a plain table.
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+dest.Sanitize()+" (LIKE "+
			pgx.Identifier{m.schemaName, table}.Sanitize()+")"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "WITH moved AS (DELETE FROM "+def+" WHERE ts < $1 RETURNING *) INSERT INTO "+
			dest.Sanitize()+" SELECT * FROM moved", before)
		res.rows = tag.RowsAffected()
		return err
	})
	return res, err
}
