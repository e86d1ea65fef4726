//! Who may get a business's credit assessment, tried as an attacker would:
//! only the business's registered operator, verified by the real-name check
//! against the phone they logged in with, under a consent that names that
//! business and that person. Each test makes its own businesses with the
//! server's `backend dev-business` (`e2e::merchant`), so tests may run in
//! parallel and again.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::consent::{ConsentView, DataRead, Letter, MerchantDecision, SignResponse, sha256_hex};
use shared::error::ApiErrorBody;
use shared::merchant::{CodeInfo, Profile};

use e2e::merchant::{business, business_with, log_in, ok, random_mobile, save_profile, verify};

async fn error_of(res: reqwest::Response) -> (StatusCode, ApiErrorBody) {
    let status = res.status();
    let body = res.text().await.unwrap();
    let parsed = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("not an error body ({e}): {status} {body}"));
    (status, parsed)
}

/// Every read of `uscc`'s data there has been, allowed or refused.
fn reads_of(uscc: &str) -> i64 {
    e2e::db_count(&format!(
        "SELECT COUNT(*) FROM access_log WHERE subject_uscc = '{uscc}'"
    ))
}

async fn sign(client: &reqwest::Client) -> reqwest::Response {
    let l: Letter = ok(client.get(e2e::url("/api/m/letter")).send().await.unwrap()).await;
    client
        .post(e2e::url("/api/m/consents"))
        .json(&json!({
            "letter_version": l.version,
            "text_sha256": sha256_hex(&l.text_zh),
            "bank_ids": [l.banks[0].bank_id],
            "language": "zh",
        }))
        .send()
        .await
        .unwrap()
}

async fn decide(client: &reqwest::Client, consent_id: &str) -> reqwest::Response {
    client
        .post(e2e::url("/api/m/decisions"))
        .json(&json!({ "consent_id": consent_id }))
        .send()
        .await
        .unwrap()
}

/// A resident ID number with a valid check character that no one has.
fn made_up_resident_id() -> String {
    let first17 = "32028219700101999";
    let check = shared::ids::resident_id_check_char(first17).unwrap();
    format!("{first17}{check}")
}

