//! Abuse from many client addresses, in-process (see `common`): the limits
//! per address and in total at their real defaults (`config::Limits`), the
//! staff login throttle, bounded rows from refused traffic, bounded
//! inputs, and a flood of password hashes that must not starve the rest.
//!
//! Figures printed here (`cargo test -p backend --test abuse -- --nocapture`)
//! are in BENCHMARKS.md; nothing here asserts a duration.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::http::{Method, StatusCode};
use backend::config::Limits;
use common::TestServer;
use serde_json::json;

fn default_server() -> TestServer {
    TestServer::start(|_| {})
}

fn mobile(i: usize) -> String {
    format!("139{:08}", 10_000_000 + i)
}

async fn send_otp(server: &TestServer, peer: &str, mobile: &str) -> common::Answer {
    server
        .send(
            peer,
            Method::POST,
            "/api/m/otp",
            &[],
            Some(json!({ "mobile": mobile })),
        )
        .await
}

async fn staff_login(
    server: &TestServer,
    peer: &str,
    user: &str,
    password: &str,
) -> common::Answer {
    server
        .send(
            peer,
            Method::POST,
            "/api/staff/session",
            &[],
            Some(json!({ "username": user, "password": password })),
        )
        .await
}

fn retry_after(answer: &common::Answer) -> u64 {
    answer
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("{} without Retry-After: {}", answer.status, answer.body))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn one_address_asking_codes_for_a_thousand_numbers_is_refused_after_its_limit() {
    let server = default_server();
    let limit = Limits::default().otp_sends_per_address as usize;
    let attacker = "198.51.100.1";
    let mut sent = 0;
    for i in 0..1_000 {
        let res = send_otp(&server, attacker, &mobile(i)).await;
        if res.status == StatusCode::OK {
            assert_eq!(sent, i, "every send before the limit went out");
            sent += 1;
            continue;
        }
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
        assert_eq!(res.code(), "otp_address_limit");
        assert!((1..=3600).contains(&retry_after(&res)));
    }
    assert_eq!(sent, limit);
    assert_eq!(server.outbox().len(), limit, "no SMS past the limit");
    // Another address is not affected.
    send_otp(&server, "203.0.113.50", &mobile(5_000)).await.ok();
    // The refusals are one counted row, not 970.
    let rows =
        server.number("SELECT COUNT(*) AS n FROM refusal_counts WHERE client_ip = '198.51.100.1'");
    let counted = server.number(
        "SELECT SUM(count) AS n FROM refusal_counts WHERE client_ip = '198.51.100.1' \
         AND action = 'otp.send_refused' AND reason = 'otp_address_limit'",
    );
    assert_eq!((rows, counted), (1, (1_000 - limit) as i64));
}

#[tokio::test]
async fn an_ipv6_client_taking_a_fresh_address_each_time_is_one_address() {
    let server = default_server();
    let limit = Limits::default().otp_sends_per_address as usize;
    let mut sent = 0;
    for i in 0..limit + 5 {
        let peer = format!("2001:db8:7:9:{:x}::1", i + 1);
        if send_otp(&server, &peer, &mobile(2_000 + i)).await.status == StatusCode::OK {
            sent += 1;
        }
    }
    assert_eq!(sent, limit, "one /64 is one address");
    // The next /64 is another subscriber.
    send_otp(&server, "2001:db8:7:a::1", &mobile(3_000))
        .await
        .ok();
}

#[tokio::test]
async fn the_sends_in_total_are_limited_across_addresses() {
    let server = TestServer::start(|c| {
        c.limits = Limits {
            otp_sends_total: 12,
            ..Limits::default()
        }
    });
    let mut sent = 0;
    for i in 0..20 {
        // A fresh address each time: only the total can refuse.
        let res = send_otp(&server, &format!("10.7.0.{i}"), &mobile(i)).await;
        match res.status {
            StatusCode::OK => sent += 1,
            _ => {
                assert_eq!(res.code(), "otp_busy", "{}", res.body);
                assert!(retry_after(&res) >= 1);
            }
        }
    }
    assert_eq!(sent, 12);
}

#[tokio::test]
async fn a_victims_number_cannot_be_kept_busy_from_one_address() {
    // (The daily share of one address is tested with a moving clock in
    // `auth::otp`; here, what a real request sees.)
    let server = default_server();
    let victim = mobile(77);
    send_otp(&server, "198.51.100.9", &victim).await.ok();
    let again = send_otp(&server, "198.51.100.9", &victim).await;
    assert_eq!(again.code(), "otp_too_soon");
    assert_eq!(server.outbox().len(), 1);
}

