//! The manager's console in a phone-sized browser, end to end: an operator
//! creates a market and its manager; the manager logs in, imports a GBK CSV
//! with one bad row (sees the error, nothing is imported), imports the fixed
//! file, prints a batch sheet, reissues one stall's code, and the merchant
//! page then refuses that stall's old code.
//!
//! The operator account comes from `backend create-user` (see `api_manager`).

use e2e::browser;
use fantoccini::{Client, Locator};

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}", n % 10_000_000_000)
}

const PASSWORD: &str = "correct-horse-battery";

fn create_operator() -> String {
    let name = unique("bops");
    e2e::backend(
        &["create-user", &name, "--role", "operator"],
        &[("MARKET_CODE_NEW_PASSWORD", PASSWORD)],
    );
    name
}

/// The stall list as a market office exports it from Excel: GBK, CRLF.
fn gbk_file(bad_mobile: bool) -> Vec<u8> {
    let mobile = if bad_mobile { "1391234" } else { "13912345679" };
    let text = format!(
        "摊位号,区域,经营类别,经营者姓名,手机号,月租金\r\n\
         G-01,G,石材,王建国,13912345678,3000\r\n\
         G-02,G,石材,李秀,{mobile},2800\r\n\
         G-03,G,石材,张三,,1500\r\n"
    );
    e2e::gbk(&text)
}

