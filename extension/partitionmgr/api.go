package partitionmgr

import (
	"context"
	"time"
)

// Manager is what the partition manager offers other components: the
// mcppg exporter waits for SchemaReady before writing and asks for a
// partition when PostgreSQL finds none for a row.
type Manager interface {
	// Schema is the PostgreSQL schema the manager owns.
	Schema() string
	// SchemaReady reports whether the migrations have been applied.
	SchemaReady() bool
	// EnsurePartitions creates the partitions of table that hold the given
	// times (moving rows of their range out of DEFAULT) unless they exist.
	EnsurePartitions(ctx context.Context, table string, times ...time.Time) error
}
