//! The API, one module per caller (or per stage of a caller's journey).
//! Each exposes `router()`; they are merged and nested here and nowhere
//! else, so this file is the map of every endpoint.
//!
//! A handler extracts (`request::…`, `ApiJson`), authorizes, calls one
//! service and shapes the response.

mod health;
mod manager;
mod merchant;
mod merchant_consent;
mod ops;
mod staff;

use axum::Router;

use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .nest("/m", merchant::router().merge(merchant_consent::router()))
        .nest("/staff", staff::router())
        .nest("/ops", ops::router())
        .nest("/manager", manager::router())
        .fallback(unknown_endpoint)
        .method_not_allowed_fallback(wrong_method)
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
