//! `/api/m/...` after the profile: the letter, signing and withdrawing
//! consents, the decision, and the application to the candidate pool.
//! Merged into the merchant router (same caller, same session).
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

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{Duration, Utc};
use shared::consent::{
    ApplicationRequest, ApplicationView, ConsentView, DataRead, DecideRequest, Letter,
    MerchantDecision, SignRequest, SignResponse,
};

use super::merchant::{Outcome, idempotent, request_id};
use crate::app::AppState;
use crate::auth::idempotency;
use crate::auth::session::MerchantSession;
use crate::db;
use crate::error::{ApiJson, AppError, AppResult};
use crate::services::applications as apps;
use crate::services::consent::{self, ClientInfo};

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

/// The signer's address and user agent, kept with the consent as evidence.
/// Behind a reverse proxy on the same host the peer is loopback, so its
/// forwarding header is believed then and only then.
struct Client(ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .or_else(|| parts.headers.get("x-real-ip"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
        let ip = match (peer, forwarded) {
            (Some(p), Some(f)) if p.is_loopback() => f,
            (Some(p), _) => p.to_string(),
            (None, Some(f)) => f,
            (None, None) => "unknown".to_owned(),
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(Client(ClientInfo { ip, user_agent }))
    }
}

async fn letter(State(state): State<AppState>, _: MerchantSession) -> AppResult<ApiJson<Letter>> {
    db::run(&state.pool, consent::letter).await.map(ApiJson)
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

/// Signs the letter, then reads the data under the new consent and decides:
/// the merchant gets the answer in the same round trip.
async fn sign(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: MerchantSession,
    Client(client): Client,
    ApiJson(req): ApiJson<SignRequest>,
) -> AppResult<Response> {
    let key = idempotency::key_from(&headers)?;
    let rid = request_id(&headers);
    let mut banks = req.bank_ids.clone();
    banks.sort();
    let hash = idempotency::request_hash(&[
        &req.letter_version,
        &req.text_sha256,
        &banks.join(","),
        &req.language,
    ]);
    let scope = format!("consent:{}", s.merchant_id);
    let auth = state.auth.clone();
    let for_response = auth.clone();
    let outcome = db::run(&state.pool, move |conn| {
        idempotent(
            conn,
            &auth,
            &scope,
            key.as_deref(),
            &hash,
            Duration::hours(24),
            |conn| {
                let sig = consent::validate(conn, &req)?;
                let now = Utc::now();
                let signed =
                    consent::sign(conn, &s.merchant_id, &sig, &client, now, rid.as_deref())?;
                let decision = apps::decide(conn, &s.merchant_id, &signed.id, now)?;
                Outcome::ok(&SignResponse {
                    consent: signed,
                    decision,
                })
            },
        )
    })
    .await?;
    Ok(outcome.into_response(&for_response))
}

async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: MerchantSession,
    Path(id): Path<String>,
) -> AppResult<ApiJson<ConsentView>> {
    let rid = request_id(&headers);
    db::run(&state.pool, move |conn| {
        consent::withdraw(conn, &s.merchant_id, &id, Utc::now(), rid.as_deref())
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
    s: MerchantSession,
    ApiJson(req): ApiJson<DecideRequest>,
) -> AppResult<ApiJson<MerchantDecision>> {
    db::run(&state.pool, move |conn| {
        apps::decide(conn, &s.merchant_id, &req.consent_id, Utc::now())
    })
    .await
    .map(ApiJson)
}

async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: MerchantSession,
    ApiJson(req): ApiJson<ApplicationRequest>,
) -> AppResult<Response> {
    let key = idempotency::key_from(&headers)?;
    let rid = request_id(&headers);
    let hash = idempotency::request_hash(&[&req.decision_id, &req.accept.to_string()]);
    let scope = format!("application:{}", s.merchant_id);
    let auth = state.auth.clone();
    let for_response = auth.clone();
    let outcome = db::run(&state.pool, move |conn| {
        idempotent(
            conn,
            &auth,
            &scope,
            key.as_deref(),
            &hash,
            Duration::hours(24),
            |conn| {
                let view = apps::answer(conn, &s.merchant_id, &req, Utc::now(), rid.as_deref())?;
                Outcome::ok(&view)
            },
        )
    })
    .await?;
    Ok(outcome.into_response(&for_response))
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
