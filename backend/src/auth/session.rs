//! Merchant sessions: a 128-bit random token in an HttpOnly, SameSite=Strict
//! cookie; the database keeps only its SHA-256, so a copy of the table opens
//! nothing.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::db::schema::sessions;
use crate::db::{self, DbConn, new_id, timestamp};
use crate::error::{AppError, AppResult};

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

/// `Set-Cookie` for a new session. Path `/api`: only API calls need it.
pub fn set_cookie(token: &str, secure: bool) -> HeaderValue {
    named_cookie(COOKIE_NAME, token, SESSION_HOURS * 3600, secure)
}

pub fn clear_cookie(secure: bool) -> HeaderValue {
    named_cookie(COOKIE_NAME, "", 0, secure)
}

/// A session cookie of any name (staff sessions use their own); an empty
/// token with `max_age` 0 clears it.
pub fn named_cookie(name: &str, token: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={token}; Path=/api; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("name and token are ascii")
}

/// The session token from the `Cookie` headers, if any.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    named_token_from(headers, COOKIE_NAME)
}

/// The token in the cookie called `name`, if any.
pub fn named_token_from(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

/// A logged-in merchant. Extracting it refuses a request without a live
/// session (401) and a cross-site state-changing request (403).
#[derive(Debug, Clone)]
pub struct MerchantSession {
    pub session_id: String,
    pub merchant_id: String,
    pub expires_at: String,
}

impl FromRequestParts<AppState> for MerchantSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        super::origin::check(&parts.method, &parts.headers, &state.auth.public_origin)?;
        let token = token_from(&parts.headers).ok_or_else(AppError::unauthorized)?;
        let hash = token_hash(&token);
        let now = timestamp(Utc::now());
        let found = db::run(&state.pool, move |conn| {
            Ok(sessions::table
                .filter(sessions::token_hash.eq(hash))
                .filter(sessions::expires_at.gt(now))
                .select((sessions::id, sessions::merchant_id, sessions::expires_at))
                .first::<(String, String, String)>(conn)
                .optional()?)
        })
        .await?;
        let (session_id, merchant_id, expires_at) = found.ok_or_else(AppError::unauthorized)?;
        Ok(Self {
            session_id,
            merchant_id,
            expires_at,
        })
    }
}

pub fn delete(conn: &mut DbConn, session_id: &str) -> AppResult<()> {
    diesel::delete(sessions::table.find(session_id)).execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let c = set_cookie("abc", true);
        let c = c.to_str().unwrap();
        for attr in [
            "mc_session=abc",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=43200",
        ] {
            assert!(c.contains(attr), "{c} lacks {attr}");
        }
        assert!(
            !set_cookie("abc", false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        assert!(clear_cookie(false).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn token_is_found_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; mc_session=tok; b=2"),
        );
        assert_eq!(token_from(&h).as_deref(), Some("tok"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("xmc_session=tok"));
        assert_eq!(token_from(&h), None);
        assert_eq!(token_from(&HeaderMap::new()), None);
    }
}
