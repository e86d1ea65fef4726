//! The staff side against a running server: staff login and its failure
//! limit, the operator creating markets and managers, a manager's scope
//! (another market's stall is a 404 whatever the request), stall edits,
//! bulk import (GBK, all or nothing), code cards and reissue (the old code
//! is then refused by the merchant API), the rent ledger (kept per stall,
//! counting for a business only once its verified operator confirmed the
//! stall, never over the county's export: a manager cannot forge another
//! market's business's rent), and the dashboard (recounted straight from
//! the database; a manager sees outcome counts under five as "<5" and no
//! merchant's outcome, the operator everything).
//!
//! The first operator comes from the server's own `backend create-user`
//! command, run against the server's data folder and database
//! (`E2E_BACKEND_BIN`, `E2E_DATABASE_URL` as in `api_merchant`). Every test
//! makes its own markets and accounts with random names, so the tests may
//! run in parallel and again against the same server.

use chrono::Datelike;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use shared::consent::{Letter, MerchantDecision, SignResponse, sha256_hex};
use shared::error::ApiErrorBody;
use shared::manager::{
    Dashboard, Figure, ImportResult, MarketView, RentImportPreview, RentImportResult, StaffMe,
    StaffUserView, StallCard, StallImportPreview, StallList, StallView,
};
use shared::stall_code::code_in_url;

/// One number straight from the server's database, for recounting what the
/// API reports.
fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}", n % 10_000_000_000)
}

async fn error_of(res: reqwest::Response) -> (StatusCode, ApiErrorBody) {
    let status = res.status();
    let body = res.json::<ApiErrorBody>().await.expect("JSON error body");
    (status, body)
}

