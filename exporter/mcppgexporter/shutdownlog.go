package mcppgexporter

import (
	"errors"
	"strings"

	"go.opentelemetry.io/collector/exporter"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// exporterhelper (v0.165, queue_sender.go) logs every failed export as
// "Exporting failed. Dropping data." at error level, also when the failure
// is a shutdown interrupting the retries. With a persistent queue that batch
// is not dropped: the queue keeps it and sends it after the restart. The
// exporter's logger says so, at info level, for that one case.
const (
	upstreamDropMessage = "Exporting failed. Dropping data."
	shutdownMarker      = "interrupted due to shutdown"
	keptOnShutdown      = "Export interrupted by shutdown; the batch stays in the persistent queue and is sent after the restart."
)

// queueSettings gives exporterhelper a logger that tells a batch kept on disk
// at shutdown from a batch dropped; without a persistent queue the upstream
// message is true and stays.
func queueSettings(set exporter.Settings, cfg *Config) exporter.Settings {
	if !cfg.QueueConfig.HasValue() || cfg.QueueConfig.Get().StorageID == nil {
		return set
	}
	set.Logger = set.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return shutdownCore{Core: c}
	}))
	return set
}

type shutdownCore struct {
	zapcore.Core
}

func (c shutdownCore) With(fields []zapcore.Field) zapcore.Core {
	return shutdownCore{Core: c.Core.With(fields)}
}

func (c shutdownCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level == zapcore.ErrorLevel && strings.HasPrefix(e.Message, upstreamDropMessage) {
		// Decided in Write, where the error field can be read.
		return ce.AddCore(e, c)
	}
	return c.Core.Check(e, ce)
}

func (c shutdownCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if strings.HasPrefix(e.Message, upstreamDropMessage) && interruptedByShutdown(fields) {
		if !c.Core.Enabled(zapcore.InfoLevel) {
			return nil
		}
		e.Level, e.Message = zapcore.InfoLevel, keptOnShutdown
		kept := make([]zapcore.Field, 0, len(fields))
		for _, f := range fields {
			if f.Key == "dropped_items" {
				f.Key = "kept_items"
			}
			kept = append(kept, f)
		}
		return c.Core.Write(e, kept)
	}
	if !c.Core.Enabled(e.Level) {
		return nil
	}
	return c.Core.Write(e, fields)
}

func interruptedByShutdown(fields []zapcore.Field) bool {
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType {
			for ; err != nil; err = errors.Unwrap(err) {
				if strings.Contains(err.Error(), shutdownMarker) {
					return true
				}
			}
		}
	}
	return false
}
