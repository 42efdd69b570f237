package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// reconcileOptions are the flags of the reconcile command.
type reconcileOptions struct {
	manifest string
	dsn      string
	schema   string
	// sampled are the kinds a sampler may thin out (failures excepted).
	sampled map[kind]bool
	// rates are the kept shares assumed for a sampled kind whose stored
	// rows do not tell (none of its healthy items was kept).
	rates  map[kind]float64
	sigmas float64
	// sumTolerance bounds |SUM(adjusted_count) - sent| / sent once the
	// sample is large enough for that to be meaningful.
	sumTolerance float64
	wait         time.Duration
	settle       time.Duration
	poll         time.Duration
}

// Defaults of the mcpsampler processor (docs/design.md): every failure, 10 % of
// the healthy health checks, 1 % of the LB decisions.
const defaultSampledRates = "health_check=10,lb_decision=1"

func parseReconcileFlags(args []string, stderr io.Writer) (reconcileOptions, error) {
	o := reconcileOptions{}
	fs := flag.NewFlagSet("mcprouter-sim reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.manifest, "manifest", "", "manifest written by mcprouter-sim run (required)")
	fs.StringVar(&o.dsn, "dsn", "postgres://postgres@127.0.0.1:5432/mcp_bridge?sslmode=disable", "PostgreSQL connection string")
	fs.StringVar(&o.schema, "schema", "mcp", "schema of the tables")
	sampled := fs.String("sampled", "health_check,lb_decision", "kinds whose healthy items may be sampled (comma-separated)")
	rates := fs.String("rates", defaultSampledRates, "percent kept of each sampled kind, assumed when the stored rows carry no adjusted_count to tell")
	fs.Float64Var(&o.sigmas, "sigmas", 5, "width of the accepted band of a sample, in binomial standard deviations")
	fs.Float64Var(&o.sumTolerance, "sum-tolerance", 0.05, "accepted relative error of SUM(adjusted_count), checked when the sample is large enough")
	fs.DurationVar(&o.wait, "wait", 0, "poll until nothing is missing, the stored counts stop changing for -settle, or this much time passed; 0 = check once")
	fs.DurationVar(&o.settle, "settle", 10*time.Second, "with -wait: give up waiting when the stored counts did not change for this long")
	fs.DurationVar(&o.poll, "poll", time.Second, "with -wait: check this often")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %v", fs.Args()))
	}
	if o.manifest == "" {
		errs = append(errs, errors.New("manifest: required"))
	}
	if !regexp.MustCompile(`^[a-z_][a-z0-9_]*$`).MatchString(o.schema) {
		errs = append(errs, fmt.Errorf("schema: %q must be a lower-case SQL identifier", o.schema))
	}
	var err error
	if o.sampled, err = parseKindSet(*sampled); err != nil {
		errs = append(errs, fmt.Errorf("sampled: %w", err))
	}
	if o.rates, err = parseRates(*rates); err != nil {
		errs = append(errs, fmt.Errorf("rates: %w", err))
	}
	for k := range o.sampled {
		if _, ok := o.rates[k]; !ok {
			errs = append(errs, fmt.Errorf("rates: no rate for the sampled kind %s", k))
		}
	}
	if o.sigmas <= 0 || o.sumTolerance <= 0 || o.wait < 0 || o.settle <= 0 || o.poll <= 0 {
		errs = append(errs, errors.New("sigmas, sum-tolerance, settle and poll must be positive, wait not negative"))
	}
	return o, errors.Join(errs...)
}

// checkedKinds are the kinds whose ids the manifest lists, in report order.
var checkedKinds = []kind{kindRouting, kindToolCall, kindError, kindHealthCheck, kindLBDecision, kindBreaker, kindSession, kindServer}

