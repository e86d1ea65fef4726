//! The SPA loads in a phone-sized Chromium with WeChat's user agent and shows
//! what the API said: a blank page, or a page that never reached the API,
//! fails.

use e2e::browser;

#[tokio::test]
async fn home_page_shows_health_from_the_api() {
    let client = browser::phone().await;
    client.goto(&e2e::url("/")).await.unwrap();
    let db = browser::wait_for_text(&client, "#health-database", &e2e::database()).await;
    assert!(db.contains(&e2e::database()));
    browser::wait_for_text(&client, "#health-market", "万石石材市场").await;
    browser::screenshot(&client, "home-zh").await;

    // The English switch changes the interface language and survives a reload.
    let toggle = client
        .find(fantoccini::Locator::Css("#lang-toggle"))
        .await
        .expect("a language switch on every page");
    toggle.click().await.unwrap();
    client.refresh().await.unwrap();
    browser::wait_for_text(&client, "html", "").await;
    let lang: String = client
        .execute("return document.documentElement.lang", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert_eq!(lang, "en", "language choice kept in local storage");
    browser::wait_for_text(&client, "#health-database", &e2e::database()).await;
    browser::screenshot(&client, "home-en").await;
    e2e::browser::close(client).await;
}

/// The Content-Security-Policy is on, and a violation of it would be seen:
/// what every browser test's `close` relies on.
#[tokio::test]
async fn the_content_security_policy_is_on_and_its_violations_are_seen() {
    let client = browser::phone().await;
    client.goto(&e2e::url("/")).await.unwrap();
    browser::wait_for_text(&client, "#health-market", "万石石材市场").await;
    browser::assert_no_csp_violation(&client).await;
    // What the policy forbids: an inline script and an inline style.
    let ran = client
        .execute(
            "var s = document.createElement('script');
             s.textContent = 'window.__inline_ran = true;';
             document.head.appendChild(s);
             document.body.setAttribute('style', 'outline: 3px solid red');
             return window.__inline_ran === true;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ran, false, "an inline script ran");
    let mut violations = Vec::new();
    for _ in 0..50 {
        violations.extend(
            browser::console(&client)
                .await
                .into_iter()
                .filter(|m| browser::is_csp_violation(m)),
        );
        if violations.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(violations.len() >= 2, "{violations:?}");
    client.close().await.unwrap();
}
