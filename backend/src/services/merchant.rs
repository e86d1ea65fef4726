//! Merchant use cases: log in (find or create the merchant, remember the
//! stall they scanned), read "me", read and save the profile (the business
//! the verified person applies for, and their answer to "这是我的摊位吗?").
//! The real-name check itself is `services::identity`. Every query is scoped
//! by the caller's merchant id in the query itself.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::ids::MobileNumber;
use shared::merchant::{MeResponse, Profile, RegisteredBusiness, ValidProfile};

use crate::auth::otp::LoginContext;
use crate::db::schema::{markets, merchants, stall_confirmations, stalls};
use crate::db::{DbConn, new_id, timestamp};
use crate::error::{AppError, AppResult};
use crate::services::audit::{audit, merchant_actor};

/// The merchant with this mobile number, created on first login. The stall
/// or market of the code scanned for this login replaces an earlier one: the
/// merchant is applying from there now.
pub fn login(conn: &mut DbConn, mobile: &str, context: &LoginContext) -> AppResult<String> {
    let now = timestamp(Utc::now());
    let find = |conn: &mut DbConn| {
        merchants::table
            .filter(merchants::mobile.eq(mobile))
            .select(merchants::id)
            .first::<String>(conn)
            .optional()
    };
    let id = match find(conn)? {
        Some(id) => id,
        None => {
            let id = new_id("mch");
            let inserted = diesel::insert_into(merchants::table)
                .values((
                    merchants::id.eq(&id),
                    merchants::mobile.eq(mobile),
                    merchants::created_at.eq(&now),
                    merchants::updated_at.eq(&now),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => id,
                // A concurrent first login of the same number made it.
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => find(conn)?.ok_or_else(|| AppError::internal("merchant vanished"))?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    if context.market_id.is_some() {
        diesel::update(merchants::table.find(&id))
            .set((
                merchants::stall_id.eq(&context.stall_id),
                merchants::market_id.eq(&context.market_id),
                merchants::updated_at.eq(&now),
            ))
            .execute(conn)?;
    }
    Ok(id)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = merchants)]
struct MerchantRow {
    id: String,
    mobile: String,
    name: Option<String>,
    resident_id_masked: Option<String>,
    birth_date: Option<String>,
    uscc: Option<String>,
    trade: Option<String>,
    years_in_business: Option<i32>,
    stall_id: Option<String>,
    market_id: Option<String>,
    profile_completed_at: Option<String>,
    resident_id_index: Option<String>,
    identity_verified_at: Option<String>,
    business_verified_at: Option<String>,
}

impl MerchantRow {
    fn identity_verified(&self) -> bool {
        self.identity_verified_at.is_some() && self.resident_id_index.is_some()
    }

    /// Verified person, verified business, profile saved.
    fn complete(&self) -> bool {
        self.identity_verified()
            && self.business_verified_at.is_some()
            && self.profile_completed_at.is_some()
    }
}

/// The merchant `wanted`, as seen by the merchant `caller`: the two must be
/// the same, in the query itself, so another merchant's id is a 404.
fn load(conn: &mut DbConn, caller: &str, wanted: &str) -> AppResult<MerchantRow> {
    merchants::table
        .filter(merchants::id.eq(wanted))
        .filter(merchants::id.eq(caller))
        .select(MerchantRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// Where the merchant scanned: the market and stall, and the stall's trade
/// (a prefill). Never the stall's holder or licence code: that would be
/// another person's.
struct Place {
    market_name: Option<String>,
    stall_number: Option<String>,
    stall_trade: Option<String>,
}

fn place(conn: &mut DbConn, row: &MerchantRow) -> AppResult<Place> {
    let market_name = match &row.market_id {
        Some(id) => markets::table
            .find(id)
            .select(markets::name)
            .first::<String>(conn)
            .optional()?,
        None => None,
    };
    let stall = match &row.stall_id {
        Some(id) => stalls::table
            .find(id)
            .select((stalls::number, stalls::trade))
            .first::<(String, String)>(conn)
            .optional()?,
        None => None,
    };
    let (stall_number, stall_trade) = stall.unzip();
    Ok(Place {
        market_name,
        stall_number,
        stall_trade,
    })
}

fn masked_mobile(mobile: &str) -> String {
    MobileNumber::parse(mobile)
        .map(|m| m.masked())
        .unwrap_or_else(|_| "***".to_owned())
}

pub fn me(conn: &mut DbConn, merchant_id: &str, session_expires_at: &str) -> AppResult<MeResponse> {
    let row = load(conn, merchant_id, merchant_id)?;
    let place = place(conn, &row)?;
    Ok(MeResponse {
        merchant_id: row.id.clone(),
        mobile_masked: masked_mobile(&row.mobile),
        profile_complete: row.complete(),
        market_name: place.market_name,
        stall_number: place.stall_number,
        session_expires_at: session_expires_at.to_owned(),
        next_step: crate::services::applications::next_step(
            conn,
            merchant_id,
            row.complete(),
            Utc::now(),
        )?,
        identity_verified: row.identity_verified(),
    })
}

/// The merchant's stored answer to "这是我的摊位吗?" for their stall, if any.
fn stall_answer(conn: &mut DbConn, row: &MerchantRow) -> AppResult<Option<bool>> {
    let Some(stall) = &row.stall_id else {
        return Ok(None);
    };
    let answers: Vec<Option<String>> = stall_confirmations::table
        .filter(stall_confirmations::merchant_id.eq(&row.id))
        .filter(stall_confirmations::stall_id.eq(stall))
        .select(stall_confirmations::withdrawn_at)
        .load(conn)?;
    Ok(if answers.is_empty() {
        None
    } else {
        Some(answers.iter().any(Option::is_none))
    })
}

/// Whole years from `registered_on` to today in China.
fn years_since(registered_on: &str) -> Option<u32> {
    let from: chrono::NaiveDate = registered_on.parse().ok()?;
    let today = crate::clock::china_day(Utc::now());
    today.years_since(from)
}

/// The profile. Before the first save the business is prefilled from the
/// registry's entry of the verified person's business (when there is one),
/// and the trade from the scanned stall.
pub fn profile(conn: &mut DbConn, caller: &str, wanted: &str) -> AppResult<Profile> {
    let row = load(conn, caller, wanted)?;
    let place = place(conn, &row)?;
    let businesses: Vec<RegisteredBusiness> = match (&row.resident_id_index, &row.name) {
        (Some(index), Some(name)) if row.identity_verified() => {
            crate::identity::registry::businesses_of(conn, index, name)?
        }
        _ => Vec::new(),
    };
    let saved = row.business_verified_at.is_some();
    // The one business the registry names this person the operator of.
    let only = match businesses.as_slice() {
        [b] if !saved => Some(b),
        _ => None,
    };
    let stall_confirmed = stall_answer(conn, &row)?;
    Ok(Profile {
        merchant_id: row.id.clone(),
        complete: row.complete(),
        mobile_masked: masked_mobile(&row.mobile),
        identity_verified: row.identity_verified(),
        name: row.name.clone(),
        resident_id_masked: row.resident_id_masked.clone(),
        birth_date: row.birth_date.clone(),
        uscc: if saved {
            row.uscc.clone()
        } else {
            only.map(|b| b.uscc.clone())
        },
        trade: row
            .trade
            .clone()
            .filter(|_| saved)
            .or_else(|| only.map(|b| b.trade.clone()))
            .or(place.stall_trade),
        years_in_business: row
            .years_in_business
            .filter(|_| saved)
            .and_then(|y| u32::try_from(y).ok())
            .or_else(|| only.and_then(|b| years_since(&b.registered_on))),
        market_name: place.market_name,
        stall_number: place.stall_number,
        businesses,
        stall_confirmed,
    })
}

/// Saves the business the verified person applies for, once the registry
/// names them its operator (else 403 `operator_mismatch`, audited, nothing
/// saved), and their answer to "这是我的摊位吗?" for the scanned stall.
pub fn save_profile(
    conn: &mut DbConn,
    merchant_id: &str,
    p: &ValidProfile,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> AppResult<Profile> {
    let person = crate::services::identity::person(conn, merchant_id)?;
    crate::services::identity::check_operator(
        conn,
        merchant_id,
        &person,
        p.uscc.as_str(),
        request_id,
    )?;
    let now_text = timestamp(now);
    crate::db::write_transaction(conn, |conn| {
        let row = load(conn, merchant_id, merchant_id)?;
        let first = row.profile_completed_at.is_none();
        diesel::update(merchants::table.find(merchant_id))
            .set((
                merchants::uscc.eq(p.uscc.as_str()),
                merchants::trade.eq(&p.trade),
                merchants::years_in_business.eq(p.years_in_business as i32),
                merchants::business_verified_at.eq(&now_text),
                merchants::profile_completed_at
                    .eq(row.profile_completed_at.clone().unwrap_or(now_text.clone())),
                merchants::updated_at.eq(&now_text),
            ))
            .execute(conn)?;
        audit(
            conn,
            &merchant_actor(merchant_id),
            if first {
                "merchant.profile_created"
            } else {
                "merchant.profile_updated"
            },
            "merchant",
            Some(merchant_id),
            row.market_id.as_deref(),
            json!({
                "fields": ["uscc", "trade", "years_in_business"],
                "uscc": p.uscc.as_str(),
                "individual_business": p.uscc.is_individual_business(),
            }),
            request_id,
        )?;
        if let (Some(stall_id), Some(answer)) = (&row.stall_id, p.stall_confirmed) {
            answer_stall(
                conn,
                &row,
                stall_id,
                p.uscc.as_str(),
                &person.index,
                answer,
                &now_text,
                request_id,
            )?;
        }
        AppResult::Ok(())
    })?;
    profile(conn, merchant_id, merchant_id)
}

/// Stores "这是我的摊位吗?": yes (once per stall, business and person) or
/// no (withdraws this merchant's earlier yes for the stall).
#[allow(clippy::too_many_arguments)]
fn answer_stall(
    conn: &mut DbConn,
    row: &MerchantRow,
    stall_id: &str,
    uscc: &str,
    person_index: &str,
    yes: bool,
    at: &str,
    request_id: Option<&str>,
) -> AppResult<()> {
    let live = stall_confirmations::table
        .filter(stall_confirmations::merchant_id.eq(&row.id))
        .filter(stall_confirmations::stall_id.eq(stall_id))
        .filter(stall_confirmations::withdrawn_at.is_null());
    if yes {
        let same: i64 = live
            .filter(stall_confirmations::uscc.eq(uscc))
            .filter(stall_confirmations::person_index.eq(person_index))
            .count()
            .get_result(conn)?;
        if same > 0 {
            return Ok(());
        }
        // A yes for another business (or person) before is replaced.
        diesel::update(live)
            .set(stall_confirmations::withdrawn_at.eq(at))
            .execute(conn)?;
        diesel::insert_into(stall_confirmations::table)
            .values((
                stall_confirmations::id.eq(new_id("scf")),
                stall_confirmations::stall_id.eq(stall_id),
                stall_confirmations::merchant_id.eq(&row.id),
                stall_confirmations::uscc.eq(uscc),
                stall_confirmations::person_index.eq(person_index),
                stall_confirmations::confirmed_at.eq(at),
            ))
            .execute(conn)?;
    } else {
        let withdrawn = diesel::update(live)
            .set(stall_confirmations::withdrawn_at.eq(at))
            .execute(conn)?;
        if withdrawn == 0 {
            return Ok(());
        }
    }
    audit(
        conn,
        &merchant_actor(&row.id),
        if yes {
            "stall.confirmed"
        } else {
            "stall.confirmation_withdrawn"
        },
        "stall",
        Some(stall_id),
        row.market_id.as_deref(),
        json!({ "uscc": uscc }),
        request_id,
    )
}
