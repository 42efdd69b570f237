package instrumentation

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	semconvmcp "go.opentelemetry.io/otel/semconv/v1.41.0/mcpconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// ScopeName is the default instrumentation scope of the tracer, logger and
// meter a Router uses.
const ScopeName = "github.com/mcp-bridge/otelcol-mcp/instrumentation"

// Router emits the telemetry of one MCP router. It is safe for concurrent
// use; create one per process.
type Router struct {
	tracer trace.Tracer
	logger log.Logger
	meter  metric.Meter
	// The semconv mcp.server/client.operation.duration instruments.
	serverDuration metric.Float64Histogram
	clientDuration metric.Float64Histogram

	lbDecisions bool
	// lbThreshold, when non-zero, samples the lb decision events at the
	// router: an event is kept when its trace's randomness is at least the
	// threshold, and carries lbTValue as sampling.threshold.
	lbThreshold uint64
	lbTValue    string
	newID       func() string

	serverSets setCache
	clientSets setCache
}

type config struct {
	scope       string
	version     string
	lbDecisions bool
	lbFraction  float64
	newID       func() string
	runtime     bool
}

// Option configures a Router.
type Option func(*config)

// WithScope sets the instrumentation scope name and version (default
// ScopeName, no version).
func WithScope(name, version string) Option {
	return func(c *config) { c.scope, c.version = name, version }
}

// WithLBDecisions turns the mcp.router.lb.decision event of
// Request.ChooseServer on or off (default on; the collector samples it).
func WithLBDecisions(on bool) Option {
	return func(c *config) { c.lbDecisions = on }
}

// WithLBDecisionSampling emits only the given fraction (0 < f <= 1) of the
// lb decision events, the way the collector's mcpsampler would keep them
// (OpenTelemetry consistent probability sampling on the request's trace id),
// and records the rate in sampling.threshold so that SUM(adjusted_count)
// still counts every decision. With the collector's default of 1 %, a
// router sampling at 1 % stores the same rows while paying for the event
// only once in a hundred requests.
func WithLBDecisionSampling(fraction float64) Option {
	return func(c *config) { c.lbFraction = fraction }
}

// WithEventIDs replaces the generator of event.id values (default: 16
// random bytes in hex). It must return a new, unique, non-empty id on every
// call and be safe for concurrent use. An id set on an event wins over it.
func WithEventIDs(newID func() string) Option {
	return func(c *config) { c.newID = newID }
}

// New creates a Router on the given providers; a nil provider means the
// global one (otel.GetTracerProvider, otel.GetLoggerProvider,
// otel.GetMeterProvider).
func New(tp trace.TracerProvider, lp log.LoggerProvider, mp metric.MeterProvider, opts ...Option) (*Router, error) {
	cfg := config{scope: ScopeName, lbDecisions: true, lbFraction: 1, newID: NewEventID}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.scope == "" {
		return nil, errors.New("instrumentation: the scope name must not be empty")
	}
	if cfg.newID == nil {
		return nil, errors.New("instrumentation: WithEventIDs needs a generator")
	}
	lbThreshold, lbTValue, err := samplingThreshold(cfg.lbFraction)
	if err != nil {
		return nil, err
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if lp == nil {
		lp = otel.GetLoggerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	r := &Router{
		tracer:      tp.Tracer(cfg.scope, trace.WithInstrumentationVersion(cfg.version)),
		logger:      lp.Logger(cfg.scope, log.WithInstrumentationVersion(cfg.version)),
		meter:       mp.Meter(cfg.scope, metric.WithInstrumentationVersion(cfg.version)),
		lbDecisions: cfg.lbDecisions,
		lbThreshold: lbThreshold,
		lbTValue:    lbTValue,
		newID:       cfg.newID,
	}
	buckets := metric.WithExplicitBucketBoundaries(mcpconv.DurationBucketsSeconds...)
	server, err1 := semconvmcp.NewServerOperationDuration(r.meter, buckets)
	client, err2 := semconvmcp.NewClientOperationDuration(r.meter, buckets)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	r.serverDuration, r.clientDuration = server.Inst(), client.Inst()
	if cfg.runtime {
		if err := startRuntimeMetrics(mp, r.meter); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// maxAdjustedCount is 2^56: randomness and thresholds are 56-bit numbers.
const maxAdjustedCount = 1 << 56

// samplingThreshold is the OpenTelemetry consistent-probability threshold
// of a fraction, full precision, and its t-value (as tracestate ot=th and
// the sampling.threshold attribute carry it); 0 and "" for 1.
func samplingThreshold(fraction float64) (uint64, string, error) {
	if !(fraction >= 1.0/maxAdjustedCount && fraction <= 1) {
		return 0, "", fmt.Errorf("instrumentation: sampling fraction %v must be in [2^-56, 1]", fraction)
	}
	if fraction == 1 {
		return 0, "", nil
	}
	th := uint64(maxAdjustedCount) - uint64(math.Round(fraction*maxAdjustedCount))
	digits := strconv.FormatUint(th, 16)
	digits = strings.Repeat("0", 14-len(digits)) + digits
	return th, strings.TrimRight(digits, "0"), nil
}

// traceRandomness is the 56 bits of randomness of a trace id (its last 7
// bytes), as consistent probability samplers read it.
func traceRandomness(id trace.TraceID) uint64 {
	return binary.BigEndian.Uint64(id[8:]) & (maxAdjustedCount - 1)
}

// NewEventID returns 16 random bytes in hex: the default event.id.
func NewEventID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	var h [32]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}

func (r *Router) eventID(given string) string {
	if given != "" {
		return given
	}
	return r.newID()
}

// metricKey is what the operation-duration histograms split by.
type metricKey struct {
	method, serverKey, tool, errorType string
}

// maxCachedSets bounds each attribute-set cache; past it sets are built per
// call (a router with that many method/server/tool/error combinations has
// a cardinality problem the cache should not hide as a memory leak).
const maxCachedSets = 4096

// setCache keeps the measurement option (attribute set) of each metric key,
// so that recording a duration costs a map lookup instead of sorting
// attributes and allocating an option.
type setCache struct {
	mu   sync.RWMutex
	sets map[metricKey]metric.RecordOption
}

func (c *setCache) get(k metricKey) metric.RecordOption {
	c.mu.RLock()
	o, ok := c.sets[k]
	c.mu.RUnlock()
	if ok {
		return o
	}
	o = metric.WithAttributeSet(k.set())
	c.mu.Lock()
	if c.sets == nil {
		c.sets = make(map[metricKey]metric.RecordOption)
	}
	if len(c.sets) < maxCachedSets {
		c.sets[k] = o
	}
	c.mu.Unlock()
	return o
}

func (k metricKey) set() attribute.Set {
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, attribute.String(mcpconv.MethodName, k.method))
	if k.serverKey != "" {
		attrs = append(attrs, attribute.String(mcpconv.ServerKey, k.serverKey))
	}
	if k.tool != "" {
		attrs = append(attrs, attribute.String(mcpconv.ToolName, k.tool))
	}
	if k.errorType != "" {
		attrs = append(attrs, attribute.String(mcpconv.ErrorType, k.errorType))
	}
	return attribute.NewSet(attrs...)
}
