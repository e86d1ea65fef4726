//! The merchant's whole path in a phone-sized Chromium with WeChat's user
//! agent: scan a demo stall's code, log in with the SMS code from the
//! development outbox, pass the real-name check, pick the business, sign
//! the letter, see the result, accept, withdraw; a verified person trying
//! another's business licence, to its error screen; and a business without a
//! stall, from the home page to a decision. Every screen is saved as a
//! screenshot. The decline path runs on the MVP build, as an older webview
//! gets it.
//!
//! Demo stalls (see `backend/src/seed.rs`, `DEMO_CASES`): B-01's holder has
//! clean records (an offer); B-02's has tax credit grade D (a decline). Each
//! holder is in the development real-name roster with the stall's mobile
//! number; the registry lists one business for them, so the merchant types
//! only mobile, code, name and resident ID.

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

/// Who a demo stall's holder is: name, mobile and resident ID, from the
/// demo's stall record and the development real-name roster beside it.
fn demo_holder(stall: &str) -> (String, String, String) {
    let row = e2e::db_text(&format!(
        "SELECT s.holder_name || '|' || s.holder_mobile FROM stalls s \
         JOIN markets m ON m.id = s.market_id \
         WHERE m.name = '万石石材市场' AND s.number = '{stall}'"
    ));
    let (name, mobile) = row.split_once('|').unwrap();
    let roster = std::fs::read_to_string(e2e::data_dir().join("real-name-roster.csv")).unwrap();
    let id = roster
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells.len() == 3 && cells[0] == name && cells[2] == mobile)
                .then(|| cells[1].to_owned())
        })
        .next()
        .expect("the holder in the roster");
    (name.to_owned(), mobile.to_owned(), id)
}

/// Types into a field, counting what the merchant had to type.
struct Typist<'a> {
    client: &'a Client,
    fields: Vec<String>,
}

