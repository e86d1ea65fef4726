-- Credit data (one table per source of the county's exports), the consents
-- that allow reading it, the log of every read, and the decisions made from
-- it. Facts are keyed by USCC; merchant_id is plain TEXT (no foreign key) so
-- this migration does not depend on the merchant tables.

CREATE TABLE import_batches (
    id TEXT PRIMARY KEY NOT NULL,
    label TEXT NOT NULL,
    actor TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    -- JSON: {"source": {"as_of": "YYYY-MM-DD", "rows": n, "subjects_updated": n, "subjects_stale": n}}
    summary TEXT NOT NULL
);

-- The newest export date of each source: a subject absent from it is known
-- to have nothing there as of that date.
CREATE TABLE credit_sources (
    source TEXT PRIMARY KEY NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id),
    updated_at TEXT NOT NULL
);

CREATE TABLE credit_registration (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    name TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    trade TEXT NOT NULL,
    registered_on TEXT NOT NULL,
    status TEXT NOT NULL,
    operator_name TEXT NOT NULL,
    operator_birth_date TEXT,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_registration_uscc ON credit_registration (uscc);

CREATE TABLE credit_licences (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    licence_no TEXT NOT NULL,
    kind TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    expires_on TEXT,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_licences_uscc ON credit_licences (uscc);

CREATE TABLE credit_penalties (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    decision_no TEXT NOT NULL,
    decided_on TEXT NOT NULL,
    severity TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    repaired_on TEXT,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_penalties_uscc ON credit_penalties (uscc);

CREATE TABLE credit_dishonesty (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    case_no TEXT NOT NULL,
    listed_on TEXT NOT NULL,
    removed_on TEXT,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_dishonesty_uscc ON credit_dishonesty (uscc);

CREATE TABLE credit_enforcement (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    case_no TEXT NOT NULL,
    listed_on TEXT NOT NULL,
    removed_on TEXT,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_enforcement_uscc ON credit_enforcement (uscc);

CREATE TABLE credit_tax_grades (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    year INTEGER NOT NULL,
    grade TEXT NOT NULL,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_tax_grades_uscc ON credit_tax_grades (uscc);

CREATE TABLE credit_social_insurance (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    months_paid_24 INTEGER NOT NULL,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_social_insurance_uscc ON credit_social_insurance (uscc);

CREATE TABLE credit_utilities (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    utility TEXT NOT NULL,
    months_on_time_12 INTEGER NOT NULL,
    months_late_12 INTEGER NOT NULL,
    arrears_cents BIGINT NOT NULL,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_utilities_uscc ON credit_utilities (uscc);

CREATE TABLE credit_rent (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    market TEXT NOT NULL,
    stall_no TEXT NOT NULL,
    month TEXT NOT NULL,
    due_cents BIGINT NOT NULL,
    paid_cents BIGINT NOT NULL,
    paid_on TEXT,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_rent_uscc ON credit_rent (uscc);

CREATE TABLE credit_household_ratings (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    level TEXT NOT NULL,
    rated_on TEXT NOT NULL,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX credit_household_ratings_uscc ON credit_household_ratings (uscc);

-- A merchant's signed authorization (授权书). Written by the merchant flow;
-- read by connectors before any credit data is.
CREATE TABLE consents (
    id TEXT PRIMARY KEY NOT NULL,
    merchant_id TEXT NOT NULL,
    letter_version TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    -- JSON array of source names (decision::Source), e.g. ["registration","tax"]
    categories TEXT NOT NULL,
    -- JSON array of bank ids
    bank_ids TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    withdrawn_at TEXT,
    channel TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX consents_merchant ON consents (merchant_id);

-- Every read of credit data, allowed or not (系统日志).
CREATE TABLE access_log (
    id TEXT PRIMARY KEY NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    subject_uscc TEXT NOT NULL,
    source TEXT NOT NULL,
    purpose TEXT NOT NULL,
    consent_id TEXT,
    -- ok | denied | not_found
    result TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX access_log_merchant ON access_log (merchant_id, at);
CREATE INDEX access_log_subject ON access_log (subject_uscc, at);

-- Each policy text a decision was made under, so a replay runs exactly it.
CREATE TABLE policies (
    version TEXT PRIMARY KEY NOT NULL,
    sha256 TEXT NOT NULL,
    body TEXT NOT NULL,
    first_used_at TEXT NOT NULL
);

CREATE TABLE decisions (
    id TEXT PRIMARY KEY NOT NULL,
    merchant_id TEXT NOT NULL,
    subject_uscc TEXT NOT NULL,
    consent_id TEXT,
    policy_version TEXT NOT NULL REFERENCES policies(version),
    facts_sha256 TEXT NOT NULL,
    facts_json TEXT NOT NULL,
    -- JSON: {"source": "YYYY-MM-DD"}
    as_of TEXT NOT NULL,
    decided_on TEXT NOT NULL,
    outcome TEXT NOT NULL,
    score INTEGER NOT NULL,
    grade TEXT NOT NULL,
    terms TEXT,
    reasons TEXT NOT NULL,
    trace TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX decisions_merchant ON decisions (merchant_id, created_at);
