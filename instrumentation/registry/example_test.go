package registry_test

import (
	"context"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation/registry"
)

// At start-up a router reads the servers the collector last stored, then
// lets its own discovery and health checks take over.
func ExampleLoad() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://router@db:5432/mcp_bridge")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	servers, err := registry.Load(ctx, pool, "mcp")
	if err != nil {
		log.Printf("no registry from the database, starting empty: %v", err)
	}
	for _, s := range servers {
		fmt.Println(s.Key, s.URL, s.Health, s.Tools)
	}
}