func parseKind(name string) (kind, bool) {
	for _, k := range checkedKinds {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

func parseKindSet(s string) (map[kind]bool, error) {
	out := map[kind]bool{}
	for name := range strings.SplitSeq(s, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		k, ok := parseKind(name)
		if !ok || k == kindSession || k == kindServer {
			return nil, fmt.Errorf("%q is not a kind that can be sampled", name)
		}
		out[k] = true
	}
	return out, nil
}

func parseRates(s string) (map[kind]float64, error) {
	out := map[kind]float64{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, pct, ok := strings.Cut(item, "=")
		k, known := parseKind(strings.TrimSpace(name))
		if !ok || !known {
			return nil, fmt.Errorf("%q must be kind=percent", item)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || !(p > 0 && p <= 100) {
			return nil, fmt.Errorf("%q: the percent must be in (0, 100]", item)
		}
		out[k] = p / 100
	}
	return out, nil
}

func reconcileCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseReconcileFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim reconcile:", err)
		return 2
	}
	rep, err := reconcile(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim reconcile:", err)
		return 2
	}
	rep.print(stdout)
	if !rep.ok() {
		return 1
	}
	return 0
}

// kindResult is what reconciliation found for one kind.
type kindResult struct {
	kind        kind
	sent        int64
	sentFailed  int64
	stored      int64 // rows of sent ids
	found       int64 // sent ids with a row
	missing     int64
	missingFail int64
	duplicated  int64 // sent ids with more than one row
	stale       int64 // sessions, servers: row differs from the final state sent
	adjusted    float64

	// servers: keys of this run that another reporter (a second router or
	// simulator with the same server keys) sent health checks for during
	// the run, and how many such checks; their mcp_server rows merge both.
	sharedKeys, foreignChecks int64

	sampled bool
	// For a sampled kind: the healthy items sent and kept, the rate applied
	// (from the rows' adjusted_count, else assumed) and the accepted band.
	healthySent, healthyKept int64
	rate                     float64
	rateAssumed              bool
	low, high                float64
	sumChecked               bool
	problems                 []string
}

func (r *kindResult) ok() bool { return len(r.problems) == 0 }

// metricResult compares a metric total with what was sent.
type metricResult struct {
	name           string
	want, got      int64
	what           string
	problem        string
	stillReporting bool
}

type report struct {
	header  manifestHeader
	schema  string
	kinds   []kindResult
	metrics []metricResult
	waited  time.Duration
	note    string
}

func (r *report) ok() bool {
	for i := range r.kinds {
		if !r.kinds[i].ok() {
			return false
		}
	}
	for _, m := range r.metrics {
		if m.problem != "" {
			return false
		}
	}
	return true
}

// progressKey sums what is stored, to tell whether rows still arrive.
func (r *report) progressKey() string {
	var b strings.Builder
	for _, k := range r.kinds {
		fmt.Fprintf(&b, "%d/%d/%d ", k.stored, k.found, k.stale)
	}
	for _, m := range r.metrics {
		fmt.Fprintf(&b, "%d ", m.got)
	}
	return b.String()
}

func (r *report) missingSummary() string {
	var parts []string
	for _, k := range r.kinds {
		switch {
		case k.ok():
		case k.missing > 0:
			parts = append(parts, fmt.Sprintf("%s %d missing", k.kind, k.missing))
		default: // duplicates, stale or shared rows, a sample out of bounds
			parts = append(parts, fmt.Sprintf("%s: %s", k.kind, strings.Join(k.problems, "; ")))
		}
	}
	for _, m := range r.metrics {
		if m.problem != "" {
			parts = append(parts, m.name+" "+m.problem)
		}
	}
	return strings.Join(parts, ", ")
}

func (r *report) print(w io.Writer) {
	h := r.header
	fmt.Fprintf(w, "Reconciliation of %s run %s (instance %s, %s, %d routed requests at %.0f/s) against schema %s\n",
		h.Mode, h.Started.Format(time.RFC3339), h.InstanceID, h.Endpoint, h.Kinds[kindRouting.String()].Sent, h.AchievedRate, r.schema)
	fmt.Fprintf(w, "%-16s %-22s %9s %8s %9s %8s %5s %6s  %s\n", "kind", "table", "sent", "failed", "stored", "missing", "dup", "stale", "sampling / SUM(adjusted_count)")
	for _, k := range r.kinds {
		sampling := ""
		switch {
		case k.kind == kindSession || k.kind == kindServer:
			sampling = "final state compared"
		case k.sampled && k.rate < 1:
			assumed := ""
			if k.rateAssumed {
				assumed = ", assumed"
			}
			sampling = fmt.Sprintf("healthy kept %d of %d, expected %.1f..%.1f at %s%s; SUM %.0f",
				k.healthyKept, k.healthySent, k.low, k.high, percent(k.rate), assumed, k.adjusted)
			if !k.sumChecked {
				sampling += " (not judged: small sample)"
			}
		default:
			sampling = fmt.Sprintf("SUM %.0f", k.adjusted)
		}
		stale := "-"
		if k.kind == kindSession || k.kind == kindServer {
			stale = strconv.FormatInt(k.stale, 10)
		}
		verdict := "ok"
		if !k.ok() {
			verdict = "FAIL: " + strings.Join(k.problems, "; ")
		}
		fmt.Fprintf(w, "%-16s %-22s %9d %8d %9d %8d %5d %6s  %s  %s\n", k.kind, kindInfo[k.kind].table, k.sent, k.sentFailed,
			k.stored, k.missing, k.duplicated, stale, sampling, verdict)
	}
	for _, m := range r.metrics {
		verdict := "ok"
		if m.problem != "" {
			verdict = "FAIL: " + m.problem
		}
		fmt.Fprintf(w, "%-39s %9d %8s %9d %8s %5s %6s  %s  %s\n", "metric "+m.name, m.want, "", m.got, "", "", "", m.what, verdict)
	}
	if r.note != "" {
		fmt.Fprintln(w, r.note)
	}
	if r.ok() {
		fmt.Fprintln(w, "reconcile: OK: nothing lost, nothing duplicated, samples within their bounds")
	} else {
		fmt.Fprintln(w, "reconcile: FAILED:", r.missingSummary())
	}
}

func percent(p float64) string { return strconv.FormatFloat(p*100, 'g', 4, 64) + " %" }

// reconcile loads the manifest into temporary tables and compares, once
// or (with -wait) until the rows are complete or stop arriving.
func reconcile(ctx context.Context, o reconcileOptions, progress io.Writer) (*report, error) {
	conn, err := pgx.Connect(ctx, o.dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	h, err := loadManifest(ctx, conn, o.manifest)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var last string
	lastChange := start
	for {
		rep, err := compare(ctx, conn, o, h)
		if err != nil {
			return nil, err
		}
		rep.waited = time.Since(start)
		if rep.ok() || o.wait == 0 {
			return rep, nil
		}
		key := rep.progressKey()
		if key != last {
			last, lastChange = key, time.Now()
		}
		switch {
		case time.Since(start) >= o.wait:
			rep.note = fmt.Sprintf("(gave up waiting after %s)", o.wait.Round(time.Second))
			return rep, nil
		case time.Since(lastChange) >= o.settle:
			rep.note = fmt.Sprintf("(the stored counts did not change for %s; waited %s)", o.settle, rep.waited.Round(time.Second))
			return rep, nil
		}
		fmt.Fprintf(progress, "reconcile: waiting for rows (%s)\n", rep.missingSummary())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.poll):
		}
	}
}

