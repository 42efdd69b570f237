package mcppgexporter

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// maxPoolConns is the ceiling on connections one exporter opens (DESIGN.md:
// pool connections < 50).
const maxPoolConns = 50

// Config defines the configuration of the mcppg exporter.
type Config struct {
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	QueueConfig                  configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	BackOffConfig                configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// DSN is the PostgreSQL connection string (URL or key=value form).
	DSN configopaque.String `mapstructure:"dsn"`
	// Schema is the PostgreSQL schema that holds the tables.
	Schema string `mapstructure:"schema"`
	// MaxConns caps the connection pool; 0 means sending_queue.num_consumers
	// (1 without a queue), never above 50.
	MaxConns int32 `mapstructure:"max_conns"`
	// ApplySchema applies the schema/ migrations before the first write.
	ApplySchema bool `mapstructure:"apply_schema"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var schemaNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Validate checks the exporter's own fields; the embedded helper configs
// validate themselves.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.DSN == "" {
		errs = errors.Join(errs, errors.New("dsn: must be set, e.g. postgres://user@host:5432/mcp_bridge"))
	} else if _, err := pgxpool.ParseConfig(string(cfg.DSN)); err != nil {
		errs = errors.Join(errs, fmt.Errorf("dsn: %w", err))
	}
	if !schemaNamePattern.MatchString(cfg.Schema) || len(cfg.Schema) > 63 {
		errs = errors.Join(errs, fmt.Errorf("schema: %q must be a lower-case SQL identifier of at most 63 characters ([a-z_][a-z0-9_]*)", cfg.Schema))
	}
	if cfg.MaxConns < 0 || cfg.MaxConns > maxPoolConns {
		errs = errors.Join(errs, fmt.Errorf("max_conns: %d must be between 0 (size from sending_queue.num_consumers) and %d", cfg.MaxConns, maxPoolConns))
	}
	return errs
}

// poolSize is the number of connections the exporter may open.
func (cfg *Config) poolSize() int32 {
	n := cfg.MaxConns
	if n == 0 {
		n = 1
		if cfg.QueueConfig.HasValue() {
			n = int32(min(cfg.QueueConfig.Get().NumConsumers, maxPoolConns))
		}
	}
	return max(1, min(n, maxPoolConns))
}
