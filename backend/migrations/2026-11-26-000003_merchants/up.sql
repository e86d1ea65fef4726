-- Merchants and their login: SMS one-time codes, sessions, and the
-- idempotency keys that make retried POSTs safe. Every counter here is
-- changed with a conditional UPDATE whose row count is checked, so several
-- server processes on one database agree without locks of their own.
CREATE TABLE merchants (
    id TEXT PRIMARY KEY NOT NULL,
    mobile TEXT NOT NULL UNIQUE,
    name TEXT,
    -- AES-256-GCM under the field key in the data folder; never clear text.
    resident_id_enc TEXT,
    resident_id_masked TEXT,
    birth_date TEXT,
    uscc TEXT,
    trade TEXT,
    years_in_business INTEGER,
    -- The stall (or market, for a market-wide code) last scanned at login.
    stall_id TEXT REFERENCES stalls(id),
    market_id TEXT REFERENCES markets(id),
    profile_completed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX merchants_market ON merchants (market_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 of the cookie's token: a leaked table opens no session.
    token_hash TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_merchant ON sessions (merchant_id);

CREATE TABLE otp_challenges (
    id TEXT PRIMARY KEY NOT NULL,
    mobile TEXT NOT NULL,
    -- Keyed hash of the code: six digits are too few for a plain hash.
    code_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- Set when used, or when a newer code for the same number voids it.
    consumed_at TEXT,
    stall_id TEXT REFERENCES stalls(id),
    market_id TEXT REFERENCES markets(id)
);
CREATE INDEX otp_challenges_mobile ON otp_challenges (mobile, created_at);

-- One row per number: the send limits (one a minute, ten a day).
CREATE TABLE otp_send_limits (
    mobile TEXT PRIMARY KEY NOT NULL,
    last_sent_at TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_count INTEGER NOT NULL
);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    -- 0 while the first request is still being handled.
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    -- Encrypted like resident IDs: a session token to set again on replay.
    secret_enc TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
