//! The request id: the one a client sent if it is a plain token, else a
//! fresh UUID. It names the request's log span, is echoed in the response
//! for support calls ("quote this number"), and is stored with the audit
//! rows the request writes — so a client cannot fill the audit log with an
//! essay or with characters that break a log line.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderName;
use axum::http::request::Parts;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// A UUID is 36 characters; room for a proxy's or a client's own scheme.
pub const MAX_LEN: usize = 64;

/// Whether a client's id is kept: 1 to 64 characters of `[A-Za-z0-9-]`.
pub fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Runs before tower-http's `SetRequestIdLayer`, which keeps any id already
/// there: an unacceptable one is removed, so a fresh one is made in its
/// place. Of several, the first counts (as for that layer).
pub fn drop_unacceptable(mut req: Request) -> Request {
    let first = req.headers().get(&HEADER).cloned();
    match first {
        Some(id) if id.to_str().is_ok_and(acceptable) => {
            req.headers_mut().insert(HEADER, id);
        }
        Some(_) => {
            req.headers_mut().remove(&HEADER);
        }
        None => {}
    }
    req
}

/// The id this request is answered and audited with. Always set by the
/// router's layers; `None` only for a handler called without them.
#[derive(Debug, Clone, Default)]
pub struct RequestId(Option<String>);

impl RequestId {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(
            parts
                .extensions
                .get::<tower_http::request_id::RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .map(str::to_owned),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tokens_up_to_64_characters_are_kept() {
        for good in [
            "a",
            "abc-123",
            "0f8c2a3e-5b1d-4c7e-9a2f-1e3d5c7b9a0f",
            &"A".repeat(64),
        ] {
            assert!(acceptable(good), "{good}");
        }
        for bad in [
            "",
            &"A".repeat(65),
            "abc 123",
            "abc_123",
            "abc.123",
            "id\n",
            "收据-1",
            "<script>",
            "a/b",
        ] {
            assert!(!acceptable(bad), "{bad:?}");
        }
    }

    fn with_ids(ids: &[&[u8]]) -> Request {
        let mut req = Request::new(axum::body::Body::empty());
        for id in ids {
            req.headers_mut().append(
                HEADER,
                axum::http::HeaderValue::from_bytes(id).expect("a header value"),
            );
        }
        req
    }

    fn ids_after(ids: &[&[u8]]) -> Vec<Vec<u8>> {
        drop_unacceptable(with_ids(ids))
            .headers()
            .get_all(&HEADER)
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect()
    }

    #[test]
    fn only_an_acceptable_first_id_reaches_the_id_layer() {
        assert!(ids_after(&[]).is_empty());
        assert_eq!(ids_after(&[b"good-1"]), [b"good-1".to_vec()]);
        assert!(ids_after(&[b"bad id"]).is_empty());
        assert!(ids_after(&["\u{6536}".as_bytes()]).is_empty());
        assert!(ids_after(&[&[0xff, 0xfe]]).is_empty());
        // The first decides; the rest go either way.
        assert_eq!(ids_after(&[b"good-1", b"good-2"]), [b"good-1".to_vec()]);
        assert!(ids_after(&[b"bad id", b"good-2"]).is_empty());
    }
}
