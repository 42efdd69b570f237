package routersim

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
)

// emitter sends the simulated router's telemetry: over OTLP through the
// instrumentation package, or as JSON events to mcpeventsreceiver. Every
// method is safe for concurrent use; the event methods return the event id.
type emitter interface {
	// request emits a routed request with its LB decisions and tool calls
	// and sets the ids it used in r.
	request(r *simRequest)
	healthCheck(instrumentation.HealthCheck) string
	serverRegistered(instrumentation.Server) string
	serverDeregistered(instrumentation.Deregistration) string
	serverHealthChanged(instrumentation.HealthChange) string
	breakerStateChange(instrumentation.BreakerChange) string
	sessionStart(instrumentation.Session) string
	sessionStats(instrumentation.SessionStats) string
	sessionEnd(instrumentation.SessionEnd) string
	// observePools reports the pool gauge from now on.
	observePools(func() []instrumentation.PoolStats) error
	// shutdown delivers everything still buffered (within ctx) and stops.
	shutdown(ctx context.Context) error
	delivery() simmanifest.Delivery
}

// deliveryStats counts what the OTLP exporters delivered, per signal, and
// keeps the first errors (of either emitter).
type deliveryStats struct {
	spansExported, spansFailed   atomic.Int64
	logsExported, logsFailed     atomic.Int64
	metricExports, metricsFailed atomic.Int64

	mu   sync.Mutex
	errs []string
}

func (s *deliveryStats) snapshot() simmanifest.Delivery {
	s.mu.Lock()
	errs := append([]string(nil), s.errs...)
	s.mu.Unlock()
	return simmanifest.Delivery{
		SpansExported: s.spansExported.Load(), SpansFailed: s.spansFailed.Load(),
		LogsExported: s.logsExported.Load(), LogsFailed: s.logsFailed.Load(),
		MetricExports: s.metricExports.Load(), MetricsFailed: s.metricsFailed.Load(),
		Errors: errs,
	}
}

// clearNotes forgets the errors noted with the prefix.
func (s *deliveryStats) clearNotes(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = slices.DeleteFunc(s.errs, func(e string) bool { return strings.HasPrefix(e, prefix) })
}

// note keeps the first few distinct errors, so the report stays short.
func (s *deliveryStats) note(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) >= 3 {
		return
	}
	msg := err.Error()
	for _, seen := range s.errs {
		if seen == msg {
			return
		}
	}
	s.errs = append(s.errs, msg)
}
