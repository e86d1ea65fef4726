//! The merchant's whole path in a phone-sized Chromium with WeChat's user
//! agent: scan a demo stall's code, log in with the SMS code from the
//! development outbox, fill in the profile, sign the letter, see the result,
//! accept, withdraw. Every screen is saved as a screenshot. The decline
//! path runs on the MVP build, as an older webview gets it.
//!
//! Demo stalls (see `backend/src/credit/mod.rs`, `DEMO_CASES`): B-01's
//! holder has clean records (an offer); B-02's has tax credit grade D (a
//! decline). Each stall's licence code is prefilled, so the merchant types
//! only mobile, code, name, resident ID and years in business.

use e2e::browser::{phone, screenshot, wait_for_app, wait_for_text};
use fantoccini::{Client, Locator};
use serde_json::Value;

fn random_mobile() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!(
        "197{:08}",
        (n.wrapping_mul(6_364_136_223_846_793_005) >> 20) % 100_000_000
    )
}

/// The newest code sent to `mobile`, waiting for it to reach the outbox.
async fn sms_code(mobile: &str) -> String {
    for _ in 0..100 {
        let text =
            std::fs::read_to_string(e2e::data_dir().join("sms-outbox.jsonl")).unwrap_or_default();
        let code = text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["mobile"] == mobile)
            .filter_map(|v| v["code"].as_str().map(str::to_owned))
            .next();
        if let Some(c) = code {
            return c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no SMS to {mobile} in the outbox");
}

fn resident_id(first17: &str) -> String {
    let check = shared::ids::resident_id_check_char(first17).unwrap();
    format!("{first17}{check}")
}

/// Types into a field, counting what the merchant had to type.
struct Typist<'a> {
    client: &'a Client,
    fields: Vec<String>,
}

impl Typist<'_> {
    async fn type_into(&mut self, css: &str, text: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.send_keys(text).await.unwrap();
        if !self.fields.iter().any(|f| f == css) {
            self.fields.push(css.to_owned());
        }
    }
}

