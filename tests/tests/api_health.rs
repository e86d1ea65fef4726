//! The API basics every later issue relies on: health, JSON errors, the SPA
//! fallback and caching, request ids.

use shared::api::HealthResponse;
use shared::error::ApiErrorBody;

#[tokio::test]
async fn health_names_the_backend_and_the_migration_level() {
    let res = e2e::client()
        .get(e2e::url("/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );
    let health: HealthResponse = res.json().await.unwrap();
    assert_eq!(health.database, e2e::database());
    assert!(
        health.migration.starts_with("2026") || health.migration.starts_with("2027"),
        "migration level looks like a migration version: {:?}",
        health.migration
    );
    assert_eq!(
        health.market.as_deref(),
        Some("万石石材市场"),
        "the demo seed ran"
    );
}

#[tokio::test]
async fn unknown_api_route_is_a_json_404() {
    let res = e2e::client()
        .get(e2e::url("/api/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: ApiErrorBody = res.json().await.unwrap();
    assert_eq!(body.code, "no_such_endpoint");
    assert!(!body.message_zh.is_empty() && !body.message_en.is_empty());
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let res = e2e::client()
        .post(e2e::url("/api/health"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let body: ApiErrorBody = res.json().await.unwrap();
    assert_eq!(body.code, "method_not_allowed");
}

#[tokio::test]
async fn client_routes_get_the_spa_uncached() {
    // (`/S/…` and `/s/…` are the server-rendered stall page: `api_stall_page`.)
    for path in ["/", "/login", "/manager", "/me/consents"] {
        let res = e2e::client().get(e2e::url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(
            res.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-cache"),
            "{path}: index.html must never be cached"
        );
        let text = res.text().await.unwrap();
        assert!(text.contains("<html"), "{path} serves index.html");
        assert!(
            text.contains(".wasm") || text.contains(".js"),
            "{path}: the built SPA, not a stub"
        );
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_served_gzipped() {
    let client = e2e::client();
    let index = client
        .get(e2e::url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The wasm file Trunk linked, e.g. /frontend-0123456789abcdef_bg.wasm
    // (attribute values are unquoted where the minifier could drop quotes).
    let wasm = index
        .split(['"', '\'', '=', ' ', '>'])
        .find(|s| s.ends_with("_bg.wasm"))
        .expect("index.html links a wasm file")
        .to_owned();
    let res = client
        .get(e2e::url(&format!("/{}", wasm.trim_start_matches('/'))))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cache = res
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(cache.contains("immutable"), "{wasm}: {cache}");
    assert_eq!(
        res.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
}

/// Over a real socket: a client's request id is echoed only when it is 1 to
/// 64 characters of `[A-Za-z0-9-]`; otherwise the server answers with one of
/// its own. (What reaches the audit log: `backend/tests/request_context.rs`.)
#[tokio::test]
async fn a_client_request_id_is_echoed_only_when_plain_and_short() {
    async fn echoed(id: &str) -> String {
        let res = e2e::client()
            .get(e2e::url("/api/health"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.headers()["x-request-id"].to_str().unwrap().to_owned()
    }
    let good = "support-2026-a1b2c3";
    assert_eq!(echoed(good).await, good);
    for bad in ["x".repeat(65), "two words".into(), "quote\"d".into()] {
        let id = echoed(&bad).await;
        assert_ne!(id, bad);
        assert!(
            !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{id:?}"
        );
    }
}

/// Every response, page or API, success or refusal, carries the security
/// headers; the server-rendered stall page allows its inlined stylesheet by
/// its hash and nothing else inline.
#[tokio::test]
async fn security_headers_are_on_the_spa_the_stall_page_and_the_api() {
    let code = e2e::stall_code("A-06");
    for path in [
        "/".to_owned(),
        "/login".to_owned(),
        "/manager".to_owned(),
        "/api/health".to_owned(),
        "/api/no/such/thing".to_owned(),
        format!("/S/{code}"),
        "/S/NOT-A-CODE".to_owned(),
    ] {
        let res = e2e::client().get(e2e::url(&path)).send().await.unwrap();
        let h = res.headers();
        let get = |name: &str| {
            h.get(name)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        let csp = get("content-security-policy");
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'self'"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        if path.starts_with("/S/") && res.status().is_client_error() || path == format!("/S/{code}")
        {
            // The page inlines style.css (when the app is built) by hash.
            assert!(csp.contains("style-src 'self'"), "{path}: {csp}");
        }
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
        // The test server's public URL is http: no HSTS (it would pin a
        // developer's localhost to https).
        assert!(h.get("strict-transport-security").is_none(), "{path}");
    }
}
