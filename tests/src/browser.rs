//! Headless Chromium through chromedriver, as a merchant's phone sees the app:
//! a 390×844 viewport and WeChat's in-app browser user agent.
//!
//! The server sends a strict Content-Security-Policy; every browser test
//! ends with [`close`], which fails it if the browser's console logged a
//! violation of that policy (something the app tried that the policy
//! blocked: an inline script or style, a foreign resource).

use std::path::PathBuf;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// The user agent of WeChat's in-app browser on Android.
pub const WECHAT_UA: &str = "Mozilla/5.0 (Linux; Android 12; V2055A Build/SP1A.210812.003; wv) \
AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 \
XWEB/5169 MMWEBSDK/20230303 MMWEBID/2586 MicroMessenger/8.0.34.2340(0x2800225B) WeChat/arm64 \
Weixin NetType/4G Language/zh_CN ABI/arm64";

/// Starts a fresh browser session in the phone viewport.
pub async fn phone() -> Client {
    phone_with(true).await
}

/// A phone whose browser runs no JavaScript at all (some locked-down
/// webviews, or a page seen before the bundle loads).
pub async fn phone_without_javascript() -> Client {
    phone_with(false).await
}

async fn phone_with(javascript: bool) -> Client {
    let webdriver = super::required("E2E_WEBDRIVER_URL");
    let profile = std::env::temp_dir().join(format!(
        "market-code-chrome-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("E2E_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                "--hide-scrollbars", "--lang=zh-CN",
                format!("--user-data-dir={}", profile.display()),
                format!("--user-agent={WECHAT_UA}"),
            ],
            "mobileEmulation": {
                "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0, "touch": true },
                "userAgent": WECHAT_UA,
            },
            // 2 blocks: the content setting a user or a policy turns off.
            "prefs": { "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 } },
        }),
    );
    // The console, for [`close`] to read.
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&webdriver)
        .await
        .unwrap_or_else(|e| panic!("cannot start Chromium through {webdriver}: {e}"))
}

/// Waits (up to 15 s) for an element matching `css` whose text contains
/// `needle`, and returns its text. Panics with what was on the page instead.
pub async fn wait_for_text(client: &Client, css: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Ok(el) = client.find(Locator::Css(css)).await
            && let Ok(text) = el.text().await
            && text.contains(needle)
        {
            return text;
        }
        if std::time::Instant::now() > deadline {
            let body = match client.find(Locator::Css("body")).await {
                Ok(b) => b.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("no {css:?} containing {needle:?} within 15 s; the page shows:\n{body}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Saves a PNG of the current screen as `<E2E_SCREENSHOT_DIR>/<name>.png`.
pub async fn screenshot(client: &Client, name: &str) -> PathBuf {
    // Tests run with the package folder as cwd; default to the workspace's.
    let dir = std::env::var_os("E2E_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e"));
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let png = client.screenshot().await.expect("screenshot");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    path
}

/// Waits (up to 15 s) until the app has taken over a page the server
/// rendered (`frontend/src/prerendered.rs` removes the server's markup),
/// so a click reaches the app rather than the server's inert copy.
pub async fn wait_for_app(client: &Client) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let taken_over = client
            .execute(
                "return document.getElementById('ssr') === null && !document.getElementById('boot');",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if taken_over {
            return;
        }
        if std::time::Instant::now() > deadline {
            panic!("the app did not take over the page within 15 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The console messages logged since the last call (each read once).
pub async fn console(client: &Client) -> Vec<String> {
    // chromedriver's (pre-W3C) log endpoint: the entries since the last read.
    let entries = client
        .issue_cmd(ChromedriverPost {
            path: "se/log",
            body: json!({ "type": "browser" }),
        })
        .await
        .unwrap_or_else(|e| panic!("reading the browser's console: {e}"));
    entries
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| e["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a console message reports a Content-Security-Policy violation.
pub fn is_csp_violation(message: &str) -> bool {
    message.contains("Content Security Policy")
}

/// Fails when the console logged a Content-Security-Policy violation
/// since the last read.
pub async fn assert_no_csp_violation(client: &Client) {
    let violations: Vec<String> = console(client)
        .await
        .into_iter()
        .filter(|m| is_csp_violation(m))
        .collect();
    assert!(
        violations.is_empty(),
        "the page broke its Content-Security-Policy:\n{}",
        violations.join("\n")
    );
}

/// Ends a browser test: no Content-Security-Policy violation may have been
/// logged, then the browser closes.
pub async fn close(client: Client) {
    assert_no_csp_violation(&client).await;
    client.close().await.unwrap();
}

/// A POST to one of chromedriver's own endpoints of the session
/// (`session/<id>/<path>`), beyond what WebDriver defines.
#[derive(Debug)]
struct ChromedriverPost {
    path: &'static str,
    body: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for ChromedriverPost {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// Sends a DevTools command (`Network.emulateNetworkConditions`,
/// `Page.addScriptToEvaluateOnNewDocument`, …) to the session's page and
/// returns its result. Panics when chromedriver refuses it.
pub async fn cdp(client: &Client, cmd: &str, params: serde_json::Value) -> serde_json::Value {
    // chromedriver's `goog/cdp/execute` endpoint.
    client
        .issue_cmd(ChromedriverPost {
            path: "goog/cdp/execute",
            body: json!({ "cmd": cmd, "params": params }),
        })
        .await
        .unwrap_or_else(|e| panic!("DevTools {cmd}: {e}"))
}
