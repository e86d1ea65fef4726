//! `/api/manager/...`: the market manager's console. A manager works on
//! their own market whatever the request says; an operator names one with
//! `?market_id=`. Every service call gets that market id and filters by it,
//! so another market's stall is a 404.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use shared::manager::{
    CardsRequest, ImportResult, RentImportPreview, RentImportResult, STATUS_ACTIVE,
    STATUS_INACTIVE, StallCard, StallImportPreview, StallInput, StallList, StallView,
};

use shared::limits::{Bounded, Bounds, MAX_ID_LEN};

use crate::db;
use crate::error::{ApiJson, AppError, AppResult};
use crate::request::{RequestId, StaffSession};
use crate::services::dashboard::{self, Dashboard};
use crate::services::stalls::{self, StallFilter};
use crate::services::{rent_ledger, stall_import};
use crate::state::AppState;

/// Uploads: 10,000 stalls are about 1 MB; room for a year of rent rows.
const UPLOAD_LIMIT: usize = shared::limits::MAX_BODY_UPLOAD;

/// An uploaded file's bytes; one over the cap is the same JSON error as
/// everything else.
fn upload(body: Result<Bytes, BytesRejection>) -> AppResult<Bytes> {
    body.map_err(|_| {
        AppError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_unreadable",
            "文件过大或无法读取",
            "The file is too large or could not be read",
        )
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stalls", get(list).post(create))
        .route("/stalls/{id}", get(one).put(update))
        .route("/stalls/{id}/deactivate", post(deactivate))
        .route("/stalls/{id}/activate", post(activate))
        .route("/stalls/{id}/reissue", post(reissue))
        .route("/stalls/{id}/card", get(card))
        .route("/cards", post(cards))
        .route("/stall-template.csv", get(template))
        .route(
            "/stalls/import/preview",
            post(import_preview).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route(
            "/stalls/import",
            post(import_commit).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/rent-template.csv", get(rent_template))
        .route(
            "/rent/import/preview",
            post(rent_preview).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route(
            "/rent/import",
            post(rent_commit).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/dashboard", get(dashboard_json))
        .route("/dashboard.csv", get(dashboard_csv))
}

#[derive(Debug, Default, Deserialize)]
struct MarketQuery {
    market_id: Option<String>,
}

/// A malformed query string is the same JSON error as everything else, and
/// one over its bounds a 422.
fn query<T: Bounded>(q: Result<Query<T>, QueryRejection>) -> AppResult<T> {
    let t = q.map(|Query(t)| t).map_err(|_| {
        AppError::bad_request("bad_query", "请求参数有误", "The query string is not valid")
    })?;
    t.check_bounds().map_err(AppError::validation)?;
    Ok(t)
}

impl Bounded for MarketQuery {
    fn bounds(&self, b: &mut Bounds) {
        b.opt_text("market_id", self.market_id.as_deref(), MAX_ID_LEN);
    }
}

fn scope(s: &StaffSession, q: Result<Query<MarketQuery>, QueryRejection>) -> AppResult<String> {
    let q = query(q)?;
    s.market_scope(q.market_id.as_deref())
}

async fn list(
    State(state): State<AppState>,
    s: StaffSession,
    q: Result<Query<StallFilter>, QueryRejection>,
) -> AppResult<ApiJson<StallList>> {
    let filter = query(q)?;
    let market = s.market_scope(filter.market_id.as_deref())?;
    db::run(&state.pool, move |conn| {
        stalls::list(conn, &market, &filter)
    })
    .await
    .map(ApiJson)
}

async fn create(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
    ApiJson(input): ApiJson<StallInput>,
) -> AppResult<ApiJson<StallView>> {
    let market = scope(&s, q)?;
    db::run(&state.pool, move |conn| {
        stalls::create(conn, &market, &s.actor(), &input, rid.get())
    })
    .await
    .map(ApiJson)
}

async fn one(
    State(state): State<AppState>,
    s: StaffSession,
    Path(id): Path<String>,
    q: Result<Query<MarketQuery>, QueryRejection>,
) -> AppResult<ApiJson<StallView>> {
    let market = scope(&s, q)?;
    db::run(&state.pool, move |conn| {
        stalls::get(conn, &market, &id).map(stalls::view)
    })
    .await
    .map(ApiJson)
}

async fn update(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    Path(id): Path<String>,
    q: Result<Query<MarketQuery>, QueryRejection>,
    ApiJson(input): ApiJson<StallInput>,
) -> AppResult<ApiJson<StallView>> {
    let market = scope(&s, q)?;
    db::run(&state.pool, move |conn| {
        stalls::update(conn, &market, &id, &s.actor(), &input, rid.get())
    })
    .await
    .map(ApiJson)
}

async fn set_status(
    state: AppState,
    rid: RequestId,
    s: StaffSession,
    id: String,
    q: Result<Query<MarketQuery>, QueryRejection>,
    status: &'static str,
) -> AppResult<ApiJson<StallView>> {
    let market = scope(&s, q)?;
    db::run(&state.pool, move |conn| {
        stalls::set_status(conn, &market, &id, &s.actor(), status, rid.get())
    })
    .await
    .map(ApiJson)
}

async fn deactivate(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    Path(id): Path<String>,
    q: Result<Query<MarketQuery>, QueryRejection>,
) -> AppResult<ApiJson<StallView>> {
    set_status(state, rid, s, id, q, STATUS_INACTIVE).await
}

async fn activate(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    Path(id): Path<String>,
    q: Result<Query<MarketQuery>, QueryRejection>,
) -> AppResult<ApiJson<StallView>> {
    set_status(state, rid, s, id, q, STATUS_ACTIVE).await
}

async fn reissue(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    Path(id): Path<String>,
    q: Result<Query<MarketQuery>, QueryRejection>,
) -> AppResult<ApiJson<StallCard>> {
    let market = scope(&s, q)?;
    let auth = state.auth.clone();
    let public_url = state.config.public_url.clone();
    db::run(&state.pool, move |conn| {
        stalls::reissue(
            conn,
            &auth,
            &public_url,
            &market,
            &id,
            &s.actor(),
            rid.get(),
        )
    })
    .await
    .map(ApiJson)
}

async fn card(
    State(state): State<AppState>,
    s: StaffSession,
    Path(id): Path<String>,
    q: Result<Query<MarketQuery>, QueryRejection>,
) -> AppResult<ApiJson<StallCard>> {
    let market = scope(&s, q)?;
    let auth = state.auth.clone();
    let public_url = state.config.public_url.clone();
    let mut cards = db::run(&state.pool, move |conn| {
        stalls::cards(conn, &auth, &public_url, &market, &[id])
    })
    .await?;
    cards.pop().map(ApiJson).ok_or_else(AppError::not_found)
}

async fn cards(
    State(state): State<AppState>,
    s: StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
    ApiJson(req): ApiJson<CardsRequest>,
) -> AppResult<ApiJson<Vec<StallCard>>> {
    let market = scope(&s, q)?;
    if req.stall_ids.is_empty() {
        return Err(AppError::validation(vec![shared::error::FieldError::new(
            "stall_ids",
            "count",
            "请选择1至400个摊位",
            "Choose 1 to 400 stalls",
        )]));
    }
    let auth = state.auth.clone();
    let public_url = state.config.public_url.clone();
    db::run(&state.pool, move |conn| {
        stalls::cards(conn, &auth, &public_url, &market, &req.stall_ids)
    })
    .await
    .map(ApiJson)
}

fn csv_download(body: Vec<u8>, filename: &str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

async fn template(_: StaffSession) -> Response {
    csv_download(stall_import::template_csv(), "stall-template.csv")
}

async fn rent_template(_: StaffSession) -> Response {
    csv_download(rent_ledger::template_csv(), "rent-template.csv")
}

async fn import_preview(
    State(state): State<AppState>,
    s: StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<ApiJson<StallImportPreview>> {
    let market = scope(&s, q)?;
    let body = upload(body)?;
    db::run(&state.pool, move |conn| {
        stall_import::preview(conn, &market, &body)
    })
    .await
    .map(ApiJson)
}

async fn import_commit(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<ApiJson<ImportResult>> {
    let market = scope(&s, q)?;
    let body = upload(body)?;
    db::run(&state.pool, move |conn| {
        stall_import::commit(conn, &market, &s.actor(), &body, rid.get())
    })
    .await
    .map(ApiJson)
}

async fn rent_preview(
    State(state): State<AppState>,
    s: StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<ApiJson<RentImportPreview>> {
    let market = scope(&s, q)?;
    let body = upload(body)?;
    db::run(&state.pool, move |conn| {
        rent_ledger::preview(conn, &market, &body)
    })
    .await
    .map(ApiJson)
}

async fn rent_commit(
    State(state): State<AppState>,
    rid: RequestId,
    s: StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<ApiJson<RentImportResult>> {
    let market = scope(&s, q)?;
    let body = upload(body)?;
    db::run(&state.pool, move |conn| {
        rent_ledger::commit(conn, &market, &s.actor(), &body, rid.get())
    })
    .await
    .map(ApiJson)
}

/// A manager: their market. An operator: the market asked for, or all.
fn dashboard_scope(
    s: &StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
) -> AppResult<Option<String>> {
    let q = query(q)?;
    if s.is_operator() {
        Ok(q.market_id.filter(|m| !m.is_empty()))
    } else {
        s.market_scope(None).map(Some)
    }
}

/// The county credit office sees exact figures; everyone else who reaches
/// a dashboard (a market manager) the suppressed ones.
fn dashboard_viewer(s: &StaffSession) -> dashboard::Viewer {
    if s.is_operator() {
        dashboard::Viewer::Operator
    } else {
        dashboard::Viewer::Manager
    }
}

async fn dashboard_json(
    State(state): State<AppState>,
    s: StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
) -> AppResult<ApiJson<Dashboard>> {
    let market = dashboard_scope(&s, q)?;
    let viewer = dashboard_viewer(&s);
    db::run(&state.pool, move |conn| {
        dashboard::compute(conn, market.as_deref(), viewer, chrono::Utc::now())
    })
    .await
    .map(ApiJson)
}

async fn dashboard_csv(
    State(state): State<AppState>,
    s: StaffSession,
    q: Result<Query<MarketQuery>, QueryRejection>,
) -> AppResult<Response> {
    let market = dashboard_scope(&s, q)?;
    let viewer = dashboard_viewer(&s);
    let d = db::run(&state.pool, move |conn| {
        dashboard::compute(conn, market.as_deref(), viewer, chrono::Utc::now())
    })
    .await?;
    Ok(csv_download(dashboard::to_csv(&d), "dashboard.csv"))
}
