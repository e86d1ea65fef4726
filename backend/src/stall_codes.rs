//! Signed stall codes: making a stall's URL, and deciding whether a scanned
//! code is genuine and current. The payload layouts live in
//! [`shared::stall_code`]; the key and the tag live only here.
//!
//! New codes are compact (`/S/<base32>`, short enough for a low-density QR
//! code); codes printed in the legacy format (`/s/<payload>.<tag>`) are still
//! honoured until their stall's code is reissued.
//!
//! A code is refused when its tag does not verify (forged, edited,
//! truncated, signed with a key this server does not hold), when it was
//! signed by a key the operator revoked, or when the stall's `code_version`
//! has moved past the code's (a reprint revoked it). Refusals are counted
//! per client address (`services::refusals`); nothing else is stored.
//!
//! Keys rotate: the current key signs, retired keys still verify, so cards
//! already printed keep working; once the market has reprinted them, the
//! operator revokes the old key by its fingerprint (`backend revoke-key`).

use axum::http::StatusCode;
use diesel::prelude::*;
use hmac::Mac;
use sha2::{Digest, Sha256};
use shared::stall_code::{
    self, COMPACT_TAG_LEN, CodePayload, CodeTarget, CompactPayload, CompactTarget, ID_PREFIX_LEN,
};

use crate::auth::keys::{self, HmacSha256};
use crate::config::Config;
use crate::db::models::{Market, Stall};
use crate::db::schema::{markets, revoked_keys, stalls};
use crate::db::{DbConn, timestamp};
use crate::error::{AppError, AppResult};

pub const KEY_ENV: &str = "MARKET_CODE_CODE_KEY";
pub const RETIRED_KEYS_ENV: &str = "MARKET_CODE_CODE_KEYS_RETIRED";
pub const KEY_FILE: &str = "stall-code.key";
/// Longer than any code this server makes; refused before any decoding.
const MAX_CODE_LEN: usize = shared::limits::MAX_CODE_LEN;

/// One signing key. Its fingerprint (the first 8 bytes of its SHA-256, in
/// hex) names it to the operator; a code carries the fingerprint's first
/// byte, as printed codes always have.
struct SigningKey {
    fingerprint: String,
    key: Vec<u8>,
}

impl SigningKey {
    fn new(key: Vec<u8>) -> Self {
        Self {
            fingerprint: hex::encode(&Sha256::digest(&key)[..8]),
            key,
        }
    }

    fn id(&self) -> u8 {
        u8::from_str_radix(&self.fingerprint[..2], 16).expect("hex")
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(payload);
        mac
    }

    /// The payload of a code whose tag this key made, in either format. The
    /// tag is compared in constant time before the payload is even parsed.
    fn verify(&self, code: &str) -> Option<Verified> {
        let verified = if code.contains('.') {
            let (payload, tag) = stall_code::split(code).ok()?;
            self.mac(&payload).verify_truncated_left(&tag).ok()?;
            Verified::Legacy(CodePayload::from_bytes(&payload).ok()?)
        } else {
            let (payload, tag) = stall_code::split_compact(code).ok()?;
            self.mac(&payload).verify_truncated_left(&tag).ok()?;
            Verified::Compact(CompactPayload::from_bytes(&payload).ok()?)
        };
        (verified.key_id() == self.id()).then_some(verified)
    }
}

/// The stall-code keys: the current one signs, it and the retired ones
/// verify (a code printed under a retired key keeps working until the
/// operator revokes that key: `backend revoke-key`). Prints as
/// `<redacted>`.
pub struct CodeKey {
    current: SigningKey,
    retired: Vec<SigningKey>,
}

impl CodeKey {
    /// One key, current.
    pub fn from_bytes(key: Vec<u8>) -> Self {
        Self {
            current: SigningKey::new(key),
            retired: Vec::new(),
        }
    }

    /// The same keys, and `retired` ones that still verify.
    pub fn with_retired(mut self, retired: Vec<Vec<u8>>) -> Self {
        self.retired = retired
            .into_iter()
            .map(SigningKey::new)
            .filter(|k| k.fingerprint != self.current.fingerprint)
            .collect();
        self
    }

