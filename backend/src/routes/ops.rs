//! `/api/ops/...`: what the county credit office (operator) sets up for the
//! markets: markets and their staff accounts. Managers may list their own
//! market; everything else is operators only (404 for anyone else).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use shared::manager::{MarketInput, MarketView, StaffUserInput, StaffUserView};

use crate::db;
use crate::error::{ApiJson, AppResult};
use crate::request::{RequestId, StaffSession};
use crate::services::staff as service;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/markets", get(markets).post(create_market))
        .route("/users", get(users).post(create_user))
}

async fn markets(
    State(state): State<AppState>,
    s: StaffSession,
) -> AppResult<ApiJson<Vec<MarketView>>> {
    let only = if s.is_operator() {
        None
    } else {
        Some(s.market_scope(None)?)
    };
    db::run(&state.pool, move |conn| {
        service::list_markets(conn, only.as_deref())
    })
    .await
    .map(ApiJson)
}

async fn create_market(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    ApiJson(input): ApiJson<MarketInput>,
) -> AppResult<ApiJson<MarketView>> {
    s.require_operator()?;
    db::run(&state.pool, move |conn| {
        service::create_market(conn, &s, &input, rid.get())
    })
    .await
    .map(ApiJson)
}

async fn users(
    State(state): State<AppState>,
    s: StaffSession,
) -> AppResult<ApiJson<Vec<StaffUserView>>> {
    s.require_operator()?;
    db::run(&state.pool, service::list_users).await.map(ApiJson)
}

async fn create_user(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    ApiJson(input): ApiJson<StaffUserInput>,
) -> AppResult<ApiJson<StaffUserView>> {
    s.require_operator()?;
    service::check_new_user(&input)?;
    let hash = state.hasher.hash(input.password.clone()).await?;
    db::run(&state.pool, move |conn| {
        service::create_user_with_hash(conn, &s.actor(), &input, hash, rid.get())
    })
    .await
    .map(ApiJson)
}
