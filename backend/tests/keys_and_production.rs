//! Keys rotated on a live database, and production mode refusing every
//! unsafe start, in-process over a temporary SQLite database (see `common`)
//! and, for the refusal, through the real `backend` command.

mod common;

use axum::http::{Method, StatusCode};
use backend::auth::keys::FieldCipher;
use backend::config::{Config, KeySettings, Mode, SmsGateway};
use backend::identity::RealNameSetting;
use backend::state::AppState;
use common::{PUBLIC_URL, TestServer};
use diesel::prelude::*;

fn key(byte: u8) -> String {
    hex::encode([byte; 32])
}

fn keys(current: u8, retired: &[u8]) -> KeySettings {
    KeySettings {
        current: Some(key(current)),
        retired: retired.iter().map(|&b| key(b)).collect(),
    }
}

/// The stored resident-ID ciphertexts.
fn stored_ids(state: &AppState) -> Vec<String> {
    use backend::db::schema::merchants;
    let mut conn = state.pool.get().unwrap();
    merchants::table
        .filter(merchants::resident_id_enc.is_not_null())
        .select(merchants::resident_id_enc.assume_not_null())
        .load(&mut conn)
        .unwrap()
}

/// Another server process on the same data folder and database, with
/// other keys.
fn restart(server: &TestServer, code: KeySettings, field: KeySettings) -> TestServer {
    let config = Config {
        public_url: PUBLIC_URL.to_owned(),
        code_keys: code,
        field_keys: field,
        ..Config::local(server.dir.clone())
    };
    let state = AppState::open(config).unwrap();
    let app = backend::app::router(state.clone());
    // The folder belongs to the first server: this one must not remove it.
    TestServer {
        dir: std::env::temp_dir().join("mc-inproc-none"),
        state,
        app,
    }
}

