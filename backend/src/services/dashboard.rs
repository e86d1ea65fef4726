//! The funnel a market manager (or the operator, for one market or all)
//! reports upward: stalls → codes scanned → logged in → authorized → offered
//! → accepted → bank outcome, in total and this week, with the plan's
//! targets beside. Counts only: no merchant's credit data or reasons.
//!
//! Definitions (the API tests recount them straight from the database):
//! - stalls: active stalls;
//! - scanned: distinct mobile numbers that asked for a login code after
//!   scanning one of the market's codes (a scan that goes no further leaves
//!   no record, by design: nothing is stored about anonymous visitors);
//! - logged in: merchants tied to the market;
//! - authorized: of those, merchants with at least one consent;
//! - offered: of those, merchants with at least one decision `offer`;
//! - accepted: of those, merchants who accepted an offer: an application in
//!   the pool (`accepted`/`in_pool`), or one holding pool entries whatever its
//!   status now, so a later withdrawal does not undo the step, as a withdrawn
//!   consent still counts as authorized; a `withdrawn` application without
//!   entries was never accepted (withdrawing a consent also marks the "not
//!   now" answers withdrawn), so it does not count;
//! - bank outcome: of those, merchants with a pool entry whose outcome a bank
//!   recorded.
//!
//! "This week" counts people whose first such event falls in the week.
//!
//! Who sees what: the county credit office (operators) sees every figure
//! exactly and each merchant's latest outcome. A market manager sees the
//! onboarding steps (stalls, scanned, logged in, authorized) exactly, each
//! credit-outcome count (offered, accepted, bank outcome, and their weekly
//! figures) only as "<5" below [`SMALL_CELL`], and per merchant only how far
//! they got with onboarding (logged in, verified, authorized): the letter
//! promises a merchant's result goes to the banks they chose, not to the
//! market.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use diesel::prelude::*;
pub use shared::manager::Dashboard;
use shared::manager::{
    Figure, FunnelStep, MerchantStatus, SMALL_CELL, STATUS_ACTIVE, TargetFigure, WeekActivity,
};

use crate::clock::{china_day, china_midnight};
use crate::db::schema::{
    applications, consents, decisions, markets, merchants, otp_challenges, pool_entries, stalls,
};
use crate::db::{DbConn, timestamp};
use crate::error::AppResult;

const WEEKS: i64 = 8;
const CHUNK: usize = 400;

/// Monday 00:00 China time of the week holding `t`, as a UTC instant.
pub fn week_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let day = china_day(t);
    china_midnight(day - Duration::days(i64::from(day.weekday().num_days_from_monday())))
}

/// The earliest timestamp per key.
fn firsts(rows: impl IntoIterator<Item = (String, String)>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    for (k, at) in rows {
        out.entry(k)
            .and_modify(|e| {
                if at < *e {
                    *e = at.clone();
                }
            })
            .or_insert(at);
    }
    out
}

/// Who looks at the dashboard, which decides what they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The county credit office: everything, exactly.
    Operator,
    /// A market office: outcome counts suppressed below [`SMALL_CELL`],
    /// onboarding steps only per merchant.
    Manager,
}

impl Viewer {
    /// A count as this viewer may see it; `outcome` marks a credit outcome.
    fn figure(self, n: i64, outcome: bool) -> Figure {
        if outcome && self == Viewer::Manager {
            Figure::suppressed(n)
        } else {
            Figure::Exact(n)
        }
    }
}

/// One funnel step: `outcome` marks a credit outcome (see [`Viewer`]).
struct Step<'a> {
    key: &'a str,
    zh: &'a str,
    en: &'a str,
    outcome: bool,
}

fn step(
    viewer: Viewer,
    s: Step<'_>,
    firsts: Option<&HashMap<String, String>>,
    week: &str,
) -> FunnelStep {
    let (total, this_week) = match firsts {
        Some(f) => (
            f.len() as i64,
            f.values().filter(|at| at.as_str() >= week).count() as i64,
        ),
        None => (0, 0),
    };
    FunnelStep {
        key: s.key.to_owned(),
        label_zh: s.zh.to_owned(),
        label_en: s.en.to_owned(),
        total: viewer.figure(total, s.outcome),
        this_week: viewer.figure(this_week, s.outcome),
        tracked: firsts.is_some(),
        outcome: s.outcome,
    }
}

