//! The API, one module per caller (or per stage of a caller's journey).
//! Each exposes `router()`; they are merged and nested here and nowhere
//! else, so this file is the map of every endpoint.
//!
//! A handler extracts (`request::…`, `ApiJson`), authorizes, calls one
//! service and shapes the response.
//!
//! Bodies are capped by who may send them (`shared::limits`): every API
//! route takes at most `MAX_BODY_DEFAULT`, the anonymous ones (SMS code,
//! logins) `MAX_BODY_ANONYMOUS`, uploads `MAX_BODY_UPLOAD` (set on the
//! route); a URI longer than [`MAX_URI_LEN`] is refused before routing.

mod health;
mod manager;
mod merchant;
mod merchant_consent;
mod ops;
mod staff;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use shared::limits::MAX_BODY_DEFAULT;

use crate::error::AppError;
use crate::state::AppState;

/// Path and query of an API request: ids are 64 characters, filters short.
pub const MAX_URI_LEN: usize = 4096;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .nest("/m", merchant::router().merge(merchant_consent::router()))
        .nest("/staff", staff::router())
        .nest("/ops", ops::router())
        .nest("/manager", manager::router())
        .fallback(unknown_endpoint)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_DEFAULT))
        .layer(middleware::from_fn(bounded_uri))
}

/// The body cap of a route anonymous callers reach.
pub fn anonymous_body() -> DefaultBodyLimit {
    DefaultBodyLimit::max(shared::limits::MAX_BODY_ANONYMOUS)
}

async fn bounded_uri(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_LEN {
        return AppError::new(
            axum::http::StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "请求地址过长",
            "The request URI is too long",
        )
        .into_response();
    }
    next.run(req).await
}

async fn wrong_method() -> AppError {
    AppError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "该接口不支持这种请求方式",
        "This endpoint does not accept that HTTP method",
    )
}

async fn unknown_endpoint() -> AppError {
    AppError::new(
        axum::http::StatusCode::NOT_FOUND,
        "no_such_endpoint",
        "没有这个接口",
        "No such API endpoint",
    )
}
