//! `/S/<code>` (and the legacy `/s/<code>`): the page a stall's QR code
//! opens, rendered on the server so the stall card ("这是我的摊位吗？") is on
//! the screen after one round trip, before the WASM bundle has even started
//! to download. It is the merchant app's own `index.html` with the card (or
//! the "this code is not valid" page) in its body, the stylesheet inlined
//! (no second request before the first paint), and the same answer as data
//! in a non-executable `<script type="application/json">` block; the app
//! reads that block instead of asking `/api/m/codes/…` again, and takes the
//! screen over from the server's markup (`frontend/src/pages/scan.rs`).
//!
//! The markup mirrors the app's (`components/layout.rs`, `pages/scan.rs`):
//! same elements, ids and classes, so the takeover does not move anything.
//! Both languages are in it, and `style.css` shows the one the saved setting
//! picks: the app keeps its settings in an `mc_prefs` cookie too
//! (`frontend/src/state.rs`, `loader.js`), and the page's `<html lang
//! class>` is rendered from it, since no inline script may apply them before
//! the first paint (`security_headers`). Every value is
//! escaped by `maud`; the data block escapes `<`, `>` and `&` as JSON
//! `\u` escapes, so no text can close the block.

use std::path::Path;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, PreEscaped, html};
use shared::error::ApiErrorBody;
use shared::merchant::{CodeInfo, SCAN_DATA_ID, ScanAnswer, ScanPageData};
use tower_http::compression::CompressionLayer;

use crate::db;
use crate::error::AppError;
use crate::request::{ClientInfo, RequestId};
use crate::services::login;
use crate::state::AppState;

/// Longer than any code (compact 37 characters, legacy 75): such a path is
/// neither looked up nor echoed into the page.
const MAX_CODE_ECHO: usize = 128;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/S/{code}", get(page))
        .route("/s/{code}", get(page))
        // Gzip when the phone accepts it: the page and its inlined styles
        // then fit in TCP's first window (about 14 KB).
        .layer(CompressionLayer::new())
}

async fn page(
    State(state): State<AppState>,
    rid: RequestId,
    client: ClientInfo,
    headers: HeaderMap,
    code: Result<UrlPath<String>, PathRejection>,
) -> Response {
    let prefs = Prefs::from_headers(&headers);
    let Ok(shell) = Shell::load(&state.config.dist_dir).await else {
        // No built app (an API-only deployment): nothing to render into.
        return StatusCode::NOT_FOUND.into_response();
    };
    let (code, result) = match code {
        Ok(UrlPath(code)) if code.len() <= MAX_CODE_ECHO => {
            let auth = state.auth.clone();
            let text = code.clone();
            let result = db::run(&state.pool, move |conn| {
                login::code_info(conn, &auth, &text, &client.ip, rid.get())
            })
            .await;
            (code, result)
        }
        // Not even text (bad percent-encoding), or far longer than any code:
        // refused like any unreadable code, without a lookup, and not echoed
        // into the page. (Like the API's path rejection, not counted here;
        // the app, finding no answer for its path, asks the API, which
        // refuses and counts it once.)
        _ => (String::new(), Err(invalid_code())),
    };
    let (status, answer) = match result {
        Ok(info) => (StatusCode::OK, ScanAnswer::Found(info)),
        Err(e) if e.status.is_client_error() => (
            e.status,
            ScanAnswer::Refused {
                status: e.status.as_u16(),
                error: e.body.clone(),
            },
        ),
        Err(e) => {
            // The database is away: the plain app shell asks again itself
            // and offers a retry.
            tracing::error!(error = %e, "stall page: serving the app without the card");
            let page = prefs.apply(shell.plain());
            return html_response(StatusCode::OK, page, shell.policy(&state));
        }
    };
    let data = ScanPageData { code, answer };
    let page = prefs.apply(shell.render(&data));
    html_response(status, page, shell.policy(&state))
}

/// The merchant's saved settings, from the `mc_prefs` cookie (`zh`, `en`,
/// `zh.large`, `en.large`; anything else is the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Prefs {
    english: bool,
    large_text: bool,
}

