//! Builds the one `Router` the server runs and the tests call: the API under
//! `/api`, the SPA for everything else, and the middleware around both.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::db::{Backend, DbPool};

/// Shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub backend: Backend,
    /// Newest migration applied at start-up.
    pub migration: Arc<str>,
    /// Merchant-side keys (stall codes, field encryption) and the SMS
    /// sender: `AuthState::from_config(&config)`.
    pub auth: Arc<crate::auth::AuthState>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    let dist = state.config.dist_dir.clone();
    Router::new()
        .nest("/api", crate::routes::router())
        .merge(crate::stall_page::router())
        .fallback_service(crate::web::spa(&dist))
        .with_state(state)
        .layer(
            // Outermost first: the id is set before the span is made, so every
            // log line of a request carries it, and it is echoed to the client
            // for support calls ("quote this number").
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request<_>| {
                            let id = req
                                .headers()
                                .get(&REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-");
                            // The path only: query strings may carry codes.
                            tracing::info_span!(
                                "request",
                                id = %id,
                                method = %req.method(),
                                path = %req.uri().path(),
                            )
                        })
                        .on_response(
                            |res: &axum::http::Response<_>,
                             latency: Duration,
                             _: &tracing::Span| {
                                tracing::info!(
                                    status = res.status().as_u16(),
                                    ms = latency.as_millis() as u64,
                                    "done"
                                );
                            },
                        ),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
}