async fn login(username: &str, password: &str) -> (Client, StaffMe) {
    let client = e2e::client();
    let res = client
        .post(e2e::url("/api/staff/session"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "login {username}");
    let me = res.json::<StaffMe>().await.unwrap();
    (client, me)
}

const PASSWORD: &str = "correct-horse-battery";

/// A fresh operator, made with `backend create-user`.
async fn operator() -> Client {
    let name = unique("ops");
    let out = e2e::backend(
        &["create-user", &name, "--role", "operator"],
        &[("MARKET_CODE_NEW_PASSWORD", PASSWORD)],
    );
    assert!(out.contains("created operator"), "{out}");
    login(&name, PASSWORD).await.0
}

struct Market {
    id: String,
    name: String,
    manager: Client,
    manager_name: String,
}

/// The operator creates a market and its manager, who then logs in.
async fn new_market(ops: &Client) -> Market {
    let name = unique("测试市场");
    let res = ops
        .post(e2e::url("/api/ops/markets"))
        .json(&json!({ "name": name, "office_phone": "0510-80000000", "address": "宜兴" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let market = res.json::<MarketView>().await.unwrap();
    assert_eq!(market.stall_count, 0);
    let username = unique("mgr");
    let res = ops
        .post(e2e::url("/api/ops/users"))
        .json(&json!({
            "username": username, "display_name": "测试管理处", "password": PASSWORD,
            "role": "manager", "market_id": market.id,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let user = res.json::<StaffUserView>().await.unwrap();
    assert_eq!(user.market_id.as_deref(), Some(market.id.as_str()));
    let (manager, me) = login(&username, PASSWORD).await;
    assert_eq!(me.role, "manager");
    assert_eq!(me.market_name.as_deref(), Some(name.as_str()));
    Market {
        id: market.id,
        name,
        manager,
        manager_name: username,
    }
}

fn stall_json(number: &str) -> Value {
    json!({
        "number": number, "zone": "Z", "trade": "石材", "holder_name": "王建国",
        "holder_mobile": "13912345678", "uscc": "", "rent_yuan": "3000",
    })
}

async fn add_stall(client: &Client, number: &str) -> StallView {
    let res = client
        .post(e2e::url("/api/manager/stalls"))
        .json(&stall_json(number))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn stalls_of(client: &Client) -> StallList {
    let res = client
        .get(e2e::url("/api/manager/stalls"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// A valid USCC of an individual business, different for each `n`.
fn uscc(n: u32) -> String {
    let first17 = format!("92320282MA{:07}", n % 10_000_000);
    let check = shared::ids::uscc_check_char(&first17).unwrap();
    format!("{first17}{check}")
}

fn import_file(bad_mobile: bool) -> String {
    let mobile = if bad_mobile { "1391234" } else { "13912345679" };
    format!(
        "摊位号,区域,经营类别,经营者姓名,手机号,月租金\r\n\
         G-01,G,石材,王建国,13912345678,3000\r\n\
         G-02,G,石材,李秀,{mobile},2800.5\r\n\
         G-03,G,石材,张三,,1500\r\n"
    )
}

async fn post_file(client: &Client, path: &str, body: Vec<u8>) -> reqwest::Response {
    client
        .post(e2e::url(path))
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn staff_endpoints_need_a_session() {
    for (method, path) in [
        ("GET", "/api/staff/me"),
        ("GET", "/api/manager/stalls"),
        ("GET", "/api/manager/dashboard"),
        ("POST", "/api/manager/stalls/import"),
        ("GET", "/api/ops/markets"),
        ("POST", "/api/ops/users"),
    ] {
        let res = e2e::client()
            .request(method.parse().unwrap(), e2e::url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let (status, body) = error_of(res).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(body.code, "unauthorized");
    }
}

#[tokio::test]
async fn wrong_passwords_space_the_tries_and_logout_ends_the_session() {
    let ops = operator().await;
    let m = new_market(&ops).await;
    let me = m
        .manager
        .get(e2e::url("/api/staff/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let res = m
        .manager
        .delete(e2e::url("/api/staff/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = m
        .manager
        .get(e2e::url("/api/staff/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Five wrong passwords from this address, then each try waits: the
    // sixth, even with the right password, is told when to come back.
    let login = |username: String, password: String| async move {
        e2e::client()
            .post(e2e::url("/api/staff/session"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
    };
    let mut answers = Vec::new();
    for username in [m.manager_name.clone(), "nobody-here".to_owned()] {
        let mut seen = Vec::new();
        for i in 0..5 {
            let (status, body) =
                error_of(login(username.clone(), format!("wrong-{i}")).await).await;
            seen.push((status, body.code));
        }
        let res = login(username.clone(), PASSWORD.to_owned()).await;
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait >= 1);
        let (status, body) = error_of(res).await;
        seen.push((status, body.code));
        answers.push((seen, wait));
    }
    let (known, wait) = &answers[0];
    assert_eq!(
        known[0],
        (StatusCode::UNAUTHORIZED, "invalid_credentials".to_owned())
    );
    assert_eq!(known[4], known[0]);
    assert_eq!(
        known[5],
        (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failures".to_owned()
        )
    );
    // An unknown account answers the same, try for try.
    assert_eq!(known, &answers[1].0);
    // Waiting is enough: nobody can lock the account.
    tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 300)).await;
    let res = login(m.manager_name.clone(), PASSWORD.to_owned()).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

#[tokio::test]
async fn a_manager_cannot_reach_another_markets_stall() {
    let ops = operator().await;
    let a = new_market(&ops).await;
    let b = new_market(&ops).await;
    let theirs = add_stall(&b.manager, "B-01").await;
    let ours = add_stall(&a.manager, "A-01").await;
    let id = &theirs.id;
    let other = format!("market_id={}", b.id);
    let attempts: Vec<(reqwest::Method, String, Value)> = vec![
        (
            "GET".parse().unwrap(),
            format!("/api/manager/stalls/{id}"),
            json!(null),
        ),
        (
            "GET".parse().unwrap(),
            format!("/api/manager/stalls/{id}?{other}"),
            json!(null),
        ),
        (
            "PUT".parse().unwrap(),
            format!("/api/manager/stalls/{id}"),
            stall_json("X-01"),
        ),
        (
            "PUT".parse().unwrap(),
            format!("/api/manager/stalls/{id}?{other}"),
            stall_json("X-01"),
        ),
        (
            "GET".parse().unwrap(),
            format!("/api/manager/stalls/{id}/card"),
            json!(null),
        ),
        (
            "POST".parse().unwrap(),
            format!("/api/manager/stalls/{id}/reissue"),
            json!({}),
        ),
        (
            "POST".parse().unwrap(),
            format!("/api/manager/stalls/{id}/deactivate"),
            json!({}),
        ),
        (
            "POST".parse().unwrap(),
            "/api/manager/cards".to_owned(),
            json!({ "stall_ids": [id] }),
        ),
        (
            "POST".parse().unwrap(),
            "/api/manager/cards".to_owned(),
            json!({ "stall_ids": [id, ours.id] }),
        ),
    ];
    for (method, path, body) in attempts {
        let mut req = a.manager.request(method.clone(), e2e::url(&path));
        if !body.is_null() {
            req = req.json(&body);
        }
        let (status, err) = error_of(req.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(err.code, "not_found", "{method} {path}");
    }
    // The list is the manager's own market, whatever market is asked for.
    let res = a
        .manager
        .get(e2e::url(&format!("/api/manager/stalls?{other}")))
        .send()
        .await
        .unwrap();
    let list = res.json::<StallList>().await.unwrap();
    let numbers: Vec<&str> = list.stalls.iter().map(|s| s.number.as_str()).collect();
    assert_eq!(numbers, ["A-01"]);
    // Nothing changed on B's stall.
    let res = b
        .manager
        .get(e2e::url(&format!("/api/manager/stalls/{id}")))
        .send()
        .await
        .unwrap();
    let after = res.json::<StallView>().await.unwrap();
    assert_eq!(after.number, "B-01");
    assert_eq!(after.status, "active");
    assert_eq!(after.code_version, 1);
    // A manager cannot create markets or accounts.
    let res = a
        .manager
        .post(e2e::url("/api/ops/markets"))
        .json(&json!({ "name": unique("x"), "office_phone": "0510-1234567", "address": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // The operator reaches B's stall by naming B.
    let res = ops
        .get(e2e::url(&format!("/api/manager/stalls/{id}?{other}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let _ = b.name;
}

#[tokio::test]
async fn stall_edits_are_validated_and_audited() {
    let ops = operator().await;
    let m = new_market(&ops).await;
    let s = add_stall(&m.manager, "E-01").await;
    add_stall(&m.manager, "E-02").await;
    let mut bad = stall_json("E-02");
    bad["holder_mobile"] = json!("12345");
    bad["uscc"] = json!("92320282MA1X2Y3Z4A");
    bad["rent_yuan"] = json!("lots");
    let res = m
        .manager
        .put(e2e::url(&format!("/api/manager/stalls/{}", s.id)))
        .json(&bad)
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(res).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["holder_mobile", "uscc", "rent_yuan"]);

    // Renumbering onto another stall's number is refused.
    let res = m
        .manager
        .put(e2e::url(&format!("/api/manager/stalls/{}", s.id)))
        .json(&stall_json("E-02"))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(res).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body.fields[0].code, "number_taken");

    let mut good = stall_json("E-01");
    good["uscc"] = json!(uscc(1));
    good["rent_yuan"] = json!("3,200.50");
    let res = m
        .manager
        .put(e2e::url(&format!("/api/manager/stalls/{}", s.id)))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v = res.json::<StallView>().await.unwrap();
    assert_eq!(v.rent_cents, 320_050);
    assert_eq!(v.uscc.as_deref(), Some(uscc(1).as_str()));

    let res = m
        .manager
        .post(e2e::url(&format!(
            "/api/manager/stalls/{}/deactivate",
            s.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<StallView>().await.unwrap().status, "inactive");
    let res = m
        .manager
        .get(e2e::url("/api/manager/stalls?status=inactive"))
        .send()
        .await
        .unwrap();
    let list = res.json::<StallList>().await.unwrap();
    assert_eq!(list.total, 1);
    assert_eq!(list.stalls[0].number, "E-01");
    let res = m
        .manager
        .get(e2e::url("/api/manager/stalls?q=E-0&status=active"))
        .send()
        .await
        .unwrap();
    let list = res.json::<StallList>().await.unwrap();
    assert_eq!(list.stalls.len(), 1);
    assert_eq!(list.stalls[0].number, "E-02");

    let audited = e2e::db_count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE object_id = '{}' AND action IN \
         ('stall.created', 'stall.updated', 'stall.deactivated')",
        s.id
    ));
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn an_import_with_a_bad_row_writes_nothing_and_a_good_one_writes_all() {
    let ops = operator().await;
    let m = new_market(&ops).await;
    let bad = e2e::gbk(&import_file(true));
    assert!(std::str::from_utf8(&bad).is_err(), "the file really is GBK");

    let res = post_file(
        &m.manager,
        "/api/manager/stalls/import/preview",
        bad.clone(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let p = res.json::<StallImportPreview>().await.unwrap();
    assert_eq!(p.encoding, "gbk");
    assert_eq!(p.total_rows, 3);
    let errors: Vec<(usize, &str)> = p
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(errors, [(3, "holder_mobile")]);
    assert_eq!(p.rows[0].holder_name, "王建国");

    let res = post_file(&m.manager, "/api/manager/stalls/import", bad).await;
    let (status, body) = error_of(res).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body.code, "import_rejected");
    assert_eq!(body.fields[0].field, "line 3: holder_mobile");
    let in_db = e2e::db_count(&format!(
        "SELECT COUNT(*) FROM stalls WHERE market_id = '{}'",
        m.id
    ));
    assert_eq!(in_db, 0, "a rejected import wrote stalls");
    assert_eq!(stalls_of(&m.manager).await.total, 0);

    let good = e2e::gbk(&import_file(false));
    let res = post_file(&m.manager, "/api/manager/stalls/import", good.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let r = res.json::<ImportResult>().await.unwrap();
    assert_eq!((r.added, r.updated), (3, 0));
    let list = stalls_of(&m.manager).await;
    let got: Vec<(&str, &str, i64)> = list
        .stalls
        .iter()
        .map(|s| (s.number.as_str(), s.holder_name.as_str(), s.rent_cents))
        .collect();
    assert_eq!(
        got,
        [
            ("G-01", "王建国", 300_000),
            ("G-02", "李秀", 280_050),
            ("G-03", "张三", 150_000)
        ]
    );
    // The same file again updates instead of duplicating.
    let res = post_file(&m.manager, "/api/manager/stalls/import", good).await;
    let r = res.json::<ImportResult>().await.unwrap();
    assert_eq!((r.added, r.updated), (0, 3));
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM stalls WHERE market_id = '{}'",
            m.id
        )),
        3
    );
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE market_id = '{}' AND action = 'stalls.imported'",
            m.id
        )),
        2
    );

    // UTF-8 with a BOM, a duplicate number and a bad USCC: all reported.
    let mut utf8 = b"\xEF\xBB\xBF".to_vec();
    utf8.extend_from_slice(
        "摊位号,区域,经营类别,经营者姓名,统一社会信用代码,月租金（元）\n\
         H-01,H,石材,王五,92320282MA1X2Y3Z4A,100\n\
         H-02,H,石材,王六,,100\n\
         H-02,H,石材,王七,,100\n"
            .as_bytes(),
    );
    let res = post_file(&m.manager, "/api/manager/stalls/import/preview", utf8).await;
    let p = res.json::<StallImportPreview>().await.unwrap();
    assert_eq!(p.encoding, "utf-8");
    let errors: Vec<(usize, &str)> = p
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(errors, [(2, "uscc"), (4, "number")]);
}

#[tokio::test]
async fn the_template_has_chinese_columns_and_imports_cleanly() {
    let ops = operator().await;
    let m = new_market(&ops).await;
    let res = m
        .manager
        .get(e2e::url("/api/manager/stall-template.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = res.bytes().await.unwrap().to_vec();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with(
        "\u{feff}摊位号,区域,经营类别,经营者姓名,手机号,统一社会信用代码,月租金（元）"
    ));
    let res = post_file(&m.manager, "/api/manager/stalls/import/preview", bytes).await;
    let p = res.json::<StallImportPreview>().await.unwrap();
    assert!(p.errors.is_empty(), "{:?}", p.errors);
}

#[tokio::test]
async fn a_reissued_code_refuses_the_old_one() {
    let ops = operator().await;
    let m = new_market(&ops).await;
    let s = add_stall(&m.manager, "R-01").await;
    let other = add_stall(&m.manager, "R-02").await;
    let res = m
        .manager
        .post(e2e::url("/api/manager/cards"))
        .json(&json!({ "stall_ids": [other.id, s.id] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cards = res.json::<Vec<StallCard>>().await.unwrap();
    let numbers: Vec<&str> = cards.iter().map(|c| c.number.as_str()).collect();
    assert_eq!(numbers, ["R-01", "R-02"]);
    let old = &cards[0];
    assert!(old.qr_svg.starts_with("<svg"), "{}", &old.qr_svg[..40]);
    assert_eq!(old.market_name, m.name);
    let old_code = code_in_url(&old.url).unwrap().to_owned();
    let res = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{old_code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the printed code works");

    let res = m
        .manager
        .post(e2e::url(&format!("/api/manager/stalls/{}/reissue", s.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let new = res.json::<StallCard>().await.unwrap();
    assert_eq!(new.code_version, old.code_version + 1);
    assert_ne!(new.url, old.url);

    let res = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{old_code}")))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(res).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body.code, "code_superseded");
    let new_code = code_in_url(&new.url).unwrap();
    let res = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{new_code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The other stall's printed code is untouched.
    let res = e2e::client()
        .get(e2e::url(&format!(
            "/api/m/codes/{}",
            code_in_url(&cards[1].url).unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE object_id = '{}' AND action = 'stall.code_reissued'",
            s.id
        )),
        1
    );
}

/// `YYYY-MM` of the month `back` months before this one, in China.
fn month_back(back: u32) -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let first = today.with_day0(0).unwrap();
    let m = first.checked_sub_months(chrono::Months::new(back)).unwrap();
    m.format("%Y-%m").to_string()
}

fn today_in_china() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string()
}

/// A ledger upload: `unpaid` of the listed months owed nothing paid.
fn ledger(stall: &str, months: &[String], unpaid: &[String]) -> String {
    let mut text = "摊位号,月份,应缴（元）,实缴（元）,缴费日期\n".to_owned();
    for m in months {
        if unpaid.contains(m) {
            text.push_str(&format!("{stall},{m},3000,0,\n"));
        } else {
            text.push_str(&format!("{stall},{m},3000,3000,{m}-05\n"));
        }
    }
    text
}

/// A stall with `uscc` on the manager's record, and the code printed on it.
async fn stall_of(manager: &Client, number: &str, uscc: &str) -> (StallView, String) {
    let mut body = stall_json(number);
    body["uscc"] = json!(uscc);
    let res = manager
        .post(e2e::url("/api/manager/stalls"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let stall: StallView = res.json().await.unwrap();
    let card: StallCard = manager
        .get(e2e::url(&format!("/api/manager/stalls/{}/card", stall.id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (stall, code_in_url(&card.url).unwrap().to_owned())
}

/// The business's operator logs in from `code`, verifies, saves the
/// business (answering "这是我的摊位吗?" with `mine`) and signs for every
/// bank; returns the client and the signed answer.
async fn applies(b: &e2e::merchant::Business, code: &str, mine: bool) -> (Client, SignResponse) {
    use e2e::merchant::{log_in, ok, save_profile, verify};
    let client = e2e::client();
    log_in(&client, &b.mobile, Some(code)).await;
    let _: Value = ok(verify(&client, &b.name, &b.resident_id).await).await;
    let p: shared::merchant::Profile = ok(save_profile(&client, &b.uscc, Some(mine)).await).await;
    assert_eq!(p.stall_confirmed, mine.then_some(true));
    let l: Letter = ok(client.get(e2e::url("/api/m/letter")).send().await.unwrap()).await;
    assert_eq!(
        l.subject.as_ref().map(|s| s.uscc.as_str()),
        Some(b.uscc.as_str())
    );
    let banks: Vec<&str> = l.banks.iter().map(|b| b.bank_id.as_str()).collect();
    let signed: SignResponse = ok(client
        .post(e2e::url("/api/m/consents"))
        .json(&json!({
            "letter_version": l.version, "text_sha256": sha256_hex(&l.text_zh),
            "bank_ids": banks, "language": "zh",
        }))
        .send()
        .await
        .unwrap())
    .await;
    (client, signed)
}

async fn decide_again(client: &Client, consent_id: &str) -> MerchantDecision {
    e2e::merchant::ok(
        client
            .post(e2e::url("/api/m/decisions"))
            .json(&json!({ "consent_id": consent_id }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn reason_codes(d: &MerchantDecision) -> Vec<String> {
    d.view.reasons.iter().map(|r| r.code.clone()).collect()
}

/// The stored trace of a decision, as JSON.
fn trace_of(d: &MerchantDecision) -> Value {
    let text = e2e::db_text(&format!(
        "SELECT trace FROM decisions WHERE id = '{}'",
        d.view.decision_id
    ));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn the_rent_ledger_is_kept_per_stall_with_who_uploaded_it() {
    let ops = operator().await;
    let m = new_market(&ops).await;
    let s = add_stall(&m.manager, "L-01").await;
    // No licence code on the stall: the ledger is the market's all the same.
    let bad = "摊位号,月份,应缴（元）,实缴（元）,缴费日期\n\
               L-01,2026-09,3000,3000,2026-09-03\n\
               Z-99,2026-09,3000,3000,2026-09-03\n";
    let res = post_file(&m.manager, "/api/manager/rent/import/preview", bad.into()).await;
    let p = res.json::<RentImportPreview>().await.unwrap();
    let errors: Vec<(usize, &str)> = p
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(
        errors,
        [(3, "stall_number")],
        "no stall Z-99 in this market"
    );
    let res = post_file(&m.manager, "/api/manager/rent/import", bad.into()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let rows = format!(
        "SELECT COUNT(*) FROM market_rent_ledger WHERE stall_id = '{}'",
        s.id
    );
    assert_eq!(e2e::db_count(&rows), 0);

    let good = "摊位号,月份,应缴（元）,实缴（元）,缴费日期\n\
                L-01,2026-09,3000,3000,2026-09-03\n\
                L-01,2026-10,3000,0,\n";
    let sources_before =
        e2e::db_text("SELECT COALESCE(MAX(as_of), '-') FROM credit_sources WHERE source = 'rent'");
    let res = post_file(&m.manager, "/api/manager/rent/import", good.into()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let r = res.json::<RentImportResult>().await.unwrap();
    assert_eq!((r.rows, r.replaced), (2, 0));
    assert_eq!(e2e::db_count(&rows), 2);
    // Who uploaded it and when; as of the end of the period it covers; and
    // nothing written where the county's exports are.
    let me: StaffMe = m
        .manager
        .get(e2e::url("/api/staff/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        e2e::db_text(&format!(
            "SELECT DISTINCT uploaded_by || '|' || as_of FROM market_rent_ledger WHERE stall_id = '{}'",
            s.id
        )),
        format!("staff:{}|2026-10-31", me.user_id)
    );
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM credit_rent WHERE market = '{}'",
            m.name
        )),
        0
    );
    assert_eq!(
        e2e::db_text("SELECT COALESCE(MAX(as_of), '-') FROM credit_sources WHERE source = 'rent'"),
        sources_before
    );
    // October paid late: the new upload replaces that month only.
    let late = "摊位号,月份,应缴（元）,实缴（元）,缴费日期\nL-01,2026-10,3000,3000,2026-11-20\n";
    let res = post_file(&m.manager, "/api/manager/rent/import", late.into()).await;
    let r = res.json::<RentImportResult>().await.unwrap();
    assert_eq!((r.rows, r.replaced), (1, 1));
    assert_eq!(e2e::db_count(&rows), 2);
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT SUM(paid_cents) FROM market_rent_ledger WHERE stall_id = '{}'",
            s.id
        )),
        600_000
    );
}

/// Manager A puts a business of market B on one of A's stalls and uploads
/// arrears for it: nothing changes for that business. Its own market's
/// ledger counts once its operator confirmed the stall, and the county's
/// later export still applies, over the ledger.
#[tokio::test]
async fn a_manager_cannot_forge_rent_for_another_markets_business() {
    let ops = operator().await;
    let market_b = new_market(&ops).await;
    let market_a = new_market(&ops).await;
    let x = e2e::merchant::business("clean", &e2e::merchant::random_mobile());
    let (stall_b, code_b) = stall_of(&market_b.manager, "X-01", &x.uscc).await;
    let (client, signed) = applies(&x, &code_b, true).await;
    let first = signed.decision;
    assert_eq!(first.view.outcome, shared::decision::Outcome::Offer);

    // Manager A: the same business on A's stall, five months unpaid.
    let (stall_a, _) = stall_of(&market_a.manager, "F-01", &x.uscc).await;
    let months: Vec<String> = (1..=6).rev().map(month_back).collect();
    let unpaid: Vec<String> = (1..=5).map(month_back).collect();
    let sources_before =
        e2e::db_text("SELECT COALESCE(MAX(as_of), '-') FROM credit_sources WHERE source = 'rent'");
    let res = post_file(
        &market_a.manager,
        "/api/manager/rent/import",
        ledger("F-01", &months, &unpaid).into_bytes(),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM market_rent_ledger WHERE stall_id = '{}'",
            stall_a.id
        )),
        6
    );
    let forged = decide_again(&client, &signed.consent.id).await;
    assert_eq!(forged.view.score, first.view.score);
    assert_eq!(reason_codes(&forged), reason_codes(&first));
    assert_eq!(forged.view.outcome, first.view.outcome);
    assert!(!trace_of(&forged).to_string().contains(&market_a.name));
    // …and the county's rent export date did not move.
    assert_eq!(
        e2e::db_text("SELECT COALESCE(MAX(as_of), '-') FROM credit_sources WHERE source = 'rent'"),
        sources_before
    );

    // Manager B, whose stall the operator confirmed: two months unpaid count.
    let own: Vec<String> = (1..=2).map(month_back).collect();
    let res = post_file(
        &market_b.manager,
        "/api/manager/rent/import",
        ledger("X-01", &months, &own).into_bytes(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let counted = decide_again(&client, &signed.consent.id).await;
    assert!(
        reason_codes(&counted).iter().any(|c| c == "RENT_ARREARS"),
        "{:?}",
        reason_codes(&counted)
    );
    // The trace names the ledger: market, stall, who uploaded it, as of when.
    let trace = trace_of(&counted);
    let ledger_source = trace["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["origin"] == "market_ledger")
        .cloned()
        .expect("a market ledger source");
    assert_eq!(ledger_source["ledger"]["market"], json!(market_b.name));
    assert_eq!(ledger_source["ledger"]["stall"], json!(stall_b.number));
    assert_eq!(ledger_source["rows"], json!(6));
    let b_me: StaffMe = market_b
        .manager
        .get(e2e::url("/api/staff/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ledger_source["ledger"]["uploads"][0]["by"],
        json!(format!("staff:{}", b_me.user_id))
    );
    assert!(
        ledger_source["as_of"]
            .as_str()
            .is_some_and(|d| d <= today_in_china().as_str())
    );

    // The county's export arrives later: every month paid on time. It
    // applies, and over the ledger for the months it holds.
    let dir = std::env::temp_dir().join(format!("mc-county-rent-{}", x.uscc));
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = "uscc,market,stall_no,month,due_cents,paid_cents,paid_on,as_of\n".to_owned();
    for back in (1..=12).rev() {
        let m = month_back(back);
        csv.push_str(&format!(
            "{},{},X-01,{m},300000,300000,{m}-03,{}\n",
            x.uscc,
            market_b.name,
            today_in_china()
        ));
    }
    std::fs::write(dir.join("rent.csv"), csv).unwrap();
    let out = e2e::backend(&["import-credit-data", dir.to_str().unwrap()], &[]);
    assert!(out.contains("rent"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
    let county = decide_again(&client, &signed.consent.id).await;
    assert!(
        !reason_codes(&county).iter().any(|c| c.starts_with("RENT_")),
        "{:?}",
        reason_codes(&county)
    );
    assert!(county.view.score > counted.view.score);
    let trace = trace_of(&county);
    let sources = trace["sources"].as_array().unwrap();
    let rent_county = sources
        .iter()
        .find(|s| s["source"] == "rent" && s["origin"] == "county_export")
        .unwrap();
    assert_eq!(rent_county["rows"], json!(12));
    assert_eq!(rent_county["as_of"], json!(today_in_china()));
    let rent_ledger = sources
        .iter()
        .find(|s| s["origin"] == "market_ledger")
        .unwrap();
    assert_eq!(rent_ledger["rows"], json!(0));
    assert_eq!(rent_ledger["ledger"]["months_left_to_county"], json!(6));
}

/// The operator who did not confirm the stall: the market's ledger alone
/// does not count.
#[tokio::test]
async fn a_ledger_counts_only_for_the_operator_who_confirmed_the_stall() {
    let ops = operator().await;
    let m = new_market(&ops).await;
    let x = e2e::merchant::business("clean", &e2e::merchant::random_mobile());
    let (_, code) = stall_of(&m.manager, "N-01", &x.uscc).await;
    let months: Vec<String> = (1..=6).rev().map(month_back).collect();
    let unpaid: Vec<String> = (1..=5).map(month_back).collect();
    let res = post_file(
        &m.manager,
        "/api/manager/rent/import",
        ledger("N-01", &months, &unpaid).into_bytes(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // "Not my stall": five months unpaid on the market's books change nothing.
    let (_, signed) = applies(&x, &code, false).await;
    assert_eq!(
        signed.decision.view.outcome,
        shared::decision::Outcome::Offer
    );
    assert!(
        !reason_codes(&signed.decision)
            .iter()
            .any(|c| c.starts_with("RENT_ARREARS"))
    );
}

#[tokio::test]
async fn dashboard_figures_equal_the_database() {
    // The demo market: its merchants come from the merchant suites and the
    // demo, so the figures are whatever the database holds.
    let (wanshi, me) = login("wanshi", "wanshi-demo-2026").await;
    let market = me.market_id.expect("the demo manager has a market");
    let res = wanshi
        .get(e2e::url("/api/manager/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let d = res.json::<Dashboard>().await.unwrap();
    let ops = operator().await;
    let full: Dashboard = ops
        .get(e2e::url(&format!(
            "/api/manager/dashboard?market_id={market}"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let step = |d: &Dashboard, key: &str| d.funnel.iter().find(|s| s.key == key).unwrap().total;
    let m = format!("'{market}'");
    let onboarding = [
        (
            "stalls",
            format!("SELECT COUNT(*) FROM stalls WHERE market_id = {m} AND status = 'active'"),
        ),
        (
            "scanned",
            format!("SELECT COUNT(DISTINCT mobile) FROM otp_challenges WHERE market_id = {m}"),
        ),
        (
            "logged_in",
            format!("SELECT COUNT(*) FROM merchants WHERE market_id = {m}"),
        ),
        (
            "authorized",
            format!(
                "SELECT COUNT(DISTINCT c.merchant_id) FROM consents c \
                 JOIN merchants x ON x.id = c.merchant_id WHERE x.market_id = {m}"
            ),
        ),
    ];
    // Onboarding steps: exact, for the manager and the operator alike.
    for (key, sql) in &onboarding {
        let n = e2e::db_count(sql);
        assert_eq!(step(&d, key), Figure::Exact(n), "{key}");
        assert_eq!(step(&full, key), Figure::Exact(n), "{key}");
    }
    let outcomes = [
        (
            "offered",
            format!(
                "SELECT COUNT(DISTINCT d.merchant_id) FROM decisions d \
                 JOIN merchants x ON x.id = d.merchant_id \
                 WHERE x.market_id = {m} AND d.outcome = 'offer'"
            ),
        ),
        // Accepted: in the pool now, or once (it holds pool entries) and since
        // withdrawn; a bare `withdrawn` was a "not now" answer.
        (
            "accepted",
            format!(
                "SELECT COUNT(DISTINCT a.merchant_id) FROM applications a \
                 JOIN merchants x ON x.id = a.merchant_id WHERE x.market_id = {m} \
                 AND (a.status IN ('accepted', 'in_pool') OR EXISTS \
                 (SELECT 1 FROM pool_entries p WHERE p.application_id = a.id))"
            ),
        ),
        (
            "bank_outcome",
            format!(
                "SELECT COUNT(DISTINCT a.merchant_id) FROM pool_entries p \
                 JOIN applications a ON a.id = p.application_id \
                 JOIN merchants x ON x.id = a.merchant_id \
                 WHERE x.market_id = {m} AND p.outcome IS NOT NULL"
            ),
        ),
    ];
    // Outcomes: exact for the operator; for the manager exact from five up,
    // "<5" below.
    for (key, sql) in &outcomes {
        let n = e2e::db_count(sql);
        assert_eq!(step(&full, key), Figure::Exact(n), "{key}");
        assert_eq!(step(&d, key), Figure::suppressed(n), "{key}");
    }
    assert!(
        d.funnel.iter().all(|s| s.tracked),
        "every step is recorded now"
    );
    assert!(d.suppressed && !full.suppressed);
    assert_eq!(
        d.stalls_inactive,
        e2e::db_count(&format!(
            "SELECT COUNT(*) FROM stalls WHERE market_id = {m} AND status <> 'active'"
        ))
    );
    assert_eq!(d.weekly.len(), 8);
    assert_eq!(
        Figure::Exact(d.merchants.len() as i64),
        step(&d, "logged_in")
    );
    // Per merchant, the manager sees onboarding steps only.
    let count = |d: &Dashboard, stages: &[&str]| {
        d.merchants
            .iter()
            .filter(|m| stages.contains(&m.stage.as_str()))
            .count() as i64
    };
    assert_eq!(
        count(&d, &["logged_in", "verified", "authorized"]),
        d.merchants.len() as i64
    );
    assert_eq!(
        Figure::Exact(count(&d, &["authorized"])),
        step(&d, "authorized")
    );
    assert!(d.merchants.iter().all(|m| m.mobile_masked.contains("****")));
    // Managers see counts only.
    let raw = serde_json::to_string(&d).unwrap();
    for word in [
        "reasons",
        "score",
        "grade",
        "uscc",
        "\"offer\"",
        "\"decline\"",
        "\"refer\"",
    ] {
        assert!(!raw.contains(word), "dashboard exposes {word}");
    }
    let csv = wanshi
        .get(e2e::url("/api/manager/dashboard.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains(&format!(
            "在用摊位,Active stalls,{}",
            step(&d, "stalls").shown()
        )),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            "获得预授信,Pre-credit offered,{}",
            step(&d, "offered").shown()
        )),
        "{csv}"
    );

    // A new market's figures start at zero except its stalls.
    let fresh = new_market(&ops).await;
    add_stall(&fresh.manager, "N-01").await;
    let res = ops
        .get(e2e::url(&format!(
            "/api/manager/dashboard?market_id={}",
            fresh.id
        )))
        .send()
        .await
        .unwrap();
    let d = res.json::<Dashboard>().await.unwrap();
    let totals: Vec<Figure> = d.funnel.iter().map(|s| s.total).collect();
    assert_eq!(
        totals[0],
        Figure::Exact(e2e::db_count(&format!(
            "SELECT COUNT(*) FROM stalls WHERE market_id = '{}' AND status = 'active'",
            fresh.id
        )))
    );
    assert!(
        totals[1..].iter().all(|&t| t == Figure::Exact(0)),
        "{totals:?}"
    );
}

/// One merchant, declined: the market office sees that they authorized,
/// not how it ended, and "<5" wherever a count would say it; the county
/// credit office sees all of it.
#[tokio::test]
async fn a_declined_merchants_outcome_cannot_be_read_off_the_managers_dashboard() {
    let ops = operator().await;
    let m = new_market(&ops).await;
    let x = e2e::merchant::business("enforcement", &e2e::merchant::random_mobile());
    let (_, code) = stall_of(&m.manager, "D-01", &x.uscc).await;
    let (_, signed) = applies(&x, &code, true).await;
    assert_eq!(
        signed.decision.view.outcome,
        shared::decision::Outcome::Decline
    );

    let raw = m
        .manager
        .get(e2e::url("/api/manager/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let d: Dashboard = serde_json::from_str(&raw).unwrap();
    let step = |d: &Dashboard, key: &str| d.funnel.iter().find(|s| s.key == key).unwrap().clone();
    assert_eq!(d.merchants.len(), 1);
    assert_eq!(d.merchants[0].stall_number.as_deref(), Some("D-01"));
    assert_eq!(d.merchants[0].stage, "authorized");
    assert_eq!(step(&d, "authorized").total, Figure::Exact(1));
    for key in ["offered", "accepted", "bank_outcome"] {
        let s = step(&d, key);
        assert!(s.outcome, "{key}");
        assert_eq!(
            (s.total, s.this_week),
            (Figure::Below { below: 5 }, Figure::Below { below: 5 })
        );
        assert_eq!(s.total.shown(), "<5");
    }
    assert_eq!(d.offers_count, Figure::Below { below: 5 });
    assert_eq!(d.offers_total_cents, None);
    assert!(
        d.weekly
            .iter()
            .all(|w| w.offered == Figure::Below { below: 5 })
    );
    let credit = d
        .targets
        .iter()
        .find(|t| t.key == "credit_obtained")
        .unwrap();
    assert_eq!(credit.actual, None);
    for word in [
        "decline",
        "\"offer\"",
        "ENFORCEMENT",
        "\"offered\":0",
        "\"total\":0",
    ] {
        assert!(!raw.contains(word), "{word} in {raw}");
    }
    let csv = m
        .manager
        .get(e2e::url("/api/manager/dashboard.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("获得预授信,Pre-credit offered,<5,<5"), "{csv}");
    assert!(!csv.contains("decline"));

    // The county credit office: exact figures and the outcome.
    let full: Dashboard = ops
        .get(e2e::url(&format!(
            "/api/manager/dashboard?market_id={}",
            m.id
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(step(&full, "offered").total, Figure::Exact(0));
    assert_eq!(step(&full, "authorized").total, Figure::Exact(1));
    assert_eq!(full.offers_count, Figure::Exact(0));
    assert_eq!(full.offers_total_cents, Some(0));
    assert_eq!(full.merchants[0].stage, "decline");
}

#[tokio::test]
async fn cross_site_staff_requests_are_refused() {
    let ops = operator().await;
    let res = ops
        .post(e2e::url("/api/ops/markets"))
        .header("origin", "https://evil.example")
        .json(&json!({ "name": unique("x"), "office_phone": "0510-1234567", "address": "" }))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(res).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body.code, "cross_site_refused");
}
