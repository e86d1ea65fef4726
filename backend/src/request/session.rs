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
    /// The cookie's name: with the `__Host-` prefix when the public URL is
    /// https (`secure`), so the browser takes it only from this host, over
    /// https, for path `/`, and no sibling domain can plant or shadow it.
    pub fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Self::Merchant, false) => session::COOKIE_NAME,
            (Self::Staff, false) => staff::COOKIE_NAME,
            (Self::Merchant, true) => concat!("__Host-", "mc_session"),
            (Self::Staff, true) => concat!("__Host-", "mc_staff"),
        }
    }

    fn max_age_seconds(self) -> i64 {
        3600 * match self {
            Self::Merchant => session::SESSION_HOURS,
            Self::Staff => staff::SESSION_HOURS,
        }
    }

    /// `Set-Cookie` for a new session. Path `/api` (only API calls need it),
    /// or `/` as the `__Host-` prefix demands.
    pub fn set(self, token: &str, secure: bool) -> HeaderValue {
        cookie(self.name(secure), token, self.max_age_seconds(), secure)
    }

    /// `Set-Cookie` that removes it.
    pub fn clear(self, secure: bool) -> HeaderValue {
        cookie(self.name(secure), "", 0, secure)
    }

    /// The token in this cookie, if any (and not absurdly long).
    pub fn token(self, headers: &HeaderMap, secure: bool) -> Option<String> {
        let name = self.name(secure);
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
}

fn cookie(name: &str, token: &str, max_age: i64, secure: bool) -> HeaderValue {
    let (path, secure) = if secure {
        ("/", "; Secure")
    } else {
        ("/api", "")
    };
    HeaderValue::from_str(&format!(
        "{name}={token}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
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
        .token(&parts.headers, state.auth.cookie_secure)
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
            "__Host-mc_session=abc",
            "Path=/;",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=43200",
        ] {
            assert!(c.contains(attr), "{c} lacks {attr}");
        }
        let plain = SessionCookie::Merchant.set("abc", false);
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with("mc_session=abc;") && plain.contains("Path=/api;"));
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
        assert_eq!(
            SessionCookie::Merchant.token(&h, false).as_deref(),
            Some("tok")
        );
        assert_eq!(SessionCookie::Staff.token(&h, false).as_deref(), Some("st"));
        // Over https only the prefixed cookie counts: one without the
        // prefix may have been planted by a sibling domain.
        assert_eq!(SessionCookie::Merchant.token(&h, true), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("mc_session=planted; __Host-mc_session=tok"),
        );
        assert_eq!(
            SessionCookie::Merchant.token(&h, true).as_deref(),
            Some("tok")
        );
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("xmc_session=tok"));
        assert_eq!(SessionCookie::Merchant.token(&h, false), None);
        assert_eq!(
            SessionCookie::Merchant.token(&HeaderMap::new(), false),
            None
        );
    }
}
