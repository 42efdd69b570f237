// Command mcprouter-sim is a simulated MCP router and its upstream fleet,
// instrumented with the instrumentation package: it sends a target rate of
// routed requests (SERVER spans, CLIENT tools/call spans, load-balancer
// decisions, the duration histograms), health checks of every upstream,
// registry changes, circuit-breaker transitions, sessions that come and go
// and pool gauges, over OTLP (gRPC or HTTP) or as JSON events to
// mcpeventsreceiver. It shows progress on the terminal and writes a manifest
// of every id it sent, which `mcprouter-sim reconcile` compares with the
// tables.
//
// The command parses flags and wires packages: internal/routersim (the
// simulation and its emitters), internal/simmanifest (the manifest),
// internal/reconcile (the comparison), internal/simcapture (capture and
// replay) and internal/gatewaydns (the dns command).
//
// Usage:
//
//	mcprouter-sim [run] -endpoint localhost:4317 -rate 1000 -duration 10s -manifest sent.gz
//	mcprouter-sim run -mode events -endpoint http://localhost:4320 -requests 100000 -manifest sent.gz
//	mcprouter-sim reconcile -manifest sent.gz -dsn postgres://... -schema mcp
//	mcprouter-sim run -capture load.bin -rate 0 -requests 400000 -manifest sent.gz
//	mcprouter-sim replay -in load.bin -endpoint localhost:4317 -rate 50000
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mcp-bridge/otelcol-mcp/internal/routersim"
)

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	switch cmd {
	case "run":
		code = runCommand(ctx, args, os.Stdout, os.Stderr)
	case "reconcile":
		code = reconcileCommand(ctx, args, os.Stdout, os.Stderr)
	case "replay":
		code = replayCommand(ctx, args, os.Stdout, os.Stderr)
	case "dns":
		code = dnsCommand(ctx, args, os.Stdout, os.Stderr)
	default:
		fmt.Fprintf(os.Stderr, "mcprouter-sim: unknown command %q: use run, reconcile, replay or dns\n", cmd)
		code = 2
	}
	stop()
	os.Exit(code)
}

