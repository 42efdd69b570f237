package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr"
)

// Rollup fill shape: servers × (tools on tools/call + other methods) combos;
// each minute a combo has an ok row with probability 0.97 and a row per
// failure class with the probabilities below (not every combination every
// minute). An ok row carries ~400-2,300 requests (10,000 requests/s over
// ~450 combos), a failure row 2-60.
const (
	toolsPerServer = 6
	rollupTemplate = `
		CREATE TABLE mcp.qb_hist_tpl AS
		SELECT id, h, (SELECT sum(x) FROM unnest(h) x) AS total,
		       (SELECT sum(h[b] * power(2, (b + 0.5) / 8)) FROM generate_subscripts(h, 1) b) AS dsum
		FROM (SELECT id, format('[%s:%s]=%s', lo, lo + len - 1,
		                    array_agg(round(scale * exp(-power((i - len / 2.0) / (len / 4.0), 2)))::numeric ORDER BY i))::numeric[] AS h
		      FROM (SELECT id, 72 + id % 16 AS lo, 40 + id % 24 AS len,
		                   CASE WHEN id < 32 THEN 0.1 + id / 20.0 ELSE 20 + (id - 32) * 0.3 END AS scale
		            FROM generate_series(0, 255) id) p, generate_series(0, p.len - 1) i
		      GROUP BY id, lo, len) t`
	rollupCombos = `
		CREATE TABLE mcp.qb_combo AS
		SELECT 'server-' || s AS server_key, 'tools/call' AS method, 'tool_' || ((s * 7 + t) % 60) AS tool_name
		FROM generate_series(0, $1::int - 1) s, generate_series(0, $2::int - 1) t
		UNION ALL
		SELECT 'server-' || s, m, NULL FROM generate_series(0, $1::int - 1) s,
		       unnest(ARRAY['tools/list', 'initialize', 'resources/read']) m`
	rollupFill = `
		INSERT INTO mcp.routing_rollup_1m
		SELECT x.m, x.server_key, x.method, x.tool_name, x.cls, t.total::bigint, t.total,
		       CASE WHEN x.cls = 'ok' THEN 0 ELSE t.total END, t.dsum, t.h
		FROM (SELECT m, server_key, method, tool_name, cls,
		             CASE WHEN cls = 'ok' THEN 32 + (h / 1000) % 224 ELSE (h / 1000) % 32 END AS tid
		      FROM (SELECT m, c.server_key, c.method, c.tool_name, k.cls, k.p,
		                   -- a hash, not random(): the planner may evaluate a volatile filter once
		                   abs(hashtext(m::text || c.server_key || c.method || coalesce(c.tool_name, '') || k.cls)::bigint) AS h
		            FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') m,
		                 mcp.qb_combo c,
		                 (VALUES ('ok', 970), ('server_error', 250), ('timeout', 80), ('client_error', 40)) k(cls, p)) r
		      WHERE h % 1000 < p) x
		JOIN mcp.qb_hist_tpl t ON t.id = x.tid`
)

// fillRollups writes routing_rollup_1m rows for every minute of [from, to)
// day by day, into monthly partitions named as partitionmgr names them.
func fillRollups(ctx context.Context, pool *pgxpool.Pool, from, to time.Time, servers int) (time.Duration, error) {
	t0 := time.Now()
	for m := partitionmgr.Monthly.Start(from, time.UTC); m.Before(to); m = partitionmgr.Monthly.Next(m) {
		if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE mcp.%s PARTITION OF mcp.routing_rollup_1m FOR VALUES FROM ('%s') TO ('%s')",
			partitionmgr.Monthly.PartitionName("routing_rollup_1m", m), m.Format(time.RFC3339), partitionmgr.Monthly.Next(m).Format(time.RFC3339))); err != nil {
			return 0, err
		}
	}
	for _, sql := range []string{"DROP TABLE IF EXISTS mcp.qb_hist_tpl, mcp.qb_combo", rollupTemplate} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return 0, err
		}
	}
	if _, err := pool.Exec(ctx, rollupCombos, servers, toolsPerServer); err != nil {
		return 0, err
	}
	for d := from; d.Before(to); d = d.Add(24 * time.Hour) {
		end := d.Add(24 * time.Hour)
		if end.After(to) {
			end = to
		}
		if _, err := pool.Exec(ctx, rollupFill, d, end); err != nil {
			return 0, err
		}
		fmt.Fprintf(os.Stderr, "querybench: rollups of %s generated (%s)\n", d.Format("2006-01-02"), time.Since(t0).Round(time.Second))
	}
	// the raw rows' queue entries would make the ingest's refresh recompute
	// the synthetic minutes from the few raw rows
	if _, err := pool.Exec(ctx, "TRUNCATE mcp.rollup_dirty"); err != nil {
		return 0, err
	}
	_, err := pool.Exec(ctx, "ANALYZE mcp.routing_rollup_1m")
	return time.Since(t0), err
}