#[tokio::test]
async fn rotation_keeps_printed_codes_and_stored_ids_and_revoking_ends_old_codes() {
    let first = TestServer::start(|c| {
        c.code_keys = keys(0xa1, &[]);
        c.field_keys = keys(0xf1, &[]);
    });
    let peer = "203.0.113.80";
    let cookie = first.merchant(peer, "13912345001").await;
    let auth = [("cookie", cookie.as_str())];
    let printed = first.stall_code("A-01");
    let masked = first
        .send(peer, Method::GET, "/api/m/profile", &auth, None)
        .await
        .ok()["resident_id_masked"]
        .clone();
    assert!(masked.is_string(), "the ID number was stored: {masked}");
    let old_field_id = first.state.auth.fields.current_id().to_owned();
    assert!(stored_ids(&first.state)[0].starts_with(&format!("v2.{old_field_id}.")));

    // New keys: the old ones retired, still verifying and decrypting.
    let second = restart(&first, keys(0xa2, &[0xa1]), keys(0xf2, &[0xf1]));
    let res = second
        .send(
            peer,
            Method::GET,
            &format!("/api/m/codes/{printed}"),
            &[],
            None,
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "a printed code still opens its stall"
    );
    let profile = second
        .send(peer, Method::GET, "/api/m/profile", &auth, None)
        .await
        .ok();
    assert_eq!(profile["resident_id_masked"], masked);
    // New codes are signed by the new key only.
    let new = second.stall_code("A-02");
    let only_old = backend::stall_codes::CodeKey::from_bytes(vec![0xa1; 32]);
    let only_new = backend::stall_codes::CodeKey::from_bytes(vec![0xa2; 32]);
    assert!(only_old.verify(&new).is_none());
    assert!(only_new.verify(&new).is_some());
    assert!(only_new.verify(&printed).is_none());

    // `backend rotate-keys`: every ID re-encrypted under the new field key.
    let reports = {
        let mut conn = second.state.pool.get().unwrap();
        backend::auth::rotation::rotate(&mut conn, &second.state.auth.fields).unwrap()
    };
    let resident = &reports[0];
    assert_eq!(resident.field, "merchants.resident_id_enc");
    assert_eq!((resident.reencrypted, resident.unreadable), (1, 0));
    let new_field_id = second.state.auth.fields.current_id().to_owned();
    assert_ne!(new_field_id, old_field_id);
    for stored in stored_ids(&second.state) {
        assert!(
            stored.starts_with(&format!("v2.{new_field_id}.")),
            "{stored}"
        );
    }
    // Run again: nothing left to do.
    let mut conn = second.state.pool.get().unwrap();
    let again = backend::auth::rotation::rotate(&mut conn, &second.state.auth.fields).unwrap();
    assert!(
        again
            .iter()
            .all(|r| r.reencrypted == 0 && r.unreadable == 0)
    );
    drop(conn);

    // Without the retired field key, the IDs are still readable.
    let third = restart(&first, keys(0xa2, &[0xa1]), keys(0xf2, &[]));
    let profile = third
        .send(peer, Method::GET, "/api/m/profile", &auth, None)
        .await
        .ok();
    assert_eq!(profile["resident_id_masked"], masked);

    // The operator revokes the old code key: its printed codes are refused
    // (the market reprinted), by every process, since it is in the database.
    let old_fingerprint = only_old.fingerprint().to_owned();
    let mut conn = third.state.pool.get().unwrap();
    let current = third.state.auth.code_key.fingerprint().to_owned();
    let refused =
        backend::stall_codes::revoke_key(&mut conn, &third.state.auth.code_key, &current, "test")
            .unwrap_err();
    assert_eq!(refused.code(), "key_current");
    let unknown = backend::stall_codes::revoke_key(
        &mut conn,
        &third.state.auth.code_key,
        "0123456789abcdef",
        "test",
    )
    .unwrap_err();
    assert_eq!(unknown.code(), "not_found");
    backend::stall_codes::revoke_key(
        &mut conn,
        &third.state.auth.code_key,
        &old_fingerprint,
        "test",
    )
    .unwrap();
    drop(conn);
    for server in [&second, &third] {
        let res = server
            .send(
                peer,
                Method::GET,
                &format!("/api/m/codes/{printed}"),
                &[],
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::GONE);
        assert_eq!(res.code(), "code_superseded");
        let res = server
            .send(peer, Method::GET, &format!("/api/m/codes/{new}"), &[], None)
            .await;
        assert_eq!(res.status, StatusCode::OK);
    }
    assert_eq!(
        first.number("SELECT COUNT(*) AS n FROM refusal_counts WHERE reason = 'key_revoked'"),
        1
    );
    // Kept for the test's end: the folder is the first server's.
    drop((second, third));
    let cipher = FieldCipher::new(&[0xf2; 32]);
    assert!(
        stored_ids(&first.state)
            .iter()
            .all(|s| cipher.is_current(s))
    );
}

fn production(dir: &std::path::Path) -> Config {
    Config {
        mode: Mode::Production,
        public_url: "https://mc.yixing.example".to_owned(),
        code_keys: keys(0xc1, &[]),
        field_keys: keys(0xc2, &[]),
        sms_gateway: Some(SmsGateway {
            url: "https://sms.example/send".to_owned(),
            token: None,
        }),
        index_key: Some(key(0xc3)),
        real_name: RealNameSetting::Roster(dir.join("county-operators.csv")),
        ..Config::local(dir.to_path_buf())
    }
}

fn refusal(config: Config) -> String {
    match AppState::open(config) {
        Ok(_) => panic!("production started"),
        Err(e) => e,
    }
}

