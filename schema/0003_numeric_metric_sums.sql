-- Sums of histogram counts in numeric (issue #13). A stored count is at most
-- 2^63-1 (bigint; the exporter refuses a point whose count does not fit),
-- but the sum of two such counts is not: 0002 added them in bigint, so two
-- points with a bucket count of 2^63-1 made operation_stats() and both
-- operation_stats_by_*_minute views fail with "bigint out of range". Every
-- sum across points is now numeric, which has no such limit.
--
-- Unchanged: histogram_deltas (each of its values comes from one point or
-- the difference of two, and fits bigint), bucket_counts_sub and
-- pool_connections_minute. bucket_counts_add, bucket_counts_sum and
-- histogram_quantile take numeric[] now; a bigint[] argument is cast
-- implicitly, so calls written for 0002 keep working and return numeric.
-- operation_stats returns requests and errors as numeric.

DROP VIEW operation_stats_by_server_minute;
DROP VIEW operation_stats_by_tool_minute;
DROP FUNCTION operation_stats(timestamptz, timestamptz, text, interval);
DROP AGGREGATE bucket_counts_sum(bigint[]);
DROP FUNCTION bucket_counts_add(bigint[], bigint[]);
DROP FUNCTION histogram_quantile(double precision, double precision[], bigint[]);

-- a + b, element by element; NULL counts as empty.
CREATE FUNCTION bucket_counts_add(a numeric[], b numeric[]) RETURNS numeric[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE (
        SELECT array_agg(COALESCE(a[i], 0) + COALESCE(b[i], 0) ORDER BY i)
        FROM generate_series(1, GREATEST(cardinality(a), cardinality(b))) AS i) END
$$;

CREATE AGGREGATE bucket_counts_sum(numeric[]) (SFUNC = bucket_counts_add, STYPE = numeric[], PARALLEL = SAFE);

-- The q-quantile of an explicit-bucket histogram, interpolating linearly
-- inside the bucket that holds it (as Prometheus' histogram_quantile does);
-- the first bucket starts at 0, a quantile in the overflow bucket is the
-- largest bound.
CREATE FUNCTION histogram_quantile(q double precision, bounds double precision[], counts numeric[])
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
    rank := q::numeric * total;
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

-- Requests, errors (points with error.type), rate, error rate and latency
-- quantiles (seconds) per time bucket, operation metric and group key,
-- grouped by upstream server (group_by = 'server') or tool ('tool').
CREATE FUNCTION operation_stats(from_ts timestamptz, to_ts timestamptz, group_by text DEFAULT 'server',
                                bucket interval DEFAULT '1 minute')
RETURNS TABLE (
    bucket_start timestamptz,
    metric_name  text,
    group_key    text,
    requests     numeric,
    errors       numeric,
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
               sum(delta_count)                                  AS requests,
               COALESCE(sum(delta_count) FILTER (WHERE failed), 0) AS errors,
               sum(delta_sum)                                    AS total_seconds,
               bucket_counts_sum(delta_buckets)                  AS buckets,
               max(bucket_bounds)                                AS bounds
        FROM d
        GROUP BY bucket_start, metric_name, group_key
    )
    SELECT bucket_start, metric_name, group_key, requests, errors,
           (requests / extract(epoch FROM bucket))::double precision,
           CASE WHEN requests > 0 THEN (errors / requests)::double precision END,
           CASE WHEN requests > 0 THEN total_seconds / requests::double precision END,
           histogram_quantile(0.50, bounds, buckets),
           histogram_quantile(0.95, bounds, buckets),
           histogram_quantile(0.99, bounds, buckets)
    FROM g
$$;

CREATE VIEW operation_stats_by_server_minute AS
    SELECT * FROM operation_stats('-infinity', 'infinity', 'server');

CREATE VIEW operation_stats_by_tool_minute AS
    SELECT * FROM operation_stats('-infinity', 'infinity', 'tool');
