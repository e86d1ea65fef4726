//! Builds the one `Router` the server runs and the tests call: the API under
//! `/api`, the SPA for everything else, and the middleware around both.

use std::time::Duration;

use axum::Router;
use axum::http::Request;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::request::id::{self as request_id, HEADER as REQUEST_ID};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let dist = state.config.dist_dir.clone();
    let config = state.config.clone();
    let routes = Router::new()
        .nest("/api", crate::routes::router())
        .merge(crate::stall_page::router())
        .fallback_service(crate::web::spa(&dist))
        .with_state(state);
    crate::security_headers::apply(routes, &config).layer(
        // Outermost first: a client's id is kept only if acceptable, else
        // a fresh one is made; it is set before the span is made, so every
        // log line of a request carries it, and the same id is echoed to
        // the client for support calls ("quote this number").
        tower::ServiceBuilder::new()
            .map_request(request_id::drop_unacceptable)
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
                        |res: &axum::http::Response<_>, latency: Duration, _: &tracing::Span| {
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