impl Typist<'_> {
    async fn type_into(&mut self, css: &str, text: &str) {
        wait_for_text(self.client, css, "").await;
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

/// Login with `mobile` on the login page; ends on the profile page.
async fn log_in(client: &Client, t: &mut Typist<'_>, mobile: &str, shots: Option<&str>) {
    wait_for_text(client, "#login-page", "").await;
    t.type_into("#mobile", mobile).await;
    click(client, "#send-otp").await;
    wait_for_text(client, "#otp-sent", "").await;
    let code = sms_code(mobile).await;
    t.type_into("#otp", &code).await;
    if let Some(shots) = shots {
        screenshot(client, &format!("{shots}-02-login")).await;
    }
    click(client, "#login").await;
    wait_for_text(client, "#profile-page", "").await;
}

/// Scan → "this is my stall" → login with `mobile`; ends on the profile
/// page. `shots` names the screenshots, if any are wanted; `query` is added
/// to the stall URL (`?wasm=mvp` forces the MVP build).
async fn scan_and_log_in(
    client: &Client,
    t: &mut Typist<'_>,
    stall: &str,
    mobile: &str,
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
    log_in(client, t, mobile, shots).await;
}

/// The real-name step: name and ID typed; ends on the business step.
async fn verify_identity(client: &Client, t: &mut Typist<'_>, name: &str, id: &str, shots: &str) {
    wait_for_text(client, "#identity-step", "实名认证").await;
    t.type_into("#name", name).await;
    t.type_into("#resident-id", id).await;
    screenshot(client, &format!("{shots}-03-identity")).await;
    click(client, "#verify-identity").await;
    wait_for_text(client, "#identity-verified", "实名认证通过").await;
}

/// Scan → "this is my stall" → login → real-name check → the business (the
/// one the registry lists, prefilled) → the letter.
async fn scan_to_letter(
    client: &Client,
    t: &mut Typist<'_>,
    stall: &str,
    shots: &str,
    query: &str,
) {
    let (name, mobile, id) = demo_holder(stall);
    scan_and_log_in(client, t, stall, &mobile, Some(shots), query).await;
    verify_identity(client, t, &name, &id, shots).await;
    let checked = client
        .execute(
            "const e = document.querySelector('#business-0'); return !!(e && e.checked);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        checked,
        Value::Bool(true),
        "the registry's business is chosen"
    );
    wait_for_text(client, "#stall-question", stall).await;
    screenshot(client, &format!("{shots}-04-verified")).await;
    click(client, "#save-profile").await;

    wait_for_text(client, "#letter-text", "授权书").await;
    wait_for_text(client, "#letter-subject", "").await;
    screenshot(client, &format!("{shots}-05-letter")).await;
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
    scan_to_letter(&client, &mut t, "B-01", "offer", "").await;

    // Signing with no bank ticked is refused on the spot.
    scroll_to(&client, "#sign-consent").await;
    click(&client, "#sign-consent").await;
    wait_for_text(&client, "#bank-ids-error", "银行").await;
    screenshot(&client, "offer-06-no-bank").await;
    click(&client, "#bank-0").await;
    click(&client, "#bank-1").await;
    screenshot(&client, "offer-07-banks").await;
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
    screenshot(&client, "offer-08-decision").await;
    assert!(
        t.fields.len() <= 5,
        "typed fields from scan to offer: {:?}",
        t.fields
    );
    scroll_to(&client, "#accept-offer").await;
    screenshot(&client, "offer-09-decision-banks").await;
    click(&client, "#accept-offer").await;

    wait_for_text(&client, "#application-status", "已推荐给 2 家银行").await;
    screenshot(&client, "offer-10-application").await;

    click(&client, "#my-consents").await;
    wait_for_text(&client, "#consent-0", "有效").await;
    screenshot(&client, "offer-11-consents").await;
    // Every read made under the letter is there for the merchant to see.
    click(&client, "#show-reads-0").await;
    wait_for_text(&client, "#reads-0", "纳税信用等级").await;
    let reads = client.find_all(Locator::Css("#reads-0 li")).await.unwrap();
    assert_eq!(reads.len(), 10, "one read per data category");
    scroll_to(&client, "#reads-0").await;
    screenshot(&client, "offer-12-reads").await;
    click(&client, "#withdraw-0").await;
    wait_for_text(&client, "#withdraw-confirm", "确定撤回").await;
    screenshot(&client, "offer-13-withdraw-confirm").await;
    click(&client, "#confirm-withdraw").await;
    wait_for_text(&client, "#withdrawn-notice", "已撤回").await;
    wait_for_text(&client, "#consent-0", "已撤回").await;
    scroll_to(&client, "#consents").await;
    screenshot(&client, "offer-14-withdrawn").await;

    client.goto(&e2e::url("/application")).await.unwrap();
    wait_for_text(&client, "#application-status", "授权已撤回").await;
    screenshot(&client, "offer-15-application-withdrawn").await;
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
    scan_to_letter(&client, &mut t, "B-02", "decline", "?wasm=mvp").await;
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
    screenshot(&client, "decline-06-bank").await;
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
    screenshot(&client, "decline-07-decision").await;
    scroll_to(&client, "#retry-after").await;
    wait_for_text(&client, "#retry-after", "重新评估").await;
    assert!(
        client.find(Locator::Css("#accept-offer")).await.is_err(),
        "a decline cannot be accepted"
    );
    screenshot(&client, "decline-08-retry").await;
    assert!(t.fields.len() <= 5, "{:?}", t.fields);
    e2e::browser::close(client).await;
}

/// A verified person types another business's licence code: the error
/// screen says whose it is not and what to do, and nothing is read.
#[tokio::test]
async fn a_verified_person_trying_anothers_licence_reaches_the_mismatch_screen() {
    let client = phone().await;
    let mut t = Typist {
        client: &client,
        fields: Vec::new(),
    };
    let me = e2e::merchant::business("clean", &random_mobile());
    let theirs = e2e::db_text(
        "SELECT s.uscc FROM stalls s JOIN markets m ON m.id = s.market_id \
         WHERE m.name = '万石石材市场' AND s.number = 'B-03'",
    );
    scan_and_log_in(&client, &mut t, "B-03", &me.mobile, Some("mismatch"), "").await;
    verify_identity(&client, &mut t, &me.name, &me.resident_id, "mismatch").await;
    click(&client, "#business-other").await;
    t.type_into("#uscc", &theirs).await;
    screenshot(&client, "mismatch-04-other-licence").await;
    click(&client, "#save-profile").await;

    let shown = wait_for_text(
        &client,
        "#identity-failed",
        "该营业执照登记的经营者与您的身份不一致",
    )
    .await;
    assert!(shown.contains("市场管理处"), "{shown}");
    let code = client
        .find(Locator::Css("#identity-failed"))
        .await
        .unwrap()
        .attr("data-code")
        .await
        .unwrap();
    assert_eq!(code.as_deref(), Some("operator_mismatch"));
    screenshot(&client, "mismatch-05-error").await;
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE subject_uscc = '{theirs}' AND merchant_id IN \
             (SELECT id FROM merchants WHERE mobile = '{}')",
            me.mobile
        )),
        0
    );
    // Back to the form: the person is still verified, their own business listed.
    click(&client, "#identity-back").await;
    wait_for_text(&client, "#identity-verified", "").await;
    e2e::browser::close(client).await;
}

