package mcppgexporter

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// shutdownError has the text of exporterhelper's experr.shutdownErr, which
// is internal to exporterhelper.
type shutdownError struct{ err error }

func (e shutdownError) Error() string { return "interrupted due to shutdown: " + e.err.Error() }
func (e shutdownError) Unwrap() error { return e.err }

type loggedEntry struct {
	Level   zapcore.Level
	Message string
	Fields  map[string]any
}

func logUpstreamDrop(t *testing.T, storage bool, level zapcore.Level, err error) []loggedEntry {
	t.Helper()
	core, logs := observer.New(level)
	set := exportertest.NewNopSettings(component.MustNewType("mcppg"))
	set.Logger = zap.New(core)
	cfg := createDefaultConfig().(*Config)
	if storage {
		id := component.MustNewID("file_storage")
		cfg.QueueConfig.GetOrInsertDefault().StorageID = &id
	}
	queueSettings(set, cfg).Logger.Error(upstreamDropMessage+" Try enabling sending_queue to survive temporary failures.",
		zap.Error(err), zap.Int("dropped_items", 5000))
	var out []loggedEntry
	for _, e := range logs.AllUntimed() {
		out = append(out, loggedEntry{Level: e.Level, Message: e.Message, Fields: e.ContextMap()})
	}
	return out
}

func TestShutdownKeepsTheBatchAndSaysSo(t *testing.T) {
	interrupted := shutdownError{err: fmt.Errorf("retry: %w", errors.New("conn closed"))}
	assert.Equal(t, []loggedEntry{{
		Level:   zapcore.InfoLevel,
		Message: keptOnShutdown,
		Fields:  map[string]any{"error": interrupted.Error(), "kept_items": int64(5000)},
	}}, logUpstreamDrop(t, true, zapcore.InfoLevel, interrupted))

	// At warn level, the note is not an error any more: nothing is logged.
	assert.Empty(t, logUpstreamDrop(t, true, zapcore.WarnLevel, interrupted))

	// Without a persistent queue the data is really dropped: error, as upstream says.
	got := logUpstreamDrop(t, false, zapcore.InfoLevel, interrupted)
	assert.Len(t, got, 1)
	assert.Equal(t, zapcore.ErrorLevel, got[0].Level)

	// Any other failure keeps its error line.
	got = logUpstreamDrop(t, true, zapcore.InfoLevel, errors.New("permanent: bad data"))
	assert.Len(t, got, 1)
	assert.Equal(t, zapcore.ErrorLevel, got[0].Level)
	assert.Equal(t, int64(5000), got[0].Fields["dropped_items"])
}