// The dashboard's per-minute panels over the rollups.
const perMinute = `sum(requests) / 60 AS tps, sum(errors) / nullif(sum(requests), 0) AS error_rate,
		mcp.rollup_hist_quantile(mcp.rollup_hist_merge(duration_hist), 0.5) / 1000 AS p50_ms,
		mcp.rollup_hist_quantile(mcp.rollup_hist_merge(duration_hist), 0.95) / 1000 AS p95_ms,
		mcp.rollup_hist_quantile(mcp.rollup_hist_merge(duration_hist), 0.99) / 1000 AS p99_ms`

func (s *sample) recent(span time.Duration) (time.Time, time.Time) {
	to := s.now.Add(-time.Duration(s.rng.Int64N(int64(time.Hour/time.Minute))) * time.Minute)
	return to.Add(-span), to
}

var dashboardQueries = []query{
	{id: "server-24h", name: "one server, 24 h, per minute: TPS, error rate, p50/p95/p99",
		sql: `SELECT ts, ` + perMinute + ` FROM mcp.routing_rollup_1m
		WHERE server_key = $1 AND ts >= $2 AND ts < $3 GROUP BY ts ORDER BY ts`,
		args: func(s *sample) []any {
			from, to := s.recent(24 * time.Hour)
			return []any{s.rollupServers[s.rng.IntN(len(s.rollupServers))], from, to}
		}},
	{id: "all-7d", name: "all servers, 7 days, per minute (servers merged): TPS, error rate, p50/p95/p99",
		sql: `SELECT ts, ` + perMinute + ` FROM mcp.routing_rollup_1m
		WHERE ts >= $1 AND ts < $2 GROUP BY ts ORDER BY ts`,
		args: func(s *sample) []any { from, to := s.recent(7 * 24 * time.Hour); return []any{from, to} }},
	{id: "method-24h", name: "per method, 24 h, per minute: TPS, error rate, p50/p95/p99",
		sql: `SELECT ts, method, ` + perMinute + ` FROM mcp.routing_rollup_1m
		WHERE ts >= $1 AND ts < $2 GROUP BY ts, method ORDER BY ts`,
		args: func(s *sample) []any { from, to := s.recent(24 * time.Hour); return []any{from, to} }},
	{id: "tool-24h", name: "one tool, 24 h, per minute: TPS, error rate, p50/p95/p99",
		sql: `SELECT ts, ` + perMinute + ` FROM mcp.routing_rollup_1m
		WHERE tool_name = $1 AND ts >= $2 AND ts < $3 GROUP BY ts ORDER BY ts`,
		args: func(s *sample) []any {
			from, to := s.recent(24 * time.Hour)
			return []any{fmt.Sprintf("tool_%d", s.rng.IntN(60)), from, to}
		}},
}

// runQuery runs q once on conn and returns the rows it read.
func runQuery(ctx context.Context, conn *pgxpool.Conn, q query, args []any) (int, error) {
	r, err := conn.Query(ctx, q.sql, args...)
	if err != nil {
		return 0, err
	}
	n := 0
	for r.Next() {
		n++
	}
	return n, r.Err()
}

type result struct {
	kind    int
	latency time.Duration
	err     error
}

