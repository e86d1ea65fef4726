//! Merchant use cases: log in (find or create the merchant, remember the
//! stall they scanned), read "me", read and save the profile. Every query is
//! scoped by the caller's merchant id in the query itself.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::ids::MobileNumber;
use shared::merchant::{MeResponse, Profile, ValidProfile};

use crate::auth::keys::FieldCipher;
use crate::auth::otp::LoginContext;
use crate::db::schema::{markets, merchants, stalls};
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

struct Place {
    market_name: Option<String>,
    stall_number: Option<String>,
    stall_uscc: Option<String>,
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
            .select((stalls::number, stalls::uscc, stalls::trade))
            .first::<(String, Option<String>, String)>(conn)
            .optional()?,
        None => None,
    };
    let (stall_number, stall_uscc, stall_trade) = match stall {
        Some((n, u, t)) => (Some(n), u, Some(t)),
        None => (None, None, None),
    };
    Ok(Place {
        market_name,
        stall_number,
        stall_uscc,
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
        merchant_id: row.id,
        mobile_masked: masked_mobile(&row.mobile),
        profile_complete: row.profile_completed_at.is_some(),
        market_name: place.market_name,
        stall_number: place.stall_number,
        session_expires_at: session_expires_at.to_owned(),
        next_step: crate::services::applications::next_step(
            conn,
            merchant_id,
            row.profile_completed_at.is_some(),
            Utc::now(),
        )?,
    })
}

/// The profile; before the first save, prefilled from the scanned stall.
pub fn profile(conn: &mut DbConn, caller: &str, wanted: &str) -> AppResult<Profile> {
    let row = load(conn, caller, wanted)?;
    let place = place(conn, &row)?;
    let complete = row.profile_completed_at.is_some();
    Ok(Profile {
        merchant_id: row.id,
        complete,
        mobile_masked: masked_mobile(&row.mobile),
        name: row.name,
        resident_id_masked: row.resident_id_masked,
        birth_date: row.birth_date,
        uscc: row.uscc.or(if complete { None } else { place.stall_uscc }),
        trade: row
            .trade
            .or(if complete { None } else { place.stall_trade }),
        years_in_business: row.years_in_business.and_then(|y| u32::try_from(y).ok()),
        market_name: place.market_name,
        stall_number: place.stall_number,
    })
}

/// Saves a validated profile. The ID number is stored encrypted (bound to
/// the merchant's id) plus its masked form; the audit row names the fields
/// saved, never their values.
pub fn save_profile(
    conn: &mut DbConn,
    fields: &FieldCipher,
    merchant_id: &str,
    p: &ValidProfile,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> AppResult<Profile> {
    let now_text = timestamp(now);
    crate::db::write_transaction(conn, |conn| {
        let row = load(conn, merchant_id, merchant_id)?;
        diesel::update(merchants::table.find(merchant_id))
            .set((
                merchants::name.eq(&p.name),
                merchants::resident_id_enc.eq(fields.encrypt(p.resident_id.expose(), merchant_id)),
                merchants::resident_id_masked.eq(p.resident_id.masked()),
                merchants::birth_date.eq(p.resident_id.birth_date().to_string()),
                merchants::uscc.eq(p.uscc.as_str()),
                merchants::trade.eq(&p.trade),
                merchants::years_in_business.eq(p.years_in_business as i32),
                merchants::profile_completed_at
                    .eq(row.profile_completed_at.clone().unwrap_or(now_text.clone())),
                merchants::updated_at.eq(&now_text),
            ))
            .execute(conn)?;
        audit(
            conn,
            &merchant_actor(merchant_id),
            if row.profile_completed_at.is_some() {
                "merchant.profile_updated"
            } else {
                "merchant.profile_created"
            },
            "merchant",
            Some(merchant_id),
            row.market_id.as_deref(),
            json!({
                "fields": ["name", "resident_id", "uscc", "trade", "years_in_business"],
                "individual_business": p.uscc.is_individual_business(),
            }),
            request_id,
        )?;
        AppResult::Ok(())
    })?;
    profile(conn, merchant_id, merchant_id)
}

/// The full resident ID number, for the credit connectors (under a valid
/// authorization only). `None` before the profile is saved.
pub fn resident_id(
    conn: &mut DbConn,
    fields: &FieldCipher,
    merchant_id: &str,
) -> AppResult<Option<String>> {
    let enc: Option<String> = merchants::table
        .find(merchant_id)
        .select(merchants::resident_id_enc)
        .first(conn)?;
    match enc {
        None => Ok(None),
        Some(enc) => fields
            .decrypt(&enc, merchant_id)
            .map(Some)
            .ok_or_else(|| AppError::internal("a resident ID does not decrypt with the field key")),
    }
}
