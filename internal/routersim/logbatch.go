package routersim

import (
	"context"
	"sync"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// blockingLogProcessor batches log records like the SDK's BatchProcessor,
// but when the exporter falls behind it makes Emit wait instead of dropping
// the oldest records: a load generator must not lose what it counts as
// sent. One goroutine exports, as the Exporter contract requires.
type blockingLogProcessor struct {
	exp       sdklog.Exporter
	batchSize int

	mu      sync.Mutex
	batch   []sdklog.Record
	stopped bool

	batches  chan []sdklog.Record
	inFlight sync.WaitGroup // batches handed to the exporter goroutine
	done     chan struct{}
	stopTick chan struct{}

	// exportCtx is every export's; Shutdown cancels it when its own
	// context ends, so that no export outlives the flush deadline.
	exportCtx    context.Context
	cancelExport context.CancelFunc
}

// newBlockingLogProcessor exports batches of batchSize records, with up to
// queued full batches waiting; a partial batch goes after 200 ms.
func newBlockingLogProcessor(exp sdklog.Exporter, batchSize, queued int) *blockingLogProcessor {
	p := &blockingLogProcessor{
		exp:       exp,
		batchSize: batchSize,
		batch:     make([]sdklog.Record, 0, batchSize),
		batches:   make(chan []sdklog.Record, queued),
		done:      make(chan struct{}),
		stopTick:  make(chan struct{}),
	}
	p.exportCtx, p.cancelExport = context.WithCancel(context.Background())
	go p.export()
	go p.tick(200 * time.Millisecond)
	return p
}

func (p *blockingLogProcessor) export() {
	defer close(p.done)
	for b := range p.batches {
		_ = p.exp.Export(p.exportCtx, b) // counted by the exporter wrapper
		p.inFlight.Done()
	}
}

func (p *blockingLogProcessor) tick(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stopTick:
			return
		case <-t.C:
			p.sendPartial()
		}
	}
}

// OnEmit queues a copy of the record, waiting while the queue is full.
func (p *blockingLogProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.batch = append(p.batch, r.Clone())
	if len(p.batch) < p.batchSize {
		p.mu.Unlock()
		return nil
	}
	full := p.batch
	p.batch = make([]sdklog.Record, 0, p.batchSize)
	p.inFlight.Add(1)
	p.mu.Unlock()
	p.batches <- full
	return nil
}

// Enabled reports that every record is processed.
func (p *blockingLogProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

func (p *blockingLogProcessor) sendPartial() {
	p.mu.Lock()
	if p.stopped || len(p.batch) == 0 {
		p.mu.Unlock()
		return
	}
	part := p.batch
	p.batch = make([]sdklog.Record, 0, p.batchSize)
	p.inFlight.Add(1)
	p.mu.Unlock()
	p.batches <- part
}

// ForceFlush exports everything queued so far.
func (p *blockingLogProcessor) ForceFlush(ctx context.Context) error {
	p.sendPartial()
	drained := make(chan struct{})
	go func() {
		p.inFlight.Wait()
		close(drained)
	}()
	select {
	case <-drained:
		return p.exp.ForceFlush(ctx)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown flushes, stops the goroutines and shuts the exporter down. When
// ctx ends first, the export in flight is cancelled and the batches still
// queued fail at once (the exporter wrapper counts them as not delivered).
func (p *blockingLogProcessor) Shutdown(ctx context.Context) error {
	err := p.ForceFlush(ctx)
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return err
	}
	p.stopped = true
	p.mu.Unlock()
	close(p.stopTick)
	close(p.batches)
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cancelExport()
		return ctx.Err()
	}
	if serr := p.exp.Shutdown(ctx); err == nil {
		err = serr
	}
	p.cancelExport()
	return err
}
