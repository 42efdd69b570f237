package diskguard

import (
	"errors"
	"fmt"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
)

// Config is file_storage's configuration plus the free-space reserve.
type Config struct {
	// The file_storage fields (directory, compaction, fsync, ...), unchanged.
	filestorage.Config `mapstructure:",squash"`

	// MinFreeMiB is the free space, in MiB, kept on the filesystem of
	// directory: while less is free, new data is refused (a retryable
	// error the sender sees as backpressure), so the queue's own reads,
	// deletes and compaction always have room.
	MinFreeMiB int64 `mapstructure:"min_free_mib"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the reserve; the collector validates the embedded
// file_storage fields with their own Validate.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.MinFreeMiB <= 0 {
		errs = errors.Join(errs, fmt.Errorf("min_free_mib: %d must be positive (the reserve that keeps the queue's bookkeeping writable)", cfg.MinFreeMiB))
	}
	return errs
}

func (cfg *Config) minFreeBytes() int64 { return cfg.MinFreeMiB << 20 }
