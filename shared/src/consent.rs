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
    /// The one business (the subject) a signature now would cover: the
    /// merchant's verified business. Shown beside the letter, not part of
    /// its signed text.
    #[serde(default)]
    pub subject: Option<crate::merchant::RegisteredBusiness>,
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
    /// The business (USCC) whose data this consent covers, and nothing else.
    #[serde(default)]
    pub subject_uscc: Option<String>,
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

/// SHA-256 of `text` (UTF-8), lowercase hex: the `sha2` crate, the same
/// one the server's HMACs use, so browser and server cannot disagree.
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The bounds of these requests (see [`crate::limits`]).
mod bounds {
    use super::{ApplicationRequest, DecideRequest, SignRequest};
    use crate::limits::*;

    impl Bounded for SignRequest {
        fn bounds(&self, b: &mut Bounds) {
            b.text("letter_version", &self.letter_version, MAX_TOKEN_LEN)
                .text("text_sha256", &self.text_sha256, MAX_TOKEN_LEN)
                .list("bank_ids", &self.bank_ids, MAX_BANK_IDS, MAX_ID_LEN)
                .text("language", &self.language, MAX_TOKEN_LEN);
        }
    }

    impl Bounded for DecideRequest {
        fn bounds(&self, b: &mut Bounds) {
            b.text("consent_id", &self.consent_id, MAX_ID_LEN);
        }
    }

    impl Bounded for ApplicationRequest {
        fn bounds(&self, b: &mut Bounds) {
            b.text("decision_id", &self.decision_id, MAX_ID_LEN);
        }
    }
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