#[tokio::test]
async fn the_real_operator_logs_in_after_an_attackers_hundred_wrong_passwords() {
    let server = default_server();
    let user = backend::seed::DEMO_MANAGER;
    let attacker = "198.51.100.2";
    let mut evaluated = 0;
    for i in 0..100 {
        let res = staff_login(&server, attacker, user, &format!("guess-{i}")).await;
        match res.code() {
            "invalid_credentials" => {
                assert_eq!(res.status, StatusCode::UNAUTHORIZED);
                evaluated += 1;
            }
            "too_many_failures" => {
                assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
                assert!(retry_after(&res) >= 1);
            }
            other => panic!("{other}: {}", res.body),
        }
        if i < 5 {
            assert_eq!(res.code(), "invalid_credentials", "try {i} is free");
        }
    }
    // Five free tries, then waits of 1, 2, 4 … seconds: a hundred quick
    // guesses get only a few more evaluated.
    assert!((5..10).contains(&evaluated), "{evaluated} evaluated");
    // The attacker's address waits; the real operator, elsewhere, does not.
    let res = staff_login(
        &server,
        attacker,
        user,
        backend::seed::DEFAULT_DEMO_PASSWORD,
    )
    .await;
    assert_eq!(res.code(), "too_many_failures");
    let res = staff_login(
        &server,
        "203.0.113.7",
        user,
        backend::seed::DEFAULT_DEMO_PASSWORD,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["username"], user);
    // Counted, not logged row by row: one row per (address, kind).
    let rows =
        server.number("SELECT COUNT(*) AS n FROM refusal_counts WHERE client_ip = '198.51.100.2'");
    assert_eq!(rows, 2, "wrong passwords and throttled tries");
    let failed_rows = server.number(
        "SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'staff.login%' AND action != 'staff.login'",
    );
    assert_eq!(failed_rows, 0);
}

