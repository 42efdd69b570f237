-- Per-minute router statistics computed from the MCP operation-duration
-- histograms (mcp.server.operation.duration, mcp.client.operation.duration)
-- and the connection-pool gauge (mcp.router.pool.connections).
--
-- Histogram points are stored as sent: delta points count one interval,
-- cumulative points count everything since start_ts. histogram_deltas turns
-- both into per-interval deltas: a cumulative point minus the previous point
-- of its series, or the whole point when the series restarted (start_ts
-- changed or the count went down: a counter reset) or began inside the
-- window. A series whose history before the window is unknown contributes
-- from its second point on. Functions take the time range so that queries
-- read only the partitions they need; the *_minute views apply them to all
-- data, for ad-hoc use on small tables.

-- a - b, element by element (b may be shorter).
CREATE FUNCTION bucket_counts_sub(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(x - COALESCE(b[i], 0) ORDER BY i) FROM unnest(a) WITH ORDINALITY AS u(x, i)
$$;

-- a + b, element by element; NULL counts as empty.
CREATE FUNCTION bucket_counts_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE (
        SELECT array_agg(COALESCE(a[i], 0) + COALESCE(b[i], 0) ORDER BY i)
        FROM generate_series(1, GREATEST(cardinality(a), cardinality(b))) AS i) END
$$;

CREATE AGGREGATE bucket_counts_sum(bigint[]) (SFUNC = bucket_counts_add, STYPE = bigint[], PARALLEL = SAFE);

-- The q-quantile of an explicit-bucket histogram, interpolating linearly
-- inside the bucket that holds it (as Prometheus' histogram_quantile does);
-- the first bucket starts at 0, a quantile in the overflow bucket is the
-- largest bound.
CREATE FUNCTION histogram_quantile(q double precision, bounds double precision[], counts bigint[])
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    total    numeric := 0;
    rank     numeric;
    cum      numeric := 0;
    prev_cum numeric;
    lower    double precision;
    upper    double precision;
    n        int := cardinality(counts);
BEGIN
    IF n IS NULL OR n = 0 THEN
        RETURN NULL;
    END IF;
    SELECT sum(c) INTO total FROM unnest(counts) AS c;
    IF total IS NULL OR total <= 0 THEN
        RETURN NULL;
    END IF;
    rank := q * total;
    FOR i IN 1..n LOOP
        prev_cum := cum;
        cum := cum + counts[i];
        IF counts[i] > 0 AND cum >= rank THEN
            IF i > cardinality(bounds) THEN
                RETURN bounds[cardinality(bounds)];
            END IF;
            upper := bounds[i];
            lower := CASE WHEN i = 1 THEN LEAST(0, upper) ELSE bounds[i - 1] END;
            RETURN lower + (upper - lower) * ((rank - prev_cum) / counts[i])::double precision;
        END IF;
    END LOOP;
    RETURN bounds[cardinality(bounds)];
END
$$;

-- Per-interval deltas of every histogram point with ts in (from_ts, to_ts].
-- lookback is how far before from_ts a previous point is looked for.
CREATE FUNCTION histogram_deltas(from_ts timestamptz, to_ts timestamptz, lookback interval DEFAULT '1 hour')
RETURNS TABLE (
    ts            timestamptz,
    metric_name   text,
    series_id     bigint,
    server_key    text,
    tool_name     text,
    method        text,
    service_name  text,
    attributes    jsonb,
    bucket_bounds double precision[],
    delta_count   bigint,
    delta_sum     double precision,
    delta_buckets bigint[]
)
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    WITH ordered AS (
        SELECT p.*,
               lag(p.count) OVER w         AS prev_count,
               lag(p.sum) OVER w           AS prev_sum,
               lag(p.bucket_counts) OVER w AS prev_buckets,
               lag(p.start_ts) OVER w      AS prev_start
        FROM metric_point p
        WHERE p.metric_type = 'histogram' AND p.ts > from_ts - lookback AND p.ts <= to_ts
        WINDOW w AS (PARTITION BY p.metric_name, p.series_id ORDER BY p.ts)
    ), classified AS (
        SELECT o.*,
               CASE
                   WHEN o.temporality = 'delta' THEN 'whole'
                   WHEN o.prev_count IS NULL THEN
                       CASE WHEN o.start_ts > from_ts - lookback THEN 'whole' ELSE 'unknown' END
                   WHEN o.start_ts IS DISTINCT FROM o.prev_start OR o.count < o.prev_count THEN 'whole'
                   ELSE 'diff'
               END AS how
        FROM ordered o
    )
    SELECT c.ts, c.metric_name, c.series_id, c.server_key, c.tool_name, c.method, c.service_name,
           c.attributes, c.bucket_bounds,
           CASE c.how WHEN 'whole' THEN c.count ELSE c.count - c.prev_count END,
           CASE c.how WHEN 'whole' THEN c.sum ELSE c.sum - c.prev_sum END,
           CASE c.how WHEN 'whole' THEN c.bucket_counts ELSE bucket_counts_sub(c.bucket_counts, c.prev_buckets) END
    FROM classified c
    WHERE c.ts > from_ts AND c.how <> 'unknown'
$$;

-- Requests, errors (points with error.type), rate, error rate and latency
-- quantiles (seconds) per time bucket, operation metric and group key,
-- grouped by upstream server (group_by = 'server') or tool ('tool').
CREATE FUNCTION operation_stats(from_ts timestamptz, to_ts timestamptz, group_by text DEFAULT 'server',
                                bucket interval DEFAULT '1 minute')
RETURNS TABLE (
    bucket_start timestamptz,
    metric_name  text,
    group_key    text,
    requests     bigint,
    errors       bigint,
    rate_per_s   double precision,
    error_rate   double precision,
    avg_seconds  double precision,
    p50_seconds  double precision,
    p95_seconds  double precision,
    p99_seconds  double precision
)
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    WITH d AS (
        SELECT date_bin(bucket, h.ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket_start,
               h.metric_name,
               CASE group_by WHEN 'tool' THEN h.tool_name ELSE h.server_key END AS group_key,
               h.delta_count, h.delta_sum, h.delta_buckets, h.bucket_bounds,
               h.attributes ? 'error.type' AS failed
        FROM histogram_deltas(from_ts, to_ts) h
        WHERE h.metric_name IN ('mcp.server.operation.duration', 'mcp.client.operation.duration')
    ), g AS (
        SELECT bucket_start, metric_name, group_key,
               sum(delta_count)::bigint                                   AS requests,
               COALESCE(sum(delta_count) FILTER (WHERE failed), 0)::bigint AS errors,
               sum(delta_sum)                                             AS total_seconds,
               bucket_counts_sum(delta_buckets)                           AS buckets,
               max(bucket_bounds)                                         AS bounds
        FROM d
        GROUP BY bucket_start, metric_name, group_key
    )
    SELECT bucket_start, metric_name, group_key, requests, errors,
           requests / extract(epoch FROM bucket)::double precision,
           CASE WHEN requests > 0 THEN errors::double precision / requests END,
           CASE WHEN requests > 0 THEN total_seconds / requests END,
           histogram_quantile(0.50, bounds, buckets),
           histogram_quantile(0.95, bounds, buckets),
           histogram_quantile(0.99, bounds, buckets)
    FROM g
$$;

CREATE VIEW operation_stats_by_server_minute AS
    SELECT * FROM operation_stats('-infinity', 'infinity', 'server');

CREATE VIEW operation_stats_by_tool_minute AS
    SELECT * FROM operation_stats('-infinity', 'infinity', 'tool');

-- Connection-pool gauges per minute, upstream server and state (active,
-- idle, pending).
CREATE VIEW pool_connections_minute AS
    SELECT date_trunc('minute', ts)                AS minute,
           server_key,
           attributes ->> 'mcp.router.pool.state'  AS state,
           service_instance,
           avg(value)                              AS avg_connections,
           min(value)                              AS min_connections,
           max(value)                              AS max_connections,
           count(*)                                AS samples
    FROM metric_point
    WHERE metric_name = 'mcp.router.pool.connections'
    GROUP BY 1, 2, 3, 4;
