//! The SPA's home page (the entry the city app links to) loads in a
//! phone-sized Chromium with WeChat's user agent, in both languages: the
//! way in with a stall's code, and "没有摊位？直接申请" for a business without
//! one. The service's technical status is no longer on it.

use e2e::browser;

#[tokio::test]
async fn the_home_page_offers_both_ways_in_in_both_languages() {
    let client = browser::phone().await;
    client.goto(&e2e::url("/")).await.unwrap();
    browser::wait_for_text(&client, "#without-stall h2", "没有摊位？直接申请").await;
    browser::wait_for_text(&client, "#for-merchants", "扫描").await;
    let body = browser::wait_for_text(&client, "body", "").await;
    for technical in ["数据库", "数据结构", "服务状态"] {
        assert!(!body.contains(technical), "the home page shows {technical}");
    }
    assert!(
        client
            .find(fantoccini::Locator::Css("#server-status"))
            .await
            .is_err()
    );
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
    browser::wait_for_text(&client, "#without-stall h2", "No stall? Apply directly").await;
    browser::screenshot(&client, "home-en").await;
    e2e::browser::close(client).await;
}

/// The Content-Security-Policy is on, and a violation of it would be seen:
/// what every browser test's `close` relies on.
#[tokio::test]
async fn the_content_security_policy_is_on_and_its_violations_are_seen() {
    let client = browser::phone().await;
    client.goto(&e2e::url("/")).await.unwrap();
    browser::wait_for_text(&client, "#without-stall", "没有摊位").await;
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
    e2e::browser::close(client).await;
}
