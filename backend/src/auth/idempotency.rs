//! `Idempotency-Key` on POSTs that create things: a retried request (same
//! key, same body) gets the first response back instead of acting twice — on
//! weak 4G the first answer is often lost, not the request.
//!
//! The key is claimed with an INSERT before acting (the primary key decides
//! between concurrent twins: the loser gets 409), and the response is stored
//! after. Failures that a retry might cure (5xx, 429) release the claim;
//! for an anonymous caller every failure does ([`Claim::successes_only`]),
//! so keys sent with refused requests leave no rows. Rows older than
//! [`WINDOW`] are swept by the next claim of any scope.
//!
//! This is the stored part, free of HTTP types: [`once`] runs a use case and
//! returns a [`Reply`]. Reading the header and turning a reply into a
//! response is `request::idempotency`'s.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::keys::FieldCipher;
use crate::db::schema::idempotency_keys;
use crate::db::{DbConn, timestamp};
use crate::error::{AppError, AppResult};

/// How long a key answers with its first response, unless a use case needs
/// a shorter window.
pub const WINDOW: Duration = Duration::hours(24);

fn request_hash(parts: &[&str]) -> String {
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
    pub status: u16,
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
    // Expired keys of this scope (the key itself included) go first, and
    // every scope's keys past the longest window.
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::scope.eq(scope))
            .filter(idempotency_keys::created_at.le(timestamp(now - ttl))),
    )
    .execute(conn)?;
    diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.le(timestamp(now - WINDOW))),
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
        return Err(AppError::unprocessable(
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于另一个请求",
            "This Idempotency-Key was already used for a different request",
        ));
    }
    // 0 marks a claim whose request is still running.
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (200..1000).contains(s));
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
pub fn keeps(status: u16) -> bool {
    !(500..600).contains(&status) && status != 429
}

pub fn finish(conn: &mut DbConn, scope: &str, key: &str, stored: &Stored) -> AppResult<()> {
    diesel::update(idempotency_keys::table.find((scope, key)))
        .set((
            idempotency_keys::status.eq(i32::from(stored.status)),
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

/// What a use case answered, kept for an idempotent replay: a status, a
/// JSON body, and the token of a session it opened (stored encrypted, set as
/// the cookie again on a replay).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub session_token: Option<String>,
}

impl Reply {
    /// 200 with `body` as JSON.
    pub fn ok(body: &impl serde::Serialize) -> AppResult<Self> {
        Ok(Self {
            status: 200,
            body: serde_json::to_string(body).map_err(AppError::internal)?,
            session_token: None,
        })
    }
}

/// What identifies one request for [`once`]: its scope (the use case and
/// who asks), the client's key, and a hash of the parts of the body that
/// must match on a retry.
pub struct Claim<'a> {
    scope: String,
    key: Option<&'a str>,
    hash: String,
    ttl: Duration,
    successes_only: bool,
}

impl<'a> Claim<'a> {
    /// Answers for [`WINDOW`] unless [`Claim::within`] says otherwise.
    pub fn new(scope: String, key: Option<&'a str>, body_parts: &[&str]) -> Self {
        Self {
            scope,
            key,
            hash: request_hash(body_parts),
            ttl: WINDOW,
            successes_only: false,
        }
    }

    /// A window shorter than [`WINDOW`].
    pub fn within(self, ttl: Duration) -> Self {
        Self {
            ttl: ttl.min(WINDOW),
            ..self
        }
    }

    /// Keeps only successful replies: for anonymous callers, whose refused
    /// requests must not leave a row each. A retry of a refused request is
    /// then simply refused again.
    pub fn successes_only(self) -> Self {
        Self {
            successes_only: true,
            ..self
        }
    }
}

/// The context a stored token is sealed with: bound to its key, it decrypts
/// for no other row.
pub fn secret_context(scope: &str, key: &str) -> String {
    format!("idempotency\n{scope}\n{key}")
}

/// Runs `act` once per claim's `(scope, key)` within its window: a retry
/// with the same key and body gets the first reply (or the first refusal)
/// back. Without a key, simply runs it.
pub fn once(
    conn: &mut DbConn,
    fields: &FieldCipher,
    claim: &Claim<'_>,
    act: impl FnOnce(&mut DbConn) -> AppResult<Reply>,
) -> AppResult<Reply> {
    let (scope, hash, ttl) = (claim.scope.as_str(), claim.hash.as_str(), claim.ttl);
    let keeps = |status: u16| keeps(status) && !claim.successes_only;
    let Some(key) = claim.key else {
        return act(conn);
    };
    let context = secret_context(scope, key);
    match begin(conn, scope, key, hash, ttl, Utc::now())? {
        Begin::Replay(stored) => Ok(Reply {
            status: stored.status,
            body: stored.body,
            session_token: stored.secret_enc.and_then(|s| fields.decrypt(&s, &context)),
        }),
        Begin::Claimed => match act(conn) {
            Ok(reply) => {
                let stored = Stored {
                    status: reply.status,
                    body: reply.body.clone(),
                    secret_enc: reply
                        .session_token
                        .as_ref()
                        .map(|t| fields.encrypt(t, &context)),
                };
                finish(conn, scope, key, &stored)?;
                Ok(reply)
            }
            Err(e) => {
                let status = e.status.as_u16();
                if keeps(status) {
                    let body = serde_json::to_string(&e.body).map_err(AppError::internal)?;
                    let stored = Stored {
                        status,
                        body,
                        secret_enc: None,
                    };
                    finish(conn, scope, key, &stored)?;
                } else {
                    release(conn, scope, key)?;
                }
                Err(e)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_frame_their_parts() {
        assert_ne!(request_hash(&["ab", "c"]), request_hash(&["a", "bc"]));
        assert_eq!(request_hash(&["a"]), request_hash(&["a"]));
    }

    #[test]
    fn only_what_a_retry_cannot_cure_is_kept() {
        for kept in [200, 400, 403, 404, 409, 422] {
            assert!(keeps(kept), "{kept}");
        }
        for released in [429, 500, 503] {
            assert!(!keeps(released), "{released}");
        }
    }
}