impl Prefs {
    fn from_headers(headers: &HeaderMap) -> Self {
        let value = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == "mc_prefs")
            .map(|(_, value)| value.trim());
        let (lang, large) = match value {
            Some(v) => v.split_once('.').unwrap_or((v, "")),
            None => return Self::default(),
        };
        Self {
            english: lang == "en",
            large_text: large == "large",
        }
    }

    /// The page with its `<html>` tag saying the language and text size, as
    /// `state.rs` sets them once the app runs.
    fn apply(self, page: String) -> String {
        let Some(start) = page.find("<html") else {
            return page;
        };
        let Some(end) = page[start..].find('>').map(|i| start + i + 1) else {
            return page;
        };
        let lang = if self.english { "en" } else { "zh-CN" };
        let class = if self.large_text {
            " class=\"large\""
        } else {
            ""
        };
        format!(
            "{}<html lang=\"{lang}\"{class}>{}",
            &page[..start],
            &page[end..]
        )
    }
}

fn invalid_code() -> AppError {
    AppError::bad_request(
        "code_invalid",
        "无法识别这个码，请确认扫描的是市场发放的摊位码",
        "This code is not recognised; please scan a stall code issued by the market",
    )
}

fn html_response(status: StatusCode, body: String, policy: HeaderValue) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // The answer changes when a code is reissued or a stall edited.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // The inlined stylesheet, allowed by its hash.
            (header::CONTENT_SECURITY_POLICY, policy),
        ],
        body,
    )
        .into_response()
}

/// The built `index.html`, cut around its body, with its stylesheet inlined.
/// Read on every request: it is small, and a rebuilt app (new hashed asset
/// names) is picked up without a restart.
struct Shell {
    /// The page up to and including `<body…>`.
    head: String,
    /// The body Trunk wrote (the boot spinner), for the plain shell.
    body: String,
    /// `</body></html>`.
    tail: String,
    /// The stylesheets inlined into `head`, as inlined.
    styles: Vec<String>,
}

impl Shell {
    async fn load(dist: &Path) -> Result<Self, String> {
        let index = tokio::fs::read_to_string(dist.join("index.html"))
            .await
            .map_err(|e| e.to_string())?;
        let mut stylesheets = Vec::new();
        for href in stylesheet_links(&index) {
            // Only the app's own files, by their served path.
            let Some(name) = href.strip_prefix('/').filter(|n| is_plain_file_name(n)) else {
                continue;
            };
            if let Ok(css) = tokio::fs::read_to_string(dist.join(name)).await {
                stylesheets.push((href.to_owned(), css));
            }
        }
        Self::from_parts(&index, &stylesheets)
    }

    fn from_parts(index: &str, stylesheets: &[(String, String)]) -> Result<Self, String> {
        let body_at = index.find("<body").ok_or("no <body> in index.html")?;
        let body_open_end = index[body_at..]
            .find('>')
            .map(|i| body_at + i + 1)
            .ok_or("unclosed <body>")?;
        let body_close = index.rfind("</body>").ok_or("no </body> in index.html")?;
        let mut head = index[..body_open_end].to_owned();
        let mut styles = Vec::new();
        for (href, css) in stylesheets {
            if css.contains("</") {
                continue;
            }
            if let Some((start, end)) = find_link(&head, href) {
                head.replace_range(start..end, &format!("<style>{css}</style>"));
                styles.push(css.clone());
            }
        }
        Ok(Self {
            head,
            body: index[body_open_end..body_close].to_owned(),
            tail: index[body_close..].to_owned(),
            styles,
        })
    }

    /// The Content-Security-Policy of a page with these inlined styles.
    fn policy(&self, state: &AppState) -> HeaderValue {
        let styles: Vec<&str> = self.styles.iter().map(String::as_str).collect();
        crate::security_headers::policy_with_styles(&state.config, &styles)
    }

    fn plain(&self) -> String {
        format!("{}{}{}", self.head, self.body, self.tail)
    }

    fn render(&self, data: &ScanPageData) -> String {
        let head = replace_title(&self.head, "确认摊位 · 市场码");
        let content = match &data.answer {
            ScanAnswer::Found(info) => card(info),
            ScanAnswer::Refused { error, .. } => refused(error),
        };
        let json = serde_json::to_string(data)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        let body = html! {
            (layout(content))
            script type="application/json" id=(SCAN_DATA_ID) { (PreEscaped(json)) }
        };
        format!("{head}{}{}", body.into_string(), self.tail)
    }
}

/// The `href` of every `<link rel=stylesheet>` (Trunk's minified HTML leaves
/// attribute values unquoted where it can).
fn stylesheet_links(html: &str) -> Vec<&str> {
    tags(html, "<link")
        .filter(|(_, tag)| attr(tag, "rel").is_some_and(|r| r.eq_ignore_ascii_case("stylesheet")))
        .filter_map(|(_, tag)| attr(tag, "href"))
        .collect()
}