#[tokio::test]
async fn unknown_and_known_accounts_get_the_same_answers() {
    let server = default_server();
    // The throttle's waits are real seconds (1, 2, 4 … after five free
    // failures), so on a loaded machine a try may come after a wait has run
    // out. What must not differ is the kind of answer at each point: the
    // same five plain refusals, then the same throttle, for both.
    let mut seen = Vec::new();
    for (peer, user) in [
        ("198.51.100.3", backend::seed::DEMO_MANAGER),
        ("198.51.100.4", "nobody-here"),
    ] {
        let mut answers = Vec::new();
        for i in 0..16 {
            let res = staff_login(&server, peer, user, &format!("wrong-{i}")).await;
            let answer = (res.status, res.code().to_owned());
            let throttled = answer.0 == StatusCode::TOO_MANY_REQUESTS;
            if throttled {
                assert!(retry_after(&res) >= 1, "{user}: {}", res.body);
            }
            answers.push(answer);
            if throttled {
                break;
            }
        }
        seen.push(answers);
    }
    for answers in &seen {
        let (last, before) = answers.split_last().expect("at least one answer");
        assert_eq!(
            last,
            &(StatusCode::TOO_MANY_REQUESTS, "too_many_failures".into()),
            "throttled in the end: {answers:?}"
        );
        assert!(before.len() >= 5, "five free failures: {answers:?}");
        for answer in before {
            assert_eq!(
                answer,
                &(StatusCode::UNAUTHORIZED, "invalid_credentials".into()),
                "{answers:?}"
            );
        }
    }

    // The address's own limit, whatever the usernames: known and unknown
    // alike count, and are refused alike past it.
    let peer = "198.51.100.5";
    let limit = Limits::default().login_failures_per_address as usize;
    for i in 0..limit {
        let res = staff_login(&server, peer, &format!("someone-{i}"), "wrong-password").await;
        assert_eq!(res.code(), "invalid_credentials", "try {i}");
    }
    for user in [backend::seed::DEMO_MANAGER, "someone-else"] {
        let res = staff_login(&server, peer, user, "wrong-password").await;
        assert_eq!(res.code(), "login_address_limit");
        assert!(retry_after(&res) >= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_bad_logins_leave_health_and_the_merchant_flow_answering() {
    let server = Arc::new(default_server());
    let code = server.stall_code("A-01");
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let logins: Vec<_> = (0..64)
        .map(|i| {
            let (server, finished) = (server.clone(), finished.clone());
            tokio::spawn(async move {
                let peer = format!("10.9.{}.{}", i / 200, i % 200 + 1);
                let res = staff_login(&server, &peer, &format!("nobody-{i}"), "wrong").await;
                finished.fetch_add(1, Ordering::SeqCst);
                res
            })
        })
        .collect();
    // While the hashes queue on the pool, the rest answers.
    let health = server
        .send("203.0.113.60", Method::GET, "/api/health", &[], None)
        .await;
    let finished_at_health = finished.load(Ordering::SeqCst);
    let health_after = started.elapsed();
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    let scan = server
        .send(
            "203.0.113.61",
            Method::GET,
            &format!("/api/m/codes/{code}"),
            &[],
            None,
        )
        .await;
    assert_eq!(scan.status, StatusCode::OK, "{}", scan.body);
    let otp = send_otp(&server, "203.0.113.62", &mobile(900)).await;
    assert_eq!(otp.status, StatusCode::OK, "{}", otp.body);
    for login in logins {
        let res = login.await.unwrap();
        assert!(
            matches!(res.code(), "invalid_credentials" | "unavailable"),
            "{}: {}",
            res.status,
            res.body
        );
    }
    println!(
        "flood: /api/health answered after {health_after:?}, with {finished_at_health} of 64 \
         bad logins finished; all 64 in {:?}",
        started.elapsed()
    );
}

/// A stall code of the right shape whose tag does not verify.
fn forged(i: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut n = (i as u64).wrapping_mul(2_654_435_761) ^ 0x9e37_79b9_7f4a_7c15;
    (0..37)
        .map(|k| {
            n = n
                .rotate_left(5)
                .wrapping_add((k as u64).wrapping_mul(0x632b_e59b_d9b4_e019));
            // The last character of 23 bytes in base32 carries one bit only.
            if k == 36 {
                'A'
            } else {
                alphabet[(n % 32) as usize] as char
            }
        })
        .collect()
}

#[tokio::test]
async fn ten_thousand_refused_codes_from_one_address_add_a_handful_of_rows() {
    let server = default_server();
    // The stall page renders into the built app's page; a stand-in will do.
    let dist = server.dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!DOCTYPE html><html><head><title>t</title></head><body></body></html>",
    )
    .unwrap();
    let attacker = "198.51.100.8";
    let before = server.total_rows();
    let started = Instant::now();
    for i in 0..10_000 {
        let code = forged(i);
        let path = if i % 2 == 0 {
            format!("/api/m/codes/{code}")
        } else {
            format!("/S/{code}")
        };
        let res = server.send(attacker, Method::GET, &path, &[], None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}");
    }
    let took = started.elapsed();
    // Bad OTP requests, each with a fresh Idempotency-Key: nothing kept.
    for i in 0..500 {
        let key = format!("fresh-key-{i}");
        let res = server
            .send(
                attacker,
                Method::POST,
                "/api/m/otp",
                &[("idempotency-key", &key)],
                Some(json!({ "mobile": mobile(i), "code": forged(i) })),
            )
            .await;
        assert_eq!(res.code(), "code_invalid");
    }
    let added = server.total_rows() - before;
    println!("10,000 refused codes from one address: {took:?}, {added} rows added");
    assert!(added <= 3, "{added} rows added");
    let counted = server.number(
        "SELECT SUM(count) AS n FROM refusal_counts WHERE client_ip = '198.51.100.8' \
         AND action = 'stall_code.refused'",
    );
    assert_eq!(counted, 10_500, "every refusal is counted");
    assert_eq!(
        server.number("SELECT COUNT(*) AS n FROM idempotency_keys"),
        0
    );
}

#[tokio::test]
async fn two_hundred_thousand_bank_ids_are_refused_before_any_work() {
    let server = default_server();
    let peer = "203.0.113.70";
    let phone = mobile(4242);
    let cookie = server.log_in(peer, &phone, None).await;
    let auth = [("cookie", cookie.as_str())];

    let ids: Vec<String> = (0..200_000).map(|i| format!("b{i}")).collect();
    let body = serde_json::to_vec(&json!({
        "letter_version": "x", "text_sha256": "x", "language": "zh", "bank_ids": ids,
    }))
    .unwrap();
    assert!(
        body.len() < shared::limits::MAX_BODY_DEFAULT,
        "within the body cap"
    );
    let started = Instant::now();
    let res = server
        .send_bytes(
            peer,
            Method::POST,
            "/api/m/consents",
            &auth,
            Some(body.clone()),
        )
        .await;
    let took = started.elapsed();
    println!(
        "200,000 bank_ids ({} KB body): {} in {took:?}",
        body.len() / 1000,
        res.status
    );
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.body["fields"][0]["field"], "bank_ids");
    assert_eq!(res.body["fields"][0]["code"], "too_many");

    // Over the cap: refused unread. Anonymous routes take far less.
    let huge = vec![b' '; shared::limits::MAX_BODY_DEFAULT + 1];
    let res = server
        .send_bytes(peer, Method::POST, "/api/m/consents", &auth, Some(huge))
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.code(), "body_unreadable");
    let padded = json!({ "mobile": phone, "code": "A".repeat(20_000) });
    let res = server
        .send(peer, Method::POST, "/api/m/otp", &[], Some(padded))
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    // A long string within the cap is named.
    let long = json!({ "mobile": phone, "code": "A".repeat(1_000) });
    let res = server
        .send(peer, Method::POST, "/api/m/otp", &[], Some(long))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.body["fields"][0]["field"], "code");
    // A path far longer than any id: refused before routing.
    let res = server
        .send(
            peer,
            Method::GET,
            &format!("/api/m/consents/{}", "x".repeat(5_000)),
            &auth,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::URI_TOO_LONG);
}
