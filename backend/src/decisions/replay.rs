//! Replaying a stored decision: recompute it from its stored facts, policy
//! text and date with the pure engine, and compare every part with what was
//! stored. `backend replay <id>` prints the result.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::Value;

use super::store::DecisionRow;
use crate::db::DbConn;
use crate::db::schema::{decisions, policies};
use crate::decision::{Facts, Policy, decide};
use crate::error::{AppError, AppResult};

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub decision_id: String,
    pub policy_version: String,
    /// Empty when the recomputed decision is identical to the stored one.
    pub differences: Vec<String>,
}

impl ReplayReport {
    pub fn identical(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Recomputes a stored decision from its stored facts, policy and date, and
/// compares every part of it with what was stored.
pub fn replay(conn: &mut DbConn, decision_id: &str) -> AppResult<ReplayReport> {
    let row: DecisionRow = decisions::table
        .find(decision_id)
        .select(DecisionRow::as_select())
        .first(conn)?;
    let (body, sha): (String, String) = policies::table
        .find(&row.policy_version)
        .select((policies::body, policies::sha256))
        .first(conn)?;
    let mut differences = Vec::new();
    if Facts::sha256_of(&body) != sha {
        differences.push(format!(
            "policy {}: stored text does not match its SHA-256",
            row.policy_version
        ));
    }
    let policy = Policy::from_toml(&body).map_err(AppError::internal)?;
    let recomputed_sha = Facts::sha256_of(&row.facts_json);
    if recomputed_sha != row.facts_sha256 {
        differences.push(format!(
            "facts_sha256: stored {}, stored facts now hash to {}",
            row.facts_sha256, recomputed_sha
        ));
    }
    let facts: Facts = serde_json::from_str(&row.facts_json)
        .map_err(|e| AppError::internal(format!("stored facts do not parse: {e}")))?;
    let day: NaiveDate = row
        .decided_on
        .parse()
        .map_err(|e| AppError::internal(format!("decided_on: {e}")))?;
    let d = decide(&policy, &facts, day);
    let mut check = |name: &str, stored: Value, now: Value| {
        if stored != now {
            differences.push(diff(name, &stored, &now));
        }
    };
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    check(
        "outcome",
        Value::from(row.outcome.clone()),
        Value::from(d.outcome.as_str()),
    );
    check("score", Value::from(row.score), Value::from(d.score));
    check(
        "grade",
        Value::from(row.grade.clone()),
        Value::from(d.grade.as_str()),
    );
    check(
        "terms",
        row.terms.as_deref().map_or(Value::Null, parse),
        serde_json::to_value(d.terms).unwrap_or(Value::Null),
    );
    check(
        "reasons",
        parse(&row.reasons),
        serde_json::to_value(&d.explanation).unwrap_or(Value::Null),
    );
    check(
        "trace",
        parse(&row.trace),
        serde_json::to_value(&d.trace).unwrap_or(Value::Null),
    );
    check(
        "as_of",
        parse(&row.as_of),
        serde_json::to_value(&facts.as_of).unwrap_or(Value::Null),
    );
    Ok(ReplayReport {
        decision_id: row.id,
        policy_version: row.policy_version,
        differences,
    })
}

/// The first differing leaves of two JSON values, as `path: stored → now`.
fn diff(name: &str, stored: &Value, now: &Value) -> String {
    fn walk(path: String, a: &Value, b: &Value, out: &mut Vec<String>) {
        if out.len() >= 6 || a == b {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<_> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let null = Value::Null;
                    walk(
                        format!("{path}.{k}"),
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(format!("{path}[{i}]"), p, q, out);
                }
            }
            _ => out.push(format!("{path}: stored {a} → now {b}")),
        }
    }
    let mut out = Vec::new();
    walk(name.to_owned(), stored, now, &mut out);
    out.join("; ")
}

#[cfg(test)]
mod tests {
    use diesel::Connection;

    use super::*;
    use crate::test_fixtures::{conn, decided, now, with_population};

    #[test]
    fn a_stored_decision_replays_identical_and_any_tampering_is_found() {
        let mut c = conn();
        let uscc = with_population(&mut c);
        let d = decided(&mut c, "mer_1", &uscc, now());
        let row: DecisionRow = decisions::table
            .find(&d.id)
            .select(DecisionRow::as_select())
            .first(&mut c)
            .unwrap();
        let r = replay(&mut c, &d.id).unwrap();
        assert!(r.identical(), "{:?}", r.differences);
        assert_eq!(r.decision_id, d.id);

        // Alter the stored facts: replay must notice.
        let altered = row.facts_json.replace("\"enforcement\":[]", "\"enforcement\":[{\"case_no\":\"x\",\"listed_on\":\"2026-01-01\",\"removed_on\":null}]");
        assert_ne!(
            altered, row.facts_json,
            "test setup: facts had an empty enforcement list"
        );
        diesel::update(decisions::table.find(&d.id))
            .set(decisions::facts_json.eq(&altered))
            .execute(&mut c)
            .unwrap();
        let r = replay(&mut c, &d.id).unwrap();
        assert!(!r.identical());
        assert!(
            r.differences.iter().any(|x| x.starts_with("facts_sha256")),
            "{:?}",
            r.differences
        );
        assert!(
            r.differences.iter().any(|x| x.starts_with("outcome")),
            "{:?}",
            r.differences
        );
        assert!(
            r.differences.iter().any(|x| x.contains("trace.knock_outs")),
            "{:?}",
            r.differences
        );

        // A tampered score alone is found too.
        diesel::update(decisions::table.find(&d.id))
            .set((
                decisions::facts_json.eq(&row.facts_json),
                decisions::score.eq(row.score + 1),
            ))
            .execute(&mut c)
            .unwrap();
        let r = replay(&mut c, &d.id).unwrap();
        assert_eq!(r.differences.len(), 1, "{:?}", r.differences);
        assert!(r.differences[0].starts_with("score"));
    }

