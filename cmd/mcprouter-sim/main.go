// Command mcprouter-sim is a simulated MCP router: it sends a bounded burst of
// routed requests as OpenTelemetry spans over OTLP/gRPC, the way an
// instrumented router would, then flushes and exits.
//
// Each request is a SERVER span "{mcp.method.name} {target}"; a tools/call also
// has a CLIENT span toward the chosen upstream. Failed tool calls record an
// exception on the CLIENT span and set status Error and error.type on both.
// The request plan is generated up front from -seed, so a run can be repeated
// and reconciled against the tables through -manifest.
//
// Usage:
//
//	mcprouter-sim -endpoint localhost:4317 -requests 1000 -manifest sent.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.opentelemetry.io/otel"
)

const scopeName = "github.com/mcp-bridge/otelcol-mcp/cmd/mcprouter-sim"

// options are the command-line flags.
type options struct {
	plan         PlanConfig
	endpoint     string
	serviceName  string
	manifest     string
	flushTimeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mcprouter-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.endpoint, "endpoint", "localhost:4317", "OTLP/gRPC endpoint (host:port, insecure)")
	fs.IntVar(&o.plan.Requests, "requests", 1000, "routed requests to send")
	fs.IntVar(&o.plan.Servers, "servers", 5, "upstream MCP servers")
	fs.IntVar(&o.plan.ToolsPerServer, "tools", 4, "tools per upstream server")
	fs.Float64Var(&o.plan.ErrorRate, "error-rate", 0.05, "fraction of requests that fail (0..1)")
	fs.Uint64Var(&o.plan.Seed, "seed", 0, "seed of the request plan; 0 picks one from the clock")
	fs.DurationVar(&o.plan.Window, "window", time.Minute, "the burst's spans are spread over this much of the recent past")
	fs.StringVar(&o.manifest, "manifest", "", "write a JSON manifest of what was sent to this file")
	fs.StringVar(&o.serviceName, "service-name", "mcp-router-sim", "service.name of the simulated router")
	fs.DurationVar(&o.flushTimeout, "flush-timeout", 30*time.Second, "deadline for delivering the spans after the burst")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.plan.Seed == 0 {
		o.plan.Seed = uint64(time.Now().UnixNano())
	}
	if o.flushTimeout <= 0 {
		return o, fmt.Errorf("flush-timeout: %v must be positive", o.flushTimeout)
	}
	return o, o.plan.Validate()
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcprouter-sim:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mcprouter-sim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	plan, err := NewPlan(o.plan)
	if err != nil {
		return err
	}
	exp := plan.Expected()
	host, _ := os.Hostname()
	instanceID := fmt.Sprintf("%s-%d", host, os.Getpid())

	// Export errors are counted by the exporter wrapper and reported once in
	// the summary instead of once per batch on stderr.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	tp, stats, err := newTracerProvider(ctx, exportConfig{
		Endpoint:    o.endpoint,
		ServiceName: o.serviceName,
		InstanceID:  instanceID,
		QueueSize:   exp.RoutingSpans + exp.ToolCallSpans,
		RetryFor:    max(o.flushTimeout/3, time.Second),
	})
	if err != nil {
		return err
	}

	end := time.Now()
	sent := emitPlan(ctx, tp.Tracer(scopeName), &plan, end)

	flushCtx, cancel := context.WithTimeout(ctx, o.flushTimeout)
	defer cancel()
	flushErr := tp.ForceFlush(flushCtx)
	shutdownCtx, cancelShutdown := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShutdown()
	flushErr = errors.Join(flushErr, tp.Shutdown(shutdownCtx))

	exported, failed, exportErr := stats.snapshot()
	total := exp.RoutingSpans + exp.ToolCallSpans
	if exportErr == nil && flushErr == nil && exported != total {
		exportErr = fmt.Errorf("%d of %d spans exported", exported, total)
	}
	exportErr = errors.Join(exportErr, flushErr)

	if o.manifest != "" {
		m := newManifest(&plan, exp, sent)
		m.ServiceName, m.InstanceID, m.Endpoint = o.serviceName, instanceID, o.endpoint
		m.Seed, m.ErrorRate = o.plan.Seed, o.plan.ErrorRate
		m.FirstStart, m.LastEnd = end.Add(-plan.End()).UTC(), end.UTC()
		m.SpansExported, m.SpansFailed = exported, failed
		if exportErr != nil {
			m.ExportError = exportErr.Error()
		}
		if err := m.write(o.manifest); err != nil {
			return errors.Join(exportErr, fmt.Errorf("manifest: %w", err))
		}
	}

	fmt.Fprintf(stdout, "mcprouter-sim: sent %d requests (%d tool calls, %d failed requests, %d failed tool calls; expect %d error rows) as %d spans to %s: %d exported, %d not delivered (seed %d)\n",
		len(plan.Requests), exp.ToolCallSpans, exp.FailedRequests, exp.FailedToolCalls, exp.ErrorRows,
		total, o.endpoint, exported, total-exported, o.plan.Seed)
	if exportErr != nil {
		return fmt.Errorf("export to %s failed: %w", o.endpoint, exportErr)
	}
	return nil
}
