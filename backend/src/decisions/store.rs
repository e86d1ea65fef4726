//! Making and storing decisions, and reading them back as the merchant sees
//! them.
//!
//! `decide_for` is the one entry point of the merchant flow: connectors read
//! the facts under the merchant's consent (each read logged), the pure
//! engine decides, and the decision is stored with everything needed to
//! recompute it: the policy text (by version), the canonical facts and their
//! SHA-256, the as-of date of each source, and the trace.

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use shared::decision::{DecisionView, Grade, Outcome};

use crate::connectors::{self, Access, PURPOSE_PRE_CREDIT};
use crate::db::schema::{decisions, policies};
use crate::db::{DbConn, new_id, timestamp};
use crate::decision::{Facts, Policy, Source, decide};
use crate::error::{AppError, AppResult};

/// The applicant: the business (USCC), the verified person applying for it
/// (the blind index of their resident ID, which the consent must name) and
/// their birth date, used only where the registry gives none. The ID number
/// itself never reaches this module.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub uscc: &'a str,
    pub person_index: Option<&'a str>,
    pub birth_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    pub id: String,
    pub merchant_id: String,
    pub facts_sha256: String,
    pub created_at: String,
    pub view: DecisionView,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = decisions)]
pub struct DecisionRow {
    pub id: String,
    pub merchant_id: String,
    pub subject_uscc: String,
    pub consent_id: Option<String>,
    pub policy_version: String,
    pub facts_sha256: String,
    pub facts_json: String,
    pub as_of: String,
    pub decided_on: String,
    pub outcome: String,
    pub score: i32,
    pub grade: String,
    pub terms: Option<String>,
    pub reasons: String,
    pub trace: String,
    pub created_at: String,
}

/// The policy new decisions use, read once.
pub fn current_policy() -> &'static Policy {
    static CURRENT: OnceLock<Policy> = OnceLock::new();
    CURRENT.get_or_init(Policy::current)
}

/// Reads the merchant's facts under `consent_id` (logged), decides under the
/// current policy, stores and returns the decision.
///
/// Fails with 403 `consent_required` / `consent_withdrawn` / `consent_expired`
/// / `consent_scope` when the consent does not allow the reads (then nothing
/// is read and the refusal is in `access_log`).
pub fn decide_for(
    conn: &mut DbConn,
    actor: &str,
    merchant_id: &str,
    consent_id: Option<&str>,
    subject: &Subject<'_>,
    now: DateTime<Utc>,
) -> AppResult<StoredDecision> {
    decide_with(
        conn,
        current_policy(),
        actor,
        merchant_id,
        consent_id,
        subject,
        now,
    )
}

/// [`decide_for`] under a given policy (tests, and a future policy switch).
pub fn decide_with(
    conn: &mut DbConn,
    policy: &Policy,
    actor: &str,
    merchant_id: &str,
    consent_id: Option<&str>,
    subject: &Subject<'_>,
    now: DateTime<Utc>,
) -> AppResult<StoredDecision> {
    let access = Access {
        actor,
        merchant_id,
        subject_uscc: subject.uscc,
        person_index: subject.person_index,
        consent_id,
        purpose: PURPOSE_PRE_CREDIT,
    };
    let mut facts = connectors::read_facts(conn, &access, &Source::ALL, now)?;
    // The registry's birth date of its operator is the fact; the verified
    // person is that operator, so their ID's date only fills a gap.
    if facts.birth_date.is_none() {
        facts.birth_date = subject.birth_date;
    }
    facts.canonicalize();
    let day = crate::clock::china_day(now);
    let decision = decide(policy, &facts, day);
    let facts_json = facts.canonical_json();
    let facts_sha256 = Facts::sha256_of(&facts_json);
    let id = new_id("dec");
    let created_at = timestamp(now);
    let row = DecisionRow {
        id: id.clone(),
        merchant_id: merchant_id.to_owned(),
        subject_uscc: subject.uscc.to_owned(),
        consent_id: consent_id.map(str::to_owned),
        policy_version: policy.version.clone(),
        facts_sha256: facts_sha256.clone(),
        facts_json,
        as_of: to_json(&facts.as_of)?,
        decided_on: day.to_string(),
        outcome: decision.outcome.as_str().to_owned(),
        score: decision.score,
        grade: decision.grade.as_str().to_owned(),
        terms: decision.terms.as_ref().map(to_json).transpose()?,
        reasons: to_json(&decision.explanation)?,
        trace: to_json(&decision.trace)?,
        created_at: created_at.clone(),
    };
    crate::db::write_transaction(conn, |conn| {
        remember_policy(conn, policy, &created_at)?;
        diesel::insert_into(decisions::table)
            .values(&row)
            .execute(conn)?;
        AppResult::Ok(())
    })?;
    Ok(StoredDecision {
        view: decision.view(policy, &id),
        id,
        merchant_id: merchant_id.to_owned(),
        facts_sha256,
        created_at,
    })
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(AppError::internal)
}

