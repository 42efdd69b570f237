// Command querybench measures the seed's look-ups on large tables: it fills
// a scratch database with routing_log rows spread over daily partitions
// (tool calls and errors in proportion), then times each documented query
// (docs/queries.md) with random parameters and prints p50/p99 and the plan
// of one run (partition pruning, index use) as Markdown.
//
//	go run ./bench/internal/querybench -rows 10000000 -days 30
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr"
	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// query is one documented look-up; args draws random parameters for a run.
type query struct {
	id   string // for -kinds
	name string
	sql  string
	args func(s *sample) []any
}

// sample holds values drawn from the generated data.
type sample struct {
	rng        *rand.Rand
	end        time.Time
	now        time.Time // the end of the rollups (dashboard mode)
	days       int
	requestIDs []requestRef
	toolCalls  []requestRef // requests that have a tool call
	servers    []string
	// servers of the rollups (dashboard mode)
	rollupServers []string
	errorTypes    []string
}

func (s *sample) randomHour() time.Time {
	return s.end.Add(-time.Duration(s.rng.Int64N(int64(s.days)*24)) * time.Hour).Truncate(time.Hour)
}

// queries are the look-ups of docs/queries.md, in its order.
var queries = []query{
	{id: "req-day", name: "routed request by request id, day known", sql: `SELECT * FROM mcp.routing_log
		WHERE request_id = $1 AND ts >= $2 AND ts < $3`,
		args: func(s *sample) []any { r := s.request(); return []any{r.id, r.day, r.day.AddDate(0, 0, 1)} }},
	{id: "req-any", name: "routed request by request id, any time", sql: `SELECT * FROM mcp.routing_log WHERE request_id = $1`,
		args: func(s *sample) []any { return []any{s.request().id} }},
	{id: "range-hour", name: "routed requests in a time range (one hour, latest 100)", sql: `SELECT ts, method, tool_name, server_key, status, duration_us
		FROM mcp.routing_log WHERE ts >= $1 AND ts < $2 ORDER BY ts DESC LIMIT 100`,
		args: func(s *sample) []any { h := s.randomHour(); return []any{h, h.Add(time.Hour)} }},
	{id: "server-hour", name: "requests to one server in an hour (latest 100)", sql: `SELECT ts, method, tool_name, status, duration_us
		FROM mcp.routing_log WHERE server_key = $1 AND ts >= $2 AND ts < $3 ORDER BY ts DESC LIMIT 100`,
		args: func(s *sample) []any {
			h := s.randomHour()
			return []any{s.servers[s.rng.IntN(len(s.servers))], h, h.Add(time.Hour)}
		}},
	{id: "failures-hour", name: "failures only, one hour", sql: `SELECT ts, method, tool_name, server_key, error_type, status_message
		FROM mcp.routing_log WHERE failed AND ts >= $1 AND ts < $2 ORDER BY ts DESC LIMIT 100`,
		args: func(s *sample) []any { h := s.randomHour(); return []any{h, h.Add(time.Hour)} }},
	{id: "errors-day", name: "errors of one type, one day", sql: `SELECT ts, server_key, method, message FROM mcp.error_log
		WHERE error_type = $1 AND ts >= $2 AND ts < $3 ORDER BY ts DESC LIMIT 100`,
		args: func(s *sample) []any {
			h := s.randomHour()
			return []any{s.errorTypes[s.rng.IntN(len(s.errorTypes))], h.Add(-24 * time.Hour), h}
		}},
	{id: "healthy", name: "healthy servers of the registry", sql: `SELECT server_key, name, url, health_status, updated_at
		FROM mcp.mcp_server WHERE registered AND health_status = 'healthy'`,
		args: func(*sample) []any { return nil }},
	{id: "req-tools", name: "a routed request with its tool calls, day known", sql: `SELECT r.ts, r.method, r.server_key, t.tool_name, t.duration_us, t.status
		FROM mcp.routing_log r JOIN mcp.tool_call_record t
		  ON t.trace_id = r.trace_id AND t.ts >= r.ts AND t.ts < r.ts + interval '10 minutes'
		WHERE r.request_id = $1 AND r.ts >= $2 AND r.ts < $3 AND t.ts >= $2 AND t.ts < $4`,
		args: func(s *sample) []any {
			r := s.toolCall()
			next := r.day.AddDate(0, 0, 1)
			return []any{r.id, r.day, next, next.Add(10 * time.Minute)}
		}},
}

