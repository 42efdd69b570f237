// Command applyschema applies the schema/ migrations to a database:
// applyschema DSN SCHEMA. The benchmark scripts use it to set up scratch
// databases exactly as the exporter would.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-bridge/otelcol-mcp/schema"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: applyschema DSN SCHEMA")
		os.Exit(2)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	applied, err := schema.Apply(ctx, conn, os.Args[2])
	_ = conn.Close(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("applied", applied)
}
