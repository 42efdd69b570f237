package diskguard

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// guardedClient is file_storage's client with two rules for a nearly full
// disk. A write of a queue item is refused below half the reserve. A read
// whose bookkeeping write fails still returns its items: the upstream queue
// (exporterhelper v0.165, getNextItem) otherwise drops an item whose
// dispatch record cannot be written, acknowledged data included.
// It also keeps the size of every stored value, so that the guard can tell
// how much of the storage file is free pages.
type guardedClient struct {
	inner storage.Client
	guard *diskGuard
	path  string // the bbolt file

	mu    sync.Mutex
	sizes map[string]int64
	live  int64
	// requeue is what the queue may write back unchecked at start: before
	// its first read the upstream queue deletes the items a crash left
	// dispatched and writes them again under new keys
	// (enqueueNotDispatchedReqs); refusing those writes would lose them.
	requeue int64
	reading bool // the queue has read an item: its start-up is over
}

func newGuardedClient(ctx context.Context, inner storage.Client, g *diskGuard, path string) (*guardedClient, error) {
	c := &guardedClient{inner: inner, guard: g, path: path, sizes: map[string]int64{}}
	walker, ok := inner.(storage.Walker)
	if !ok {
		return nil, fmt.Errorf("diskguard: the storage client %T cannot list its entries", inner)
	}
	err := walker.Walk(ctx, func(key string, value []byte) ([]*storage.Operation, error) {
		c.sizes[key] = int64(len(value))
		c.live += int64(len(value))
		return nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("diskguard: list the stored entries: %w", err)
	}
	return c, nil
}

// reusableBytes estimates the free pages inside the client's file from
// below; 0 when the file cannot be read. Twice the live bytes: bbolt keeps
// a leaf page at least half full, and freed pages are scattered, so a large
// value may not find a run of free pages long enough while the total would
// do (measured: one page per value is not enough of a margin).
func (c *guardedClient) reusableBytes() int64 {
	allocated, err := allocatedBytes(c.path)
	if err != nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(0, allocated-2*c.live)
}

func (c *guardedClient) Get(ctx context.Context, key string) ([]byte, error) {
	return c.inner.Get(ctx, key)
}

func (c *guardedClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *guardedClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

func (c *guardedClient) Close(ctx context.Context) error {
	c.guard.forget(c)
	return c.inner.Close(ctx)
}

func (c *guardedClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	if n := itemBytes(ops); n > 0 && !c.requeueing(n) {
		if err := c.guard.admitItem(ctx, n); err != nil {
			return err
		}
	}
	err := c.inner.Batch(ctx, ops...)
	if err == nil {
		c.account(ops)
		return nil
	}
	if !isRead(ops) {
		return err
	}
	// The read's bookkeeping could not be written: read the items alone.
	// They stay on disk until their deletion succeeds, so a crash before
	// then sends them again, which the exporter recognises as a replay.
	for _, op := range ops {
		if op.Type != storage.Get {
			continue
		}
		v, getErr := c.inner.Get(ctx, op.Key)
		if getErr != nil {
			return err
		}
		op.Value = v
	}
	c.mu.Lock()
	c.reading, c.requeue = true, 0
	c.mu.Unlock()
	c.guard.bookkeepingFailed(ctx, err)
	return nil
}

// requeueing tells whether an item write of n bytes puts back, at start,
// items the queue has just deleted, and takes them from that credit.
func (c *guardedClient) requeueing(n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	// An item comes back re-encoded: allow it a page more than it took.
	if c.reading || c.requeue == 0 || n > c.requeue+4096 {
		return false
	}
	c.requeue = max(0, c.requeue-n)
	return true
}

// account keeps the stored sizes in step with a committed batch.
func (c *guardedClient) account(ops []*storage.Operation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if isRead(ops) {
		c.reading, c.requeue = true, 0
	}
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			c.live += int64(len(op.Value)) - c.sizes[op.Key]
			c.sizes[op.Key] = int64(len(op.Value))
		case storage.Delete:
			if !c.reading && isItemKey(op.Key) {
				c.requeue += c.sizes[op.Key]
			}
			c.live -= c.sizes[op.Key]
			delete(c.sizes, op.Key)
		}
	}
}

// isItemKey tells a queue item from bookkeeping: the persistent queue stores
// item n under the decimal key "n" and its indexes under other keys ("qmv0";
// "ri", "wi", "di" before v0.128).
func isItemKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < '0' || key[i] > '9' {
			return false
		}
	}
	return true
}

// itemBytes is the size of the queue items a batch writes.
func itemBytes(ops []*storage.Operation) int64 {
	var n int64
	for _, op := range ops {
		if op.Type == storage.Set && isItemKey(op.Key) {
			n += int64(len(op.Value))
		}
	}
	return n
}

// isRead tells a dequeue (bookkeeping writes plus item reads) from writes
// of data: it reads at least one item and writes no item.
func isRead(ops []*storage.Operation) bool {
	reads := false
	for _, op := range ops {
		switch {
		case op.Type == storage.Get:
			reads = true
		case op.Type == storage.Set && isItemKey(op.Key):
			return false
		}
	}
	return reads
}

// rateLimit lets one log line through per interval.
type rateLimit struct {
	mu   sync.Mutex
	last time.Time
}

func (r *rateLimit) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.last) >= 10*time.Second {
		r.last = now
		return true
	}
	return false
}
