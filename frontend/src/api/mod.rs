//! The browser's typed client for the server's JSON API: one function per
//! endpoint, over the `shared` request and response types, so a change on the
//! server that the browser does not follow fails to compile instead of
//! failing on a merchant's phone. This module is the only place that knows
//! URLs; screens call `api::merchant::…` (the merchant app) or
//! `api::staff::…` (the staff console), never a path.

pub mod merchant;
pub mod staff;

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::error::{ApiErrorBody, FieldError};

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

    /// The session is missing or ended: the screen should go to its login.
    pub fn is_logged_out(&self) -> bool {
        self.status() == Some(401)
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

    /// The server's complaints about single request fields, to show beside
    /// each; empty when the refusal is about the request as a whole.
    pub fn fields(&self) -> &[FieldError] {
        match self {
            ApiError::Server { body, .. } => &body.fields,
            _ => &[],
        }
    }

    /// The server's stable error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Server { body, .. } => Some(&body.code),
            _ => None,
        }
    }

    /// The server's complaint about one request field.
    pub fn field(&self, name: &str) -> Option<&FieldError> {
        self.fields().iter().find(|f| f.field == name)
    }

    pub fn has_field_errors(&self) -> bool {
        !self.fields().is_empty()
    }
}

/// A fresh `Idempotency-Key`: one per action the merchant means once, reused
/// when the same action is retried (a double tap, a lost answer).
pub fn new_idempotency_key() -> String {
    let now = js_sys::Date::now() as u64;
    let r1 = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let r2 = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    format!("{now:x}-{r1:08x}{r2:08x}")
}

// --- the plumbing under every call; private to the client ---

/// Path segments come from URLs people type or scan; escape them so a stray
/// `/` or `?` cannot reach a different endpoint.
fn segment(raw: &str) -> String {
    String::from(js_sys::encode_uri_component(raw))
}

/// Sends a request; no answer at all is `Network`.
async fn send(req: Result<Request, ApiError>) -> Result<Response, ApiError> {
    req?.send().await.map_err(|_| ApiError::Network)
}

fn with_json<B: Serialize>(req: RequestBuilder, body: &B) -> Result<Request, ApiError> {
    req.json(body)
        .map_err(|_| ApiError::Unexpected { status: 0 })
}

fn bare(req: RequestBuilder) -> Result<Request, ApiError> {
    req.build().map_err(|_| ApiError::Unexpected { status: 0 })
}

/// The error body of a refusal, or `Unexpected` when there is none.
async fn refusal(res: Response) -> ApiError {
    let status = res.status();
    match res.json::<ApiErrorBody>().await {
        Ok(body) => ApiError::Server { status, body },
        Err(_) => ApiError::Unexpected { status },
    }
}

async fn read<T: DeserializeOwned>(res: Response) -> Result<T, ApiError> {
    if !res.ok() {
        return Err(refusal(res).await);
    }
    let status = res.status();
    res.json::<T>()
        .await
        .map_err(|_| ApiError::Unexpected { status })
}

/// For endpoints that answer 204 No Content.
async fn read_empty(res: Response) -> Result<(), ApiError> {
    if res.ok() {
        Ok(())
    } else {
        Err(refusal(res).await)
    }
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    read(send(bare(Request::get(path))).await?).await
}

/// A `GET` whose 404 means "there is none yet" rather than a failure.
async fn get_optional<T: DeserializeOwned>(path: &str) -> Result<Option<T>, ApiError> {
    match get(path).await {
        Err(e) if e.status() == Some(404) => Ok(None),
        other => other.map(Some),
    }
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    read(send(with_json(Request::post(path), body)).await?).await
}

/// A `POST` carrying an `Idempotency-Key`: the server does the action once
/// however often the same key comes.
async fn post_once<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
    key: &str,
) -> Result<T, ApiError> {
    let req = with_json(Request::post(path).header("Idempotency-Key", key), body);
    read(send(req).await?).await
}

async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    read(send(with_json(Request::put(path), body)).await?).await
}

async fn delete(path: &str) -> Result<(), ApiError> {
    read_empty(send(bare(Request::delete(path))).await?).await
}
