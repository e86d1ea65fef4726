//! The merchant's way in: the scanned stall code, an SMS code, the session
//! it opens, logging out. Anonymous until the session exists, so every step
//! is limited in the database (see `auth::otp`); what is done is audited,
//! what is refused is counted per client address and hour
//! (`services::refusals`), so refused traffic adds no row per request.

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
use crate::config::Limits;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::services::audit::{ANONYMOUS, audit, merchant_actor};
use crate::services::consent::ClientInfo;
use crate::services::merchant;
use crate::services::refusals::{self, Refusal};
use crate::stall_codes::{self, ResolvedCode};

/// A genuine, current code, or its refusal — counted for the client's
/// address, since a refused code may be a forgery attempt worth seeing.
fn check_code(
    conn: &mut DbConn,
    auth: &AuthState,
    code: &str,
    client_ip: &str,
    request_id: Option<&str>,
) -> AppResult<ResolvedCode> {
    match stall_codes::resolve(conn, &auth.code_key, code)? {
        Ok(resolved) => Ok(resolved),
        Err(refusal) => {
            let counted = Refusal {
                action: "stall_code.refused",
                reason: refusal.reason,
                object_id: refusal.stall_id.as_deref(),
                market_id: refusal.market_id.as_deref(),
            };
            refusals::count(conn, client_ip, counted, request_id, Utc::now())?;
            Err(refusal.to_error())
        }
    }
}

/// Counts a limit's refusal (a 429) or a wrong code, then returns it.
fn counted(
    conn: &mut DbConn,
    e: AppError,
    action: &str,
    client_ip: &str,
    market_id: Option<&str>,
    request_id: Option<&str>,
) -> AppError {
    let worth_counting = e.status.as_u16() == 429 || e.code() == "otp_wrong";
    if worth_counting {
        let refusal = Refusal {
            action,
            reason: e.code(),
            object_id: None,
            market_id,
        };
        if let Err(failed) = refusals::count(conn, client_ip, refusal, request_id, Utc::now()) {
            return failed;
        }
    }
    e
}

/// What the landing page shows for a scanned code: the market and the stall
/// (number, zone, trade), nothing about its holder — a code is public. Each
/// scan comes through one door, the API or the server-rendered stall page,
/// so a refused scan is counted once.
pub fn code_info(
    conn: &mut DbConn,
    auth: &AuthState,
    code: &str,
    client_ip: &str,
    request_id: Option<&str>,
) -> AppResult<CodeInfo> {
    let resolved = check_code(conn, auth, code, client_ip, request_id)?;
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

/// Sends a login code to `req.mobile` (within the send limits of the
/// number, of the client's address and in total), remembering the stall
/// whose code was scanned. Once per `Idempotency-Key` (a refusal is not
/// kept: an anonymous caller's key stores only what was sent).
pub fn send_otp(
    conn: &mut DbConn,
    auth: &AuthState,
    limits: &Limits,
    req: &OtpRequest,
    client: &ClientInfo,
    key: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<Reply> {
    let mobile = parse_mobile(&req.mobile)?;
    let code_ref = req.code.as_deref().filter(|c| !c.trim().is_empty());
    let claim = Claim::new(
        format!("otp:{mobile}"),
        key,
        &[mobile.as_str(), code_ref.unwrap_or("")],
    )
    .successes_only();
    let ip = client.ip.as_str();
    idempotency::once(conn, &auth.fields, &claim, |conn| {
        let context = match code_ref {
            Some(code) => {
                let r = check_code(conn, auth, code.trim(), ip, request_id)?;
                LoginContext {
                    stall_id: r.stall.map(|s| s.id),
                    market_id: Some(r.market.id),
                }
            }
            None => LoginContext::default(),
        };
        let now = Utc::now();
        let market = context.market_id.as_deref();
        otp::reserve_send_for(conn, limits, mobile.as_str(), ip, now)
            .map_err(|e| counted(conn, e, "otp.send_refused", ip, market, request_id))?;
        let code = otp::issue(conn, &auth.fields, mobile.as_str(), &context, now)?;
        let minutes = (otp::CODE_TTL_SECONDS / 60) as u32;
        let sent = auth.sms.send(&SmsMessage {
            mobile: mobile.as_str(),
            code: &code,
            text: sms::login_text(&code, minutes),
        });
        if let Err(e) = sent {
            otp::release_send(conn, limits, mobile.as_str(), ip, now)?;
            return Err(AppError::unavailable(e).with_retry_after(30));
        }
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
/// the cookie. Once per `Idempotency-Key` (a refusal is not kept).
pub fn create_session(
    conn: &mut DbConn,
    auth: &AuthState,
    limits: &Limits,
    req: &SessionRequest,
    client: &ClientInfo,
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
        .within(Duration::seconds(otp::CODE_TTL_SECONDS))
        .successes_only();
    let ip = client.ip.as_str();
    idempotency::once(conn, &auth.fields, &claim, |conn| {
        let now = Utc::now();
        let context = otp::verify(conn, &auth.fields, limits, mobile.as_str(), &code, ip, now)
            .map_err(|e| counted(conn, e, "otp.login_refused", ip, None, request_id))?;
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