pub fn compute(
    conn: &mut DbConn,
    market_id: Option<&str>,
    viewer: Viewer,
    now: DateTime<Utc>,
) -> AppResult<Dashboard> {
    let market_name = match market_id {
        Some(id) => Some(
            markets::table
                .find(id)
                .select(markets::name)
                .first::<String>(conn)?,
        ),
        None => None,
    };
    let mut q = stalls::table
        .select((stalls::id, stalls::status, stalls::created_at))
        .into_boxed();
    if let Some(id) = market_id {
        q = q.filter(stalls::market_id.eq(id.to_owned()));
    }
    let all_stalls: Vec<(String, String, String)> = q.load(conn)?;
    let active: HashMap<String, String> = all_stalls
        .iter()
        .filter(|(_, status, _)| status == STATUS_ACTIVE)
        .map(|(id, _, at)| (id.clone(), at.clone()))
        .collect();
    let stalls_inactive = (all_stalls.len() - active.len()) as i64;

    let mut q = otp_challenges::table
        .select((otp_challenges::mobile, otp_challenges::created_at))
        .into_boxed();
    q = match market_id {
        Some(id) => q.filter(otp_challenges::market_id.eq(id.to_owned())),
        None => q.filter(otp_challenges::market_id.is_not_null()),
    };
    let scanned = firsts(q.load::<(String, String)>(conn)?);

    let mut q = merchants::table
        .select((merchants::id, merchants::created_at))
        .into_boxed();
    q = match market_id {
        Some(id) => q.filter(merchants::market_id.eq(id.to_owned())),
        None => q.filter(merchants::market_id.is_not_null()),
    };
    let logged_in = firsts(q.load::<(String, String)>(conn)?);
    let ids: Vec<&str> = logged_in.keys().map(String::as_str).collect();

    let mut consent_rows = Vec::new();
    let mut offer_rows: Vec<(String, String, Option<String>)> = Vec::new();
    let mut app_rows: Vec<(String, String, String, String)> = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        app_rows.extend(
            applications::table
                .filter(applications::merchant_id.eq_any(chunk))
                .select((
                    applications::id,
                    applications::merchant_id,
                    applications::status,
                    applications::updated_at,
                ))
                .load::<(String, String, String, String)>(conn)?,
        );
        consent_rows.extend(
            consents::table
                .filter(consents::merchant_id.eq_any(chunk))
                .select((consents::merchant_id, consents::granted_at))
                .load::<(String, String)>(conn)?,
        );
        offer_rows.extend(
            decisions::table
                .filter(decisions::merchant_id.eq_any(chunk))
                .filter(decisions::outcome.eq("offer"))
                .select((
                    decisions::merchant_id,
                    decisions::created_at,
                    decisions::terms,
                ))
                .load::<(String, String, Option<String>)>(conn)?,
        );
    }
    let authorized = firsts(consent_rows);
    let (accepted, bank_outcome) = answers(conn, &app_rows)?;
    let offered = firsts(offer_rows.iter().map(|(m, at, _)| (m.clone(), at.clone())));
    // Each merchant's latest offer counts toward the amount.
    let mut latest: HashMap<&str, (&str, i64)> = HashMap::new();
    for (m, at, terms) in &offer_rows {
        let amount = terms
            .as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .and_then(|v| {
                v.get("max_amount_cents")
                    .and_then(serde_json::Value::as_i64)
            })
            .unwrap_or(0);
        let e = latest.entry(m).or_insert((at, amount));
        if at.as_str() > e.0 {
            *e = (at, amount);
        }
    }
    let offers_count = viewer.figure(latest.len() as i64, true);
    // The sum of fewer than five offers would tell one merchant's amount.
    let offers_total_cents = offers_count
        .exact()
        .map(|_| latest.values().map(|(_, a)| a).sum());

    let week = timestamp(week_start(now));
    let s = |key, zh, en, outcome| Step {
        key,
        zh,
        en,
        outcome,
    };
    let funnel = vec![
        step(
            viewer,
            s("stalls", "在用摊位", "Active stalls", false),
            Some(&active),
            &week,
        ),
        step(
            viewer,
            s(
                "scanned",
                "扫码并获取验证码",
                "Scanned and asked for a code",
                false,
            ),
            Some(&scanned),
            &week,
        ),
        step(
            viewer,
            s("logged_in", "登录", "Logged in", false),
            Some(&logged_in),
            &week,
        ),
        step(
            viewer,
            s("authorized", "签署授权", "Authorized", false),
            Some(&authorized),
            &week,
        ),
        step(
            viewer,
            s("offered", "获得预授信", "Pre-credit offered", true),
            Some(&offered),
            &week,
        ),
        step(
            viewer,
            s("accepted", "接受推荐", "Accepted", true),
            Some(&accepted),
            &week,
        ),
        step(
            viewer,
            s("bank_outcome", "银行放款结果", "Bank outcome", true),
            Some(&bank_outcome),
            &week,
        ),
    ];

    let this_monday = week_start(now);
    let weekly = (0..WEEKS)
        .rev()
        .map(|i| {
            let from = this_monday - Duration::weeks(i);
            let (a, b) = (timestamp(from), timestamp(from + Duration::weeks(1)));
            let within = |f: &HashMap<String, String>| {
                f.values()
                    .filter(|at| at.as_str() >= a.as_str() && at.as_str() < b.as_str())
                    .count() as i64
            };
            WeekActivity {
                week_start: china_day(from).to_string(),
                logged_in: within(&logged_in),
                authorized: within(&authorized),
                offered: viewer.figure(within(&offered), true),
            }
        })
        .collect();

    let percent =
        |n: usize, d: usize| (d > 0).then(|| format!("{:.1}%", n as f64 * 100.0 / d as f64));
    let targets = vec![
        TargetFigure {
            key: "registration_rate".into(),
            label_zh: "注册率（登录商户 / 在用摊位）".into(),
            label_en: "Registration rate (merchants logged in / active stalls)".into(),
            target: "20%".into(),
            actual: percent(logged_in.len(), active.len()),
        },
        TargetFigure {
            key: "credit_obtained".into(),
            label_zh: "获得预授信（获授信商户 / 登录商户）".into(),
            label_en: "Credit obtained (merchants offered / logged in)".into(),
            target: "—".into(),
            actual: viewer
                .figure(offered.len() as i64, true)
                .exact()
                .and_then(|_| percent(offered.len(), logged_in.len())),
        },
        TargetFigure {
            key: "npl_ratio".into(),
            label_zh: "不良率".into(),
            label_en: "Non-performing ratio".into(),
            target: "< 1.2%".into(),
            actual: None,
        },
    ];

    let merchants = match market_id {
        Some(_) => merchant_statuses(conn, viewer, &logged_in, &authorized)?,
        None => Vec::new(),
    };

    Ok(Dashboard {
        merchants,
        market_id: market_id.map(str::to_owned),
        market_name,
        generated_at: timestamp(now),
        week_start: china_day(this_monday).to_string(),
        funnel,
        offers_count,
        offers_total_cents,
        suppressed: viewer == Viewer::Manager,
        weekly,
        targets,
        stalls_active: active.len() as i64,
        stalls_inactive,
    })
}

