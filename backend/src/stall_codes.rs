//! Signed stall codes: making a stall's URL, and deciding whether a scanned
//! code is genuine and current. The payload layout lives in
//! [`shared::stall_code`]; the key and the tag live only here.
//!
//! A code is refused when its tag does not verify (forged, edited,
//! truncated, signed with another key) or when the stall's `code_version` has
//! moved past the code's (a reprint revoked it). Refusals are written to the
//! audit log; nothing else is stored.

use axum::http::StatusCode;
use diesel::prelude::*;
use hmac::Mac;
use sha2::{Digest, Sha256};
use shared::stall_code::{self, CodePayload, CodeTarget, TAG_LEN};

use crate::auth::keys::{self, HmacSha256};
use crate::config::Config;
use crate::db::models::{Market, Stall};
use crate::db::schema::{markets, stalls};
use crate::db::{DbConn, timestamp};
use crate::error::{AppError, AppResult};

pub const KEY_ENV: &str = "MARKET_CODE_CODE_KEY";
pub const KEY_FILE: &str = "stall-code.key";
/// Longer than any code this server makes; refused before any decoding.
const MAX_CODE_LEN: usize = 128;

/// The stall-code signing key. Prints as `<redacted>`.
pub struct CodeKey {
    id: u8,
    key: Vec<u8>,
}

impl CodeKey {
    /// The key id is derived from the key, so a code signed under an older
    /// key is told apart without a lookup table.
    pub fn from_bytes(key: Vec<u8>) -> Self {
        let id = Sha256::digest(&key)[0];
        Self { id, key }
    }

    /// `MARKET_CODE_CODE_KEY` (hex or base64), else `data/stall-code.key`,
    /// generated on first run.
    pub fn load(config: &Config) -> Result<Self, String> {
        let env = std::env::var(KEY_ENV).ok();
        keys::load_or_create(KEY_ENV, env.as_deref(), &config.data_dir, KEY_FILE)
            .map(Self::from_bytes)
    }

    pub fn id(&self) -> u8 {
        self.id
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(payload);
        mac
    }

    /// The text after `/s/`.
    pub fn sign(&self, payload: &CodePayload) -> String {
        let bytes = payload.to_bytes();
        let tag = self.mac(&bytes).finalize().into_bytes();
        stall_code::join(&bytes, &tag[..TAG_LEN])
    }

    /// The payload of a genuine code. The tag is compared in constant time
    /// before the payload is even parsed, so nothing an attacker controls is
    /// interpreted unauthenticated.
    pub fn verify(&self, code: &str) -> Option<CodePayload> {
        if code.len() > MAX_CODE_LEN {
            return None;
        }
        let (payload, tag) = stall_code::split(code).ok()?;
        self.mac(&payload).verify_truncated_left(&tag).ok()?;
        let parsed = CodePayload::from_bytes(&payload).ok()?;
        (parsed.key_id == self.id).then_some(parsed)
    }
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeKey(id {}, <redacted>)", self.id)
    }
}

/// What a genuine, current code points at.
#[derive(Debug, Clone)]
pub struct ResolvedCode {
    pub market: Market,
    /// `None` for a market-wide code.
    pub stall: Option<Stall>,
}

/// Why a code was refused, for the client and for the audit row.
#[derive(Debug, Clone)]
pub struct CodeRefusal {
    pub reason: &'static str,
    pub market_id: Option<String>,
    pub stall_id: Option<String>,
}

impl CodeRefusal {
    fn invalid() -> Self {
        Self {
            reason: "invalid",
            market_id: None,
            stall_id: None,
        }
    }

    pub fn to_error(&self) -> AppError {
        match self.reason {
            "superseded" => AppError::new(
                StatusCode::GONE,
                "code_superseded",
                "这张摊位码已被新码替换，请扫描摊位上最新的码",
                "This stall code has been replaced; please scan the newest code on the stall",
            ),
            "inactive" => AppError::new(
                StatusCode::GONE,
                "code_revoked",
                "该摊位码已停用，请联系市场管理处",
                "This stall code is no longer in use; please contact the market office",
            ),
            _ => AppError::bad_request(
                "code_invalid",
                "无法识别这个码，请确认扫描的是市场发放的摊位码",
                "This code is not recognised; please scan a stall code issued by the market",
            ),
        }
    }
}

