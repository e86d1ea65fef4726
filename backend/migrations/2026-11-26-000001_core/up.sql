-- Core tenancy: markets, stalls, banks and their products, staff accounts,
-- and the audit log of every state change and refusal.
CREATE TABLE markets (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    office_phone TEXT NOT NULL,
    address TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE stalls (
    id TEXT PRIMARY KEY NOT NULL,
    market_id TEXT NOT NULL REFERENCES markets(id),
    number TEXT NOT NULL,
    zone TEXT NOT NULL,
    trade TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    holder_mobile TEXT,
    uscc TEXT,
    rent_cents BIGINT NOT NULL,
    status TEXT NOT NULL,
    code_version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (market_id, number)
);

CREATE TABLE banks (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    short_name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE products (
    id TEXT PRIMARY KEY NOT NULL,
    bank_id TEXT NOT NULL REFERENCES banks(id),
    name TEXT NOT NULL,
    min_amount_cents BIGINT NOT NULL,
    max_amount_cents BIGINT NOT NULL,
    min_rate_bp INTEGER NOT NULL,
    max_rate_bp INTEGER NOT NULL,
    term_months INTEGER NOT NULL,
    grades TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL,
    UNIQUE (bank_id, name)
);

CREATE TABLE staff_users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('operator', 'manager', 'bank')),
    market_id TEXT REFERENCES markets(id),
    bank_id TEXT REFERENCES banks(id),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT,
    market_id TEXT,
    detail TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
