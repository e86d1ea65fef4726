//! The HTTP side of `Idempotency-Key`: reading the header, and sending a
//! use case's [`Reply`] (first or replayed) as the response. What is stored
//! and when is `auth::idempotency`'s.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::SessionCookie;
use crate::auth::idempotency::Reply;
use crate::error::{AppError, AppResult};

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 100;

/// The client's `Idempotency-Key`, if it sent one. A malformed one is a
/// 400, not ignored, so a client never believes it is protected when it is
/// not.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(Option<String>);

impl IdempotencyKey {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        key_from(&parts.headers).map(Self)
    }
}

fn key_from(headers: &HeaderMap) -> AppResult<Option<String>> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::bad_request(
            "idempotency_key_invalid",
            "Idempotency-Key 须为1至100个可见ASCII字符",
            "Idempotency-Key must be 1 to 100 visible ASCII characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// The reply as JSON with its status; a session it opened becomes the
/// merchant's cookie (again, on a replay).
pub fn respond(reply: Reply, cookie_secure: bool) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        reply.body,
    )
        .into_response();
    if let Some(token) = &reply.session_token {
        res.headers_mut().insert(
            header::SET_COOKIE,
            SessionCookie::Merchant.set(token, cookie_secure),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        let mut h = HeaderMap::new();
        assert_eq!(key_from(&h).unwrap(), None);
        h.insert(HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(key_from(&h).unwrap().as_deref(), Some("abc-123"));
        h.insert(HEADER, HeaderValue::from_static(""));
        assert!(key_from(&h).is_err());
        h.insert(HEADER, HeaderValue::from_str(&"k".repeat(101)).unwrap());
        assert!(key_from(&h).is_err());
        h.insert(HEADER, HeaderValue::from_static("a b"));
        assert!(key_from(&h).is_err());
    }

    #[test]
    fn a_reply_keeps_its_status_and_sets_a_new_session() {
        let res = respond(
            Reply {
                status: 409,
                body: "{}".into(),
                session_token: None,
            },
            false,
        );
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert!(res.headers().get(header::SET_COOKIE).is_none());
        let res = respond(
            Reply {
                status: 200,
                body: "{}".into(),
                session_token: Some("tok".into()),
            },
            true,
        );
        let cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("__Host-mc_session=tok;") && cookie.contains("Secure"));
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }
}
