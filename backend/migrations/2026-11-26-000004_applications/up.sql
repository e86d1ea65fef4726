-- A merchant's answer to an offer, and the candidate pool (优质信贷需求企业备选库):
-- one pool entry per bank the merchant authorized. Banks see only entries
-- in the pool; withdrawing the consent withdraws its entries.
CREATE TABLE applications (
    id TEXT PRIMARY KEY NOT NULL,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    -- One answer per decision: a double tap finds the first.
    decision_id TEXT NOT NULL UNIQUE REFERENCES decisions(id),
    consent_id TEXT NOT NULL REFERENCES consents(id),
    -- offered | accepted | in_pool | declined_by_merchant | withdrawn
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX applications_merchant ON applications (merchant_id, created_at);
CREATE INDEX applications_consent ON applications (consent_id);

CREATE TABLE pool_entries (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications(id),
    bank_id TEXT NOT NULL REFERENCES banks(id),
    -- waiting | claimed | contacted | approved | rejected | withdrawn
    status TEXT NOT NULL,
    -- staff_users.id of the officer who claimed it
    claimed_by TEXT,
    contacted_at TEXT,
    outcome TEXT,
    outcome_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (application_id, bank_id)
);
CREATE INDEX pool_entries_bank ON pool_entries (bank_id, status);
