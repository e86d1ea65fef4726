//! The router in-process, as `backend serve` builds it, over a temporary
//! SQLite database seeded as `backend seed-demo` seeds it: for what one
//! server process on loopback cannot show — requests from many client
//! addresses, other configurations.
//!
//! Requests go through `tower::ServiceExt::oneshot` with the socket's peer
//! address inserted as `ConnectInfo`, as `axum::serve` does.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use backend::config::Config;
use backend::db::DbConn;
use backend::identity::RealNameCheck;
use backend::state::AppState;
use diesel::prelude::*;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// A seeded server in a temporary folder, removed on drop.
pub struct TestServer {
    pub dir: PathBuf,
    pub state: AppState,
    pub app: Router,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self.body
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn request_id(&self) -> String {
        self.headers
            .get("x-request-id")
            .expect("every response carries its request id")
            .to_str()
            .unwrap()
            .to_owned()
    }
}

impl TestServer {
    /// The development defaults (limits included), changed by `configure`.
    pub fn start(configure: impl FnOnce(&mut Config)) -> Self {
        Self::started(configure, None)
    }

    /// [`TestServer::start`] with another real-name check than the roster.
    pub fn start_with_check(
        configure: impl FnOnce(&mut Config),
        check: std::sync::Arc<dyn RealNameCheck>,
    ) -> Self {
        Self::started(configure, Some(check))
    }

    fn started(
        configure: impl FnOnce(&mut Config),
        check: Option<std::sync::Arc<dyn RealNameCheck>>,
    ) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mc-inproc-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        let mut config = Config {
            public_url: PUBLIC_URL.to_owned(),
            ..Config::local(dir.clone())
        };
        configure(&mut config);
        std::fs::create_dir_all(&dir).unwrap();
        let mut state = AppState::open(config).unwrap();
        {
            let mut conn = state.pool.get().unwrap();
            backend::seed::seed_demo(&mut conn, backend::seed::DEFAULT_DEMO_PASSWORD).unwrap();
            backend::seed::seed_demo_credit_data(
                &mut conn,
                &state.auth.fields,
                state.config.real_name.roster_path(),
            )
            .unwrap();
        }
        if let Some(check) = check {
            state.real_name = check;
        }
        let app = backend::app::router(state.clone());
        Self { dir, state, app }
    }

    /// A request from `peer` (the socket's address).
    pub async fn send(
        &self,
        peer: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let body = body.map(|b| b.to_string().into_bytes());
        self.send_bytes(peer, method, path, headers, body).await
    }

    /// As [`TestServer::send`], with the JSON body as bytes already.
    pub async fn send_bytes(
        &self,
        peer: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b)
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
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Logs a new merchant in with an SMS code (from the scanned `code`, if
    /// any), every request from `peer`; returns the session cookie.
    pub async fn log_in(&self, peer: &str, mobile: &str, code: Option<&str>) -> String {
        let mut body = serde_json::json!({ "mobile": mobile });
        if let Some(code) = code {
            body["code"] = code.into();
        }
        self.send(peer, Method::POST, "/api/m/otp", &[], Some(body))
            .await
            .ok();
        let otp = self.outbox_code(mobile);
        let res = self
            .send(
                peer,
                Method::POST,
                "/api/m/session",
                &[],
                Some(serde_json::json!({ "mobile": mobile, "otp": otp })),
            )
            .await;
        let cookie = res.headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        res.ok();
        cookie
    }

    /// A new business whose registered operator has this mobile number.
    pub fn business(&self, mobile: &str) -> backend::seed::DevBusiness {
        let mut conn = self.state.pool.get().unwrap();
        backend::seed::dev_business(
            &mut conn,
            &self.state.auth.fields,
            self.state.config.real_name.roster_path().unwrap(),
            &backend::seed::DevBusinessSpec {
                archetype: backend::credit::generate::Archetype::Clean,
                mobile: Some(mobile),
                same_operator_as: None,
                county_rent: None,
            },
        )
        .unwrap()
    }

    /// Logs `mobile` in from stall A-01; returns the session cookie.
    pub async fn logged_in(&self, peer: &str, mobile: &str) -> String {
        let code = self.stall_code("A-01");
        self.log_in(peer, mobile, Some(&code)).await
    }

    /// A new business's operator logs in from stall A-01, passes the
    /// real-name check and saves the profile, every request from `peer`;
    /// returns the session cookie.
    pub async fn merchant(&self, peer: &str, mobile: &str) -> String {
        let b = self.business(mobile);
        let cookie = self.logged_in(peer, mobile).await;
        let auth = [("cookie", cookie.as_str())];
        self.send(
            peer,
            Method::POST,
            "/api/m/identity",
            &auth,
            Some(serde_json::json!({ "name": b.name, "resident_id": b.resident_id })),
        )
        .await
        .ok();
        self.send(
            peer,
            Method::PUT,
            "/api/m/profile",
            &auth,
            Some(serde_json::json!({ "uscc": b.uscc, "trade": "石材", "years_in_business": 6 })),
        )
        .await
        .ok();
        cookie
    }

    /// The signed code of a demo stall (the part after `/S/`).
    pub fn stall_code(&self, stall: &str) -> String {
        let mut conn = self.state.pool.get().unwrap();
        let url = backend::stall_codes::stall_url(
            &mut conn,
            &self.state.auth.code_key,
            PUBLIC_URL,
            None,
            Some(stall),
        )
        .unwrap();
        url.rsplit_once(shared::stall_code::COMPACT_PATH)
            .unwrap()
            .1
            .to_owned()
    }

    /// Every SMS in the development outbox, as (mobile, code).
    pub fn outbox(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.dir.join("sms-outbox.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| {
                (
                    v["mobile"].as_str().unwrap_or_default().to_owned(),
                    v["code"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    pub fn outbox_code(&self, mobile: &str) -> String {
        self.outbox()
            .into_iter()
            .rev()
            .find(|(m, _)| m == mobile)
            .map(|(_, c)| c)
            .expect("an SMS in the outbox")
    }

    /// The values of the one text column `sql` selects, `?` bound to `arg`.
    /// Raw SQL, so the test does not depend on where the schema lives.
    pub fn texts(&self, sql: &str, arg: &str) -> Vec<String> {
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

    /// The number `sql` selects (as `n`).
    pub fn number(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut pooled = self.state.pool.get().unwrap();
        let DbConn::Sqlite(conn) = &mut *pooled else {
            panic!("the test server runs on SQLite")
        };
        diesel::sql_query(sql).get_result::<Row>(conn).unwrap().n
    }

    /// Rows in every table of the database, together.
    pub fn total_rows(&self) -> i64 {
        let tables = self.texts(
            "SELECT name AS value FROM sqlite_master WHERE type = 'table' AND name != ?",
            "sqlite_sequence",
        );
        tables
            .iter()
            .map(|t| self.number(&format!("SELECT COUNT(*) AS n FROM \"{t}\"")))
            .sum()
    }
}
