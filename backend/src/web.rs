//! Serving the built SPA: hashed assets cached for a year, `index.html` never
//! cached (so a deploy reaches phones at once), and every unknown path
//! answered with `index.html` so client-side routes like `/s/<code>` load.
//! Files are served pre-gzipped when the build wrote a `.gz` beside them.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::services::{ServeDir, ServeFile};

pub fn spa<S: Clone + Send + Sync + 'static>(dist: &Path) -> Router<S> {
    let index = ServeFile::new(dist.join("index.html")).precompressed_gzip();
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
    use super::is_hashed_asset;

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
}
