// Package reconcile compares what a simulated router run sent (its
// manifest, internal/simmanifest) with what the tables hold: it copies the
// ids into temporary tables and anti-joins them with the tables of the
// schema, per kind (sent, stored, missing, duplicated), checks samples
// against the rate the sampler applied, the upserted sessions and
// upstreams against their final state, and the metric totals. `mcprouter-sim
// reconcile` prints its Report; tests call Run directly.
package reconcile

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Options say what to reconcile and how strictly. The zero value of a
// field means its default, except Sampled: no kind sampled (exact).
type Options struct {
	// Manifest is the file `mcprouter-sim run -manifest` wrote (required).
	Manifest string
	// DSN connects to PostgreSQL (required); Schema holds the tables
	// (default mcp).
	DSN, Schema string
	// Sampled are the kinds a sampler may thin out (failures excepted);
	// none (exact: every id must be stored once) by default.
	Sampled map[simmanifest.Kind]bool
	// Rates are the kept shares assumed for a sampled kind whose stored
	// rows do not tell (none of its healthy items was kept); default
	// DefaultRates.
	Rates map[simmanifest.Kind]float64
	// Sigmas is the width of the accepted band of a sample, in binomial
	// standard deviations (default 5).
	Sigmas float64
	// SumTolerance bounds |SUM(adjusted_count) - sent| / sent once the
	// sample is large enough for that to be meaningful (default 0.05).
	SumTolerance float64
	// Wait, when positive, polls until nothing is missing, the stored
	// counts did not change for Settle (default 10 s), or Wait passed;
	// every Poll (default 1 s).
	Wait, Settle, Poll time.Duration
}

