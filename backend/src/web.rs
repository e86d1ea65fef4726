//! Serving the built SPA: hashed assets cached for a year, `index.html` never
//! cached (so a deploy reaches phones at once), and every unknown path
//! answered with an `index.html` so client-side routes like `/login` load
//! (the stall page, `/S/<code>`, is rendered by `stall_page.rs` instead).
//! There are two apps: the staff console (`dist/staff/`) for its routes, the
//! merchant app (`dist/`) for everything else; they are split so merchants'
//! phones never download the console.
//! Files are served pre-gzipped when the build wrote a `.gz` beside them.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

pub fn spa<S: Clone + Send + Sync + 'static>(dist: &Path) -> Router<S> {
    let merchant = ServeFile::new(dist.join("index.html")).precompressed_gzip();
    let staff = ServeFile::new(dist.join("staff").join("index.html")).precompressed_gzip();
    let index = tower::service_fn(move |req: Request| {
        let page = if is_staff_route(req.uri().path()) {
            staff.clone()
        } else {
            merchant.clone()
        };
        page.oneshot(req)
    });
    let files = ServeDir::new(dist)
        .precompressed_gzip()
        .append_index_html_on_directories(true)
        .fallback(index);
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(cache_headers))
}

async fn cache_headers(req: Request, next: Next) -> Response {
    let immutable = is_hashed_asset(req.uri().path());
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let policy = if is_html || !res.status().is_success() {
        "no-cache"
    } else if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    res
}

/// The staff console's client routes (`frontend/src/staff_app.rs`).
fn is_staff_route(path: &str) -> bool {
    ["/manager", "/ops", "/bank"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Trunk names built assets `<name>-<16 hex>.<ext>` (or `…_bg.wasm`); such a
/// name changes whenever the content does, so it can be cached forever.
fn is_hashed_asset(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or("");
    let stem = file.split('.').next().unwrap_or("");
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::{is_hashed_asset, is_staff_route};

    #[test]
    fn recognises_trunk_hashed_names() {
        assert!(is_hashed_asset("/frontend-0123456789abcdef_bg.wasm"));
        assert!(is_hashed_asset("/frontend-0123456789abcdef.js"));
        assert!(is_hashed_asset("/style-fedcba9876543210.css"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/manifest.webmanifest"));
        assert!(!is_hashed_asset("/icon-192.png"));
        assert!(!is_hashed_asset("/frontend-0123456789abcdeg.js"));
    }

    #[test]
    fn staff_routes_get_the_console_and_the_rest_the_merchant_app() {
        for path in [
            "/manager",
            "/manager/",
            "/manager/print",
            "/ops",
            "/ops/x",
            "/bank",
        ] {
            assert!(is_staff_route(path), "{path}");
        }
        for path in [
            "/",
            "/s/abc",
            "/login",
            "/me/consents",
            "/managers",
            "/bankruptcy",
            "/s/manager",
        ] {
            assert!(!is_staff_route(path), "{path}");
        }
    }
}
