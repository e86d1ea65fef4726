//! `/api/staff/...`: password login for market managers and operators, the
//! session, logout. The work is in `services::staff`.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shared::manager::{StaffLogin, StaffMe};

use crate::db;
use crate::error::{ApiJson, AppResult};
use crate::request::{ClientInfo, RequestId, SameOrigin, SessionCookie, StaffSession};
use crate::services::staff as service;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/session",
            post(login).layer(super::anonymous_body()).delete(logout),
        )
        .route("/me", get(me))
}

async fn login(
    State(state): State<AppState>,
    _: SameOrigin,
    rid: RequestId,
    client: ClientInfo,
    ApiJson(req): ApiJson<StaffLogin>,
) -> AppResult<Response> {
    let done = service::login(
        &state.pool,
        &state.hasher,
        &state.config.limits,
        &req.username,
        &req.password,
        &client.ip,
        rid.get(),
    )
    .await?;
    let mut res = ApiJson(done.me).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        SessionCookie::Staff.set(&done.token, state.auth.cookie_secure),
    );
    Ok(res)
}

async fn logout(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
) -> AppResult<Response> {
    db::run(&state.pool, move |conn| {
        service::logout(conn, &s, rid.get())
    })
    .await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        SessionCookie::Staff.clear(state.auth.cookie_secure),
    );
    Ok(res)
}

async fn me(State(state): State<AppState>, s: StaffSession) -> AppResult<ApiJson<StaffMe>> {
    db::run(&state.pool, move |conn| s.me(conn))
        .await
        .map(ApiJson)
}
