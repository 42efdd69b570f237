package mcpsampler

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

type logOutcome struct {
	Kept       bool
	Attributes map[string]any
}

// TestLogThresholds covers how a record's sampling.threshold is read and
// written at the default 10% for healthy health checks.
func TestLogThresholds(t *testing.T) {
	t10, t1 := thresholdOf(10), thresholdOf(1)
	healthy := map[string]any{mcpconv.ServerKey: "weather-1", mcpconv.HealthStatus: mcpconv.HealthHealthy}
	with := func(m map[string]any, kv ...string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	unhealthy := with(healthy, mcpconv.HealthStatus, mcpconv.HealthUnhealthy)
	const th10 = "e6666666666666"

	tests := []struct {
		name       string
		attributes map[string]any
		randomness uint64
		want       logOutcome
	}{
		{name: "passes", attributes: healthy, randomness: t10,
			want: logOutcome{true, with(healthy, mcpconv.SamplingThreshold, th10)}},
		{name: "below", attributes: healthy, randomness: t10 - 1, want: logOutcome{false, nil}},
		{name: "looser upstream threshold is raised",
			attributes: with(healthy, mcpconv.SamplingThreshold, "8"), randomness: t10,
			want: logOutcome{true, with(healthy, mcpconv.SamplingThreshold, th10)}},
		{name: "stricter upstream threshold is kept as it is",
			attributes: with(healthy, mcpconv.SamplingThreshold, "fd70a3d70a3d71"), randomness: t1,
			want: logOutcome{true, with(healthy, mcpconv.SamplingThreshold, "fd70a3d70a3d71")}},
		{name: "stricter upstream threshold is respected, not loosened",
			attributes: with(healthy, mcpconv.SamplingThreshold, "fd70a3d70a3d71"), randomness: t10, want: logOutcome{false, nil}},
		{name: "explicit sampling.randomness wins over the trace id",
			attributes: with(healthy, mcpconv.SamplingRandomness, "fffffffffffff0"), randomness: 0,
			want: logOutcome{true, with(healthy, mcpconv.SamplingRandomness, "fffffffffffff0", mcpconv.SamplingThreshold, th10)}},
		{name: "unreadable sampling.randomness counts as absent",
			attributes: with(healthy, mcpconv.SamplingRandomness, "not hex"), randomness: 0, want: logOutcome{false, nil}},
		{name: "unreadable threshold counts as absent",
			attributes: with(healthy, mcpconv.SamplingThreshold, "zz"), randomness: t10,
			want: logOutcome{true, with(healthy, mcpconv.SamplingThreshold, th10)}},
		{name: "failure is kept unchanged whatever upstream said",
			attributes: with(unhealthy, mcpconv.SamplingThreshold, "fd70a3d70a3d71"), randomness: 0,
			want: logOutcome{true, with(unhealthy, mcpconv.SamplingThreshold, "fd70a3d70a3d71")}},
	}
	s := newSampler(testConfig(t, nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resource, records := newRecords()
			lr := records.AppendEmpty()
			lr.SetEventName(mcpconv.EventHealthCheck)
			lr.SetTraceID(traceIDWithRandomness(tt.randomness))
			assert.NoError(t, lr.Attributes().FromRaw(tt.attributes))
			_, keep := s.sampleLog(lr, resource)
			got := logOutcome{Kept: keep}
			if keep {
				got.Attributes = lr.Attributes().AsRaw()
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestLogRandomnessSources: without a trace id, a record is decided by its
// event.id, or by its content; never by chance. Two records that differ only
// in their sampling attributes hash alike.
func TestLogRandomnessSources(t *testing.T) {
	record := func(edit func(plog.LogRecord)) plog.LogRecord {
		_, _, records := newRecords()
		lr := healthCheck(records, mcpconv.HealthHealthy)
		edit(lr)
		return lr
	}
	none := func(plog.LogRecord) {}
	base := logRandomness(record(none))
	tests := []struct {
		name string
		edit func(plog.LogRecord)
		same bool
	}{
		{"identical record", none, true},
		{"sampling.threshold added", func(lr plog.LogRecord) { lr.Attributes().PutStr(mcpconv.SamplingThreshold, "e6") }, true},
		{"another timestamp", func(lr plog.LogRecord) { lr.SetTimestamp(lr.Timestamp() + 1) }, false},
		{"another observed timestamp", func(lr plog.LogRecord) { lr.SetObservedTimestamp(1) }, false},
		{"another attribute value", func(lr plog.LogRecord) { lr.Attributes().PutStr(mcpconv.ServerKey, "weather-2") }, false},
		{"another body", func(lr plog.LogRecord) { lr.Body().SetStr("ok") }, false},
		{"another severity", func(lr plog.LogRecord) { lr.SetSeverityNumber(plog.SeverityNumberDebug) }, false},
		{"an event.id", func(lr plog.LogRecord) { lr.Attributes().PutStr(mcpconv.EventID, "hc-1") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.same, logRandomness(record(tt.edit)) == base)
		})
	}

	byID := func(content string) func(plog.LogRecord) {
		return func(lr plog.LogRecord) {
			lr.Attributes().PutStr(mcpconv.EventID, "hc-1")
			lr.Body().SetStr(content)
		}
	}
	assert.Equal(t, logRandomness(record(byID("a"))), logRandomness(record(byID("b"))),
		"with an event.id, the content does not matter")
	withTrace := func(lr plog.LogRecord) {
		lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		lr.Attributes().PutStr(mcpconv.EventID, "hc-1")
	}
	assert.Equal(t, uint64(0x0a0b0c0d0e0f10), logRandomness(record(withTrace)).Unsigned(), "the trace id wins over event.id")
}

// TestKindRateThroughTheProcessor: the kind rates apply to log records of
// that kind only.
func TestKindRateThroughTheProcessor(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p := startLogs(t, testConfig(t, map[string]float64{"session": 0}), nopSettings(), sink)
	ld, _, records := newRecords()
	records.AppendEmpty().SetEventName(mcpconv.EventSessionStart)
	records.AppendEmpty().SetEventName(mcpconv.EventServerRegistered)
	assert.NoError(t, p.ConsumeLogs(context.Background(), ld))
	got := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	assert.Equal(t, 1, got.Len())
	assert.Equal(t, mcpconv.EventServerRegistered, got.At(0).EventName())
}
