package mcpconv

import (
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SpanAdjustedCount is the number of spans this one stands for: the inverse
// of the sampling probability recorded in tracestate ot=th, 1 when none is
// recorded (or the tracestate cannot be parsed: the item counts as
// unsampled).
func SpanAdjustedCount(span ptrace.Span) float64 {
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

// LogThreshold is the sampling threshold recorded in a log record's
// SamplingThreshold attribute; false when there is none or it cannot be
// read (the record then counts as unsampled).
func LogThreshold(lr plog.LogRecord) (sampling.Threshold, bool) {
	v, ok := lr.Attributes().Get(SamplingThreshold)
	if !ok {
		return sampling.Threshold{}, false
	}
	th, err := sampling.TValueToThreshold(v.AsString())
	return th, err == nil
}

// LogAdjustedCount is the number of records this one stands for: the
// inverse of the probability in LogThreshold, 1 when none is recorded.
func LogAdjustedCount(lr plog.LogRecord) float64 {
	th, ok := LogThreshold(lr)
	if !ok {
		return 1
	}
	return th.AdjustedCount()
}