#[tokio::test]
async fn two_phones_one_business_only_its_registered_operator_gets_through() {
    let code = e2e::stall_code("A-05");
    let owner = business("clean", &random_mobile());
    let reads_before = reads_of(&owner.uscc);
    assert_eq!(reads_before, 0, "a fresh business has never been read");

    // Phone 2, a stranger who knows the business's licence code.
    let stranger = e2e::client();
    let stranger_mobile = random_mobile();
    let me = log_in(&stranger, &stranger_mobile, Some(&code)).await;
    // (a) The owner's name with a made-up number that passes the checksum.
    let (status, e) = error_of(verify(&stranger, &owner.name, &made_up_resident_id()).await).await;
    assert_eq!(
        (status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "real_name_no_match")
    );
    // (b) The owner's real name and ID number, leaked: not this phone's owner.
    let (status, e) = error_of(verify(&stranger, &owner.name, &owner.resident_id).await).await;
    assert_eq!(
        (status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "real_name_no_match")
    );
    assert!(e.message_zh.contains("手机号") && e.message_en.contains("mobile"));
    let p: Profile = ok(stranger
        .get(e2e::url("/api/m/profile"))
        .send()
        .await
        .unwrap())
    .await;
    assert!(
        !p.identity_verified && p.resident_id_masked.is_none(),
        "nothing stored"
    );
    // Unverified, the stranger can name no business, sign nothing, read nothing.
    let (status, e) = error_of(save_profile(&stranger, &owner.uscc, Some(true)).await).await;
    assert_eq!(
        (status, e.code.as_str()),
        (StatusCode::CONFLICT, "identity_unverified")
    );
    let (status, _) = error_of(sign(&stranger).await).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // (c) The stranger's own identity, verified, then the owner's licence code.
    let own = business_with(&["--archetype", "clean", "--mobile", &stranger_mobile]);
    let p: Profile = ok(verify(&stranger, &own.name, &own.resident_id).await).await;
    assert!(p.identity_verified);
    assert_eq!(
        p.businesses
            .iter()
            .map(|b| b.uscc.as_str())
            .collect::<Vec<_>>(),
        [own.uscc.as_str()],
        "the registry lists the stranger's own business only"
    );
    let (status, e) = error_of(save_profile(&stranger, &owner.uscc, Some(true)).await).await;
    assert_eq!(
        (status, e.code.as_str()),
        (StatusCode::FORBIDDEN, "operator_mismatch")
    );
    assert_eq!(
        e.message_zh,
        "该营业执照登记的经营者与您的身份不一致，如需代办请联系市场管理处"
    );
    assert!(!e.message_en.is_empty());
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'identity.operator_mismatch' \
             AND actor = 'merchant:{}' AND detail LIKE '%{}%'",
            me.merchant_id, owner.uscc
        )),
        1
    );
    let p: Profile = ok(stranger
        .get(e2e::url("/api/m/profile"))
        .send()
        .await
        .unwrap())
    .await;
    // Nothing saved: the form offers the stranger's own business, no other.
    assert_eq!(
        (p.uscc.as_deref(), p.complete),
        (Some(own.uscc.as_str()), false)
    );
    let (status, e) = error_of(sign(&stranger).await).await;
    assert_eq!(
        (status, e.code.as_str()),
        (StatusCode::CONFLICT, "profile_incomplete")
    );
    let (status, _) = error_of(decide(&stranger, "cns_anything").await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        reads_of(&owner.uscc),
        0,
        "not one read of the owner's business"
    );
    // The stall holder's business was not touched either.
    let holder_uscc = e2e::db_text(
        "SELECT s.uscc FROM stalls s JOIN markets m ON m.id = s.market_id \
         WHERE m.name = '万石石材市场' AND s.number = 'A-05'",
    );
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE subject_uscc = '{holder_uscc}' \
             AND merchant_id = '{}'",
            me.merchant_id
        )),
        0
    );

    // Phone 1, the registered operator: through, and the reads are theirs.
    let (client, _) = (e2e::client(), ());
    let owner_me = log_in(&client, &owner.mobile, Some(&code)).await;
    let p: Profile = ok(verify(&client, &owner.name, &owner.resident_id).await).await;
    assert_eq!(
        p.uscc.as_deref(),
        Some(owner.uscc.as_str()),
        "prefilled from the registry"
    );
    let _: Profile = ok(save_profile(&client, &owner.uscc, Some(true)).await).await;
    let signed: SignResponse = ok(sign(&client).await).await;
    assert_eq!(
        signed.consent.subject_uscc.as_deref(),
        Some(owner.uscc.as_str())
    );
    assert_eq!(reads_of(&owner.uscc), 10);
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE subject_uscc = '{}' AND merchant_id = '{}' \
             AND result <> 'denied'",
            owner.uscc, owner_me.merchant_id
        )),
        10
    );
}

#[tokio::test]
async fn a_consent_covers_one_subject_and_is_never_reused_for_another() {
    // One person, two businesses.
    let mobile = random_mobile();
    let first = business("clean", &mobile);
    let second = business_with(&[
        "--archetype",
        "clean",
        "--mobile",
        &mobile,
        "--same-operator-as",
        &first.uscc,
    ]);
    assert_eq!(
        (&second.name, &second.resident_id),
        (&first.name, &first.resident_id)
    );
    let client = e2e::client();
    log_in(&client, &mobile, None).await;
    let p: Profile = ok(verify(&client, &first.name, &first.resident_id).await).await;
    let mut listed: Vec<&str> = p.businesses.iter().map(|b| b.uscc.as_str()).collect();
    listed.sort();
    let mut both = [first.uscc.as_str(), second.uscc.as_str()];
    both.sort();
    assert_eq!(listed, both);
    assert_eq!(p.uscc, None, "two businesses: the merchant picks");

    let _: Profile = ok(save_profile(&client, &first.uscc, None).await).await;
    let signed: SignResponse = ok(sign(&client).await).await;
    assert_eq!(
        signed.consent.subject_uscc.as_deref(),
        Some(first.uscc.as_str())
    );
    let first_decision = signed.decision.view.decision_id.clone();
    assert_eq!(reads_of(&first.uscc), 10);

    // The profile now names the second business; the old consent is for
    // the first only.
    let _: Profile = ok(save_profile(&client, &second.uscc, None).await).await;
    let (status, e) = error_of(decide(&client, &signed.consent.id).await).await;
    assert_eq!(
        (status, e.code.as_str()),
        (StatusCode::CONFLICT, "consent_subject_changed")
    );
    assert_eq!(
        reads_of(&second.uscc),
        0,
        "the old consent read nothing of the new subject"
    );
    assert_eq!(reads_of(&first.uscc), 10, "nor of the old one");
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'decision.refused' AND object_id = '{}'",
            signed.consent.id
        )),
        1
    );
    // The consent still says what it covers, word for word.
    let c: ConsentView = ok(client
        .get(e2e::url(&format!("/api/m/consents/{}", signed.consent.id)))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(c.subject_uscc.as_deref(), Some(first.uscc.as_str()));

    // A new consent for the second business reads the second business only.
    let again: SignResponse = ok(sign(&client).await).await;
    assert_eq!(
        again.consent.subject_uscc.as_deref(),
        Some(second.uscc.as_str())
    );
    assert_eq!(reads_of(&second.uscc), 10);
    let reads: Vec<DataRead> = ok(client
        .get(e2e::url(&format!(
            "/api/m/consents/{}/reads",
            again.consent.id
        )))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(reads.len(), 10);
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE consent_id = '{}' AND subject_uscc <> '{}'",
            again.consent.id, second.uscc
        )),
        0
    );
    // The first decision still replays identical.
    let out = e2e::backend(&["replay", &first_decision], &[]);
    assert!(out.contains("identical"), "{out}");
    let d: MerchantDecision = ok(client
        .get(e2e::url(&format!("/api/m/decisions/{first_decision}")))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(d.consent_id.as_deref(), Some(signed.consent.id.as_str()));
}