/// The byte range of the `<link rel=stylesheet>` naming `href`.
fn find_link(html: &str, href: &str) -> Option<(usize, usize)> {
    tags(html, "<link")
        .find(|(_, tag)| {
            attr(tag, "href") == Some(href)
                && attr(tag, "rel").is_some_and(|r| r.eq_ignore_ascii_case("stylesheet"))
        })
        .map(|(start, tag)| (start, start + tag.len()))
}

/// Every tag starting with `open` (e.g. `<link`), with its offset.
fn tags<'a>(html: &'a str, open: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    html.match_indices(open).filter_map(move |(start, _)| {
        let end = html[start..].find('>')?;
        Some((start, &html[start..start + end + 1]))
    })
}

/// An attribute's value in one tag: `name=value`, `name="value"` or
/// `name='value'`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].chars().next_back();
        let after = &rest[i + name.len()..];
        rest = after;
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
            _ => value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or("")
                .trim_end_matches('/'),
        });
    }
    None
}

fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.')
}

fn replace_title(head: &str, title: &str) -> String {
    match (head.find("<title>"), head.find("</title>")) {
        (Some(a), Some(b)) if a < b => format!(
            "{}<title>{}</title>{}",
            &head[..a],
            html! { (title) }.into_string(),
            &head[b + "</title>".len()..]
        ),
        _ => head.to_owned(),
    }
}

/// Both languages; `style.css` hides the one not chosen.
fn both(zh: &str, en: &str) -> Markup {
    html! {
        span.zh { (zh) }
        span.en lang="en" { (en) }
    }
}

/// The app's `Layout`, in a wrapper the app removes when it takes over.
fn layout(content: Markup) -> Markup {
    html! {
        div id="ssr" {
            header.topbar {
                a.brand href="/" {
                    img src="/icon.svg" alt="" width="28" height="28";
                    span { (both("市场码", "Market Code")) }
                }
                // Labelled in the other language, as in the app.
                button.switch id="lang-toggle" type="button" {
                    span.zh lang="en" { "English" }
                    span.en lang="zh-CN" { "中文" }
                }
                button.switch id="large-text-toggle" type="button" {
                    (both("大字", "Large text"))
                }
            }
            main id="content" { (content) }
            footer {
                p { (both(
                    "宜兴市信用体系建设试点 · 所有数据查询均经您授权并留痕。",
                    "Yixing credit pilot · every data access needs your consent and is logged.",
                )) }
            }
        }
    }
}

/// `pages/scan.rs`, the "is this your stall?" card.
fn card(info: &CodeInfo) -> Markup {
    html! {
        section id="scan" {
            h1 { (both("这是我的摊位吗？", "Is this your stall?")) }
            div.card id="code-info" {
                dl.facts {
                    dt { (both("市场", "Market")) }
                    dd id="code-market" { (info.market_name) }
                    dt { (both("摊位号", "Stall")) }
                    dd id="code-stall" {
                        @match &info.stall_number {
                            Some(n) => (n),
                            None => (both("（市场通用码）", "(market-wide code)")),
                        }
                    }
                    @if let Some(zone) = &info.zone {
                        dt { (both("区域", "Zone")) }
                        dd id="code-zone" { (zone) }
                    }
                    @if let Some(trade) = &info.trade {
                        dt { (both("经营类别", "Trade")) }
                        dd id="code-trade" { (trade) }
                    }
                    dt { (both("管理处电话", "Office phone")) }
                    dd {
                        a id="code-phone" href={ "tel:" (info.market_office_phone) } {
                            (info.market_office_phone)
                        }
                    }
                }
            }
            div.row {
                button.btn id="confirm-stall" type="button" { (both("是，是我的", "Yes, it is mine")) }
                button.btn.secondary id="deny-stall" type="button" { (both("不是", "No")) }
            }
            noscript {
                p.muted {
                    "请开启 JavaScript 后继续。"
                    span lang="en" { " Please enable JavaScript to continue." }
                }
            }
        }
    }
}