// loadManifest copies the manifest's ids into session temporary tables.
func loadManifest(ctx context.Context, conn *pgx.Conn, path string) (manifestHeader, error) {
	_, err := conn.Exec(ctx, `
CREATE TEMP TABLE sent_span (kind "char" NOT NULL, trace_id bytea NOT NULL, span_id bytea NOT NULL, failed bool NOT NULL);
CREATE TEMP TABLE sent_event (kind "char" NOT NULL, event_id text NOT NULL, failed bool NOT NULL);
CREATE TEMP TABLE sent_session (session_id text NOT NULL, requests bigint NOT NULL, errors bigint NOT NULL, ended bool NOT NULL);
CREATE TEMP TABLE sent_server (server_key text NOT NULL, registered bool NOT NULL, health text)`)
	if err != nil {
		return manifestHeader{}, err
	}
	var h manifestHeader
	// Spans, then everything else: one COPY at a time, each fed while the
	// manifest is read, so a manifest of millions of ids stays off the heap.
	copyPass := func(table string, columns []string, keep func(kind, [][]byte) ([]any, error)) error {
		rows := make(chan []any, 1024)
		readErr := make(chan error, 1)
		readCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			var err error
			h, err = readManifest(path, func(k kind, f [][]byte) error {
				row, err := keep(k, f)
				if err != nil || row == nil {
					return err
				}
				select {
				case rows <- row:
					return nil
				case <-readCtx.Done():
					return readCtx.Err()
				}
			})
			close(rows)
			readErr <- err
		}()
		_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			row, ok := <-rows
			if !ok {
				return nil, nil
			}
			return row, nil
		}))
		cancel()
		for range rows { // let the reader finish
		}
		return errors.Join(<-readErr, err)
	}
	var sessions, servers [][]any
	if err := copyPass("sent_span", []string{"kind", "trace_id", "span_id", "failed"}, func(k kind, f [][]byte) ([]any, error) {
		if k != kindRouting && k != kindToolCall {
			return nil, nil
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("%s record needs 3 fields", k)
		}
		tid, err1 := hex.DecodeString(string(f[0]))
		sid, err2 := hex.DecodeString(string(f[1]))
		if err := errors.Join(err1, err2); err != nil || len(tid) != 16 || len(sid) != 8 {
			return nil, fmt.Errorf("bad span ids %q %q", f[0], f[1])
		}
		return []any{kindInfo[k].code, tid, sid, string(f[2]) == "1"}, nil
	}); err != nil {
		return h, fmt.Errorf("load spans of %s: %w", path, err)
	}
	if err := copyPass("sent_event", []string{"kind", "event_id", "failed"}, func(k kind, f [][]byte) ([]any, error) {
		switch k {
		case kindRouting, kindToolCall:
			return nil, nil
		case kindSession:
			if len(f) != 4 {
				return nil, errors.New("session record needs 4 fields")
			}
			req, err1 := strconv.ParseInt(string(f[1]), 10, 64)
			errs, err2 := strconv.ParseInt(string(f[2]), 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			sessions = append(sessions, []any{string(f[0]), req, errs, string(f[3]) == "1"})
			return nil, nil
		case kindServer:
			if len(f) != 3 {
				return nil, errors.New("server record needs 3 fields")
			}
			servers = append(servers, []any{string(f[0]), string(f[1]) == "1", string(f[2])})
			return nil, nil
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s record needs 2 fields", k)
		}
		return []any{kindInfo[k].code, string(f[0]), string(f[1]) == "1"}, nil
	}); err != nil {
		return h, fmt.Errorf("load events of %s: %w", path, err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"sent_session"}, []string{"session_id", "requests", "errors", "ended"},
		pgx.CopyFromRows(sessions)); err != nil {
		return h, err
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"sent_server"}, []string{"server_key", "registered", "health"},
		pgx.CopyFromRows(servers)); err != nil {
		return h, err
	}
	_, err = conn.Exec(ctx, "ANALYZE sent_span; ANALYZE sent_event; ANALYZE sent_session; ANALYZE sent_server")
	return h, err
}

