// Package schema holds the numbered SQL migrations of otelcol-mcp, the one
// source of its DDL, and applies them idempotently.
package schema

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed *.sql
var migrationFiles embed.FS

// PartitionedTables are the tables of the schema that are RANGE partitioned
// on ts, each with a DEFAULT partition; TestPartitionedTablesMatchDDL keeps
// this list equal to what the migrations create.
var PartitionedTables = map[string]struct{}{
	"routing_log": {}, "tool_call_record": {}, "tool_call_payload": {}, "error_log": {},
	"health_check_record": {}, "lb_decision": {}, "circuit_breaker_event": {}, "metric_point": {},
	// The per-minute rollups (0005_rollups.sql), partitioned on ts (the minute).
	"routing_rollup_1m": {}, "tool_call_rollup_1m": {}, "health_rollup_1m": {}, "session_rollup_1m": {},
}

// DefaultPartition names the DEFAULT partition of a partitioned table.
func DefaultPartition(table string) string { return table + "_default" }

// Migration is one numbered SQL file.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// Migrations returns every embedded migration in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, ".")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql", name)
		}
		version, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %q: name must start with a number: %w", name, err)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: version, Name: name, SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// Beginner is satisfied by *pgx.Conn, *pgxpool.Pool and pgxpool.Conn.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// LockKey is the advisory-lock key that serialises schema changes to one
// PostgreSQL schema; partition maintenance takes the same lock.
func LockKey(schemaName string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("otelcol-mcp schema " + schemaName))
	return int64(h.Sum64())
}

// Apply creates schemaName if needed and applies, in one transaction, every
// migration not yet recorded in its schema_migrations table. Concurrent
// appliers are serialised by a transaction-level advisory lock; a migration
// whose recorded checksum differs from the embedded one is an error.
// It returns the versions it applied.
func Apply(ctx context.Context, db Beginner, schemaName string) ([]int, error) {
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	if _, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", LockKey(schemaName)); err != nil {
		return nil, fmt.Errorf("lock schema %q: %w", schemaName, err)
	}
	ident := pgx.Identifier{schemaName}.Sanitize()
	if _, err = tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
		return nil, fmt.Errorf("create schema %q: %w", schemaName, err)
	}
	if _, err = tx.Exec(ctx, "SET LOCAL search_path TO "+ident); err != nil {
		return nil, err
	}
	if _, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		checksum   text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]string{}
	rows, err := tx.Query(ctx, "SELECT version, checksum FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var v int
		var sum string
		if err = rows.Scan(&v, &sum); err != nil {
			return nil, err
		}
		applied[v] = sum
	}
	if err = rows.Err(); err != nil {
		return nil, err
	}

	var done []int
	for _, m := range migrations {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return nil, fmt.Errorf("migration %s was applied with checksum %s but is now %s: migrations must never change once released", m.Name, sum, m.Checksum)
			}
			continue
		}
		if _, err = tx.Exec(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if _, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", m.Version, m.Name, m.Checksum); err != nil {
			return nil, err
		}
		done = append(done, m.Version)
	}
	if err = tx.Commit(ctx); err != nil {
		return nil, err
	}
	return done, nil
}