/// Stores the policy text under its version the first time it is used. A
/// version is immutable: a different text under a used version is refused.
fn remember_policy(conn: &mut DbConn, policy: &Policy, at: &str) -> AppResult<()> {
    let sha = Facts::sha256_of(&policy.source_text);
    let stored: Option<String> = policies::table
        .find(&policy.version)
        .select(policies::sha256)
        .first(conn)
        .optional()?;
    match stored {
        Some(s) if s == sha => Ok(()),
        Some(_) => Err(AppError::internal(format!(
            "policy version {} is already stored with a different text; give the change a new version",
            policy.version
        ))),
        None => {
            diesel::insert_into(policies::table)
                .values((
                    policies::version.eq(&policy.version),
                    policies::sha256.eq(&sha),
                    policies::body.eq(&policy.source_text),
                    policies::first_used_at.eq(at),
                ))
                .execute(conn)?;
            Ok(())
        }
    }
}

#[derive(serde::Deserialize)]
struct StoredReason {
    code: String,
    knock_out: bool,
    points_lost: i32,
}

#[derive(serde::Deserialize)]
struct StoredExplanation {
    reasons: Vec<StoredReason>,
    grade_up: Option<shared::decision::GradeUp>,
}

/// A stored decision as the merchant sees it, with the reason texts of the
/// policy it was made under. Scoped by merchant: another merchant's decision
/// is "not found".
pub fn load_view(
    conn: &mut DbConn,
    merchant_id: &str,
    decision_id: &str,
) -> AppResult<DecisionView> {
    let row: DecisionRow = decisions::table
        .filter(decisions::id.eq(decision_id))
        .filter(decisions::merchant_id.eq(merchant_id))
        .select(DecisionRow::as_select())
        .first(conn)?;
    view_of(conn, row)
}

/// The merchant's most recent decision, if any.
pub fn latest_view(conn: &mut DbConn, merchant_id: &str) -> AppResult<Option<DecisionView>> {
    let row: Option<DecisionRow> = decisions::table
        .filter(decisions::merchant_id.eq(merchant_id))
        .order(decisions::created_at.desc())
        .select(DecisionRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| view_of(conn, r)).transpose()
}