// dashboard runs clients open-loop clients for duration: client c issues
// kinds[c % len(kinds)] once a second on a fixed schedule, each send in its
// own goroutine, and its latency counts from the scheduled time, so a stall
// (a busy pool, a slow server) shows in the figures instead of delaying the
// next sends. ingest > 0 runs a COPY writer into routing_log meanwhile.
func dashboard(ctx context.Context, pool *pgxpool.Pool, s *sample, kinds []query, clients int, duration time.Duration, ingest int) error {
	var mu sync.Mutex
	rngs := make([]*sample, clients)
	for c := range rngs {
		cp := *s
		cp.rng = newRand(uint64(c))
		rngs[c] = &cp
	}
	results := make(chan result, 1024)
	var all []result
	collected := make(chan struct{})
	go func() {
		for r := range results {
			all = append(all, r)
		}
		close(collected)
	}()

	ingestCtx, stopIngest := context.WithCancel(ctx)
	var ingested atomic.Int64
	ingestDone := make(chan error, 1)
	var load1 [2]string
	load1[0] = loadAvg()
	start := time.Now().Add(time.Second)
	if ingest > 0 {
		go func() { ingestDone <- ingestRows(ingestCtx, pool, ingest, &ingested) }()
	} else {
		ingestDone <- nil
	}
	deadline := start.Add(duration)
	var inflight sync.WaitGroup
	queryCtx, cancelQueries := context.WithCancel(ctx)
	defer cancelQueries()
	var sched sync.WaitGroup
	for c := 0; c < clients; c++ {
		sched.Add(1)
		go func(c int) {
			defer sched.Done()
			k := c % len(kinds)
			for at := start.Add(time.Duration(c) * time.Second / time.Duration(clients)); at.Before(deadline); at = at.Add(time.Second) {
				time.Sleep(time.Until(at))
				mu.Lock()
				args := kinds[k].args(rngs[c])
				mu.Unlock()
				inflight.Add(1)
				go func(at time.Time) {
					defer inflight.Done()
					conn, err := pool.Acquire(queryCtx)
					if err == nil {
						_, err = runQuery(queryCtx, conn, kinds[k], args)
						conn.Release()
					}
					results <- result{kind: k, latency: time.Since(at), err: err}
				}(at)
			}
		}(c)
	}
	sched.Wait()
	ingestStart := start
	stopIngest()
	ingestErr := <-ingestDone
	rows := ingested.Load()
	ingestElapsed := time.Since(ingestStart)
	load1[1] = loadAvg()
	// queries still running 30 s after the last send are cancelled and count as failures
	waited := make(chan struct{})
	go func() { inflight.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		cancelQueries()
		<-waited
	}
	close(results)
	<-collected
	if ingestErr != nil && ingestCtx.Err() == nil {
		return ingestErr
	}

	fmt.Printf("## Dashboard load (%d clients, one query per second each, open loop, %s)\n\n", clients, duration)
	if ingest > 0 {
		fmt.Printf("Ingest meanwhile: %d routing_log rows by COPY in %s = %.0f rows/s (target %d), rollup_refresh every 10 s.\n\n",
			rows, ingestElapsed.Round(time.Second), float64(rows)/ingestElapsed.Seconds(), ingest)
	}
	fmt.Printf("Load average (1, 5, 15 min) before: %s; at the end: %s.\n\n", load1[0], load1[1])
	fmt.Printf("Latency counts from the scheduled send. Unfinished: still running 30 s after the last send, then cancelled; their time until cancelled is in the figures (a lower bound).\n\n")
	fmt.Printf("| query | clients | runs | unfinished or failed | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for k, q := range kinds {
		var times []time.Duration
		failed := 0
		for _, r := range all {
			if r.kind != k {
				continue
			}
			if r.err != nil {
				failed++
				if !errors.Is(r.err, context.Canceled) {
					continue
				}
			}
			times = append(times, r.latency)
		}
		n := clients / len(kinds)
		if k < clients%len(kinds) {
			n++
		}
		if len(times) == 0 {
			fmt.Printf("| %s | %d | 0 | %d | | | |\n", q.name, n, failed)
			continue
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		fmt.Printf("| %s | %d | %d | %d | %s | %s | %s |\n", q.name, n, len(times), failed,
			ms(times[len(times)/2]), ms(times[len(times)*99/100]), ms(times[len(times)-1]))
	}
	fmt.Println()
	return nil
}

// serial times each kind alone (one connection, no other load) and returns
// a plan of one run of each, as Markdown.
func serial(ctx context.Context, pool *pgxpool.Pool, s *sample, kinds []query, runs int) (string, error) {
	fmt.Printf("## Alone (%d runs each after 1 warm-up run, one connection, no ingest)\n\n| query | p50 ms | p99 ms | max ms | rows (last run) |\n| --- | --- | --- | --- | --- |\n", runs)
	var plans strings.Builder
	for _, q := range kinds {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return "", err
		}
		times := make([]time.Duration, 0, runs)
		var n int
		for i := 0; i < runs+1; i++ {
			t0 := time.Now()
			if n, err = runQuery(ctx, conn, q, q.args(s)); err != nil {
				conn.Release()
				return "", fmt.Errorf("%s: %w", q.name, err)
			}
			if i >= 1 {
				times = append(times, time.Since(t0))
			}
		}
		fmt.Print(timingRow(q.name, times, n))
		plan, err := explain(ctx, conn, q.sql, q.args(s))
		conn.Release()
		if err != nil {
			return "", fmt.Errorf("explain %s: %w", q.name, err)
		}
		fmt.Fprintf(&plans, "### %s\n\n```\n%s\n```\n\n", q.name, plan)
	}
	fmt.Println()
	return plans.String(), nil
}

