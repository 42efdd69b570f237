package simcapture

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// Replay sends the requests of a capture file (`run -capture`) to an OTLP/gRPC
// endpoint as they are, paced by items per second: a load whose generation
// cost was paid beforehand, so that a benchmark on one machine measures the
// collector and the database rather than the simulator's SDK. Every request
// goes once (retried while the collector pushes back), so a capture replayed
// in full can be reconciled with the manifest of the run that captured it.

// exportMethods are the OTLP/gRPC Export methods per signal.
var exportMethods = map[Signal]string{
	Traces:  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	Logs:    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
	Metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}

// rawCodec sends a request's protobuf bytes unchanged and keeps the
// response's bytes undecoded.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// ReplayOptions say where and how fast to replay.
type ReplayOptions struct {
	Endpoint string        // the collector's OTLP/gRPC host:port
	Rate     float64       // items per second; 0: as fast as the collector takes them
	Duration time.Duration // stop starting requests after this long; 0: replay everything
	Workers  int           // requests in flight
	Timeout  time.Duration // deadline of one export call
	RetryFor time.Duration // how long one request is retried while the collector pushes back
}

// ReplayResult counts what a replay delivered, per signal.
type ReplayResult struct {
	Requests, Items int64
	Elapsed         time.Duration
	Retries         int64
	Delivered       map[Signal]int64 // items
	Failed          map[Signal]int64 // items
	Exports         map[Signal]int64 // requests
	FailedExports   map[Signal]int64 // requests
}

// Replay sends recs in order (workers requests at a time), record i not
// before start + items before it / rate; with a duration, none that is due
// (or, without a rate, picked) after it.
func Replay(ctx context.Context, o ReplayOptions, recs []Record) (ReplayResult, error) {
	res := ReplayResult{Delivered: map[Signal]int64{}, Failed: map[Signal]int64{},
		Exports: map[Signal]int64{}, FailedExports: map[Signal]int64{}}
	conn, err := grpc.NewClient(o.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		return res, err
	}
	defer conn.Close()

	// due[i]: items sent before record i, for the pacing.
	due := make([]int64, len(recs)+1)
	for i, r := range recs {
		due[i+1] = due[i] + int64(r.Items)
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range o.Workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(recs) || ctx.Err() != nil || (o.Duration > 0 && time.Since(start) >= o.Duration) {
					return
				}
				if o.Rate > 0 {
					after := time.Duration(float64(due[i]) / o.Rate * float64(time.Second))
					if o.Duration > 0 && after >= o.Duration {
						return // due after the end of the run
					}
					if d := time.Until(start.Add(after)); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				r := recs[i]
				retries, err := exportWithRetry(ctx, conn, o, r)
				mu.Lock()
				res.Requests++
				res.Items += int64(r.Items)
				res.Retries += int64(retries)
				if err != nil {
					res.Failed[r.Signal] += int64(r.Items)
					res.FailedExports[r.Signal]++
					firstErr = cmp.Or(firstErr, err)
				} else {
					res.Delivered[r.Signal] += int64(r.Items)
					res.Exports[r.Signal]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if firstErr != nil {
		return res, fmt.Errorf("not every request was delivered; first error: %w", firstErr)
	}
	return res, ctx.Err()
}

// exportWithRetry sends one request, retrying (100 ms doubling to 2 s) while
// the collector answers that it cannot take it now, for up to o.RetryFor.
func exportWithRetry(ctx context.Context, conn *grpc.ClientConn, o ReplayOptions, r Record) (int, error) {
	deadline := time.Now().Add(o.RetryFor)
	backoff := 100 * time.Millisecond
	for retries := 0; ; retries++ {
		callCtx, cancel := context.WithTimeout(ctx, o.Timeout)
		body, reply := r.Body, []byte(nil)
		err := conn.Invoke(callCtx, exportMethods[r.Signal], &body, &reply)
		cancel()
		if err == nil {
			return retries, nil
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted:
		default:
			return retries, err
		}
		if ctx.Err() != nil || time.Now().Add(backoff).After(deadline) {
			return retries, err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return retries, ctx.Err()
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
