package diskguard

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/extension/diskguard/internal/metadata"
)

// ErrBelowReserve is returned (wrapped, with the figures) when new data is
// refused because the filesystem's free space is below min_free_mib. It is
// retryable: an OTLP sender sees Unavailable / 503 and tries again later.
var ErrBelowReserve = errors.New("free disk space below the reserve")

// Admitter is implemented by the diskguard extension. An exporter whose
// sending queue is stored in diskguard calls Admit before it offers a
// request to the queue: the upstream persistent queue (exporterhelper
// v0.165) advances its write index before the write, so a write refused by
// the storage leaves an empty slot behind; refusing before the queue does not.
type Admitter interface {
	Admit(ctx context.Context) error
}

type diskGuard struct {
	cfg       *Config
	logger    *zap.Logger
	inner     extension.Extension
	storage   storage.Extension
	telemetry *metadata.TelemetryBuilder

	minFree     int64
	admission   metric.AddOption
	storageOpt  metric.AddOption
	lastRefusal rateLimit

	mu      sync.Mutex
	clients map[*guardedClient]struct{}
}

var (
	_ storage.Extension = (*diskGuard)(nil)
	_ Admitter          = (*diskGuard)(nil)
)

func newDiskGuard(ctx context.Context, set extension.Settings, cfg *Config) (*diskGuard, error) {
	innerSet := set
	innerSet.ID = component.NewIDWithName(filestorage.NewFactory().Type(), set.ID.String())
	inner, err := filestorage.NewFactory().Create(ctx, innerSet, &cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("file storage: %w", err)
	}
	st, ok := inner.(storage.Extension)
	if !ok {
		return nil, errors.New("file_storage is not a storage extension")
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &diskGuard{
		cfg:        cfg,
		logger:     set.Logger,
		inner:      inner,
		storage:    st,
		telemetry:  tb,
		minFree:    cfg.minFreeBytes(),
		admission:  metric.WithAttributeSet(attribute.NewSet(attribute.String("stage", "admission"))),
		storageOpt: metric.WithAttributeSet(attribute.NewSet(attribute.String("stage", "storage"))),
		clients:    map[*guardedClient]struct{}{},
	}, nil
}

func (g *diskGuard) Start(ctx context.Context, host component.Host) error {
	if err := g.inner.Start(ctx, host); err != nil {
		return err
	}
	free, total, err := filesystemSpace(g.cfg.Directory)
	if err != nil {
		return fmt.Errorf("read the free space of %s: %w", g.cfg.Directory, err)
	}
	if total < 4*g.minFree {
		g.logger.Warn("The storage filesystem is small for its reserve: the queue refuses new data while less than min_free_mib is free",
			zap.String("directory", g.cfg.Directory), zap.Int64("filesystem_bytes", total),
			zap.Int64("min_free_bytes", g.minFree), zap.Int64("free_bytes", free))
	}
	// Both refusal series and the failure counter exist from the start, so
	// that rate() and increase() see their first increment.
	g.telemetry.DiskguardRefused.Add(ctx, 0, g.admission)
	g.telemetry.DiskguardRefused.Add(ctx, 0, g.storageOpt)
	g.telemetry.DiskguardBookkeepingFailed.Add(ctx, 0)
	return g.telemetry.RegisterDiskguardFreeBytesCallback(func(_ context.Context, o metric.Int64Observer) error {
		if free, _, err := filesystemSpace(g.cfg.Directory); err == nil {
			o.Observe(free)
		}
		return nil
	})
}

func (g *diskGuard) Shutdown(ctx context.Context) error {
	// Unregisters the free-space callback (none when Start was not called).
	g.telemetry.Shutdown()
	return g.inner.Shutdown(ctx)
}

// GetClient returns file_storage's client for the component, guarded.
func (g *diskGuard) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := g.storage.GetClient(ctx, kind, id, name)
	if err != nil {
		return nil, err
	}
	gc, err := newGuardedClient(ctx, c, g, filepath.Join(g.cfg.Directory, fileName(kind, id, name)))
	if err != nil {
		_ = c.Close(ctx)
		return nil, err
	}
	g.mu.Lock()
	g.clients[gc] = struct{}{}
	g.mu.Unlock()
	return gc, nil
}

func (g *diskGuard) forget(c *guardedClient) {
	g.mu.Lock()
	delete(g.clients, c)
	g.mu.Unlock()
}

// usable is the space new data may still take without the filesystem
// filling: the free space, plus the pages inside the storage files that
// hold no value any more (bbolt reuses them before it grows a file). Those
// are estimated from below, per file, as its allocated size less twice the
// bytes of the values it holds (bbolt keeps a page at least half full).
func (g *diskGuard) usable() (int64, error) {
	free, _, err := filesystemSpace(g.cfg.Directory)
	if err != nil {
		return 0, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.clients {
		free += c.reusableBytes()
	}
	return free, nil
}

// Admit refuses a new request while less than min_free_mib is free.
func (g *diskGuard) Admit(ctx context.Context) error {
	if err := g.checkFree(0, g.minFree); err != nil {
		g.telemetry.DiskguardRefused.Add(ctx, 1, g.admission)
		return err
	}
	return nil
}

// admitItem refuses a queue item of size bytes that would leave less than
// half the reserve free: the last line, for requests admitted together
// just above the reserve.
func (g *diskGuard) admitItem(ctx context.Context, size int64) error {
	if err := g.checkFree(size, g.minFree/2); err != nil {
		g.telemetry.DiskguardRefused.Add(ctx, 1, g.storageOpt)
		return err
	}
	return nil
}

func (g *diskGuard) checkFree(size, floor int64) error {
	free, err := g.usable()
	if err != nil {
		return fmt.Errorf("%w: cannot read the free space of %s: %w", ErrBelowReserve, g.cfg.Directory, err)
	}
	if free-size >= floor {
		return nil
	}
	err = fmt.Errorf("%w: %d MiB usable on the filesystem of %s, the reserve is %d MiB; new data is refused until the queue drains",
		ErrBelowReserve, free>>20, g.cfg.Directory, g.minFree>>20)
	if g.lastRefusal.allow() {
		g.logger.Warn("Refusing new data: the queue's disk is nearly full", zap.Error(err))
	}
	return err
}

func (g *diskGuard) bookkeepingFailed(ctx context.Context, err error) {
	g.telemetry.DiskguardBookkeepingFailed.Add(ctx, 1)
	if g.lastRefusal.allow() {
		g.logger.Warn("A queue read could not record its progress on disk; the item was read anyway and stays on disk until acknowledged (a restart may send it again, which the exporter recognises)",
			zap.Error(err))
	}
}

// fileName is the name file_storage gives a client's file (its GetClient).
func fileName(kind component.Kind, id component.ID, name string) string {
	raw := strings.ToLower(kind.String()) + "_" + id.Type().String() + "_" + id.Name()
	if name != "" {
		raw += "_" + name
	}
	var b strings.Builder
	for _, r := range raw {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "~%04X", r)
		}
	}
	return b.String()
}
