//! Request and response types of the merchant API, `/api/m/...`: the scanned
//! code, SMS-code login, the session and the profile.
//!
//! Identifier fields travel as plain strings and are parsed with
//! [`crate::ids`] on both sides, so a bad value comes back as a 422 naming the
//! field instead of a JSON-shape error.

use serde::{Deserialize, Serialize};

/// `GET /api/m/codes/{code}`: what the merchant sees before anything else
/// ("is this your stall?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeInfo {
    pub market_name: String,
    pub market_office_phone: String,
    /// `None` for a market-wide code (individual businesses without a stall).
    pub stall_number: Option<String>,
    pub zone: Option<String>,
    pub trade: Option<String>,
    /// `王**`: the first character only; enough to recognise, not to harvest.
    pub holder_name_masked: Option<String>,
}

/// The id of the data block in a stall page the server rendered.
pub const SCAN_DATA_ID: &str = "scan-data";

/// What the server writes into a stall page it rendered (`/S/<code>`), as a
/// `<script type="application/json" id="scan-data">` block: the answer the
/// page already shows, so the app takes over the screen without asking the
/// server again (a refusal asked twice would also be audited twice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPageData {
    /// The code the page was rendered for, as it appears in the path.
    pub code: String,
    pub answer: ScanAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanAnswer {
    /// What `GET /api/m/codes/{code}` would have answered.
    Found(CodeInfo),
    /// Its refusal: the status and error body the API would have sent.
    Refused {
        status: u16,
        error: crate::error::ApiErrorBody,
    },
}

/// `POST /api/m/otp`. Accepts an `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpRequest {
    /// Any common spelling: `+86 139 1234 5678`, `0086-…`, `139…`.
    pub mobile: String,
    /// The scanned stall code (the part after `/s/`), when the merchant came
    /// from one. Checked again here, and remembered for the login.
    #[serde(default, alias = "code_ref", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Reply to [`OtpRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpSent {
    pub mobile_masked: String,
    /// How long the code stays valid.
    pub expires_in_seconds: u32,
    /// How long before another code may be asked for.
    pub resend_after_seconds: u32,
}

/// `POST /api/m/session`: log in with the SMS code. Sets the session cookie.
/// Accepts an `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRequest {
    pub mobile: String,
    /// The six digits from the SMS.
    pub otp: String,
}

/// `GET /api/m/me`, and the reply to [`SessionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeResponse {
    pub merchant_id: String,
    pub mobile_masked: String,
    /// False until the profile has been saved once.
    pub profile_complete: bool,
    /// The market and stall of the code the merchant scanned, if any.
    pub market_name: Option<String>,
    pub stall_number: Option<String>,
    /// RFC 3339; the session cookie stops working then.
    pub session_expires_at: String,
    /// The screen a returning merchant continues on.
    #[serde(default)]
    pub next_step: crate::consent::NextStep,
}

/// `PUT /api/m/profile`. Each field is validated on its own; a 422 names
/// every bad one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileInput {
    pub name: String,
    pub resident_id: String,
    pub uscc: String,
    pub trade: String,
    pub years_in_business: u32,
}

/// `GET /api/m/profile` (and `GET /api/m/merchants/{id}/profile`), and the
/// reply to [`ProfileInput`]. Before the first save the fields are prefilled
/// from the stall the merchant scanned (licence code, trade) where known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub merchant_id: String,
    pub complete: bool,
    pub mobile_masked: String,
    pub name: Option<String>,
    /// Always masked, e.g. `1101**********002X`.
    pub resident_id_masked: Option<String>,
    /// `YYYY-MM-DD`, from the ID number.
    pub birth_date: Option<String>,
    pub uscc: Option<String>,
    pub trade: Option<String>,
    pub years_in_business: Option<u32>,
    pub market_name: Option<String>,
    pub stall_number: Option<String>,
}

/// Limits the profile form shows and the server enforces.
pub const NAME_MAX_CHARS: usize = 30;
pub const TRADE_MAX_CHARS: usize = 30;
pub const YEARS_IN_BUSINESS_MAX: u32 = 80;
