//! The merchant's way in: the scanned stall code, an SMS code, the session
//! it opens, logging out. Anonymous until the session exists, so every step
//! is audited and limited in the database (see `auth::otp`).

use chrono::{Duration, Utc};
use serde_json::json;
use shared::error::FieldError;
use shared::ids::MobileNumber;
use shared::merchant::{CodeInfo, MeResponse, OtpRequest, OtpSent, SessionRequest};

use crate::auth::AuthState;
use crate::auth::idempotency::{self, Claim, Reply};
use crate::auth::otp::{self, LoginContext};
use crate::auth::session::{self, MerchantSession};
use crate::auth::sms::{self, SmsMessage};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::services::audit::{ANONYMOUS, audit, merchant_actor};
use crate::services::merchant;
use crate::stall_codes::{self, ResolvedCode};

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
            audit(
                conn,
                ANONYMOUS,
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

/// What the landing page shows for a scanned code: the market and the stall
/// (number, zone, trade), nothing about its holder — a code is public.
/// `via` names the door the scan came through: the API (`code_info`) or the
/// server-rendered stall page (`page`); each scan comes through one of them,
/// so a refused scan is one audit row.
pub fn code_info(
    conn: &mut DbConn,
    auth: &AuthState,
    code: &str,
    via: &str,
    request_id: Option<&str>,
) -> AppResult<CodeInfo> {
    let resolved = check_code(conn, auth, code, via, request_id)?;
    let stall = resolved.stall;
    Ok(CodeInfo {
        market_name: resolved.market.name,
        market_office_phone: resolved.market.office_phone,
        stall_number: stall.as_ref().map(|s| s.number.clone()),
        zone: stall.as_ref().map(|s| s.zone.clone()),
        trade: stall.as_ref().map(|s| s.trade.clone()),
    })
}

fn parse_mobile(s: &str) -> AppResult<MobileNumber> {
    MobileNumber::parse(s).map_err(|e| AppError::validation(vec![e.field_error("mobile")]))
}

/// Sends a login code to `req.mobile` (within the send limits), remembering
/// the stall whose code was scanned. Once per `Idempotency-Key`.
pub fn send_otp(
    conn: &mut DbConn,
    auth: &AuthState,
    req: &OtpRequest,
    key: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<Reply> {
    let mobile = parse_mobile(&req.mobile)?;
    let code_ref = req.code.as_deref().filter(|c| !c.trim().is_empty());
    let claim = Claim::new(
        format!("otp:{mobile}"),
        key,
        &[mobile.as_str(), code_ref.unwrap_or("")],
    );
    idempotency::once(conn, &auth.fields, &claim, |conn| {
        let context = match code_ref {
            Some(code) => {
                let r = check_code(conn, auth, code.trim(), "otp", request_id)?;
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
        audit(
            conn,
            ANONYMOUS,
            "otp.sent",
            "mobile",
            None,
            context.market_id.as_deref(),
            json!({ "mobile": mobile.masked(), "stall_id": context.stall_id }),
            request_id,
        )?;
        Reply::ok(&OtpSent {
            mobile_masked: mobile.masked(),
            expires_in_seconds: otp::CODE_TTL_SECONDS as u32,
            resend_after_seconds: otp::RESEND_SECONDS as u32,
        })
    })
}

/// Checks the SMS code and opens a session for the merchant with that
/// number (created on first login). The reply carries the session token for
/// the cookie. Once per `Idempotency-Key`.
pub fn create_session(
    conn: &mut DbConn,
    auth: &AuthState,
    req: &SessionRequest,
    key: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<Reply> {
    let mut errors = Vec::new();
    let mobile = MobileNumber::parse(&req.mobile)
        .map_err(|e| errors.push(e.field_error("mobile")))
        .ok();
    let code = otp::normalise_code(&req.otp);
    if code.is_none() {
        errors.push(FieldError::new(
            "otp",
            "otp_format",
            "验证码为6位数字",
            "The code is 6 digits",
        ));
    }
    let (Some(mobile), Some(code)) = (mobile, code) else {
        return Err(AppError::validation(errors));
    };
    // A replayed login hands out the same session again, so the window is
    // no longer than a code lives.
    let claim = Claim::new(format!("session:{mobile}"), key, &[mobile.as_str(), &code])
        .within(Duration::seconds(otp::CODE_TTL_SECONDS));
    idempotency::once(conn, &auth.fields, &claim, |conn| {
        let now = Utc::now();
        let context = otp::verify(conn, &auth.fields, mobile.as_str(), &code, now)?;
        let merchant_id = merchant::login(conn, mobile.as_str(), &context)?;
        let new = session::create(conn, &merchant_id, now)?;
        audit(
            conn,
            &merchant_actor(&merchant_id),
            "merchant.login",
            "merchant",
            Some(&merchant_id),
            context.market_id.as_deref(),
            json!({ "stall_id": context.stall_id }),
            request_id,
        )?;
        let me: MeResponse = merchant::me(conn, &merchant_id, &new.expires_at)?;
        let mut reply = Reply::ok(&me)?;
        reply.session_token = Some(new.token);
        Ok(reply)
    })
}

/// Ends the session, audited.
pub fn end_session(
    conn: &mut DbConn,
    s: &MerchantSession,
    request_id: Option<&str>,
) -> AppResult<()> {
    session::delete(conn, &s.session_id)?;
    audit(
        conn,
        &merchant_actor(&s.merchant_id),
        "merchant.logout",
        "merchant",
        Some(&s.merchant_id),
        None,
        json!({}),
        request_id,
    )
}