// DefaultSampled are the kinds the mcpsampler processor samples, and
// DefaultRates its defaults (docs/design.md): every failure, 10 % of the
// healthy health checks, 1 % of the LB decisions.
const (
	DefaultSampled = "health_check,lb_decision"
	DefaultRates   = "health_check=10,lb_decision=1"
)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// withDefaults fills the zero fields and checks the result.
func (o Options) withDefaults() (Options, error) {
	if o.Schema == "" {
		o.Schema = "mcp"
	}
	if o.Rates == nil {
		o.Rates, _ = ParseRates(DefaultRates)
	}
	if o.Sigmas == 0 {
		o.Sigmas = 5
	}
	if o.SumTolerance == 0 {
		o.SumTolerance = 0.05
	}
	if o.Settle == 0 {
		o.Settle = 10 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	return o, o.Validate()
}

// Validate names every option that cannot work (zero fields are checked
// as given, not as their defaults).
func (o Options) Validate() error {
	var errs []error
	if o.Manifest == "" {
		errs = append(errs, errors.New("manifest: required"))
	}
	if !schemaName.MatchString(o.Schema) {
		errs = append(errs, fmt.Errorf("schema: %q must be a lower-case SQL identifier", o.Schema))
	}
	for _, k := range CheckedKinds {
		if o.Sampled[k] {
			if _, ok := o.Rates[k]; !ok {
				errs = append(errs, fmt.Errorf("rates: no rate for the sampled kind %s", k))
			}
		}
	}
	if o.Sigmas <= 0 || o.SumTolerance <= 0 || o.Wait < 0 || o.Settle <= 0 || o.Poll <= 0 {
		errs = append(errs, errors.New("sigmas, sum-tolerance, settle and poll must be positive, wait not negative"))
	}
	return errors.Join(errs...)
}

// CheckedKinds are the kinds whose ids the manifest lists, in report order.
var CheckedKinds = []simmanifest.Kind{simmanifest.KindRouting, simmanifest.KindToolCall, simmanifest.KindError,
	simmanifest.KindHealthCheck, simmanifest.KindLBDecision, simmanifest.KindBreaker, simmanifest.KindSession, simmanifest.KindServer}

func parseKind(name string) (simmanifest.Kind, bool) {
	for _, k := range CheckedKinds {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// ParseKindSet parses a comma-separated list of kinds that may be sampled
// (health_check,lb_decision).
func ParseKindSet(s string) (map[simmanifest.Kind]bool, error) {
	out := map[simmanifest.Kind]bool{}
	for name := range strings.SplitSeq(s, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		k, ok := parseKind(name)
		if !ok || k == simmanifest.KindSession || k == simmanifest.KindServer {
			return nil, fmt.Errorf("%q is not a kind that can be sampled", name)
		}
		out[k] = true
	}
	return out, nil
}

// ParseRates parses kind=percent pairs (health_check=10,lb_decision=1).
func ParseRates(s string) (map[simmanifest.Kind]float64, error) {
	out := map[simmanifest.Kind]float64{}
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

// KindResult is what reconciliation found for one kind.
type KindResult struct {
	Kind          simmanifest.Kind
	Sent          int64
	SentFailed    int64
	Stored        int64 // rows of sent ids
	Found         int64 // sent ids with a row
	Missing       int64
	MissingFailed int64
	Duplicated    int64 // sent ids with more than one row
	Stale         int64 // sessions, servers: row differs from the final state sent
	Adjusted      float64

	// Servers: keys of this run that another reporter (a second router or
	// simulator with the same server keys) sent health checks for during
	// the run, and how many such checks; their mcp_server rows merge both.
	SharedKeys, ForeignChecks int64

	Sampled bool
	// For a sampled kind: the healthy items sent and kept, the rate applied
	// (from the rows' adjusted_count, else assumed) and the accepted band.
	HealthySent, HealthyKept int64
	Rate                     float64
	RateAssumed              bool
	Low, High                float64
	SumChecked               bool
	// Problems say what is wrong; none: the kind is OK.
	Problems []string
}

// OK is true when nothing is wrong with the kind.
func (r *KindResult) OK() bool { return len(r.Problems) == 0 }

// MetricResult compares a metric total with what was sent.
type MetricResult struct {
	Name      string
	Want, Got int64
	What      string
	Problem   string
}

// Report is the outcome of a reconciliation.
type Report struct {
	Header  simmanifest.Header
	Schema  string
	Kinds   []KindResult
	Metrics []MetricResult
	Waited  time.Duration
	// Note says why Run stopped waiting, if it did.
	Note string
}

// OK is true when nothing was lost or duplicated and the samples are
// within their bounds.
func (r *Report) OK() bool {
	for i := range r.Kinds {
		if !r.Kinds[i].OK() {
			return false
		}
	}
	for _, m := range r.Metrics {
		if m.Problem != "" {
			return false
		}
	}
	return true
}

// progressKey sums what is stored, to tell whether rows still arrive.
func (r *Report) progressKey() string {
	var b strings.Builder
	for _, k := range r.Kinds {
		fmt.Fprintf(&b, "%d/%d/%d ", k.Stored, k.Found, k.Stale)
	}
	for _, m := range r.Metrics {
		fmt.Fprintf(&b, "%d ", m.Got)
	}
	return b.String()
}

// MissingSummary lists what is wrong, per kind and metric.
func (r *Report) MissingSummary() string {
	var parts []string
	for _, k := range r.Kinds {
		switch {
		case k.OK():
		case k.Missing > 0:
			parts = append(parts, fmt.Sprintf("%s %d missing", k.Kind, k.Missing))
		default: // duplicates, stale or shared rows, a sample out of bounds
			parts = append(parts, fmt.Sprintf("%s: %s", k.Kind, strings.Join(k.Problems, "; ")))
		}
	}
	for _, m := range r.Metrics {
		if m.Problem != "" {
			parts = append(parts, m.Name+" "+m.Problem)
		}
	}
	return strings.Join(parts, ", ")
}

// Print writes the report as `mcprouter-sim reconcile` prints it.
func (r *Report) Print(w io.Writer) {
	h := r.Header
	fmt.Fprintf(w, "Reconciliation of %s run %s (instance %s, %s, %d routed requests at %.0f/s) against schema %s\n",
		h.Mode, h.Started.Format(time.RFC3339), h.InstanceID, h.Endpoint, h.Kinds[simmanifest.KindRouting.String()].Sent, h.AchievedRate, r.Schema)
	fmt.Fprintf(w, "%-16s %-22s %9s %8s %9s %8s %5s %6s  %s\n", "kind", "table", "sent", "failed", "stored", "missing", "dup", "stale", "sampling / SUM(adjusted_count)")
	for _, k := range r.Kinds {
		var sampling string
		switch {
		case k.Kind == simmanifest.KindSession || k.Kind == simmanifest.KindServer:
			sampling = "final state compared"
		case k.Sampled && k.Rate < 1:
			assumed := ""
			if k.RateAssumed {
				assumed = ", assumed"
			}
			sampling = fmt.Sprintf("healthy kept %d of %d, expected %.1f..%.1f at %s%s; SUM %.0f",
				k.HealthyKept, k.HealthySent, k.Low, k.High, percent(k.Rate), assumed, k.Adjusted)
			if !k.SumChecked {
				sampling += " (not judged: small sample)"
			}
		default:
			sampling = fmt.Sprintf("SUM %.0f", k.Adjusted)
		}
		stale := "-"
		if k.Kind == simmanifest.KindSession || k.Kind == simmanifest.KindServer {
			stale = strconv.FormatInt(k.Stale, 10)
		}
		verdict := "ok"
		if !k.OK() {
			verdict = "FAIL: " + strings.Join(k.Problems, "; ")
		}
		fmt.Fprintf(w, "%-16s %-22s %9d %8d %9d %8d %5d %6s  %s  %s\n", k.Kind, k.Kind.Table(), k.Sent, k.SentFailed,
			k.Stored, k.Missing, k.Duplicated, stale, sampling, verdict)
	}
	for _, m := range r.Metrics {
		verdict := "ok"
		if m.Problem != "" {
			verdict = "FAIL: " + m.Problem
		}
		fmt.Fprintf(w, "%-39s %9d %8s %9d %8s %5s %6s  %s  %s\n", "metric "+m.Name, m.Want, "", m.Got, "", "", "", m.What, verdict)
	}
	if r.Note != "" {
		fmt.Fprintln(w, r.Note)
	}
	if r.OK() {
		fmt.Fprintln(w, "reconcile: OK: nothing lost, nothing duplicated, samples within their bounds")
	} else {
		fmt.Fprintln(w, "reconcile: FAILED:", r.MissingSummary())
	}
}

func percent(p float64) string { return strconv.FormatFloat(p*100, 'g', 4, 64) + " %" }

// Run loads the manifest into temporary tables and compares, once or
// (with Options.Wait) until the rows are complete or stop arriving; it
// writes a line to progress whenever it waits. A Report that is not OK
// means rows lost, duplicated or out of bounds; an error, that it could
// not compare.
func Run(ctx context.Context, o Options, progress io.Writer) (*Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, o.DSN)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	h, err := loadManifest(ctx, conn, o.Manifest)
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
		rep.Waited = time.Since(start)
		if rep.OK() || o.Wait == 0 {
			return rep, nil
		}
		key := rep.progressKey()
		if key != last {
			last, lastChange = key, time.Now()
		}
		switch {
		case time.Since(start) >= o.Wait:
			rep.Note = fmt.Sprintf("(gave up waiting after %s)", o.Wait.Round(time.Second))
			return rep, nil
		case time.Since(lastChange) >= o.Settle:
			rep.Note = fmt.Sprintf("(the stored counts did not change for %s; waited %s)", o.Settle, rep.Waited.Round(time.Second))
			return rep, nil
		}
		fmt.Fprintf(progress, "reconcile: waiting for rows (%s)\n", rep.MissingSummary())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.Poll):
		}
	}
}