// requestRef is a request id and the start of its day.
type requestRef struct {
	id  string
	day time.Time
}

func (s *sample) request() requestRef  { return s.requestIDs[s.rng.IntN(len(s.requestIDs))] }
func (s *sample) toolCall() requestRef { return s.toolCalls[s.rng.IntN(len(s.toolCalls))] }

func main() {
	admin := flag.String("admin-dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "DSN of a role that may create databases")
	rows := flag.Int("rows", 10_000_000, "routing_log rows to generate")
	days := flag.Int("days", 30, "daily partitions to spread them over")
	runs := flag.Int("runs", 500, "timed runs per query")
	keep := flag.Bool("keep", false, "keep the database (mcp_querybench) afterwards")
	reuse := flag.Bool("reuse", false, "measure the database a -keep run left instead of generating one")
	flag.StringVar(&dash.mode, "mode", "lookups", "lookups: each look-up alone; dashboard: per-minute rollup queries and the look-ups under concurrent clients")
	flag.IntVar(&dash.rollupDays, "rollup-days", 30, "dashboard: days of per-minute rollups to generate, ending now")
	flag.IntVar(&dash.servers, "servers", 50, "dashboard: servers in the rollups")
	flag.IntVar(&dash.clients, "clients", 16, "dashboard: concurrent clients, one query per second each")
	flag.DurationVar(&dash.duration, "duration", 60*time.Second, "dashboard: how long the clients run")
	flag.IntVar(&dash.ingest, "ingest", 20000, "dashboard: routing_log rows/s to COPY meanwhile (0: none)")
	flag.StringVar(&dash.kinds, "kinds", "", "dashboard: comma-separated query ids to run (default: all)")
	flag.Parse()
	if err := run(*admin, *rows, *days, *runs, *keep, *reuse); err != nil {
		fmt.Fprintln(os.Stderr, "querybench:", err)
		os.Exit(1)
	}
}

// dash holds the dashboard mode's flags.
var dash struct {
	mode                string
	rollupDays, servers int
	clients, ingest     int
	duration            time.Duration
	kinds               string
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 2)) }

