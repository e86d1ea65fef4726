//! The merchant app's calls, `/api/m/…`. The session travels as an HttpOnly
//! cookie, so no call handles it.

use shared::consent::{
    ApplicationRequest, ApplicationView, ConsentView, DataRead, Letter, MerchantDecision,
    SignRequest, SignResponse,
};
use shared::merchant::{
    CodeInfo, IdentityInput, MeResponse, OtpRequest, OtpSent, Profile, ProfileInput, SessionRequest,
};

use super::{ApiError, delete, get, get_optional, post, post_once, put, segment};

/// What a scanned stall code points at.
pub async fn code_info(code: &str) -> Result<CodeInfo, ApiError> {
    get(&format!("/api/m/codes/{}", segment(code))).await
}

pub async fn send_otp(req: &OtpRequest) -> Result<OtpSent, ApiError> {
    post("/api/m/otp", req).await
}

pub async fn log_in(req: &SessionRequest) -> Result<MeResponse, ApiError> {
    post("/api/m/session", req).await
}

pub async fn log_out() -> Result<(), ApiError> {
    delete("/api/m/session").await
}

/// Who is logged in, and where they continue (`next_step`).
pub async fn me() -> Result<MeResponse, ApiError> {
    get("/api/m/me").await
}

pub async fn profile() -> Result<Profile, ApiError> {
    get("/api/m/profile").await
}

/// The real-name check (实名认证); the answer is the profile with the
/// verified person and the businesses the registry lists for them.
pub async fn verify_identity(input: &IdentityInput) -> Result<Profile, ApiError> {
    post("/api/m/identity", input).await
}

/// The business the verified person applies for.
pub async fn save_profile(input: &ProfileInput) -> Result<Profile, ApiError> {
    put("/api/m/profile", input).await
}

/// The merchant's latest decision; `None` before there is one.
pub async fn latest_decision() -> Result<Option<MerchantDecision>, ApiError> {
    get_optional("/api/m/decision").await
}

pub async fn letter() -> Result<Letter, ApiError> {
    get("/api/m/letter").await
}

/// Signs the letter; the answer carries the decision made under it.
pub async fn sign(req: &SignRequest, key: &str) -> Result<SignResponse, ApiError> {
    post_once("/api/m/consents", req, key).await
}

pub async fn consents() -> Result<Vec<ConsentView>, ApiError> {
    get("/api/m/consents").await
}

/// Every read of the merchant's data under a consent (系统日志).
pub async fn consent_reads(id: &str) -> Result<Vec<DataRead>, ApiError> {
    get(&format!("/api/m/consents/{}/reads", segment(id))).await
}

pub async fn withdraw_consent(id: &str) -> Result<ConsentView, ApiError> {
    post(
        &format!("/api/m/consents/{}/withdraw", segment(id)),
        &serde_json::json!({}),
    )
    .await
}

/// Accept an offer into the candidate pool, or "not now".
pub async fn answer_offer(
    req: &ApplicationRequest,
    key: &str,
) -> Result<ApplicationView, ApiError> {
    post_once("/api/m/applications", req, key).await
}

/// The latest application; `None` before there is one.
pub async fn application() -> Result<Option<ApplicationView>, ApiError> {
    get_optional("/api/m/application").await
}
