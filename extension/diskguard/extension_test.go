package diskguard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/mcp-bridge/otelcol-mcp/extension/diskguard/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/internal/tmpfs"
)

func guardConfig(dir string, minFreeMiB int64) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.Compaction.Directory = dir
	cfg.MinFreeMiB = minFreeMiB
	return cfg
}

type extensionsHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h.exts }

func startGuard(t *testing.T, cfg *Config) (extension.Extension, component.Host) {
	t.Helper()
	set := extensiontest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	ext, err := NewFactory().Create(context.Background(), set, cfg)
	require.NoError(t, err)
	host := extensionsHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{set.ID: ext}}
	require.NoError(t, ext.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext, host
}

func TestClientFileIsFileStoragesFile(t *testing.T) {
	dir := t.TempDir()
	ext, _ := startGuard(t, guardConfig(dir, 1))
	id := component.MustNewIDWithName("mcppg", "a/b")
	c, err := ext.(storage.Extension).GetClient(context.Background(), component.KindExporter, id, "traces")
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close(context.Background())) }()
	_, err = os.Stat(filepath.Join(dir, fileName(component.KindExporter, id, "traces")))
	require.NoError(t, err, "the guard must find the file file_storage writes, or it cannot see its free pages")
}

// queueRun drives the real exporterhelper persistent queue on a storage
// extension, the way the mcppg exporter does: Admit (when admit is set),
// then ConsumeTraces; one span per request, its id in an attribute.
type queueRun struct {
	t   *testing.T
	exp interface {
		ConsumeTraces(context.Context, ptrace.Traces) error
	}
	admit   Admitter
	dbDown  atomic.Bool
	mu      sync.Mutex
	stored  map[string]int // id -> times exported
	padding string
	padLen  int // bytes of padding sent with the next request
}

func newQueueRun(t *testing.T, host component.Host, storageID component.ID, admit Admitter) *queueRun {
	r := &queueRun{t: t, admit: admit, stored: map[string]int{}}
	buf := make([]byte, 96<<10)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	r.padding = string(buf)
	r.padLen = len(buf)
	queue := exporterhelper.NewDefaultQueueConfig()
	queue.StorageID = &storageID
	queue.NumConsumers = 2
	queue.QueueSize = 100_000 // the disk, not the count, is the limit here
	// As the mcppg exporter's default: batches formed inside the queue.
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.FlushTimeout = 50 * time.Millisecond
	batch.MinSize = 20
	batch.MaxSize = 50
	queue.Batch = configoptional.Some(batch)
	retry := configretry.NewDefaultBackOffConfig()
	retry.InitialInterval = 5 * time.Millisecond
	retry.MaxInterval = 20 * time.Millisecond
	retry.MaxElapsedTime = 0
	eset := exportertest.NewNopSettings(component.MustNewType("mcppg"))
	eset.Logger = zaptest.NewLogger(t)
	exp, err := exporterhelper.NewTraces(context.Background(), eset, &struct{}{},
		func(_ context.Context, td ptrace.Traces) error {
			if r.dbDown.Load() {
				return errors.New("database down")
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				spans := td.ResourceSpans().At(i).ScopeSpans().At(0).Spans()
				for j := 0; j < spans.Len(); j++ {
					v, _ := spans.At(j).Attributes().Get("id")
					r.stored[v.Str()]++
				}
			}
			return nil
		},
		exporterhelper.WithQueue(configoptional.Some(queue)), exporterhelper.WithRetry(retry))
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	r.exp = exp
	return r
}

// send offers one request; it reports whether it was acknowledged.
func (r *queueRun) send(id string) bool {
	ctx := context.Background()
	if r.admit != nil {
		if err := r.admit.Admit(ctx); err != nil {
			require.ErrorIs(r.t, err, ErrBelowReserve)
			return false
		}
	}
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.Attributes().PutStr("id", id)
	span.Attributes().PutStr("padding", r.padding[:r.padLen])
	return r.exp.ConsumeTraces(ctx, td) == nil
}

// fill sends requests of 96 KiB, then of 1 KiB, then of 16 bytes, each
// size until refused times in a row: the disk as full as senders of
// ever smaller requests make it.
func (r *queueRun) fill(prefix string, refused int) (acked []string) {
	i := 0
	for _, size := range []int{96 << 10, 1 << 10, 16} {
		r.padLen = size
		for inARow := 0; inARow < refused; i++ {
			require.Less(r.t, i, 5_000, "the queue never refused: the reserve does not work")
			id := prefix + strconv.Itoa(i)
			if r.send(id) {
				acked = append(acked, id)
				inARow = 0
			} else {
				inARow++
			}
		}
	}
	return acked
}