// ingestRows COPYs rate rows/s into routing_log in batches every 100 ms (the
// rollup trigger fires per batch) and refreshes the rollups every 10 s, as
// partitionmgr does, until ctx ends.
func ingestRows(ctx context.Context, pool *pgxpool.Pool, rate int, done *atomic.Int64) error {
	cols := []string{"ts", "trace_id", "span_id", "duration_us", "span_name", "method", "tool_name", "request_id", "server_key", "status", "error_type", "service_name"}
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = pool.Exec(ctx, "SELECT count(*) FROM mcp.rollup_refresh(NULL, NULL, NULL, now() - interval '15 seconds')")
			}
		}
	}()
	batch := rate / 10
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var seq int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := time.Now()
		rows := make([][]any, batch)
		for i := range rows {
			seq++
			id := make([]byte, 24)
			_, _ = rand.Read(id)
			var status, errType any = "unset", nil
			if seq%33 == 0 {
				status, errType = "error", "timeout"
			}
			rows[i] = []any{now, id[:16], id[16:], seq % 200000, "tools/call tool", "tools/call", fmt.Sprintf("tool_%d", seq%60),
				fmt.Sprintf("ingest-%d", seq), fmt.Sprintf("server-%d", seq%50), status, errType, "mcp-router"}
		}
		n, err := pool.CopyFrom(ctx, pgx.Identifier{"mcp", "routing_log"}, cols, pgx.CopyFromRows(rows))
		if err != nil {
			return err
		}
		done.Add(n)
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], ", ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

// runDashboard fills the rollups (unless reusing), times the rollup queries
// alone, then runs them with the look-ups under the concurrent clients.
func runDashboard(ctx context.Context, pool *pgxpool.Pool, s *sample, reuse bool, runs int) error {
	s.now = time.Now().UTC().Truncate(time.Minute)
	if !reuse {
		took, err := fillRollups(ctx, pool, s.now.AddDate(0, 0, -dash.rollupDays), s.now, dash.servers)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "querybench: rollups generated and analysed in %s\n", took.Round(time.Second))
	}
	var n, minutes int64
	var rps, size float64
	var from, to time.Time
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT ts), sum(requests)::float8 / (count(DISTINCT ts) * 60), min(ts), max(ts),
		(SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = 'mcp.routing_rollup_1m'::regclass)::float8
		FROM mcp.routing_rollup_1m`).Scan(&n, &minutes, &rps, &from, &to, &size); err != nil {
		return err
	}
	fmt.Printf("%d routing_rollup_1m rows over %d minutes (%s to %s, %.1f days): %.0f rows per minute on average, %.0f routed requests/s represented; %d servers, %d (server, method, tool) combinations; %.0f MB with the index (%.0f bytes per row).\n\n",
		n, minutes, from.UTC().Format("2006-01-02 15:04"), to.UTC().Format("2006-01-02 15:04"), float64(minutes)/1440,
		float64(n)/float64(minutes), rps, dash.servers, count(ctx, pool, "mcp.qb_combo"), size/1e6, size/float64(n))
	s.now = to.UTC().Add(time.Minute)
	for i := 0; i < dash.servers; i++ {
		s.rollupServers = append(s.rollupServers, fmt.Sprintf("server-%d", i))
	}
	kinds := append(append([]query(nil), dashboardQueries...), queries...)
	if dash.kinds != "" {
		want := map[string]bool{}
		for _, k := range strings.Split(dash.kinds, ",") {
			want[strings.TrimSpace(k)] = true
		}
		kinds = kinds[:0:0]
		for _, q := range append(append([]query(nil), dashboardQueries...), queries...) {
			if want[q.id] {
				kinds = append(kinds, q)
			}
		}
		if len(kinds) == 0 {
			return fmt.Errorf("-kinds %q names no query", dash.kinds)
		}
	}
	var rollupKinds []query // the chosen rollup queries, timed alone first
	for _, q := range dashboardQueries {
		for _, k := range kinds {
			if k.id == q.id {
				rollupKinds = append(rollupKinds, q)
			}
		}
	}
	plans, err := serial(ctx, pool, s, rollupKinds, max(1, runs))
	if err != nil {
		return err
	}
	if err := dashboard(ctx, pool, s, kinds, dash.clients, dash.duration, dash.ingest); err != nil {
		return err
	}
	fmt.Printf("## Plans of the rollup queries (EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) of one run, alone)\n\n%s", plans)
	return nil
}
