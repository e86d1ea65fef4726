//! `cargo xtask phone-timing` runs this against a server and a chromedriver
//! it started (or a server given with `--url`): opens a stall URL in a fresh
//! headless Chromium per run (cold cache, 390×844, WeChat's user agent) under
//! Lighthouse's mobile profile — 150 ms round trip, 1.6 Mbit/s down,
//! 750 kbit/s up, the CPU slowed 4× — set through the DevTools protocol, and
//! reports, per run, when the stall card was first on screen and when the
//! app had taken the page over (its buttons work), in milliseconds from the
//! start of the navigation.
//!
//! Usage: `phone-timing <stall URL> <runs>`; prints one line per run, then
//! `phone-timing: card_ms=… app_ms=…` for xtask to read.

use e2e::browser::{cdp, phone};
use serde_json::{Value, json};

/// Lighthouse's mobile throttling (its "Slow 4G" preset), in the units
/// DevTools takes: bytes per second, and milliseconds added to each request.
const LATENCY_MS: f64 = 150.0;
const DOWN_BYTES_PER_S: f64 = 1.6 * 1024.0 * 1024.0 / 8.0;
const UP_BYTES_PER_S: f64 = 750.0 * 1024.0 / 8.0;
const CPU_SLOWDOWN: f64 = 4.0;

/// Checked on every animation frame from the document's start: the first
/// frame with the stall number on screen, and the first with the app's card
/// (the server's markup gone, the buttons the app's).
const PROBE: &str = r#"
window.__timing = { card: null, app: null };
(function frame() {
  var t = window.__timing, now = performance.now();
  var stall = document.getElementById('code-stall');
  if (t.card === null && stall && stall.getClientRects().length > 0 && stall.textContent.trim()) {
    t.card = now;
  }
  if (t.app === null && stall && !document.getElementById('ssr')
      && document.getElementById('confirm-stall') && !document.getElementById('code-loading')) {
    t.app = now;
  }
  if (t.card === null || t.app === null) requestAnimationFrame(frame);
})();
"#;

async fn one_run(url: &str) -> (f64, f64) {
    let client = phone().await;
    cdp(&client, "Network.enable", json!({})).await;
    cdp(
        &client,
        "Network.emulateNetworkConditions",
        json!({
            "offline": false,
            "latency": LATENCY_MS,
            "downloadThroughput": DOWN_BYTES_PER_S,
            "uploadThroughput": UP_BYTES_PER_S,
        }),
    )
    .await;
    cdp(
        &client,
        "Emulation.setCPUThrottlingRate",
        json!({ "rate": CPU_SLOWDOWN }),
    )
    .await;
    cdp(
        &client,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": PROBE }),
    )
    .await;
    client.goto(url).await.expect("open the stall URL");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let timing = loop {
        let t: Value = client
            .execute("return window.__timing;", vec![])
            .await
            .unwrap_or(Value::Null);
        if let (Some(card), Some(app)) = (t["card"].as_f64(), t["app"].as_f64()) {
            break (card, app);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no stall card within 90 s at {url}: {t}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    client.close().await.unwrap();
    timing
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, runs] = args.as_slice() else {
        panic!("usage: phone-timing <stall URL> <runs>");
    };
    let runs: usize = runs.parse().expect("a number of runs");
    // One untimed run first: Chromium's own first start (fonts, profile)
    // is not the page's cost.
    one_run(url).await;
    let mut card = Vec::new();
    let mut app = Vec::new();
    for i in 1..=runs {
        let (c, a) = one_run(url).await;
        println!("run {i}: stall card {c:.0} ms, app ready {a:.0} ms");
        card.push(c);
        app.push(a);
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "phone-timing: card_ms={} app_ms={}",
        list(&card),
        list(&app)
    );
}
