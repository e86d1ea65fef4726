//! Cross-site request refusal. The session cookie is SameSite=Strict already;
//! this is the second lock, for browsers that ignore SameSite and for the
//! login endpoints that run before any cookie exists.

use axum::http::{HeaderMap, Method, StatusCode, header};

use crate::error::AppError;

/// `scheme://host[:port]` of a URL, lowercased, without path.
pub fn origin_of(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    )
}

/// Whether a state-changing request may proceed. Requests without `Origin`
/// and `Sec-Fetch-Site` are not from a browser page (curl, the tests, a
/// native client) and carry no ambient authority worth forging.
pub fn check(method: &Method, headers: &HeaderMap, public_origin: &str) -> Result<(), AppError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refused = || {
        AppError::new(
            StatusCode::FORBIDDEN,
            "cross_site_refused",
            "请从市场码页面操作",
            "This request must come from the Market Code site itself",
        )
    };
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && site.eq_ignore_ascii_case("cross-site")
    {
        return Err(refused());
    }
    if let Some(origin) = text(header::ORIGIN) {
        let origin = origin.trim().to_ascii_lowercase();
        let same_host = text(header::HOST).is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority == host.trim().to_ascii_lowercase())
        });
        if origin != public_origin && !same_host {
            return Err(refused());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const PUBLIC: &str = "https://code.example.cn";

    #[test]
    fn origins() {
        assert_eq!(origin_of("https://Code.Example.cn/x/y"), PUBLIC);
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn same_site_requests_pass() {
        let post = Method::POST;
        assert!(check(&post, &headers(&[]), PUBLIC).is_ok());
        assert!(check(&post, &headers(&[("origin", PUBLIC)]), PUBLIC).is_ok());
        let local = [
            ("origin", "http://127.0.0.1:41234"),
            ("host", "127.0.0.1:41234"),
        ];
        assert!(check(&post, &headers(&local), PUBLIC).is_ok());
        let fetch = [("sec-fetch-site", "same-origin"), ("origin", PUBLIC)];
        assert!(check(&post, &headers(&fetch), PUBLIC).is_ok());
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let post = Method::POST;
        for h in [
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "null")]),
            headers(&[
                ("origin", "https://evil.example"),
                ("host", "code.example.cn"),
            ]),
            headers(&[("sec-fetch-site", "cross-site")]),
        ] {
            let e = check(&post, &h, PUBLIC).unwrap_err();
            assert_eq!(e.code(), "cross_site_refused");
        }
        assert!(
            check(
                &Method::DELETE,
                &headers(&[("sec-fetch-site", "cross-site")]),
                PUBLIC
            )
            .is_err()
        );
        // Reads are not state changes.
        assert!(
            check(
                &Method::GET,
                &headers(&[("sec-fetch-site", "cross-site")]),
                PUBLIC
            )
            .is_ok()
        );
    }
}
