//! `/api/m/...`: the merchant's side. The scanned code, SMS-code login, the
//! session, the profile. Handlers extract and authorize; the work is in
//! `auth`, `stall_codes` and `services::merchant`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Duration, Utc};
use serde_json::json;
use shared::ids::MobileNumber;
use shared::merchant::{
    CodeInfo, MeResponse, OtpRequest, OtpSent, Profile, ProfileInput, SessionRequest,
    validate_profile,
};

use crate::app::AppState;
use crate::auth::AuthState;
use crate::auth::idempotency::{self, Begin, Stored};
use crate::auth::origin::SameOrigin;
use crate::auth::otp::{self, LoginContext};
use crate::auth::session::{self, MerchantSession};
use crate::auth::sms::{self, SmsMessage};
use crate::db::{self, DbConn};
use crate::error::{ApiJson, AppError, AppResult};
use crate::services::merchant as service;
use crate::stall_codes::{self, ResolvedCode};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/codes/{code}", get(code_info))
        .route("/otp", axum::routing::post(send_otp))
        .route(
            "/session",
            axum::routing::post(create_session).delete(end_session),
        )
        .route("/me", get(me))
        .route("/profile", get(my_profile).put(save_profile))
        .route("/merchants/{id}/profile", get(profile_by_id))
        .merge(super::merchant_consent::router())
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "该接口不支持此请求方式",
        "This endpoint does not accept this HTTP method",
    )
}

pub(super) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A genuine, current code, or its refusal — audited, since a refused code
/// may be a forgery attempt worth seeing in the log.
fn check_code(
    conn: &mut DbConn,
    auth: &AuthState,
    code: &str,
    via: &str,
    request_id: Option<&str>,
) -> AppResult<ResolvedCode> {
    match stall_codes::resolve(conn, &auth.code_key, code)? {
        Ok(resolved) => Ok(resolved),
        Err(refusal) => {
            service::audit(
                conn,
                "anonymous",
                "stall_code.refused",
                "stall",
                refusal.stall_id.as_deref(),
                refusal.market_id.as_deref(),
                json!({ "reason": refusal.reason, "via": via }),
                request_id,
            )?;
            Err(refusal.to_error())
        }
    }
}

async fn code_info(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> AppResult<ApiJson<CodeInfo>> {
    let auth = state.auth.clone();
    let rid = request_id(&headers);
    let resolved = db::run(&state.pool, move |conn| {
        check_code(conn, &auth, &code, "code_info", rid.as_deref())
    })
    .await?;
    let stall = resolved.stall;
    Ok(ApiJson(CodeInfo {
        market_name: resolved.market.name,
        market_office_phone: resolved.market.office_phone,
        stall_number: stall.as_ref().map(|s| s.number.clone()),
        zone: stall.as_ref().map(|s| s.zone.clone()),
        trade: stall.as_ref().map(|s| s.trade.clone()),
        holder_name_masked: stall
            .as_ref()
            .map(|s| stall_codes::mask_name(&s.holder_name)),
    }))
}

/// What a POST answered: kept for an idempotent replay. `token` is a new
/// session's, set as the cookie (stored encrypted for the replay).
pub(super) struct Outcome {
    status: StatusCode,
    body: String,
    token: Option<String>,
}

impl Outcome {
    pub(super) fn ok(body: &impl serde::Serialize) -> AppResult<Self> {
        Ok(Self {
            status: StatusCode::OK,
            body: serde_json::to_string(body).map_err(AppError::internal)?,
            token: None,
        })
    }

    pub(super) fn into_response(self, auth: &AuthState) -> Response {
        let mut res = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body,
        )
            .into_response();
        if let Some(token) = &self.token {
            res.headers_mut().insert(
                header::SET_COOKIE,
                session::set_cookie(token, auth.cookie_secure),
            );
        }
        res
    }
}

/// Runs `act` once per `(scope, key)`; without a key, simply runs it.
pub(super) fn idempotent(
    conn: &mut DbConn,
    auth: &AuthState,
    scope: &str,
    key: Option<&str>,
    hash: &str,
    ttl: Duration,
    act: impl FnOnce(&mut DbConn) -> AppResult<Outcome>,
) -> AppResult<Outcome> {
    let Some(key) = key else {
        return act(conn);
    };
    let context = format!("idempotency\n{scope}\n{key}");
    match idempotency::begin(conn, scope, key, hash, ttl, Utc::now())? {
        Begin::Replay(stored) => Ok(Outcome {
            status: stored.status,
            body: stored.body,
            token: stored
                .secret_enc
                .and_then(|s| auth.fields.decrypt(&s, &context)),
        }),
        Begin::Claimed => match act(conn) {
            Ok(outcome) => {
                let stored = Stored {
                    status: outcome.status,
                    body: outcome.body.clone(),
                    secret_enc: outcome
                        .token
                        .as_ref()
                        .map(|t| auth.fields.encrypt(t, &context)),
                };
                idempotency::finish(conn, scope, key, &stored)?;
                Ok(outcome)
            }
            Err(e) => {
                if idempotency::keeps(e.status) {
                    let body = serde_json::to_string(&e.body).map_err(AppError::internal)?;
                    let stored = Stored {
                        status: e.status,
                        body,
                        secret_enc: None,
                    };
                    idempotency::finish(conn, scope, key, &stored)?;
                } else {
                    idempotency::release(conn, scope, key)?;
                }
                Err(e)
            }
        },
    }
}

