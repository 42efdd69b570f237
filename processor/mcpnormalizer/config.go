package mcpnormalizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Config defines the configuration of the mcpnormalizer processor.
type Config struct {
	// Dialects names the dialects whose rules run. The default lists every
	// dialect the processor knows; an empty list leaves only the shared
	// fix-ups and the renames.
	Dialects []string `mapstructure:"dialects"`
	// Renames maps attribute keys to the keys of the router conventions, for
	// an emitter no dialect knows (for example my.rpc.method: mcp.method.name).
	// They apply to span, span event, log record and metric data point
	// attributes before any dialect; an attribute already present under the
	// new key is kept and the old one dropped.
	Renames map[string]string `mapstructure:"renames"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate reports every problem of the configuration at once.
func (cfg *Config) Validate() error {
	var errs error
	seen := map[string]int{}
	for i, name := range cfg.Dialects {
		field := fmt.Sprintf("dialects[%d]", i)
		if dialectByName(name) == nil {
			errs = errors.Join(errs, fmt.Errorf("%s: unknown dialect %q; known dialects are %s", field, name, strings.Join(dialectNames(), ", ")))
			continue
		}
		if first, ok := seen[name]; ok {
			errs = errors.Join(errs, fmt.Errorf("%s: %q is also dialects[%d]", field, name, first))
		}
		seen[name] = i
	}
	targets := map[string]string{}
	from := make([]string, 0, len(cfg.Renames))
	for k := range cfg.Renames {
		from = append(from, k)
	}
	sort.Strings(from)
	for _, k := range from {
		to := cfg.Renames[k]
		field := "renames::" + k
		switch {
		case k == "":
			errs = errors.Join(errs, errors.New("renames: a key to rename must not be empty"))
		case to == "":
			errs = errors.Join(errs, fmt.Errorf("%s: the new key must not be empty", field))
		case to == k:
			errs = errors.Join(errs, fmt.Errorf("%s: renames a key to itself", field))
		default:
			if _, chained := cfg.Renames[to]; chained {
				errs = errors.Join(errs, fmt.Errorf("%s: the new key %q is renamed too; rename %q straight to its final key", field, to, k))
			}
			if other, twice := targets[to]; twice {
				errs = errors.Join(errs, fmt.Errorf("%s: %q is also the new key of renames::%s; which value would win is undefined", field, to, other))
			}
			targets[to] = k
		}
	}
	return errs
}
