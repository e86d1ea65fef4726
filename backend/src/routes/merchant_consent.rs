//! `/api/m/...` after the profile: the letter, signing and withdrawing
//! consents, the decision, and the application to the candidate pool.
//! Served under `/api/m` beside `merchant.rs` (same caller, same session).
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/letter` | current letter, categories, banks |
//! | GET, POST | `/consents` | my consents; sign (Idempotency-Key) → consent + decision |
//! | GET | `/consents/{id}` | the signed letter |
//! | POST | `/consents/{id}/withdraw` | withdraw (repeatable) |
//! | GET | `/consents/{id}/reads` | every data read under it |
//! | GET | `/decision`, `/decisions/{id}` | latest / one decision |
//! | POST | `/decisions` | assess again under a consent |
//! | POST | `/applications` | accept or "not now" (Idempotency-Key) |
//! | GET | `/application`, `/applications/{id}` | latest / one application |

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use shared::consent::{
    ApplicationRequest, ApplicationView, ConsentView, DataRead, DecideRequest, Letter,
    MerchantDecision, SignRequest,
};

use crate::db;
use crate::error::{ApiJson, AppError, AppResult};
use crate::request::{ClientInfo, IdempotencyKey, MerchantSession, RequestId, idempotency};
use crate::services::applications as apps;
use crate::services::consent;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/letter", get(letter))
        .route("/consents", get(list_consents).post(sign))
        .route("/consents/{id}", get(one_consent))
        .route("/consents/{id}/withdraw", post(withdraw))
        .route("/consents/{id}/reads", get(reads))
        .route("/decision", get(latest_decision))
        .route("/decisions", post(decide_again))
        .route("/decisions/{id}", get(one_decision))
        .route("/applications", post(answer))
        .route("/applications/{id}", get(one_application))
        .route("/application", get(latest_application))
}

async fn letter(State(state): State<AppState>, s: MerchantSession) -> AppResult<ApiJson<Letter>> {
    db::run(&state.pool, move |conn| {
        consent::letter(conn, &s.merchant_id)
    })
    .await
    .map(ApiJson)
}

async fn list_consents(
    State(state): State<AppState>,
    s: MerchantSession,
) -> AppResult<ApiJson<Vec<ConsentView>>> {
    db::run(&state.pool, move |conn| {
        consent::list(conn, &s.merchant_id, Utc::now())
    })
    .await
    .map(ApiJson)
}

async fn one_consent(
    State(state): State<AppState>,
    s: MerchantSession,
    Path(id): Path<String>,
) -> AppResult<ApiJson<ConsentView>> {
    db::run(&state.pool, move |conn| {
        consent::get(conn, &s.merchant_id, &id, Utc::now())
    })
    .await
    .map(ApiJson)
}

/// Signs the letter and decides in the same round trip.
async fn sign(
    State(state): State<AppState>,
    rid: RequestId,
    s: MerchantSession,
    client: ClientInfo,
    key: IdempotencyKey,
    ApiJson(req): ApiJson<SignRequest>,
) -> AppResult<Response> {
    let auth = state.auth.clone();
    let reply = db::run(&state.pool, move |conn| {
        apps::sign_and_decide(
            conn,
            &auth.fields,
            &s.merchant_id,
            &req,
            &client,
            key.get(),
            rid.get(),
        )
    })
    .await?;
    Ok(idempotency::respond(reply, state.auth.cookie_secure))
}

async fn withdraw(
    State(state): State<AppState>,
    rid: RequestId,
    s: MerchantSession,
    Path(id): Path<String>,
) -> AppResult<ApiJson<ConsentView>> {
    db::run(&state.pool, move |conn| {
        consent::withdraw(conn, &s.merchant_id, &id, Utc::now(), rid.get())
    })
    .await
    .map(ApiJson)
}

async fn reads(
    State(state): State<AppState>,
    s: MerchantSession,
    Path(id): Path<String>,
) -> AppResult<ApiJson<Vec<DataRead>>> {
    db::run(&state.pool, move |conn| {
        consent::reads(conn, &s.merchant_id, &id)
    })
    .await
    .map(ApiJson)
}

async fn latest_decision(
    State(state): State<AppState>,
    s: MerchantSession,
) -> AppResult<ApiJson<MerchantDecision>> {
    db::run(&state.pool, move |conn| {
        apps::latest_decision(conn, &s.merchant_id)?.ok_or_else(|| {
            AppError::new(
                StatusCode::NOT_FOUND,
                "no_decision",
                "还没有评估结果，请先签署授权书",
                "No result yet; please sign the authorization first",
            )
        })
    })
    .await
    .map(ApiJson)
}

async fn one_decision(
    State(state): State<AppState>,
    s: MerchantSession,
    Path(id): Path<String>,
) -> AppResult<ApiJson<MerchantDecision>> {
    db::run(&state.pool, move |conn| {
        apps::merchant_decision(conn, &s.merchant_id, &id)
    })
    .await
    .map(ApiJson)
}

/// A new assessment under a consent already signed (e.g. after credit
/// repair). Refused, and logged, when that consent is no longer in force.
async fn decide_again(
    State(state): State<AppState>,
    rid: RequestId,
    s: MerchantSession,
    ApiJson(req): ApiJson<DecideRequest>,
) -> AppResult<ApiJson<MerchantDecision>> {
    db::run(&state.pool, move |conn| {
        apps::decide(conn, &s.merchant_id, &req.consent_id, Utc::now(), rid.get())
    })
    .await
    .map(ApiJson)
}

async fn answer(
    State(state): State<AppState>,
    rid: RequestId,
    s: MerchantSession,
    key: IdempotencyKey,
    ApiJson(req): ApiJson<ApplicationRequest>,
) -> AppResult<Response> {
    let auth = state.auth.clone();
    let reply = db::run(&state.pool, move |conn| {
        apps::answer_once(
            conn,
            &auth.fields,
            &s.merchant_id,
            &req,
            key.get(),
            rid.get(),
        )
    })
    .await?;
    Ok(idempotency::respond(reply, state.auth.cookie_secure))
}

async fn one_application(
    State(state): State<AppState>,
    s: MerchantSession,
    Path(id): Path<String>,
) -> AppResult<ApiJson<ApplicationView>> {
    db::run(&state.pool, move |conn| {
        apps::application(conn, &s.merchant_id, &id)
    })
    .await
    .map(ApiJson)
}

async fn latest_application(
    State(state): State<AppState>,
    s: MerchantSession,
) -> AppResult<ApiJson<ApplicationView>> {
    db::run(&state.pool, move |conn| {
        apps::latest_application(conn, &s.merchant_id)?.ok_or_else(|| {
            AppError::new(
                StatusCode::NOT_FOUND,
                "no_application",
                "还没有提交申请",
                "No application yet",
            )
        })
    })
    .await
    .map(ApiJson)
}
