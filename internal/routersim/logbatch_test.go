package routersim

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// unansweredLogs is a log exporter whose endpoint never answers: an export
// returns only when its context ends.
type unansweredLogs struct {
	inside, returned atomic.Int32
}

func (e *unansweredLogs) Export(ctx context.Context, _ []sdklog.Record) error {
	e.inside.Add(1)
	defer e.returned.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

func (*unansweredLogs) Shutdown(context.Context) error   { return nil }
func (*unansweredLogs) ForceFlush(context.Context) error { return nil }

// TestLogProcessorShutdownCancelsTheExportInFlight: past the flush deadline
// the export in flight is cancelled and counted as not delivered, instead of
// outliving the shutdown that gave up on it.
func TestLogProcessorShutdownCancelsTheExportInFlight(t *testing.T) {
	exp := &unansweredLogs{}
	stats := &deliveryStats{}
	p := newBlockingLogProcessor(countingLogs{Exporter: exp, stats: stats}, 1, 1)
	var r sdklog.Record
	require.NoError(t, p.OnEmit(context.Background(), &r))
	require.Eventually(t, func() bool { return exp.inside.Load() == 1 }, 10*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Shutdown(ctx), context.DeadlineExceeded)
	require.Eventually(t, func() bool { return exp.returned.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the export outlived the shutdown")
	<-p.done
	assert.Equal(t, int64(1), stats.logsFailed.Load())
	assert.Zero(t, stats.logsExported.Load())
}
