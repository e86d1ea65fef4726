//! Typed client for the server's JSON API.
//!
//! Every call takes and returns the `shared` request/response types, so a
//! change on the server that the browser does not follow fails to compile
//! instead of failing on a merchant's phone.

use gloo_net::http::{Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::HealthResponse;
use shared::consent::{
    ApplicationRequest, ApplicationView, ConsentView, DataRead, Letter, MerchantDecision,
    SignRequest, SignResponse,
};
use shared::error::{ApiErrorBody, FieldError};
use shared::merchant::{
    CodeInfo, MeResponse, OtpRequest, OtpSent, Profile, ProfileInput, SessionRequest,
};

use crate::i18n::Lang;

/// Why a call failed, in terms the UI can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// No answer at all: offline, weak signal, server down.
    Network,
    /// The server refused with its usual error body.
    Server { status: u16, body: ApiErrorBody },
    /// An answer we cannot read (a proxy's HTML error page, a version skew).
    Unexpected { status: u16 },
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Network => None,
            ApiError::Server { status, .. } | ApiError::Unexpected { status } => Some(*status),
        }
    }

    /// A 4xx other than "too slow" or "too many": the request itself is at
    /// fault, so trying the same again will not help.
    pub fn is_permanent(&self) -> bool {
        self.status()
            .is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429)
    }

    pub fn message(&self, lang: Lang) -> String {
        match self {
            ApiError::Server { body, .. } => lang.api_message(body),
            ApiError::Network => lang
                .pick(
                    "网络连接失败，请检查信号后重试。",
                    "Could not reach the server. Check your signal and try again.",
                )
                .to_owned(),
            ApiError::Unexpected { status } => match lang {
                Lang::Zh => format!("服务暂时不可用（{status}），请稍后重试。"),
                Lang::En => {
                    format!("The service is unavailable ({status}). Please try again later.")
                }
            },
        }
    }

    /// The server's complaint about one request field, to show beside it.
    pub fn field(&self, name: &str) -> Option<&FieldError> {
        match self {
            ApiError::Server { body, .. } => body.fields.iter().find(|f| f.field == name),
            _ => None,
        }
    }

    pub fn has_field_errors(&self) -> bool {
        matches!(self, ApiError::Server { body, .. } if !body.fields.is_empty())
    }
}

pub(crate) async fn read<T: DeserializeOwned>(res: Response) -> Result<T, ApiError> {
    let status = res.status();
    if res.ok() {
        return res
            .json::<T>()
            .await
            .map_err(|_| ApiError::Unexpected { status });
    }
    match res.json::<ApiErrorBody>().await {
        Ok(body) => Err(ApiError::Server { status, body }),
        Err(_) => Err(ApiError::Unexpected { status }),
    }
}

/// For endpoints that answer 204 No Content.
pub(crate) async fn read_empty(res: Response) -> Result<(), ApiError> {
    let status = res.status();
    if res.ok() {
        return Ok(());
    }
    match res.json::<ApiErrorBody>().await {
        Ok(body) => Err(ApiError::Server { status, body }),
        Err(_) => Err(ApiError::Unexpected { status }),
    }
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let res = Request::get(path)
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    read(res).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let req = Request::post(path)
        .json(body)
        .map_err(|_| ApiError::Unexpected { status: 0 })?;
    let res = req.send().await.map_err(|_| ApiError::Network)?;
    read(res).await
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let req = Request::put(path)
        .json(body)
        .map_err(|_| ApiError::Unexpected { status: 0 })?;
    let res = req.send().await.map_err(|_| ApiError::Network)?;
    read(res).await
}

pub async fn health() -> Result<HealthResponse, ApiError> {
    get("/api/health").await
}

/// Path segments come from URLs people type or scan; escape them so a stray
/// `/` or `?` cannot reach a different endpoint.
pub fn segment(raw: &str) -> String {
    String::from(js_sys::encode_uri_component(raw))
}

// --- merchant: /api/m/... (the session travels as an HttpOnly cookie) ---

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
    let res = Request::delete("/api/m/session")
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    read_empty(res).await
}

/// Who is logged in, and where they continue (`next_step`).
pub async fn me() -> Result<MeResponse, ApiError> {
    get("/api/m/me").await
}

pub async fn profile() -> Result<Profile, ApiError> {
    get("/api/m/profile").await
}

pub async fn save_profile(input: &ProfileInput) -> Result<Profile, ApiError> {
    put("/api/m/profile", input).await
}

/// The merchant's latest decision. A 404 means there is none yet.
pub async fn latest_decision() -> Result<MerchantDecision, ApiError> {
    get("/api/m/decision").await
}

/// A fresh `Idempotency-Key`: one per action the merchant means once, reused
/// when the same action is retried (a double tap, a lost answer).
pub fn new_idempotency_key() -> String {
    let now = js_sys::Date::now() as u64;
    let r1 = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let r2 = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    format!("{now:x}-{r1:08x}{r2:08x}")
}

async fn post_once<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
    key: &str,
) -> Result<T, ApiError> {
    let req = Request::post(path)
        .header("Idempotency-Key", key)
        .json(body)
        .map_err(|_| ApiError::Unexpected { status: 0 })?;
    let res = req.send().await.map_err(|_| ApiError::Network)?;
    read(res).await
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

/// The latest application. A 404 means there is none.
pub async fn application() -> Result<ApplicationView, ApiError> {
    get("/api/m/application").await
}
