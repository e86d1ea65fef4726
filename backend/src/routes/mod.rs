//! The API, one module per caller. Each exposes `router()`; they are merged
//! here and nowhere else, so this file is the map of every endpoint.

mod health;
mod manager;
mod merchant;
mod merchant_consent;
mod ops;
mod staff;

use axum::Router;

use crate::app::AppState;
use crate::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .nest("/m", merchant::router())
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
