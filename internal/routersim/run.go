// Package routersim simulates an MCP router and its upstream fleet, as
// `mcprouter-sim run` does: workers generate routed requests at a target
// rate (SERVER and CLIENT spans, load-balancer decisions, the duration
// histograms), and the fleet has outages, health checks, breakers, registry
// churn, sessions and pool gauges. The telemetry goes over OTLP through the
// instrumentation package and the OpenTelemetry SDK, or as JSON events
// through instrumentation/eventsclient; every id sent is recorded in a
// manifest (internal/simmanifest) that internal/reconcile checks against
// the tables.
package routersim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/mcp-bridge/otelcol-mcp/internal/simcapture"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Options say what to simulate and where to send it.
type Options struct {
	Fleet          FleetConfig
	Mode           string // otlp or events
	Protocol       string // otlp: grpc or http
	Endpoint       string // otlp: host:port; events: base URL
	ServiceName    string
	InstanceID     string
	Manifest       string // write the manifest here ("": none)
	Capture        string // record the OTLP requests into this file instead of sending them (otlp, grpc)
	LBEvents       bool
	MetricInterval time.Duration
	FlushTimeout   time.Duration
	Progress       time.Duration // a progress line on stderr this often (0: none)
}

// newEmitter builds the emitter the options ask for.
func newEmitter(ctx context.Context, o Options) (emitter, error) {
	if o.Mode == "events" {
		return newEventsEmitter(eventsConfig{Endpoint: o.Endpoint, ServiceName: o.ServiceName, InstanceID: o.InstanceID,
			RetryFor: o.FlushTimeout, MetricInterval: o.MetricInterval, Senders: 4})
	}
	cfg := otlpConfig{Protocol: o.Protocol, Endpoint: o.Endpoint, ServiceName: o.ServiceName, InstanceID: o.InstanceID,
		RetryFor: o.FlushTimeout, MetricInterval: o.MetricInterval, LBEvents: o.LBEvents}
	exp, err := newOTLPExporters(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return newOTLPEmitter(cfg, exp)
}

// Run simulates the fleet o describes, delivers what it sent, writes the
// manifest and prints the summary (stdout) and progress (stderr) lines of
// `mcprouter-sim run`. An error means something was not delivered or the
// run could not start.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	// Export errors are counted by the exporter wrappers and reported once
	// in the summary instead of once per batch.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	var capture *simcapture.Server
	emitterOptions := o
	if o.Capture != "" {
		var err error
		if capture, err = simcapture.Start(o.Capture); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		// The exporters send to the capture endpoint; the manifest and the
		// summary name the file.
		emitterOptions.Endpoint = capture.Addr()
		o.Endpoint = "capture:" + o.Capture
	}
	em, err := newEmitter(ctx, emitterOptions)
	if err != nil {
		if capture != nil {
			err = errors.Join(err, capture.Close())
		}
		return err
	}
	err = simulate(ctx, o, em, stdout, stderr)
	if capture != nil {
		if cerr := capture.Close(); cerr != nil {
			return errors.Join(err, fmt.Errorf("capture: %w", cerr))
		}
		fmt.Fprintf(stdout, "mcprouter-sim: captured %s into %s\n", capture.Summary(), o.Capture)
	}
	return err
}

// simulate runs the fleet on em, then delivers, writes the manifest and
// prints the summary.
func simulate(ctx context.Context, o Options, em emitter, stdout, stderr io.Writer) error {
	var man *simmanifest.Writer
	if o.Manifest != "" {
		var err error
		if man, err = simmanifest.Create(o.Manifest); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
	}
	count := &simmanifest.Counters{}
	f := newFleet(o.Fleet, em, man, count)
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
	if o.Fleet.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, o.Fleet.Duration)
	}
	defer cancel()
	maintainCtx, stopMaintain := context.WithCancel(context.Background())
	var maintained sync.WaitGroup
	maintained.Go(func() { f.maintain(maintainCtx, ctrl, rand.New(rand.NewPCG(o.Fleet.Seed, 0xbeef))) })

	prog := newProgress(stderr, o.Progress, count, em, o.Fleet.Rate, started)
	claim := claimer(o.Fleet.Requests)
	var workers sync.WaitGroup
	for i := range o.Fleet.Workers {
		w := newWorker(f, o.Fleet.Seed+uint64(i)*0x9e3779b97f4a7c15, max(1, o.Fleet.Sessions/o.Fleet.Workers))
		workers.Go(func() { w.run(runCtx, o.Fleet.Rate/float64(o.Fleet.Workers), claim) })
	}
	workers.Wait()
	ended := time.Now()
	stopMaintain()
	maintained.Wait()
	f.finalServers(ctrl)
	ctrl.Flush()
	prog.stop()

	flushCtx, cancelFlush := context.WithTimeout(context.Background(), o.FlushTimeout+10*time.Second)
	defer cancelFlush()
	fmt.Fprintf(stderr, "mcprouter-sim: delivering what is buffered (up to %s)\n", o.FlushTimeout)
	flushErr := em.shutdown(flushCtx)
	delivery := em.delivery()

	sent := count.Snapshot()
	routed := sent[simmanifest.KindRouting.String()].Sent
	elapsed := ended.Sub(started).Seconds()
	h := simmanifest.Header{
		Mode: o.Mode, Protocol: o.Protocol, Endpoint: o.Endpoint, ServiceName: o.ServiceName, InstanceID: o.InstanceID,
		Seed: o.Fleet.Seed, Started: started.UTC(), Ended: ended.UTC(),
		FirstEvent: started.Add(-2 * time.Minute).UTC(), LastEvent: time.Now().Add(time.Minute).UTC(),
		TargetRate: o.Fleet.Rate, AchievedRate: float64(routed) / elapsed, ErrorRate: o.Fleet.ErrorRate,
		Kinds: sent, Metrics: map[string]int64{mcpconv.MetricPoolConnections: int64(3 * len(f.ups))},
		Delivery: delivery,
	}
	if o.Mode == "otlp" {
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
		routed, elapsed, h.AchievedRate, RateText(o.Fleet.Rate), o.Endpoint, modeText(o))
	fmt.Fprintf(stdout, "mcprouter-sim: sent %s\n", kindsText(sent))
	fmt.Fprintf(stdout, "mcprouter-sim: delivered %s\n", deliveryText(delivery))
	if o.Manifest != "" {
		fmt.Fprintf(stdout, "mcprouter-sim: manifest %s (instance %s, seed %d)\n", o.Manifest, o.InstanceID, o.Fleet.Seed)
	}
	if n := delivery.Failed(); n > 0 || flushErr != nil {
		return errors.Join(flushErr, fmt.Errorf("%d items not delivered to %s: %s", n, o.Endpoint, strings.Join(delivery.Errors, "; ")))
	}
	return ctx.Err()
}

func modeText(o Options) string {
	if o.Mode == "otlp" {
		return "OTLP/" + o.Protocol
	}
	return "NDJSON events"
}

// RateText says a target rate for people: "unlimited" for 0.
func RateText(rate float64) string {
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
					now.Sub(started).Seconds(), rate, RateText(target), routed, count.Sent(simmanifest.KindToolCall),
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