/// Checks a scanned code against the key and the current stall records.
/// Reads only; the caller audits a refusal.
pub fn resolve(
    conn: &mut DbConn,
    key: &CodeKey,
    code: &str,
) -> AppResult<Result<ResolvedCode, CodeRefusal>> {
    let Some(payload) = key.verify(code) else {
        return Ok(Err(CodeRefusal::invalid()));
    };
    let market_id = stall_code::id_text("mkt", &payload.market_id);
    let Some(market) = markets::table
        .find(&market_id)
        .select(Market::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(Err(CodeRefusal::invalid()));
    };
    let stall = match payload.target {
        CodeTarget::MarketWide => None,
        CodeTarget::Stall {
            stall_id,
            code_version,
        } => {
            let stall_id = stall_code::id_text("stl", &stall_id);
            let stall = stalls::table
                .find(&stall_id)
                .filter(stalls::market_id.eq(&market.id))
                .select(Stall::as_select())
                .first(conn)
                .optional()?;
            let refusal = |reason| CodeRefusal {
                reason,
                market_id: Some(market.id.clone()),
                stall_id: Some(stall_id.clone()),
            };
            let Some(stall) = stall else {
                return Ok(Err(refusal("invalid")));
            };
            if i64::from(code_version) < i64::from(stall.code_version) {
                return Ok(Err(refusal("superseded")));
            }
            // A version from the future was never issued: only a key leak
            // could make one, so it is not honoured.
            if i64::from(code_version) > i64::from(stall.code_version) {
                return Ok(Err(refusal("invalid")));
            }
            if stall.status != "active" {
                return Ok(Err(refusal("inactive")));
            }
            Some(stall)
        }
    };
    Ok(Ok(ResolvedCode { market, stall }))
}

fn payload_for(key: &CodeKey, market: &Market, stall: Option<&Stall>) -> AppResult<CodePayload> {
    let bad_id = || AppError::internal("an id is not <prefix>_<32 hex>");
    let market_id = stall_code::id_bytes(&market.id).ok_or_else(bad_id)?;
    let target = match stall {
        None => CodeTarget::MarketWide,
        Some(s) => CodeTarget::Stall {
            stall_id: stall_code::id_bytes(&s.id).ok_or_else(bad_id)?,
            code_version: u32::try_from(s.code_version).map_err(AppError::internal)?,
        },
    };
    Ok(CodePayload {
        key_id: key.id(),
        market_id,
        target,
    })
}

/// `<public_url>/s/<code>`.
pub fn url_for(
    key: &CodeKey,
    public_url: &str,
    market: &Market,
    stall: Option<&Stall>,
) -> AppResult<String> {
    let payload = payload_for(key, market, stall)?;
    Ok(format!(
        "{}/s/{}",
        public_url.trim_end_matches('/'),
        key.sign(&payload)
    ))
}

