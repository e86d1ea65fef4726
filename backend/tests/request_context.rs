//! The router in-process, as `backend serve` builds it, over a temporary
//! SQLite database seeded as `backend seed-demo` seeds it: what a request
//! carries as evidence — the client's address kept with a consent, the
//! request id echoed and stored with the audit rows — under different
//! `MARKET_CODE_TRUSTED_PROXIES`, which one server process cannot show.
//!
//! Requests go through `tower::ServiceExt::oneshot` with the socket's peer
//! address inserted as `ConnectInfo`, as `axum::serve` does.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use backend::config::{Config, parse_trusted_proxies};
use backend::db::DbConn;
use backend::state::AppState;
use diesel::prelude::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::consent::{Letter, SignResponse, sha256_hex};
use tower::ServiceExt;

const PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// A seeded server in a temporary folder, removed on drop.
struct TestServer {
    dir: PathBuf,
    state: AppState,
    app: Router,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self.body
    }

    fn request_id(&self) -> String {
        self.headers
            .get("x-request-id")
            .expect("every response carries its request id")
            .to_str()
            .unwrap()
            .to_owned()
    }
}

impl TestServer {
    /// `trusted`: the value of `MARKET_CODE_TRUSTED_PROXIES`.
    fn start(trusted: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mc-request-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        let config = Config {
            public_url: PUBLIC_URL.to_owned(),
            trusted_proxies: parse_trusted_proxies(trusted).unwrap(),
            ..Config::local(dir.clone())
        };
        std::fs::create_dir_all(&dir).unwrap();
        let state = AppState::open(config).unwrap();
        {
            let mut conn = state.pool.get().unwrap();
            backend::seed::seed_demo(&mut conn, backend::seed::DEFAULT_DEMO_PASSWORD).unwrap();
            backend::seed::seed_demo_credit_data(&mut conn).unwrap();
        }
        let app = backend::app::router(state.clone());
        Self { dir, state, app }
    }

    async fn send(
        &self,
        peer: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        let peer: SocketAddr = (peer.parse::<std::net::IpAddr>().unwrap(), 50_000).into();
        req.extensions_mut().insert(ConnectInfo(peer));
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{e}: {status} {}", String::from_utf8_lossy(&bytes)))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    fn stall_code(&self, stall: &str) -> String {
        let mut conn = self.state.pool.get().unwrap();
        let url = backend::stall_codes::stall_url(
            &mut conn,
            &self.state.auth.code_key,
            PUBLIC_URL,
            None,
            Some(stall),
        )
        .unwrap();
        url.rsplit_once("/S/").unwrap().1.to_owned()
    }

    fn outbox_code(&self, mobile: &str) -> String {
        let text = std::fs::read_to_string(self.dir.join("sms-outbox.jsonl")).unwrap();
        text.lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["mobile"] == mobile)
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .expect("an SMS in the outbox")
    }

    /// The values of the one text column `sql` selects, `?` bound to `arg`.
    /// Raw SQL, so the test does not depend on where the schema lives.
    fn texts(&self, sql: &str, arg: &str) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let mut pooled = self.state.pool.get().unwrap();
        let DbConn::Sqlite(conn) = &mut *pooled else {
            panic!("the test server runs on SQLite")
        };
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Text, _>(arg)
            .load::<Row>(conn)
            .unwrap()
            .into_iter()
            .map(|r| r.value)
            .collect()
    }

    /// Logs a merchant in from stall A-01 and completes the profile, every
    /// request from `peer`; returns the session cookie.
    async fn merchant(&self, peer: &str, mobile: &str) -> String {
        let code = self.stall_code("A-01");
        self.send(
            peer,
            Method::POST,
            "/api/m/otp",
            &[],
            Some(json!({ "mobile": mobile, "code": code })),
        )
        .await
        .ok();
        let otp = self.outbox_code(mobile);
        let res = self
            .send(
                peer,
                Method::POST,
                "/api/m/session",
                &[],
                Some(json!({ "mobile": mobile, "otp": otp })),
            )
            .await;
        let cookie = res.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        res.ok();
        let auth = [("cookie", cookie.as_str())];
        let profile = self
            .send(peer, Method::GET, "/api/m/profile", &auth, None)
            .await
            .ok();
        let first17 = "32028219800501003";
        let check = shared::ids::resident_id_check_char(first17).unwrap();
        self.send(
            peer,
            Method::PUT,
            "/api/m/profile",
            &auth,
            Some(json!({
                "name": "测试商户",
                "resident_id": format!("{first17}{check}"),
                "uscc": profile["uscc"],
                "trade": "石材",
                "years_in_business": 6,
            })),
        )
        .await
        .ok();
        cookie
    }

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
    let server = TestServer::start("");
    let spoof = [("x-forwarded-for", "198.51.100.66")];
    let ip = server.signed_ip("127.0.0.1", "13912340001", &spoof).await;
    assert_eq!(ip, "127.0.0.1");
    let ip = server.signed_ip("203.0.113.9", "13912340002", &spoof).await;
    assert_eq!(ip, "203.0.113.9");

    // Trusted proxies configured, but this peer is not one of them.
    let server = TestServer::start("127.0.0.1, 10.0.0.0/8");
    let ip = server.signed_ip("203.0.113.9", "13912340003", &spoof).await;
    assert_eq!(ip, "203.0.113.9");
}

#[tokio::test]
async fn through_a_trusted_proxy_the_right_most_untrusted_hop_is_the_consents_ip() {
    let server = TestServer::start("127.0.0.1, 10.0.0.0/8");
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
    let server = TestServer::start("");
    // A refused stall code writes an audit row with the request's id.
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
            "SELECT action AS value FROM audit_log WHERE request_id = ?",
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
        assert!(audited(bad).is_empty(), "{bad:?} reached the audit log");
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