// loadManifest copies the manifest's ids into session temporary tables.
func loadManifest(ctx context.Context, conn *pgx.Conn, path string) (simmanifest.Header, error) {
	_, err := conn.Exec(ctx, `
CREATE TEMP TABLE sent_span (kind "char" NOT NULL, trace_id bytea NOT NULL, span_id bytea NOT NULL, failed bool NOT NULL);
CREATE TEMP TABLE sent_event (kind "char" NOT NULL, event_id text NOT NULL, failed bool NOT NULL);
CREATE TEMP TABLE sent_session (session_id text NOT NULL, requests bigint NOT NULL, errors bigint NOT NULL, ended bool NOT NULL);
CREATE TEMP TABLE sent_server (server_key text NOT NULL, registered bool NOT NULL, health text)`)
	if err != nil {
		return simmanifest.Header{}, err
	}
	var h simmanifest.Header
	// Spans, then everything else: one COPY at a time, each fed while the
	// manifest is read, so a manifest of millions of ids stays off the heap.
	copyPass := func(table string, columns []string, keep func(simmanifest.Kind, [][]byte) ([]any, error)) error {
		rows := make(chan []any, 1024)
		readErr := make(chan error, 1)
		readCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			var err error
			h, err = simmanifest.Read(path, func(k simmanifest.Kind, f [][]byte) error {
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
	if err := copyPass("sent_span", []string{"kind", "trace_id", "span_id", "failed"}, func(k simmanifest.Kind, f [][]byte) ([]any, error) {
		if k != simmanifest.KindRouting && k != simmanifest.KindToolCall {
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
		return []any{k.Code(), tid, sid, string(f[2]) == "1"}, nil
	}); err != nil {
		return h, fmt.Errorf("load spans of %s: %w", path, err)
	}
	if err := copyPass("sent_event", []string{"kind", "event_id", "failed"}, func(k simmanifest.Kind, f [][]byte) ([]any, error) {
		switch k {
		case simmanifest.KindRouting, simmanifest.KindToolCall:
			return nil, nil
		case simmanifest.KindSession:
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
		case simmanifest.KindServer:
			if len(f) != 3 {
				return nil, errors.New("server record needs 3 fields")
			}
			servers = append(servers, []any{string(f[0]), string(f[1]) == "1", string(f[2])})
			return nil, nil
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s record needs 2 fields", k)
		}
		return []any{k.Code(), string(f[0]), string(f[1]) == "1"}, nil
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
func compare(ctx context.Context, conn *pgx.Conn, o Options, h simmanifest.Header) (*Report, error) {
	rep := &Report{Header: h, Schema: o.Schema}
	from, to := h.FirstEvent, h.LastEvent
	for _, k := range CheckedKinds {
		var res KindResult
		var err error
		switch k {
		case simmanifest.KindSession:
			res, err = compareSessions(ctx, conn, o.Schema)
		case simmanifest.KindServer:
			res, err = compareServers(ctx, conn, o.Schema, h)
		default:
			res, err = compareIDs(ctx, conn, o, k, from, to)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Table(), err)
		}
		if sent := h.Kinds[k.String()].Sent; sent != res.Sent {
			res.Problems = append(res.Problems, fmt.Sprintf("the manifest lists %d ids, its header says %d were sent", res.Sent, sent))
		}
		rep.Kinds = append(rep.Kinds, res)
	}
	names := make([]string, 0, len(h.Metrics))
	for name := range h.Metrics {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m, err := compareMetric(ctx, conn, o.Schema, h, name)
		if err != nil {
			return nil, fmt.Errorf("metric_point: %w", err)
		}
		rep.Metrics = append(rep.Metrics, m)
	}
	return rep, nil
}

// compareIDs anti-joins the kind's ids with its table.
func compareIDs(ctx context.Context, conn *pgx.Conn, o Options, k simmanifest.Kind, from, to time.Time) (KindResult, error) {
	res := KindResult{Kind: k, Sampled: o.Sampled[k]}
	table := pgx.Identifier{o.Schema, k.Table()}.Sanitize()
	var perID string
	if k == simmanifest.KindRouting || k == simmanifest.KindToolCall {
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
  FROM (`+perID+`) per_id GROUP BY failed`, k.Code(), from, to)
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
		res.Sent += sent
		res.Missing += missing
		res.Duplicated += dup
		res.Stored += stored
		res.Found += found
		res.Adjusted += adj
		if failed {
			res.SentFailed, res.MissingFailed = sent, missing
		} else {
			res.HealthySent, res.HealthyKept = sent, found
		}
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	if res.Duplicated > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d ids stored more than once", res.Duplicated))
	}
	if !res.Sampled {
		res.Rate = 1
		if res.Missing > 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("%d missing", res.Missing))
		}
		return res, nil
	}
	if res.MissingFailed > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d failures missing (a sampler keeps every failure)", res.MissingFailed))
	}
	// The rate the sampler applied: the inverse of the most common
	// adjusted_count of the kept healthy rows.
	var adjusted *float64
	err = conn.QueryRow(ctx, `SELECT r.adjusted_count FROM sent_event s JOIN `+table+` r ON r.event_id = s.event_id AND r.ts BETWEEN $2 AND $3
 WHERE s.kind = $1 AND NOT s.failed GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`, k.Code(), from, to).Scan(&adjusted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		res.Rate, res.RateAssumed = o.Rates[k], true
	case err != nil:
		return res, err
	case *adjusted <= 1:
		res.Rate = 1
	default:
		res.Rate = 1 / *adjusted
	}
	if res.Rate >= 1 {
		if res.Missing > 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("%d missing (the stored rows are unsampled)", res.Missing))
		}
		return res, nil
	}
	n, p := float64(res.HealthySent), res.Rate
	sigma := math.Sqrt(n * p * (1 - p))
	res.Low, res.High = math.Max(0, n*p-o.Sigmas*sigma), n*p+o.Sigmas*sigma
	if kept := float64(res.HealthyKept); kept < math.Floor(res.Low) || kept > math.Ceil(res.High) {
		res.Problems = append(res.Problems, fmt.Sprintf("%d healthy kept, outside %.1f..%.1f", res.HealthyKept, res.Low, res.High))
	}
	// When o.Sigmas standard deviations are within the tolerance, the sum
	// of the adjusted counts must estimate what was sent that well.
	if n*p > 0 && o.Sigmas*math.Sqrt((1-p)/(n*p)) <= o.SumTolerance {
		res.SumChecked = true
		if rel := math.Abs(res.Adjusted-float64(res.Sent)) / float64(res.Sent); rel > o.SumTolerance {
			res.Problems = append(res.Problems, fmt.Sprintf("SUM(adjusted_count) %.0f is %.1f %% off the %d sent", res.Adjusted, rel*100, res.Sent))
		}
	}
	return res, nil
}

func compareSessions(ctx context.Context, conn *pgx.Conn, schema string) (KindResult, error) {
	res := KindResult{Kind: simmanifest.KindSession}
	err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE r.session_id IS NULL), count(r.session_id),
       count(*) FILTER (WHERE r.session_id IS NOT NULL AND (r.request_count IS DISTINCT FROM s.requests
           OR r.error_count IS DISTINCT FROM s.errors OR (s.ended AND r.ended_at IS NULL)))
  FROM sent_session s LEFT JOIN `+pgx.Identifier{schema, "session_record"}.Sanitize()+` r USING (session_id)`).
		Scan(&res.Sent, &res.Missing, &res.Stored, &res.Stale)
	res.Found = res.Stored
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
func compareServers(ctx context.Context, conn *pgx.Conn, schema string, h simmanifest.Header) (KindResult, error) {
	res := KindResult{Kind: simmanifest.KindServer}
	err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE r.server_key IS NULL), count(r.server_key),
       count(*) FILTER (WHERE r.server_key IS NOT NULL AND (r.registered IS DISTINCT FROM s.registered
           OR r.health_status IS DISTINCT FROM s.health))
  FROM sent_server s LEFT JOIN `+pgx.Identifier{schema, "mcp_server"}.Sanitize()+` r USING (server_key)`).
		Scan(&res.Sent, &res.Missing, &res.Stored, &res.Stale)
	if err != nil {
		return res, err
	}
	res.Found = res.Stored
	if from, to := h.Started, cmpOrTime(h.Ended, h.LastEvent); !from.IsZero() && !to.IsZero() {
		err = conn.QueryRow(ctx, `SELECT count(DISTINCT r.server_key), count(*)
  FROM `+pgx.Identifier{schema, simmanifest.KindHealthCheck.Table()}.Sanitize()+` r
 WHERE r.ts BETWEEN $1 AND $2 AND r.server_key IN (SELECT server_key FROM sent_server)
   AND NOT EXISTS (SELECT 1 FROM sent_event s WHERE s.kind = $3 AND s.event_id = r.event_id)`,
			from, to, simmanifest.KindHealthCheck.Code()).Scan(&res.SharedKeys, &res.ForeignChecks)
		if err != nil {
			return res, err
		}
	}
	res.judgeState()
	if res.SharedKeys > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("server keys also reported by another router during the run: %d (%d health checks not in this manifest); "+
			"their rows are not this run's alone (give each simulator its own -server-prefix)", res.SharedKeys, res.ForeignChecks))
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
func (r *KindResult) judgeState() {
	if r.Missing > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d missing", r.Missing))
	}
	if r.Stale > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d not in their final state (an event was lost)", r.Stale))
	}
}

// compareMetric checks a histogram's count summed over its series (the
// last cumulative point of each) or the pool gauge's number of series.
func compareMetric(ctx context.Context, conn *pgx.Conn, schema string, h simmanifest.Header, name string) (MetricResult, error) {
	m := MetricResult{Name: name, Want: h.Metrics[name]}
	table := pgx.Identifier{schema, "metric_point"}.Sanitize()
	var err error
	if name == mcpconv.MetricPoolConnections {
		m.What = "series (server x state)"
		err = conn.QueryRow(ctx, `SELECT count(DISTINCT series_id) FROM `+table+`
 WHERE metric_name = $1 AND service_instance = $2 AND ts BETWEEN $3 AND $4`, name, h.InstanceID, h.FirstEvent, h.LastEvent).Scan(&m.Got)
	} else {
		m.What = "count, summed over series"
		err = conn.QueryRow(ctx, `SELECT coalesce(sum(c), 0)::bigint FROM (SELECT max(count) AS c FROM `+table+`
 WHERE metric_name = $1 AND service_instance = $2 AND ts BETWEEN $3 AND $4 GROUP BY series_id) per_series`,
			name, h.InstanceID, h.FirstEvent, h.LastEvent).Scan(&m.Got)
	}
	if err != nil {
		return m, err
	}
	if m.Got != m.Want {
		m.Problem = fmt.Sprintf("%d stored, %d expected", m.Got, m.Want)
	}
	return m, nil
}