/// The market by name, or the oldest market when no name is given.
pub fn find_market(conn: &mut DbConn, name: Option<&str>) -> AppResult<Market> {
    let mut query = markets::table.select(Market::as_select()).into_boxed();
    if let Some(name) = name {
        query = query.filter(markets::name.eq(name.to_owned()));
    }
    query
        .order(markets::created_at.asc())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

pub fn find_stall(conn: &mut DbConn, market: &Market, number: &str) -> AppResult<Stall> {
    stalls::table
        .filter(stalls::market_id.eq(&market.id))
        .filter(stalls::number.eq(number))
        .select(Stall::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// A stall's URL; `stall_number` `None` gives the market-wide code.
pub fn stall_url(
    conn: &mut DbConn,
    key: &CodeKey,
    public_url: &str,
    market_name: Option<&str>,
    stall_number: Option<&str>,
) -> AppResult<String> {
    let market = find_market(conn, market_name)?;
    let stall = stall_number
        .map(|n| find_stall(conn, &market, n))
        .transpose()?;
    url_for(key, public_url, &market, stall.as_ref())
}

/// The URL of a stall of the first (demo) market, e.g. `A-01`.
pub fn demo_stall_url(
    conn: &mut DbConn,
    key: &CodeKey,
    public_url: &str,
    stall_number: &str,
) -> AppResult<String> {
    stall_url(conn, key, public_url, None, Some(stall_number))
}

/// Revokes every printed code of a stall by raising its version, and returns
/// the new version (a reprint prints a code with it). Atomic on both
/// backends: one UPDATE.
pub fn reissue(conn: &mut DbConn, stall_id: &str) -> AppResult<i32> {
    let now = timestamp(chrono::Utc::now());
    let changed = diesel::update(stalls::table.find(stall_id))
        .set((
            stalls::code_version.eq(stalls::code_version + 1),
            stalls::updated_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(AppError::not_found());
    }
    Ok(stalls::table
        .find(stall_id)
        .select(stalls::code_version)
        .first(conn)?)
}

/// `王*`, `欧阳**`, `A*`: the first character and a star for each other one.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CodeKey {
        CodeKey::from_bytes(vec![42u8; 32])
    }

    fn payload() -> CodePayload {
        CodePayload {
            key_id: key().id(),
            market_id: [1u8; 16],
            target: CodeTarget::Stall {
                stall_id: [2u8; 16],
                code_version: 1,
            },
        }
    }

    #[test]
    fn sign_then_verify() {
        let code = key().sign(&payload());
        assert_eq!(key().verify(&code), Some(payload()));
        let wide = CodePayload {
            target: CodeTarget::MarketWide,
            ..payload()
        };
        assert_eq!(key().verify(&key().sign(&wide)), Some(wide));
    }

    #[test]
    fn tag_is_the_first_128_bits_of_hmac_sha256() {
        let code = key().sign(&payload());
        let (bytes, tag) = stall_code::split(&code).unwrap();
        let full = keys::hmac_plain(&[42u8; 32], &bytes);
        assert_eq!(tag, full[..16]);
    }

    #[test]
    fn every_edit_is_refused() {
        let code = key().sign(&payload());
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        for i in 0..code.len() {
            for &c in alphabet {
                if c == code.as_bytes()[i] {
                    continue;
                }
                let mut edited = code.clone().into_bytes();
                edited[i] = c;
                let edited = String::from_utf8(edited).unwrap();
                assert_eq!(key().verify(&edited), None, "position {i} → {}", c as char);
            }
        }
    }

    #[test]
    fn truncated_extended_and_foreign_codes_are_refused() {
        let code = key().sign(&payload());
        for n in 0..code.len() {
            assert_eq!(key().verify(&code[..n]), None, "first {n} chars");
        }
        assert_eq!(key().verify(&format!("{code}A")), None);
        assert_eq!(key().verify(&format!("{code}.")), None);
        let other = CodeKey::from_bytes(vec![43u8; 32]);
        assert_eq!(other.verify(&code), None);
        // Same payload signed by another key, even claiming this key's id.
        let forged = other.sign(&payload());
        assert_eq!(key().verify(&forged), None);
        assert_eq!(key().verify(&"A".repeat(5000)), None);
    }

    #[test]
    fn key_debug_is_redacted() {
        assert!(!format!("{:?}", key()).contains("42"));
    }

    #[test]
    fn names_are_masked() {
        assert_eq!(mask_name("王建国"), "王**");
        assert_eq!(mask_name("欧阳芳"), "欧**");
        assert_eq!(mask_name("静"), "静");
        assert_eq!(mask_name(""), "");
    }

    /// Against a real (temporary) SQLite database: a reprint supersedes the
    /// old code, and the new code works.
    #[test]
    fn reissue_supersedes_old_codes() {
        let dir = std::env::temp_dir().join(format!(
            "mc-codes-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = dir.join("t.sqlite3").display().to_string();
        let pool = crate::db::connect(&url).unwrap();
        crate::db::migrate(&pool).unwrap();
        let mut conn = pool.get().unwrap();
        crate::seed::seed_demo(&mut conn, "test-password").unwrap();
        let key = key();

        let old_url = demo_stall_url(&mut conn, &key, "http://x", "A-01").unwrap();
        let old_code = old_url.strip_prefix("http://x/s/").unwrap().to_owned();
        let resolved = resolve(&mut conn, &key, &old_code).unwrap().unwrap();
        assert_eq!(resolved.stall.as_ref().unwrap().number, "A-01");
        assert_eq!(resolved.market.name, crate::seed::DEMO_MARKET);

        let stall_id = resolved.stall.unwrap().id;
        assert_eq!(reissue(&mut conn, &stall_id).unwrap(), 2);
        let refusal = resolve(&mut conn, &key, &old_code).unwrap().unwrap_err();
        assert_eq!(refusal.reason, "superseded");
        assert_eq!(refusal.to_error().code(), "code_superseded");
        assert_eq!(refusal.stall_id.as_deref(), Some(stall_id.as_str()));

        let new_url = demo_stall_url(&mut conn, &key, "http://x", "A-01").unwrap();
        assert_ne!(new_url, old_url);
        let new_code = new_url.strip_prefix("http://x/s/").unwrap();
        assert!(resolve(&mut conn, &key, new_code).unwrap().is_ok());

        // Another stall's codes are untouched.
        let b = demo_stall_url(&mut conn, &key, "http://x", "B-01").unwrap();
        assert!(
            resolve(&mut conn, &key, b.strip_prefix("http://x/s/").unwrap())
                .unwrap()
                .is_ok()
        );
        // Market-wide codes resolve to the market alone.
        let wide = stall_url(&mut conn, &key, "http://x", None, None).unwrap();
        let wide = resolve(&mut conn, &key, wide.strip_prefix("http://x/s/").unwrap())
            .unwrap()
            .unwrap();
        assert!(wide.stall.is_none());
        assert!(matches!(
            demo_stall_url(&mut conn, &key, "http://x", "Z-99"),
            Err(e) if e.code() == "not_found"
        ));
        drop(conn);
        drop(pool);
        let _ = std::fs::remove_dir_all(dir);
    }
}
