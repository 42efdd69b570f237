package partitionmgr

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"

	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// Expiry is what happens to a partition past its retention.
type Expiry string

const (
	// Drop deletes the partition and its rows.
	Drop Expiry = "drop"
	// Detach detaches the partition and keeps it as a plain table in place.
	Detach Expiry = "detach"
	// Archive detaches the partition and moves it into archive_schema.
	Archive Expiry = "archive"
)

// Config defines the configuration of the partition manager.
type Config struct {
	// DSN is the PostgreSQL connection string.
	DSN configopaque.String `mapstructure:"dsn"`
	// Schema holds the tables; the exporter must write to the same one.
	Schema string `mapstructure:"schema"`
	// ArchiveSchema receives expired partitions of tables with expiry archive.
	ArchiveSchema string `mapstructure:"archive_schema"`
	// TimeZone in which partitions start at midnight and the schedule runs.
	TimeZone string `mapstructure:"time_zone"`
	// Schedule of the maintenance runs (they also run at start).
	Schedule ScheduleConfig `mapstructure:"schedule"`
	// RetryInterval is the wait between attempts while the database is down.
	RetryInterval time.Duration `mapstructure:"retry_interval"`
	// Tables configures each partitioned table; omitted ones keep their defaults.
	Tables map[string]TableConfig `mapstructure:"tables"`
	// Rollups configures the refresh of the per-minute rollup tables.
	Rollups RollupsConfig `mapstructure:"rollups"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// ScheduleConfig says when maintenance runs.
type ScheduleConfig struct {
	// Mode is "calendar" (create daily at create_at, expire weekly on
	// expire_on at expire_at) or "interval" (both every interval).
	Mode string `mapstructure:"mode"`
	// CreateAt is the daily time (HH:MM) of the create run.
	CreateAt string `mapstructure:"create_at"`
	// ExpireOn is the weekday of the expire run.
	ExpireOn string `mapstructure:"expire_on"`
	// ExpireAt is the time (HH:MM) of the expire run.
	ExpireAt string `mapstructure:"expire_at"`
	// Interval between runs in interval mode.
	Interval time.Duration `mapstructure:"interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// RollupsConfig says how often the per-minute rollups are refreshed.
type RollupsConfig struct {
	// Interval between refreshes: how stale a rollup may be. Each refresh
	// recomputes the minutes that received rows since the one before.
	Interval time.Duration `mapstructure:"interval"`
	// Delay after the end of a minute before it is refreshed: a minute is
	// read once complete (rows arriving later refresh it again), not at
	// every refresh while it fills.
	Delay time.Duration `mapstructure:"delay"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// TableConfig configures the partitions of one table.
type TableConfig struct {
	// Interval is the span of one partition: daily, weekly or monthly.
	Interval Interval `mapstructure:"interval"`
	// Premake is how many periods after the current one exist ahead of time.
	Premake int `mapstructure:"premake"`
	// Retention is how long a partition is kept after its period ended:
	// a Go duration or a number of days (30d) or weeks (12w); 0 keeps for ever.
	Retention string `mapstructure:"retention"`
	// Expiry is what retention does: drop, detach or archive.
	Expiry Expiry `mapstructure:"expiry"`

	// prevent unkeyed literal initialization
	_ struct{}
}

const (
	modeCalendar = "calendar"
	modeInterval = "interval"
)

// Unmarshal decodes conf so that a table named in it keeps the defaults of
// the fields it does not set (a plain decode would replace the whole entry).
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	defaults := maps.Clone(cfg.Tables)
	if err := conf.Unmarshal(cfg); err != nil {
		return err
	}
	if !conf.IsSet("tables") {
		return nil
	}
	tables, err := conf.Sub("tables")
	if err != nil {
		return err
	}
	for _, name := range tables.AllKeys() {
		name, _, _ = strings.Cut(name, confmap.KeyDelimiter)
		t, ok := defaults[name]
		if !ok {
			continue // not a known table: Validate says so
		}
		sub, err := tables.Sub(name)
		if err != nil {
			return err
		}
		if err := sub.Unmarshal(&t); err != nil {
			return fmt.Errorf("tables::%s: %w", name, err)
		}
		cfg.Tables[name] = t
	}
	return nil
}

var identPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Validate reports every problem of the configuration at once.
func (cfg *Config) Validate() error {
	var errs error
	add := func(format string, args ...any) { errs = errors.Join(errs, fmt.Errorf(format, args...)) }
	if cfg.DSN == "" {
		add("dsn: must be set, e.g. postgres://user@host:5432/mcp_bridge")
	} else if _, err := pgxpool.ParseConfig(string(cfg.DSN)); err != nil {
		add("dsn: %w", err)
	}
	// In a fixed order, so that the joined error reads the same every time.
	for _, f := range []struct{ field, name string }{{"schema", cfg.Schema}, {"archive_schema", cfg.ArchiveSchema}} {
		if !identPattern.MatchString(f.name) || len(f.name) > 63 {
			add("%s: %q must be a lower-case SQL identifier of at most 63 characters ([a-z_][a-z0-9_]*)", f.field, f.name)
		}
	}
	if cfg.Schema == cfg.ArchiveSchema {
		add("archive_schema: must differ from schema %q", cfg.Schema)
	}
	if _, err := time.LoadLocation(cfg.TimeZone); err != nil {
		add("time_zone: %q is not an IANA time zone: %w", cfg.TimeZone, err)
	}
	if cfg.RetryInterval <= 0 {
		add("retry_interval: must be positive")
	}
	switch cfg.Schedule.Mode {
	case modeCalendar:
		if _, err := parseClockTime(cfg.Schedule.CreateAt); err != nil {
			add("schedule::create_at: %w", err)
		}
		if _, err := parseClockTime(cfg.Schedule.ExpireAt); err != nil {
			add("schedule::expire_at: %w", err)
		}
		if _, err := parseWeekday(cfg.Schedule.ExpireOn); err != nil {
			add("schedule::expire_on: %w", err)
		}
	case modeInterval:
		if cfg.Schedule.Interval < time.Minute {
			add("schedule::interval: %s must be at least 1m", cfg.Schedule.Interval)
		}
	default:
		add("schedule::mode: %q must be %q or %q", cfg.Schedule.Mode, modeCalendar, modeInterval)
	}
	if cfg.Rollups.Interval < time.Second {
		add("rollups::interval: %s must be at least 1s", cfg.Rollups.Interval)
	}
	if cfg.Rollups.Delay < 0 {
		add("rollups::delay: %s must not be negative", cfg.Rollups.Delay)
	}
	names := make([]string, 0, len(cfg.Tables))
	for name := range cfg.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := cfg.Tables[name]
		if _, ok := schema.PartitionedTables[name]; !ok {
			add("tables::%s: not a partitioned table of the schema (%s)", name, strings.Join(partitionedTableNames(), ", "))
			continue
		}
		if !t.Interval.valid() {
			add("tables::%s::interval: %q must be daily, weekly or monthly", name, t.Interval)
		}
		if t.Premake < 0 {
			add("tables::%s::premake: %d must not be negative", name, t.Premake)
		}
		if _, err := parseRetention(t.Retention); err != nil {
			add("tables::%s::retention: %w", name, err)
		}
		if t.Expiry != Drop && t.Expiry != Detach && t.Expiry != Archive {
			add("tables::%s::expiry: %q must be drop, detach or archive", name, t.Expiry)
		}
	}
	return errs
}

func partitionedTableNames() []string {
	names := make([]string, 0, len(schema.PartitionedTables))
	for name := range schema.PartitionedTables {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// parseRetention reads "30d", "12w", a Go duration, or "0"/"" for for ever.
func parseRetention(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			if v, err := strconv.Atoi(n); err == nil && v >= 0 {
				return time.Duration(v) * unit, nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a period like 30d, 12w or 720h", s)
	}
	return d, nil
}
