-- otelcol-mcp schema, version 1.
-- Applied by schema.Apply inside one transaction with search_path set to the
-- target schema, so every name below is unqualified.
--
-- Time-partitioned tables are RANGE partitioned on ts (the event time) and get a
-- DEFAULT partition here; partitionmgr creates the dated partitions ahead of time.
-- Every natural key includes ts, so a replayed batch is recognised, not duplicated.

-- Routed requests: one row per SERVER span with mcp.method.name. Daily partitions.
CREATE TABLE routing_log (
    ts               timestamptz      NOT NULL,
    trace_id         bytea            NOT NULL,
    span_id          bytea            NOT NULL,
    parent_span_id   bytea,
    duration_us      bigint           NOT NULL,
    span_name        text             NOT NULL,
    method           text             NOT NULL,
    tool_name        text,
    resource_uri     text,
    session_id       text,
    request_id       text,
    server_key       text,
    strategy         text,
    attempt          integer,
    status           text             NOT NULL,
    status_message   text,
    error_type       text,
    failed           boolean          GENERATED ALWAYS AS (status = 'error' OR error_type IS NOT NULL) STORED,
    rpc_status_code  text,
    protocol_version text,
    transport        text,
    client_address   text,
    service_name     text,
    service_instance text,
    adjusted_count   double precision NOT NULL DEFAULT 1,
    attributes       jsonb,
    PRIMARY KEY (trace_id, span_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE routing_log_default PARTITION OF routing_log DEFAULT;
CREATE INDEX routing_log_request_id_idx ON routing_log (request_id, session_id);
CREATE INDEX routing_log_server_ts_idx ON routing_log (server_key, ts);
CREATE INDEX routing_log_failures_idx ON routing_log (ts) WHERE failed;
CREATE INDEX routing_log_ts_idx ON routing_log (ts);

-- Upstream tool calls: one row per CLIENT tools/call span, linked to its routed
-- request by trace id and request id. Daily partitions.
CREATE TABLE tool_call_record (
    ts               timestamptz      NOT NULL,
    trace_id         bytea            NOT NULL,
    span_id          bytea            NOT NULL,
    parent_span_id   bytea,
    duration_us      bigint           NOT NULL,
    tool_name        text,
    tool_call_id     text,
    session_id       text,
    request_id       text,
    server_key       text,
    server_address   text,
    attempt          integer,
    status           text             NOT NULL,
    status_message   text,
    error_type       text,
    failed           boolean          GENERATED ALWAYS AS (status = 'error' OR error_type IS NOT NULL) STORED,
    rpc_status_code  text,
    service_name     text,
    adjusted_count   double precision NOT NULL DEFAULT 1,
    attributes       jsonb,
    PRIMARY KEY (trace_id, span_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE tool_call_record_default PARTITION OF tool_call_record DEFAULT;
CREATE INDEX tool_call_record_request_id_idx ON tool_call_record (request_id, session_id);
CREATE INDEX tool_call_record_tool_ts_idx ON tool_call_record (tool_name, ts);
CREATE INDEX tool_call_record_server_ts_idx ON tool_call_record (server_key, ts);
CREATE INDEX tool_call_record_failures_idx ON tool_call_record (ts) WHERE failed;
CREATE INDEX tool_call_record_ts_brin ON tool_call_record USING brin (ts);

-- Opt-in tool arguments and results (redacted), kept apart from the call row so
-- the hot table stays narrow. Daily partitions, same key as tool_call_record.
CREATE TABLE tool_call_payload (
    ts         timestamptz NOT NULL,
    trace_id   bytea       NOT NULL,
    span_id    bytea       NOT NULL,
    arguments  jsonb,
    result     jsonb,
    PRIMARY KEY (trace_id, span_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE tool_call_payload_default PARTITION OF tool_call_payload DEFAULT;

-- Errors: span exception events, error-status spans without one, error-severity
-- log records and mcp.router.error events. Weekly partitions.
CREATE TABLE error_log (
    ts               timestamptz      NOT NULL,
    event_id         text             NOT NULL,
    source           text             NOT NULL,
    event_name       text,
    trace_id         bytea,
    span_id          bytea,
    request_id       text,
    session_id       text,
    server_key       text,
    method           text,
    tool_name        text,
    error_type       text,
    message          text,
    stacktrace       text,
    severity_number  smallint,
    severity_text    text,
    service_name     text,
    adjusted_count   double precision NOT NULL DEFAULT 1,
    attributes       jsonb,
    PRIMARY KEY (event_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE error_log_default PARTITION OF error_log DEFAULT;
CREATE INDEX error_log_type_ts_idx ON error_log (error_type, ts);
CREATE INDEX error_log_server_ts_idx ON error_log (server_key, ts);
CREATE INDEX error_log_request_id_idx ON error_log (request_id, session_id);
CREATE INDEX error_log_trace_idx ON error_log (trace_id);
CREATE INDEX error_log_ts_brin ON error_log USING brin (ts);

-- Health checks of upstream servers. Weekly partitions.
CREATE TABLE health_check_record (
    ts               timestamptz      NOT NULL,
    event_id         text             NOT NULL,
    server_key       text             NOT NULL,
    healthy          boolean          NOT NULL,
    status           text             NOT NULL,
    check_type       text,
    latency_us       bigint,
    error_type       text,
    message          text,
    service_name     text,
    adjusted_count   double precision NOT NULL DEFAULT 1,
    attributes       jsonb,
    PRIMARY KEY (event_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE health_check_record_default PARTITION OF health_check_record DEFAULT;
CREATE INDEX health_check_record_server_ts_idx ON health_check_record (server_key, ts);
CREATE INDEX health_check_record_failures_idx ON health_check_record (ts) WHERE NOT healthy;
CREATE INDEX health_check_record_ts_brin ON health_check_record USING brin (ts);

-- Load-balancer decisions (1% sampled by default). Daily partitions.
CREATE TABLE lb_decision (
    ts               timestamptz      NOT NULL,
    event_id         text             NOT NULL,
    trace_id         bytea,
    span_id          bytea,
    request_id       text,
    session_id       text,
    method           text,
    tool_name        text,
    strategy         text,
    server_key       text,
    candidates       text[],
    reason           text,
    service_name     text,
    adjusted_count   double precision NOT NULL DEFAULT 1,
    attributes       jsonb,
    PRIMARY KEY (event_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE lb_decision_default PARTITION OF lb_decision DEFAULT;
CREATE INDEX lb_decision_server_ts_idx ON lb_decision (server_key, ts);
CREATE INDEX lb_decision_request_id_idx ON lb_decision (request_id, session_id);
CREATE INDEX lb_decision_ts_brin ON lb_decision USING brin (ts);

-- Circuit-breaker transitions, every one. Monthly partitions.
CREATE TABLE circuit_breaker_event (
    ts               timestamptz      NOT NULL,
    event_id         text             NOT NULL,
    server_key       text             NOT NULL,
    from_state       text,
    to_state         text             NOT NULL,
    failure_count    bigint,
    reason           text,
    service_name     text,
    adjusted_count   double precision NOT NULL DEFAULT 1,
    attributes       jsonb,
    PRIMARY KEY (event_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE circuit_breaker_event_default PARTITION OF circuit_breaker_event DEFAULT;
CREATE INDEX circuit_breaker_event_server_ts_idx ON circuit_breaker_event (server_key, ts);

-- Metric data points of every type. Daily partitions. series_id is a hash of
-- the resource attributes, the scope name, the metric name and the point
-- attributes, so (metric_name, series_id, ts) is the natural key of a point.
CREATE TABLE metric_point (
    ts               timestamptz      NOT NULL,
    metric_name      text             NOT NULL,
    series_id        bigint           NOT NULL,
    metric_type      text             NOT NULL,
    temporality      text,
    is_monotonic     boolean,
    unit             text,
    start_ts         timestamptz,
    value            double precision,
    count            bigint,
    sum              double precision,
    min              double precision,
    max              double precision,
    bucket_bounds    double precision[],
    bucket_counts    bigint[],
    exp_scale        integer,
    exp_zero_count   bigint,
    exp_positive_offset integer,
    exp_positive_counts bigint[],
    exp_negative_offset integer,
    exp_negative_counts bigint[],
    quantiles        double precision[],
    quantile_values  double precision[],
    server_key       text,
    tool_name        text,
    method           text,
    service_name     text,
    service_instance text,
    attributes       jsonb,
    PRIMARY KEY (metric_name, series_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE metric_point_default PARTITION OF metric_point DEFAULT;
CREATE INDEX metric_point_name_ts_idx ON metric_point (metric_name, ts);

-- Registry of upstream servers: one row per server, upserted from registered,
-- deregistered and health-changed events. Every column merges so that the
-- order of arrival does not matter: the newest registration describes the
-- server, the newest health change sets its health, and deregistration marks
-- the row (registered turns false) instead of deleting it.
CREATE TABLE mcp_server (
    server_key        text        PRIMARY KEY,
    name              text,
    url               text,
    version           text,
    transport         text,
    tools             text[],
    registered_at     timestamptz,
    deregistered_at   timestamptz,
    -- A deregistration at the same instant as a registration wins.
    registered        boolean     GENERATED ALWAYS AS (
        registered_at IS NOT NULL AND (deregistered_at IS NULL OR registered_at > deregistered_at)) STORED,
    health_status     text,
    health_changed_at timestamptz,
    updated_at        timestamptz NOT NULL,
    service_name      text,
    attributes        jsonb
);
CREATE INDEX mcp_server_registered_idx ON mcp_server (health_status) WHERE registered;

-- SSE / streamable-HTTP sessions: one row per session, upserted from start,
-- periodic stats and end events. Counters are cumulative and times only move
-- outwards, so replays and late events merge to the same row; the facts of a
-- session that never change (transport, protocol, client, server) are kept
-- from the first event that carries them.
CREATE TABLE session_record (
    session_id       text        PRIMARY KEY,
    transport        text,
    protocol_version text,
    client_address   text,
    server_key       text,
    started_at       timestamptz,
    ended_at         timestamptz,
    last_seen_at     timestamptz NOT NULL,
    request_count    bigint,
    error_count      bigint,
    close_reason     text,
    service_name     text,
    attributes       jsonb
);
CREATE INDEX session_record_active_idx ON session_record (last_seen_at) WHERE ended_at IS NULL;

-- Items refused as bad data, with the reason; the rest of their batch was
-- committed. fingerprint (a hash of table and payload) keeps a replayed batch
-- from recording the same refusal twice.
CREATE TABLE rejected_event (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint   text        NOT NULL UNIQUE,
    rejected_at   timestamptz NOT NULL DEFAULT now(),
    target_table  text        NOT NULL,
    sqlstate      text,
    reason        text        NOT NULL,
    payload       text        NOT NULL
);
CREATE INDEX rejected_event_at_idx ON rejected_event (rejected_at);
