package mcpnormalizer

import (
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// A dialect is the way one emitter writes MCP telemetry, with the rules that
// rewrite it to the router conventions (docs/conventions.md). Each dialect is
// one file (dialect_<name>.go) that registers itself from init, with its own
// tests and fixtures: adding an emitter is adding a file.
type dialect struct {
	// name is the dialect's id in the configuration and in metrics.
	name string
	// scopes are the instrumentation scope names the emitter sets; a name
	// ending in "*" matches every scope name that starts with the rest.
	// The scope decides first.
	scopes []string
	// markers are attribute keys that only this emitter writes: a span of
	// an unknown scope that is not already conventional and carries one is
	// taken to be in this dialect.
	markers []string
	// span rewrites a span of the dialect and reports whether it changed it.
	span func(ptrace.Span) bool
	// ownsLog reports whether a log record of an unknown scope, with no
	// event name, is in this dialect (for logs read from files, which carry
	// no scope of the emitter).
	ownsLog func(plog.LogRecord) bool
	// log rewrites a log record of the dialect and reports whether it
	// changed it.
	log func(plog.LogRecord) bool
	// metric rewrites a metric of the dialect and reports whether it
	// changed it.
	metric func(pmetric.Metric) bool
}

var registry []*dialect

// register adds a dialect; each dialect file calls it from init.
func register(d *dialect) { registry = append(registry, d) }

func dialectByName(name string) *dialect {
	for _, d := range registry {
		if d.name == name {
			return d
		}
	}
	return nil
}

// dialectNames lists the known dialects by name.
func dialectNames() []string {
	names := make([]string, len(registry))
	for i, d := range registry {
		names[i] = d.name
	}
	sort.Strings(names)
	return names
}

// conventionsName is the dialect label of items changed only by the shared
// fix-ups (conventions.go) or the configured renames.
const conventionsName = "conventions"

// normalizer holds the dialects a configuration turned on.
type normalizer struct {
	byScope   map[string]*dialect
	prefixes  []scopePrefix
	markers   map[string]*dialect
	logOwners []*dialect
	renames   map[string]string
}

type scopePrefix struct {
	prefix  string
	dialect *dialect
}

func newNormalizer(cfg *Config) *normalizer {
	n := &normalizer{byScope: map[string]*dialect{}, markers: map[string]*dialect{}}
	if len(cfg.Renames) > 0 {
		n.renames = cfg.Renames
	}
	for _, name := range cfg.Dialects {
		d := dialectByName(name)
		if d == nil {
			continue // Validate refused it
		}
		for _, s := range d.scopes {
			if p, ok := strings.CutSuffix(s, "*"); ok {
				n.prefixes = append(n.prefixes, scopePrefix{prefix: p, dialect: d})
			} else {
				n.byScope[s] = d
			}
		}
		for _, k := range d.markers {
			n.markers[k] = d
		}
		if d.ownsLog != nil {
			n.logOwners = append(n.logOwners, d)
		}
	}
	// The longest prefix wins.
	sort.Slice(n.prefixes, func(i, j int) bool { return len(n.prefixes[i].prefix) > len(n.prefixes[j].prefix) })
	return n
}

// forScope returns the dialect of an instrumentation scope, nil when no
// dialect claims it.
func (n *normalizer) forScope(scope pcommon.InstrumentationScope) *dialect {
	name := scope.Name()
	if d, ok := n.byScope[name]; ok {
		return d
	}
	for _, p := range n.prefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.dialect
		}
	}
	return nil
}

// byMarker returns the dialect of the first marker key among attrs.
func (n *normalizer) byMarker(attrs pcommon.Map) *dialect {
	if len(n.markers) == 0 {
		return nil
	}
	var found *dialect
	attrs.Range(func(k string, _ pcommon.Value) bool {
		found = n.markers[k]
		return found == nil
	})
	return found
}

// renameKeys applies the configured renames to attrs and reports whether it
// changed anything.
func renameKeys(attrs pcommon.Map, renames map[string]string) bool {
	changed := false
	for from, to := range renames {
		if moveKey(attrs, from, to) {
			changed = true
		}
	}
	return changed
}

// moveKey renames the attribute from to to. A non-empty attribute already
// under to wins and from is dropped. It reports whether attrs changed.
func moveKey(attrs pcommon.Map, from, to string) bool {
	v, ok := attrs.Get(from)
	if !ok {
		return false
	}
	if existing, exists := attrs.Get(to); !exists || isEmpty(existing) {
		v.CopyTo(attrs.PutEmpty(to))
	}
	attrs.Remove(from)
	return true
}

// isEmpty reports an empty value or empty string, without rendering other
// types as text (a hostile nested map would cost its size).
func isEmpty(v pcommon.Value) bool {
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return true
	case pcommon.ValueTypeStr:
		return v.Str() == ""
	}
	return false
}

// putStrIfAbsent sets a string attribute unless the key is there already
// (with a non-empty value); it reports whether it set it.
func putStrIfAbsent(attrs pcommon.Map, key, value string) bool {
	if value == "" {
		return false
	}
	if v, ok := attrs.Get(key); ok && !isEmpty(v) {
		return false
	}
	attrs.PutStr(key, value)
	return true
}

// strAttr returns an attribute's value as text: a string as it is, a
// number or bool rendered; "" when absent, and for maps, slices and bytes,
// which no rule reads (and which would cost their size to render).
func strAttr(attrs pcommon.Map, key string) string {
	v, ok := attrs.Get(key)
	if !ok {
		return ""
	}
	switch v.Type() {
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice, pcommon.ValueTypeBytes:
		return ""
	}
	return v.AsString()
}
