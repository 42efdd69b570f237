// Command e2eload is the measuring side of bench/e2e_load.sh:
//
//	e2eload measure -metrics URL -pid PID -dsn DSN -schema S -duration D
//	    samples the collector's Prometheus metrics, /proc of the collector
//	    and of the PostgreSQL server, and the newest routing_log row every
//	    -interval for D; prints one JSON object with the window's figures.
//	e2eload drain -metrics URL -timeout D
//	    waits until the exporter's queue is empty and rows_written stopped
//	    growing; prints the seconds it waited.
//	e2eload raw -dsn DSN -src S -dst S2 -batch N -conns C
//	    reads every row of schema S into memory, creates S2 with the same
//	    migrations and partitions, and times a raw pgx CopyFrom of exactly
//	    those rows into it (N rows per transaction, C connections, like the
//	    exporter's batches and queue consumers); prints one JSON object.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-bridge/otelcol-mcp/bench/internal/loadprobe"
	"github.com/mcp-bridge/otelcol-mcp/schema"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: e2eload measure|drain|raw [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "measure":
		err = measure(os.Args[2:])
	case "drain":
		err = drain(os.Args[2:])
	case "raw":
		err = raw(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2eload:", err)
		os.Exit(1)
	}
}

// --- /proc ---------------------------------------------------------------------

// pgCPU accumulates the CPU time of the PostgreSQL processes that serve
// this database: its client backends and the server's auxiliary processes
// (WAL writer, checkpointer, background writer, autovacuum), not the
// backends of other databases on the same server.
type pgCPU struct {
	conn  *pgx.Conn
	last  map[int]float64
	total float64
}

func newPGCPU(ctx context.Context, conn *pgx.Conn) *pgCPU {
	c := &pgCPU{conn: conn}
	c.sample(ctx)
	c.total = 0
	return c
}

