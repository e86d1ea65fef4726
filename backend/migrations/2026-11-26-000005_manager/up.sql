-- Staff login (market managers, operators): sessions like the merchant's,
-- and the failed-password counter (at most 10 per account per hour), changed
-- only by conditional UPDATEs so several server processes agree.
CREATE TABLE staff_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 of the cookie's token.
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES staff_users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);

CREATE TABLE staff_login_limits (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES staff_users(id),
    window_start TEXT NOT NULL,
    failures INTEGER NOT NULL
);

-- The manager's list filters and the rent ledger's lookups.
CREATE INDEX stalls_market_status ON stalls (market_id, status);
CREATE INDEX credit_rent_stall ON credit_rent (market, stall_no, month);
CREATE INDEX audit_log_market ON audit_log (market_id, at);
