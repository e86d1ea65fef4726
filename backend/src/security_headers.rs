//! The headers every response carries, for the browser to hold the line:
//!
//! - `Content-Security-Policy`: scripts only from this origin (the loader
//!   and the wasm-bindgen glue) plus compiling WebAssembly
//!   (`'wasm-unsafe-eval'`), no inline script or style, no plugins, no
//!   `<base>`; data only from this origin. The server-rendered stall page
//!   inlines its stylesheet and says so with that stylesheet's hash
//!   ([`policy_with_styles`]). `frame-ancestors`: this origin and the ones
//!   configured (`MARKET_CODE_FRAME_ANCESTORS`, e.g. the city app's), so no
//!   other site can frame the app and trick a merchant into clicks;
//! - `X-Content-Type-Options: nosniff`: a file is what its type says;
//! - `Referrer-Policy: no-referrer`: the stall code is in the page's URL,
//!   and no link or resource request takes it elsewhere;
//! - `Strict-Transport-Security` when the public URL is https: once seen,
//!   the browser never asks over plain http again.

use axum::Router;
use axum::http::{HeaderValue, header};
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;

const HSTS: &str = "max-age=31536000";

/// The policy, with `style_hashes` (`'sha256-…'` sources) allowed as inline
/// styles besides the origin's stylesheets.
fn policy(config: &Config, style_hashes: &[String]) -> String {
    let mut ancestors = vec!["'self'".to_owned()];
    ancestors.extend(config.frame_ancestors.iter().cloned());
    let mut styles = vec!["'self'".to_owned()];
    styles.extend(style_hashes.iter().cloned());
    [
        "default-src 'self'".to_owned(),
        "script-src 'self' 'wasm-unsafe-eval'".to_owned(),
        format!("style-src {}", styles.join(" ")),
        "img-src 'self'".to_owned(),
        "connect-src 'self'".to_owned(),
        "object-src 'none'".to_owned(),
        "base-uri 'none'".to_owned(),
        "form-action 'self'".to_owned(),
        format!("frame-ancestors {}", ancestors.join(" ")),
    ]
    .join("; ")
}

/// The policy of a page that inlines `styles` (each a `<style>` element's
/// exact text).
pub fn policy_with_styles(config: &Config, styles: &[&str]) -> HeaderValue {
    let hashes: Vec<String> = styles.iter().map(|css| style_hash(css)).collect();
    HeaderValue::from_str(&policy(config, &hashes)).expect("the policy is plain ASCII")
}

/// `'sha256-<base64>'` of an inline style's text, as CSP matches it.
pub fn style_hash(css: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(css.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// `router` with these headers set on every response it gives (a response
/// that set its own policy, like the stall page, keeps it).
pub fn apply(router: Router, config: &Config) -> Router {
    let csp = HeaderValue::from_str(&policy(config, &[])).expect("the policy is plain ASCII");
    let router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    if config.https() {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ))
    } else {
        router
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_this_origin_and_the_configured_frames_only() {
        let mut config = Config::local(std::env::temp_dir());
        let p = policy(&config, &[]);
        assert!(p.contains("script-src 'self' 'wasm-unsafe-eval';"), "{p}");
        assert!(p.contains("style-src 'self';"), "{p}");
        assert!(!p.contains("unsafe-inline"), "{p}");
        assert!(p.ends_with("frame-ancestors 'self'"), "{p}");
        config.frame_ancestors = vec!["https://app.kanyixing.cn".into()];
        let p = policy(&config, &[style_hash("body{}")]);
        assert!(
            p.ends_with("frame-ancestors 'self' https://app.kanyixing.cn"),
            "{p}"
        );
        assert!(p.contains("style-src 'self' 'sha256-"), "{p}");
    }

    #[test]
    fn style_hashes_are_what_browsers_compute() {
        // echo -n 'body{color:red}' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            style_hash("body{color:red}"),
            "'sha256-FcQqt3aNlV7AZnGV4zkQRVeCeJOxbMPnQSx258L803E='"
        );
    }
}