// sample adds the ticks used since the previous sample; a process first
// seen now counts from its start (it started after the previous sample, or
// is the first sample, which newPGCPU discards).
func (c *pgCPU) sample(ctx context.Context) float64 {
	rows, err := c.conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() OR backend_type <> 'client backend'`)
	if err != nil {
		return c.total
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return c.total
	}
	next := map[int]float64{}
	for _, p := range pids {
		ticks, err := loadprobe.ProcTicks(int(p))
		if err != nil {
			continue
		}
		next[int(p)] = ticks
		c.total += ticks - c.last[int(p)]
	}
	c.last = next
	return c.total
}

// --- measure -------------------------------------------------------------------

type point struct {
	t         time.Time
	m         []loadprobe.Sample
	colTicks  float64
	simTicks  float64
	pgTicks   float64
	rss       float64
	rssAnon   float64
	queue     float64
	lagSecond float64
}

type result struct {
	Seconds          float64 `json:"seconds"`
	Accepted         float64 `json:"accepted"`
	AcceptedPerSec   float64 `json:"accepted_per_s"`
	Refused          float64 `json:"refused"`
	RowsWritten      float64 `json:"rows_written"`
	RowsPerSec       float64 `json:"rows_per_s"`
	QueueStart       float64 `json:"queue_start"`
	QueueEnd         float64 `json:"queue_end"`
	QueueMax         float64 `json:"queue_max"`
	Commits          float64 `json:"commits"`
	RowsPerCommit    float64 `json:"rows_per_commit"`
	CommitP50ms      float64 `json:"commit_p50_ms"`
	CommitP99ms      float64 `json:"commit_p99_ms"`
	LagP50s          float64 `json:"lag_p50_s"`
	LagMaxs          float64 `json:"lag_max_s"`
	CollectorCPU     float64 `json:"collector_cpu_cores"`
	PostgresCPU      float64 `json:"postgres_cpu_cores"`
	SimulatorCPU     float64 `json:"simulator_cpu_cores"`
	RSSMaxMiB        float64 `json:"rss_max_mib"`
	RSSEndMiB        float64 `json:"rss_end_mib"`
	RSSAnonMaxMiB    float64 `json:"rss_anon_max_mib"`
	PoolAcquiredMax  float64 `json:"pool_acquired_max"`
	PoolTotalMax     float64 `json:"pool_total_max"`
	PoolMax          float64 `json:"pool_max"`
	LoadAvg          string  `json:"loadavg"`
	RowsWrittenTotal float64 `json:"rows_written_total"`
}

func measure(args []string) error {
	fs := flag.NewFlagSet("measure", flag.ContinueOnError)
	metricsURL := fs.String("metrics", "", "collector Prometheus URL")
	pid := fs.Int("pid", 0, "collector pid")
	simPID := fs.Int("sim-pid", 0, "simulator pid (optional)")
	dsn := fs.String("dsn", "", "PostgreSQL DSN")
	sch := fs.String("schema", "mcp_load", "schema")
	dur := fs.Duration("duration", 25*time.Second, "window")
	every := fs.Duration("interval", time.Second, "sample interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	pg := newPGCPU(ctx, conn)
	lagSQL := fmt.Sprintf(`SELECT COALESCE(extract(epoch FROM clock_timestamp() - max(ts)), -1)::float8
		FROM %s.routing_log WHERE ts > now() - interval '10 minutes'`, pgx.Identifier{*sch}.Sanitize())

	// The simulator may exit before the last sample: its CPU time is then
	// the last one read.
	var simTicks float64
	take := func() (point, error) {
		p := point{t: time.Now()}
		var err error
		if p.m, err = loadprobe.Scrape(*metricsURL); err != nil {
			return p, err
		}
		p.colTicks, _ = loadprobe.ProcTicks(*pid)
		if *simPID > 0 {
			if t, err := loadprobe.ProcTicks(*simPID); err == nil {
				simTicks = t
			}
			p.simTicks = simTicks
		}
		p.pgTicks = pg.sample(ctx)
		p.rss = loadprobe.RSSMiB(*pid, "VmRSS")
		p.rssAnon = loadprobe.RSSMiB(*pid, "RssAnon")
		p.queue = loadprobe.QueueSize(p.m)
		if err := conn.QueryRow(ctx, lagSQL).Scan(&p.lagSecond); err != nil {
			p.lagSecond = -1
		}
		return p, nil
	}
	first, err := take()
	if err != nil {
		return err
	}
	pts := []point{first}
	deadline := first.t.Add(*dur)
	for time.Now().Before(deadline) {
		time.Sleep(min(*every, time.Until(deadline)))
		p, err := take()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2eload: sample:", err)
			continue
		}
		pts = append(pts, p)
	}
	last := pts[len(pts)-1]
	secs := last.t.Sub(first.t).Seconds()
	acc := func(ss []loadprobe.Sample) float64 {
		return loadprobe.Sum(ss, "otelcol_receiver_accepted_spans", []string{"", "_total"}, nil) +
			loadprobe.Sum(ss, "otelcol_receiver_accepted_log_records", []string{"", "_total"}, nil) +
			loadprobe.Sum(ss, "otelcol_receiver_accepted_metric_points", []string{"", "_total"}, nil)
	}
	ref := func(ss []loadprobe.Sample) float64 {
		return loadprobe.Sum(ss, "otelcol_receiver_refused_spans", []string{"", "_total"}, nil) +
			loadprobe.Sum(ss, "otelcol_receiver_refused_log_records", []string{"", "_total"}, nil) +
			loadprobe.Sum(ss, "otelcol_receiver_refused_metric_points", []string{"", "_total"}, nil)
	}
	cw := loadprobe.Commits(first.m, last.m)
	r := result{
		Seconds:          secs,
		Accepted:         acc(last.m) - acc(first.m),
		Refused:          ref(last.m) - ref(first.m),
		RowsWritten:      loadprobe.RowsWritten(last.m) - loadprobe.RowsWritten(first.m),
		RowsWrittenTotal: loadprobe.RowsWritten(last.m),
		QueueStart:       first.queue,
		QueueEnd:         last.queue,
		Commits:          cw.Commits,
		CommitP50ms:      cw.P50ms,
		CommitP99ms:      cw.P99ms,
		CollectorCPU:     (last.colTicks - first.colTicks) / loadprobe.ClkTck / secs,
		PostgresCPU:      (last.pgTicks - first.pgTicks) / loadprobe.ClkTck / secs,
		SimulatorCPU:     (last.simTicks - first.simTicks) / loadprobe.ClkTck / secs,
		RSSEndMiB:        last.rss,
		LoadAvg:          loadprobe.LoadAvg(),
	}
	r.AcceptedPerSec = r.Accepted / secs
	r.RowsPerSec = r.RowsWritten / secs
	if cw.Commits > 0 {
		r.RowsPerCommit = r.RowsWritten / cw.Commits
	}
	var lags []float64
	for _, p := range pts {
		r.QueueMax = max(r.QueueMax, p.queue)
		r.RSSMaxMiB = max(r.RSSMaxMiB, p.rss)
		r.RSSAnonMaxMiB = max(r.RSSAnonMaxMiB, p.rssAnon)
		acq := loadprobe.Sum(p.m, "otelcol_exporter_mcppg_pool_connections", []string{"", "_connection"}, map[string]string{"state": "acquired"})
		idle := loadprobe.Sum(p.m, "otelcol_exporter_mcppg_pool_connections", []string{"", "_connection"}, map[string]string{"state": "idle"})
		r.PoolAcquiredMax = max(r.PoolAcquiredMax, acq)
		r.PoolTotalMax = max(r.PoolTotalMax, acq+idle)
		r.PoolMax = max(r.PoolMax, loadprobe.Sum(p.m, "otelcol_exporter_mcppg_pool_connections", []string{"", "_connection"}, map[string]string{"state": "max"}))
		if p.lagSecond >= 0 {
			lags = append(lags, p.lagSecond)
		}
	}
	if len(lags) > 0 {
		sort.Float64s(lags)
		r.LagP50s = lags[len(lags)/2]
		r.LagMaxs = lags[len(lags)-1]
	}
	return printJSON(r)
}

func printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}

// --- drain ---------------------------------------------------------------------

func drain(args []string) error {
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	metricsURL := fs.String("metrics", "", "collector Prometheus URL")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secs, err := loadprobe.WaitDrained(*metricsURL, *timeout)
	fmt.Printf("%.1f\n", secs)
	return err
}

// --- raw -----------------------------------------------------------------------

type table struct {
	name string
	cols []string
	rows [][]any
}

type rawResult struct {
	Tables      map[string]int `json:"tables"`
	Rows        int            `json:"rows"`
	Seconds     float64        `json:"seconds"`
	RowsPerSec  float64        `json:"rows_per_s"`
	Commits     int            `json:"commits"`
	CommitP50ms float64        `json:"commit_p50_ms"`
	CommitP99ms float64        `json:"commit_p99_ms"`
	Batch       int            `json:"batch"`
	Conns       int            `json:"conns"`
	ReadSeconds float64        `json:"read_seconds"`
	PostgresCPU float64        `json:"postgres_cpu_cores"`
	LoadAvg     string         `json:"loadavg"`
}

func raw(args []string) error {
	fs := flag.NewFlagSet("raw", flag.ContinueOnError)
	dsn := fs.String("dsn", "", "PostgreSQL DSN")
	src := fs.String("src", "mcp_load", "schema the run stored")
	dst := fs.String("dst", "mcp_load_raw", "fresh schema for the raw copy (dropped first)")
	batch := fs.Int("batch", 5000, "rows per transaction")
	conns := fs.Int("conns", 4, "parallel connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *batch <= 0 || *conns <= 0 {
		return errors.New("batch and conns must be positive")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	qs, qd := pgx.Identifier{*src}.Sanitize(), pgx.Identifier{*dst}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+qd+" CASCADE"); err != nil {
		return err
	}
	if _, err := schema.Apply(ctx, conn, *dst); err != nil {
		return fmt.Errorf("apply schema: %w", err)
	}
	// Same partitions as the source (the partition manager made them there).
	prows, err := conn.Query(ctx, `
		SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid)
		  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		  JOIN pg_namespace n ON n.oid = p.relnamespace
		 WHERE n.nspname = $1 AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'`, *src)
	if err != nil {
		return err
	}
	var ddl []string
	for prows.Next() {
		var parent, child, bound string
		if err := prows.Scan(&parent, &child, &bound); err != nil {
			return err
		}
		ddl = append(ddl, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s PARTITION OF %s.%s %s", qd,
			pgx.Identifier{child}.Sanitize(), qd, pgx.Identifier{parent}.Sanitize(), bound))
	}
	if err := prows.Err(); err != nil {
		return err
	}
	for _, s := range ddl {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	// Top-level tables of the source with their insertable columns.
	trows, err := conn.Query(ctx, `
		SELECT c.relname, array_agg(a.attname::text ORDER BY a.attnum)
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		       AND a.attgenerated = '' AND a.attidentity <> 'a'
		 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		       AND c.relname <> 'schema_migrations'
		 GROUP BY c.relname ORDER BY c.relname`, *src)
	if err != nil {
		return err
	}
	var tables []*table
	for trows.Next() {
		t := &table{}
		if err := trows.Scan(&t.name, &t.cols); err != nil {
			return err
		}
		tables = append(tables, t)
	}
	if err := trows.Err(); err != nil {
		return err
	}
	readStart := time.Now()
	res := rawResult{Tables: map[string]int{}, Batch: *batch, Conns: *conns}
	for _, t := range tables {
		cols := make([]string, len(t.cols))
		for i, c := range t.cols {
			cols[i] = pgx.Identifier{c}.Sanitize()
		}
		rs, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(cols, ", "), qs, pgx.Identifier{t.name}.Sanitize()))
		if err != nil {
			return err
		}
		for rs.Next() {
			v, err := rs.Values()
			if err != nil {
				rs.Close()
				return err
			}
			t.rows = append(t.rows, v)
		}
		if err := rs.Err(); err != nil {
			return fmt.Errorf("read %s: %w", t.name, err)
		}
		if len(t.rows) > 0 {
			res.Tables[t.name] = len(t.rows)
			res.Rows += len(t.rows)
		}
	}
	res.ReadSeconds = time.Since(readStart).Seconds()

	type chunk struct {
		t    *table
		rows [][]any
	}
	// Interleave the tables' chunks, as the exporter's batches mix them.
	var chunks []chunk
	for more := true; more; {
		more = false
		for _, t := range tables {
			if len(t.rows) == 0 {
				continue
			}
			n := min(*batch, len(t.rows))
			chunks = append(chunks, chunk{t, t.rows[:n]})
			t.rows = t.rows[n:]
			more = more || len(t.rows) > 0
		}
	}
	work := make(chan chunk)
	var mu sync.Mutex
	var lat []float64
	var firstErr error
	var wg sync.WaitGroup
	workers := make([]*pgx.Conn, *conns)
	for i := range workers {
		if workers[i], err = pgx.Connect(ctx, *dsn); err != nil {
			return err
		}
		defer workers[i].Close(ctx)
	}
	pg := newPGCPU(ctx, conn)
	start := time.Now()
	for _, c := range workers {
		wg.Go(func() {
			for ch := range work {
				t0 := time.Now()
				err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
					_, err := tx.CopyFrom(ctx, pgx.Identifier{*dst, ch.t.name}, ch.t.cols, pgx.CopyFromRows(ch.rows))
					return err
				})
				el := time.Since(t0).Seconds()
				mu.Lock()
				lat = append(lat, el*1000)
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("copy %s: %w", ch.t.name, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, c := range chunks {
		work <- c
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	res.Seconds = time.Since(start).Seconds()
	res.PostgresCPU = pg.sample(ctx) / loadprobe.ClkTck / res.Seconds
	res.RowsPerSec = float64(res.Rows) / res.Seconds
	res.Commits = len(chunks)
	sort.Float64s(lat)
	if len(lat) > 0 {
		res.CommitP50ms = lat[len(lat)/2]
		res.CommitP99ms = lat[min(len(lat)-1, int(math.Ceil(0.99*float64(len(lat))))-1)]
	}
	res.LoadAvg = loadprobe.LoadAvg()
	return printJSON(res)
}