func run(admin string, rows, days, runs int, keep, reuse bool) error {
	ctx := context.Background()
	const dbName = "mcp_querybench"
	adminConn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer adminConn.Close(ctx)
	if !reuse {
		if _, err = adminConn.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err = adminConn.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
			return err
		}
	}
	if !keep {
		defer func() { _, _ = adminConn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)") }()
	}
	u, err := url.Parse(admin)
	if err != nil {
		return err
	}
	u.Path = "/" + dbName
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(max(4, dash.clients+4)) // every client's query, the writer, the refresh
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	var start, end time.Time
	var took time.Duration
	if reuse {
		if err = pool.QueryRow(ctx, "SELECT date_trunc('day', min(ts)), date_trunc('day', max(ts)) + interval '1 day' FROM mcp.routing_log").Scan(&start, &end); err != nil {
			return err
		}
		start, end = start.UTC(), end.UTC()
	} else {
		if _, err = schema.Apply(ctx, pool, "mcp"); err != nil {
			return err
		}
		end = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		start = end.AddDate(0, 0, -days)
		if took, err = generate(ctx, pool, start, days, rows); err != nil {
			return err
		}
	}
	days = int(end.Sub(start).Hours() / 24)
	fmt.Printf("## Data\n\n%d routing_log rows over %d daily partitions (%s to %s), %d tool_call_record rows, %d error_log rows; generated and analysed in %s.\n\n",
		count(ctx, pool, "mcp.routing_log"), days, start.Format("2006-01-02"), end.Format("2006-01-02"),
		count(ctx, pool, "mcp.tool_call_record"), count(ctx, pool, "mcp.error_log"), took.Round(time.Second))

	var perRow float64
	_ = pool.QueryRow(ctx, `SELECT sum(pg_total_relation_size(i.inhrelid))::float8 / (SELECT count(*) FROM mcp.routing_log)
		FROM pg_inherits i WHERE i.inhparent = 'mcp.routing_log'::regclass`).Scan(&perRow)
	fmt.Printf("routing_log takes %.0f bytes per row, table and indexes together.\n\n", perRow)

	s := &sample{rng: newRand(1), end: end, days: days}
	if s.requestIDs, err = requestRefs(ctx, pool, "mcp.routing_log"); err != nil {
		return err
	}
	if s.toolCalls, err = requestRefs(ctx, pool, "mcp.tool_call_record"); err != nil {
		return err
	}
	if s.servers, err = strings1(ctx, pool, "SELECT DISTINCT server_key FROM mcp.mcp_server"); err != nil {
		return err
	}
	if s.errorTypes, err = strings1(ctx, pool, "SELECT DISTINCT error_type FROM mcp.error_log_default UNION SELECT unnest(ARRAY['timeout','connection_refused','upstream_error','invalid_params'])"); err != nil {
		return err
	}

	if dash.mode == "dashboard" {
		return runDashboard(ctx, pool, s, reuse, runs)
	}
	fmt.Printf("## Latency (%d runs each, client-side, one connection, loopback)\n\n| query | p50 ms | p99 ms | max ms | rows (last run) |\n| --- | --- | --- | --- | --- |\n", runs)
	var plans strings.Builder
	for _, q := range queries {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		times := make([]time.Duration, 0, runs)
		var n int
		for i := 0; i < runs+20; i++ { // the first 20 warm the caches and the plan cache
			args := q.args(s)
			t0 := time.Now()
			r, err := conn.Query(ctx, q.sql, args...)
			if err != nil {
				conn.Release()
				return fmt.Errorf("%s: %w", q.name, err)
			}
			n = 0
			for r.Next() {
				n++
			}
			if err := r.Err(); err != nil {
				conn.Release()
				return fmt.Errorf("%s: %w", q.name, err)
			}
			if i >= 20 {
				times = append(times, time.Since(t0))
			}
		}
		fmt.Print(timingRow(q.name, times, n))

		plan, err := explain(ctx, conn, q.sql, q.args(s))
		conn.Release()
		if err != nil {
			return fmt.Errorf("explain %s: %w", q.name, err)
		}
		fmt.Fprintf(&plans, "### %s\n\n```\n%s\n```\n\n", q.name, plan)
	}
	fmt.Printf("\n## Plans (EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) of one run)\n\n%s", plans.String())
	return nil
}

func count(ctx context.Context, pool *pgxpool.Pool, table string) int64 {
	var n int64
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n
}

func strings1(ctx context.Context, pool *pgxpool.Pool, sql string) ([]string, error) {
	rows, err := pool.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// requestRefs samples request ids of a table with the UTC day they fall on.
func requestRefs(ctx context.Context, pool *pgxpool.Pool, table string) ([]requestRef, error) {
	rows, err := pool.Query(ctx, "SELECT request_id, date_trunc('day', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM "+
		table+" TABLESAMPLE SYSTEM (0.1) LIMIT 1000")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (requestRef, error) {
		var ref requestRef
		err := r.Scan(&ref.id, &ref.day)
		return ref, err
	})
}

