//! `Idempotency-Key` on POSTs that create things: a retried request (same
//! key, same body) gets the first response back instead of acting twice — on
//! weak 4G the first answer is often lost, not the request.
//!
//! The key is claimed with an INSERT before acting (the primary key decides
//! between concurrent twins: the loser gets 409), and the response is stored
//! after. Failures that a retry might cure (5xx, 429) release the claim.

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::idempotency_keys;
use crate::db::{DbConn, timestamp};
use crate::error::{AppError, AppResult};

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 100;

/// The header's value, if sent; a malformed one is a 400, not ignored, so a
/// client never believes it is protected when it is not.
pub fn key_from(headers: &HeaderMap) -> AppResult<Option<String>> {
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

pub fn request_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A stored first response.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: StatusCode,
    pub body: String,
    pub secret_enc: Option<String>,
}

pub enum Begin {
    /// Act, then [`finish`] or [`release`].
    Claimed,
    Replay(Stored),
}

/// Claims `(scope, key)`, or returns what the first request answered. Rows
/// older than `ttl` no longer count.
pub fn begin(
    conn: &mut DbConn,
    scope: &str,
    key: &str,
    hash: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> AppResult<Begin> {
    // Expired keys of this scope (the key itself included) go first.
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::scope.eq(scope))
            .filter(idempotency_keys::created_at.le(timestamp(now - ttl))),
    )
    .execute(conn)?;
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::scope.eq(scope),
            idempotency_keys::idem_key.eq(key),
            idempotency_keys::request_hash.eq(hash),
            idempotency_keys::status.eq(0),
            idempotency_keys::body.eq(""),
            idempotency_keys::created_at.eq(timestamp(now)),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => return Ok(Begin::Claimed),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {}
        Err(e) => return Err(e.into()),
    }
    let (stored_hash, status, body, secret_enc): (String, i32, String, Option<String>) =
        idempotency_keys::table
            .find((scope, key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::status,
                idempotency_keys::body,
                idempotency_keys::secret_enc,
            ))
            .first(conn)?;
    if stored_hash != hash {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于另一个请求",
            "This Idempotency-Key was already used for a different request",
        ));
    }
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| s.as_u16() >= 200);
    match status {
        Some(status) => Ok(Begin::Replay(Stored {
            status,
            body,
            secret_enc,
        })),
        None => Err(AppError::conflict(
            "idempotency_in_progress",
            "相同的请求正在处理中，请稍候",
            "The same request is still being handled; please wait",
        )),
    }
}

/// Whether a response is kept for replay. A retry might cure 5xx and 429;
/// anything else it would only repeat.
pub fn keeps(status: StatusCode) -> bool {
    !status.is_server_error() && status != StatusCode::TOO_MANY_REQUESTS
}

pub fn finish(conn: &mut DbConn, scope: &str, key: &str, stored: &Stored) -> AppResult<()> {
    diesel::update(idempotency_keys::table.find((scope, key)))
        .set((
            idempotency_keys::status.eq(i32::from(stored.status.as_u16())),
            idempotency_keys::body.eq(&stored.body),
            idempotency_keys::secret_enc.eq(&stored.secret_enc),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn release(conn: &mut DbConn, scope: &str, key: &str) -> AppResult<()> {
    diesel::delete(idempotency_keys::table.find((scope, key))).execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
    }

    #[test]
    fn hashes_frame_their_parts() {
        assert_ne!(request_hash(&["ab", "c"]), request_hash(&["a", "bc"]));
        assert_eq!(request_hash(&["a"]), request_hash(&["a"]));
    }
}