    /// `MARKET_CODE_CODE_KEY` (hex or base64; in development, else
    /// `data/stall-code.key`, generated on first run) and
    /// `MARKET_CODE_CODE_KEYS_RETIRED`.
    pub fn load(config: &Config) -> Result<Self, String> {
        let (current, retired) = keys::load_ring(
            &config.code_keys,
            KEY_ENV,
            RETIRED_KEYS_ENV,
            &config.data_dir,
            KEY_FILE,
            config.production(),
        )?;
        Ok(Self::from_bytes(current).with_retired(retired))
    }

    /// The id byte new codes carry.
    pub fn id(&self) -> u8 {
        self.current.id()
    }

    /// The signing key's fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.current.fingerprint
    }

    /// Every key's fingerprint, the signing key first.
    pub fn fingerprints(&self) -> Vec<&str> {
        self.keys().map(|k| k.fingerprint.as_str()).collect()
    }

    fn keys(&self) -> impl Iterator<Item = &SigningKey> {
        std::iter::once(&self.current).chain(&self.retired)
    }

    /// The text after `/S/`: a compact code.
    pub fn sign(&self, payload: &CompactPayload) -> String {
        let bytes = payload.to_bytes();
        let tag = self.current.mac(&bytes).finalize().into_bytes();
        stall_code::join_compact(&bytes, &tag[..COMPACT_TAG_LEN])
    }

    /// The text after `/s/` in the legacy format, as codes were printed
    /// before the compact one; only tests make them now.
    #[cfg(test)]
    pub fn sign_legacy(&self, payload: &CodePayload) -> String {
        let bytes = payload.to_bytes();
        let tag = self.current.mac(&bytes).finalize().into_bytes();
        stall_code::join(&bytes, &tag[..stall_code::TAG_LEN])
    }

    /// The payload of a genuine code, in either format, signed by any key
    /// held. Every key is tried (there are few): the tag, not the id byte,
    /// decides, and the id byte must then match the key that verified. The
    /// two formats' payloads start with different bytes, so a tag made for
    /// one never verifies as the other.
    pub fn verify(&self, code: &str) -> Option<Verified> {
        self.verify_with_key(code).map(|(v, _)| v)
    }

    /// As [`CodeKey::verify`], with the fingerprint of the key that signed.
    pub fn verify_with_key(&self, code: &str) -> Option<(Verified, &str)> {
        if code.len() > MAX_CODE_LEN {
            return None;
        }
        self.keys()
            .find_map(|k| k.verify(code).map(|v| (v, k.fingerprint.as_str())))
    }
}

/// A code whose tag verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Legacy(CodePayload),
    Compact(CompactPayload),
}

