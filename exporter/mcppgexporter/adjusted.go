package mcppgexporter

import (
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanAdjustedCount is the number of spans this one stands for: the inverse
// of the sampling probability recorded in tracestate ot=th, 1 when none is
// recorded (or the tracestate cannot be parsed: the row is kept as unsampled).
func spanAdjustedCount(span ptrace.Span) float64 {
	ts := span.TraceState().AsRaw()
	if !strings.Contains(ts, "ot=") {
		return 1
	}
	w3c, err := sampling.NewW3CTraceState(ts)
	if err != nil {
		return 1
	}
	th, ok := w3c.OTelValue().TValueThreshold()
	if !ok {
		return 1
	}
	return th.AdjustedCount()
}
