//! After signing: the decision as the merchant sees it (with the chosen
//! banks, how long an offer holds, when to try again), accepting an offer
//! into the candidate pool (one entry per chosen bank), the application's
//! status, and where a returning merchant continues. Scoped by merchant in
//! every query; another merchant's object is a 404.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::consent::{
    ApplicationRequest, ApplicationView, MerchantDecision, NextStep, OFFER_VALID_DAYS,
    PoolEntryView, RETRY_AFTER_DAYS, SignRequest, SignResponse,
};
use shared::decision::Outcome;

use crate::auth::idempotency::{self, Claim, Reply};
use crate::auth::keys::FieldCipher;
use crate::connectors::Consent;
use crate::db::schema::{applications, banks, consents, decisions as decision_rows, pool_entries};
use crate::db::{DbConn, new_id, timestamp};
use crate::decisions::{self, Subject};
use crate::error::{AppError, AppResult};
use crate::services::audit::{audit, merchant_actor};
use crate::services::consent::{self, ClientInfo};
use crate::services::identity;

/// Reads the merchant's data under `consent_id` and decides. Nothing is
/// read unless the merchant's verified person is still the registry's
/// operator of their business, and a consent that names another business or
/// person (the profile changed since it was signed) is refused here, audited,
/// with no read at all. A consent that is withdrawn or expired is refused by
/// the connectors (403, logged).
pub fn decide(
    conn: &mut DbConn,
    merchant_id: &str,
    consent_id: &str,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> AppResult<MerchantDecision> {
    let subject = identity::verified_subject(conn, merchant_id, request_id)?;
    let named: Option<(Option<String>, Option<String>)> = consents::table
        .filter(consents::id.eq(consent_id))
        .filter(consents::merchant_id.eq(merchant_id))
        .select((consents::subject_uscc, consents::person_index))
        .first(conn)
        .optional()?;
    if let Some((uscc, person)) = named
        && (uscc.as_deref() != Some(subject.uscc.as_str())
            || person.as_deref() != Some(subject.person_index.as_str()))
    {
        audit(
            conn,
            &merchant_actor(merchant_id),
            "decision.refused",
            "consent",
            Some(consent_id),
            None,
            json!({ "reason": "consent_subject_changed" }),
            request_id,
        )?;
        return Err(AppError::conflict(
            "consent_subject_changed",
            "这份授权书不是为您现在填写的营业执照签署的，请重新签署授权书",
            "This authorization was not signed for the business now in your details; please sign a new one",
        ));
    }
    let stored = decisions::decide_for(
        conn,
        &merchant_actor(merchant_id),
        merchant_id,
        Some(consent_id),
        &Subject {
            uscc: &subject.uscc,
            person_index: Some(&subject.person_index),
            birth_date: subject.birth_date,
        },
        now,
    )?;
    audit(
        conn,
        &merchant_actor(merchant_id),
        "decision.made",
        "decision",
        Some(&stored.id),
        None,
        json!({ "consent_id": consent_id, "outcome": stored.view.outcome.as_str() }),
        request_id,
    )?;
    merchant_decision(conn, merchant_id, &stored.id)
}

fn day_plus(day: &str, days: u32) -> Option<String> {
    let d = day.parse::<NaiveDate>().ok()?;
    Some((d + Duration::days(i64::from(days))).to_string())
}

/// A decision of the merchant's, with its banks and application.
pub fn merchant_decision(
    conn: &mut DbConn,
    merchant_id: &str,
    decision_id: &str,
) -> AppResult<MerchantDecision> {
    let view = decisions::load_view(conn, merchant_id, decision_id)?;
    let consent_id: Option<String> = decision_rows::table
        .filter(decision_rows::id.eq(decision_id))
        .filter(decision_rows::merchant_id.eq(merchant_id))
        .select(decision_rows::consent_id)
        .first(conn)?;
    let bank_ids: Vec<String> = match &consent_id {
        Some(id) => {
            let ids: Option<String> = consents::table
                .filter(consents::id.eq(id))
                .filter(consents::merchant_id.eq(merchant_id))
                .select(consents::bank_ids)
                .first(conn)
                .optional()?;
            ids.and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let banks = consent::banks_for_grade(conn, &bank_ids, view.grade.as_str())?;
    let application = application_for_decision(conn, merchant_id, decision_id)?;
    Ok(MerchantDecision {
        valid_until: (view.outcome == Outcome::Offer)
            .then(|| day_plus(&view.decided_on, OFFER_VALID_DAYS))
            .flatten(),
        retry_after: (view.outcome == Outcome::Decline)
            .then(|| day_plus(&view.decided_on, RETRY_AFTER_DAYS))
            .flatten(),
        view,
        consent_id,
        banks,
        application,
    })
}

/// The merchant's most recent decision, if any.
pub fn latest_decision(
    conn: &mut DbConn,
    merchant_id: &str,
) -> AppResult<Option<MerchantDecision>> {
    let id: Option<String> = decision_rows::table
        .filter(decision_rows::merchant_id.eq(merchant_id))
        .order(decision_rows::created_at.desc())
        .select(decision_rows::id)
        .first(conn)
        .optional()?;
    id.map(|id| merchant_decision(conn, merchant_id, &id))
        .transpose()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = applications)]
struct AppRow {
    id: String,
    decision_id: String,
    consent_id: String,
    status: String,
    created_at: String,
    updated_at: String,
}

fn view_of(conn: &mut DbConn, row: AppRow) -> AppResult<ApplicationView> {
    let rows: Vec<(String, String, Option<String>, Option<String>)> = pool_entries::table
        .filter(pool_entries::application_id.eq(&row.id))
        .select((
            pool_entries::bank_id,
            pool_entries::status,
            pool_entries::contacted_at,
            pool_entries::outcome,
        ))
        .load(conn)?;
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let names: Vec<(String, String)> = banks::table
        .filter(banks::id.eq_any(ids))
        .order(banks::name)
        .select((banks::id, banks::short_name))
        .load(conn)?;
    let mut rows: Vec<_> = rows
        .into_iter()
        .map(|(bank_id, status, contacted_at, outcome)| {
            let pos = names.iter().position(|(id, _)| *id == bank_id);
            let bank_name = pos.map(|p| names[p].1.clone()).unwrap_or_default();
            (pos, bank_id, status, contacted_at, outcome, bank_name)
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    Ok(ApplicationView {
        entries: rows
            .into_iter()
            .map(
                |(_, bank_id, status, contacted_at, outcome, bank_name)| PoolEntryView {
                    bank_id,
                    bank_name,
                    status,
                    contacted_at,
                    outcome,
                },
            )
            .collect(),
        id: row.id,
        decision_id: row.decision_id,
        consent_id: row.consent_id,
        status: row.status,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn application_for_decision(
    conn: &mut DbConn,
    merchant_id: &str,
    decision_id: &str,
) -> AppResult<Option<ApplicationView>> {
    let row = applications::table
        .filter(applications::decision_id.eq(decision_id))
        .filter(applications::merchant_id.eq(merchant_id))
        .select(AppRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| view_of(conn, r)).transpose()
}

pub fn application(conn: &mut DbConn, merchant_id: &str, id: &str) -> AppResult<ApplicationView> {
    let row = applications::table
        .filter(applications::id.eq(id))
        .filter(applications::merchant_id.eq(merchant_id))
        .select(AppRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    view_of(conn, row)
}

/// The merchant's most recent application, if any.
pub fn latest_application(
    conn: &mut DbConn,
    merchant_id: &str,
) -> AppResult<Option<ApplicationView>> {
    let row = applications::table
        .filter(applications::merchant_id.eq(merchant_id))
        .order(applications::created_at.desc())
        .select(AppRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| view_of(conn, r)).transpose()
}

/// Signs the letter, then reads the data under the new consent and decides:
/// the merchant gets the answer in the same round trip. Once per
/// `Idempotency-Key`.
pub fn sign_and_decide(
    conn: &mut DbConn,
    fields: &FieldCipher,
    merchant_id: &str,
    req: &SignRequest,
    client: &ClientInfo,
    key: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<Reply> {
    let mut banks = req.bank_ids.clone();
    banks.sort();
    let claim = Claim::new(
        format!("consent:{merchant_id}"),
        key,
        &[
            &req.letter_version,
            &req.text_sha256,
            &banks.join(","),
            &req.language,
        ],
    );
    idempotency::once(conn, fields, &claim, |conn| {
        let subject = identity::verified_subject(conn, merchant_id, request_id)?;
        let sig = consent::validate(conn, req)?;
        let now = Utc::now();
        let signed = consent::sign(conn, merchant_id, &subject, &sig, client, now, request_id)?;
        let decision = decide(conn, merchant_id, &signed.id, now, request_id)?;
        Reply::ok(&SignResponse {
            consent: signed,
            decision,
        })
    })
}

/// [`answer`], once per `Idempotency-Key`.
pub fn answer_once(
    conn: &mut DbConn,
    fields: &FieldCipher,
    merchant_id: &str,
    req: &ApplicationRequest,
    key: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<Reply> {
    let accept = req.accept.to_string();
    let claim = Claim::new(
        format!("application:{merchant_id}"),
        key,
        &[&req.decision_id, &accept],
    );
    idempotency::once(conn, fields, &claim, |conn| {
        Reply::ok(&answer(conn, merchant_id, req, Utc::now(), request_id)?)
    })
}

/// Accepts an offer into the pool ("not now" when `accept` is false). One
/// application per decision: a repeat returns it unchanged, except that a
/// "not now" can later become an acceptance while the offer holds.
pub fn answer(
    conn: &mut DbConn,
    merchant_id: &str,
    req: &ApplicationRequest,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> AppResult<ApplicationView> {
    let result = crate::db::write_transaction(conn, |conn| {
        answer_in(conn, merchant_id, req, now, request_id)
    });
    match result {
        // A concurrent twin created it first (PostgreSQL; SQLite serializes writers).
        Err(e) if e.code() == "application_exists" => {
            application_for_decision(conn, merchant_id, &req.decision_id)?
                .ok_or_else(|| AppError::internal("application vanished"))
        }
        other => other,
    }
}

fn answer_in(
    conn: &mut DbConn,
    merchant_id: &str,
    req: &ApplicationRequest,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> AppResult<ApplicationView> {
    let (consent_id, outcome, decided_on): (Option<String>, String, String) = decision_rows::table
        .filter(decision_rows::id.eq(&req.decision_id))
        .filter(decision_rows::merchant_id.eq(merchant_id))
        .select((
            decision_rows::consent_id,
            decision_rows::outcome,
            decision_rows::decided_on,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    let existing = applications::table
        .filter(applications::decision_id.eq(&req.decision_id))
        .filter(applications::merchant_id.eq(merchant_id))
        .select(AppRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = &existing
        && !(req.accept && row.status == "declined_by_merchant")
    {
        let row = applications::table
            .find(&row.id)
            .select(AppRow::as_select())
            .first(conn)?;
        return view_of(conn, row);
    }
    if outcome != Outcome::Offer.as_str() {
        return Err(AppError::conflict(
            "not_an_offer",
            "该评估结果不是授信邀请，无法推荐给银行",
            "This result is not an offer, so it cannot go to the banks",
        ));
    }
    let last_day = day_plus(&decided_on, OFFER_VALID_DAYS).unwrap_or_default();
    if req.accept && crate::clock::china_day(now).to_string() > last_day {
        return Err(AppError::conflict(
            "offer_expired",
            "该预授信已过有效期，请重新评估",
            "This offer has lapsed; please ask for a new assessment",
        ));
    }
    let consent_id = consent_id.ok_or_else(AppError::not_found)?;
    let c: Consent = consents::table
        .filter(consents::id.eq(&consent_id))
        .filter(consents::merchant_id.eq(merchant_id))
        .select(Consent::as_select())
        .first(conn)?;
    let status = consent::status_of(&c, now);
    if status != "active" {
        return Err(consent::not_in_force(status));
    }
    // Signed before the real-name check: it proves no one's identity, so
    // nothing under it goes to a bank.
    if c.person_index.is_none() {
        return Err(identity::identity_unverified());
    }
    let at = timestamp(now);
    let new_status = if req.accept {
        "in_pool"
    } else {
        "declined_by_merchant"
    };
    let id = match existing {
        Some(row) => {
            diesel::update(applications::table.find(&row.id))
                .set((
                    applications::status.eq(new_status),
                    applications::updated_at.eq(&at),
                ))
                .execute(conn)?;
            row.id
        }
        None => {
            let id = new_id("app");
            let inserted = diesel::insert_into(applications::table)
                .values((
                    applications::id.eq(&id),
                    applications::merchant_id.eq(merchant_id),
                    applications::decision_id.eq(&req.decision_id),
                    applications::consent_id.eq(&consent_id),
                    applications::status.eq(new_status),
                    applications::created_at.eq(&at),
                    applications::updated_at.eq(&at),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => id,
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {
                    return Err(AppError::conflict(
                        "application_exists",
                        "已提交",
                        "Already submitted",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let bank_ids: Vec<String> = serde_json::from_str(&c.bank_ids).unwrap_or_default();
    if req.accept {
        // One row at a time: MultiConnection cannot batch-insert on SQLite.
        for bank_id in &bank_ids {
            diesel::insert_into(pool_entries::table)
                .values((
                    pool_entries::id.eq(new_id("pen")),
                    pool_entries::application_id.eq(&id),
                    pool_entries::bank_id.eq(bank_id),
                    pool_entries::status.eq("waiting"),
                    pool_entries::created_at.eq(&at),
                    pool_entries::updated_at.eq(&at),
                ))
                .execute(conn)?;
        }
    }
    audit(
        conn,
        &merchant_actor(merchant_id),
        if req.accept {
            "application.in_pool"
        } else {
            "application.not_now"
        },
        "application",
        Some(&id),
        None,
        json!({
            "decision_id": req.decision_id,
            "consent_id": consent_id,
            "banks": if req.accept { bank_ids.len() } else { 0 },
        }),
        request_id,
    )?;
    application(conn, merchant_id, &id)
}

/// Where a returning merchant continues.
pub fn next_step(
    conn: &mut DbConn,
    merchant_id: &str,
    profile_complete: bool,
    now: DateTime<Utc>,
) -> AppResult<NextStep> {
    if !profile_complete {
        return Ok(NextStep::Profile);
    }
    let Ok(subject) = identity::verified_subject(conn, merchant_id, None) else {
        return Ok(NextStep::Profile);
    };
    let Some(c) = consent::active(conn, merchant_id, &subject, now)? else {
        return Ok(NextStep::Authorize);
    };
    let in_pool: i64 = applications::table
        .filter(applications::merchant_id.eq(merchant_id))
        .filter(applications::consent_id.eq(&c.id))
        .filter(applications::status.eq("in_pool"))
        .count()
        .get_result(conn)?;
    if in_pool > 0 {
        return Ok(NextStep::Application);
    }
    let decided: i64 = decision_rows::table
        .filter(decision_rows::merchant_id.eq(merchant_id))
        .filter(decision_rows::consent_id.eq(&c.id))
        .count()
        .get_result(conn)?;
    Ok(if decided > 0 {
        NextStep::Decision
    } else {
        NextStep::Authorize
    })
}
