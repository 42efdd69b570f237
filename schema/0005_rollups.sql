-- Per-minute rollups (issue #16): aggregates of the stored rows per minute
-- and per (server, method, tool, status class), so that dashboards read a
-- few rows per minute instead of every routed request, and so that emitters
-- that send spans only have latency distributions too.
--
-- How they stay exact (docs/queries.md, "Rollups", has the argument):
--   * A statement-level AFTER INSERT trigger on each source table appends the
--     minutes its statement inserted rows into to rollup_dirty. Its transition
--     table holds only the rows actually inserted: after ON CONFLICT DO
--     NOTHING (the exporter's dedupe path) a replayed row is not in it, and a
--     statement that fails (the fast path's COPY meeting a replay) rolls its
--     queue rows back with it. rollup_dirty has no index and no key, so
--     concurrent writers only append and never wait on each other.
--   * rollup_refresh() (called by partitionmgr every rollups::interval)
--     deletes the queued minutes that have ended (rollups::delay ago) and,
--     in the same transaction, replaces
--     those minutes' rollup rows by a GROUP BY over the raw rows. A writer
--     commits its rows and its queue rows together, so a minute whose rows
--     the refresh did not see stays queued for the next refresh.
--   * Only one refresh runs at a time (partitionmgr takes an advisory lock).
--
-- Weighted figures (requests, errors, sums, distributions) are numeric sums
-- of adjusted_count: exact, whatever the order of summation.

-- The latency distribution: log-spaced buckets, 8 per power of two. Bucket
-- b holds durations d (microseconds) with 2^(b/8) <= d < 2^((b+1)/8); d <= 1
-- falls in bucket 0. A distribution is a numeric[] whose subscripts are the
-- bucket numbers (its lower bound is its first bucket, not 1) and whose
-- elements are the summed adjusted_count of the rows in each bucket.
CREATE FUNCTION rollup_bucket(duration_us bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN duration_us IS NULL THEN NULL
            WHEN duration_us <= 1 THEN 0
            ELSE floor(ln(duration_us::double precision) * (8 / ln(2::double precision)))::integer END;

-- A distribution from parallel arrays of bucket numbers and weights.
CREATE FUNCTION rollup_hist(buckets integer[], weights numeric[]) RETURNS numeric[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    lo integer;
    hi integer;
    h numeric[];
BEGIN
    FOR i IN 1 .. coalesce(cardinality(buckets), 0) LOOP
        lo := least(lo, buckets[i]);
        hi := greatest(hi, buckets[i]);
    END LOOP;
    IF lo IS NULL THEN
        RETURN NULL;
    END IF;
    h := array_fill(0::numeric, ARRAY[hi - lo + 1], ARRAY[lo]);
    FOR i IN 1 .. cardinality(buckets) LOOP
        IF buckets[i] IS NOT NULL THEN
            h[buckets[i]] := h[buckets[i]] + weights[i];
        END IF;
    END LOOP;
    RETURN h;
END $$;

-- The sum of two distributions (the merge).
CREATE FUNCTION rollup_hist_add(a numeric[], b numeric[]) RETURNS numeric[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    lo integer := least(array_lower(a, 1), array_lower(b, 1));
    hi integer := greatest(array_upper(a, 1), array_upper(b, 1));
    h numeric[];
BEGIN
    h := array_fill(0::numeric, ARRAY[hi - lo + 1], ARRAY[lo]);
    FOR i IN array_lower(a, 1) .. array_upper(a, 1) LOOP
        h[i] := h[i] + a[i];
    END LOOP;
    FOR i IN array_lower(b, 1) .. array_upper(b, 1) LOOP
        h[i] := h[i] + b[i];
    END LOOP;
    RETURN h;
END $$;

-- Merges the distributions of many rows: rollup_hist_merge(duration_hist).
CREATE AGGREGATE rollup_hist_merge(numeric[]) (
    SFUNC = rollup_hist_add,
    STYPE = numeric[],
    COMBINEFUNC = rollup_hist_add,
    PARALLEL = SAFE
);

-- The q-quantile (0 <= q <= 1) of a distribution, in microseconds: the
-- geometric middle 2^((b+0.5)/8) of the first bucket b at which the
-- cumulative weight reaches q times the total. The row of that rank lies in
-- bucket b, so the answer is within a factor 2^(1/16) of it: a relative
-- error below 4.43% (for durations of at least 1 us). NULL when empty.
CREATE FUNCTION rollup_hist_quantile(h numeric[], q double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    total numeric := 0;
    target numeric;
    cum numeric := 0;
BEGIN
    IF q < 0 OR q > 1 THEN
        RAISE EXCEPTION 'rollup_hist_quantile: q = % is outside [0, 1]', q;
    END IF;
    FOR i IN array_lower(h, 1) .. array_upper(h, 1) LOOP
        total := total + h[i];
    END LOOP;
    IF total <= 0 THEN
        RETURN NULL;
    END IF;
    target := q::numeric * total;
    FOR i IN array_lower(h, 1) .. array_upper(h, 1) LOOP
        cum := cum + h[i];
        IF h[i] > 0 AND cum >= target THEN
            RETURN power(2::double precision, (i + 0.5) / 8.0);
        END IF;
    END LOOP;
    RETURN power(2::double precision, (array_upper(h, 1) + 0.5) / 8.0);
END $$;

-- The status class of a routed request or upstream call: ok (not failed),
-- timeout (error.type names a timeout or deadline), client_error (the
-- JSON-RPC codes of a malformed or unknown request: -32700, -32600, -32601,
-- -32602, as rpc.response.status_code or error.type), else server_error.
CREATE FUNCTION rollup_status_class(failed boolean, error_type text, rpc_status_code text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN NOT failed THEN 'ok'
    WHEN lower(error_type) LIKE '%timeout%' OR lower(error_type) LIKE '%timed_out%'
      OR lower(error_type) LIKE '%deadline%' THEN 'timeout'
    WHEN rpc_status_code IN ('-32700', '-32600', '-32601', '-32602')
      OR error_type IN ('-32700', '-32600', '-32601', '-32602') THEN 'client_error'
    ELSE 'server_error' END;

-- Minutes whose rollup rows must be recomputed. No index, no key: writers
-- append, the refresh takes everything it can see (DELETE ... RETURNING).
CREATE TABLE rollup_dirty (
    kind text        NOT NULL, -- routing, tool_call, health, session
    ts   timestamptz NOT NULL  -- the minute
);

-- Routed requests per minute. Monthly partitions (partitionmgr).
CREATE TABLE routing_rollup_1m (
    ts              timestamptz NOT NULL, -- the minute (UTC)
    server_key      text,
    method          text        NOT NULL,
    tool_name       text,
    status_class    text        NOT NULL, -- ok, client_error, server_error, timeout
    row_count       bigint      NOT NULL, -- stored rows
    requests        numeric     NOT NULL, -- sum(adjusted_count)
    errors          numeric     NOT NULL, -- sum(adjusted_count) of failed rows
    duration_us_sum numeric     NOT NULL, -- sum(duration_us * adjusted_count)
    duration_hist   numeric[]   NOT NULL  -- distribution of duration_us (rollup_bucket)
) PARTITION BY RANGE (ts);
CREATE TABLE routing_rollup_1m_default PARTITION OF routing_rollup_1m DEFAULT;
CREATE UNIQUE INDEX routing_rollup_1m_key ON routing_rollup_1m
    (ts, server_key, method, tool_name, status_class) NULLS NOT DISTINCT;

-- Upstream calls per minute; method is tools/call for rows written before
-- migration 4 (method NULL). Monthly partitions.
CREATE TABLE tool_call_rollup_1m (
    ts              timestamptz NOT NULL,
    server_key      text,
    method          text        NOT NULL,
    tool_name       text,
    status_class    text        NOT NULL,
    row_count       bigint      NOT NULL,
    calls           numeric     NOT NULL,
    errors          numeric     NOT NULL,
    duration_us_sum numeric     NOT NULL,
    duration_hist   numeric[]   NOT NULL
) PARTITION BY RANGE (ts);
CREATE TABLE tool_call_rollup_1m_default PARTITION OF tool_call_rollup_1m DEFAULT;
CREATE UNIQUE INDEX tool_call_rollup_1m_key ON tool_call_rollup_1m
    (ts, server_key, method, tool_name, status_class) NULLS NOT DISTINCT;

-- Health checks per minute and server. Monthly partitions.
CREATE TABLE health_rollup_1m (
    ts             timestamptz NOT NULL,
    server_key     text        NOT NULL,
    check_type     text,
    row_count      bigint      NOT NULL,
    checks         numeric     NOT NULL, -- sum(adjusted_count)
    unhealthy      numeric     NOT NULL, -- sum(adjusted_count) of NOT healthy
    latency_count  numeric     NOT NULL, -- sum(adjusted_count) of rows with a latency
    latency_us_sum numeric     NOT NULL,
    latency_hist   numeric[]             -- NULL when no row had a latency
) PARTITION BY RANGE (ts);
CREATE TABLE health_rollup_1m_default PARTITION OF health_rollup_1m DEFAULT;
CREATE UNIQUE INDEX health_rollup_1m_key ON health_rollup_1m (ts, server_key, check_type) NULLS NOT DISTINCT;

-- Sessions started and ended per minute (session_record is one row per
-- session, upserted; sessions are not sampled). Monthly partitions.
CREATE TABLE session_rollup_1m (
    ts                timestamptz NOT NULL,
    server_key        text,
    transport         text,
    started           bigint      NOT NULL, -- sessions whose started_at is in the minute
    ended             bigint      NOT NULL, -- sessions whose ended_at is in the minute
    ended_seconds_sum numeric     NOT NULL  -- their ended_at - started_at, when both are known
) PARTITION BY RANGE (ts);
CREATE TABLE session_rollup_1m_default PARTITION OF session_rollup_1m DEFAULT;
CREATE UNIQUE INDEX session_rollup_1m_key ON session_rollup_1m (ts, server_key, transport) NULLS NOT DISTINCT;
CREATE INDEX session_record_started_at_idx ON session_record (started_at);
CREATE INDEX session_record_ended_at_idx ON session_record (ended_at);

-- The triggers. SET search_path FROM CURRENT pins this schema: writers
-- qualify the tables they write, not the ones the trigger writes.
CREATE FUNCTION rollup_mark_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO rollup_dirty (kind, ts)
    SELECT DISTINCT TG_ARGV[0], date_trunc('minute', ts, 'UTC') FROM inserted;
    RETURN NULL;
END $$;

CREATE TRIGGER routing_log_rollup AFTER INSERT ON routing_log
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_inserted('routing');
CREATE TRIGGER tool_call_record_rollup AFTER INSERT ON tool_call_record
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_inserted('tool_call');
CREATE TRIGGER health_check_record_rollup AFTER INSERT ON health_check_record
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_inserted('health');

-- A session counts in the minutes of its started_at and ended_at; an upsert
-- that moves either, or changes the server or transport, dirties the old and
-- the new minutes. (A trigger with transition tables has one event.)
CREATE FUNCTION rollup_mark_sessions_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO rollup_dirty (kind, ts)
    SELECT DISTINCT 'session', date_trunc('minute', m, 'UTC')
    FROM inserted, LATERAL (VALUES (started_at), (ended_at)) AS v(m) WHERE m IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION rollup_mark_sessions_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO rollup_dirty (kind, ts)
    SELECT DISTINCT 'session', date_trunc('minute', m, 'UTC')
    FROM updated n JOIN previous o USING (session_id),
         LATERAL (VALUES (o.started_at), (o.ended_at), (n.started_at), (n.ended_at)) AS v(m)
    WHERE m IS NOT NULL AND (n.started_at, n.ended_at, n.server_key, n.transport)
        IS DISTINCT FROM (o.started_at, o.ended_at, o.server_key, o.transport);
    RETURN NULL;
END $$;

CREATE TRIGGER session_record_rollup_insert AFTER INSERT ON session_record
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_sessions_inserted();
CREATE TRIGGER session_record_rollup_update AFTER UPDATE ON session_record
    REFERENCING OLD TABLE AS previous NEW TABLE AS updated FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_sessions_updated();

-- The queued minutes as maximal runs of consecutive minutes [lo, hi): the
-- refresh scans each run of raw rows once.
CREATE FUNCTION rollup_ranges(minutes timestamptz[]) RETURNS TABLE (lo timestamptz, hi timestamptz)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT min(m), max(m) + interval '1 minute'
    FROM (SELECT m, m - row_number() OVER (ORDER BY m) * interval '1 minute' AS run
          FROM unnest(minutes) AS m) x
    GROUP BY run
$$;

-- Takes every queued minute that ended by ended_by (NULL: every one) and
-- recomputes it; a minute still filling stays queued, so that each row is
-- read about once, when its minute is complete. Minutes before a table's
-- *_since bound (NULL: none) are taken off the queue but left as they are:
-- retention may already have removed their raw rows (partitionmgr passes the
-- start of the period its retention cuts at). Returns, per kind, the minutes
-- recomputed and the minutes left frozen. The caller holds the refresh lock.
CREATE FUNCTION rollup_refresh(routing_since timestamptz, tool_call_since timestamptz, health_since timestamptz,
                               ended_by timestamptz)
RETURNS TABLE (kind text, refreshed bigint, frozen bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    routing_all       timestamptz[];
    tool_call_all     timestamptz[];
    health_all        timestamptz[];
    routing_minutes   timestamptz[];
    tool_call_minutes timestamptz[];
    health_minutes    timestamptz[];
    session_minutes   timestamptz[];
BEGIN
    WITH taken AS (DELETE FROM rollup_dirty d WHERE ended_by IS NULL OR d.ts + interval '1 minute' <= ended_by
                   RETURNING d.kind AS k, d.ts AS m)
    SELECT array_agg(DISTINCT m) FILTER (WHERE k = 'routing'),
           array_agg(DISTINCT m) FILTER (WHERE k = 'tool_call'),
           array_agg(DISTINCT m) FILTER (WHERE k = 'health'),
           array_agg(DISTINCT m) FILTER (WHERE k = 'session')
    INTO routing_all, tool_call_all, health_all, session_minutes FROM taken;

    routing_minutes := ARRAY(SELECT m FROM unnest(routing_all) AS m WHERE routing_since IS NULL OR m >= routing_since);
    tool_call_minutes := ARRAY(SELECT m FROM unnest(tool_call_all) AS m WHERE tool_call_since IS NULL OR m >= tool_call_since);
    health_minutes := ARRAY(SELECT m FROM unnest(health_all) AS m WHERE health_since IS NULL OR m >= health_since);

    RETURN QUERY VALUES
        ('health', cardinality(health_minutes)::bigint, (coalesce(cardinality(health_all), 0) - cardinality(health_minutes))::bigint),
        ('routing', cardinality(routing_minutes)::bigint, (coalesce(cardinality(routing_all), 0) - cardinality(routing_minutes))::bigint),
        ('session', coalesce(cardinality(session_minutes), 0)::bigint, 0::bigint),
        ('tool_call', cardinality(tool_call_minutes)::bigint, (coalesce(cardinality(tool_call_all), 0) - cardinality(tool_call_minutes))::bigint);

    IF cardinality(routing_minutes) > 0 THEN
        DELETE FROM routing_rollup_1m r WHERE r.ts = ANY (routing_minutes);
        INSERT INTO routing_rollup_1m
        SELECT a.minute, a.server_key, a.method, a.tool_name, a.status_class, sum(a.n),
               sum(a.n * a.adjusted_count::numeric),
               CASE WHEN a.status_class = 'ok' THEN 0 ELSE sum(a.n * a.adjusted_count::numeric) END,
               sum(a.d * a.adjusted_count::numeric),
               rollup_hist(array_agg(a.bucket), array_agg(a.n * a.adjusted_count::numeric))
        -- grouped by adjusted_count first: it is converted to numeric once per
        -- distinct value and group, not once per row
        FROM (SELECT date_trunc('minute', r.ts, 'UTC') AS minute, r.server_key, r.method AS method, r.tool_name,
                     rollup_status_class(r.failed, r.error_type, r.rpc_status_code) AS status_class,
                     rollup_bucket(r.duration_us) AS bucket, r.adjusted_count,
                     count(*) AS n, sum(r.duration_us) AS d
              FROM rollup_ranges(routing_minutes) AS m
              JOIN routing_log r ON r.ts >= m.lo AND r.ts < m.hi
              GROUP BY 1, 2, 3, 4, 5, 6, 7) a
        GROUP BY 1, 2, 3, 4, 5;
    END IF;

    IF cardinality(tool_call_minutes) > 0 THEN
        DELETE FROM tool_call_rollup_1m r WHERE r.ts = ANY (tool_call_minutes);
        INSERT INTO tool_call_rollup_1m
        SELECT a.minute, a.server_key, a.method, a.tool_name, a.status_class, sum(a.n),
               sum(a.n * a.adjusted_count::numeric),
               CASE WHEN a.status_class = 'ok' THEN 0 ELSE sum(a.n * a.adjusted_count::numeric) END,
               sum(a.d * a.adjusted_count::numeric),
               rollup_hist(array_agg(a.bucket), array_agg(a.n * a.adjusted_count::numeric))
        -- grouped by adjusted_count first: it is converted to numeric once per
        -- distinct value and group, not once per row
        FROM (SELECT date_trunc('minute', c.ts, 'UTC') AS minute, c.server_key, coalesce(c.method, 'tools/call') AS method, c.tool_name,
                     rollup_status_class(c.failed, c.error_type, c.rpc_status_code) AS status_class,
                     rollup_bucket(c.duration_us) AS bucket, c.adjusted_count,
                     count(*) AS n, sum(c.duration_us) AS d
              FROM rollup_ranges(tool_call_minutes) AS m
              JOIN tool_call_record c ON c.ts >= m.lo AND c.ts < m.hi
              GROUP BY 1, 2, 3, 4, 5, 6, 7) a
        GROUP BY 1, 2, 3, 4, 5;
    END IF;

    IF cardinality(health_minutes) > 0 THEN
        DELETE FROM health_rollup_1m r WHERE r.ts = ANY (health_minutes);
        INSERT INTO health_rollup_1m
        SELECT a.minute, a.server_key, a.check_type, sum(a.n), sum(a.n * a.adjusted_count::numeric),
               sum(a.nu * a.adjusted_count::numeric), sum(a.nl * a.adjusted_count::numeric),
               sum(a.l * a.adjusted_count::numeric),
               rollup_hist(array_agg(a.bucket), array_agg(a.nl * a.adjusted_count::numeric))
        FROM (SELECT date_trunc('minute', h.ts, 'UTC') AS minute, h.server_key, h.check_type,
                     rollup_bucket(h.latency_us) AS bucket, h.adjusted_count,
                     count(*) AS n, count(*) FILTER (WHERE NOT h.healthy) AS nu,
                     count(h.latency_us) AS nl, coalesce(sum(h.latency_us), 0) AS l
              FROM rollup_ranges(health_minutes) AS m
              JOIN health_check_record h ON h.ts >= m.lo AND h.ts < m.hi
              GROUP BY 1, 2, 3, 4, 5) a
        GROUP BY 1, 2, 3;
    END IF;

    IF session_minutes IS NOT NULL THEN
        DELETE FROM session_rollup_1m r WHERE r.ts = ANY (session_minutes);
        INSERT INTO session_rollup_1m
        SELECT e.minute, e.server_key, e.transport, sum(e.started), sum(e.ended), sum(e.secs)
        FROM (SELECT date_trunc('minute', s.started_at, 'UTC') AS minute, s.server_key, s.transport,
                     1 AS started, 0 AS ended, 0::numeric AS secs
              FROM rollup_ranges(session_minutes) AS m
              JOIN session_record s ON s.started_at >= m.lo AND s.started_at < m.hi
              UNION ALL
              SELECT date_trunc('minute', s.ended_at, 'UTC'), s.server_key, s.transport, 0, 1,
                     coalesce(extract(epoch FROM s.ended_at - s.started_at), 0)
              FROM rollup_ranges(session_minutes) AS m
              JOIN session_record s ON s.ended_at >= m.lo AND s.ended_at < m.hi) e
        GROUP BY 1, 2, 3;
    END IF;
END $$;

-- Per-minute figures for dashboards, from the rollups. Quantiles in
-- milliseconds (within 4.43%); rates per second over the minute.
CREATE VIEW routing_minute_by_server AS
SELECT ts, server_key,
       sum(requests) / 60 AS tps,
       sum(errors) / nullif(sum(requests), 0) AS error_rate,
       sum(duration_us_sum) / nullif(sum(requests), 0) / 1000 AS avg_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.5) / 1000 AS p50_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.95) / 1000 AS p95_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.99) / 1000 AS p99_ms,
       sum(requests) AS requests, sum(errors) AS errors
FROM routing_rollup_1m GROUP BY ts, server_key;

CREATE VIEW routing_minute_by_method AS
SELECT ts, method,
       sum(requests) / 60 AS tps,
       sum(errors) / nullif(sum(requests), 0) AS error_rate,
       sum(duration_us_sum) / nullif(sum(requests), 0) / 1000 AS avg_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.5) / 1000 AS p50_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.95) / 1000 AS p95_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.99) / 1000 AS p99_ms,
       sum(requests) AS requests, sum(errors) AS errors
FROM routing_rollup_1m GROUP BY ts, method;

CREATE VIEW routing_minute_by_tool AS
SELECT ts, tool_name,
       sum(requests) / 60 AS tps,
       sum(errors) / nullif(sum(requests), 0) AS error_rate,
       sum(duration_us_sum) / nullif(sum(requests), 0) / 1000 AS avg_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.5) / 1000 AS p50_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.95) / 1000 AS p95_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.99) / 1000 AS p99_ms,
       sum(requests) AS requests, sum(errors) AS errors