/// An individual business without a stall: from the home page's "没有摊位？
/// 直接申请", the same login, real-name check and letter, to a decision.
#[tokio::test]
async fn a_business_without_a_stall_applies_from_the_home_page() {
    let client = phone().await;
    let mut t = Typist {
        client: &client,
        fields: Vec::new(),
    };
    let me = e2e::merchant::business("clean", &random_mobile());
    client.goto(&e2e::url("/")).await.unwrap();
    wait_for_text(&client, "#without-stall", "没有摊位").await;
    screenshot(&client, "nostall-01-home").await;
    click(&client, "#apply-without-stall").await;
    log_in(&client, &mut t, &me.mobile, Some("nostall")).await;
    verify_identity(&client, &mut t, &me.name, &me.resident_id, "nostall").await;
    // No stall: no market, no stall question.
    assert!(client.find(Locator::Css("#stall-question")).await.is_err());
    assert!(client.find(Locator::Css("#profile-stall")).await.is_err());
    screenshot(&client, "nostall-04-business").await;
    click(&client, "#save-profile").await;
    wait_for_text(&client, "#letter-subject", &me.uscc).await;
    screenshot(&client, "nostall-05-letter").await;
    scroll_to(&client, "#sign-consent").await;
    click(&client, "#bank-0").await;
    click(&client, "#sign-consent").await;
    wait_for_text(&client, "#decision-outcome h2", "").await;
    let outcome = client
        .find(Locator::Css("#decision-outcome"))
        .await
        .unwrap()
        .attr("data-outcome")
        .await
        .unwrap();
    assert_eq!(outcome.as_deref(), Some("offer"));
    screenshot(&client, "nostall-06-decision").await;
    assert!(t.fields.len() <= 4, "{:?}", t.fields);
    // The merchant is tied to no market.
    assert_eq!(
        e2e::db_text(&format!(
            "SELECT COALESCE(market_id, '-') || '|' || COALESCE(stall_id, '-') FROM merchants WHERE mobile = '{}'",
            me.mobile
        )),
        "-|-"
    );
    e2e::browser::close(client).await;
}

/// Scan A-02 → log in → the real-name form, ready to type; from here on the
/// page's identity checks are counted (`identity_checks`).
async fn to_identity_counting_checks(client: &Client, t: &mut Typist<'_>) {
    let mobile = random_mobile();
    scan_and_log_in(client, t, "A-02", &mobile, None, "").await;
    wait_for_text(client, "#verify-identity", "").await;

    // Count every identity check the page sends from here on.
    client
        .execute(
            r#"window.__identityChecks = 0;
               const original = window.fetch;
               window.fetch = function (input, init) {
                   const method = ((init && init.method) || (input && input.method) || 'GET').toUpperCase();
                   const url = (input && input.url) || String(input);
                   if (method === 'POST' && url.includes('/api/m/identity')) window.__identityChecks++;
                   return original.apply(this, arguments);
               };"#,
            vec![],
        )
        .await
        .unwrap();
}

async fn identity_checks(client: &Client) -> Option<u64> {
    client
        .execute("return window.__identityChecks;", vec![])
        .await
        .unwrap()
        .as_u64()
}

/// Whether the server holds a verified person for the logged-in merchant.
async fn identity_verified(client: &Client) -> Value {
    let profile = client
        .execute_async(
            "const done = arguments[0];
             fetch('/api/m/profile').then(r => r.json()).then(done, e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    profile["identity_verified"].clone()
}

#[tokio::test]
async fn a_bad_resident_id_is_refused_in_the_browser_before_any_request() {
    let client = phone().await;
    let mut t = Typist {
        client: &client,
        fields: Vec::new(),
    };
    to_identity_counting_checks(&client, &mut t).await;
    t.type_into("#name", "李秀英").await;
    // A correct number with its last digit changed: the check digit fails.
    let good = resident_id("32028219690215002");
    let last = good.chars().last().unwrap();
    let bad = format!("{}{}", &good[..17], if last == '1' { '2' } else { '1' });
    t.type_into("#resident-id", &bad).await;
    click(&client, "#verify-identity").await;
    let msg = wait_for_text(&client, "#resident-id-error", "").await;
    assert!(!msg.is_empty());
    screenshot(&client, "profile-bad-resident-id").await;

    assert_eq!(
        identity_checks(&client).await,
        Some(0),
        "no check request was sent"
    );
    // And the server agrees: no one is verified.
    assert_eq!(identity_verified(&client).await, Value::Bool(false));
    e2e::browser::close(client).await;
}

/// The form runs the server's own check (`shared::merchant::validate_identity`):
/// what it shows next to each field is, word for word, what that function
/// says, before any request.
#[tokio::test]
async fn the_identity_form_shows_the_servers_messages_before_any_request() {
    use shared::merchant::{IdentityInput, validate_identity};

    let client = phone().await;
    let mut t = Typist {
        client: &client,
        fields: Vec::new(),
    };
    to_identity_counting_checks(&client, &mut t).await;
    let (name, id) = ("李秀2", "3202821969");
    t.type_into("#name", name).await;
    t.type_into("#resident-id", id).await;
    click(&client, "#verify-identity").await;

    let input = IdentityInput {
        name: name.into(),
        resident_id: id.into(),
    };
    let today = shared::ids::CivilDate::new(2026, 1, 1).unwrap();
    let Err(expected) = validate_identity(&input, today) else {
        panic!("the shared check passed a name with a digit");
    };
    let fields: Vec<_> = expected.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["name", "resident_id"]);
    for (f, id) in expected.iter().zip(["#name-error", "#resident-id-error"]) {
        let shown = wait_for_text(&client, id, &f.message_zh).await;
        assert_eq!(shown, f.message_zh, "{id}");
    }
    screenshot(&client, "profile-server-messages").await;
    assert_eq!(
        identity_checks(&client).await,
        Some(0),
        "no check request was sent"
    );
    assert_eq!(identity_verified(&client).await, Value::Bool(false));
    e2e::browser::close(client).await;
}