func (r *queueRun) waitStored(ids []string) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.mu.Lock()
		missing := 0
		for _, id := range ids {
			if r.stored[id] == 0 {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			return
		}
		require.Truef(r.t, time.Now().Before(deadline), "%d of %d acknowledged requests never exported", missing, len(ids))
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFullDiskKeepsEveryAcknowledgedRequest is finding 1 of the durability
// issue: with plain file_storage the queue fills its disk while the database
// is down, its dispatch bookkeeping then fails and it drops acknowledged
// items. With the guard the queue refuses first, keeps its reserve, drains
// every acknowledged request and takes new data again, without a restart.
func TestFullDiskKeepsEveryAcknowledgedRequest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		admit bool // the exporter's admission check in front of the queue
	}{{"admission and storage", true}, {"storage alone", false}} {
		t.Run(tc.name, func(t *testing.T) {
			const sizeMiB, minFreeMiB = 24, 4
			dir := tmpfs.Mount(t, sizeMiB)
			ext, host := startGuard(t, guardConfig(dir, minFreeMiB))
			var admit Admitter
			if tc.admit {
				admit = ext.(Admitter)
			}
			r := newQueueRun(t, host, component.NewID(metadata.Type), admit)

			r.dbDown.Store(true)
			acked := r.fill("outage-", 20)
			require.Greater(t, len(acked), 50, "the filesystem held too few requests to test anything")
			free, _, err := filesystemSpace(dir)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, free, int64(minFreeMiB<<20)/4, "the reserve was eaten")

			r.dbDown.Store(false)
			r.waitStored(acked)

			// Drained: the file's free pages take new data again, through
			// a second outage as long as the first.
			r.dbDown.Store(true)
			after := r.fill("after-", 20)
			// Without counting the drained file's free pages the guard would
			// take next to nothing until a compaction; it counts them from
			// below (twice the live bytes), so at least a quarter.
			require.Greater(t, len(after), len(acked)/4, "the drained queue did not take new data again")
			r.dbDown.Store(false)
			r.waitStored(after)

			r.mu.Lock()
			defer r.mu.Unlock()
			for id, n := range r.stored {
				assert.Equalf(t, 1, n, "request %s exported %d times", id, n)
			}
			assert.Len(t, r.stored, len(acked)+len(after), "an unacknowledged request was exported")
		})
	}
}

// TestReadSurvivesAFailedBookkeepingWrite: a dequeue writes its progress and
// reads the item in one batch; when the write fails (the disk is full), the
// item is still returned instead of being dropped.
func TestReadSurvivesAFailedBookkeepingWrite(t *testing.T) {
	dir := tmpfs.Mount(t, 8)
	ext, _ := startGuard(t, guardConfig(dir, 1))
	ctx := context.Background()
	c, err := ext.(storage.Extension).GetClient(ctx, component.KindExporter, component.MustNewID("mcppg"), "traces")
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close(ctx)) }()
	require.NoError(t, c.Set(ctx, "7", []byte("item seven")))

	// Fill the filesystem to the last block.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	require.NoError(t, err)
	chunk := make([]byte, 64<<10)
	for {
		if _, err = filler.Write(chunk); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, unix.ENOSPC)
	require.NoError(t, filler.Close())

	// A bookkeeping value larger than any free page cannot be written.
	get := storage.GetOperation("7")
	require.NoError(t, c.Batch(ctx, storage.SetOperation("qmv0", make([]byte, 1<<20)), get))
	assert.Equal(t, []byte("item seven"), get.Value)

	// A new item is refused, with the reason.
	require.ErrorIs(t, c.Set(ctx, "8", []byte("item eight")), ErrBelowReserve)
}

// TestRestartPutsBackDispatchedItemsOnAFullDisk: at start the upstream queue
// deletes the items a crash left dispatched and writes them again under new
// keys; on a disk below the reserve those writes must not be refused (the
// items would be lost), while new data still is.
func TestRestartPutsBackDispatchedItemsOnAFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 16)
	cfg := guardConfig(dir, 4)
	ctx := context.Background()
	id := component.MustNewID("mcppg")
	item := make([]byte, 512<<10)
	for i := range item {
		item[i] = byte(i)
	}

	ext, _ := startGuard(t, cfg)
	c, err := ext.(storage.Extension).GetClient(ctx, component.KindExporter, id, "traces")
	require.NoError(t, err)
	require.NoError(t, c.Batch(ctx, storage.SetOperation("qmv0", []byte("meta")), storage.SetOperation("0", item)))
	require.NoError(t, c.Batch(ctx, storage.SetOperation("qmv0", []byte("meta")), storage.SetOperation("1", item)))
	require.NoError(t, c.Close(ctx))

	// Something else fills the filesystem to below half the reserve.
	free, _, err := filesystemSpace(dir)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "filler"), make([]byte, free-(1<<20)), 0o600))

	// The restarted queue's start-up: delete the dispatched items, write them back.
	c, err = ext.(storage.Extension).GetClient(ctx, component.KindExporter, id, "traces")
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close(ctx)) }()
	require.NoError(t, c.Batch(ctx, storage.DeleteOperation("0"), storage.DeleteOperation("1")))
	require.NoError(t, c.Batch(ctx, storage.SetOperation("qmv0", []byte("meta")), storage.SetOperation("2", item)), "a dispatched item was refused on its way back")
	require.NoError(t, c.Batch(ctx, storage.SetOperation("qmv0", []byte("meta")), storage.SetOperation("3", item)), "a dispatched item was refused on its way back")

	// New data is refused, before and after the first read.
	require.ErrorIs(t, c.Batch(ctx, storage.SetOperation("qmv0", []byte("meta")), storage.SetOperation("4", item)), ErrBelowReserve)
	get := storage.GetOperation("2")
	require.NoError(t, c.Batch(ctx, storage.SetOperation("qmv0", []byte("meta")), get))
	assert.Equal(t, item, get.Value)
	require.ErrorIs(t, c.Batch(ctx, storage.SetOperation("qmv0", []byte("meta")), storage.SetOperation("4", item)), ErrBelowReserve)
}
