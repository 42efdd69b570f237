-- Router runtime per minute (issue #16): CPU, memory, GC and
-- goroutines/threads of each router process, read from the runtime
-- metrics of the OpenTelemetry semantic conventions, whichever family the
-- router reports: Go (go.*: instrumentation.WithRuntimeMetrics, the contrib
-- runtime instrumentation), the JVM (jvm.*: the OpenTelemetry Java agent)
-- and processes (process.*).
--
-- Counters (process.cpu.time, jvm.cpu.time, go.memory.gc.cycles,
-- go.memory.allocated, and the count and sum of the jvm.gc.duration and
-- go.memory.gc.pause.duration histograms) become rates the way
-- histogram_deltas (0002) reads histograms: a cumulative point minus the
-- previous point of its series, over the seconds between them; a delta
-- point, a restarted series (start_ts changed or the value went down) or
-- the first point of a series that began inside the window counts whole,
-- over the seconds since its start_ts. Levels (gauges, and sums that are
-- not monotonic, as every UpDownCounter of these families is) are averaged
-- per series over the minute and summed over the series of an instance
-- (memory pools, memory types, thread states, CPU modes).

-- What each point of a monotonic sum, or each histogram point's count and
-- sum, added in (from_ts, to_ts] and the seconds it covers (NULL when a
-- whole point has no start_ts). lookback is how far before from_ts a
-- previous point is looked for; names are the metrics to read.
CREATE FUNCTION counter_deltas(names text[], from_ts timestamptz, to_ts timestamptz,
                               lookback interval DEFAULT '1 hour')
RETURNS TABLE (
    ts               timestamptz,
    metric_name      text,
    series_id        bigint,
    service_name     text,
    service_instance text,
    attributes       jsonb,
    delta            double precision, -- a sum's value, a histogram's count
    delta_sum        double precision, -- a histogram's sum
    seconds          double precision
)
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    WITH points AS (
        SELECT p.*,
               CASE p.metric_type WHEN 'histogram' THEN p.count::double precision ELSE p.value END AS total
        FROM metric_point p
        WHERE p.metric_name = ANY (names)
          AND (p.metric_type = 'histogram' OR (p.metric_type = 'sum' AND p.is_monotonic))
          AND p.ts > from_ts - lookback AND p.ts <= to_ts
    ), ordered AS (
        SELECT p.*,
               lag(p.ts) OVER w       AS prev_ts,
               lag(p.total) OVER w    AS prev_total,
               lag(p.sum) OVER w      AS prev_sum,
               lag(p.start_ts) OVER w AS prev_start
        FROM points p
        WINDOW w AS (PARTITION BY p.metric_name, p.series_id ORDER BY p.ts)
    ), classified AS (
        SELECT o.*,
               CASE
                   WHEN o.temporality = 'delta' THEN 'whole'
                   WHEN o.prev_ts IS NULL THEN
                       CASE WHEN o.start_ts > from_ts - lookback THEN 'whole' ELSE 'unknown' END
                   WHEN o.start_ts IS DISTINCT FROM o.prev_start OR o.total < o.prev_total THEN 'whole'
                   ELSE 'diff'
               END AS how
        FROM ordered o
    )
    SELECT c.ts, c.metric_name, c.series_id, c.service_name, c.service_instance, c.attributes,
           CASE c.how WHEN 'whole' THEN c.total ELSE c.total - c.prev_total END,
           CASE c.how WHEN 'whole' THEN c.sum ELSE c.sum - c.prev_sum END,
           extract(epoch FROM c.ts - CASE c.how WHEN 'whole' THEN c.start_ts ELSE c.prev_ts END)::double precision
    FROM classified c
    WHERE c.ts > from_ts AND c.how <> 'unknown'
$$;

-- One row per minute and router process (service_name, service_instance)
-- with points in (from_ts, to_ts]:
--   runtime               jvm, go or process: the families it reports
--   cpu_cores             CPU seconds per second (process.cpu.time, else
--                         jvm.cpu.time; every cpu.mode)
--   cpu_utilization       0..1 of the CPUs it may use (process.cpu.utilization
--                         or jvm.cpu.recent_utilization, else cpu_cores over
--                         go.processor.limit or jvm.cpu.count)
--   memory_used_bytes     memory of the runtime (go.memory.used, every type;
--                         jvm.memory.used, every pool, heap and non-heap)
--   process_memory_bytes  resident memory (process.memory.usage)
--   gc_per_minute         completed collections (go.memory.gc.cycles;
--                         jvm.gc.duration's count, every collector)
--   gc_time_ratio         seconds of GC per second (jvm.gc.duration's sum;
--                         go.memory.gc.pause.duration's where reported)
--   gc_goal_bytes, gogc   go.memory.gc.goal, go.config.gogc
--   alloc_bytes_per_s     heap allocation rate (go.memory.allocated)
--   goroutines            go.goroutine.count
--   threads               jvm.thread.count (every state), else
--                         process.thread.count
-- A column is NULL when the router reports none of its metrics.
CREATE FUNCTION router_runtime(from_ts timestamptz, to_ts timestamptz, lookback interval DEFAULT '1 hour')
RETURNS TABLE (
    minute               timestamptz,
    service_name         text,
    service_instance     text,
    runtime              text,
    cpu_cores            double precision,
    cpu_utilization      double precision,
    memory_used_bytes    double precision,
    process_memory_bytes double precision,
    gc_per_minute        double precision,
    gc_time_ratio        double precision,
    gc_goal_bytes        double precision,
    gogc                 double precision,
    alloc_bytes_per_s    double precision,
    goroutines           double precision,
    threads              double precision
)
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    WITH counter_series AS (
        SELECT date_trunc('minute', d.ts) AS minute, d.service_name, d.service_instance, d.metric_name,
               sum(d.delta) / sum(d.seconds)     AS per_s,
               sum(d.delta_sum) / sum(d.seconds) AS sum_per_s
        FROM counter_deltas(ARRAY['process.cpu.time', 'jvm.cpu.time', 'go.memory.gc.cycles', 'jvm.gc.duration',
                                  'go.memory.gc.pause.duration', 'go.memory.allocated'], from_ts, to_ts, lookback) d
        WHERE d.seconds > 0
        GROUP BY 1, 2, 3, 4, d.series_id
    ), level_series AS (
        SELECT date_trunc('minute', p.ts) AS minute, p.service_name, p.service_instance, p.metric_name,
               avg(p.value) AS value
        FROM metric_point p
        WHERE p.metric_name = ANY (ARRAY['go.memory.used', 'jvm.memory.used', 'process.memory.usage',
                                         'go.memory.gc.goal', 'go.config.gogc', 'go.goroutine.count',
                                         'jvm.thread.count', 'process.thread.count', 'go.processor.limit',
                                         'jvm.cpu.count', 'process.cpu.utilization', 'jvm.cpu.recent_utilization'])
          AND (p.metric_type = 'gauge' OR (p.metric_type = 'sum' AND NOT p.is_monotonic))
          AND p.ts > from_ts AND p.ts <= to_ts
        GROUP BY 1, 2, 3, 4, p.series_id
    ), facts AS (
        SELECT minute, service_name, service_instance, metric_name, sum(per_s) AS value, sum(sum_per_s) AS value_sum
        FROM counter_series GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT minute, service_name, service_instance, metric_name, sum(value), NULL
        FROM level_series GROUP BY 1, 2, 3, 4
    ), instance AS (
        SELECT minute, service_name, service_instance,
               CASE WHEN bool_or(metric_name LIKE 'jvm.%') THEN 'jvm'
                    WHEN bool_or(metric_name LIKE 'go.%') THEN 'go'
                    ELSE 'process' END AS runtime,
               COALESCE(max(value) FILTER (WHERE metric_name = 'process.cpu.time'),
                        max(value) FILTER (WHERE metric_name = 'jvm.cpu.time'))             AS cpu_cores,
               COALESCE(max(value) FILTER (WHERE metric_name = 'process.cpu.utilization'),
                        max(value) FILTER (WHERE metric_name = 'jvm.cpu.recent_utilization')) AS reported_utilization,
               COALESCE(max(value) FILTER (WHERE metric_name = 'go.processor.limit'),
                        max(value) FILTER (WHERE metric_name = 'jvm.cpu.count'))            AS cpus,
               COALESCE(max(value) FILTER (WHERE metric_name = 'go.memory.used'),
                        max(value) FILTER (WHERE metric_name = 'jvm.memory.used'))          AS memory_used_bytes,
               max(value) FILTER (WHERE metric_name = 'process.memory.usage')               AS process_memory_bytes,
               60 * sum(value) FILTER (WHERE metric_name IN ('go.memory.gc.cycles', 'jvm.gc.duration')) AS gc_per_minute,
               sum(value_sum) FILTER (WHERE metric_name IN ('jvm.gc.duration', 'go.memory.gc.pause.duration')) AS gc_time_ratio,
               max(value) FILTER (WHERE metric_name = 'go.memory.gc.goal')                  AS gc_goal_bytes,
               max(value) FILTER (WHERE metric_name = 'go.config.gogc')                     AS gogc,
               max(value) FILTER (WHERE metric_name = 'go.memory.allocated')                AS alloc_bytes_per_s,
               max(value) FILTER (WHERE metric_name = 'go.goroutine.count')                 AS goroutines,
               COALESCE(max(value) FILTER (WHERE metric_name = 'jvm.thread.count'),
                        max(value) FILTER (WHERE metric_name = 'process.thread.count'))     AS threads
        FROM facts
        GROUP BY 1, 2, 3
    )
    SELECT minute, service_name, service_instance, runtime, cpu_cores,
           COALESCE(reported_utilization, cpu_cores / NULLIF(cpus, 0)),
           memory_used_bytes, process_memory_bytes, gc_per_minute, gc_time_ratio, gc_goal_bytes, gogc,
           alloc_bytes_per_s, goroutines, threads
    FROM instance
$$;

CREATE VIEW router_runtime_minute AS
    SELECT * FROM router_runtime('-infinity', 'infinity');
