//! The authorization letter (授权书), the consents signed with it, the
//! decision as the merchant sees it, and the application to the candidate
//! pool: request and response types of `/api/m/letter`, `/api/m/consents…`,
//! `/api/m/decision…` and `/api/m/application…`.
//!
//! [`sha256_hex`] is here so that the browser hashes the exact letter text it
//! showed with the same code the server checks it with.

use serde::{Deserialize, Serialize};

use crate::decision::DecisionView;

/// How long a signed letter stays in force.
pub const CONSENT_VALID_MONTHS: u32 = 12;
/// How long an offer may be accepted: long enough to talk it over at home,
/// short enough that the facts behind it are still current.
pub const OFFER_VALID_DAYS: u32 = 30;
/// After a decline, the earliest useful re-assessment: the county's exports
/// are monthly, so an earlier retry would read the same facts.
pub const RETRY_AFTER_DAYS: u32 = 30;

/// One data category the letter names (a connector source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCategory {
    /// The connector's source name, e.g. `tax`.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A loan product of a bank, as the letter and the offer show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductInfo {
    pub name: String,
    pub min_amount_cents: i64,
    pub max_amount_cents: i64,
    pub min_rate_bp: i32,
    pub max_rate_bp: i32,
    pub term_months: i32,
}

/// A participating bank, with its active products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankInfo {
    pub bank_id: String,
    pub name: String,
    pub short_name: String,
    pub products: Vec<ProductInfo>,
}

/// `GET /api/m/letter`: the current letter in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    pub version: String,
    pub text_zh: String,
    pub text_en: String,
    pub categories: Vec<DataCategory>,
    /// None is ticked in advance; the merchant chooses each.
    pub banks: Vec<BankInfo>,
    pub valid_months: u32,
}

/// `POST /api/m/consents`: sign the letter. Accepts an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    pub letter_version: String,
    /// [`sha256_hex`] of the exact text shown (in `language`).
    pub text_sha256: String,
    pub bank_ids: Vec<String>,
    /// `zh` or `en`: which text was shown.
    pub language: String,
}

/// A signed letter, as its signer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    pub id: String,
    pub letter_version: String,
    /// `zh` or `en`: the language of the text signed.
    pub language: String,
    pub text_sha256: String,
    /// The exact text signed (only in `GET /api/m/consents/{id}`).
    pub text: Option<String>,
    pub categories: Vec<DataCategory>,
    pub banks: Vec<BankInfo>,
    pub granted_at: String,
    pub expires_at: String,
    pub withdrawn_at: Option<String>,
    /// `active`, `withdrawn` or `expired`.
    pub status: String,
    /// `wechat`, `app` or `browser`.
    pub channel: String,
}

/// One read of the merchant's data (系统日志), as the merchant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRead {
    pub at: String,
    pub source: String,
    /// `ok`, `not_found` or `denied`.
    pub result: String,
}

/// The decision with what the merchant needs around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantDecision {
    pub view: DecisionView,
    pub consent_id: Option<String>,
    /// For an offer: the last day (`YYYY-MM-DD`) it can be accepted.
    pub valid_until: Option<String>,
    /// For a decline: the first day a new assessment is worth asking for.
    pub retry_after: Option<String>,
    /// The banks the merchant chose, with their products open to the grade.
    pub banks: Vec<BankInfo>,
    /// The application made from this decision, if any.
    pub application: Option<ApplicationView>,
}

/// `POST /api/m/consents` answers with the consent and the decision made
/// under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignResponse {
    pub consent: ConsentView,
    pub decision: MerchantDecision,
}

/// `POST /api/m/decisions`: assess again under a consent already signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideRequest {
    pub consent_id: String,
}

/// `POST /api/m/applications`. Accepts an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRequest {
    pub decision_id: String,
    /// `false` is "not now": remembered, and the offer can still be accepted
    /// until it lapses.
    #[serde(default = "yes")]
    pub accept: bool,
}

fn yes() -> bool {
    true
}

/// One bank's view of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolEntryView {
    pub bank_id: String,
    pub bank_name: String,
    /// `waiting`, `claimed`, `contacted`, `approved`, `rejected`, `withdrawn`.
    pub status: String,
    pub contacted_at: Option<String>,
    pub outcome: Option<String>,
}

/// `GET /api/m/application`, `GET /api/m/applications/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub id: String,
    pub decision_id: String,
    pub consent_id: String,
    /// `in_pool`, `declined_by_merchant` or `withdrawn`.
    pub status: String,
    pub entries: Vec<PoolEntryView>,
    pub created_at: String,
    pub updated_at: String,
}

/// Where a returning merchant continues (`GET /api/m/me`'s `next_step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextStep {
    #[default]
    Profile,
    Authorize,
    Decision,
    Application,
}

/// SHA-256 of `text` (UTF-8), lowercase hex. Small and dependency-free so the
/// browser bundle does not grow by a crate for one hash.
pub fn sha256_hex(text: &str) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut data = text.as_bytes().to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    data.push(0x80);
    while data.len() % 64 != 56 {
        data.push(0);
    }
    data.extend_from_slice(&bit_len.to_be_bytes());
    for block in data.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_digests() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Two blocks, and the padding edge at 56 bytes.
        assert_eq!(
            sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn accept_defaults_to_yes() {
        let r: ApplicationRequest = serde_json::from_str(r#"{"decision_id":"dec_1"}"#).unwrap();
        assert!(r.accept);
    }
}