async fn click(client: &Client, css: &str) {
    wait_for_text(client, css, "").await;
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Scan → "this is my stall" → login with a new mobile; ends on the
/// profile page. `shots` names the screenshots, if any are wanted; `query`
/// is added to the stall URL (`?wasm=mvp` forces the MVP build).
async fn scan_and_log_in(
    client: &Client,
    t: &mut Typist<'_>,
    stall: &str,
    shots: Option<&str>,
    query: &str,
) {
    client
        .goto(&format!("{}{query}", e2e::stall_url(stall)))
        .await
        .unwrap();
    // The server's card is there at once; the buttons work once the app
    // has taken it over.
    wait_for_app(client).await;
    wait_for_text(client, "#code-stall", stall).await;
    if let Some(shots) = shots {
        screenshot(client, &format!("{shots}-01-scan")).await;
    }
    click(client, "#confirm-stall").await;

    wait_for_text(client, "#login-page", "").await;
    let mobile = random_mobile();
    t.type_into("#mobile", &mobile).await;
    click(client, "#send-otp").await;
    wait_for_text(client, "#otp-sent", "").await;
    let code = sms_code(&mobile).await;
    t.type_into("#otp", &code).await;
    if let Some(shots) = shots {
        screenshot(client, &format!("{shots}-02-login")).await;
    }
    click(client, "#login").await;

    wait_for_text(client, "#profile-page", "").await;
}

/// Scan → "this is my stall" → login → profile; ends on the letter.
async fn scan_to_letter(
    client: &Client,
    t: &mut Typist<'_>,
    stall: &str,
    shots: &str,
    first17: &str,
    query: &str,
) {
    scan_and_log_in(client, t, stall, Some(shots), query).await;
    // The stall's licence code is prefilled: wait for it before typing.
    for _ in 0..150 {
        let v = client
            .execute(
                "const e = document.querySelector('#uscc'); return e ? e.value : '';",
                vec![],
            )
            .await
            .unwrap();
        if v.as_str().is_some_and(|v| v.len() == 18) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    t.type_into("#name", "王建国").await;
    t.type_into("#resident-id", &resident_id(first17)).await;
    t.type_into("#years", "8").await;
    screenshot(client, &format!("{shots}-03-profile")).await;
    click(client, "#save-profile").await;

    wait_for_text(client, "#letter-text", "授权书").await;
    screenshot(client, &format!("{shots}-04-letter")).await;
}

async fn scroll_to(client: &Client, css: &str) {
    client
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![Value::String(css.to_owned())],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_clean_stall_holder_gets_an_offer_accepts_and_can_withdraw() {
    let client = phone().await;
    let mut t = Typist {
        client: &client,
        fields: Vec::new(),
    };
    scan_to_letter(&client, &mut t, "B-01", "offer", "32028219750312001", "").await;

    // Signing with no bank ticked is refused on the spot.
    scroll_to(&client, "#sign-consent").await;
    click(&client, "#sign-consent").await;
    wait_for_text(&client, "#bank-ids-error", "银行").await;
    screenshot(&client, "offer-05-no-bank").await;
    click(&client, "#bank-0").await;
    click(&client, "#bank-1").await;
    screenshot(&client, "offer-06-banks").await;
    click(&client, "#sign-consent").await;

    wait_for_text(&client, "#decision-outcome h2", "恭喜").await;
    let outcome = client
        .find(Locator::Css("#decision-outcome"))
        .await
        .unwrap()
        .attr("data-outcome")
        .await
        .unwrap();
    assert_eq!(outcome.as_deref(), Some("offer"));
    let amount = wait_for_text(&client, "#offer-amount", "¥").await;
    assert!(amount.len() > 2, "{amount}");
    wait_for_text(&client, "#offer-valid-until", "有效期至").await;
    screenshot(&client, "offer-07-decision").await;
    assert!(
        t.fields.len() <= 5,
        "typed fields from scan to offer: {:?}",
        t.fields
    );
    scroll_to(&client, "#accept-offer").await;
    screenshot(&client, "offer-08-decision-banks").await;
    click(&client, "#accept-offer").await;

    wait_for_text(&client, "#application-status", "已推荐给 2 家银行").await;
    screenshot(&client, "offer-09-application").await;

    click(&client, "#my-consents").await;
    wait_for_text(&client, "#consent-0", "有效").await;
    screenshot(&client, "offer-10-consents").await;
    // Every read made under the letter is there for the merchant to see.
    click(&client, "#show-reads-0").await;
    wait_for_text(&client, "#reads-0", "纳税信用等级").await;
    let reads = client.find_all(Locator::Css("#reads-0 li")).await.unwrap();
    assert_eq!(reads.len(), 10, "one read per data category");
    scroll_to(&client, "#reads-0").await;
    screenshot(&client, "offer-11-reads").await;
    click(&client, "#withdraw-0").await;
    wait_for_text(&client, "#withdraw-confirm", "确定撤回").await;
    screenshot(&client, "offer-12-withdraw-confirm").await;
    click(&client, "#confirm-withdraw").await;
    wait_for_text(&client, "#withdrawn-notice", "已撤回").await;
    wait_for_text(&client, "#consent-0", "已撤回").await;
    scroll_to(&client, "#consents").await;
    screenshot(&client, "offer-13-withdrawn").await;

    client.goto(&e2e::url("/application")).await.unwrap();
    wait_for_text(&client, "#application-status", "授权已撤回").await;
    screenshot(&client, "offer-14-application-withdrawn").await;
    e2e::browser::close(client).await;
}

/// This whole flow runs on the MVP build (forced with `?wasm=mvp`, as the
/// loader picks it for a webview that fails its feature test): what a
/// merchant on an older iPhone gets.
#[tokio::test]
async fn a_holder_with_tax_grade_d_sees_a_decline_with_reasons() {
    let client = phone().await;
    let mut t = Typist {
        client: &client,
        fields: Vec::new(),
    };
    scan_to_letter(
        &client,
        &mut t,
        "B-02",
        "decline",
        "32028219820704002",
        "?wasm=mvp",
    )
    .await;
    // Only the MVP bundle was fetched and run.
    let loaded = client
        .execute(
            "return [document.documentElement.dataset.wasmBuild || '',
                     performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)
                         .filter(p => p.endsWith('.wasm'))];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded[0], "mvp", "{loaded}");
    let wasm = loaded[1].as_array().unwrap();
    assert!(
        !wasm.is_empty()
            && wasm
                .iter()
                .all(|p| p.as_str().unwrap().starts_with("/mvp/")),
        "{loaded}"
    );
    click(&client, "#bank-0").await;
    screenshot(&client, "decline-05-bank").await;
    click(&client, "#sign-consent").await;

    wait_for_text(&client, "#decision-outcome h2", "暂时未能").await;
    let reasons = client
        .find_all(Locator::Css("#decision-reasons li"))
        .await
        .unwrap();
    assert!(
        (1..=4).contains(&reasons.len()),
        "{} reasons",
        reasons.len()
    );
    let first = reasons[0].attr("data-code").await.unwrap();
    assert_eq!(first.as_deref(), Some("TAX_GRADE_D"));
    wait_for_text(&client, "#decision-reasons", "纳税").await;
    screenshot(&client, "decline-06-decision").await;
    scroll_to(&client, "#retry-after").await;
    wait_for_text(&client, "#retry-after", "重新评估").await;
    assert!(
        client.find(Locator::Css("#accept-offer")).await.is_err(),
        "a decline cannot be accepted"
    );
    screenshot(&client, "decline-07-retry").await;
    assert!(t.fields.len() <= 5, "{:?}", t.fields);
    e2e::browser::close(client).await;
}

/// Scan A-02 → log in → the profile form, ready to type; from here on the
/// page's profile saves are counted (`profile_saves`).
async fn to_profile_counting_saves(client: &Client, t: &mut Typist<'_>) {
    scan_and_log_in(client, t, "A-02", None, "").await;
    wait_for_text(client, "#save-profile", "").await;

    // Count every profile save the page sends from here on.
    client
        .execute(
            r#"window.__profileSaves = 0;
               const original = window.fetch;
               window.fetch = function (input, init) {
                   const method = ((init && init.method) || (input && input.method) || 'GET').toUpperCase();
                   const url = (input && input.url) || String(input);
                   if (method === 'PUT' && url.includes('/api/m/profile')) window.__profileSaves++;
                   return original.apply(this, arguments);
               };"#,
            vec![],
        )
        .await
        .unwrap();
}

async fn profile_saves(client: &Client) -> Option<u64> {
    client
        .execute("return window.__profileSaves;", vec![])
        .await
        .unwrap()
        .as_u64()
}

/// Whether the server holds a complete profile for the logged-in merchant.
async fn profile_complete(client: &Client) -> Value {
    let profile = client
        .execute_async(
            "const done = arguments[0];
             fetch('/api/m/profile').then(r => r.json()).then(done, e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    profile["complete"].clone()
}

#[tokio::test]
async fn a_bad_resident_id_is_refused_in_the_browser_before_any_request() {
    let client = phone().await;
    let mut t = Typist {
        client: &client,
        fields: Vec::new(),
    };
    to_profile_counting_saves(&client, &mut t).await;
    t.type_into("#name", "李秀英").await;
    // A correct number with its last digit changed: the check digit fails.
    let good = resident_id("32028219690215002");
    let last = good.chars().last().unwrap();
    let bad = format!("{}{}", &good[..17], if last == '1' { '2' } else { '1' });
    t.type_into("#resident-id", &bad).await;
    t.type_into("#years", "5").await;
    click(&client, "#save-profile").await;
    let msg = wait_for_text(&client, "#resident-id-error", "").await;
    assert!(!msg.is_empty());
    screenshot(&client, "profile-bad-resident-id").await;

    assert_eq!(
        profile_saves(&client).await,
        Some(0),
        "no save request was sent"
    );
    // And the server agrees: the profile is still incomplete.
    assert_eq!(profile_complete(&client).await, Value::Bool(false));
    e2e::browser::close(client).await;
}

/// The form runs the server's own check (`shared::merchant::validate_profile`):
/// what it shows next to each field is, word for word, what that function
/// says, before any request. A name with a digit passed the browser's
/// earlier, looser check and reached the server.
#[tokio::test]
async fn the_profile_form_shows_the_servers_messages_before_any_request() {
    use shared::merchant::{ProfileInput, validate_profile};

    let client = phone().await;
    let mut t = Typist {
        client: &client,
        fields: Vec::new(),
    };
    to_profile_counting_saves(&client, &mut t).await;
    let (name, years) = ("李秀2", "81");
    t.type_into("#name", name).await;
    t.type_into("#resident-id", &resident_id("32028219690215002"))
        .await;
    t.type_into("#years", years).await;
    click(&client, "#save-profile").await;

    let input = ProfileInput {
        name: name.into(),
        resident_id: resident_id("32028219690215002").into(),
        uscc: "914403001922038216".into(),
        trade: "石材".into(),
        years_in_business: years.into(),
    };
    let today = shared::ids::CivilDate::new(2026, 1, 1).unwrap();
    let Err(expected) = validate_profile(&input, today) else {
        panic!("the shared check passed a name with a digit");
    };
    let fields: Vec<_> = expected.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["name", "years_in_business"]);
    for (f, id) in expected.iter().zip(["#name-error", "#years-error"]) {
        let shown = wait_for_text(&client, id, &f.message_zh).await;
        assert_eq!(shown, f.message_zh, "{id}");
    }
    screenshot(&client, "profile-server-messages").await;
    assert_eq!(
        profile_saves(&client).await,
        Some(0),
        "no save request was sent"
    );
    assert_eq!(profile_complete(&client).await, Value::Bool(false));
    e2e::browser::close(client).await;
}
