//! The merchant's real-name check (实名认证) and the business they may apply
//! for. Two steps, each refused without storing anything unverified:
//!
//! 1. [`verify`]: the name and resident ID typed, with the mobile number the
//!    session logged in with, go to the [`RealNameCheck`]. Only a match is
//!    stored (the ID number encrypted, its blind index, its masked form);
//!    "no match" and "unavailable" are audited and store nothing.
//! 2. [`check_operator`] (run when the profile names a business, again when
//!    consent is signed, and before every decision): the registry must name
//!    the verified person the operator of that business. A mismatch is a
//!    403 with what to do, an audit row, and no credit read.
//!
//! Every query is scoped by the caller's merchant id.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::merchant::{Profile, ValidIdentity};

use crate::auth::keys::FieldCipher;
use crate::db::schema::merchants;
use crate::db::{DbConn, timestamp};
use crate::error::{AppError, AppResult};
use crate::identity::{RealNameAnswer, RealNameCheck, RealNameClaim, registry};
use crate::services::audit::{audit, merchant_actor};

/// Real-name checks one merchant may ask for in a day (China time): enough
/// for typos, too few to probe who owns which number, and each costs money.
pub const CHECKS_PER_DAY: i32 = 10;

pub fn no_match() -> AppError {
    AppError::unprocessable(
        "real_name_no_match",
        "实名认证未通过：姓名、身份证号与登录手机号不属于同一人。请核对后重试，并使用本人实名登记的手机号登录",
        "The real-name check failed: this name, resident ID number and the mobile number you logged in with do not belong to one person. Check them, and log in with a mobile number registered in your own name",
    )
}

pub fn unavailable() -> AppError {
    AppError::unavailable_as(
        "real_name_unavailable",
        "实名认证服务暂时无法使用，请稍后再试。您的信息未被保存",
        "The real-name check is not available right now; please try again later. Nothing was saved",
    )
}

pub fn operator_mismatch() -> AppError {
    AppError::forbidden(
        "operator_mismatch",
        "该营业执照登记的经营者与您的身份不一致，如需代办请联系市场管理处",
        "The registered operator of this business licence is not you. To apply on someone's behalf, please contact the market office",
    )
}

pub fn identity_unverified() -> AppError {
    AppError::conflict(
        "identity_unverified",
        "请先完成实名认证",
        "Please verify your identity first",
    )
}

/// Counts one real-name check against today's allowance: two conditional
/// UPDATEs whose row counts decide, so several server processes agree.
fn reserve_check(conn: &mut DbConn, merchant_id: &str, day: &str) -> AppResult<()> {
    // A new day starts from zero.
    diesel::update(
        merchants::table
            .filter(merchants::id.eq(merchant_id))
            .filter(
                merchants::identity_checks_day
                    .is_null()
                    .or(merchants::identity_checks_day.ne(day)),
            ),
    )
    .set((
        merchants::identity_checks_day.eq(day),
        merchants::identity_checks.eq(0),
    ))
    .execute(conn)?;
    let counted = diesel::update(
        merchants::table
            .filter(merchants::id.eq(merchant_id))
            .filter(merchants::identity_checks_day.eq(day))
            .filter(merchants::identity_checks.lt(CHECKS_PER_DAY)),
    )
    .set(merchants::identity_checks.eq(merchants::identity_checks + 1))
    .execute(conn)?;
    if counted == 1 {
        Ok(())
    } else {
        Err(AppError::too_many_requests(
            "real_name_checks_exhausted",
            "今天的实名认证次数已用完，请明天再试或联系市场管理处",
            "No more real-name checks today; please try again tomorrow or contact the market office",
        ))
    }
}