    /// Decisions and consents stored before consents named their subject
    /// and person (migrations up to 000005, facts without provenance) are
    /// still there after the migrations of issue 9, replay identical, and
    /// their consent names the subject it was used for, but no person: it
    /// allows no new read.
    #[test]
    fn decisions_made_before_the_identity_migrations_replay_identical() {
        use diesel::connection::SimpleConnection;
        use diesel_migrations::MigrationHarness;

        use crate::db::DbConn;
        use crate::decision::Source;

        let mut c = DbConn::establish(":memory:").unwrap();
        let DbConn::Sqlite(s) = &mut c else {
            unreachable!()
        };
        for _ in 0..5 {
            s.run_next_migration(crate::db::MIGRATIONS).unwrap();
        }
        let applied = s.applied_migrations().unwrap();
        assert_eq!(
            applied.iter().map(ToString::to_string).max().as_deref(),
            Some("20261126000005")
        );
        // A decision as the code before issue 9 stored it: the same engine,
        // facts with no provenance (the field did not exist), so neither
        // the facts' JSON nor the trace has the new keys.
        let uscc = with_population(&mut c);
        let mut facts = Facts {
            uscc: uscc.clone(),
            ..Facts::default()
        };
        for source in Source::ALL {
            crate::credit::store::read_source(&mut c, source, &uscc, &mut facts).unwrap();
        }
        facts.canonicalize();
        let policy = crate::decisions::current_policy();
        let day: NaiveDate = "2026-11-26".parse().unwrap();
        let d = decide(policy, &facts, day);
        let facts_json = facts.canonical_json();
        assert!(!facts_json.contains("provenance"));
        let trace = serde_json::to_string(&d.trace).unwrap();
        assert!(!trace.contains("sources"));
        let q = |v: &str| v.replace('\'', "''");
        c.batch_execute(&format!(
            "INSERT INTO policies (version, sha256, body, first_used_at) VALUES ('{v}', '{sha}', '{body}', 't'); \
             INSERT INTO consents (id, merchant_id, letter_version, text_sha256, categories, bank_ids, purpose, \
               granted_at, expires_at, channel, client_ip, user_agent) VALUES ('cns_old', 'mer_old', 'v1', 'x', \
               '{cats}', '[]', 'pre_credit_assessment', '2026-11-26T01:00:00.000Z', '2027-11-26T01:00:00.000Z', \
               'wechat', '127.0.0.1', 'ua'); \
             INSERT INTO decisions (id, merchant_id, subject_uscc, consent_id, policy_version, facts_sha256, \
               facts_json, as_of, decided_on, outcome, score, grade, terms, reasons, trace, created_at) VALUES \
               ('dec_old', 'mer_old', '{uscc}', 'cns_old', '{v}', '{fsha}', '{facts}', '{as_of}', '2026-11-26', \
               '{outcome}', {score}, '{grade}', {terms}, '{reasons}', '{trace}', '2026-11-26T02:00:00.000Z');",
            v = q(&policy.version),
            sha = Facts::sha256_of(&policy.source_text),
            body = q(&policy.source_text),
            cats = serde_json::to_string(&Source::ALL).unwrap(),
            fsha = Facts::sha256_of(&facts_json),
            facts = q(&facts_json),
            as_of = q(&serde_json::to_string(&facts.as_of).unwrap()),
            outcome = d.outcome.as_str(),
            score = d.score,
            grade = d.grade.as_str(),
            terms = d
                .terms
                .map(|t| format!("'{}'", q(&serde_json::to_string(&t).unwrap())))
                .unwrap_or_else(|| "NULL".into()),
            reasons = q(&serde_json::to_string(&d.explanation).unwrap()),
            trace = q(&trace),
        ))
        .unwrap();

        let DbConn::Sqlite(s) = &mut c else {
            unreachable!()
        };
        s.run_pending_migrations(crate::db::MIGRATIONS).unwrap();
        let r = replay(&mut c, "dec_old").unwrap();
        assert!(r.identical(), "{:?}", r.differences);
        let (subject, person): (Option<String>, Option<String>) =
            crate::db::schema::consents::table
                .find("cns_old")
                .select((
                    crate::db::schema::consents::subject_uscc,
                    crate::db::schema::consents::person_index,
                ))
                .first(&mut c)
                .unwrap();
        assert_eq!(subject.as_deref(), Some(uscc.as_str()));
        assert_eq!(person, None);
        // It allows no new read, for anyone.
        let e = crate::decisions::decide_for(
            &mut c,
            "t",
            "mer_old",
            Some("cns_old"),
            &crate::test_fixtures::subject(&uscc),
            now(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "consent_subject");
    }
}
