//! `/api/m/...`: the merchant's side. The scanned code, SMS-code login, the
//! session, the real-name check, the profile. Handlers extract and
//! authorize; the work is in `services::login`, `services::identity` and
//! `services::merchant`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use shared::merchant::{
    CodeInfo, IdentityInput, MeResponse, OtpRequest, Profile, ProfileInput, SessionRequest,
    validate_identity, validate_profile,
};

use crate::db;
use crate::error::{ApiJson, AppError, AppResult};
use crate::request::{
    ClientInfo, IdempotencyKey, MerchantSession, RequestId, SameOrigin, SessionCookie, idempotency,
};
use crate::services::{identity, login, merchant as service};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/codes/{code}", get(code_info))
        .route("/otp", post(send_otp).layer(super::anonymous_body()))
        .route(
            "/session",
            post(create_session)
                .layer(super::anonymous_body())
                .delete(end_session),
        )
        .route("/me", get(me))
        .route("/identity", axum::routing::post(verify_identity))
        .route("/profile", get(my_profile).put(save_profile))
        .route("/merchants/{id}/profile", get(profile_by_id))
}

async fn code_info(
    State(state): State<AppState>,
    rid: RequestId,
    client: ClientInfo,
    Path(code): Path<String>,
) -> AppResult<ApiJson<CodeInfo>> {
    let auth = state.auth.clone();
    db::run(&state.pool, move |conn| {
        login::code_info(conn, &auth, &code, &client.ip, rid.get())
    })
    .await
    .map(ApiJson)
}

async fn send_otp(
    State(state): State<AppState>,
    _: SameOrigin,
    rid: RequestId,
    client: ClientInfo,
    key: IdempotencyKey,
    ApiJson(req): ApiJson<OtpRequest>,
) -> AppResult<Response> {
    let auth = state.auth.clone();
    let limits = state.config.limits;
    let reply = db::run(&state.pool, move |conn| {
        login::send_otp(conn, &auth, &limits, &req, &client, key.get(), rid.get())
    })
    .await?;
    Ok(idempotency::respond(reply, state.auth.cookie_secure))
}

async fn create_session(
    State(state): State<AppState>,
    _: SameOrigin,
    rid: RequestId,
    client: ClientInfo,
    key: IdempotencyKey,
    ApiJson(req): ApiJson<SessionRequest>,
) -> AppResult<Response> {
    let auth = state.auth.clone();
    let limits = state.config.limits;
    let reply = db::run(&state.pool, move |conn| {
        login::create_session(conn, &auth, &limits, &req, &client, key.get(), rid.get())
    })
    .await?;
    Ok(idempotency::respond(reply, state.auth.cookie_secure))
}

async fn end_session(
    State(state): State<AppState>,
    rid: RequestId,
    s: MerchantSession,
) -> AppResult<Response> {
    db::run(&state.pool, move |conn| {
        login::end_session(conn, &s, rid.get())
    })
    .await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        SessionCookie::Merchant.clear(state.auth.cookie_secure),
    );
    Ok(res)
}

async fn me(State(state): State<AppState>, s: MerchantSession) -> AppResult<ApiJson<MeResponse>> {
    db::run(&state.pool, move |conn| {
        service::me(conn, &s.merchant_id, &s.expires_at)
    })
    .await
    .map(ApiJson)
}

async fn my_profile(
    State(state): State<AppState>,
    s: MerchantSession,
) -> AppResult<ApiJson<Profile>> {
    db::run(&state.pool, move |conn| {
        service::profile(conn, &s.merchant_id, &s.merchant_id)
    })
    .await
    .map(ApiJson)
}

async fn profile_by_id(
    State(state): State<AppState>,
    s: MerchantSession,
    Path(id): Path<String>,
) -> AppResult<ApiJson<Profile>> {
    db::run(&state.pool, move |conn| {
        service::profile(conn, &s.merchant_id, &id)
    })
    .await
    .map(ApiJson)
}

/// The real-name check (实名认证): name and resident ID against the mobile
/// number this session logged in with.
async fn verify_identity(
    State(state): State<AppState>,
    rid: RequestId,
    s: MerchantSession,
    ApiJson(input): ApiJson<IdentityInput>,
) -> AppResult<ApiJson<Profile>> {
    let now = Utc::now();
    let valid = validate_identity(&input, crate::clock::civil(crate::clock::china_day(now)))
        .map_err(AppError::validation)?;
    let (auth, check) = (state.auth.clone(), state.real_name.clone());
    db::run(&state.pool, move |conn| {
        identity::verify(
            conn,
            &*check,
            &auth.fields,
            &s.merchant_id,
            &valid,
            now,
            rid.get(),
        )
    })
    .await
    .map(ApiJson)
}

/// The business the verified person applies for.
async fn save_profile(
    State(state): State<AppState>,
    rid: RequestId,
    s: MerchantSession,
    ApiJson(input): ApiJson<ProfileInput>,
) -> AppResult<ApiJson<Profile>> {
    let now = Utc::now();
    let today = crate::clock::civil(crate::clock::china_day(now));
    db::run(&state.pool, move |conn| {
        let person = identity::person(conn, &s.merchant_id)?;
        let birth = person.birth_date.map(crate::clock::civil);
        let valid = validate_profile(&input, birth, today).map_err(AppError::validation)?;
        service::save_profile(conn, &s.merchant_id, &valid, now, rid.get())
    })
    .await
    .map(ApiJson)
}
