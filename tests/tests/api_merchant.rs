//! The merchant API against a running server: signed stall codes, SMS-code
//! login, sessions, the real-name and profile forms, idempotency and
//! tenancy. (Who may apply for which business: `api_identity.rs`.)
//!
//! Stall codes come from the server's own `backend stall-url` command (the
//! one a market office prints with), run against the server's data folder
//! and database: `E2E_BACKEND_BIN` (default: `backend` next to this test's
//! target folder) and `E2E_DATABASE_URL` (default: the SQLite file in the
//! data folder).
//!
//! Each test uses its own random mobile numbers, so the tests may run in
//! parallel and again against the same server.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::error::ApiErrorBody;
use shared::merchant::{CodeInfo, MeResponse, OtpSent, Profile};

fn random_mobile() -> String {
    let n: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    // Mix in a per-call counter so two calls in one nanosecond still differ.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let c = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mixed = n
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(c * 1_442_695_040_888_963_407);
    format!("199{:08}", (mixed >> 20) % 100_000_000)
}

/// Lines of the development SMS outbox sent to `mobile`.
fn outbox_codes(mobile: &str) -> Vec<String> {
    let path = e2e::data_dir().join("sms-outbox.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["mobile"] == mobile)
        .map(|v| v["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn error_of(res: reqwest::Response) -> (StatusCode, ApiErrorBody) {
    let status = res.status();
    let body = res.text().await.unwrap();
    let parsed = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("not an error body ({e}): {status} {body}"));
    (status, parsed)
}

async fn send_otp(client: &reqwest::Client, mobile: &str, code: Option<&str>) -> reqwest::Response {
    let mut body = json!({ "mobile": mobile });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    client
        .post(e2e::url("/api/m/otp"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn try_login(client: &reqwest::Client, mobile: &str, otp: &str) -> reqwest::Response {
    client
        .post(e2e::url("/api/m/session"))
        .json(&json!({ "mobile": mobile, "otp": otp }))
        .send()
        .await
        .unwrap()
}

/// A logged-in client for a new merchant; returns it and the merchant id.
async fn logged_in(code: Option<&str>) -> (reqwest::Client, String, String) {
    let client = e2e::client();
    let mobile = random_mobile();
    let res = send_otp(&client, &mobile, code).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let otp = outbox_codes(&mobile).pop().expect("an SMS in the outbox");
    let res = try_login(&client, &mobile, &otp).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let me: MeResponse = res.json().await.unwrap();
    (client, me.merchant_id, mobile)
}

/// A different character in the code's alphabet at the same place.
fn edited(code: &str, i: usize) -> String {
    let mut b = code.as_bytes().to_vec();
    b[i] = match b[i] {
        b'A' => b'B',
        b'.' => b'A',
        _ => b'A',
    };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn a_genuine_stall_code_shows_the_stall() {
    let code = e2e::stall_code("A-01");
    let res = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let info: CodeInfo = res.json().await.unwrap();
    let health: Value = reqwest::get(e2e::url("/api/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(Some(info.market_name.as_str()), health["market"].as_str());
    assert_eq!(info.stall_number.as_deref(), Some("A-01"));
    assert_eq!(info.zone.as_deref(), Some("A"));
    assert!(!info.market_office_phone.is_empty());

    let wide = e2e::stall_code("--market-wide");
    let info: CodeInfo = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{wide}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info.stall_number, None);
    assert_eq!(Some(info.market_name.as_str()), health["market"].as_str());
}

#[tokio::test]
async fn every_edited_or_truncated_code_is_refused_and_nothing_is_stored() {
    let code = e2e::stall_code("A-02");
    let client = e2e::client();
    let mobile = random_mobile();
    let mut variants: Vec<String> = (0..code.len()).map(|i| edited(&code, i)).collect();
    variants.extend([1, 20, code.len() / 2, code.len() - 1].map(|n| code[..n].to_owned()));
    variants.push(format!("{code}A"));
    for bad in &variants {
        assert_ne!(bad, &code);
        let res = client
            .get(e2e::url(&format!("/api/m/codes/{bad}")))
            .send()
            .await
            .unwrap();
        let (status, body) = error_of(res).await;
        assert_eq!(
            (status, body.code.as_str()),
            (StatusCode::BAD_REQUEST, "code_invalid"),
            "{bad}"
        );

        let (status, body) = error_of(send_otp(&client, &mobile, Some(bad)).await).await;
        assert_eq!(
            (status, body.code.as_str()),
            (StatusCode::BAD_REQUEST, "code_invalid"),
            "{bad}"
        );
    }
    // No SMS went out and no code was stored for the number.
    assert!(outbox_codes(&mobile).is_empty());
    let (_, body) = error_of(try_login(&client, &mobile, "123456").await).await;
    assert_eq!(body.code, "otp_invalid");
    // …and the refusals used up none of the number's sends: the real code works.
    let res = send_otp(&client, &mobile, Some(&code)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(outbox_codes(&mobile).len(), 1);
}

#[tokio::test]
async fn login_carries_the_scanned_stall_and_logout_ends_the_session() {
    let code = e2e::stall_code("A-03");
    let (client, merchant_id, mobile) = logged_in(Some(&code)).await;
    let me: MeResponse = client
        .get(e2e::url("/api/m/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me.merchant_id, merchant_id);
    assert_eq!(me.stall_number.as_deref(), Some("A-03"));
    assert_eq!(
        me.mobile_masked,
        format!("{}****{}", &mobile[..3], &mobile[7..])
    );
    assert!(!me.profile_complete);

    // Before the first save, the trade is prefilled from the stall.
    let info: CodeInfo = client
        .get(e2e::url(&format!("/api/m/codes/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p: Profile = client
        .get(e2e::url("/api/m/profile"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p.trade, info.trade);
    assert!(!p.complete);
    // …but never the stall holder's licence code or name: that is someone
    // else's until the registry says it is this person's.
    assert_eq!((p.uscc, p.name), (None, None));
    assert!(!p.identity_verified && p.businesses.is_empty());

    // The code was single use.
    let otp = outbox_codes(&mobile).pop().unwrap();
    let (_, body) = error_of(try_login(&e2e::client(), &mobile, &otp).await).await;
    assert_eq!(body.code, "otp_invalid");

    let res = client
        .delete(e2e::url("/api/m/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (status, body) = error_of(client.get(e2e::url("/api/m/me")).send().await.unwrap()).await;
    assert_eq!(
        (status, body.code.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
}

#[tokio::test]
async fn the_right_code_on_the_sixth_try_is_refused() {
    let client = e2e::client();
    let mobile = random_mobile();
    assert_eq!(
        send_otp(&client, &mobile, None).await.status(),
        StatusCode::OK
    );
    let otp = outbox_codes(&mobile).pop().unwrap();
    let wrong = if otp == "000000" { "000001" } else { "000000" };
    for i in 1..=5 {
        let (status, body) = error_of(try_login(&client, &mobile, wrong).await).await;
        assert_eq!(
            (status, body.code.as_str()),
            (StatusCode::BAD_REQUEST, "otp_wrong"),
            "try {i}"
        );
    }
    let (status, body) = error_of(try_login(&client, &mobile, &otp).await).await;
    assert_eq!(
        (status, body.code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "otp_locked")
    );
    let (status, _) = error_of(client.get(e2e::url("/api/m/me")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_guesses_evaluate_at_most_five() {
    let client = e2e::client();
    let mobile = random_mobile();
    assert_eq!(
        send_otp(&client, &mobile, None).await.status(),
        StatusCode::OK
    );
    let otp = outbox_codes(&mobile).pop().unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            let mobile = mobile.clone();
            // Distinct wrong guesses, never the real code.
            let mut guess = format!("{:06}", 100_000 + i);
            if guess == otp {
                guess = "999999".to_owned();
            }
            tokio::spawn(async move { error_of(try_login(&client, &mobile, &guess).await).await })
        })
        .collect();
    let mut evaluated = 0;
    let mut locked = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match body.code.as_str() {
            "otp_wrong" => evaluated += 1,
            "otp_locked" => locked += 1,
            other => panic!("unexpected {status} {other}"),
        }
    }
    assert_eq!(evaluated, 5, "guesses compared against the code");
    assert_eq!(locked, 195);
    let (_, body) = error_of(try_login(&client, &mobile, &otp).await).await;
    assert_eq!(body.code, "otp_locked");
}

#[tokio::test]
async fn a_second_code_within_a_minute_is_refused() {
    let client = e2e::client();
    let mobile = random_mobile();
    assert_eq!(
        send_otp(&client, &mobile, None).await.status(),
        StatusCode::OK
    );
    let (status, body) = error_of(send_otp(&client, &mobile, None).await).await;
    assert_eq!(
        (status, body.code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "otp_too_soon")
    );
    assert_eq!(outbox_codes(&mobile).len(), 1);
}

#[tokio::test]
async fn bad_mobile_numbers_are_named() {
    let client = e2e::client();
    for bad in ["", "12345", "2391234567x", "+1 202 555 0100"] {
        let (status, body) = error_of(send_otp(&client, bad, None).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body.fields[0].field, "mobile", "{bad}");
    }
    let res = client.get(e2e::url("/api/m/otp")).send().await.unwrap();
    let (status, body) = error_of(res).await;
    assert_eq!(
        (status, body.code.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let (status, body) = error_of(try_login(&client, "139", "12").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = body.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["mobile", "otp"]);
}

fn good_profile() -> Value {
    json!({ "uscc": "914403001922038216", "trade": "石材", "years_in_business": 12 })
}

#[tokio::test]
async fn each_bad_identity_or_profile_field_is_a_422_naming_it() {
    let (client, merchant_id, _) = logged_in(None).await;
    let good_identity = json!({ "name": "王建国", "resident_id": "11010519491231002x" });
    for (field, value) in [
        ("name", json!("")),
        ("name", json!("王1")),
        ("resident_id", json!("110105194912310021")),
        ("resident_id", json!("11010519490229002X")),
        ("resident_id", json!("1101051949")),
    ] {
        let mut body = good_identity.clone();
        body[field] = value.clone();
        let res = client
            .post(e2e::url("/api/m/identity"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, err) = error_of(res).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value}"
        );
        let named: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, [field], "{field} = {value}");
        assert!(!err.fields[0].message_zh.is_empty() && !err.fields[0].message_en.is_empty());
    }
    // Unverified, no business may be named at all.
    let res = client
        .put(e2e::url("/api/m/profile"))
        .json(&good_profile())
        .send()
        .await
        .unwrap();
    let (status, err) = error_of(res).await;
    assert_eq!(
        (status, err.code.as_str()),
        (StatusCode::CONFLICT, "identity_unverified")
    );
    // Nothing was saved by the refused attempts.
    let p: Profile =
        e2e::merchant::ok(client.get(e2e::url("/api/m/profile")).send().await.unwrap()).await;
    assert!(!p.complete && !p.identity_verified);
    assert_eq!((p.name, p.resident_id_masked), (None, None));
    assert_eq!(p.merchant_id, merchant_id);

    // A verified operator: the business form's fields.
    let (client, b) = e2e::merchant::verified("clean", None, false).await;
    for (field, value) in [
        ("uscc", json!("914403001922038217")),
        ("uscc", json!("91440300192203821O")),
        ("trade", json!("")),
        ("years_in_business", json!(-3)),
        ("years_in_business", json!(200)),
        ("years_in_business", json!("ten")),
    ] {
        let mut body = good_profile();
        body["uscc"] = json!(b.uscc);
        body[field] = value.clone();
        let res = client
            .put(e2e::url("/api/m/profile"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, err) = error_of(res).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value}"
        );
        let named: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, [field], "{field} = {value}");
    }
    let res = e2e::merchant::save_profile(&client, &b.uscc, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = client
        .get(e2e::url("/api/m/profile"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains(&b.resident_id) && !text.contains(&b.resident_id[6..14]),
        "the full ID number came back: {text}"
    );
    let p: Profile = serde_json::from_str(&text).unwrap();
    assert!(p.complete && p.identity_verified);
    assert_eq!(p.name.as_deref(), Some(b.name.as_str()));
    let masked = format!("{}**********{}", &b.resident_id[..4], &b.resident_id[14..]);
    assert_eq!(p.resident_id_masked.as_deref(), Some(masked.as_str()));
    let birth = format!(
        "{}-{}-{}",
        &b.resident_id[6..10],
        &b.resident_id[10..12],
        &b.resident_id[12..14]
    );
    assert_eq!(p.birth_date.as_deref(), Some(birth.as_str()));
    assert_eq!(p.uscc.as_deref(), Some(b.uscc.as_str()));
    assert_eq!(p.years_in_business, Some(6));
    let me: MeResponse =
        e2e::merchant::ok(client.get(e2e::url("/api/m/me")).send().await.unwrap()).await;
    assert!(me.profile_complete && me.identity_verified);
}

#[tokio::test]
async fn another_merchants_profile_is_not_found() {
    let (a, a_id, _) = logged_in(None).await;
    let (b, _) = e2e::merchant::verified("clean", None, true).await;
    let b_me: MeResponse =
        e2e::merchant::ok(b.get(e2e::url("/api/m/me")).send().await.unwrap()).await;
    let b_id = b_me.merchant_id;
    assert_ne!(a_id, b_id);

    let own = a
        .get(e2e::url(&format!("/api/m/merchants/{a_id}/profile")))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let res = a
        .get(e2e::url(&format!("/api/m/merchants/{b_id}/profile")))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(res).await;
    assert_eq!(
        (status, body.code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let res = a
        .get(e2e::url(
            "/api/m/merchants/mch_00000000000000000000000000000000/profile",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // A's own profile is still A's, untouched by B's save.
    let p: Profile = a
        .get(e2e::url("/api/m/profile"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((p.merchant_id.as_str(), p.complete), (a_id.as_str(), false));

    let anonymous = e2e::client();
    let res = anonymous
        .get(e2e::url(&format!("/api/m/merchants/{b_id}/profile")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = anonymous
        .put(e2e::url("/api/m/profile"))
        .json(&good_profile())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = anonymous
        .post(e2e::url("/api/m/identity"))
        .json(&json!({ "name": "王建国", "resident_id": "11010519491231002X" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let client = e2e::client();
    let mobile = random_mobile();
    let res = client
        .post(e2e::url("/api/m/otp"))
        .header("Origin", "https://evil.example")
        .json(&json!({ "mobile": mobile }))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(res).await;
    assert_eq!(
        (status, body.code.as_str()),
        (StatusCode::FORBIDDEN, "cross_site_refused")
    );
    assert!(outbox_codes(&mobile).is_empty());

    let (a, b) = e2e::merchant::verified("clean", None, false).await;
    let mut body = good_profile();
    body["uscc"] = json!(b.uscc);
    let res = a
        .put(e2e::url("/api/m/profile"))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = a
        .post(e2e::url("/api/m/identity"))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&json!({ "name": b.name, "resident_id": b.resident_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The page's own origin is fine.
    let res = a
        .put(e2e::url("/api/m/profile"))
        .header("Origin", e2e::base_url())
        .header("Sec-Fetch-Site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn retried_posts_with_an_idempotency_key_act_once() {
    let client = e2e::client();
    let mobile = random_mobile();
    let key = format!("otp-{mobile}");
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let res = client
            .post(e2e::url("/api/m/otp"))
            .header("Idempotency-Key", &key)
            .json(&json!({ "mobile": mobile }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        bodies.push(res.json::<OtpSent>().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(
        outbox_codes(&mobile).len(),
        1,
        "one SMS for two identical requests"
    );
    // The same key with another body is an error, not a replay.
    let res = client
        .post(e2e::url("/api/m/otp"))
        .header("Idempotency-Key", &key)
        .json(&json!({ "mobile": mobile, "code": "x.y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.1.code, "idempotency_key_reused");

    // A login whose answer was lost: the retry (a new client, no cookie yet)
    // gets the same merchant and a working session, though the code is used.
    let otp = outbox_codes(&mobile).pop().unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let fresh = e2e::client();
        let res = fresh
            .post(e2e::url("/api/m/session"))
            .header("Idempotency-Key", "login-1")
            .json(&json!({ "mobile": mobile, "otp": otp }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let me: MeResponse = fresh
            .get(e2e::url("/api/m/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(me.merchant_id);
    }
    assert_eq!(ids[0], ids[1]);
    // Without the key, the used code is refused.
    assert_eq!(
        error_of(try_login(&client, &mobile, &otp).await)
            .await
            .1
            .code,
        "otp_invalid"
    );
}
