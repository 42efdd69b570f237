// Package registry reads the upstream-server registry that otelcol-mcp keeps
// in PostgreSQL (table mcp_server, filled from the mcp.router.server.*
// events), so that a router can start with the last known server list
// before its own discovery and health checks catch up.
//
// It is a package of its own so that routers that do not read the database
// do not depend on pgx.
package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier is what Load needs of a connection: *pgx.Conn, *pgxpool.Pool and
// pgx.Tx all have it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Server is an upstream server that is registered (not deregistered since
// its last registration), as the collector last stored it.
type Server struct {
	Key       string
	Name      string
	URL       string
	Version   string
	Transport string
	Tools     []string
	// Health is mcpconv.HealthHealthy, mcpconv.HealthUnhealthy, or "" when
	// no event ever carried a health status.
	Health          string
	HealthChangedAt time.Time // zero when Health is ""
	RegisteredAt    time.Time
	// UpdatedAt is the time of the newest event about the server.
	UpdatedAt   time.Time
	ServiceName string // service.name of the router that reported it
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Load returns the registered servers of the schema's mcp_server table,
// ordered by key. Deregistered servers are left out: the table keeps them
// (a row is never deleted) with registered = false.
func Load(ctx context.Context, db Querier, schema string) ([]Server, error) {
	if !schemaName.MatchString(schema) || len(schema) > 63 {
		return nil, fmt.Errorf("registry: schema %q must be a lower-case SQL identifier", schema)
	}
	if db == nil {
		return nil, errors.New("registry: no database")
	}
	rows, err := db.Query(ctx, `SELECT server_key, name, url, version, transport, tools, health_status,
       health_changed_at, registered_at, updated_at, service_name
  FROM `+pgx.Identifier{schema, "mcp_server"}.Sanitize()+`
 WHERE registered
 ORDER BY server_key`)
	if err != nil {
		return nil, fmt.Errorf("registry: read %s.mcp_server: %w", schema, err)
	}
	servers, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Server, error) {
		var s Server
		var name, url, version, transport, health, service *string
		var healthAt, registeredAt *time.Time
		err := row.Scan(&s.Key, &name, &url, &version, &transport, &s.Tools, &health,
			&healthAt, &registeredAt, &s.UpdatedAt, &service)
		s.Name, s.URL, s.Version, s.Transport = deref(name), deref(url), deref(version), deref(transport)
		s.Health, s.ServiceName = deref(health), deref(service)
		s.HealthChangedAt, s.RegisteredAt = derefTime(healthAt), derefTime(registeredAt)
		s.UpdatedAt = s.UpdatedAt.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("registry: read %s.mcp_server: %w", schema, err)
	}
	return servers, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
