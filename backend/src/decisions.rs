//! Making, storing and replaying decisions, and back-testing a policy.
//!
//! `decide_for` is the one entry point of the merchant flow: connectors read
//! the facts under the merchant's consent (each read logged), the pure
//! engine decides, and the decision is stored with everything needed to
//! recompute it: the policy text (by version), the canonical facts and their
//! SHA-256, the as-of date of each source, and the trace.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::Value;
use shared::decision::{DecisionView, Grade, Outcome};

use crate::connectors::{self, Access, PURPOSE_PRE_CREDIT};
use crate::credit::schema::{decisions, policies};
use crate::db::{DbConn, DbPool, new_id, timestamp};
use crate::decision::{Facts, Policy, Source, decide};
use crate::error::{AppError, AppResult};

/// The applicant: the business (USCC) and, from the resident ID, the
/// operator's birth date. The ID number itself never reaches this module.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub uscc: &'a str,
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

/// The calendar day in Yixing (UTC+8) at `now`: the day a decision is "as of".
pub fn local_day(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(8)).date_naive()
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
        consent_id,
        purpose: PURPOSE_PRE_CREDIT,
    };
    let mut facts = connectors::read_facts(conn, &access, &Source::ALL, now)?;
    if subject.birth_date.is_some() {
        facts.birth_date = subject.birth_date;
    }
    facts.canonicalize();
    let day = local_day(now);
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

/// `backend replay <id>`.
pub fn cli_replay(pool: &DbPool, id: &str) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let r = replay(&mut conn, id).map_err(|e| e.to_string())?;
    if r.identical() {
        println!("{}: identical (policy {})", r.decision_id, r.policy_version);
        Ok(())
    } else {
        println!("{}: DIFFERENT (policy {})", r.decision_id, r.policy_version);
        for d in &r.differences {
            println!("  {d}");
        }
        Err(format!("{} differences", r.differences.len()))
    }
}

// ---- back-test ----------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BacktestReport {
    pub policy_version: String,
    pub as_of: Option<NaiveDate>,
    pub merchants: usize,
    pub outcomes: BTreeMap<Outcome, usize>,
    pub grades: BTreeMap<Grade, usize>,
    pub offer_total_cents: i64,
    pub offers_capped: usize,
    /// How often each code appears among a decision's (up to four) reasons.
    pub reasons: BTreeMap<String, usize>,
    /// How often each code is the first reason.
    pub top_reasons: BTreeMap<String, usize>,
    pub seconds: f64,
}

/// Runs `policy` over `population` as of `day`.
pub fn backtest(policy: &Policy, population: &[Facts], day: NaiveDate) -> BacktestReport {
    let mut r = BacktestReport {
        policy_version: policy.version.clone(),
        as_of: Some(day),
        merchants: population.len(),
        ..BacktestReport::default()
    };
    for f in population {
        let d = decide(policy, f, day);
        *r.outcomes.entry(d.outcome).or_default() += 1;
        *r.grades.entry(d.grade).or_default() += 1;
        if let Some(t) = d.terms {
            r.offer_total_cents += t.max_amount_cents;
            r.offers_capped += usize::from(t.capped_by_evidence);
        }
        for (i, reason) in d.explanation.reasons.iter().enumerate() {
            *r.reasons.entry(reason.code.to_owned()).or_default() += 1;
            if i == 0 {
                *r.top_reasons.entry(reason.code.to_owned()).or_default() += 1;
            }
        }
    }
    r
}

impl std::fmt::Display for BacktestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.merchants.max(1) as f64;
        let pct = |k: usize| 100.0 * k as f64 / n;
        let offers = self.outcomes.get(&Outcome::Offer).copied().unwrap_or(0);
        writeln!(
            f,
            "policy {}, {} merchants as of {}, {:.2} s",
            self.policy_version,
            self.merchants,
            self.as_of.map_or_else(|| "-".into(), |d| d.to_string()),
            self.seconds
        )?;
        writeln!(f, "approval rate (offer): {:.1}%", pct(offers))?;
        for o in [Outcome::Offer, Outcome::Refer, Outcome::Decline] {
            let k = self.outcomes.get(&o).copied().unwrap_or(0);
            writeln!(f, "  {:<8} {:>6}  {:>5.1}%", o.as_str(), k, pct(k))?;
        }
        writeln!(f, "grades:")?;
        for g in Grade::ALL {
            let k = self.grades.get(&g).copied().unwrap_or(0);
            writeln!(f, "  {}        {:>6}  {:>5.1}%", g.as_str(), k, pct(k))?;
        }
        let avg = if offers > 0 {
            self.offer_total_cents as f64 / offers as f64 / 100.0
        } else {
            0.0
        };
        writeln!(
            f,
            "average offer: ¥{avg:.0} ({} of {offers} capped by rent evidence)",
            self.offers_capped
        )?;
        writeln!(
            f,
            "reason codes (share of merchants; first reason in brackets):"
        )?;
        let mut codes: Vec<_> = self.reasons.iter().collect();
        codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (code, k) in codes {
            let top = self.top_reasons.get(code).copied().unwrap_or(0);
            writeln!(f, "  {code:<24} {k:>6}  {:>5.1}%  [{top}]", pct(*k))?;
        }
        Ok(())
    }
}

