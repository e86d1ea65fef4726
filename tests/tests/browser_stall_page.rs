//! The stall page a QR code opens, in a phone-sized Chromium: without
//! JavaScript the server's card is the whole page; with it, the app takes
//! the same screen over with no spinner, no frame showing two cards or none,
//! and no second request for what the page already says, in the language
//! the merchant chose (the server's page carries both). A refused code
//! is counted once either way.

use e2e::browser::{cdp, phone, phone_without_javascript, screenshot, wait_for_app, wait_for_text};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// Watches the page from its first byte: whether a spinner was ever put in
/// (the app's loading screen or the boot screen), and, frame by frame,
/// whether two stall cards or a refusal page were on screen at once or the
/// content went missing after it had been shown.
const RECORDER: &str = r#"
window.__seen = { spinner: false, twice: false, gap: false, shown: false, titles: [] };
new MutationObserver(function () {
  if (document.getElementById('code-loading') || document.getElementById('boot')) {
    window.__seen.spinner = true;
  }
}).observe(document, { childList: true, subtree: true });
(function frame() {
  var visible = 0;
  document.querySelectorAll('#code-stall, #code-invalid-reason').forEach(function (e) {
    if (e.getClientRects().length > 0) visible++;
  });
  if (visible > 1) window.__seen.twice = true;
  var titles = window.__seen.titles;
  document.querySelectorAll('#scan h1').forEach(function (h) {
    var text = h.innerText.trim();
    if (h.getClientRects().length > 0 && text && titles[titles.length - 1] !== text) titles.push(text);
  });
  if (visible === 1) window.__seen.shown = true;
  else if (window.__seen.shown) window.__seen.gap = true;
  requestAnimationFrame(frame);
})();
"#;

async fn watched_phone() -> Client {
    let client = phone().await;
    cdp(
        &client,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": RECORDER }),
    )
    .await;
    client
}

async fn seen(client: &Client) -> Value {
    client
        .execute("return window.__seen;", vec![])
        .await
        .unwrap()
}

/// Requests the page made to the code API.
async fn code_requests(client: &Client) -> u64 {
    client
        .execute(
            "return performance.getEntriesByType('resource')
                 .filter(e => e.name.includes('/api/m/codes/')).length;",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

/// Refused scans so far, as counted per address and hour.
fn refused_rows() -> i64 {
    e2e::db_count(
        "SELECT COALESCE(SUM(count), 0) FROM refusal_counts WHERE action = 'stall_code.refused'",
    )
}

fn forged(code: &str) -> String {
    let last = code.chars().last().unwrap();
    format!(
        "{}{}",
        &code[..code.len() - 1],
        if last == 'A' { 'B' } else { 'A' }
    )
}

#[tokio::test]
async fn without_javascript_the_page_is_the_stall_card() {
    let client = phone_without_javascript().await;
    client.goto(&e2e::stall_url("A-07")).await.unwrap();
    wait_for_text(&client, "#code-stall", "A-07").await;
    wait_for_text(&client, "#scan h1", "这是我的摊位吗").await;
    wait_for_text(&client, "#code-market", "万石石材市场").await;
    let phone_link = client.find(Locator::Css("#code-phone")).await.unwrap();
    assert!(
        phone_link
            .attr("href")
            .await
            .unwrap()
            .is_some_and(|h| h.starts_with("tel:"))
    );
    // Nothing ran: the server's markup is still there, no spinner anywhere.
    assert!(client.find(Locator::Css("#ssr")).await.is_ok());
    assert!(client.find(Locator::Css("#boot")).await.is_err());
    assert!(client.find(Locator::Css("#app")).await.is_err());
    screenshot(&client, "stall-page-1-no-javascript").await;

    let before = refused_rows();
    let code = e2e::stall_code("A-07");
    client
        .goto(&e2e::url(&format!("/S/{}", forged(&code))))
        .await
        .unwrap();
    wait_for_text(&client, "#code-invalid h1", "此二维码无效").await;
    wait_for_text(&client, "#code-invalid", "This code is not valid").await;
    screenshot(&client, "stall-page-3-refused-no-javascript").await;
    assert_eq!(refused_rows(), before + 1);
    e2e::browser::close(client).await;
}

#[tokio::test]
async fn with_javascript_the_app_takes_the_card_over_without_a_flash() {
    let client = watched_phone().await;
    client.goto(&e2e::stall_url("A-07")).await.unwrap();
    wait_for_app(&client).await;
    wait_for_text(&client, "#code-stall", "A-07").await;
    // The app's own card, not the server's copy.
    assert!(client.find(Locator::Css("#app #code-stall")).await.is_ok());
    let seen = seen(&client).await;
    assert_eq!(seen["shown"], true, "{seen}");
    assert_eq!(seen["spinner"], false, "no spinner: {seen}");
    assert_eq!(seen["twice"], false, "never two cards on screen: {seen}");
    assert_eq!(seen["gap"], false, "never no card: {seen}");
    assert_eq!(seen["titles"], json!(["这是我的摊位吗？"]), "{seen}");
    assert_eq!(code_requests(&client).await, 0, "no second request");
    screenshot(&client, "stall-page-2-app-took-over").await;

    // The buttons are the app's now.
    client
        .find(Locator::Css("#confirm-stall"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&client, "#login-page", "").await;
    e2e::browser::close(client).await;
}

#[tokio::test]
async fn a_refused_code_is_counted_once_when_the_app_takes_over() {
    let client = watched_phone().await;
    let before = refused_rows();
    let code = e2e::stall_code("A-08");
    client
        .goto(&e2e::url(&format!("/S/{}", forged(&code))))
        .await
        .unwrap();
    wait_for_app(&client).await;
    let reason = wait_for_text(&client, "#code-invalid-reason", "无法识别").await;
    assert!(!reason.is_empty());
    wait_for_text(&client, "#app #code-invalid", "This code is not valid").await;
    let seen = seen(&client).await;
    assert_eq!(seen["spinner"], false, "{seen}");
    assert_eq!(seen["twice"], false, "{seen}");
    assert_eq!(code_requests(&client).await, 0, "the app did not ask again");
    assert_eq!(refused_rows(), before + 1, "one scan, counted once");
    screenshot(&client, "stall-page-4-refused-app").await;
    e2e::browser::close(client).await;
}

#[tokio::test]
async fn a_merchant_who_chose_english_sees_english_from_the_first_frame() {
    let client = watched_phone().await;
    // The merchant chose English in the app earlier (the switch keeps the
    // choice in local storage and in the cookie the server renders from).
    client.goto(&e2e::url("/")).await.unwrap();
    wait_for_text(&client, "#lang-toggle", "").await;
    client
        .find(Locator::Css("#lang-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&client, "#lang-toggle", "中文").await;
    client.goto(&e2e::stall_url("A-09")).await.unwrap();
    wait_for_app(&client).await;
    wait_for_text(&client, "#scan h1", "Is this your stall?").await;
    let seen = seen(&client).await;
    assert_eq!(seen["titles"], json!(["Is this your stall?"]), "{seen}");
    assert_eq!(seen["twice"], false, "{seen}");
    assert_eq!(seen["gap"], false, "{seen}");
    screenshot(&client, "stall-page-5-english").await;
    e2e::browser::close(client).await;
}
