package mcpeventsreceiver

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
)

// Limits of the configuration values.
const (
	// maxFieldLengthCeiling keeps identifiers under PostgreSQL's btree limit
	// (about 2700 bytes per index entry): server_key, session_id, ids and the
	// like are indexed columns, and a longer value would fail the insert.
	maxFieldLengthCeiling  = 2048
	maxTextLengthCeiling   = 16 << 20
	maxEventsCeiling       = 1_000_000
	minRetryAfter          = time.Second
	maxRetryAfter          = time.Hour
	defaultEndpoint        = "localhost:4320"
	defaultMaxEvents       = 10_000
	defaultMaxFieldLength  = 1024
	defaultMaxTextLength   = 65536
	defaultRetryAfter      = 5 * time.Second
	defaultMaxRequestBytes = 20 << 20
	// defaultMaxBytesInFlight: decoding costs 3 to 5 bytes of pdata per body
	// byte on top of the body itself (measured: 3.3x for routing events,
	// 5.4x for a mix of small events), so 32 MiB of bodies is about 130 to
	// 200 MiB of working set, the spike headroom the default memory_limiter
	// keeps (512 MiB limit, 128 MiB spike). It admits one body of the
	// largest default size (20 MiB) at a time next to smaller ones.
	defaultMaxBytesInFlight = 32 << 20
	// defaultMaxRequestsInFlight bounds the requests being read, decoded or
	// handed on; above the routers that post at the same time, as most
	// requests wait on the network or the pipeline, not on a core.
	defaultMaxRequestsInFlight = 64
	defaultReadHeaderTimeout   = 10 * time.Second
	defaultReadTimeout         = 30 * time.Second
	defaultWriteTimeout        = 30 * time.Second
)

// Config defines the configuration of the mcpevents receiver.
type Config struct {
	// ServerConfig is the HTTP server: endpoint, TLS, auth, CORS,
	// max_request_body_size, compression_algorithms, timeouts.
	confighttp.ServerConfig `mapstructure:",squash"`

	// MaxEventsPerRequest refuses (413) a request holding more events.
	MaxEventsPerRequest int `mapstructure:"max_events_per_request"`
	// MaxFieldLength is the longest string, in bytes, of an identifier or
	// other short field (server_key, session_id, tool, attribute keys, ...).
	MaxFieldLength int `mapstructure:"max_field_length"`
	// MaxTextLength is the longest free text, in bytes: messages, stack
	// traces, tool arguments and results, attribute values.
	MaxTextLength int `mapstructure:"max_text_length"`
	// RetryAfter is sent in the Retry-After header of a 503 answer: the
	// pipeline refused the events (memory limiter, full queue), or the
	// receiver was at max_requests_in_flight or max_bytes_in_flight.
	RetryAfter time.Duration `mapstructure:"retry_after"`
	// MaxBytesInFlight bounds the body bytes (after decompression) of the
	// requests being read, decoded or handed on; a request that does not
	// fit is answered 503 with Retry-After before its body is read.
	MaxBytesInFlight int64 `mapstructure:"max_bytes_in_flight"`
	// MaxRequestsInFlight bounds the requests being read, decoded or handed
	// on; one more is answered 503 with Retry-After before its body is read.
	MaxRequestsInFlight int `mapstructure:"max_requests_in_flight"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the receiver's own fields; confighttp validates its own.
func (cfg *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(cfg.NetAddr.Endpoint != "", "endpoint: must be set, e.g. %s", defaultEndpoint)
	check(cfg.MaxEventsPerRequest >= 1 && cfg.MaxEventsPerRequest <= maxEventsCeiling,
		"max_events_per_request: %d must be between 1 and %d", cfg.MaxEventsPerRequest, maxEventsCeiling)
	check(cfg.MaxFieldLength >= 1 && cfg.MaxFieldLength <= maxFieldLengthCeiling,
		"max_field_length: %d must be between 1 and %d (indexed columns)", cfg.MaxFieldLength, maxFieldLengthCeiling)
	check(cfg.MaxTextLength >= cfg.MaxFieldLength && cfg.MaxTextLength <= maxTextLengthCeiling,
		"max_text_length: %d must be between max_field_length (%d) and %d", cfg.MaxTextLength, cfg.MaxFieldLength, maxTextLengthCeiling)
	check(cfg.RetryAfter >= minRetryAfter && cfg.RetryAfter <= maxRetryAfter,
		"retry_after: %s must be between %s and %s", cfg.RetryAfter, minRetryAfter, maxRetryAfter)
	check(cfg.MaxRequestBodySize >= 0, "max_request_body_size: %d must not be negative (0 for the default, %d)",
		cfg.MaxRequestBodySize, defaultMaxRequestBytes)
	check(cfg.MaxBytesInFlight >= cfg.bodyLimit(), "max_bytes_in_flight: %d must be at least max_request_body_size (%d), "+
		"or a request of the largest size would never be accepted", cfg.MaxBytesInFlight, cfg.bodyLimit())
	check(cfg.MaxRequestsInFlight >= 1, "max_requests_in_flight: %d must be at least 1", cfg.MaxRequestsInFlight)
	check(cfg.ReadTimeout > 0, "read_timeout: %s must be positive: without it a slow client holds its "+
		"connection and its bytes in flight for ever", cfg.ReadTimeout)
	check(cfg.ReadHeaderTimeout >= 0 && (cfg.ReadTimeout <= 0 || cfg.ReadHeaderTimeout <= cfg.ReadTimeout),
		"read_header_timeout: %s must be between 0 (read_timeout applies) and read_timeout (%s)", cfg.ReadHeaderTimeout, cfg.ReadTimeout)
	check(cfg.WriteTimeout >= 0, "write_timeout: %s must not be negative (0 for none)", cfg.WriteTimeout)
	return errors.Join(errs...)
}

// bodyLimit is the effective max_request_body_size (confighttp's default
// when unset).
func (cfg *Config) bodyLimit() int64 {
	if cfg.MaxRequestBodySize > 0 {
		return cfg.MaxRequestBodySize
	}
	return defaultMaxRequestBytes
}

// limits are what the decoder enforces per request.
func (cfg *Config) limits() decodeLimits {
	return decodeLimits{
		maxEvents:      cfg.MaxEventsPerRequest,
		maxFieldLength: cfg.MaxFieldLength,
		maxTextLength:  cfg.MaxTextLength,
	}
}
