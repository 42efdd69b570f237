// Package diskguard is a storage extension: file_storage with a free-space
// reserve. It refuses new queue items before the filesystem under the
// persistent sending queue is full, so the queue's own bookkeeping (reads,
// deletes, compaction) always has room and nothing it acknowledged is lost.
package diskguard

import (
	"context"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/mcp-bridge/otelcol-mcp/extension/diskguard/internal/metadata"
)

// defaultMinFreeMiB covers the requests admitted while free space is read
// (an OTLP/HTTP body is at most 20 MiB by default), the queue's bookkeeping
// and an on-rebound compaction of the small remainder (10 MiB by default).
const defaultMinFreeMiB = 64

// NewFactory creates a factory for the diskguard extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	inner := filestorage.NewFactory().CreateDefaultConfig().(*filestorage.Config)
	return &Config{Config: *inner, MinFreeMiB: defaultMinFreeMiB}
}

func createExtension(ctx context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	c := cfg.(*Config)
	// file_storage derives its directory permissions in Validate.
	if err := c.Config.Validate(); err != nil {
		return nil, err
	}
	return newDiskGuard(ctx, set, c)
}