// compare runs every check once.
func compare(ctx context.Context, conn *pgx.Conn, o reconcileOptions, h manifestHeader) (*report, error) {
	rep := &report{header: h, schema: o.schema}
	from, to := h.FirstEvent, h.LastEvent
	for _, k := range checkedKinds {
		var res kindResult
		var err error
		switch k {
		case kindSession:
			res, err = compareSessions(ctx, conn, o.schema)
		case kindServer:
			res, err = compareServers(ctx, conn, o.schema, h)
		default:
			res, err = compareIDs(ctx, conn, o, k, from, to)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kindInfo[k].table, err)
		}
		if sent := h.Kinds[k.String()].Sent; sent != res.sent {
			res.problems = append(res.problems, fmt.Sprintf("the manifest lists %d ids, its header says %d were sent", res.sent, sent))
		}
		rep.kinds = append(rep.kinds, res)
	}
	names := make([]string, 0, len(h.Metrics))
	for name := range h.Metrics {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m, err := compareMetric(ctx, conn, o.schema, h, name)
		if err != nil {
			return nil, fmt.Errorf("metric_point: %w", err)
		}
		rep.metrics = append(rep.metrics, m)
	}
	return rep, nil
}

// compareIDs anti-joins the kind's ids with its table.
func compareIDs(ctx context.Context, conn *pgx.Conn, o reconcileOptions, k kind, from, to time.Time) (kindResult, error) {
	res := kindResult{kind: k, sampled: o.sampled[k]}
	table := pgx.Identifier{o.schema, kindInfo[k].table}.Sanitize()
	var perID string
	if k == kindRouting || k == kindToolCall {
		perID = `SELECT s.failed, count(r.ts) AS n, coalesce(sum(r.adjusted_count), 0) AS adj
  FROM sent_span s LEFT JOIN ` + table + ` r ON r.trace_id = s.trace_id AND r.span_id = s.span_id AND r.ts BETWEEN $2 AND $3
 WHERE s.kind = $1 GROUP BY s.trace_id, s.span_id, s.failed`
	} else {
		perID = `SELECT s.failed, count(r.ts) AS n, coalesce(sum(r.adjusted_count), 0) AS adj
  FROM sent_event s LEFT JOIN ` + table + ` r ON r.event_id = s.event_id AND r.ts BETWEEN $2 AND $3
 WHERE s.kind = $1 GROUP BY s.event_id, s.failed`
	}
	rows, err := conn.Query(ctx, `SELECT failed, count(*), count(*) FILTER (WHERE n = 0), count(*) FILTER (WHERE n > 1),
       coalesce(sum(n), 0)::bigint, coalesce(sum(adj), 0)::float8, count(*) FILTER (WHERE n > 0)
  FROM (`+perID+`) per_id GROUP BY failed`, kindInfo[k].code, from, to)
	if err != nil {
		return res, err
	}
	for rows.Next() {
		var failed bool
		var sent, missing, dup, stored, found int64
		var adj float64
		if err := rows.Scan(&failed, &sent, &missing, &dup, &stored, &adj, &found); err != nil {
			return res, err
		}
		res.sent += sent
		res.missing += missing
		res.duplicated += dup
		res.stored += stored
		res.found += found
		res.adjusted += adj
		if failed {
			res.sentFailed, res.missingFail = sent, missing
		} else {
			res.healthySent, res.healthyKept = sent, found
		}
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	if res.duplicated > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d ids stored more than once", res.duplicated))
	}
	if !res.sampled {
		res.rate = 1
		if res.missing > 0 {
			res.problems = append(res.problems, fmt.Sprintf("%d missing", res.missing))
		}
		return res, nil
	}
	if res.missingFail > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d failures missing (a sampler keeps every failure)", res.missingFail))
	}
	// The rate the sampler applied: the inverse of the most common
	// adjusted_count of the kept healthy rows.
	var adjusted *float64
	err = conn.QueryRow(ctx, `SELECT r.adjusted_count FROM sent_event s JOIN `+table+` r ON r.event_id = s.event_id AND r.ts BETWEEN $2 AND $3
 WHERE s.kind = $1 AND NOT s.failed GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`, kindInfo[k].code, from, to).Scan(&adjusted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		res.rate, res.rateAssumed = o.rates[k], true
	case err != nil:
		return res, err
	case *adjusted <= 1:
		res.rate = 1
	default:
		res.rate = 1 / *adjusted
	}
	if res.rate >= 1 {
		if res.missing > 0 {
			res.problems = append(res.problems, fmt.Sprintf("%d missing (the stored rows are unsampled)", res.missing))
		}
		return res, nil
	}
	n, p := float64(res.healthySent), res.rate
	sigma := math.Sqrt(n * p * (1 - p))
	res.low, res.high = math.Max(0, n*p-o.sigmas*sigma), n*p+o.sigmas*sigma
	if kept := float64(res.healthyKept); kept < math.Floor(res.low) || kept > math.Ceil(res.high) {
		res.problems = append(res.problems, fmt.Sprintf("%d healthy kept, outside %.1f..%.1f", res.healthyKept, res.low, res.high))
	}
	// When o.sigmas standard deviations are within the tolerance, the sum
	// of the adjusted counts must estimate what was sent that well.
	if n*p > 0 && o.sigmas*math.Sqrt((1-p)/(n*p)) <= o.sumTolerance {
		res.sumChecked = true
		if rel := math.Abs(res.adjusted-float64(res.sent)) / float64(res.sent); rel > o.sumTolerance {
			res.problems = append(res.problems, fmt.Sprintf("SUM(adjusted_count) %.0f is %.1f %% off the %d sent", res.adjusted, rel*100, res.sent))
		}
	}
	return res, nil
}