/// `pages/scan.rs`'s refusal: both languages at once, Chinese first.
fn refused(error: &ApiErrorBody) -> Markup {
    html! {
        section id="code-invalid" {
            h1 { "此二维码无效" }
            p { "请联系市场管理处。" }
            p lang="en" { "This code is not valid. Please ask the market office." }
            p.muted id="code-invalid-reason" { (error.message_zh) }
            p.muted lang="en" { (error.message_en) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "<!doctype html><html lang=zh-CN><meta charset=utf-8>\
        <title>市场码 · Market Code</title>\
        <link href=/style-0123456789abcdef.css integrity=sha384-x rel=stylesheet>\
        <link href=/manifest.webmanifest rel=manifest>\
        </head><body><div class=boot id=boot role=status></div></body></html>";

    fn shell() -> Shell {
        Shell::from_parts(
            INDEX,
            &[(
                "/style-0123456789abcdef.css".to_owned(),
                "body{color:red}".to_owned(),
            )],
        )
        .unwrap()
    }

    fn info(name: &str) -> CodeInfo {
        CodeInfo {
            market_name: name.to_owned(),
            market_office_phone: "0510-1234\"><script>x</script>".to_owned(),
            stall_number: Some("A-01".to_owned()),
            zone: Some("A".to_owned()),
            trade: None,
        }
    }

    #[test]
    fn the_saved_settings_are_on_the_html_tag_from_the_first_byte() {
        let prefs = |cookie: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
            Prefs::from_headers(&h)
        };
        let page = shell().plain();
        assert!(
            Prefs::default()
                .apply(page.clone())
                .contains("<html lang=\"zh-CN\"><meta")
        );
        let en = prefs("a=1; mc_prefs=en.large; b=2").apply(page.clone());
        assert!(
            en.starts_with("<!doctype html><html lang=\"en\" class=\"large\"><meta"),
            "{en}"
        );
        assert!(
            prefs("mc_prefs=en")
                .apply(page.clone())
                .contains("<html lang=\"en\"><meta")
        );
        for odd in [
            "mc_prefs=fr",
            "mc_prefs=\"><script>",
            "xmc_prefs=en",
            "mc_prefs=zh.huge",
        ] {
            assert_eq!(prefs(odd), Prefs::default(), "{odd}");
        }
    }

    #[test]
    fn finds_stylesheets_in_minified_and_quoted_html() {
        assert_eq!(stylesheet_links(INDEX), ["/style-0123456789abcdef.css"]);
        assert_eq!(
            stylesheet_links(r#"<link rel="stylesheet" href="/a b.css"><link rel='icon' href=/i>"#),
            ["/a b.css"]
        );
        assert_eq!(attr("<link data-href=x href=y>", "href"), Some("y"));
        assert_eq!(attr("<link href=y/>", "href"), Some("y"));
        assert!(!is_plain_file_name("../secret"));
        assert!(!is_plain_file_name("a/b.css"));
    }

    #[test]
    fn inlines_the_stylesheet_and_keeps_the_rest() {
        let s = shell();
        assert!(s.head.contains("<style>body{color:red}</style>"));
        assert!(!s.head.contains("rel=stylesheet"));
        assert!(s.head.contains("rel=manifest"));
        assert!(s.plain().contains("id=boot"));
        // A stylesheet that could close the element is left as a link.
        let s = Shell::from_parts(
            INDEX,
            &[(
                "/style-0123456789abcdef.css".to_owned(),
                "a{}</style><script>".to_owned(),
            )],
        )
        .unwrap();
        assert!(s.head.contains("rel=stylesheet"));
    }

    #[test]
    fn every_value_is_escaped_and_the_data_block_cannot_be_closed() {
        let hostile = "石材</script><script>alert(1)</script>&amp;<!--";
        let data = ScanPageData {
            code: "ABC</script>".to_owned(),
            answer: ScanAnswer::Found(info(hostile)),
        };
        let page = shell().render(&data);
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert_eq!(page.matches("</script>").count(), 1);
        assert!(page.contains("石材&lt;/script&gt;"));
        assert!(!page.contains("<!--"));
        assert!(!page.contains("id=boot"), "the spinner is not shown");
        assert!(page.contains("<title>确认摊位 · 市场码</title>"));
        // The block reads back as the same data.
        let start = page.find("id=\"scan-data\">").unwrap() + "id=\"scan-data\">".len();
        let end = page[start..].find("</script>").unwrap() + start;
        let back: ScanPageData = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn a_refusal_is_bilingual_with_chinese_first() {
        let e = invalid_code();
        let page = shell().render(&ScanPageData {
            code: "x".to_owned(),
            answer: ScanAnswer::Refused {
                status: 400,
                error: e.body.clone(),
            },
        });
        let zh = page.find("此二维码无效").unwrap();
        let en = page.find("This code is not valid").unwrap();
        assert!(zh < en);
        assert!(page.contains(&e.body.message_zh));
        assert!(page.contains(&e.body.message_en));
        assert!(!page.contains("id=\"code-info\""));
    }
}