fn parse_mobile(s: &str) -> AppResult<MobileNumber> {
    MobileNumber::parse(s).map_err(|e| AppError::validation(vec![e.field_error("mobile")]))
}

async fn send_otp(
    State(state): State<AppState>,
    _: SameOrigin,
    headers: HeaderMap,
    ApiJson(req): ApiJson<OtpRequest>,
) -> AppResult<Response> {
    let mobile = parse_mobile(&req.mobile)?;
    let key = idempotency::key_from(&headers)?;
    let rid = request_id(&headers);
    let code_ref = req.code.filter(|c| !c.trim().is_empty());
    let hash = idempotency::request_hash(&[mobile.as_str(), code_ref.as_deref().unwrap_or("")]);
    let scope = format!("otp:{mobile}");
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
                let context = match &code_ref {
                    Some(code) => {
                        let r = check_code(conn, &auth, code.trim(), "otp", rid.as_deref())?;
                        LoginContext {
                            stall_id: r.stall.map(|s| s.id),
                            market_id: Some(r.market.id),
                        }
                    }
                    None => LoginContext::default(),
                };
                let now = Utc::now();
                otp::reserve_send(conn, mobile.as_str(), now)?;
                let code = otp::issue(conn, &auth.fields, mobile.as_str(), &context, now)?;
                let minutes = (otp::CODE_TTL_SECONDS / 60) as u32;
                auth.sms
                    .send(&SmsMessage {
                        mobile: mobile.as_str(),
                        code: &code,
                        text: sms::login_text(&code, minutes),
                    })
                    .map_err(AppError::unavailable)?;
                service::audit(
                    conn,
                    "anonymous",
                    "otp.sent",
                    "mobile",
                    None,
                    context.market_id.as_deref(),
                    json!({ "mobile": mobile.masked(), "stall_id": context.stall_id }),
                    rid.as_deref(),
                )?;
                Outcome::ok(&OtpSent {
                    mobile_masked: mobile.masked(),
                    expires_in_seconds: otp::CODE_TTL_SECONDS as u32,
                    resend_after_seconds: otp::RESEND_SECONDS as u32,
                })
            },
        )
    })
    .await?;
    Ok(outcome.into_response(&for_response))
}

async fn create_session(
    State(state): State<AppState>,
    _: SameOrigin,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SessionRequest>,
) -> AppResult<Response> {
    let mut errors = Vec::new();
    let mobile = MobileNumber::parse(&req.mobile)
        .map_err(|e| errors.push(e.field_error("mobile")))
        .ok();
    let code = otp::normalise_code(&req.otp);
    if code.is_none() {
        errors.push(shared::error::FieldError::new(
            "otp",
            "otp_format",
            "验证码为6位数字",
            "The code is 6 digits",
        ));
    }
    let (Some(mobile), Some(code)) = (mobile, code) else {
        return Err(AppError::validation(errors));
    };
    let key = idempotency::key_from(&headers)?;
    let rid = request_id(&headers);
    let hash = idempotency::request_hash(&[mobile.as_str(), &code]);
    let scope = format!("session:{mobile}");
    let auth = state.auth.clone();
    let for_response = auth.clone();
    // A replayed login hands out the same session again, so the window is
    // no longer than a code lives.
    let ttl = Duration::seconds(otp::CODE_TTL_SECONDS);
    let outcome = db::run(&state.pool, move |conn| {
        idempotent(conn, &auth, &scope, key.as_deref(), &hash, ttl, |conn| {
            let now = Utc::now();
            let context = otp::verify(conn, &auth.fields, mobile.as_str(), &code, now)?;
            let merchant_id = service::login(conn, mobile.as_str(), &context)?;
            let new = session::create(conn, &merchant_id, now)?;
            service::audit(
                conn,
                &service::actor(&merchant_id),
                "merchant.login",
                "merchant",
                Some(&merchant_id),
                context.market_id.as_deref(),
                json!({ "stall_id": context.stall_id }),
                rid.as_deref(),
            )?;
            let me: MeResponse = service::me(conn, &merchant_id, &new.expires_at)?;
            let mut outcome = Outcome::ok(&me)?;
            outcome.token = Some(new.token);
            Ok(outcome)
        })
    })
    .await?;
    Ok(outcome.into_response(&for_response))
}

async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: MerchantSession,
) -> AppResult<Response> {
    let rid = request_id(&headers);
    db::run(&state.pool, move |conn| {
        session::delete(conn, &s.session_id)?;
        service::audit(
            conn,
            &service::actor(&s.merchant_id),
            "merchant.logout",
            "merchant",
            Some(&s.merchant_id),
            None,
            json!({}),
            rid.as_deref(),
        )
    })
    .await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session::clear_cookie(state.auth.cookie_secure),
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

async fn save_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: MerchantSession,
    ApiJson(input): ApiJson<ProfileInput>,
) -> AppResult<ApiJson<Profile>> {
    let now = Utc::now();
    let valid =
        validate_profile(&input, service::today_in_china(now)).map_err(AppError::validation)?;
    let auth = state.auth.clone();
    let rid = request_id(&headers);
    db::run(&state.pool, move |conn| {
        service::save_profile(
            conn,
            &auth.fields,
            &s.merchant_id,
            &valid,
            now,
            rid.as_deref(),
        )
    })
    .await
    .map(ApiJson)
}