impl Verified {
    fn key_id(&self) -> u8 {
        match self {
            Verified::Legacy(p) => p.key_id,
            Verified::Compact(p) => p.key_id,
        }
    }
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CodeKey({}, {} retired, <redacted>)",
            self.current.fingerprint,
            self.retired.len()
        )
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
            // A reprint, or a key the operator revoked once the market had
            // reprinted its cards under the new one.
            "superseded" | "key_revoked" => AppError::new(
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
    let Some((verified, fingerprint)) = key.verify_with_key(code) else {
        return Ok(Err(CodeRefusal::invalid()));
    };
    // Only a retired key can have been revoked (the signing key never is).
    if fingerprint != key.fingerprint() && is_revoked(conn, fingerprint)? {
        return Ok(Err(CodeRefusal {
            reason: "key_revoked",
            market_id: None,
            stall_id: None,
        }));
    }
    // The market, and the stall with the code version printed for it.
    let (market, stall) = match verified {
        Verified::Legacy(payload) => {
            let market_id = stall_code::id_text("mkt", &payload.market_id);
            let Some(market) = market_by_id(conn, &market_id)? else {
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
                    let Some(stall) = stall else {
                        return Ok(Err(CodeRefusal {
                            reason: "invalid",
                            market_id: Some(market.id),
                            stall_id: Some(stall_id),
                        }));
                    };
                    Some((stall, code_version))
                }
            };
            (market, stall)
        }
        Verified::Compact(payload) => match payload.target {
            CompactTarget::MarketWide { market_prefix } => {
                let prefix = stall_code::id_prefix_text("mkt", &market_prefix);
                let (lo, hi) = prefix_range(&prefix);
                let found: Vec<Market> = markets::table
                    .filter(markets::id.ge(lo))
                    .filter(markets::id.lt(hi))
                    .select(Market::as_select())
                    .limit(2)
                    .load(conn)?;
                let Ok([market]) = <[Market; 1]>::try_from(found) else {
                    return Ok(Err(CodeRefusal::invalid()));
                };
                (market, None)
            }
            CompactTarget::Stall {
                stall_prefix,
                code_version,
            } => {
                let prefix = stall_code::id_prefix_text("stl", &stall_prefix);
                let (lo, hi) = prefix_range(&prefix);
                let found: Vec<Stall> = stalls::table
                    .filter(stalls::id.ge(lo))
                    .filter(stalls::id.lt(hi))
                    .select(Stall::as_select())
                    .limit(2)
                    .load(conn)?;
                let Ok([stall]) = <[Stall; 1]>::try_from(found) else {
                    return Ok(Err(CodeRefusal::invalid()));
                };
                let Some(market) = market_by_id(conn, &stall.market_id)? else {
                    return Ok(Err(CodeRefusal::invalid()));
                };
                (market, Some((stall, code_version)))
            }
        },
    };
    let Some((stall, code_version)) = stall else {
        return Ok(Ok(ResolvedCode {
            market,
            stall: None,
        }));
    };
    let refusal = |reason| CodeRefusal {
        reason,
        market_id: Some(market.id.clone()),
        stall_id: Some(stall.id.clone()),
    };
    if i64::from(code_version) < i64::from(stall.code_version) {
        return Ok(Err(refusal("superseded")));
    }
    // A version from the future was never issued: only a key leak could
    // make one, so it is not honoured.
    if i64::from(code_version) > i64::from(stall.code_version) {
        return Ok(Err(refusal("invalid")));
    }
    if stall.status != "active" {
        return Ok(Err(refusal("inactive")));
    }
    Ok(Ok(ResolvedCode {
        market,
        stall: Some(stall),
    }))
}

