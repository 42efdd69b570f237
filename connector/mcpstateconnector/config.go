package mcpstateconnector

import (
	"errors"
	"time"
)

// Config of the mcpstate connector.
type Config struct {
	// FlushInterval is how often the current state is emitted as metrics:
	// every known server's health and breaker state and every router's
	// session-start counter, whether or not an event arrived since.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// Expiration forgets a server (and a router's session counter) when no
	// event about it arrived for this long; 0 keeps it until the server is
	// deregistered (mcp.router.server.deregistered) or the collector
	// restarts.
	Expiration time.Duration `mapstructure:"expiration"`
}

func createDefaultConfig() *Config {
	return &Config{FlushInterval: 15 * time.Second}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.FlushInterval <= 0 {
		errs = append(errs, errors.New("flush_interval must be positive"))
	}
	if c.Expiration < 0 {
		errs = append(errs, errors.New("expiration must not be negative (0 = never)"))
	} else if c.Expiration > 0 && c.Expiration < c.FlushInterval {
		errs = append(errs, errors.New("expiration must be 0 or at least flush_interval"))
	}
	return errors.Join(errs...)
}