/// `backend backtest [--policy FILE] [--data DIR]`: the built-in policy and
/// the generated default population unless told otherwise.
pub fn cli_backtest(
    policy_file: Option<&std::path::Path>,
    data: Option<&std::path::Path>,
) -> Result<(), String> {
    let policy = match policy_file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Policy::from_toml(&text).map_err(|e| e.to_string())?
        }
        None => current_policy().clone(),
    };
    let started = std::time::Instant::now();
    let ds = match data {
        Some(dir) => crate::credit::csvio::read_dir(dir).map_err(|errors| {
            errors
                .iter()
                .take(20)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?,
        None => crate::credit::generate::generate(
            crate::credit::generate::DEFAULT_COUNT,
            crate::credit::generate::DEFAULT_SEED,
            crate::credit::generate::default_as_of(),
        ),
    };
    let population = ds.facts();
    let day = population
        .iter()
        .flat_map(|f| f.as_of.values().copied())
        .max()
        .unwrap_or_else(crate::credit::generate::default_as_of);
    let mut report = backtest(&policy, &population, day);
    report.seconds = started.elapsed().as_secs_f64();
    print!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::Connection;
    use diesel_migrations::MigrationHarness;

    use super::*;
    use crate::connectors::{AccessLogRow, Consent};
    use crate::credit::schema::{access_log, consents, credit_tax_grades};
    use crate::credit::{csvio, generate, store};

    fn conn() -> DbConn {
        let mut c = DbConn::establish(":memory:").unwrap();
        if let DbConn::Sqlite(s) = &mut c {
            s.run_pending_migrations(crate::db::SQLITE_MIGRATIONS)
                .unwrap();
        }
        c
    }

    fn now() -> DateTime<Utc> {
        "2026-11-26T02:00:00Z".parse().unwrap()
    }

    fn consent(conn: &mut DbConn, merchant: &str, change: impl FnOnce(&mut Consent)) -> String {
        let mut c = Consent {
            id: new_id("cns"),
            merchant_id: merchant.into(),
            letter_version: "2026.11".into(),
            text_sha256: "0".repeat(64),
            categories: serde_json::to_string(&Source::ALL).unwrap(),
            bank_ids: "[\"bnk_1\"]".into(),
            purpose: PURPOSE_PRE_CREDIT.into(),
            granted_at: "2026-11-26T01:00:00.000Z".into(),
            expires_at: "2027-11-26T01:00:00.000Z".into(),
            withdrawn_at: None,
            channel: "wechat".into(),
            client_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
        };
        change(&mut c);
        diesel::insert_into(consents::table)
            .values(&c)
            .execute(conn)
            .unwrap();
        c.id
    }

    /// Imports a small generated population and returns one subject's USCC.
    fn with_population(conn: &mut DbConn) -> String {
        let ds = generate::generate(30, 11, "2026-11-20".parse().unwrap());
        store::import_dataset(conn, &ds, "test", "test", now()).unwrap();
        ds.registration[0].uscc.clone()
    }

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
        let subject = Subject {
            uscc: &uscc,
            birth_date: None,
        };
        let other = consent(&mut c, "mer_other", |_| {});
        let withdrawn = consent(&mut c, "mer_1", |x| {
            x.withdrawn_at = Some("2026-11-26T01:30:00.000Z".into())
        });
        let expired = consent(&mut c, "mer_1", |x| {
            x.expires_at = "2026-11-26T01:59:59.999Z".into()
        });
        let not_yet = consent(&mut c, "mer_1", |x| {
            x.granted_at = "2026-11-26T02:00:00.001Z".into()
        });
        let narrow = consent(&mut c, "mer_1", |x| {
            x.categories = "[\"registration\",\"tax\"]".into()
        });
        let other_purpose = consent(&mut c, "mer_1", |x| x.purpose = "marketing".into());
        let cases = [
            (None, "consent_required"),
            (Some(other.as_str()), "consent_required"),
            (Some("cns_nonexistent"), "consent_required"),
            (Some(withdrawn.as_str()), "consent_withdrawn"),
            (Some(expired.as_str()), "consent_expired"),
            (Some(not_yet.as_str()), "consent_expired"),
            (Some(narrow.as_str()), "consent_scope"),
            (Some(other_purpose.as_str()), "consent_scope"),
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
    fn with_consent_each_source_read_is_logged_and_the_decision_replays() {
        let mut c = conn();
        let uscc = with_population(&mut c);
        let id = consent(&mut c, "mer_1", |_| {});
        let subject = Subject {
            uscc: &uscc,
            birth_date: Some("1980-05-01".parse().unwrap()),
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
        assert_eq!(facts.birth_date, subject.birth_date);
        assert_eq!(Facts::sha256_of(&row.facts_json), d.facts_sha256);
        assert_eq!(row.decided_on, "2026-11-26");
        assert_eq!(row.outcome, d.view.outcome.as_str());
        assert!(
            row.as_of.contains("\"registration\":\"2026-11-20\""),
            "{}",
            row.as_of
        );

        let r = replay(&mut c, &d.id).unwrap();
        assert!(r.identical(), "{:?}", r.differences);
        // Read back, the merchant sees what was decided; another merchant sees nothing.
        assert_eq!(load_view(&mut c, "mer_1", &d.id).unwrap(), d.view);
        assert_eq!(latest_view(&mut c, "mer_1").unwrap(), Some(d.view.clone()));
        assert_eq!(
            load_view(&mut c, "mer_2", &d.id).unwrap_err().code(),
            "not_found"
        );
        assert_eq!(latest_view(&mut c, "mer_2").unwrap(), None);

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

    #[test]
    fn a_policy_version_is_immutable_once_used() {
        let mut c = conn();
        let uscc = with_population(&mut c);
        let id = consent(&mut c, "mer_1", |_| {});
        let subject = Subject {
            uscc: &uscc,
            birth_date: None,
        };
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

    #[test]
    fn the_replay_command_says_identical_or_different() {
        let dir = std::env::temp_dir().join(format!("mc-replay-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pool = crate::db::connect(dir.join("t.sqlite3").to_str().unwrap()).unwrap();
        crate::db::migrate(&pool).unwrap();
        let mut c = pool.get().unwrap();
        let uscc = with_population(&mut c);
        let id = consent(&mut c, "mer_1", |_| {});
        let subject = Subject {
            uscc: &uscc,
            birth_date: None,
        };
        let d = decide_for(&mut c, "t", "mer_1", Some(&id), &subject, now()).unwrap();
        assert_eq!(cli_replay(&pool, &d.id), Ok(()));
        diesel::update(decisions::table.find(&d.id))
            .set(decisions::grade.eq("Z"))
            .execute(&mut c)
            .unwrap();
        assert_eq!(cli_replay(&pool, &d.id), Err("1 differences".to_owned()));
        drop(c);
        drop(pool);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The same flow on PostgreSQL (MultiConnection): `DECISION_PG_URL` names a
    /// throwaway database, e.g. made with `backend pg-database create URL`.
    #[test]
    #[ignore = "needs PostgreSQL: DECISION_PG_URL=postgres://…/db cargo test -p backend -- --ignored pg_"]
    fn pg_decide_log_and_replay() {
        let url = std::env::var("DECISION_PG_URL").expect("DECISION_PG_URL");
        let pool = crate::db::connect(&url).unwrap();
        crate::db::migrate(&pool).unwrap();
        let mut c = pool.get().unwrap();
        let uscc = with_population(&mut c);
        let merchant = new_id("mer");
        let denied = decide_for(
            &mut c,
            "t",
            &merchant,
            None,
            &Subject {
                uscc: &uscc,
                birth_date: None,
            },
            now(),
        );
        assert_eq!(denied.unwrap_err().code(), "consent_required");
        let id = consent(&mut c, &merchant, |_| {});
        let subject = Subject {
            uscc: &uscc,
            birth_date: None,
        };
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

    #[test]
    fn a_bad_row_stops_the_whole_import_and_is_reported() {
        let dir = std::env::temp_dir().join(format!("mc-bad-{}", std::process::id()));
        let ds = generate::generate(20, 5, "2026-11-20".parse().unwrap());
        csvio::write_dir(&dir, &ds).unwrap();
        let path = dir.join("tax.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[3] = lines[3]
            .replacen(",A,", ",Z,", 1)
            .replacen(",B,", ",Z,", 1)
            .replacen(",M,", ",Z,", 1)
            .replacen(",C,", ",Z,", 1)
            .replacen(",D,", ",Z,", 1);
        lines[5] = format!("92320282MA0000000X{}", &lines[5][18..]);
        lines[6] = lines[6].replacen(",20", ",twenty", 1);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let errors = csvio::read_dir(&dir).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let at: Vec<(String, u64)> = errors.iter().map(|e| (e.file.clone(), e.line)).collect();
        assert_eq!(
            at,
            [
                ("tax.csv".to_owned(), 4),
                ("tax.csv".to_owned(), 6),
                ("tax.csv".to_owned(), 7)
            ],
            "{errors:?}"
        );
        assert!(errors[0].message.contains("grade"), "{}", errors[0].message);
        assert!(errors[1].message.contains("uscc"), "{}", errors[1].message);
    }

    #[test]
    fn a_newer_export_replaces_facts_and_an_older_one_does_not() {
        let mut c = conn();
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let first = generate::generate(10, 9, day("2026-10-31"));
        store::import_dataset(&mut c, &first, "october", "test", now()).unwrap();
        let uscc = first.registration[0].uscc.clone();
        let grades = |c: &mut DbConn| -> Vec<(i32, String, String)> {
            credit_tax_grades::table
                .filter(credit_tax_grades::uscc.eq(&uscc))
                .order(credit_tax_grades::year)
                .select((
                    credit_tax_grades::year,
                    credit_tax_grades::grade,
                    credit_tax_grades::as_of,
                ))
                .load(c)
                .unwrap()
        };
        let before = grades(&mut c);
        assert!(before.iter().all(|g| g.2 == "2026-10-31"));

        // November: the subject's 2025 grade is now D.
        let mut newer = first.clone();
        newer.tax.retain(|t| t.uscc == uscc);
        for t in &mut newer.tax {
            t.as_of = "2026-11-30".into();
            if t.year == 2025 {
                t.grade = "D".into();
            }
        }
        let s = store::import_dataset(&mut c, &newer, "november", "test", now()).unwrap();
        assert_eq!(s.sources["tax"].subjects_updated, 1);
        let after = grades(&mut c);
        assert_eq!(after.len(), before.len());
        assert!(after.iter().all(|g| g.2 == "2026-11-30"));
        assert_eq!(after.iter().find(|g| g.0 == 2025).unwrap().1, "D");

        // Importing October again changes nothing for that subject.
        let s = store::import_dataset(&mut c, &first, "october again", "test", now()).unwrap();
        assert_eq!(s.sources["tax"].subjects_stale, 1);
        assert_eq!(grades(&mut c), after);
    }

    #[test]
    fn demo_stalls_have_known_offers_and_declines() {
        let mut c = conn();
        crate::seed::seed_demo(&mut c, "demo-password-for-tests").unwrap();
        let today: NaiveDate = "2026-11-26".parse().unwrap();
        let first = crate::credit::seed_demo_credit_data_on(&mut c, today).unwrap();
        assert!(first.merchants_added >= 40, "{first:?}");
        let again = crate::credit::seed_demo_credit_data_on(&mut c, today).unwrap();
        assert_eq!((again.usccs_assigned, again.merchants_added), (0, 0));

        use crate::db::schema::stalls;
        let expect = [
            ("A-01", Outcome::Offer, None),
            ("A-02", Outcome::Offer, None),
            ("B-01", Outcome::Offer, None),
            ("C-01", Outcome::Offer, None),
            ("A-03", Outcome::Offer, Some("RENT_ARREARS")),
            ("A-04", Outcome::Decline, Some("ENFORCEMENT_LIST")),
            ("B-02", Outcome::Decline, Some("TAX_GRADE_D")),
            ("B-03", Outcome::Decline, Some("RENT_ARREARS_LONG")),
            ("D-01", Outcome::Decline, Some("DISHONESTY_LIST")),
        ];
        for (number, outcome, top) in expect {
            let uscc: Option<String> = stalls::table
                .filter(stalls::number.eq(number))
                .select(stalls::uscc)
                .first(&mut c)
                .unwrap();
            let uscc = uscc.unwrap();
            assert!(shared::ids::Uscc::parse(&uscc).is_ok());
            let merchant = format!("mer_{number}");
            let id = consent(&mut c, &merchant, |_| {});
            let subject = Subject {
                uscc: &uscc,
                birth_date: None,
            };
            let d = decide_for(&mut c, "test", &merchant, Some(&id), &subject, now()).unwrap();
            assert_eq!(d.view.outcome, outcome, "{number}: {:?}", d.view.reasons);
            if let Some(code) = top {
                assert_eq!(d.view.reasons[0].code, code, "{number}");
            }
            assert!(replay(&mut c, &d.id).unwrap().identical(), "{number}");
        }
    }

    #[test]
    fn the_backtest_counts_every_merchant_once() {
        let ds = generate::generate(400, 3, "2026-11-20".parse().unwrap());
        let r = backtest(current_policy(), &ds.facts(), "2026-11-20".parse().unwrap());
        assert_eq!(r.merchants, 400);
        assert_eq!(r.outcomes.values().sum::<usize>(), 400);
        assert_eq!(r.grades.values().sum::<usize>(), 400);
        // Generated base rates put most merchants in the offer band and some on lists.
        assert!(r.outcomes[&Outcome::Offer] > 200, "{r}");
        assert!(r.outcomes[&Outcome::Decline] > 0, "{r}");
        let text = r.to_string();
        assert!(text.contains("approval rate"));
    }
}