fn is_revoked(conn: &mut DbConn, fingerprint: &str) -> AppResult<bool> {
    Ok(revoked_keys::table
        .find(fingerprint)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Revokes a retired signing key (by fingerprint): codes it signed are
/// refused from now on, by every server process. The signing key itself
/// cannot be revoked (make another one current first), nor a key this
/// server does not hold (a typo).
pub fn revoke_key(
    conn: &mut DbConn,
    key: &CodeKey,
    fingerprint: &str,
    actor: &str,
) -> AppResult<()> {
    let fingerprint = fingerprint.trim().to_ascii_lowercase();
    if fingerprint == key.fingerprint() {
        return Err(AppError::unprocessable(
            "key_current",
            "不能撤销正在使用的签名密钥，请先更换密钥",
            "The signing key cannot be revoked; make another key current first",
        ));
    }
    if !key.fingerprints().contains(&fingerprint.as_str()) {
        return Err(AppError::not_found());
    }
    crate::db::write_transaction(conn, |conn| {
        if is_revoked(conn, &fingerprint)? {
            return Ok(());
        }
        diesel::insert_into(revoked_keys::table)
            .values((
                revoked_keys::key_id.eq(&fingerprint),
                revoked_keys::kind.eq("code"),
                revoked_keys::revoked_at.eq(timestamp(chrono::Utc::now())),
                revoked_keys::actor.eq(actor),
            ))
            .execute(conn)?;
        crate::services::audit::audit(
            conn,
            actor,
            "key.revoked",
            "key",
            Some(&fingerprint),
            None,
            serde_json::json!({ "kind": "code" }),
            None,
        )
    })
}

/// The revoked fingerprints among `key`'s.
pub fn revoked(conn: &mut DbConn, key: &CodeKey) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for fp in key.fingerprints() {
        if is_revoked(conn, fp)? {
            out.push(fp.to_owned());
        }
    }
    Ok(out)
}

fn market_by_id(conn: &mut DbConn, id: &str) -> AppResult<Option<Market>> {
    Ok(markets::table
        .find(id)
        .select(Market::as_select())
        .first(conn)
        .optional()?)
}

/// Every id that starts with `prefix` (`stl_<16 hex>`) sorts in
/// `[prefix, prefix + "g")`: ids are lower-case hex, and `g` follows `f`. A
/// range, unlike `LIKE`, uses the primary-key index on both databases.
fn prefix_range(prefix: &str) -> (String, String) {
    debug_assert_eq!(
        prefix.len() - prefix.find('_').unwrap_or(0) - 1,
        2 * ID_PREFIX_LEN
    );
    (prefix.to_owned(), format!("{prefix}g"))
}

fn payload_for(key: &CodeKey, market: &Market, stall: Option<&Stall>) -> AppResult<CompactPayload> {
    let bad_id = || AppError::internal("an id is not <prefix>_<32 hex>");
    let target = match stall {
        None => CompactTarget::MarketWide {
            market_prefix: stall_code::id_prefix(&market.id).ok_or_else(bad_id)?,
        },
        Some(s) => CompactTarget::Stall {
            stall_prefix: stall_code::id_prefix(&s.id).ok_or_else(bad_id)?,
            code_version: u32::try_from(s.code_version).map_err(AppError::internal)?,
        },
    };
    Ok(CompactPayload {
        key_id: key.id(),
        target,
    })
}

/// `<public_url>/S/<code>`: what a newly printed card carries.
pub fn url_for(
    key: &CodeKey,
    public_url: &str,
    market: &Market,
    stall: Option<&Stall>,
) -> AppResult<String> {
    let payload = payload_for(key, market, stall)?;
    Ok(format!(
        "{}{}{}",
        public_url.trim_end_matches('/'),
        stall_code::COMPACT_PATH,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CodeKey {
        CodeKey::from_bytes(vec![42u8; 32])
    }

    fn legacy() -> CodePayload {
        CodePayload {
            key_id: key().id(),
            market_id: [1u8; 16],
            target: CodeTarget::Stall {
                stall_id: [2u8; 16],
                code_version: 1,
            },
        }
    }

    fn compact() -> CompactPayload {
        CompactPayload {
            key_id: key().id(),
            target: CompactTarget::Stall {
                stall_prefix: [2u8; ID_PREFIX_LEN],
                code_version: 1,
            },
        }
    }

    #[test]
    fn sign_then_verify_both_formats() {
        let code = key().sign(&compact());
        assert_eq!(key().verify(&code), Some(Verified::Compact(compact())));
        let wide = CompactPayload {
            target: CompactTarget::MarketWide {
                market_prefix: [1u8; ID_PREFIX_LEN],
            },
            ..compact()
        };
        assert_eq!(
            key().verify(&key().sign(&wide)),
            Some(Verified::Compact(wide))
        );
        let old = key().sign_legacy(&legacy());
        assert_eq!(key().verify(&old), Some(Verified::Legacy(legacy())));
    }

    #[test]
    fn tags_are_the_first_bits_of_hmac_sha256() {
        let code = key().sign(&compact());
        let (bytes, tag) = stall_code::split_compact(&code).unwrap();
        let full = keys::hmac_plain(&[42u8; 32], &bytes);
        assert_eq!(tag, full[..12]);
        let code = key().sign_legacy(&legacy());
        let (bytes, tag) = stall_code::split(&code).unwrap();
        let full = keys::hmac_plain(&[42u8; 32], &bytes);
        assert_eq!(tag, full[..16]);
    }

    fn assert_every_edit_refused(code: &str, alphabet: &[u8]) {
        for i in 0..code.len() {
            for &c in alphabet {
                if c == code.as_bytes()[i] {
                    continue;
                }
                let mut edited = code.to_owned().into_bytes();
                edited[i] = c;
                let edited = String::from_utf8(edited).unwrap();
                assert_eq!(key().verify(&edited), None, "position {i} → {}", c as char);
            }
        }
    }

    #[test]
    fn every_edit_is_refused() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        assert_every_edit_refused(&key().sign_legacy(&legacy()), alphabet);
        assert_every_edit_refused(&key().sign(&compact()), alphabet);
    }

    #[test]
    fn truncated_extended_and_foreign_codes_are_refused() {
        for code in [key().sign(&compact()), key().sign_legacy(&legacy())] {
            for n in 0..code.len() {
                assert_eq!(key().verify(&code[..n]), None, "first {n} chars");
            }
            assert_eq!(key().verify(&format!("{code}A")), None);
            assert_eq!(key().verify(&format!("{code}AAAAAAAA")), None);
            assert_eq!(key().verify(&format!("{code}.")), None);
            let other = CodeKey::from_bytes(vec![43u8; 32]);
            assert_eq!(other.verify(&code), None);
        }
        // Same payload signed by another key, even claiming this key's id.
        let other = CodeKey::from_bytes(vec![43u8; 32]);
        assert_eq!(key().verify(&other.sign(&compact())), None);
        assert_eq!(key().verify(&other.sign_legacy(&legacy())), None);
        assert_eq!(key().verify(&"A".repeat(5000)), None);
    }

    #[test]
    fn a_tag_for_one_format_does_not_verify_as_the_other() {
        // The legacy payload re-encoded as a compact code, with its own tag.
        let old = key().sign_legacy(&legacy());
        let (bytes, tag) = stall_code::split(&old).unwrap();
        let as_compact = stall_code::join_compact(&bytes, &tag[..COMPACT_TAG_LEN]);
        assert_eq!(key().verify(&as_compact), None);
        let new = key().sign(&compact());
        let (bytes, tag) = stall_code::split_compact(&new).unwrap();
        let padded = [tag.as_slice(), &[0u8; 4]].concat();
        assert_eq!(key().verify(&stall_code::join(&bytes, &padded)), None);
    }

    #[test]
    fn key_debug_is_redacted() {
        assert!(!format!("{:?}", key()).contains("42"));
    }

    fn code_of(url: &str) -> &str {
        stall_code::code_in_url(url).unwrap()
    }

    /// Against a real (temporary) SQLite database: a reprint supersedes the
    /// old code in both formats, and the new code works.
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
        assert!(old_url.starts_with("http://x/S/"), "{old_url}");
        let old_code = code_of(&old_url).to_owned();
        let resolved = resolve(&mut conn, &key, &old_code).unwrap().unwrap();
        assert_eq!(resolved.stall.as_ref().unwrap().number, "A-01");
        assert_eq!(resolved.market.name, crate::seed::DEMO_MARKET);

        // The same stall's code as printed before the compact format.
        let stall = resolved.stall.clone().unwrap();
        let legacy_code = key.sign_legacy(&CodePayload {
            key_id: key.id(),
            market_id: stall_code::id_bytes(&resolved.market.id).unwrap(),
            target: CodeTarget::Stall {
                stall_id: stall_code::id_bytes(&stall.id).unwrap(),
                code_version: 1,
            },
        });
        let legacy = resolve(&mut conn, &key, &legacy_code).unwrap().unwrap();
        assert_eq!(legacy.stall.unwrap().id, stall.id);

        let stall_id = stall.id;
        assert_eq!(reissue(&mut conn, &stall_id).unwrap(), 2);
        for code in [&old_code, &legacy_code] {
            let refusal = resolve(&mut conn, &key, code).unwrap().unwrap_err();
            assert_eq!(refusal.reason, "superseded");
            assert_eq!(refusal.to_error().code(), "code_superseded");
            assert_eq!(refusal.stall_id.as_deref(), Some(stall_id.as_str()));
        }

        let new_url = demo_stall_url(&mut conn, &key, "http://x", "A-01").unwrap();
        assert_ne!(new_url, old_url);
        assert!(resolve(&mut conn, &key, code_of(&new_url)).unwrap().is_ok());

        // Another stall's codes are untouched.
        let b = demo_stall_url(&mut conn, &key, "http://x", "B-01").unwrap();
        let b = resolve(&mut conn, &key, code_of(&b)).unwrap().unwrap();
        assert_eq!(b.stall.unwrap().number, "B-01");
        // Market-wide codes resolve to the market alone.
        let wide = stall_url(&mut conn, &key, "http://x", None, None).unwrap();
        let wide = resolve(&mut conn, &key, code_of(&wide)).unwrap().unwrap();
        assert!(wide.stall.is_none());
        assert_eq!(wide.market.name, crate::seed::DEMO_MARKET);
        assert!(matches!(
            demo_stall_url(&mut conn, &key, "http://x", "Z-99"),
            Err(e) if e.code() == "not_found"
        ));

        // A genuine tag over a prefix that names no stall is refused, and so
        // is one that names two (never made here, but not guessed at either).
        let nowhere = key.sign(&CompactPayload {
            key_id: key.id(),
            target: CompactTarget::Stall {
                stall_prefix: [0xee; ID_PREFIX_LEN],
                code_version: 1,
            },
        });
        let refusal = resolve(&mut conn, &key, &nowhere).unwrap().unwrap_err();
        assert_eq!(refusal.reason, "invalid");
        let twin = format!("{}0000000000000000", &stall_id[..20]);
        let twin = if twin == stall_id {
            format!("{}ffffffffffffffff", &stall_id[..20])
        } else {
            twin
        };
        for sql in [
            format!("CREATE TEMP TABLE twin AS SELECT * FROM stalls WHERE id = '{stall_id}'"),
            format!("UPDATE twin SET id = '{twin}', number = 'TWIN'"),
            "INSERT INTO stalls SELECT * FROM twin".to_owned(),
        ] {
            diesel::sql_query(sql).execute(&mut conn).unwrap();
        }
        let current = demo_stall_url(&mut conn, &key, "http://x", "A-01").unwrap();
        let refusal = resolve(&mut conn, &key, code_of(&current))
            .unwrap()
            .unwrap_err();
        assert_eq!(refusal.reason, "invalid");
        drop(conn);
        drop(pool);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The printed code's density, old format against new, for a county's
    /// real host name and for the demo's address (figures in BENCHMARKS.md:
    /// `cargo test -p backend --lib qr_versions -- --nocapture`).
    #[test]
    fn compact_codes_print_at_least_two_qr_versions_smaller() {
        use qrcode::{EcLevel, QrCode, Version};
        let version = |text: &str, ec| match QrCode::with_error_correction_level(text, ec)
            .unwrap()
            .version()
        {
            Version::Normal(v) => v,
            Version::Micro(_) => unreachable!("never a micro code"),
        };
        // Worst cases of each format: the largest ids and a reprinted stall.
        let legacy = CodePayload {
            market_id: [0xff; 16],
            target: CodeTarget::Stall {
                stall_id: [0xff; 16],
                code_version: 300,
            },
            ..legacy()
        };
        let compact = CompactPayload {
            target: CompactTarget::Stall {
                stall_prefix: [0xff; ID_PREFIX_LEN],
                code_version: 300,
            },
            ..compact()
        };
        for public in ["https://mc.yixing.gov.cn", "http://127.0.0.1:41234"] {
            let old = format!("{public}/s/{}", key().sign_legacy(&legacy));
            let new = format!("{public}/S/{}", key().sign(&compact));
            let printed = crate::services::stalls::qr_code(&new).unwrap();
            let Version::Normal(printed_version) = printed.version() else {
                unreachable!()
            };
            assert_eq!(printed.error_correction_level(), EcLevel::Q);
            let (old_m, old_q) = (version(&old, EcLevel::M), version(&old, EcLevel::Q));
            println!(
                "qr_versions {public}: old {} chars: version {old_m} at M (as printed), \
                 {old_q} at Q; new {} chars: version {printed_version} at Q (as printed), {} at H",
                old.len(),
                new.len(),
                version(&shared::stall_code::qr_text(&new), EcLevel::H),
            );
            assert!(
                printed_version + 2 <= old_m,
                "{public}: version {printed_version} at Q against {old_m} at M"
            );
            assert!(printed_version + 2 <= old_q);
        }
    }
}