fn write_temp(name: &str, bytes: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("{}-{name}", unique("mc")));
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            return el;
        }
        if std::time::Instant::now() > deadline {
            let body = c
                .find(Locator::Css("body"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap_or_default();
            panic!("no {css} within 15 s; the page shows:\n{body}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap();
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let el = find(c, css).await;
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn log_in(c: &Client, username: &str) {
    type_into(c, "#staff-username", username).await;
    type_into(c, "#staff-password", PASSWORD).await;
    click(c, "#staff-login").await;
    browser::wait_for_text(c, "#staff-logout", "退出").await;
}

#[tokio::test]
async fn a_manager_onboards_stalls_prints_and_reissues() {
    let operator = create_operator();
    let market = unique("丁蜀市场");
    let manager = unique("bmgr");
    let c = browser::phone().await;
    c.goto(&e2e::url("/manager")).await.unwrap();

    // The operator creates the market and its manager.
    log_in(&c, &operator).await;
    type_into(&c, "#market-name", &market).await;
    type_into(&c, "#market-phone", "0510-87000000").await;
    type_into(&c, "#market-address", "宜兴市丁蜀镇").await;
    click(&c, "#market-create").await;
    browser::wait_for_text(&c, "#ops-notice", &market).await;
    browser::wait_for_text(&c, "#mgr-market", &market).await;
    find(&c, "#mgr-market")
        .await
        .select_by(Locator::XPath(&format!(
            ".//option[contains(., '{market}')]"
        )))
        .await
        .unwrap();
    type_into(&c, "#mgr-username", &manager).await;
    type_into(&c, "#mgr-display", "丁蜀管理处").await;
    type_into(&c, "#mgr-password", PASSWORD).await;
    click(&c, "#mgr-create").await;
    browser::wait_for_text(&c, "#ops-notice", &manager).await;
    click(&c, "#staff-logout").await;

    // The manager logs in and sees their market.
    log_in(&c, &manager).await;
    browser::wait_for_text(&c, "#console-title", &market).await;

    // A GBK file with one bad row: the error is shown, nothing is imported.
    click(&c, "#tab-import").await;
    let bad = write_temp("bad.csv", &gbk_file(true));
    find(&c, "#import-file")
        .await
        .send_keys(&bad)
        .await
        .unwrap();
    let errors = browser::wait_for_text(&c, "#import-errors", "第3行").await;
    assert!(errors.contains("手机号"), "{errors}");
    browser::wait_for_text(&c, "#import-summary", "GBK").await;
    assert!(
        c.find(Locator::Css("#import-commit")).await.is_err(),
        "a file with errors offers no import button"
    );
    browser::screenshot(&c, "manager-import-error").await;
    click(&c, "#tab-stalls").await;
    browser::wait_for_text(&c, "#stall-count", "共 0 个摊位").await;

    // The fixed file imports.
    click(&c, "#tab-import").await;
    let good = write_temp("good.csv", &gbk_file(false));
    find(&c, "#import-file")
        .await
        .send_keys(&good)
        .await
        .unwrap();
    browser::wait_for_text(&c, "#import-summary", "将新增 3 个").await;
    click(&c, "#import-commit").await;
    browser::wait_for_text(&c, "#import-result", "新增 3 个").await;

    // All three stalls, selected and printed as a batch sheet.
    click(&c, "#tab-stalls").await;
    browser::wait_for_text(&c, "#stall-count", "共 3 个摊位").await;
    browser::wait_for_text(&c, "#stall-table", "王建国").await;
    click(&c, "#select-all").await;
    browser::wait_for_text(&c, "#print-selected", "（3）").await;
    click(&c, "#print-selected").await;
    browser::wait_for_text(&c, "#cards", "摊位 G-03").await;
    let cards = c
        .find_all(Locator::Css("#cards .code-card svg"))
        .await
        .unwrap();
    assert_eq!(cards.len(), 3, "one QR code per selected stall");
    browser::wait_for_text(&c, "#cards", "管理处电话：0510-87000000").await;
    let old_url = find(&c, ".code-card[data-number='G-01']")
        .await
        .attr("data-url")
        .await
        .unwrap()
        .expect("the card carries its URL");
    browser::screenshot(&c, "manager-batch-sheet").await;

    // The dashboard counts the new stalls; its charts are drawn.
    c.goto(&e2e::url("/manager")).await.unwrap();
    click(&c, "#tab-dashboard").await;
    browser::wait_for_text(&c, "#funnel-table tr[data-step='stalls'] .total", "3").await;
    // No merchant yet: the outcome counts a manager sees read "<5", never 0.
    for step in ["offered", "accepted", "bank_outcome"] {
        let css = format!("#funnel-table tr[data-step='{step}'] .total");
        let shown = browser::wait_for_text(&c, &css, "<5").await;
        assert_eq!(shown, "<5", "{step}");
    }
    browser::wait_for_text(&c, "#small-cell-note", "<5").await;
    find(&c, "#funnel-chart rect").await;
    find(&c, "#weekly-chart").await;
    browser::screenshot(&c, "manager-dashboard").await;

    // Reissue G-01; its printed code is then refused by the merchant page.
    c.goto(&e2e::url("/manager")).await.unwrap();
    browser::wait_for_text(&c, "#stall-table", "G-01").await;
    click(&c, "button.reissue[data-number='G-01']").await;
    click(&c, "button.reissue-confirm[data-number='G-01']").await;
    browser::wait_for_text(&c, "#stall-notice", "已重新发码").await;

    // The stall's own print view now carries the new code.
    click(&c, "button.print-one[data-number='G-01']").await;
    let new_url = find(&c, ".code-card[data-number='G-01'][data-version='2']")
        .await
        .attr("data-url")
        .await
        .unwrap()
        .expect("the card carries its URL");
    assert_ne!(new_url, old_url);
    assert_eq!(
        c.find_all(Locator::Css("#cards .code-card"))
            .await
            .unwrap()
            .len(),
        1
    );

    let code = shared::stall_code::code_in_url(&old_url).expect("a stall URL");
    c.goto(&e2e::url(&format!("/S/{code}"))).await.unwrap();
    browser::wait_for_text(&c, "#code-invalid-reason", "已被新码替换").await;
    browser::screenshot(&c, "manager-old-code-refused").await;
    e2e::browser::close(c).await;
}

/// `/ops` is the operator's part of the console, not a "coming later" page:
/// it leads to the staff login and, for an operator, to the markets and
/// accounts tab. `/bank` says plainly that the bank console is not open yet.
#[tokio::test]
async fn ops_leads_to_the_operators_tab_and_bank_says_it_is_not_open() {
    let operator = create_operator();
    let c = browser::phone().await;
    c.goto(&e2e::url("/ops")).await.unwrap();
    find(&c, "#staff-login-form").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/manager");
    log_in(&c, &operator).await;
    let tab = find(&c, "#tab-ops").await;
    assert_eq!(
        tab.attr("aria-selected").await.unwrap().as_deref(),
        Some("true")
    );
    find(&c, "#market-form").await;

    c.goto(&e2e::url("/bank")).await.unwrap();
    browser::wait_for_text(&c, "#bank-console", "尚未开通").await;
    browser::screenshot(&c, "bank-not-open").await;
    e2e::browser::close(c).await;
}
