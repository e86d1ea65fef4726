//! The authorization letter, signing, the decision, the candidate pool and
//! withdrawal, against a running server. Each test makes its own business
//! with the server's `backend dev-business` (clean records: an offer; on the
//! court enforcement list: a decline) and logs in as its registered
//! operator from a demo stall's code (`e2e::merchant`), so tests may run in
//! parallel and again.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::consent::{
    ApplicationView, ConsentView, DataRead, Letter, MerchantDecision, NextStep, SignResponse,
    sha256_hex,
};
use shared::decision::Outcome;
use shared::error::ApiErrorBody;
use shared::merchant::MeResponse;

use e2e::merchant::{ok as ok_json, random_mobile, verified};

async fn error_of(res: reqwest::Response) -> (StatusCode, ApiErrorBody) {
    let status = res.status();
    let body = res.text().await.unwrap();
    let parsed = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("not an error body ({e}): {status} {body}"));
    (status, parsed)
}

/// The operator of a new business in `archetype`, logged in from `stall`'s
/// code and verified; the business saved when `profile` is true.
async fn merchant(stall: &str, archetype: &str, profile: bool) -> reqwest::Client {
    let code = e2e::stall_code(stall);
    verified(archetype, Some(&code), profile).await.0
}

async fn letter(client: &reqwest::Client) -> Letter {
    ok_json(client.get(e2e::url("/api/m/letter")).send().await.unwrap()).await
}

fn sign_body(l: &Letter, banks: &[&str]) -> Value {
    json!({
        "letter_version": l.version,
        "text_sha256": sha256_hex(&l.text_zh),
        "bank_ids": banks,
        "language": "zh",
    })
}

