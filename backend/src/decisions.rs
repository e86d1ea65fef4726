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
    decide_with(conn, current_policy(), actor, merchant_id, consent_id, subject, now)
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
    conn.transaction(|conn| {
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
    check("outcome", Value::from(row.outcome.clone()), Value::from(d.outcome.as_str()));
    check("score", Value::from(row.score), Value::from(d.score));
    check("grade", Value::from(row.grade.clone()), Value::from(d.grade.as_str()));
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
        writeln!(f, "reason codes (share of merchants; first reason in brackets):")?;
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
pub fn cli_backtest(policy_file: Option<&std::path::Path>, data: Option<&std::path::Path>) -> Result<(), String> {
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
            errors.iter().take(20).map(ToString::to_string).collect::<Vec<_>>().join("\n")
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
