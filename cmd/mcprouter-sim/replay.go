package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// replay sends the requests of a capture file (`run -capture`) to an OTLP/gRPC
// endpoint as they are, paced by items per second: a load whose generation
// cost was paid beforehand, so that a benchmark on one machine measures the
// collector and the database rather than the simulator's SDK. Every request
// goes once (retried while the collector pushes back), so a capture replayed
// in full can be reconciled with the manifest of the run that captured it.

// exportMethods are the OTLP/gRPC Export methods per signal.
var exportMethods = map[captureSignal]string{
	captureTraces:  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	captureLogs:    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
	captureMetrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
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

type replayOptions struct {
	in       string
	endpoint string
	rate     float64
	duration time.Duration
	workers  int
	timeout  time.Duration
	retryFor time.Duration
}

func parseReplayFlags(args []string, stderr io.Writer) (replayOptions, error) {
	var o replayOptions
	fs := flag.NewFlagSet("mcprouter-sim replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.in, "in", "", "capture file written by mcprouter-sim run -capture (required)")
	fs.StringVar(&o.endpoint, "endpoint", "localhost:4317", "collector OTLP/gRPC address (host:port)")
	fs.Float64Var(&o.rate, "rate", 0, "items (spans, log records, metric data points) per second; 0 = as fast as the collector takes them")
	fs.DurationVar(&o.duration, "duration", 0, "stop starting requests after this long; 0 = replay the whole file")
	fs.IntVar(&o.workers, "workers", 8, "requests in flight")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "deadline of one export call")
	fs.DurationVar(&o.retryFor, "flush-timeout", 2*time.Minute, "how long one request is retried while the collector pushes back")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var errs []error
	if o.in == "" {
		errs = append(errs, errors.New("in: the capture file is required"))
	}
	if strings.Contains(o.endpoint, "://") || o.endpoint == "" {
		errs = append(errs, fmt.Errorf("endpoint: %q must be host:port", o.endpoint))
	}
	if o.rate < 0 {
		errs = append(errs, fmt.Errorf("rate: %v must not be negative", o.rate))
	}
	if o.duration < 0 {
		errs = append(errs, fmt.Errorf("duration: %v must not be negative", o.duration))
	}
	if o.workers < 1 {
		errs = append(errs, fmt.Errorf("workers: %d must be at least 1", o.workers))
	}
	if o.timeout <= 0 || o.retryFor <= 0 {
		errs = append(errs, errors.New("timeout and flush-timeout must be positive"))
	}
	return o, errors.Join(errs...)
}

func replayCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseReplayFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim replay:", err)
		return 2
	}
	recs, err := readCapture(o.in)
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim replay:", err)
		return 2
	}
	res, err := replay(ctx, o, recs)
	fmt.Fprintf(stdout, "mcprouter-sim: replayed %d of %d requests, %d items in %.1f s (%.0f/s, target %s) to %s\n",
		res.requests, len(recs), res.items, res.elapsed.Seconds(), float64(res.items)/max(res.elapsed.Seconds(), 1e-9),
		rateText(o.rate), o.endpoint)
	// The same line as `run`, so that scripts read both alike.
	fmt.Fprintf(stdout, "mcprouter-sim: delivered %d spans, %d log records, %d metric exports; not delivered: %d spans, %d log records, %d metric exports\n",
		res.delivered[captureTraces], res.delivered[captureLogs], res.exports[captureMetrics],
		res.failed[captureTraces], res.failed[captureLogs], res.failedExports[captureMetrics])
	if res.retries > 0 {
		fmt.Fprintf(stdout, "mcprouter-sim: %d export calls retried (the collector pushed back)\n", res.retries)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim replay:", err)
		return 1
	}
	return 0
}

// replayResult counts what a replay delivered, per signal.
type replayResult struct {
	requests, items int64
	elapsed         time.Duration
	retries         int64
	delivered       map[captureSignal]int64 // items
	failed          map[captureSignal]int64 // items
	exports         map[captureSignal]int64 // requests
	failedExports   map[captureSignal]int64 // requests
}

// replay sends recs in order (workers requests at a time), record i not
// before start + items before it / rate; with a duration, none that is due
// (or, without a rate, picked) after it.
func replay(ctx context.Context, o replayOptions, recs []captureRecord) (replayResult, error) {
	res := replayResult{delivered: map[captureSignal]int64{}, failed: map[captureSignal]int64{},
		exports: map[captureSignal]int64{}, failedExports: map[captureSignal]int64{}}
	conn, err := grpc.NewClient(o.endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		return res, err
	}
	defer conn.Close()

	// due[i]: items sent before record i, for the pacing.
	due := make([]int64, len(recs)+1)
	for i, r := range recs {
		due[i+1] = due[i] + int64(r.items)
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range o.workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(recs) || ctx.Err() != nil || (o.duration > 0 && time.Since(start) >= o.duration) {
					return
				}
				if o.rate > 0 {
					after := time.Duration(float64(due[i]) / o.rate * float64(time.Second))
					if o.duration > 0 && after >= o.duration {
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
				res.requests++
				res.items += int64(r.items)
				res.retries += int64(retries)
				if err != nil {
					res.failed[r.signal] += int64(r.items)
					res.failedExports[r.signal]++
					firstErr = cmp.Or(firstErr, err)
				} else {
					res.delivered[r.signal] += int64(r.items)
					res.exports[r.signal]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if firstErr != nil {
		return res, fmt.Errorf("not every request was delivered; first error: %w", firstErr)
	}
	return res, ctx.Err()
}

// exportWithRetry sends one request, retrying (100 ms doubling to 2 s) while
// the collector answers that it cannot take it now, for up to o.retryFor.
func exportWithRetry(ctx context.Context, conn *grpc.ClientConn, o replayOptions, r captureRecord) (int, error) {
	deadline := time.Now().Add(o.retryFor)
	backoff := 100 * time.Millisecond
	for retries := 0; ; retries++ {
		callCtx, cancel := context.WithTimeout(ctx, o.timeout)
		body, reply := r.body, []byte(nil)
		err := conn.Invoke(callCtx, exportMethods[r.signal], &body, &reply)
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
