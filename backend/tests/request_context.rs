//! The router in-process, as `backend serve` builds it, over a temporary
//! SQLite database seeded as `backend seed-demo` seeds it: what a request
//! carries as evidence — the client's address kept with a consent, the
//! request id echoed and stored with the audit rows — under different
//! `MARKET_CODE_TRUSTED_PROXIES`, and the real-name check when its service
//! is down or asked too often, which one server process cannot show.
//!
//! Requests go through `tower::ServiceExt::oneshot` with the socket's peer
//! address inserted as `ConnectInfo`, as `axum::serve` does.

mod common;

use axum::http::{Method, StatusCode};
use backend::config::parse_trusted_proxies;
use backend::identity::{RealNameAnswer, RealNameCheck, RealNameClaim};
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

/// A real-name service that never answers (down, timing out).
struct Down;

impl RealNameCheck for Down {
    fn check(&self, _: &RealNameClaim<'_>) -> RealNameAnswer {
        RealNameAnswer::Unavailable
    }
    fn name(&self) -> &'static str {
        "down"
    }
}

#[tokio::test]
async fn when_the_real_name_service_is_down_nothing_is_verified_and_the_merchant_tries_later() {
    let server = TestServer::start_with_check(|_| {}, std::sync::Arc::new(Down));
    let mobile = "13912340010";
    let b = server.business(mobile);
    let cookie = server.logged_in("203.0.113.9", mobile).await;
    let auth = [("cookie", cookie.as_str())];
    let res = server
        .send(
            "203.0.113.9",
            Method::POST,
            "/api/m/identity",
            &auth,
            Some(json!({ "name": b.name, "resident_id": b.resident_id })),
        )
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert_eq!(res.body["code"], "real_name_unavailable");
    assert!(
        res.body["message_zh"]
            .as_str()
            .unwrap()
            .contains("稍后再试")
    );
    // Nothing stored as verified (nor the number at all), the refusal audited.
    let stored = server.texts(
        "SELECT COALESCE(identity_verified_at, '-') || '|' || COALESCE(resident_id_enc, '-') \
         || '|' || COALESCE(name, '-') AS value FROM merchants WHERE mobile = ?",
        mobile,
    );
    assert_eq!(stored, ["-|-|-"]);
    let audited = server.texts(
        "SELECT detail AS value FROM audit_log WHERE action = ?",
        "identity.check_failed",
    );
    let audited: Vec<_> = audited
        .iter()
        .filter(|d| d.contains("unavailable"))
        .collect();
    assert_eq!(audited.len(), 1, "{audited:?}");
    // The profile cannot name a business, nor can the letter be signed.
    let res = server
        .send(
            "203.0.113.9",
            Method::PUT,
            "/api/m/profile",
            &auth,
            Some(json!({ "uscc": b.uscc, "trade": "石材", "years_in_business": 3 })),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.body["code"], "identity_unverified");
}

#[tokio::test]
async fn real_name_checks_are_limited_per_merchant_and_day() {
    let server = start("");
    let mobile = "13912340011";
    let b = server.business(mobile);
    let cookie = server.logged_in("203.0.113.9", mobile).await;
    let auth = [("cookie", cookie.as_str())];
    let try_name = |name: String| {
        let (server, auth) = (&server, &auth);
        let id = b.resident_id.clone();
        async move {
            server
                .send(
                    "203.0.113.9",
                    Method::POST,
                    "/api/m/identity",
                    auth,
                    Some(json!({ "name": name, "resident_id": id })),
                )
                .await
        }
    };
    for _ in 0..10 {
        let res = try_name("张冒名".to_owned()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        assert_eq!(res.body["code"], "real_name_no_match");
    }
    // The eleventh today is refused before the service is asked, even with
    // the right name.
    let res = try_name(b.name.clone()).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert_eq!(res.body["code"], "real_name_checks_exhausted");
    let verified = server.texts(
        "SELECT COALESCE(identity_verified_at, '-') AS value FROM merchants WHERE mobile = ?",
        mobile,
    );
    assert_eq!(verified, ["-"]);
}