#[test]
fn production_refuses_each_unsafe_start_with_a_clear_message() {
    let dir = std::env::temp_dir().join(format!(
        "mc-prod-{}",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: Vec<(Config, &str)> = vec![
        (
            Config {
                public_url: "http://mc.yixing.example".to_owned(),
                ..production(&dir)
            },
            "MARKET_CODE_PUBLIC_URL=http://mc.yixing.example is not https://",
        ),
        (
            Config {
                code_keys: KeySettings::default(),
                ..production(&dir)
            },
            "MARKET_CODE_CODE_KEY is not set",
        ),
        (
            Config {
                field_keys: KeySettings::default(),
                ..production(&dir)
            },
            "MARKET_CODE_FIELD_KEY is not set",
        ),
        (
            Config {
                sms_gateway: None,
                ..production(&dir)
            },
            "MARKET_CODE_SMS_GATEWAY_URL is not set",
        ),
        (
            Config {
                index_key: None,
                ..production(&dir)
            },
            "MARKET_CODE_INDEX_KEY is not set",
        ),
        (
            Config {
                real_name: Config::local(dir.clone()).real_name,
                ..production(&dir)
            },
            "MARKET_CODE_REAL_NAME_CHECK is not set",
        ),
    ];
    for (config, expected) in cases {
        let e = refusal(config);
        assert!(e.starts_with("MARKET_CODE_ENV=production: "), "{e}");
        assert!(e.contains(expected), "{e}");
    }
    // No key was generated, no outbox written, by any of them.
    let made: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !made
            .iter()
            .any(|n| n.ends_with(".key") || n.contains("outbox")),
        "{made:?}"
    );

    // The demo manager, seeded with the password in the source code.
    {
        let dev = AppState::open(Config::local(dir.clone())).unwrap();
        let mut conn = dev.pool.get().unwrap();
        backend::seed::seed_demo(&mut conn, backend::seed::DEFAULT_DEMO_PASSWORD).unwrap();
    }
    let e = refusal(production(&dir));
    assert!(e.contains("wanshi") && e.contains("demo password"), "{e}");
    {
        let dev = AppState::open(Config::local(dir.clone())).unwrap();
        let mut conn = dev.pool.get().unwrap();
        let short = backend::services::staff::set_password(&mut conn, "cli", "wanshi", "short")
            .unwrap_err();
        assert_eq!(short.body.fields[0].field, "password");
        backend::services::staff::set_password(
            &mut conn,
            "cli",
            "wanshi",
            "a-real-passphrase-2027",
        )
        .unwrap();
    }
    AppState::open(production(&dir)).expect("a safe production start");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `backend <args>` in production mode with nothing configured but what
/// `env` adds: whether it succeeded, and its standard error.
fn production_command(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(args)
        .env_clear()
        .env("MARKET_CODE_ENV", "production")
        .env("MARKET_CODE_DATA_DIR", dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "it never listened or printed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_backend_command_refuses_to_serve_unsafely_and_says_why() {
    let dir = std::env::temp_dir().join(format!(
        "mc-prod-cli-{}",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    let (ok, stderr) = production_command(
        &dir,
        &["serve"],
        &[
            ("MARKET_CODE_ADDR", "127.0.0.1:0"),
            ("MARKET_CODE_PUBLIC_URL", "https://mc.yixing.example"),
        ],
    );
    assert!(!ok);
    assert!(
        stderr.contains("error: MARKET_CODE_ENV=production: MARKET_CODE_CODE_KEY is not set"),
        "{stderr}"
    );
    let (ok, stderr) = production_command(&dir, &["seed-demo"], &[]);
    assert!(!ok);
    assert!(stderr.contains("not in production"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn over_https_responses_carry_hsts_and_session_cookies_the_host_prefix() {
    let server = TestServer::start(|c| {
        c.public_url = "https://mc.yixing.example".to_owned();
        c.frame_ancestors = vec!["https://app.kanyixing.example".to_owned()];
    });
    let peer = "203.0.113.90";
    let health = server
        .send(peer, Method::GET, "/api/health", &[], None)
        .await;
    assert_eq!(
        health.headers["strict-transport-security"],
        "max-age=31536000"
    );
    let csp = health.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.ends_with("frame-ancestors 'self' https://app.kanyixing.example"),
        "{csp}"
    );
    let login = server
        .send(
            peer,
            Method::POST,
            "/api/staff/session",
            &[],
            Some(serde_json::json!({
                "username": backend::seed::DEMO_MANAGER,
                "password": backend::seed::DEFAULT_DEMO_PASSWORD,
            })),
        )
        .await;
    let cookie = login.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-mc_staff="), "{cookie}");
    assert!(
        cookie.contains("; Path=/;") && cookie.contains("; Secure"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let me = server
        .send(
            peer,
            Method::GET,
            "/api/staff/me",
            &[("cookie", &pair)],
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // The same token without the prefix (as a sibling domain could plant
    // one) is not a session here.
    let planted = pair.replace("__Host-", "");
    let me = server
        .send(
            peer,
            Method::GET,
            "/api/staff/me",
            &[("cookie", &planted)],
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}
