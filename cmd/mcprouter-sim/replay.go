package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mcp-bridge/otelcol-mcp/internal/routersim"
	"github.com/mcp-bridge/otelcol-mcp/internal/simcapture"
)

// replayFlags are the flags of the replay command.
type replayFlags struct {
	in string
	simcapture.ReplayOptions
}

func parseReplayFlags(args []string, stderr io.Writer) (replayFlags, error) {
	var o replayFlags
	fs := flag.NewFlagSet("mcprouter-sim replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.in, "in", "", "capture file written by mcprouter-sim run -capture (required)")
	fs.StringVar(&o.Endpoint, "endpoint", "localhost:4317", "collector OTLP/gRPC address (host:port)")
	fs.Float64Var(&o.Rate, "rate", 0, "items (spans, log records, metric data points) per second; 0 = as fast as the collector takes them")
	fs.DurationVar(&o.Duration, "duration", 0, "stop starting requests after this long; 0 = replay the whole file")
	fs.IntVar(&o.Workers, "workers", 8, "requests in flight")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "deadline of one export call")
	fs.DurationVar(&o.RetryFor, "flush-timeout", 2*time.Minute, "how long one request is retried while the collector pushes back")
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
	if strings.Contains(o.Endpoint, "://") || o.Endpoint == "" {
		errs = append(errs, fmt.Errorf("endpoint: %q must be host:port", o.Endpoint))
	}
	if o.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate: %v must not be negative", o.Rate))
	}
	if o.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration: %v must not be negative", o.Duration))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers: %d must be at least 1", o.Workers))
	}
	if o.Timeout <= 0 || o.RetryFor <= 0 {
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
	recs, err := simcapture.Read(o.in)
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim replay:", err)
		return 2
	}
	res, err := simcapture.Replay(ctx, o.ReplayOptions, recs)
	fmt.Fprintf(stdout, "mcprouter-sim: replayed %d of %d requests, %d items in %.1f s (%.0f/s, target %s) to %s\n",
		res.Requests, len(recs), res.Items, res.Elapsed.Seconds(), float64(res.Items)/max(res.Elapsed.Seconds(), 1e-9),
		routersim.RateText(o.Rate), o.Endpoint)
	// The same line as `run`, so that scripts read both alike.
	fmt.Fprintf(stdout, "mcprouter-sim: delivered %d spans, %d log records, %d metric exports; not delivered: %d spans, %d log records, %d metric exports\n",
		res.Delivered[simcapture.Traces], res.Delivered[simcapture.Logs], res.Exports[simcapture.Metrics],
		res.Failed[simcapture.Traces], res.Failed[simcapture.Logs], res.FailedExports[simcapture.Metrics])
	if res.Retries > 0 {
		fmt.Fprintf(stdout, "mcprouter-sim: %d export calls retried (the collector pushed back)\n", res.Retries)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim replay:", err)
		return 1
	}
	return 0
}