func compareSessions(ctx context.Context, conn *pgx.Conn, schema string) (kindResult, error) {
	res := kindResult{kind: kindSession}
	err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE r.session_id IS NULL), count(r.session_id),
       count(*) FILTER (WHERE r.session_id IS NOT NULL AND (r.request_count IS DISTINCT FROM s.requests
           OR r.error_count IS DISTINCT FROM s.errors OR (s.ended AND r.ended_at IS NULL)))
  FROM sent_session s LEFT JOIN `+pgx.Identifier{schema, "session_record"}.Sanitize()+` r USING (session_id)`).
		Scan(&res.sent, &res.missing, &res.stored, &res.stale)
	res.found = res.stored
	res.judgeState()
	return res, err
}

// compareServers compares each upstream's mcp_server row with its final
// state. mcp_server has one row per server key, whoever reports it: when
// another router (or a second simulator without its own -server-prefix)
// reported the same keys during the run, the rows merge both and cannot be
// judged against this manifest, which is then a failure of its own. Such a
// reporter shows as health checks of this run's keys, within its time, that
// the manifest does not list.
func compareServers(ctx context.Context, conn *pgx.Conn, schema string, h manifestHeader) (kindResult, error) {
	res := kindResult{kind: kindServer}
	err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE r.server_key IS NULL), count(r.server_key),
       count(*) FILTER (WHERE r.server_key IS NOT NULL AND (r.registered IS DISTINCT FROM s.registered
           OR r.health_status IS DISTINCT FROM s.health))
  FROM sent_server s LEFT JOIN `+pgx.Identifier{schema, "mcp_server"}.Sanitize()+` r USING (server_key)`).
		Scan(&res.sent, &res.missing, &res.stored, &res.stale)
	if err != nil {
		return res, err
	}
	res.found = res.stored
	if from, to := h.Started, cmpOrTime(h.Ended, h.LastEvent); !from.IsZero() && !to.IsZero() {
		err = conn.QueryRow(ctx, `SELECT count(DISTINCT r.server_key), count(*)
  FROM `+pgx.Identifier{schema, kindInfo[kindHealthCheck].table}.Sanitize()+` r
 WHERE r.ts BETWEEN $1 AND $2 AND r.server_key IN (SELECT server_key FROM sent_server)
   AND NOT EXISTS (SELECT 1 FROM sent_event s WHERE s.kind = $3 AND s.event_id = r.event_id)`,
			from, to, kindInfo[kindHealthCheck].code).Scan(&res.sharedKeys, &res.foreignChecks)
		if err != nil {
			return res, err
		}
	}
	res.judgeState()
	if res.sharedKeys > 0 {
		res.problems = append(res.problems, fmt.Sprintf("server keys also reported by another router during the run: %d (%d health checks not in this manifest); "+
			"their rows are not this run's alone (give each simulator its own -server-prefix)", res.sharedKeys, res.foreignChecks))
	}
	return res, nil
}

