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
}
