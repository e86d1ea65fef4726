//! Who is calling: the session extractors (merchant, staff), the session
//! cookies they read and the handlers set, and the same-origin check that
//! every state-changing request passes first.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};

use crate::auth::origin;
use crate::auth::session::{self, MerchantSession};
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult};
use crate::services::staff::{self, StaffSession};
use crate::state::AppState;

/// The two session cookies: same attributes, own names and lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCookie {
    Merchant,
    Staff,
}

impl SessionCookie {
    pub fn name(self) -> &'static str {
        match self {
            Self::Merchant => session::COOKIE_NAME,
            Self::Staff => staff::COOKIE_NAME,
        }
    }

    fn max_age_seconds(self) -> i64 {
        3600 * match self {
            Self::Merchant => session::SESSION_HOURS,
            Self::Staff => staff::SESSION_HOURS,
        }
    }

    /// `Set-Cookie` for a new session. Path `/api`: only API calls need it.
    pub fn set(self, token: &str, secure: bool) -> HeaderValue {
        cookie(self.name(), token, self.max_age_seconds(), secure)
    }

    /// `Set-Cookie` that removes it.
    pub fn clear(self, secure: bool) -> HeaderValue {
        cookie(self.name(), "", 0, secure)
    }

    /// The token in this cookie, if any (and not absurdly long).
    pub fn token(self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == self.name())
            .map(|(_, value)| value.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 64)
    }
}

fn cookie(name: &str, token: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={token}; Path=/api; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("name and token are ascii")
}

/// Extracting this refuses a cross-site state-changing request (403). The
/// session extractors check it too.
pub struct SameOrigin;

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        origin::check(&parts.method, &parts.headers, &state.auth.public_origin)?;
        Ok(Self)
    }
}

/// Refuses a request without a live merchant session (401) and a cross-site
/// state-changing request (403).
impl FromRequestParts<AppState> for MerchantSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        live_session(parts, state, SessionCookie::Merchant, session::find).await
    }
}

/// Refuses a request without a live staff session or from an inactive
/// account (401), and a cross-site state-changing request (403).
impl FromRequestParts<AppState> for StaffSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        live_session(parts, state, SessionCookie::Staff, staff::session).await
    }
}

/// The same-origin check, then the session named by `cookie`, looked up by
/// `find` (token, now).
async fn live_session<T: Send + 'static>(
    parts: &Parts,
    state: &AppState,
    cookie: SessionCookie,
    find: fn(&mut DbConn, &str, DateTime<Utc>) -> AppResult<Option<T>>,
) -> Result<T, AppError> {
    origin::check(&parts.method, &parts.headers, &state.auth.public_origin)?;
    let token = cookie
        .token(&parts.headers)
        .ok_or_else(AppError::unauthorized)?;
    let found = db::run(&state.pool, move |conn| find(conn, &token, Utc::now())).await?;
    found.ok_or_else(AppError::unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let c = SessionCookie::Merchant.set("abc", true);
        let c = c.to_str().unwrap();
        for attr in [
            "mc_session=abc",
            "Path=/api",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=43200",
        ] {
            assert!(c.contains(attr), "{c} lacks {attr}");
        }
        let staff = SessionCookie::Staff.set("abc", false);
        let staff = staff.to_str().unwrap();
        assert!(staff.starts_with("mc_staff=abc;") && staff.contains("Max-Age=36000"));
        assert!(!staff.contains("Secure"));
        let cleared = SessionCookie::Merchant.clear(false);
        assert!(cleared.to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn token_is_found_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; mc_session=tok; mc_staff=st; b=2"),
        );
        assert_eq!(SessionCookie::Merchant.token(&h).as_deref(), Some("tok"));
        assert_eq!(SessionCookie::Staff.token(&h).as_deref(), Some("st"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("xmc_session=tok"));
        assert_eq!(SessionCookie::Merchant.token(&h), None);
        assert_eq!(SessionCookie::Merchant.token(&HeaderMap::new()), None);
    }
}
