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
    client.close().await.unwrap();
}
