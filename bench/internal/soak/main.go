// Command soak is the measuring side of bench/soak.sh:
//
//	soak sample -metrics URL -pid PID -dsn DSN -schema S -duration D -interval I -out FILE
//	    every I (10 s) for D, appends one CSV row to FILE: the collector's
//	    RSS, its exporter queue, commit p50/p99 and rows/s stored over the
//	    interval (deltas of two scrapes), freshness lag, rollup lag and
//	    backlog, the database's size, partitionmgr's rollup refreshes.
//	soak drain -metrics URL -timeout D
//	    waits until the exporter's queue is empty and rows_written stopped
//	    growing; prints the seconds it waited.
//	soak summary -csv FILE
//	    prints RSS first/last/max and its slope (MiB/h, least squares over
//	    the whole run and over its second half), the lags' p50/max.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-bridge/otelcol-mcp/bench/internal/loadprobe"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: soak sample|drain|summary [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "sample":
		err = sample(os.Args[2:])
	case "drain":
		err = drain(os.Args[2:])
	case "summary":
		err = summary(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// columns of soak.csv; summary and bench/soak.sh's plot read them by name.
var columns = []string{
	"time", "elapsed_s", "rss_mib", "rss_anon_mib", "queue_size",
	"commit_p50_ms", "commit_p99_ms", "rows_per_s",
	"freshness_lag_s", "rollup_lag_s", "rollup_backlog_s", "db_size_mib", "loadavg1",
	"rollup_refreshes", "rollup_refresh_mean_s",
}

// lagSQL reads, in one statement: freshness lag (now - newest routing_log.ts),
// rollup lag (now - end of the newest minute in routing_rollup_1m: how old
// the newest per-minute figure is; 15-85 s with the default delay 15 s and
// interval 10 s), rollup backlog (now - end of the oldest routing minute still
// queued in rollup_dirty, 0 when none has ended: grows only when the refresh
// falls behind; session minutes are left out, as a session's update queues
// the minute it started in, however old) and the database's size. -1 where
// there is nothing yet.
const lagSQL = `SELECT
	COALESCE((SELECT extract(epoch FROM clock_timestamp() - max(ts)) FROM %[1]s.routing_log
	           WHERE ts > now() - interval '10 minutes'), -1)::float8,
	COALESCE((SELECT extract(epoch FROM clock_timestamp() - (max(ts) + interval '1 minute')) FROM %[1]s.routing_rollup_1m
	           WHERE ts > now() - interval '1 day'), -1)::float8,
	COALESCE((SELECT greatest(0, extract(epoch FROM clock_timestamp() - (min(ts) + interval '1 minute'))) FROM %[1]s.rollup_dirty
	           WHERE kind = 'routing'), 0)::float8,
	pg_database_size(current_database()) / 1048576.0::float8`

func sample(args []string) error {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	metricsURL := fs.String("metrics", "", "collector Prometheus URL")
	pid := fs.Int("pid", 0, "collector pid")
	dsn := fs.String("dsn", "", "PostgreSQL DSN")
	sch := fs.String("schema", "mcp_soak", "schema")
	dur := fs.Duration("duration", 2*time.Hour, "how long to sample")
	every := fs.Duration("interval", 10*time.Second, "sample interval")
	out := fs.String("out", "soak.csv", "CSV file (created)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *every <= 0 {
		return errors.New("interval must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	conn, err := pgx.Connect(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	if err := w.Write(columns); err != nil {
		return err
	}
	w.Flush()
	query := fmt.Sprintf(lagSQL, pgx.Identifier{*sch}.Sanitize())

	start := time.Now()
	prev, err := loadprobe.Scrape(*metricsURL)
	if err != nil {
		return err
	}
	prevT := start
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for time.Since(start) < *dur {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := time.Now()
		m, err := loadprobe.Scrape(*metricsURL)
		if err != nil {
			// A missed scrape widens the next interval; the collector
			// exiting ends the run.
			if _, perr := loadprobe.ProcTicks(*pid); perr != nil {
				return fmt.Errorf("collector %d gone: %w", *pid, err)
			}
			fmt.Fprintln(os.Stderr, "soak: scrape:", err)
			continue
		}
		var fresh, rollup, backlog, dbMiB float64
		if err := conn.QueryRow(ctx, query).Scan(&fresh, &rollup, &backlog, &dbMiB); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintln(os.Stderr, "soak: lag query:", err)
			fresh, rollup, backlog, dbMiB = -1, -1, -1, -1
		}
		cw := loadprobe.Commits(prev, m)
		rowsPerSec := (loadprobe.RowsWritten(m) - loadprobe.RowsWritten(prev)) / now.Sub(prevT).Seconds()
		load, _, _ := strings.Cut(loadprobe.LoadAvg(), " ")
		refreshes, refreshMean := rollupRefreshes(prev, m)
		rec := []string{
			now.UTC().Format(time.RFC3339), num(now.Sub(start).Seconds()),
			num(loadprobe.RSSMiB(*pid, "VmRSS")), num(loadprobe.RSSMiB(*pid, "RssAnon")), num(loadprobe.QueueSize(m)),
			num(cw.P50ms), num(cw.P99ms), num(rowsPerSec),
			num(fresh), num(rollup), num(backlog), num(dbMiB), load,
			num(refreshes), num(refreshMean),
		}
		if err := w.Write(rec); err != nil {
			return err
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		prev, prevT = m, now
	}
	return nil
}

// rollupRefreshes is the number of partitionmgr rollup refreshes between two
// scrapes and their mean duration in seconds (-1 without one): a backlog that
// grows while refreshes take longer than rollups::interval is the refresh
// falling behind.
func rollupRefreshes(prev, m []loadprobe.Sample) (n, meanSeconds float64) {
	const name = "otelcol_partitionmgr_rollup_refresh_duration"
	n = loadprobe.Sum(m, name, []string{"_count"}, nil) - loadprobe.Sum(prev, name, []string{"_count"}, nil)
	if n <= 0 {
		return 0, -1
	}
	return n, (loadprobe.Sum(m, name, []string{"_sum"}, nil) - loadprobe.Sum(prev, name, []string{"_sum"}, nil)) / n
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func drain(args []string) error {
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	metricsURL := fs.String("metrics", "", "collector Prometheus URL")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secs, err := loadprobe.WaitDrained(*metricsURL, *timeout)
	fmt.Printf("%.1f\n", secs)
	return err
}

// --- summary -------------------------------------------------------------------

func summary(args []string) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	path := fs.String("csv", "soak.csv", "CSV written by sample")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cols, err := readColumns(*path)
	if err != nil {
		return err
	}
	t, rss := cols["elapsed_s"], cols["rss_mib"]
	if len(t) < 2 {
		return fmt.Errorf("%s: %d samples, need at least 2", *path, len(t))
	}
	half := len(t) / 2
	fmt.Printf("samples: %d over %.1f min\n", len(t), (t[len(t)-1]-t[0])/60)
	fmt.Printf("collector RSS: first %.1f MiB, last %.1f MiB, max %.1f MiB; slope %.1f MiB/h (whole run), %.1f MiB/h (second half)\n",
		rss[0], rss[len(rss)-1], maxOf(rss), slope(t, rss)*3600, slope(t[half:], rss[half:])*3600)
	for _, c := range []struct{ name, label string }{
		{"freshness_lag_s", "freshness lag"},
		{"rollup_lag_s", "rollup lag (newest minute)"},
		{"rollup_backlog_s", "rollup backlog (oldest queued minute)"},
		{"queue_size", "queue size"},
		{"commit_p99_ms", "commit p99 (ms)"},
		{"rollup_refresh_mean_s", "rollup refresh mean (s)"},
	} {
		v := valid(cols[c.name])
		if len(v) == 0 {
			fmt.Printf("%s: no samples\n", c.label)
			continue
		}
		fmt.Printf("%s: p50 %.2f, max %.2f; slope %.2f/h (second half)\n", c.label, median(v), maxOf(v),
			slopeValid(t[half:], cols[c.name][half:])*3600)
	}
	rows := valid(cols["rows_per_s"])
	db := cols["db_size_mib"]
	fmt.Printf("rows/s stored: p50 %.0f; database size: %.0f MiB at the end\n", median(rows), db[len(db)-1])
	return nil
}

func readColumns(path string) (map[string][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	out := map[string][]float64{}
	for _, rec := range recs[1:] {
		for i, name := range recs[0] {
			v, err := strconv.ParseFloat(rec[i], 64)
			if err != nil {
				v = math.NaN()
			}
			out[name] = append(out[name], v)
		}
	}
	return out, nil
}

// valid leaves out the samples marked -1 (nothing to measure yet).
func valid(v []float64) []float64 {
	var out []float64
	for _, x := range v {
		if x >= 0 {
			out = append(out, x)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	n := float64(len(x))
	if n < 2 {
		return math.NaN()
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx, sy, sxx, sxy = sx+x[i], sy+y[i], sxx+x[i]*x[i], sxy+x[i]*y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return math.NaN()
	}
	return (n*sxy - sx*sy) / d
}

func slopeValid(x, y []float64) float64 {
	var vx, vy []float64
	for i := range x {
		if y[i] >= 0 {
			vx, vy = append(vx, x[i]), append(vy, y[i])
		}
	}
	return slope(vx, vy)
}
