-- Per-minute rollups: the only traffic history relais keeps. One row per
-- minute of one series; writers merge into an existing row (late
-- observations, several replicas), never replace it.
--
-- Shared by SQLite and PostgreSQL. BIGINT, TEXT and DOUBLE PRECISION mean the
-- same in both; BYTEA is PostgreSQL's blob, and SQLite gives a column of that
-- type numeric affinity, which stores blobs unchanged. Times are unix
-- seconds (minute) or milliseconds (rl_at_ms) in BIGINT columns, so both
-- compare and index them the same way, with no time-zone conversions.

-- +goose Up
CREATE TABLE rollups (
    -- rollup.Series.String(): route_target, route_key or check.
    series     TEXT   NOT NULL,
    route      TEXT   NOT NULL DEFAULT '',
    provider   TEXT   NOT NULL DEFAULT '',
    model      TEXT   NOT NULL DEFAULT '',
    client     TEXT   NOT NULL DEFAULT '',
    -- "check" is a reserved word in both dialects.
    check_name TEXT   NOT NULL DEFAULT '',
    -- Start of the minute, unix seconds (UTC), a multiple of 60.
    minute     BIGINT NOT NULL,

    attempts BIGINT NOT NULL DEFAULT 0,
    failed   BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    errors   BIGINT NOT NULL DEFAULT 0,
    fallback BIGINT NOT NULL DEFAULT 0,

    -- One column per health.Outcome, named after Outcome.String(): plain
    -- SQL can sum them (how many 429s last week?) in both dialects, which an
    -- encoded map could not. A new outcome needs a migration adding its
    -- column; a test fails until it exists.
    outcome_ok                   BIGINT NOT NULL DEFAULT 0,
    outcome_conn_error           BIGINT NOT NULL DEFAULT 0,
    outcome_timeout_header       BIGINT NOT NULL DEFAULT 0,
    outcome_timeout_first_token  BIGINT NOT NULL DEFAULT 0,
    outcome_timeout_idle         BIGINT NOT NULL DEFAULT 0,
    outcome_http_429             BIGINT NOT NULL DEFAULT 0,
    outcome_http_5xx             BIGINT NOT NULL DEFAULT 0,
    outcome_http_4xx             BIGINT NOT NULL DEFAULT 0,
    outcome_inband_error         BIGINT NOT NULL DEFAULT 0,
    outcome_empty_output         BIGINT NOT NULL DEFAULT 0,
    outcome_truncated            BIGINT NOT NULL DEFAULT 0,
    outcome_client_canceled      BIGINT NOT NULL DEFAULT 0,
    outcome_timeout_attempt      BIGINT NOT NULL DEFAULT 0,
    outcome_check_failed         BIGINT NOT NULL DEFAULT 0,

    -- DDSketch binary encoding (with its index mapping) of latencies in
    -- seconds; NULL when the minute had no value.
    latency BYTEA,
    ttft    BYTEA,
    elapsed BYTEA,

    input_tokens         BIGINT           NOT NULL DEFAULT 0,
    output_tokens        BIGINT           NOT NULL DEFAULT 0,
    cached_tokens        BIGINT           NOT NULL DEFAULT 0,
    output_chars         BIGINT           NOT NULL DEFAULT 0,
    stream_seconds       DOUBLE PRECISION NOT NULL DEFAULT 0,
    stream_output_tokens BIGINT           NOT NULL DEFAULT 0,

    -- The minute's latest rate-limit report: -1 when not reported, resets
    -- in milliseconds, rl_at_ms 0 when there was no report.
    rl_limit_requests     BIGINT NOT NULL DEFAULT -1,
    rl_limit_tokens       BIGINT NOT NULL DEFAULT -1,
    rl_remaining_requests BIGINT NOT NULL DEFAULT -1,
    rl_remaining_tokens   BIGINT NOT NULL DEFAULT -1,
    rl_reset_requests_ms  BIGINT NOT NULL DEFAULT 0,
    rl_reset_tokens_ms    BIGINT NOT NULL DEFAULT 0,
    rl_at_ms              BIGINT NOT NULL DEFAULT 0,

    PRIMARY KEY (series, route, provider, model, client, check_name, minute)
);

-- History of a whole series (every target of a route, all keys) over a
-- range; the primary key serves a fully named row.
CREATE INDEX rollups_series_minute ON rollups (series, minute);
-- Retention deletes by minute alone.
CREATE INDEX rollups_minute ON rollups (minute);

-- +goose Down
DROP TABLE rollups;
