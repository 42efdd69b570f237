package mcppgexporter

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// maxPoolConns is the ceiling on connections one exporter opens (docs/design.md:
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
	// (1 without a queue) for each signal pipeline sharing the exporter,
	// never above 50.
	MaxConns int32 `mapstructure:"max_conns"`
	// ApplySchema applies the schema/ migrations before the first write;
	// ignored when PartitionManager is set (the manager owns the schema).
	ApplySchema bool `mapstructure:"apply_schema"`
	// PartitionManager names a partitionmgr extension: the exporter waits
	// for it to apply the schema and asks it for missing partitions.
	PartitionManager *component.ID `mapstructure:"partition_manager"`
	// ToolPayloads stores tool-call arguments and results (opt-in).
	ToolPayloads ToolPayloadsConfig `mapstructure:"tool_payloads"`
	// EventTime is the window of plausible event times; a row outside it
	// goes to rejected_event instead of a DEFAULT partition.
	EventTime EventTimeConfig `mapstructure:"event_time"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// EventTimeConfig bounds the event time of a row (span start, log record
// time, metric point time; the exception or failure time of an error row)
// relative to the collector's clock when the batch is written.
type EventTimeConfig struct {
	// MaxAge refuses rows older than this; 0 for no bound.
	MaxAge time.Duration `mapstructure:"max_age"`
	// MaxFuture refuses rows dated further ahead than this; 0 for no bound.
	MaxFuture time.Duration `mapstructure:"max_future"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// ToolPayloadsConfig governs tool_call_payload: the arguments and results
// of tool calls, from the mcp.router.tool.arguments and
// mcp.router.tool.result span attributes. They never reach the attributes
// of tool_call_record or routing_log.
type ToolPayloadsConfig struct {
	// Enabled stores them; off by default, as they may hold personal data.
	Enabled bool `mapstructure:"enabled"`
	// RedactKeys are JSON object keys (any depth, case-insensitive) whose
	// values are replaced by "[REDACTED]".
	RedactKeys []string `mapstructure:"redact_keys"`
	// MaxBytes stores a larger payload as a note of its size; 0 for no limit.
	MaxBytes int `mapstructure:"max_bytes"`

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
	if cfg.ToolPayloads.MaxBytes < 0 {
		errs = errors.Join(errs, fmt.Errorf("tool_payloads::max_bytes: %d must not be negative (0 for no limit)", cfg.ToolPayloads.MaxBytes))
	}
	if cfg.EventTime.MaxAge < 0 {
		errs = errors.Join(errs, fmt.Errorf("event_time::max_age: %v must not be negative (0 for no bound)", cfg.EventTime.MaxAge))
	}
	if cfg.EventTime.MaxFuture < 0 {
		errs = errors.Join(errs, fmt.Errorf("event_time::max_future: %v must not be negative (0 for no bound)", cfg.EventTime.MaxFuture))
	}
	for i, k := range cfg.ToolPayloads.RedactKeys {
		if strings.TrimSpace(k) == "" {
			errs = errors.Join(errs, fmt.Errorf("tool_payloads::redact_keys[%d]: must not be empty", i))
		}
	}
	return errs
}

// poolSize is the number of connections the exporter may open when signals
// pipelines (traces, logs, metrics) share it: one per queue consumer of
// each, unless max_conns says otherwise; never above 50.
func (cfg *Config) poolSize(signals int) int32 {
	n := cfg.MaxConns
	if n == 0 {
		consumers := 1
		if cfg.QueueConfig.HasValue() {
			consumers = cfg.QueueConfig.Get().NumConsumers
		}
		n = int32(min(consumers*max(signals, 1), maxPoolConns))
	}
	return max(1, min(n, maxPoolConns))
}