type Firsts = HashMap<String, String>;

/// First acceptance and first recorded bank outcome per merchant, from the
/// merchants' applications `(id, merchant, status, updated_at)`.
fn answers(
    conn: &mut DbConn,
    apps: &[(String, String, String, String)],
) -> AppResult<(Firsts, Firsts)> {
    let merchant_of: HashMap<&str, &str> = apps
        .iter()
        .map(|(id, m, _, _)| (id.as_str(), m.as_str()))
        .collect();
    let app_ids: Vec<&str> = merchant_of.keys().copied().collect();
    let mut entries: Vec<(String, String, Option<String>, String)> = Vec::new();
    for chunk in app_ids.chunks(CHUNK) {
        entries.extend(
            pool_entries::table
                .filter(pool_entries::application_id.eq_any(chunk))
                .select((
                    pool_entries::application_id,
                    pool_entries::created_at,
                    pool_entries::outcome,
                    pool_entries::updated_at,
                ))
                .load::<(String, String, Option<String>, String)>(conn)?,
        );
    }
    let merchant = |app: &str| merchant_of.get(app).map(|m| (*m).to_owned());
    // Entries are made at the moment of acceptance; an application in the
    // pool without any (none today) counts from its last status change.
    let accepted = firsts(
        entries
            .iter()
            .filter_map(|(app, at, _, _)| Some((merchant(app)?, at.clone())))
            .chain(
                apps.iter()
                    .filter(|(_, _, status, _)| matches!(status.as_str(), "accepted" | "in_pool"))
                    .map(|(_, m, _, at)| (m.clone(), at.clone())),
            )
            .collect::<Vec<_>>(),
    );
    // The outcome is the entry's last change, so its time is `updated_at`.
    let outcome = firsts(
        entries
            .iter()
            .filter(|(_, _, outcome, _)| outcome.is_some())
            .filter_map(|(app, _, _, at)| Some((merchant(app)?, at.clone())))
            .collect::<Vec<_>>(),
    );
    Ok((accepted, outcome))
}

