-- First-party data with provenance (issue 9): the market's rent ledger is
-- kept per stall, apart from the county's exports, and counts for a business
-- only when the stall is in that market, the manager's record names that
-- business, and the business's verified operator confirmed the stall
-- ("这是我的摊位吗?").

CREATE TABLE market_rent_ledger (
    id TEXT PRIMARY KEY NOT NULL,
    market_id TEXT NOT NULL REFERENCES markets(id),
    stall_id TEXT NOT NULL REFERENCES stalls(id),
    -- YYYY-MM
    month TEXT NOT NULL,
    due_cents BIGINT NOT NULL,
    paid_cents BIGINT NOT NULL,
    paid_on TEXT,
    -- The end of the period the upload covers (its last month), or the day
    -- of the upload if that is earlier: the ledger's own as-of date.
    as_of TEXT NOT NULL,
    -- Who uploaded it (staff:<id>) and when.
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id),
    UNIQUE (stall_id, month)
);
CREATE INDEX market_rent_ledger_market ON market_rent_ledger (market_id, month);

-- "这是我的摊位吗?": the answer of a business's verified operator.
CREATE TABLE stall_confirmations (
    id TEXT PRIMARY KEY NOT NULL,
    stall_id TEXT NOT NULL REFERENCES stalls(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    uscc TEXT NOT NULL,
    person_index TEXT NOT NULL,
    confirmed_at TEXT NOT NULL,
    withdrawn_at TEXT
);
CREATE INDEX stall_confirmations_uscc ON stall_confirmations (uscc);
CREATE INDEX stall_confirmations_stall ON stall_confirmations (stall_id);

-- Manager uploads made before this change went into credit_rent, keyed by
-- the USCC on the stall, dated the day of the upload: move them here.
INSERT INTO market_rent_ledger (id, market_id, stall_id, month, due_cents, paid_cents,
    paid_on, as_of, uploaded_by, uploaded_at, import_batch_id)
SELECT r.id, s.market_id, s.id, r.month, r.due_cents, r.paid_cents, r.paid_on, r.as_of,
    b.actor, b.imported_at, r.import_batch_id
FROM credit_rent r
JOIN import_batches b ON b.id = r.import_batch_id
JOIN markets m ON m.name = r.market
JOIN stalls s ON s.market_id = m.id AND s.number = r.stall_no
WHERE b.label LIKE 'rent ledger: %';

DELETE FROM credit_rent WHERE import_batch_id IN (
    SELECT id FROM import_batches WHERE label LIKE 'rent ledger: %'
);

-- A manager upload may have moved the rent source's export date: put it
-- back to the newest county row, or forget it when there is none.
UPDATE credit_sources SET as_of = (SELECT MAX(as_of) FROM credit_rent)
WHERE source = 'rent'
  AND import_batch_id IN (SELECT id FROM import_batches WHERE label LIKE 'rent ledger: %')
  AND EXISTS (SELECT 1 FROM credit_rent);
DELETE FROM credit_sources
WHERE source = 'rent'
  AND import_batch_id IN (SELECT id FROM import_batches WHERE label LIKE 'rent ledger: %')
  AND NOT EXISTS (SELECT 1 FROM credit_rent);
