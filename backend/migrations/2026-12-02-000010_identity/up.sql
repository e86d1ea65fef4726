-- Who may apply for a business (issue 9): the registry's operator of each
-- business, the merchant's verified person, and the subject and person a
-- consent names.

-- The registered operator of an individual business / legal representative
-- of a company, from the registration export. The resident ID number is
-- kept encrypted under the field key (context: this row's USCC) and as a
-- keyed blind index (HMAC) to look people up by; never in clear text.
CREATE TABLE registry_operators (
    id TEXT PRIMARY KEY NOT NULL,
    uscc TEXT NOT NULL,
    name TEXT NOT NULL,
    resident_id_enc TEXT NOT NULL,
    resident_id_index TEXT NOT NULL,
    as_of TEXT NOT NULL,
    import_batch_id TEXT NOT NULL REFERENCES import_batches(id)
);
CREATE INDEX registry_operators_uscc ON registry_operators (uscc);
CREATE INDEX registry_operators_person ON registry_operators (resident_id_index);

-- The merchant's person, once the real-name check (实名认证) matched name,
-- resident ID and the mobile number logged in with; the business, once its
-- registered operator is that person. Both are cleared by any change.
ALTER TABLE merchants ADD COLUMN resident_id_index TEXT;
ALTER TABLE merchants ADD COLUMN identity_verified_at TEXT;
ALTER TABLE merchants ADD COLUMN business_verified_at TEXT;
-- Real-name checks cost money and answer about people: a few a day each.
ALTER TABLE merchants ADD COLUMN identity_checks_day TEXT;
ALTER TABLE merchants ADD COLUMN identity_checks INTEGER NOT NULL DEFAULT 0;
CREATE INDEX merchants_person ON merchants (resident_id_index);

-- A consent covers one subject (USCC) for one verified person (blind
-- index). Consents signed before this change name the subject their first
-- decision read (or the profile's USCC then) and no person: they stay
-- readable and replayable, but allow no new read.
ALTER TABLE consents ADD COLUMN subject_uscc TEXT;
ALTER TABLE consents ADD COLUMN person_index TEXT;
UPDATE consents SET subject_uscc = (
    SELECT d.subject_uscc FROM decisions d
    WHERE d.consent_id = consents.id
    ORDER BY d.created_at LIMIT 1
);
UPDATE consents SET subject_uscc = (
    SELECT m.uscc FROM merchants m WHERE m.id = consents.merchant_id
) WHERE subject_uscc IS NULL;
