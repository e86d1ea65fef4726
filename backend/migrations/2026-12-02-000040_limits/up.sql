-- Abuse limits (issue 13): counters that hold across server processes, and
-- refusals counted instead of logged one row each.

-- One counter per limit and subject (a client address, a number, a
-- username, or everyone), in a fixed window (an hour or a day): a request
-- takes one with a conditional UPDATE whose affected-row count decides; a
-- window that has passed is restarted by the next request. Rows whose
-- window ended long ago are swept when new ones are made.
CREATE TABLE rate_counters (
    bucket TEXT PRIMARY KEY NOT NULL,
    window_start TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX rate_counters_window ON rate_counters (window_start);

-- What anonymous callers were refused (a stall code that does not verify, a
-- request over a limit, a wrong staff password), counted per client address
-- per hour: one row per (hour, address, action, reason, object), however
-- many requests. `object_id` is '' when there is none.
CREATE TABLE refusal_counts (
    hour TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    object_id TEXT NOT NULL,
    market_id TEXT,
    count BIGINT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    last_request_id TEXT,
    PRIMARY KEY (hour, client_ip, action, reason, object_id)
);
CREATE INDEX refusal_counts_action ON refusal_counts (action, hour);

-- Staff login: wrong passwords per (username as typed, client address), for
-- known and unknown usernames alike, with the growing delay they earned.
CREATE TABLE login_throttle (
    username TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    failures INTEGER NOT NULL,
    next_try_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (username, client_ip)
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);

-- Stall-code signing keys the operator has revoked (`backend revoke-key`):
-- a code signed by one is refused even while the key is still configured.
CREATE TABLE revoked_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('code')),
    revoked_at TEXT NOT NULL,
    actor TEXT NOT NULL
);

-- Sweeps of rows nobody will ask for again.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE INDEX otp_challenges_created ON otp_challenges (created_at);
CREATE INDEX otp_send_limits_window ON otp_send_limits (window_start);