fn view_of(conn: &mut DbConn, row: DecisionRow) -> AppResult<DecisionView> {
    let body: String = policies::table
        .find(&row.policy_version)
        .select(policies::body)
        .first(conn)?;
    let policy = Policy::from_toml(&body).map_err(AppError::internal)?;
    let bad =
        |what: &str| AppError::internal(format!("decision {}: stored {what} unreadable", row.id));
    let explanation: StoredExplanation =
        serde_json::from_str(&row.reasons).map_err(|_| bad("reasons"))?;
    let terms = row
        .terms
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|_| bad("terms"))?;
    let reasons = explanation
        .reasons
        .into_iter()
        .map(|r| {
            let text = policy.reason(&r.code);
            let pick = |f: fn(&crate::decision::policy::ReasonText) -> &String| {
                text.map(f).cloned().unwrap_or_else(|| r.code.clone())
            };
            shared::decision::Reason {
                text_zh: pick(|t| &t.zh),
                text_en: pick(|t| &t.en),
                fix_zh: pick(|t| &t.fix_zh),
                fix_en: pick(|t| &t.fix_en),
                code: r.code,
                knock_out: r.knock_out,
                points_lost: r.points_lost,
            }
        })
        .collect();
    Ok(DecisionView {
        outcome: Outcome::parse(&row.outcome).ok_or_else(|| bad("outcome"))?,
        grade: Grade::parse(&row.grade).ok_or_else(|| bad("grade"))?,
        score: row.score,
        terms,
        reasons,
        grade_up: explanation.grade_up,
        policy_version: row.policy_version,
        decided_on: row.decided_on,
        decision_id: row.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::AccessLogRow;
    use crate::db::schema::access_log;
    use crate::decisions::replay;
    use crate::test_fixtures::{
        PERSON, conn, consent, consent_for, decided, now, subject, with_population,
    };

    fn log_rows(conn: &mut DbConn) -> Vec<AccessLogRow> {
        access_log::table
            .select(AccessLogRow::as_select())
            .load(conn)
            .unwrap()
    }

    #[test]
    fn without_a_valid_consent_nothing_is_read_and_the_refusal_is_logged() {
        let mut c = conn();
        let uscc = with_population(&mut c);
        let subject = subject(&uscc);
        let other = consent_for(&mut c, "mer_other", &uscc, |_| {});
        let withdrawn = consent_for(&mut c, "mer_1", &uscc, |x| {
            x.withdrawn_at = Some("2026-11-26T01:30:00.000Z".into())
        });
        let expired = consent_for(&mut c, "mer_1", &uscc, |x| {
            x.expires_at = "2026-11-26T01:59:59.999Z".into()
        });
        let not_yet = consent_for(&mut c, "mer_1", &uscc, |x| {
            x.granted_at = "2026-11-26T02:00:00.001Z".into()
        });
        let narrow = consent_for(&mut c, "mer_1", &uscc, |x| {
            x.categories = "[\"registration\",\"tax\"]".into()
        });
        let other_purpose = consent_for(&mut c, "mer_1", &uscc, |x| x.purpose = "marketing".into());
        // One consent covers one subject, for the person who signed it.
        let other_subject = consent_for(&mut c, "mer_1", "92320282MA0000000X00", |_| {});
        let other_person = consent_for(&mut c, "mer_1", &uscc, |x| {
            x.person_index = Some("idx-someone-else".into())
        });
        // Signed before the real-name check: it names its subject, no person.
        let unverified = consent(&mut c, "mer_1", |x| x.subject_uscc = Some(uscc.clone()));
        let cases = [
            (None, "consent_required"),
            (Some(other.as_str()), "consent_required"),
            (Some("cns_nonexistent"), "consent_required"),
            (Some(withdrawn.as_str()), "consent_withdrawn"),
            (Some(expired.as_str()), "consent_expired"),
            (Some(not_yet.as_str()), "consent_expired"),
            (Some(narrow.as_str()), "consent_scope"),
            (Some(other_purpose.as_str()), "consent_scope"),
            (Some(other_subject.as_str()), "consent_subject"),
            (Some(other_person.as_str()), "consent_subject"),
            (Some(unverified.as_str()), "consent_subject"),
        ];
        for (i, (id, code)) in cases.iter().enumerate() {
            let e = decide_for(&mut c, "system:test", "mer_1", *id, &subject, now()).unwrap_err();
            assert_eq!(e.code(), *code, "case {i}");
            assert_eq!(e.status, axum::http::StatusCode::FORBIDDEN);
            let rows = log_rows(&mut c);
            assert_eq!(rows.len(), (i + 1) * Source::ALL.len(), "case {i}");
            assert!(rows.iter().all(|r| r.result == "denied"));
            let so_far = cases[..=i].iter().filter(|(_, c)| c == code).count();
            let with_code = rows.iter().filter(|r| r.detail.contains(code)).count();
            assert_eq!(with_code, so_far * Source::ALL.len(), "case {i}");
        }
        let stored: i64 = decisions::table.count().get_result(&mut c).unwrap();
        assert_eq!(stored, 0);
    }

    #[test]
    fn with_consent_each_source_read_is_logged_and_the_decision_is_stored() {
        let mut c = conn();
        let uscc = with_population(&mut c);
        let id = consent_for(&mut c, "mer_1", &uscc, |_| {});
        let subject = Subject {
            uscc: &uscc,
            person_index: Some(PERSON),
            birth_date: Some("1900-05-01".parse().unwrap()),
        };
        let d = decide_for(
            &mut c,
            "merchant:mer_1",
            "mer_1",
            Some(&id),
            &subject,
            now(),
        )
        .unwrap();
        let rows = log_rows(&mut c);
        assert_eq!(rows.len(), Source::ALL.len());
        let mut logged: Vec<&str> = rows.iter().map(|r| r.source.as_str()).collect();
        logged.sort();
        let mut all: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
        all.sort();
        assert_eq!(logged, all);
        assert!(
            rows.iter()
                .all(|r| r.consent_id.as_deref() == Some(id.as_str()))
        );
        assert!(
            rows.iter()
                .all(|r| r.subject_uscc == uscc && r.actor == "merchant:mer_1")
        );
        assert_eq!(
            crate::connectors::access_log_for_merchant(&mut c, "mer_1", 100)
                .unwrap()
                .len(),
            Source::ALL.len()
        );
        assert!(
            crate::connectors::access_log_for_merchant(&mut c, "mer_2", 100)
                .unwrap()
                .is_empty()
        );
        let ok = rows.iter().find(|r| r.source == "registration").unwrap();
        assert_eq!(ok.result, "ok");
        assert!(
            rows.iter()
                .all(|r| r.result == "ok" || r.result == "not_found")
        );

        // What was stored is what the engine says for those facts.
        let row: DecisionRow = decisions::table
            .find(&d.id)
            .select(DecisionRow::as_select())
            .first(&mut c)
            .unwrap();
        let facts: Facts = serde_json::from_str(&row.facts_json).unwrap();
        assert_eq!(facts.uscc, uscc);
        // The registry's birth date, not the one the applicant's ID gave.
        assert!(facts.birth_date.is_some());
        assert_ne!(facts.birth_date, subject.birth_date);
        // Each source's origin and as-of date is in the facts and the trace.
        assert_eq!(facts.provenance.len(), Source::ALL.len());
        assert!(
            facts
                .provenance
                .iter()
                .all(|p| p.origin == crate::decision::facts::Origin::CountyExport)
        );
        assert!(row.trace.contains("\"sources\":["), "{}", row.trace);
        assert!(row.trace.contains("\"origin\":\"county_export\""));
        assert_eq!(Facts::sha256_of(&row.facts_json), d.facts_sha256);
        assert_eq!(row.decided_on, "2026-11-26");
        assert_eq!(row.outcome, d.view.outcome.as_str());
        assert!(
            row.as_of.contains("\"registration\":\"2026-11-20\""),
            "{}",
            row.as_of
        );

        assert!(replay(&mut c, &d.id).unwrap().identical());
        // Read back, the merchant sees what was decided; another merchant sees nothing.
        assert_eq!(load_view(&mut c, "mer_1", &d.id).unwrap(), d.view);
        assert_eq!(latest_view(&mut c, "mer_1").unwrap(), Some(d.view.clone()));
        assert_eq!(
            load_view(&mut c, "mer_2", &d.id).unwrap_err().code(),
            "not_found"
        );
        assert_eq!(latest_view(&mut c, "mer_2").unwrap(), None);
    }

    #[test]
    fn a_decision_is_dated_by_the_day_in_china() {
        let mut c = conn();
        let uscc = with_population(&mut c);
        // 00:30 on the 27th in Yixing, still the 26th in UTC.
        let late: DateTime<Utc> = "2026-11-26T16:30:00Z".parse().unwrap();
        let d = decided(&mut c, "mer_1", &uscc, late);
        assert_eq!(d.view.decided_on, "2026-11-27");
        let stored: String = decisions::table
            .find(&d.id)
            .select(decisions::decided_on)
            .first(&mut c)
            .unwrap();
        assert_eq!(stored, "2026-11-27");
    }

    #[test]
    fn a_policy_version_is_immutable_once_used() {
        let mut c = conn();
        let uscc = with_population(&mut c);
        let id = consent_for(&mut c, "mer_1", &uscc, |_| {});
        let subject = subject(&uscc);
        decide_for(&mut c, "t", "mer_1", Some(&id), &subject, now()).unwrap();
        let text = current_policy()
            .source_text
            .replacen("min_score = 640", "min_score = 645", 1);
        let changed = Policy::from_toml(&text).unwrap();
        assert_eq!(changed.version, current_policy().version);
        let e =
            decide_with(&mut c, &changed, "t", "mer_1", Some(&id), &subject, now()).unwrap_err();
        assert_eq!(e.code(), "internal_error");
        let stored: i64 = decisions::table.count().get_result(&mut c).unwrap();
        assert_eq!(stored, 1);
    }

    /// The same flow on PostgreSQL (MultiConnection): `DECISION_PG_URL` names a
    /// throwaway database, e.g. made with `backend pg-database create URL`.
    #[test]
    #[ignore = "needs PostgreSQL: DECISION_PG_URL=postgres://…/db cargo test -p backend -- --ignored pg_"]
    fn pg_decide_log_and_replay() {
        let mut c = crate::test_fixtures::pg_pool().get().unwrap();
        let uscc = with_population(&mut c);
        let merchant = new_id("mer");
        let denied = decide_for(&mut c, "t", &merchant, None, &subject(&uscc), now());
        assert_eq!(denied.unwrap_err().code(), "consent_required");
        let id = consent_for(&mut c, &merchant, &uscc, |_| {});
        let subject = subject(&uscc);
        let d = decide_for(&mut c, "t", &merchant, Some(&id), &subject, now()).unwrap();
        let results: Vec<String> = access_log::table
            .filter(access_log::merchant_id.eq(&merchant))
            .select(access_log::result)
            .load(&mut c)
            .unwrap();
        assert_eq!(
            results.iter().filter(|r| *r == "denied").count(),
            Source::ALL.len()
        );
        assert_eq!(results.len(), 2 * Source::ALL.len());
        assert!(replay(&mut c, &d.id).unwrap().identical());
        assert_eq!(load_view(&mut c, &merchant, &d.id).unwrap(), d.view);
    }
}