func explain(ctx context.Context, conn *pgxpool.Conn, sql string, args []any) (string, error) {
	rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+sql, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// generate creates the daily partitions and fills them day by day, with
// server-side generate_series: ~20 servers, a tool call for 70% of the
// requests, 3% failures each with an error_log row, a registry of servers.
func generate(ctx context.Context, pool *pgxpool.Pool, start time.Time, days, rows int) (time.Duration, error) {
	t0 := time.Now()
	perDay := rows / days
	for d := 0; d < days; d++ {
		from := start.AddDate(0, 0, d)
		to := from.AddDate(0, 0, 1)
		for _, table := range []string{"routing_log", "tool_call_record"} {
			name := partitionmgr.Daily.PartitionName(table, from)
			if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE mcp.%s PARTITION OF mcp.%s FOR VALUES FROM ('%s') TO ('%s')",
				name, table, from.Format(time.RFC3339), to.Format(time.RFC3339))); err != nil {
				return 0, err
			}
		}
	}
	for d := 0; d < days; d++ {
		from := start.AddDate(0, 0, d)
		base := int64(d) * int64(perDay)
		if _, err := pool.Exec(ctx, `
			INSERT INTO mcp.routing_log (ts, trace_id, span_id, duration_us, span_name, method, tool_name, session_id,
				request_id, server_key, strategy, attempt, status, error_type, protocol_version, transport,
				client_address, service_name, service_instance, attributes)
			SELECT $1::timestamptz + (g - $2) * (interval '1 day' / $3),
			       decode(lpad(to_hex(g), 32, '0'), 'hex'), decode(lpad(to_hex(g), 16, '0'), 'hex'),
			       (random() * 200000)::bigint, 'tools/call get_weather', 'tools/call', 'tool_' || (g % 50),
			       'sess-' || (g / 40), md5(g::text)::uuid::text, 'server-' || (g % 20), 'round_robin', 1,
			       CASE WHEN g % 33 = 0 THEN 'error' ELSE 'unset' END,
			       CASE WHEN g % 33 = 0 THEN (ARRAY['timeout','connection_refused','upstream_error','invalid_params'])[1 + g % 4] END,
			       '2025-06-18', 'tcp', '10.0.' || (g % 200) || '.1', 'mcp-router', 'router-' || (g % 4), '{"tenant":"acme"}'
			FROM generate_series($2::bigint, $2::bigint + $3 - 1) AS g`, from, base, perDay); err != nil {
			return 0, err
		}
		if _, err := pool.Exec(ctx, `
			INSERT INTO mcp.tool_call_record (ts, trace_id, span_id, parent_span_id, duration_us, tool_name, session_id,
				request_id, server_key, attempt, status, error_type, service_name)
			SELECT ts + interval '1 millisecond', trace_id, decode(lpad(to_hex(1000000000000 + ('x' || encode(span_id, 'hex'))::bit(64)::bigint), 16, '0'), 'hex'),
			       span_id, duration_us - 500, tool_name, session_id, request_id, server_key, 1, status, error_type, service_name
			FROM mcp.routing_log WHERE ts >= $1 AND ts < $1 + interval '1 day' AND abs(hashtext(request_id)) % 10 < 7`, from); err != nil {
			return 0, err
		}
		if _, err := pool.Exec(ctx, `
			INSERT INTO mcp.error_log (ts, event_id, source, trace_id, span_id, request_id, session_id, server_key, method,
				tool_name, error_type, message, service_name)
			SELECT ts + (duration_us * interval '1 microsecond'), encode(trace_id, 'hex') || '-' || encode(span_id, 'hex'),
			       'span_status', trace_id, span_id, request_id, session_id, server_key, method, tool_name, error_type,
			       'upstream failed', service_name
			FROM mcp.routing_log WHERE ts >= $1 AND ts < $1 + interval '1 day' AND failed`, from); err != nil {
			return 0, err
		}
		fmt.Fprintf(os.Stderr, "querybench: day %d/%d generated (%s)\n", d+1, days, time.Since(t0).Round(time.Second))
	}
	if _, err := pool.Exec(ctx, `INSERT INTO mcp.mcp_server (server_key, name, registered_at, deregistered_at, health_status, health_changed_at, updated_at)
		SELECT 'server-' || g, 'Server ' || g, now() - interval '1 day', CASE WHEN g % 7 = 0 THEN now() END,
		       CASE WHEN g % 5 = 0 THEN 'unhealthy' ELSE 'healthy' END, now(), now()
		FROM generate_series(0, 19) AS g`); err != nil {
		return 0, err
	}
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// timingRow is one Markdown table row: the query's p50, p99 and slowest run
// and the rows its last run returned.
func timingRow(name string, times []time.Duration, n int) string {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return fmt.Sprintf("| %s | %s | %s | %s | %d |\n", name, ms(times[len(times)/2]), ms(times[len(times)*99/100]), ms(times[len(times)-1]), n)
}