/// Where each logged-in merchant is: onboarding steps for a manager; an
/// operator also sees the latest decision's outcome.
fn merchant_statuses(
    conn: &mut DbConn,
    viewer: Viewer,
    logged_in: &HashMap<String, String>,
    authorized: &HashMap<String, String>,
) -> AppResult<Vec<MerchantStatus>> {
    let ids: Vec<&str> = logged_in.keys().map(String::as_str).collect();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, String, Option<String>, Option<String>)> = merchants::table
            .filter(merchants::id.eq_any(chunk))
            .select((
                merchants::id,
                merchants::mobile,
                merchants::stall_id,
                merchants::identity_verified_at,
            ))
            .load(conn)?;
        // The latest outcome of each (operators only; never even read for a manager).
        let mut outcomes: HashMap<String, (String, String)> = HashMap::new();
        if viewer == Viewer::Operator {
            let decided: Vec<(String, String, String)> = decisions::table
                .filter(decisions::merchant_id.eq_any(chunk))
                .select((
                    decisions::merchant_id,
                    decisions::created_at,
                    decisions::outcome,
                ))
                .load(conn)?;
            for (m, at, outcome) in decided {
                let e = outcomes
                    .entry(m)
                    .or_insert_with(|| (at.clone(), outcome.clone()));
                if at > e.0 {
                    *e = (at, outcome);
                }
            }
        }
        let stall_ids: Vec<&str> = rows.iter().filter_map(|r| r.2.as_deref()).collect();
        let numbers: HashMap<String, String> = stalls::table
            .filter(stalls::id.eq_any(&stall_ids))
            .select((stalls::id, stalls::number))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
        for (id, mobile, stall_id, verified) in rows {
            let stage = if let Some((_, outcome)) = outcomes.get(&id) {
                outcome.as_str()
            } else if authorized.contains_key(&id) {
                "authorized"
            } else if verified.is_some() {
                "verified"
            } else {
                "logged_in"
            };
            let since = logged_in
                .get(&id)
                .and_then(|t| crate::db::parse_timestamp(t))
                .map(|t| china_day(t).to_string())
                .unwrap_or_default();
            out.push(MerchantStatus {
                stall_number: stall_id.and_then(|s| numbers.get(&s).cloned()),
                mobile_masked: shared::ids::MobileNumber::parse(&mobile)
                    .map(|m| m.masked())
                    .unwrap_or_default(),
                stage: stage.to_owned(),
                since,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.stall_number.as_deref(), &a.since).cmp(&(b.stall_number.as_deref(), &b.since))
    });
    Ok(out)
}

/// The dashboard as a spreadsheet (UTF-8 with BOM, for Excel).
pub fn to_csv(d: &Dashboard) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let _ = w.write_record(["指标", "Step", "累计", "本周"]);
    for s in &d.funnel {
        let (t, wk) = if s.tracked {
            (s.total.shown(), s.this_week.shown())
        } else {
            ("—".to_owned(), "—".to_owned())
        };
        let _ = w.write_record([s.label_zh.as_str(), s.label_en.as_str(), &t, &wk]);
    }
    let _ = w.write_record([
        "预授信总额（元）",
        "Offered amount (yuan)",
        &d.offers_total_cents
            .map(shared::manager::format_yuan)
            .unwrap_or_else(|| format!("（不足{SMALL_CELL}笔，不显示）")),
        "",
    ]);
    let _ = w.write_record(["", "", "", ""]);
    let _ = w.write_record(["周（周一）", "Week (Monday)", "登录/授权/预授信", ""]);
    for wk in &d.weekly {
        let _ = w.write_record([
            wk.week_start.as_str(),
            "",
            &format!("{}/{}/{}", wk.logged_in, wk.authorized, wk.offered.shown()),
            "",
        ]);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_in_china() {
        // Thursday 2026-11-26 13:00 UTC → Monday 2026-11-23 00:00 CST.
        let t = DateTime::parse_from_rfc3339("2026-11-26T13:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(timestamp(week_start(t)), "2026-11-22T16:00:00.000Z");
        // Sunday 23:30 CST still belongs to the week before.
        let t = DateTime::parse_from_rfc3339("2026-11-22T15:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(timestamp(week_start(t)), "2026-11-15T16:00:00.000Z");
    }
}
