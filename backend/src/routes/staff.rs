//! `/api/staff/...`: password login for market managers and operators, the
//! session, logout. The work is in `services::staff`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shared::manager::{StaffLogin, StaffMe};

use crate::app::AppState;
use crate::auth::origin::SameOrigin;
use crate::auth::session::named_cookie;
use crate::db;
use crate::error::{ApiJson, AppResult};
use crate::services::staff::{self as service, COOKIE_NAME, SESSION_HOURS, StaffSession};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
}

async fn login(
    State(state): State<AppState>,
    _: SameOrigin,
    headers: HeaderMap,
    ApiJson(req): ApiJson<StaffLogin>,
) -> AppResult<Response> {
    let rid = service::request_id(&headers);
    let done = db::run(&state.pool, move |conn| {
        service::login(conn, &req.username, &req.password, rid.as_deref())
    })
    .await?;
    let mut res = axum::Json(done.me).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        named_cookie(
            COOKIE_NAME,
            &done.token,
            SESSION_HOURS * 3600,
            state.auth.cookie_secure,
        ),
    );
    Ok(res)
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: StaffSession,
) -> AppResult<Response> {
    let rid = service::request_id(&headers);
    db::run(&state.pool, move |conn| {
        service::logout(conn, &s, rid.as_deref())
    })
    .await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        named_cookie(COOKIE_NAME, "", 0, state.auth.cookie_secure),
    );
    Ok(res)
}

async fn me(State(state): State<AppState>, s: StaffSession) -> AppResult<ApiJson<StaffMe>> {
    db::run(&state.pool, move |conn| s.me(conn))
        .await
        .map(ApiJson)
}
