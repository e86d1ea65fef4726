//! Pages the server rendered before the app started (`backend/src/stall_page.rs`:
//! the stall card at `/S/<code>`): the data they carry, and the moment the
//! app takes the screen over from the server's markup.

use shared::merchant::{CodeInfo, SCAN_DATA_ID, ScanAnswer, ScanPageData};
use web_sys::{Document, Element};

use crate::api::ApiError;

/// Where the server's markup sits; the app removes it when it takes over.
const SERVER_MARKUP_ID: &str = "ssr";
/// Where the app draws on a server-rendered page until then.
const APP_HOST_ID: &str = "app";

fn document() -> Option<Document> {
    web_sys::window().and_then(|w| w.document())
}

/// The element to mount the app in: on a server-rendered page, a hidden one
/// beside the server's markup, so the screen shows only the server's until
/// the app has drawn all of its first screen ([`take_over`]); elsewhere
/// `None` (the body).
pub fn app_host() -> Option<Element> {
    let doc = document()?;
    doc.get_element_by_id(SERVER_MARKUP_ID)?;
    let host = doc.create_element("div").ok()?;
    host.set_id(APP_HOST_ID);
    host.set_attribute("hidden", "").ok()?;
    doc.body()?.append_child(&host).ok()?;
    Some(host)
}

/// Swaps the app's first screen in for the server's, in one task: Yew may
/// yield to the browser between drawing and running effects, and a paint
/// then must not show both, or neither.
pub fn take_over() {
    let Some(doc) = document() else { return };
    if let Some(server) = doc.get_element_by_id(SERVER_MARKUP_ID) {
        server.remove();
        if let Some(host) = doc.get_element_by_id(APP_HOST_ID) {
            let _ = host.remove_attribute("hidden");
        }
    }
}

/// The answer the server rendered for `code`, read once: a later visit to
/// the screen asks the server afresh.
pub fn scan_answer(code: &str) -> Option<Result<CodeInfo, ApiError>> {
    let block = document()?.get_element_by_id(SCAN_DATA_ID)?;
    block.remove();
    let data: ScanPageData = serde_json::from_str(&block.text_content()?).ok()?;
    if data.code != code {
        return None;
    }
    Some(match data.answer {
        ScanAnswer::Found(info) => Ok(info),
        ScanAnswer::Refused { status, error } => Err(ApiError::Server {
            status,
            body: error,
        }),
    })
}
