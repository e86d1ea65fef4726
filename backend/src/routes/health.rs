//! `GET /api/health`: is the server up, which database, which schema.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use diesel::prelude::*;
use shared::api::HealthResponse;

use crate::db::{self, schema::markets};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> AppResult<ApiJson<HealthResponse>> {
    // A real query, so "healthy" means the database answers too.
    let market = db::run(&state.pool, |conn| {
        Ok(markets::table
            .select(markets::name)
            .order(markets::created_at.asc())
            .first::<String>(conn)
            .optional()?)
    })
    .await?;
    Ok(ApiJson(HealthResponse {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database: state.backend.name().to_owned(),
        migration: state.migration.to_string(),
        market,
    }))
}
