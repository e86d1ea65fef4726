//! Merchant sessions: a 128-bit random token in an HttpOnly, SameSite=Strict
//! cookie (set and read in `request::session`); the database keeps only its
//! SHA-256, so a copy of the table opens nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::sessions;
use crate::db::{DbConn, new_id, timestamp};
use crate::error::AppResult;

pub const COOKIE_NAME: &str = "mc_session";
/// A working day on a market floor; the merchant logs in again tomorrow.
pub const SESSION_HOURS: i64 = 12;

/// Shared with staff sessions (`services::staff`), which store tokens alike.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new 128-bit session token, base64url.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

pub struct NewSession {
    /// Goes into the cookie and nowhere else.
    pub token: String,
    pub expires_at: String,
}

pub fn create(conn: &mut DbConn, merchant_id: &str, now: DateTime<Utc>) -> AppResult<NewSession> {
    let token = new_token();
    let expires_at = timestamp(now + Duration::hours(SESSION_HOURS));
    // The merchant's expired sessions go as a new one comes: bounded
    // without a sweeper.
    diesel::delete(
        sessions::table
            .filter(sessions::merchant_id.eq(merchant_id))
            .filter(sessions::expires_at.le(timestamp(now))),
    )
    .execute(conn)?;
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(new_id("ses")),
            sessions::token_hash.eq(token_hash(&token)),
            sessions::merchant_id.eq(merchant_id),
            sessions::created_at.eq(timestamp(now)),
            sessions::expires_at.eq(&expires_at),
        ))
        .execute(conn)?;
    Ok(NewSession { token, expires_at })
}

/// A logged-in merchant: what the `request::MerchantSession` extractor
/// yields (it refuses a request without a live session).
#[derive(Debug, Clone)]
pub struct MerchantSession {
    pub session_id: String,
    pub merchant_id: String,
    pub expires_at: String,
}

/// The live session holding `token`, if any.
pub fn find(
    conn: &mut DbConn,
    token: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<MerchantSession>> {
    Ok(sessions::table
        .filter(sessions::token_hash.eq(token_hash(token)))
        .filter(sessions::expires_at.gt(timestamp(now)))
        .select((sessions::id, sessions::merchant_id, sessions::expires_at))
        .first::<(String, String, String)>(conn)
        .optional()?
        .map(|(session_id, merchant_id, expires_at)| MerchantSession {
            session_id,
            merchant_id,
            expires_at,
        }))
}

pub fn delete(conn: &mut DbConn, session_id: &str) -> AppResult<()> {
    diesel::delete(sessions::table.find(session_id)).execute(conn)?;
    Ok(())
}