func cmpOrTime(a, b time.Time) time.Time {
	if !a.IsZero() {
		return a
	}
	return b
}

// judgeState judges an upsert table: every key present, in its final state.
func (r *kindResult) judgeState() {
	if r.missing > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d missing", r.missing))
	}
	if r.stale > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d not in their final state (an event was lost)", r.stale))
	}
}

// compareMetric checks a histogram's count summed over its series (the
// last cumulative point of each) or the pool gauge's number of series.
func compareMetric(ctx context.Context, conn *pgx.Conn, schema string, h manifestHeader, name string) (metricResult, error) {
	m := metricResult{name: name, want: h.Metrics[name]}
	table := pgx.Identifier{schema, "metric_point"}.Sanitize()
	var err error
	if name == mcpconv.MetricPoolConnections {
		m.what = "series (server x state)"
		err = conn.QueryRow(ctx, `SELECT count(DISTINCT series_id) FROM `+table+`
 WHERE metric_name = $1 AND service_instance = $2 AND ts BETWEEN $3 AND $4`, name, h.InstanceID, h.FirstEvent, h.LastEvent).Scan(&m.got)
	} else {
		m.what = "count, summed over series"
		err = conn.QueryRow(ctx, `SELECT coalesce(sum(c), 0)::bigint FROM (SELECT max(count) AS c FROM `+table+`
 WHERE metric_name = $1 AND service_instance = $2 AND ts BETWEEN $3 AND $4 GROUP BY series_id) per_series`,
			name, h.InstanceID, h.FirstEvent, h.LastEvent).Scan(&m.got)
	}
	if err != nil {
		return m, err
	}
	if m.got != m.want {
		m.problem = fmt.Sprintf("%d stored, %d expected", m.got, m.want)
	}
	return m, nil
}
