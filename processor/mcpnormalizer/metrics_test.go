package mcpnormalizer

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// normalizedMetrics reads a fixture's metrics.jsonl through the processor
// and returns the metrics by name, with the histograms' first data points
// as sent.
func normalizedMetrics(t *testing.T, dir string) (map[string]pmetric.Metric, map[string]pmetric.HistogramDataPoint) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "emitters", dir, "metrics.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), settingsWith(componenttest.NewTelemetry()), createDefaultConfig(), sink)
	require.NoError(t, err)
	sent := map[string]pmetric.HistogramDataPoint{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		req := pmetricotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalJSON(sc.Bytes()))
		forEachMetric(req.Metrics(), func(m pmetric.Metric) {
			if m.Type() == pmetric.MetricTypeHistogram && m.Histogram().DataPoints().Len() > 0 {
				if _, ok := sent[m.Name()]; !ok {
					dp := pmetric.NewHistogramDataPoint()
					m.Histogram().DataPoints().At(0).CopyTo(dp)
					sent[m.Name()] = dp
				}
			}
		})
		require.NoError(t, p.ConsumeMetrics(context.Background(), req.Metrics()))
	}
	require.NoError(t, sc.Err())
	out := map[string]pmetric.Metric{}
	for _, md := range sink.AllMetrics() {
		forEachMetric(md, func(m pmetric.Metric) { out[m.Name()] = m })
	}
	return out, sent
}

func forEachMetric(md pmetric.Metrics, fn func(pmetric.Metric)) {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			for k := 0; k < sms.At(j).Metrics().Len(); k++ {
				fn(sms.At(j).Metrics().At(k))
			}
		}
	}
}

// docker/mcp-gateway's tool durations (ms) become the conventional client
// operation duration in seconds, its points the method and tool keys.
func TestDockerToolDurationBecomesClientOperationSeconds(t *testing.T) {
	got, sent := normalizedMetrics(t, "docker-mcp-gateway")
	require.NotContains(t, got, "mcp.tool.duration")
	m, ok := got[mcpconv.MetricClientOperationDuration]
	require.True(t, ok)
	assert.Equal(t, "s", m.Unit())
	before, after := sent["mcp.tool.duration"], m.Histogram().DataPoints().At(0)
	require.Positive(t, before.ExplicitBounds().Len())
	for i := 0; i < before.ExplicitBounds().Len(); i++ {
		assert.InDelta(t, before.ExplicitBounds().At(i)/1000, after.ExplicitBounds().At(i), 1e-12)
	}
	assert.InDelta(t, before.Sum()/1000, after.Sum(), 1e-9)
	assert.Equal(t, before.BucketCounts().AsRaw(), after.BucketCounts().AsRaw())
	assert.Equal(t, mcpconv.MethodToolsCall, strAttr(after.Attributes(), mcpconv.MethodName))
	assert.NotEmpty(t, strAttr(after.Attributes(), mcpconv.ToolName))
	assert.Contains(t, got, "mcp.tool.calls", "other metrics pass unchanged")
}

// Envoy AI Gateway's request duration (seconds, no unit) is the server
// operation duration; its other metrics pass unchanged.
func TestEnvoyRequestDurationBecomesServerOperation(t *testing.T) {
	got, _ := normalizedMetrics(t, "envoy-ai-gateway")
	require.NotContains(t, got, "mcp.request.duration")
	m, ok := got[mcpconv.MetricServerOperationDuration]
	require.True(t, ok)
	assert.Equal(t, "s", m.Unit())
	assert.Equal(t, "token", got["mcp.initialization.duration"].Unit(), "an emitter's own metric keeps its (wrong) unit")
}

// Emitters that already send the conventional histograms in seconds pass
// unchanged.
func TestConventionalDurationsPassUnchanged(t *testing.T) {
	for _, dir := range []string{"csharp-sdk", "toolhive-vmcp"} {
		got, sent := normalizedMetrics(t, dir)
		for _, name := range []string{mcpconv.MetricServerOperationDuration, mcpconv.MetricClientOperationDuration} {
			if m, ok := got[name]; ok {
				assert.Equal(t, "s", m.Unit(), "%s %s", dir, name)
				assert.Equal(t, sent[name].ExplicitBounds().AsRaw(), m.Histogram().DataPoints().At(0).ExplicitBounds().AsRaw(), "%s %s", dir, name)
			}
		}
	}
}