async fn sign(client: &reqwest::Client, body: &Value) -> reqwest::Response {
    client
        .post(e2e::url("/api/m/consents"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Signs the letter for every bank; returns the consent and the decision.
async fn signed(client: &reqwest::Client) -> SignResponse {
    let l = letter(client).await;
    let banks: Vec<&str> = l.banks.iter().map(|b| b.bank_id.as_str()).collect();
    ok_json(sign(client, &sign_body(&l, &banks)).await).await
}

async fn accept(
    client: &reqwest::Client,
    decision_id: &str,
    key: Option<&str>,
) -> reqwest::Response {
    let mut req = client
        .post(e2e::url("/api/m/applications"))
        .json(&json!({ "decision_id": decision_id }));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

async fn next_step(client: &reqwest::Client) -> NextStep {
    let me: MeResponse = ok_json(client.get(e2e::url("/api/m/me")).send().await.unwrap()).await;
    me.next_step
}

#[tokio::test]
async fn the_letter_names_categories_and_banks_and_the_signed_text_is_kept() {
    let client = merchant("A-01", "clean", true).await;
    let l = letter(&client).await;
    assert_eq!(l.version, "v1");
    assert_eq!(l.categories.len(), 10);
    assert!(l.categories.iter().any(|c| c.code == "enforcement"));
    assert!(l.banks.len() >= 2, "{:?}", l.banks);
    assert!(l.banks.iter().all(|b| !b.products.is_empty()));
    assert!(l.text_zh.contains("撤回") && l.text_en.contains("withdraw"));
    assert_eq!(l.valid_months, 12);

    // Signed in English from WeChat: the English text's hash, the channel.
    let body = json!({
        "letter_version": l.version,
        "text_sha256": sha256_hex(&l.text_en),
        "bank_ids": [l.banks[0].bank_id],
        "language": "en",
    });
    let res = client
        .post(e2e::url("/api/m/consents"))
        .header("User-Agent", "Mozilla/5.0 MicroMessenger/8.0.34 WeChat")
        .json(&body)
        .send()
        .await
        .unwrap();
    let signed: SignResponse = ok_json(res).await;
    assert_eq!(signed.consent.status, "active");
    assert_eq!(signed.consent.channel, "wechat");
    assert_eq!(signed.consent.banks.len(), 1);

    let back: ConsentView = ok_json(
        client
            .get(e2e::url(&format!("/api/m/consents/{}", signed.consent.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(back.text.as_deref(), Some(l.text_en.as_str()));
    assert_eq!(back.language, "en");
    assert_eq!(back.text_sha256, sha256_hex(&l.text_en));
    assert!(back.expires_at > back.granted_at);
    let year = |t: &str| t[..4].parse::<u32>().unwrap();
    assert_eq!(year(&back.expires_at), year(&back.granted_at) + 1);

    let all: Vec<ConsentView> = ok_json(
        client
            .get(e2e::url("/api/m/consents"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, signed.consent.id);
}

#[tokio::test]
async fn a_wrong_text_hash_is_a_422_and_stores_nothing() {
    let client = merchant("A-01", "clean", true).await;
    let l = letter(&client).await;
    let mut body = sign_body(&l, &[&l.banks[0].bank_id]);
    body["text_sha256"] = json!(sha256_hex(&format!("{} ", l.text_zh)));
    let (status, e) = error_of(sign(&client, &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.fields.iter().any(|f| f.field == "text_sha256"), "{e:?}");
    // The Chinese text's hash with `language: en` is wrong too.
    body["text_sha256"] = json!(sha256_hex(&l.text_zh));
    body["language"] = json!("en");
    let (status, _) = error_of(sign(&client, &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let all: Vec<ConsentView> = ok_json(
        client
            .get(e2e::url("/api/m/consents"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(all.is_empty());
}

#[tokio::test]
async fn no_bank_ticked_is_a_422_naming_bank_ids() {
    let client = merchant("A-01", "clean", true).await;
    let l = letter(&client).await;
    let (status, e) = error_of(sign(&client, &sign_body(&l, &[])).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        e.fields
            .iter()
            .map(|f| f.field.as_str())
            .collect::<Vec<_>>(),
        ["bank_ids"]
    );
    let (status, e) = error_of(sign(&client, &sign_body(&l, &["bnk_nope"])).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.fields.iter().any(|f| f.field == "bank_ids"));
}

#[tokio::test]
async fn signing_before_the_profile_is_a_409() {
    let client = merchant("A-01", "clean", false).await;
    let l = letter(&client).await;
    let (status, e) = error_of(sign(&client, &sign_body(&l, &[&l.banks[0].bank_id])).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(e.code, "profile_incomplete");
}

#[tokio::test]
async fn an_offer_accepted_twice_with_one_key_is_one_application() {
    let client = merchant("A-01", "clean", true).await;
    assert_eq!(next_step(&client).await, NextStep::Authorize);
    let s = signed(&client).await;
    let d = &s.decision;
    assert_eq!(d.view.outcome, Outcome::Offer, "{:?}", d.view.reasons);
    let terms = d.view.terms.expect("offer terms");
    assert!(terms.max_amount_cents > 0 && terms.annual_rate_bp > 0 && terms.term_months > 0);
    assert!(d.valid_until.is_some() && d.retry_after.is_none());
    assert!(!d.banks.is_empty());
    assert_eq!(d.consent_id.as_deref(), Some(s.consent.id.as_str()));
    assert_eq!(next_step(&client).await, NextStep::Decision);

    let latest: MerchantDecision = ok_json(
        client
            .get(e2e::url("/api/m/decision"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(latest.view.decision_id, d.view.decision_id);

    let key = format!("accept-{}", random_mobile());
    let first: ApplicationView =
        ok_json(accept(&client, &d.view.decision_id, Some(&key)).await).await;
    let again: ApplicationView =
        ok_json(accept(&client, &d.view.decision_id, Some(&key)).await).await;
    assert_eq!(first.id, again.id);
    // Without a key too: one application per decision.
    let third: ApplicationView = ok_json(accept(&client, &d.view.decision_id, None).await).await;
    assert_eq!(first.id, third.id);
    assert_eq!(first.status, "in_pool");
    assert_eq!(first.entries.len(), s.consent.banks.len());
    assert!(first.entries.iter().all(|e| e.status == "waiting"));

    let status: ApplicationView = ok_json(
        client
            .get(e2e::url("/api/m/application"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status.id, first.id);
    assert_eq!(status.entries.len(), first.entries.len());
    assert_eq!(next_step(&client).await, NextStep::Application);
    let latest: MerchantDecision = ok_json(
        client
            .get(e2e::url("/api/m/decision"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(latest.application.map(|a| a.id), Some(first.id));
}

#[tokio::test]
async fn a_decline_has_reasons_and_cannot_go_to_the_banks() {
    let client = merchant("A-04", "enforcement", true).await;
    let s = signed(&client).await;
    let d = &s.decision;
    assert_eq!(d.view.outcome, Outcome::Decline);
    assert!(
        (1..=4).contains(&d.view.reasons.len()),
        "{:?}",
        d.view.reasons
    );
    assert_eq!(d.view.reasons[0].code, "ENFORCEMENT_LIST");
    assert!(
        d.view
            .reasons
            .iter()
            .all(|r| !r.text_zh.is_empty() && !r.fix_zh.is_empty())
    );
    assert!(d.retry_after.is_some() && d.valid_until.is_none());
    let (status, e) = error_of(accept(&client, &d.view.decision_id, None).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(e.code, "not_an_offer");
}

#[tokio::test]
async fn another_merchants_decision_application_and_consent_are_not_found() {
    let a = merchant("A-01", "clean", true).await;
    let s = signed(&a).await;
    let app: ApplicationView = ok_json(accept(&a, &s.decision.view.decision_id, None).await).await;
    let b = merchant("A-02", "clean", true).await;

    let gets = [
        format!("/api/m/applications/{}", app.id),
        format!("/api/m/decisions/{}", s.decision.view.decision_id),
        format!("/api/m/consents/{}", s.consent.id),
        format!("/api/m/consents/{}/reads", s.consent.id),
    ];
    for path in &gets {
        let (status, e) = error_of(b.get(e2e::url(path)).send().await.unwrap()).await;
        assert_eq!(
            (status, e.code.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
        let _: Value = ok_json(a.get(e2e::url(path)).send().await.unwrap()).await;
    }
    let (status, _) = error_of(accept(&b, &s.decision.view.decision_id, None).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = b
        .post(e2e::url(&format!(
            "/api/m/consents/{}/withdraw",
            s.consent.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // B's own lists do not show A's things.
    let (status, _) = error_of(b.get(e2e::url("/api/m/decision")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(b.get(e2e::url("/api/m/application")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // B cannot decide under A's consent: refused like no consent at all.
    let res = b
        .post(e2e::url("/api/m/decisions"))
        .json(&json!({ "consent_id": s.consent.id }))
        .send()
        .await
        .unwrap();
    let (status, e) = error_of(res).await;
    assert_eq!(
        (status, e.code.as_str()),
        (StatusCode::FORBIDDEN, "consent_required")
    );
    // A's consent is still in force.
    let c: ConsentView = ok_json(
        a.get(e2e::url(&format!("/api/m/consents/{}", s.consent.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(c.status, "active");
}

#[tokio::test]
async fn after_withdrawal_nothing_is_read_and_the_banks_lose_sight() {
    let client = merchant("A-01", "clean", true).await;
    let s = signed(&client).await;
    let app: ApplicationView =
        ok_json(accept(&client, &s.decision.view.decision_id, None).await).await;
    let reads_path = format!("/api/m/consents/{}/reads", s.consent.id);
    let before: Vec<DataRead> =
        ok_json(client.get(e2e::url(&reads_path)).send().await.unwrap()).await;
    assert_eq!(before.len(), 10, "one read per source");
    assert!(before.iter().all(|r| r.result != "denied"));

    let withdraw = || {
        client
            .post(e2e::url(&format!(
                "/api/m/consents/{}/withdraw",
                s.consent.id
            )))
            .send()
    };
    let w: ConsentView = ok_json(withdraw().await.unwrap()).await;
    assert_eq!(w.status, "withdrawn");
    let at = w.withdrawn_at.clone().expect("withdrawn_at");
    // A double tap changes nothing.
    let again: ConsentView = ok_json(withdraw().await.unwrap()).await;
    assert_eq!(again.withdrawn_at.as_deref(), Some(at.as_str()));

    let after: ApplicationView = ok_json(
        client
            .get(e2e::url(&format!("/api/m/applications/{}", app.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(after.status, "withdrawn");
    assert!(after.entries.iter().all(|e| e.status == "withdrawn"));

    // The next read under the consent is refused, and logged as refused.
    let res = client
        .post(e2e::url("/api/m/decisions"))
        .json(&json!({ "consent_id": s.consent.id }))
        .send()
        .await
        .unwrap();
    let (status, e) = error_of(res).await;
    assert_eq!(
        (status, e.code.as_str()),
        (StatusCode::FORBIDDEN, "consent_withdrawn")
    );
    let log: Vec<DataRead> = ok_json(client.get(e2e::url(&reads_path)).send().await.unwrap()).await;
    assert_eq!(log.len(), 20);
    assert_eq!(log.iter().filter(|r| r.result == "denied").count(), 10);
    // Nor can the withdrawn consent's offer go back to the banks.
    let res = accept(&client, &s.decision.view.decision_id, None).await;
    assert!(
        res.status() == StatusCode::OK || res.status() == StatusCode::CONFLICT,
        "{}",
        res.status()
    );
    let still: ApplicationView = ok_json(
        client
            .get(e2e::url(&format!("/api/m/applications/{}", app.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(still.status, "withdrawn");
    assert_eq!(next_step(&client).await, NextStep::Authorize);
}
