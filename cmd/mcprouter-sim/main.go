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
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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

// runOptions are the flags of the run command.
type runOptions struct {
	fleet          fleetConfig
	mode           string
	protocol       string
	endpoint       string
	serviceName    string
	instanceID     string
	manifest       string
	capture        string
	lbEvents       bool
	metricInterval time.Duration
	flushTimeout   time.Duration
	progress       time.Duration
}

func parseRunFlags(args []string, stderr io.Writer) (runOptions, error) {
	var o runOptions
	fs := flag.NewFlagSet("mcprouter-sim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mode, "mode", "otlp", "otlp (OpenTelemetry SDK) or events (NDJSON to mcpeventsreceiver)")
	fs.StringVar(&o.protocol, "protocol", "grpc", "OTLP protocol: grpc or http")
	fs.StringVar(&o.endpoint, "endpoint", "", "collector address: host:port for OTLP (default localhost:4317, :4318 for http), base URL for events (default http://localhost:4320)")
	fs.Float64Var(&o.fleet.Rate, "rate", 1000, "routed requests per second; 0 = as fast as the pipeline takes them")
	fs.DurationVar(&o.fleet.Duration, "duration", 10*time.Second, "how long to send; 0 = until -requests")
	fs.Int64Var(&o.fleet.Requests, "requests", 0, "stop after this many routed requests; 0 = until -duration")
	fs.IntVar(&o.fleet.Servers, "servers", 8, "upstream MCP servers")
	fs.IntVar(&o.fleet.ToolsPerServer, "tools", 4, "tools per upstream server")
	fs.StringVar(&o.fleet.ServerPrefix, "server-prefix", "", "prefix of the upstream server keys (give simulators that share a schema different ones: mcp_server has one row per key)")
	fs.Float64Var(&o.fleet.ErrorRate, "error-rate", 0.05, "share of requests and tool calls that fail (0..1)")
	fs.Float64Var(&o.fleet.OutageRate, "outage-rate", 1, "outages per upstream and minute (its calls and checks fail, its breaker opens)")
	fs.DurationVar(&o.fleet.OutageLength, "outage-length", 4*time.Second, "mean length of an outage")
	fs.DurationVar(&o.fleet.HealthInterval, "health-interval", 2*time.Second, "health check of every upstream this often")
	fs.IntVar(&o.fleet.BreakerThreshold, "breaker-threshold", 5, "consecutive failures that open a breaker")
	fs.DurationVar(&o.fleet.BreakerCooldown, "breaker-cooldown", 3*time.Second, "open breakers turn half-open after this")
	fs.IntVar(&o.fleet.Sessions, "sessions", 200, "client sessions open at a time")
	fs.DurationVar(&o.fleet.SessionLife, "session-life", 20*time.Second, "mean session lifetime")
	fs.DurationVar(&o.fleet.SessionStats, "session-stats", 5*time.Second, "session stats events this often")
	fs.DurationVar(&o.fleet.ChurnInterval, "churn-interval", 5*time.Second, "deregister or re-register an upstream this often; 0 = never")
	fs.IntVar(&o.fleet.Workers, "workers", 4, "generator goroutines")
	fs.Uint64Var(&o.fleet.Seed, "seed", 0, "seed of the random choices; 0 picks one from the clock")
	fs.BoolVar(&o.lbEvents, "lb-events", true, "emit an lb decision event per routed request")
	fs.DurationVar(&o.metricInterval, "metric-interval", 10*time.Second, "export metrics (pool gauge, histograms) this often")
	fs.StringVar(&o.manifest, "manifest", "", "write the manifest of every id sent to this file (gzip)")
	fs.StringVar(&o.capture, "capture", "", "write every OTLP export request to this file for `mcprouter-sim replay` instead of sending it (-mode otlp, -protocol grpc; -endpoint is not used)")
	fs.StringVar(&o.serviceName, "service-name", "mcp-router-sim", "service.name of the simulated router")
	fs.StringVar(&o.instanceID, "instance", "", "service.instance.id (default host-pid)")
	fs.DurationVar(&o.flushTimeout, "flush-timeout", time.Minute, "deadline for delivering what is buffered after the run; also bounds retries")
	fs.DurationVar(&o.progress, "progress", time.Second, "progress line this often; 0 = none")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.fleet.Seed == 0 {
		o.fleet.Seed = uint64(time.Now().UnixNano())
	}
	if o.instanceID == "" {
		host, _ := os.Hostname()
		o.instanceID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	var errs []error
	switch o.mode {
	case "otlp":
		switch o.protocol {
		case "grpc":
			o.endpoint = cmp.Or(o.endpoint, "localhost:4317")
		case "http":
			o.endpoint = cmp.Or(o.endpoint, "localhost:4318")
		default:
			errs = append(errs, fmt.Errorf("protocol: %q must be grpc or http", o.protocol))
		}
		if strings.Contains(o.endpoint, "://") {
			errs = append(errs, fmt.Errorf("endpoint: %q must be host:port for OTLP", o.endpoint))
		}
	case "events":
		o.protocol = ""
		o.endpoint = strings.TrimSuffix(cmp.Or(o.endpoint, "http://localhost:4320"), "/")
		if !strings.HasPrefix(o.endpoint, "http://") && !strings.HasPrefix(o.endpoint, "https://") {
			errs = append(errs, fmt.Errorf("endpoint: %q must be a base URL (http://host:port) in events mode", o.endpoint))
		}
	default:
		errs = append(errs, fmt.Errorf("mode: %q must be otlp or events", o.mode))
	}
	if o.capture != "" && (o.mode != "otlp" || o.protocol != "grpc") {
		errs = append(errs, fmt.Errorf("capture: needs -mode otlp -protocol grpc (it records OTLP/gRPC requests), not -mode %s -protocol %s", o.mode, o.protocol))
	}
	if o.flushTimeout <= 0 {
		errs = append(errs, fmt.Errorf("flush-timeout: %v must be positive", o.flushTimeout))
	}
	if o.metricInterval <= 0 {
		errs = append(errs, fmt.Errorf("metric-interval: %v must be positive", o.metricInterval))
	}
	errs = append(errs, o.fleet.Validate())
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
	if err := run(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim:", err)
		return 1
	}
	return 0
}

// newEmitter builds the emitter the options ask for.
func newEmitter(ctx context.Context, o runOptions) (emitter, error) {
	if o.mode == "events" {
		return newEventsEmitter(eventsConfig{Endpoint: o.endpoint, ServiceName: o.serviceName, InstanceID: o.instanceID,
			RetryFor: o.flushTimeout, MetricInterval: o.metricInterval, Senders: 4})
	}
	cfg := otlpConfig{Protocol: o.protocol, Endpoint: o.endpoint, ServiceName: o.serviceName, InstanceID: o.instanceID,
		RetryFor: o.flushTimeout, MetricInterval: o.metricInterval, LBEvents: o.lbEvents}
	exp, err := newOTLPExporters(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return newOTLPEmitter(cfg, exp)
}

func run(ctx context.Context, o runOptions, stdout, stderr io.Writer) error {
	// Export errors are counted by the exporter wrappers and reported once
	// in the summary instead of once per batch.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	var capture *captureServer
	emitterOptions := o
	if o.capture != "" {
		var err error
		if capture, err = startCaptureServer(o.capture); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		// The exporters send to the capture endpoint; the manifest and the
		// summary name the file.
		emitterOptions.endpoint = capture.Addr()
		o.endpoint = "capture:" + o.capture
	}
	em, err := newEmitter(ctx, emitterOptions)
	if err != nil {
		if capture != nil {
			err = errors.Join(err, capture.close())
		}
		return err
	}
	err = simulate(ctx, o, em, stdout, stderr)
	if capture != nil {
		if cerr := capture.close(); cerr != nil {
			return errors.Join(err, fmt.Errorf("capture: %w", cerr))
		}
		fmt.Fprintf(stdout, "mcprouter-sim: captured %s into %s\n", capture.summary(), o.capture)
	}
	return err
}

// simulate runs the fleet on em, then delivers, writes the manifest and
// prints the summary.
func simulate(ctx context.Context, o runOptions, em emitter, stdout, stderr io.Writer) error {
	var man *simmanifest.Writer
	if o.manifest != "" {
		var err error
		if man, err = simmanifest.Create(o.manifest); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
	}
	count := &simmanifest.Counters{}
	f := newFleet(o.fleet, em, man, count)
	started := time.Now()
	ctrl := simmanifest.NewRecorder(man, count)
	f.register(ctrl)
	if err := em.observePools(f.poolStats); err != nil {
		if man != nil {
			man.Abort()
		}
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	if o.fleet.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, o.fleet.Duration)
	}
	defer cancel()
	maintainCtx, stopMaintain := context.WithCancel(context.Background())
	var maintained sync.WaitGroup
	maintained.Go(func() { f.maintain(maintainCtx, ctrl, rand.New(rand.NewPCG(o.fleet.Seed, 0xbeef))) })

	prog := newProgress(stderr, o.progress, count, em, o.fleet.Rate, started)
	claim := claimer(o.fleet.Requests)
	var workers sync.WaitGroup
	for i := range o.fleet.Workers {
		w := newWorker(f, o.fleet.Seed+uint64(i)*0x9e3779b97f4a7c15, max(1, o.fleet.Sessions/o.fleet.Workers))
		workers.Go(func() { w.run(runCtx, o.fleet.Rate/float64(o.fleet.Workers), claim) })
	}
	workers.Wait()
	ended := time.Now()
	stopMaintain()
	maintained.Wait()
	f.finalServers(ctrl)
	ctrl.Flush()
	prog.stop()

	flushCtx, cancelFlush := context.WithTimeout(context.Background(), o.flushTimeout+10*time.Second)
	defer cancelFlush()
	fmt.Fprintf(stderr, "mcprouter-sim: delivering what is buffered (up to %s)\n", o.flushTimeout)
	flushErr := em.shutdown(flushCtx)
	delivery := em.delivery()

	sent := count.Snapshot()
	routed := sent[simmanifest.KindRouting.String()].Sent
	elapsed := ended.Sub(started).Seconds()
	h := simmanifest.Header{
		Mode: o.mode, Protocol: o.protocol, Endpoint: o.endpoint, ServiceName: o.serviceName, InstanceID: o.instanceID,
		Seed: o.fleet.Seed, Started: started.UTC(), Ended: ended.UTC(),
		FirstEvent: started.Add(-2 * time.Minute).UTC(), LastEvent: time.Now().Add(time.Minute).UTC(),
		TargetRate: o.fleet.Rate, AchievedRate: float64(routed) / elapsed, ErrorRate: o.fleet.ErrorRate,
		Kinds: sent, Metrics: map[string]int64{mcpconv.MetricPoolConnections: int64(3 * len(f.ups))},
		Delivery: delivery,
	}
	if o.mode == "otlp" {
		h.Metrics[mcpconv.MetricServerOperationDuration] = routed
		h.Metrics[mcpconv.MetricClientOperationDuration] = sent[simmanifest.KindToolCall.String()].Sent
	}
	for _, u := range f.ups {
		h.Servers = append(h.Servers, u.key)
	}
	if man != nil {
		if err := man.Finish(h); err != nil {
			return errors.Join(flushErr, fmt.Errorf("manifest: %w", err))
		}
	}

	fmt.Fprintf(stdout, "mcprouter-sim: %d routed requests in %.1f s (%.0f/s, target %s) to %s (%s)\n",
		routed, elapsed, h.AchievedRate, rateText(o.fleet.Rate), o.endpoint, modeText(o))
	fmt.Fprintf(stdout, "mcprouter-sim: sent %s\n", kindsText(sent))
	fmt.Fprintf(stdout, "mcprouter-sim: delivered %s\n", deliveryText(delivery))
	if o.manifest != "" {
		fmt.Fprintf(stdout, "mcprouter-sim: manifest %s (instance %s, seed %d)\n", o.manifest, o.instanceID, o.fleet.Seed)
	}
	if n := delivery.Failed(); n > 0 || flushErr != nil {
		return errors.Join(flushErr, fmt.Errorf("%d items not delivered to %s: %s", n, o.endpoint, strings.Join(delivery.Errors, "; ")))
	}
	return ctx.Err()
}

func modeText(o runOptions) string {
	if o.mode == "otlp" {
		return "OTLP/" + o.protocol
	}
	return "NDJSON events"
}

func rateText(rate float64) string {
	if rate == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.0f/s", rate)
}

// kindsText lists the kinds in manifest order: "routing 100 (5 failed), ...".
func kindsText(sent map[string]simmanifest.KindCount) string {
	var parts []string
	for k := range simmanifest.NumKinds {
		c := sent[k.String()]
		s := fmt.Sprintf("%s %d", k, c.Sent)
		if c.Failed > 0 {
			s += fmt.Sprintf(" (%d failed)", c.Failed)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func deliveryText(d simmanifest.Delivery) string {
	if d.EventsPosted > 0 || d.EventsFailed > 0 {
		return fmt.Sprintf("%d events posted, %d failed, %d retries", d.EventsPosted, d.EventsFailed, d.Retries)
	}
	return fmt.Sprintf("%d spans, %d log records, %d metric exports; not delivered: %d spans, %d log records, %d metric exports",
		d.SpansExported, d.LogsExported, d.MetricExports, d.SpansFailed, d.LogsFailed, d.MetricsFailed)
}

// progress prints a status line every interval: rate and sent per kind.
type progress struct {
	done    chan struct{}
	stopped sync.WaitGroup
}

func newProgress(w io.Writer, every time.Duration, count *simmanifest.Counters, em emitter, target float64, started time.Time) *progress {
	p := &progress{done: make(chan struct{})}
	if every <= 0 {
		return p
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	p.stopped.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		var last int64
		lastAt := started
		for {
			select {
			case <-p.done:
				if tty {
					fmt.Fprintln(w)
				}
				return
			case now := <-t.C:
				routed := count.Sent(simmanifest.KindRouting)
				rate := float64(routed-last) / now.Sub(lastAt).Seconds()
				last, lastAt = routed, now
				d := em.delivery()
				line := fmt.Sprintf("%5.0fs %7.0f req/s (target %s) | routing %d tool_call %d lb %d health %d breaker %d error %d session %d server %d | delivered %d, failed %d",
					now.Sub(started).Seconds(), rate, rateText(target), routed, count.Sent(simmanifest.KindToolCall),
					count.Sent(simmanifest.KindLBDecision), count.Sent(simmanifest.KindHealthCheck), count.Sent(simmanifest.KindBreaker),
					count.Sent(simmanifest.KindError), count.Sent(simmanifest.KindSessionEvent), count.Sent(simmanifest.KindServerEvent),
					d.SpansExported+d.LogsExported+d.EventsPosted, d.Failed())
				if tty {
					fmt.Fprintf(w, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	})
	return p
}

func (p *progress) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.stopped.Wait()
}
