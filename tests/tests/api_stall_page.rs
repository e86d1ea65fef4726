//! The page a stall's QR code opens (`/S/<code>`, and `/s/<code>` for codes
//! printed before the compact format), as it crosses the network: the stall
//! card already in the HTML, small enough for the first round trip, with the
//! same answer as the API in a non-executable data block; a refused code as
//! a bilingual page, counted once for the client's address (no audit row).

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use shared::merchant::{CodeInfo, SCAN_DATA_ID, ScanAnswer, ScanPageData};

/// TCP's initial window: ten segments of about 1.4 KB.
const FIRST_ROUND_TRIP: usize = 14 * 1024;

struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    /// Bytes on the wire (gzip).
    wire: usize,
    html: String,
}

/// `path` as a phone asks for it (accepting gzip), without the client
/// unpacking it, so the bytes that cross the network can be counted.
async fn get_page(path: &str) -> Page {
    let res = reqwest::Client::new()
        .get(e2e::url(path))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.unwrap();
    assert_eq!(
        headers
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip"),
        "{path}"
    );
    let mut html = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut html)
        .unwrap();
    Page {
        status,
        headers,
        wire: bytes.len(),
        html,
    }
}

fn data_block(html: &str) -> ScanPageData {
    let open = format!("<script type=\"application/json\" id=\"{SCAN_DATA_ID}\">");
    let start = html.find(&open).expect("the data block") + open.len();
    let end = html[start..].find("</script>").unwrap() + start;
    serde_json::from_str(&html[start..end]).unwrap()
}

fn header<'a>(page: &'a Page, name: &str) -> &'a str {
    page.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn a_stall_page_carries_the_card_and_its_answer_in_the_first_round_trip() {
    let code = e2e::stall_code("A-01");
    let page = get_page(&format!("/S/{code}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(header(&page, "content-type").starts_with("text/html"));
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert!(page.wire <= FIRST_ROUND_TRIP, "{} bytes gzipped", page.wire);
    let html = &page.html;
    assert!(html.contains("id=\"code-stall\">A-01<"), "{html}");
    assert!(html.contains("这是我的摊位吗？"));
    // The styles are in the page: nothing else to fetch before painting.
    assert!(html.contains("<style>"));
    assert!(!html.contains("rel=stylesheet"));
    assert!(!html.contains("id=boot"), "no spinner over the card");
    // The app is started by the external loader, not by an inline script.
    assert!(html.contains("type=module") && html.contains("src=/loader-"));
    assert!(!html.contains("import init"));

    // The data block is the API's answer, exactly.
    let api: CodeInfo = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = data_block(html);
    assert_eq!(data.code, code);
    assert_eq!(data.answer, ScanAnswer::Found(api.clone()));
    let phone = format!("href=\"tel:{}\"", api.market_office_phone);
    assert!(html.contains(&phone), "{phone}");
}

#[tokio::test]
async fn a_refused_code_gets_a_bilingual_page_and_is_counted_once() {
    let code = e2e::stall_code("A-05");
    let last = code.chars().last().unwrap();
    let forged = format!(
        "{}{}",
        &code[..code.len() - 1],
        if last == 'A' { 'B' } else { 'A' }
    );
    let page = get_page(&format!("/S/{forged}")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let html = &page.html;
    let zh = html.find("此二维码无效").expect("Chinese");
    let en = html.find("This code is not valid").expect("English");
    assert!(zh < en, "Chinese first");
    assert!(!html.contains("id=\"code-info\""));
    let data = data_block(html);
    let ScanAnswer::Refused { status, error } = data.answer else {
        panic!("{:?}", data.answer)
    };
    assert_eq!((status, error.code.as_str()), (400, "code_invalid"));
    assert!(html.contains(&error.message_zh) && html.contains(&error.message_en));

    // One refusal, counted once for the client's address (the count's row
    // keeps the id of the latest request counted), as when the app asked the
    // API; no audit row: refused anonymous traffic adds no row per request.
    let request = header(&page, "x-request-id").to_owned();
    assert!(!request.is_empty());
    let counted = e2e::db_text(&format!(
        "SELECT action || '|' || reason || '|' || client_ip FROM refusal_counts \
         WHERE last_request_id = '{request}'"
    ));
    assert_eq!(counted, "stall_code.refused|invalid|127.0.0.1");
    let rows = e2e::db_count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE request_id = '{request}'"
    ));
    assert_eq!(rows, 0);
    // The same refusal again: the count grows, the rows do not.
    let count_of = || {
        e2e::db_count(
            "SELECT COALESCE(SUM(count), 0) FROM refusal_counts \
             WHERE action = 'stall_code.refused' AND client_ip = '127.0.0.1'",
        )
    };
    let all_rows = || e2e::db_count("SELECT COUNT(*) FROM refusal_counts");
    let (count, rows) = (count_of(), all_rows());
    for _ in 0..20 {
        let again = get_page(&format!("/S/{forged}")).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
    }
    assert!(count_of() >= count + 20);
    assert!(all_rows() <= rows + 1, "at most a new hour's row");

    // Not even text, or far too long: refused the same way, before any
    // lookup or count, and not echoed into the page.
    let long = "A".repeat(5000);
    for path in ["/S/%FF%FE".to_owned(), format!("/S/{long}")] {
        let page = get_page(&path).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.html.contains("此二维码无效"));
        assert!(!page.html.contains(&long));
        assert_eq!(data_block(&page.html).code, "");
        let request = header(&page, "x-request-id").to_owned();
        assert_eq!(
            e2e::db_count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE request_id = '{request}'"
            )) + e2e::db_count(&format!(
                "SELECT COUNT(*) FROM refusal_counts WHERE last_request_id = '{request}'"
            )),
            0
        );
    }
}

/// A stall's code in the legacy format (`/s/<payload>.<tag>`), made from the
/// server's key file the way it was printed before the compact format:
/// version 1, key id, kind 1, market id, stall id, code version (big-endian),
/// HMAC-SHA256 truncated to 128 bits, both parts base64url.
fn legacy_code(stall: &str) -> String {
    let row = e2e::db_text(&format!(
        "SELECT id, market_id, code_version FROM stalls WHERE number = '{stall}' \
         ORDER BY created_at LIMIT 1"
    ));
    let [stall_id, market_id, version]: [&str; 3] =
        row.split('|').collect::<Vec<_>>().try_into().unwrap();
    let key_text = std::fs::read_to_string(e2e::data_dir().join("stall-code.key")).unwrap();
    let key = hex::decode(key_text.trim()).unwrap();
    let id_bytes = |id: &str| hex::decode(id.split_once('_').unwrap().1).unwrap();
    let mut payload = vec![1u8];
    payload.push(<sha2::Sha256 as sha2::Digest>::digest(&key)[0]);
    payload.push(1);
    payload.extend(id_bytes(market_id));
    payload.extend(id_bytes(stall_id));
    payload.extend(version.parse::<u32>().unwrap().to_be_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(&payload);
    let tag = mac.finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(&tag[..16])
    )
}

#[tokio::test]
async fn codes_printed_in_the_legacy_format_still_open_their_stall() {
    let code = legacy_code("A-06");
    let page = get_page(&format!("/s/{code}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"code-stall\">A-06<"));
    let res = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let info: CodeInfo = res.json().await.unwrap();
    assert_eq!(info.stall_number.as_deref(), Some("A-06"));
    // The compact code of the same stall names the same stall.
    let compact = e2e::stall_code("A-06");
    assert_ne!(compact, code);
    assert!(compact.len() < code.len() / 2 + 10, "{compact}");
}
