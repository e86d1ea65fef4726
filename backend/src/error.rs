//! The one error type of the API. Every failure a client can cause becomes a
//! JSON [`ApiErrorBody`] with a stable code; internal causes are logged with
//! the request's span and never shown to the client.

use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::error::{ApiErrorBody, FieldError};
use shared::limits::Bounded;

pub type AppResult<T> = Result<T, AppError>;

/// Boxed so that `Result<T, AppError>` stays one pointer wide on the happy
/// path; fields are reached through `Deref` (`e.status`, `e.body.code`).
#[derive(Debug)]
pub struct AppError(Box<ErrorParts>);

#[derive(Debug)]
pub struct ErrorParts {
    pub status: StatusCode,
    pub body: ApiErrorBody,
    /// Seconds after which a refused request may succeed: sent as
    /// `Retry-After` (a 429 or 503 says when to come back).
    pub retry_after: Option<u64>,
    /// Logged, never sent.
    internal: Option<String>,
}

impl std::ops::Deref for AppError {
    type Target = ErrorParts;
    fn deref(&self) -> &ErrorParts {
        &self.0
    }
}

impl std::ops::DerefMut for AppError {
    fn deref_mut(&mut self) -> &mut ErrorParts {
        &mut self.0
    }
}

impl AppError {
    pub fn new(status: StatusCode, code: &str, message_zh: &str, message_en: &str) -> Self {
        Self(Box::new(ErrorParts {
            status,
            body: ApiErrorBody {
                code: code.to_owned(),
                message_zh: message_zh.to_owned(),
                message_en: message_en.to_owned(),
                fields: Vec::new(),
            },
            retry_after: None,
            internal: None,
        }))
    }

    /// Also used for objects outside the caller's scope, so ids cannot be probed.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "找不到该内容",
            "Not found",
        )
    }

    /// 422 naming each field at fault.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "填写的内容有误，请按提示修改",
            "Some fields are not valid; see the messages next to them",
        );
        e.body.fields = fields;
        e
    }

    pub fn bad_request(code: &str, message_zh: &str, message_en: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message_zh, message_en)
    }

    pub fn unauthorized() -> Self {
        Self::unauthorized_as("unauthorized", "请先登录", "Please log in first")
    }

    /// 401 with its own code (e.g. wrong credentials).
    pub fn unauthorized_as(code: &str, message_zh: &str, message_en: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message_zh, message_en)
    }

    pub fn conflict(code: &str, message_zh: &str, message_en: &str) -> Self {
        Self::new(StatusCode::CONFLICT, code, message_zh, message_en)
    }

    /// 422 about the request as a whole rather than one field.
    pub fn unprocessable(code: &str, message_zh: &str, message_en: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message_zh,
            message_en,
        )
    }

    /// 429: a limit that waiting lifts.
    pub fn too_many_requests(code: &str, message_zh: &str, message_en: &str) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, message_zh, message_en)
    }

    /// A failure of ours, not the client's: the cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "服务器出了点问题，请稍后再试",
            "Something went wrong on our side; please try again later",
        );
        e.internal = Some(cause.to_string());
        e
    }

    /// A refusal the caller cannot change by logging in again (403).
    pub fn forbidden(code: &str, message_zh: &str, message_en: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message_zh, message_en)
    }

    /// A service this one depends on is down: a 503 with its own code, and
    /// nothing to log (the caller says what was not saved).
    pub fn unavailable_as(code: &str, message_zh: &str, message_en: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            message_zh,
            message_en,
        )
    }

    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "服务繁忙，请稍后再试",
            "The service is busy; please try again shortly",
        );
        e.internal = Some(cause.to_string());
        e
    }

    pub fn code(&self) -> &str {
        &self.body.code
    }

    /// Tells the client when to try again (`Retry-After`, at least 1 s).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.body.code)?;
        if let Some(cause) = &self.internal {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppError {}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.internal {
            tracing::error!(code = %self.body.code, %cause, "request failed");
        } else if self.status.is_client_error() {
            tracing::debug!(code = %self.body.code, "request refused");
        }
        let parts = *self.0;
        let mut res = (parts.status, axum::Json(parts.body)).into_response();
        if let Some(seconds) = parts.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        res
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Self::not_found(),
            other => Self::internal(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::unavailable(e)
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, code, zh, en) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected_json",
                "请求须为 JSON（Content-Type: application/json）",
                "The request body must be JSON (Content-Type: application/json)",
            ),
            JsonRejection::JsonDataError(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_json_shape",
                "请求内容缺少字段或字段类型不对",
                "The JSON body is missing fields or has fields of the wrong type",
            ),
            JsonRejection::BytesRejection(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_unreadable",
                "请求内容过大或无法读取",
                "The request body is too large or could not be read",
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "bad_json",
                "请求内容不是有效的 JSON",
                "The request body is not valid JSON",
            ),
        };
        let mut e = Self::new(status, code, zh, en);
        // The serde message names the offending field; safe to show (it echoes
        // no values), and it saves an integrator a round of guessing.
        if let JsonRejection::JsonDataError(inner) = &rejection {
            e.body.message_en = format!("{en}: {}", inner.body_text());
        }
        e
    }
}

/// `axum::Json`, but a malformed body is the same JSON error as everything
/// else, and a body is accepted only within its type's bounds
/// (`shared::limits::Bounded`): a string or list over its limit is a 422
/// naming the field, before the handler does any work. (The body's size is
/// capped before it is even parsed: see `routes`.)
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned + Bounded,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        value.check_bounds().map_err(AppError::validation)?;
        Ok(Self(value))
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
