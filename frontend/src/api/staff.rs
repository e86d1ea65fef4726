//! The staff console's calls: staff login (`/api/staff`), the operator's
//! markets and accounts (`/api/ops`) and the market manager's screens
//! (`/api/manager`). The staff session travels as an HttpOnly cookie.
//!
//! An operator works on one market at a time: every call on a market's data
//! takes `market`, sent as `?market_id=`. A manager passes `None`; the server
//! uses their own market whatever is sent.

use gloo_net::http::Request;
use serde::de::DeserializeOwned;
use shared::manager::{
    CardsRequest, Dashboard, ImportResult, MarketInput, MarketView, RentImportPreview,
    RentImportResult, StaffLogin, StaffMe, StaffUserInput, StaffUserView, StallCard,
    StallImportPreview, StallInput, StallList, StallView,
};

use super::{ApiError, delete, get, post, put, read, segment, send};

pub async fn me() -> Result<StaffMe, ApiError> {
    get("/api/staff/me").await
}

pub async fn log_in(req: &StaffLogin) -> Result<StaffMe, ApiError> {
    post("/api/staff/session", req).await
}

pub async fn log_out() -> Result<(), ApiError> {
    delete("/api/staff/session").await
}

// --- the operator: markets and accounts ---

pub async fn markets() -> Result<Vec<MarketView>, ApiError> {
    get("/api/ops/markets").await
}

pub async fn create_market(input: &MarketInput) -> Result<MarketView, ApiError> {
    post("/api/ops/markets", input).await
}

pub async fn create_staff_user(input: &StaffUserInput) -> Result<StaffUserView, ApiError> {
    post("/api/ops/users", input).await
}

// --- a market's stalls, cards, uploads and figures ---

/// `path` with the operator's market, if any.
fn in_market(path: &str, market: Option<&str>) -> String {
    match market {
        Some(m) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}market_id={}", segment(m))
        }
        None => path.to_owned(),
    }
}

/// The stall list's search box and menus; empty means "any".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StallFilter {
    pub q: String,
    pub zone: String,
    pub trade: String,
    /// `active`, `inactive` or empty.
    pub status: String,
}

pub async fn stalls(market: Option<&str>, f: &StallFilter) -> Result<StallList, ApiError> {
    let path = format!(
        "/api/manager/stalls?q={}&zone={}&trade={}&status={}",
        segment(&f.q),
        segment(&f.zone),
        segment(&f.trade),
        segment(&f.status)
    );
    get(&in_market(&path, market)).await
}

pub async fn create_stall(market: Option<&str>, input: &StallInput) -> Result<StallView, ApiError> {
    post(&in_market("/api/manager/stalls", market), input).await
}

pub async fn update_stall(
    market: Option<&str>,
    id: &str,
    input: &StallInput,
) -> Result<StallView, ApiError> {
    let path = format!("/api/manager/stalls/{}", segment(id));
    put(&in_market(&path, market), input).await
}

/// Takes a stall out of use (its code is refused) or back into use.
pub async fn set_stall_active(
    market: Option<&str>,
    id: &str,
    active: bool,
) -> Result<StallView, ApiError> {
    let what = if active { "activate" } else { "deactivate" };
    let path = format!("/api/manager/stalls/{}/{what}", segment(id));
    post(&in_market(&path, market), &()).await
}

/// A new code for a stall; the old one is refused from then on.
pub async fn reissue_code(market: Option<&str>, id: &str) -> Result<StallCard, ApiError> {
    let path = format!("/api/manager/stalls/{}/reissue", segment(id));
    post(&in_market(&path, market), &()).await
}

/// The printed cards of these stalls, QR codes included.
pub async fn cards(
    market: Option<&str>,
    stall_ids: Vec<String>,
) -> Result<Vec<StallCard>, ApiError> {
    post(
        &in_market("/api/manager/cards", market),
        &CardsRequest { stall_ids },
    )
    .await
}

pub async fn dashboard(market: Option<&str>) -> Result<Dashboard, ApiError> {
    get(&in_market("/api/manager/dashboard", market)).await
}

/// The dashboard as a CSV file: a link the browser downloads.
pub fn dashboard_csv_url(market: Option<&str>) -> String {
    in_market("/api/manager/dashboard.csv", market)
}

/// One of the two bulk uploads: a file is previewed (every row checked,
/// nothing stored), then imported whole.
pub trait Upload {
    type Preview: DeserializeOwned + 'static;
    type Done: DeserializeOwned + 'static;
    const PREVIEW: &'static str;
    const IMPORT: &'static str;
    /// A blank file with the right columns, to download.
    const TEMPLATE: &'static str;
}

/// The stall list (added or updated by stall number).
pub struct StallUpload;

impl Upload for StallUpload {
    type Preview = StallImportPreview;
    type Done = ImportResult;
    const PREVIEW: &'static str = "/api/manager/stalls/import/preview";
    const IMPORT: &'static str = "/api/manager/stalls/import";
    const TEMPLATE: &'static str = "/api/manager/stall-template.csv";
}

/// The monthly rent ledger.
pub struct RentUpload;

impl Upload for RentUpload {
    type Preview = RentImportPreview;
    type Done = RentImportResult;
    const PREVIEW: &'static str = "/api/manager/rent/import/preview";
    const IMPORT: &'static str = "/api/manager/rent/import";
    const TEMPLATE: &'static str = "/api/manager/rent-template.csv";
}

pub async fn preview_upload<U: Upload>(
    market: Option<&str>,
    bytes: &[u8],
) -> Result<U::Preview, ApiError> {
    read(send(csv(&in_market(U::PREVIEW, market), bytes)).await?).await
}

pub async fn import_upload<U: Upload>(
    market: Option<&str>,
    bytes: &[u8],
) -> Result<U::Done, ApiError> {
    read(send(csv(&in_market(U::IMPORT, market), bytes)).await?).await
}

/// The file's bytes as they are: the server detects UTF-8 or GBK.
fn csv(path: &str, bytes: &[u8]) -> Result<Request, ApiError> {
    Request::post(path)
        .header("content-type", "text/csv")
        .body(js_sys::Uint8Array::from(bytes))
        .map_err(|_| ApiError::Unexpected { status: 0 })
}