#[tokio::test]
async fn a_stall_scan_reveals_nothing_about_its_holder() {
    let holder = e2e::db_text(
        "SELECT s.holder_name || '|' || s.uscc || '|' || s.holder_mobile FROM stalls s \
         JOIN markets m ON m.id = s.market_id WHERE m.name = '万石石材市场' AND s.number = 'A-06'",
    );
    let parts: Vec<&str> = holder.split('|').collect();
    let (name, uscc, mobile) = (parts[0], parts[1], parts[2]);
    let surname: String = name.chars().take(1).collect();
    let hidden = |text: &str, what: &str| {
        for secret in [name, uscc, mobile, &format!("{surname}*")] {
            assert!(!text.contains(secret), "{what} shows {secret:?}");
        }
    };
    let code = e2e::stall_code("A-06");
    let api = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden(&api, "the code's API answer");
    let info: CodeInfo = serde_json::from_str(&api).unwrap();
    assert_eq!(info.stall_number.as_deref(), Some("A-06"));
    let page = e2e::client()
        .get(e2e::url(&format!("/S/{code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("A-06"));
    hidden(&page, "the stall page");

    // Logged in from the code, not verified: the profile, the letter and
    // "me" carry nothing of the holder either.
    let client = e2e::client();
    log_in(&client, &random_mobile(), Some(&code)).await;
    for path in ["/api/m/profile", "/api/m/letter", "/api/m/me"] {
        let text = client
            .get(e2e::url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        hidden(&text, path);
    }
    let p: Profile = ok(client.get(e2e::url("/api/m/profile")).send().await.unwrap()).await;
    assert_eq!(p.stall_number.as_deref(), Some("A-06"));
    assert!(p.market_name.is_some());
    let l: Value = ok(client.get(e2e::url("/api/m/letter")).send().await.unwrap()).await;
    assert!(l["subject"].is_null());
}

/// The demo's stall holder, as the README tells a tester to log in, gets
/// through with the name, number and mobile the README gives.
#[tokio::test]
async fn the_demo_holder_of_a_stall_is_its_registered_operator() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("| C-01 |"))
        .expect("the README names C-01's holder");
    let cells: Vec<&str> = line
        .split('|')
        .map(|c| c.trim().trim_matches('`'))
        .collect();
    let (name, mobile, resident_id) = (cells[2], cells[3], cells[4]);
    let holder = e2e::db_text(
        "SELECT s.holder_mobile || '|' || s.uscc FROM stalls s JOIN markets m ON m.id = s.market_id \
         WHERE m.name = '万石石材市场' AND s.number = 'C-01'",
    );
    let (stall_mobile, uscc) = holder.split_once('|').unwrap();
    assert_eq!(mobile, stall_mobile);
    // C-01: the browser suite walks B-01's and B-02's holders from the start.
    let client = e2e::client();
    log_in(&client, mobile, Some(&e2e::stall_code("C-01"))).await;
    let p: Profile = ok(verify(&client, name, resident_id).await).await;
    assert!(p.identity_verified);
    assert_eq!(p.uscc.as_deref(), Some(uscc));
}