func parseRunFlags(args []string, stderr io.Writer) (routersim.Options, error) {
	var o routersim.Options
	fs := flag.NewFlagSet("mcprouter-sim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Mode, "mode", "otlp", "otlp (OpenTelemetry SDK) or events (NDJSON to mcpeventsreceiver)")
	fs.StringVar(&o.Protocol, "protocol", "grpc", "OTLP protocol: grpc or http")
	fs.StringVar(&o.Endpoint, "endpoint", "", "collector address: host:port for OTLP (default localhost:4317, :4318 for http), base URL for events (default http://localhost:4320)")
	fs.Float64Var(&o.Fleet.Rate, "rate", 1000, "routed requests per second; 0 = as fast as the pipeline takes them")
	fs.DurationVar(&o.Fleet.Duration, "duration", 10*time.Second, "how long to send; 0 = until -requests")
	fs.Int64Var(&o.Fleet.Requests, "requests", 0, "stop after this many routed requests; 0 = until -duration")
	fs.IntVar(&o.Fleet.Servers, "servers", 8, "upstream MCP servers")
	fs.IntVar(&o.Fleet.ToolsPerServer, "tools", 4, "tools per upstream server")
	fs.StringVar(&o.Fleet.ServerPrefix, "server-prefix", "", "prefix of the upstream server keys (give simulators that share a schema different ones: mcp_server has one row per key)")
	fs.Float64Var(&o.Fleet.ErrorRate, "error-rate", 0.05, "share of requests and tool calls that fail (0..1)")
	fs.Float64Var(&o.Fleet.OutageRate, "outage-rate", 1, "outages per upstream and minute (its calls and checks fail, its breaker opens)")
	fs.DurationVar(&o.Fleet.OutageLength, "outage-length", 4*time.Second, "mean length of an outage")
	fs.DurationVar(&o.Fleet.HealthInterval, "health-interval", 2*time.Second, "health check of every upstream this often")
	fs.IntVar(&o.Fleet.BreakerThreshold, "breaker-threshold", 5, "consecutive failures that open a breaker")
	fs.DurationVar(&o.Fleet.BreakerCooldown, "breaker-cooldown", 3*time.Second, "open breakers turn half-open after this")
	fs.IntVar(&o.Fleet.Sessions, "sessions", 200, "client sessions open at a time")
	fs.DurationVar(&o.Fleet.SessionLife, "session-life", 20*time.Second, "mean session lifetime")
	fs.DurationVar(&o.Fleet.SessionStats, "session-stats", 5*time.Second, "session stats events this often")
	fs.DurationVar(&o.Fleet.ChurnInterval, "churn-interval", 5*time.Second, "deregister or re-register an upstream this often; 0 = never")
	fs.IntVar(&o.Fleet.Workers, "workers", 4, "generator goroutines")
	fs.StringVar(&o.Fleet.Runtime, "runtime", routersim.RuntimeGo, "runtime metrics the router reports over OTLP: go (the simulator's own Go runtime), jvm (a modelled JVM with the Java agent's names) or none")
	fs.Uint64Var(&o.Fleet.Seed, "seed", 0, "seed of the random choices; 0 picks one from the clock")
	fs.BoolVar(&o.LBEvents, "lb-events", true, "emit an lb decision event per routed request")
	fs.DurationVar(&o.MetricInterval, "metric-interval", 10*time.Second, "export metrics (pool gauge, histograms) this often")
	fs.StringVar(&o.Manifest, "manifest", "", "write the manifest of every id sent to this file (gzip)")
	fs.StringVar(&o.Capture, "capture", "", "write every OTLP export request to this file for `mcprouter-sim replay` instead of sending it (-mode otlp, -protocol grpc; -endpoint is not used)")
	fs.StringVar(&o.ServiceName, "service-name", "mcp-router-sim", "service.name of the simulated router")
	fs.StringVar(&o.InstanceID, "instance", "", "service.instance.id (default host-pid)")
	fs.DurationVar(&o.FlushTimeout, "flush-timeout", time.Minute, "deadline for delivering what is buffered after the run; also bounds retries")
	fs.DurationVar(&o.Progress, "progress", time.Second, "progress line this often; 0 = none")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.Fleet.Seed == 0 {
		o.Fleet.Seed = uint64(time.Now().UnixNano())
	}
	if o.InstanceID == "" {
		host, _ := os.Hostname()
		o.InstanceID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	var errs []error
	switch o.Mode {
	case "otlp":
		switch o.Protocol {
		case "grpc":
			o.Endpoint = cmp.Or(o.Endpoint, "localhost:4317")
		case "http":
			o.Endpoint = cmp.Or(o.Endpoint, "localhost:4318")
		default:
			errs = append(errs, fmt.Errorf("protocol: %q must be grpc or http", o.Protocol))
		}
		if strings.Contains(o.Endpoint, "://") {
			errs = append(errs, fmt.Errorf("endpoint: %q must be host:port for OTLP", o.Endpoint))
		}
	case "events":
		o.Protocol = ""
		o.Endpoint = strings.TrimSuffix(cmp.Or(o.Endpoint, "http://localhost:4320"), "/")
		if !strings.HasPrefix(o.Endpoint, "http://") && !strings.HasPrefix(o.Endpoint, "https://") {
			errs = append(errs, fmt.Errorf("endpoint: %q must be a base URL (http://host:port) in events mode", o.Endpoint))
		}
	default:
		errs = append(errs, fmt.Errorf("mode: %q must be otlp or events", o.Mode))
	}
	if o.Capture != "" && (o.Mode != "otlp" || o.Protocol != "grpc") {
		errs = append(errs, fmt.Errorf("capture: needs -mode otlp -protocol grpc (it records OTLP/gRPC requests), not -mode %s -protocol %s", o.Mode, o.Protocol))
	}
	if o.FlushTimeout <= 0 {
		errs = append(errs, fmt.Errorf("flush-timeout: %v must be positive", o.FlushTimeout))
	}
	if o.MetricInterval <= 0 {
		errs = append(errs, fmt.Errorf("metric-interval: %v must be positive", o.MetricInterval))
	}
	errs = append(errs, o.Fleet.Validate())
	return o, errors.Join(errs...)
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseRunFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim:", err)
		return 2
	}
	if err := routersim.Run(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim:", err)
		return 1
	}
	return 0
}