/// The real-name check of `person` against the merchant's login mobile.
/// A match stores the person (and, if it is another person than before,
/// forgets the business verified for the old one); anything else stores
/// nothing and is audited.
pub fn verify(
    conn: &mut DbConn,
    check: &dyn RealNameCheck,
    fields: &FieldCipher,
    merchant_id: &str,
    person: &ValidIdentity,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> AppResult<Profile> {
    let (mobile, market_id, old_index): (String, Option<String>, Option<String>) = merchants::table
        .filter(merchants::id.eq(merchant_id))
        .select((
            merchants::mobile,
            merchants::market_id,
            merchants::resident_id_index,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    reserve_check(conn, merchant_id, &crate::clock::china_day(now).to_string())?;
    // Outside any transaction: a real service answers over the network.
    let answer = check.check(&RealNameClaim {
        name: &person.name,
        resident_id: person.resident_id.expose(),
        mobile: &mobile,
    });
    let actor = merchant_actor(merchant_id);
    let detail = json!({ "result": answer.as_str(), "check": check.name() });
    match answer {
        RealNameAnswer::Match => {}
        RealNameAnswer::NoMatch | RealNameAnswer::Unavailable => {
            audit(
                conn,
                &actor,
                "identity.check_failed",
                "merchant",
                Some(merchant_id),
                market_id.as_deref(),
                detail,
                request_id,
            )?;
            return Err(if answer == RealNameAnswer::NoMatch {
                no_match()
            } else {
                unavailable()
            });
        }
    }
    let index = fields.blind_index(person.resident_id.expose());
    let at = timestamp(now);
    let same_person = old_index.as_deref() == Some(index.as_str());
    crate::db::write_transaction(conn, |conn| {
        diesel::update(merchants::table.find(merchant_id))
            .set((
                merchants::name.eq(&person.name),
                merchants::resident_id_enc
                    .eq(fields.encrypt(person.resident_id.expose(), merchant_id)),
                merchants::resident_id_masked.eq(person.resident_id.masked()),
                merchants::birth_date.eq(person.resident_id.birth_date().to_string()),
                merchants::resident_id_index.eq(&index),
                merchants::identity_verified_at.eq(&at),
                merchants::updated_at.eq(&at),
            ))
            .execute(conn)?;
        if !same_person {
            // Another person on this phone: nothing verified for the one
            // before carries over.
            diesel::update(merchants::table.find(merchant_id))
                .set((
                    merchants::business_verified_at.eq(None::<String>),
                    merchants::profile_completed_at.eq(None::<String>),
                ))
                .execute(conn)?;
        }
        audit(
            conn,
            &actor,
            "identity.verified",
            "merchant",
            Some(merchant_id),
            market_id.as_deref(),
            json!({ "result": answer.as_str(), "check": check.name(), "same_person": same_person }),
            request_id,
        )
    })?;
    crate::services::merchant::profile(conn, merchant_id, merchant_id)
}

/// The verified person of a merchant: blind index and name.
pub struct Person {
    pub index: String,
    pub name: String,
    pub birth_date: Option<NaiveDate>,
}

/// The merchant's verified person, or 409 `identity_unverified`.
pub fn person(conn: &mut DbConn, merchant_id: &str) -> AppResult<Person> {
    let row: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = merchants::table
        .filter(merchants::id.eq(merchant_id))
        .select((
            merchants::resident_id_index,
            merchants::name,
            merchants::birth_date,
            merchants::identity_verified_at,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    match row {
        (Some(index), Some(name), birth, Some(_)) => Ok(Person {
            index,
            name,
            birth_date: birth.and_then(|b| b.parse().ok()),
        }),
        _ => Err(identity_unverified()),
    }
}

/// Whether the registry names `person` the operator of `uscc`; when not,
/// the refusal is audited (it may be someone trying another's business)
/// and returned as 403 `operator_mismatch`. Call it outside a transaction
/// that the refusal rolls back.
pub fn check_operator(
    conn: &mut DbConn,
    merchant_id: &str,
    person: &Person,
    uscc: &str,
    request_id: Option<&str>,
) -> AppResult<()> {
    if registry::is_operator(conn, uscc, &person.index, &person.name)? {
        return Ok(());
    }
    let market_id: Option<String> = merchants::table
        .find(merchant_id)
        .select(merchants::market_id)
        .first(conn)?;
    audit(
        conn,
        &merchant_actor(merchant_id),
        "identity.operator_mismatch",
        "merchant",
        Some(merchant_id),
        market_id.as_deref(),
        json!({ "uscc": uscc }),
        request_id,
    )?;
    Err(operator_mismatch())
}

/// What a consent and a decision are for: the verified person's verified
/// business, as the registry still has it.
pub struct VerifiedSubject {
    pub uscc: String,
    pub person_index: String,
    pub birth_date: Option<NaiveDate>,
}

/// The merchant's verified subject: 409 `identity_unverified` or
/// `profile_incomplete` before the two steps, 403 `operator_mismatch` (and
/// an audit row) when the registry no longer names the person.
pub fn verified_subject(
    conn: &mut DbConn,
    merchant_id: &str,
    request_id: Option<&str>,
) -> AppResult<VerifiedSubject> {
    let person = person(conn, merchant_id)?;
    let (uscc, verified): (Option<String>, Option<String>) = merchants::table
        .filter(merchants::id.eq(merchant_id))
        .select((merchants::uscc, merchants::business_verified_at))
        .first(conn)?;
    let (Some(uscc), Some(_)) = (uscc, verified) else {
        return Err(AppError::conflict(
            "profile_incomplete",
            "请先填写经营信息，再签署授权书",
            "Please complete your business details before signing",
        ));
    };
    check_operator(conn, merchant_id, &person, &uscc, request_id)?;
    Ok(VerifiedSubject {
        uscc,
        person_index: person.index,
        birth_date: person.birth_date,
    })
}