FROM routing_rollup_1m WHERE tool_name IS NOT NULL GROUP BY ts, tool_name;

CREATE VIEW tool_call_minute_by_server AS
SELECT ts, server_key, method, tool_name,
       sum(calls) / 60 AS calls_per_second,
       sum(errors) / nullif(sum(calls), 0) AS error_rate,
       sum(errors) FILTER (WHERE status_class = 'timeout') / nullif(sum(calls), 0) AS timeout_rate,
       sum(duration_us_sum) / nullif(sum(calls), 0) / 1000 AS avg_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.5) / 1000 AS p50_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.95) / 1000 AS p95_ms,
       rollup_hist_quantile(rollup_hist_merge(duration_hist), 0.99) / 1000 AS p99_ms,
       sum(calls) AS calls, sum(errors) AS errors
FROM tool_call_rollup_1m GROUP BY ts, server_key, method, tool_name;

CREATE VIEW health_minute_by_server AS
SELECT ts, server_key,
       sum(checks) AS checks, sum(unhealthy) AS unhealthy,
       sum(unhealthy) / nullif(sum(checks), 0) AS unhealthy_ratio,
       sum(latency_us_sum) / nullif(sum(latency_count), 0) / 1000 AS avg_latency_ms,
       rollup_hist_quantile(rollup_hist_merge(latency_hist), 0.95) / 1000 AS p95_latency_ms
FROM health_rollup_1m GROUP BY ts, server_key;
