//! The router in-process, as `backend serve` builds it, over a temporary
//! SQLite database seeded as `backend seed-demo` seeds it: what a request
//! carries as evidence — the client's address kept with a consent, the
//! request id echoed and stored with the audit rows — under different
//! `MARKET_CODE_TRUSTED_PROXIES`, which one server process cannot show.
//!
//! Requests go through `tower::ServiceExt::oneshot` with the socket's peer
//! address inserted as `ConnectInfo`, as `axum::serve` does.

mod common;

use axum::http::Method;
use backend::config::parse_trusted_proxies;
use common::TestServer;
use serde_json::json;
use shared::consent::{Letter, SignResponse, sha256_hex};

/// `trusted`: the value of `MARKET_CODE_TRUSTED_PROXIES`.
fn start(trusted: &str) -> TestServer {
    TestServer::start(|c| c.trusted_proxies = parse_trusted_proxies(trusted).unwrap())
}

trait Signing {
    async fn signed_ip(&self, peer: &str, mobile: &str, headers: &[(&str, &str)]) -> String;
}

impl Signing for TestServer {
    /// Signs the letter from `peer` with these extra headers; returns the
    /// client IP stored with the new consent.
    async fn signed_ip(&self, peer: &str, mobile: &str, headers: &[(&str, &str)]) -> String {
        let cookie = self.merchant(peer, mobile).await;
        let auth = [("cookie", cookie.as_str())];
        let letter: Letter = serde_json::from_value(
            self.send(peer, Method::GET, "/api/m/letter", &auth, None)
                .await
                .ok(),
        )
        .unwrap();
        let mut all = auth.to_vec();
        all.extend_from_slice(headers);
        let signed: SignResponse = serde_json::from_value(
            self.send(
                peer,
                Method::POST,
                "/api/m/consents",
                &all,
                Some(json!({
                    "letter_version": letter.version,
                    "text_sha256": sha256_hex(&letter.text_zh),
                    "bank_ids": [letter.banks[0].bank_id],
                    "language": "zh",
                })),
            )
            .await
            .ok(),
        )
        .unwrap();
        let ips = self.texts(
            "SELECT client_ip AS value FROM consents WHERE id = ?",
            &signed.consent.id,
        );
        assert_eq!(ips.len(), 1);
        ips[0].clone()
    }
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_not_the_consents_ip() {
    // No trusted proxies (the default): the socket's address, even from
    // loopback, where a default reverse proxy would sit.
    let server = start("");
    let spoof = [("x-forwarded-for", "198.51.100.66")];
    let ip = server.signed_ip("127.0.0.1", "13912340001", &spoof).await;
    assert_eq!(ip, "127.0.0.1");
    let ip = server.signed_ip("203.0.113.9", "13912340002", &spoof).await;
    assert_eq!(ip, "203.0.113.9");

    // Trusted proxies configured, but this peer is not one of them.
    let server = start("127.0.0.1, 10.0.0.0/8");
    let ip = server.signed_ip("203.0.113.9", "13912340003", &spoof).await;
    assert_eq!(ip, "203.0.113.9");
}

#[tokio::test]
async fn through_a_trusted_proxy_the_right_most_untrusted_hop_is_the_consents_ip() {
    let server = start("127.0.0.1, 10.0.0.0/8");
    // The client wrote 198.51.100.66 itself; the proxy appended the address
    // it was called from.
    let chain = [("x-forwarded-for", "198.51.100.66, 203.0.113.7")];
    let ip = server.signed_ip("127.0.0.1", "13912340004", &chain).await;
    assert_eq!(ip, "203.0.113.7");
    // Two proxies: the inner one's hop is walked past.
    let chain = [("x-forwarded-for", "198.51.100.66, 203.0.113.8, 10.1.2.3")];
    let ip = server.signed_ip("10.0.0.1", "13912340005", &chain).await;
    assert_eq!(ip, "203.0.113.8");
}

#[tokio::test]
async fn a_client_request_id_is_kept_only_when_it_is_a_short_plain_token() {
    let server = start("");
    // A refused stall code is counted for the client's address, with the id
    // of the latest request so counted.
    let probe = |id: Option<&'static str>| {
        let server = &server;
        async move {
            let headers: Vec<(&str, &str)> = id.map(|i| ("x-request-id", i)).into_iter().collect();
            let res = server
                .send(
                    "203.0.113.9",
                    Method::GET,
                    "/api/m/codes/not-a-real-code",
                    &headers,
                    None,
                )
                .await;
            assert!(res.status.is_client_error(), "{}", res.body);
            res.request_id()
        }
    };
    let audited = |id: &str| {
        server.texts(
            "SELECT action AS value FROM refusal_counts WHERE last_request_id = ?",
            id,
        )
    };

    let good = "support-2026-a1b2c3";
    assert_eq!(probe(Some(good)).await, good);
    assert_eq!(audited(good), ["stall_code.refused"]);

    let long = "a".repeat(65);
    let long: &'static str = Box::leak(long.into_boxed_str());
    let odd = [
        long,
        "has space",
        "semi;colon",
        "under_score",
        "<script>alert(1)</script>",
        "id\twith-tab",
    ];
    let mut seen = Vec::new();
    for bad in odd {
        let echoed = probe(Some(bad)).await;
        assert_ne!(echoed, bad);
        assert!(
            echoed.len() <= 64
                && echoed
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{echoed:?}"
        );
        assert!(audited(bad).is_empty(), "{bad:?} was stored");
        // The id the client was told is the one stored with the row.
        assert_eq!(audited(&echoed), ["stall_code.refused"]);
        seen.push(echoed);
    }
    // Fresh ones, not one fixed substitute.
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), odd.len());

    let fresh = probe(None).await;
    assert_eq!(audited(&fresh), ["stall_code.refused"]);
    let exactly_64 = "b".repeat(64);
    let exactly_64: &'static str = Box::leak(exactly_64.into_boxed_str());
    assert_eq!(probe(Some(exactly_64)).await, exactly_64);
}
