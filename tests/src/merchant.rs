//! Merchants as the API suites make them. Only a business's registered
//! operator gets through the real-name check, so each test first makes a
//! business of its own with the server's `backend dev-business` (its facts,
//! its operator in the registry, and that person with a mobile number in the
//! development real-name roster), then logs in with that number.

use reqwest::{Client, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::merchant::{MeResponse, Profile};

/// A business `backend dev-business` made, and the person to type for it.
#[derive(Debug, Clone, Deserialize)]
pub struct Business {
    pub uscc: String,
    pub business_name: String,
    pub trade: String,
    pub name: String,
    pub resident_id: String,
    pub mobile: String,
}

/// A fresh mobile number, different on every call (also across processes
/// started in the same nanosecond, through the counter and the process id).
pub fn random_mobile() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let c = COUNTER.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id()) * 7919;
    let mixed = n
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add((c + 11).wrapping_mul(1_442_695_040_888_963_407));
    format!("196{:08}", (mixed >> 20) % 100_000_000)
}

/// The newest one-time code the development outbox holds for `mobile`.
pub fn outbox_code(mobile: &str) -> String {
    let text =
        std::fs::read_to_string(crate::data_dir().join("sms-outbox.jsonl")).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["mobile"] == mobile)
        .find_map(|v| v["code"].as_str().map(str::to_owned))
        .expect("an SMS in the outbox")
}

/// `backend dev-business` with these arguments.
pub fn business_with(args: &[&str]) -> Business {
    let mut all = vec!["dev-business"];
    all.extend_from_slice(args);
    let out = crate::backend(&all, &[]);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A new business in `archetype` (`clean`, `enforcement`, `tax-d`,
/// `rent-arrears-<n>`, …) whose operator's mobile number is `mobile`.
pub fn business(archetype: &str, mobile: &str) -> Business {
    business_with(&["--archetype", archetype, "--mobile", mobile])
}

/// Logs `mobile` in on `client`, from a scanned stall code if given.
pub async fn log_in(client: &Client, mobile: &str, code: Option<&str>) -> MeResponse {
    let mut body = json!({ "mobile": mobile });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    let res = client
        .post(crate::url("/api/m/otp"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let res = client
        .post(crate::url("/api/m/session"))
        .json(&json!({ "mobile": mobile, "otp": outbox_code(mobile) }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

/// `POST /api/m/identity`: the real-name check.
pub async fn verify(client: &Client, name: &str, resident_id: &str) -> reqwest::Response {
    client
        .post(crate::url("/api/m/identity"))
        .json(&json!({ "name": name, "resident_id": resident_id }))
        .send()
        .await
        .unwrap()
}

/// `PUT /api/m/profile`: the business applied for.
pub async fn save_profile(
    client: &Client,
    uscc: &str,
    stall_confirmed: Option<bool>,
) -> reqwest::Response {
    let mut body = json!({ "uscc": uscc, "trade": "石材", "years_in_business": 6 });
    if let Some(yes) = stall_confirmed {
        body["stall_confirmed"] = json!(yes);
    }
    client
        .put(crate::url("/api/m/profile"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The JSON body of a 200, or a panic showing what came instead.
pub async fn ok<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> T {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A new business's operator, logged in (from `code` if given), through the
/// real-name check and, when `profile` is true, with the business saved
/// (and a scanned stall confirmed as theirs).
pub async fn verified(archetype: &str, code: Option<&str>, profile: bool) -> (Client, Business) {
    let client = crate::client();
    let b = business(archetype, &random_mobile());
    log_in(&client, &b.mobile, code).await;
    let p: Profile = ok(verify(&client, &b.name, &b.resident_id).await).await;
    assert!(p.identity_verified);
    if profile {
        let p: Profile = ok(save_profile(&client, &b.uscc, code.map(|_| true)).await).await;
        assert!(p.complete);
    }
    (client, b)
}
