//! Staff accounts: password login with a per-account failure limit,
//! sessions (the merchant's token code, another cookie name; the extractor
//! is `request::StaffSession`), the market scope every manager query is
//! filtered by, and the operator's markets and accounts.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::error::FieldError;
use shared::manager::{
    MarketInput, MarketView, ROLE_MANAGER, ROLE_OPERATOR, StaffMe, StaffUserInput, StaffUserView,
};

use crate::auth::session::{new_token, token_hash};
use crate::db::models::{Market, StaffUser};
use crate::db::schema::{markets, staff_login_limits, staff_sessions, staff_users, stalls};
use crate::db::{DbConn, new_id, timestamp};
use crate::error::{AppError, AppResult};
use crate::services::audit::{audit, staff_actor};

pub const COOKIE_NAME: &str = "mc_staff";
/// An office working day.
pub const SESSION_HOURS: i64 = 10;
pub const MAX_FAILURES_PER_HOUR: i32 = 10;

fn invalid_credentials() -> AppError {
    AppError::unauthorized_as(
        "invalid_credentials",
        "用户名或密码不正确",
        "The username or password is not correct",
    )
}

fn too_many_failures() -> AppError {
    AppError::too_many_requests(
        "too_many_failures",
        "密码错误次数过多，请一小时后再试或联系信用办重置",
        "Too many wrong passwords; try again in an hour or ask the credit office to reset it",
    )
}

/// Reserves one password try for the account, or refuses when ten failed
/// within the hour. The reservation is a conditional UPDATE, so concurrent
/// guesses cannot overshoot the limit; a success gives the tries back.
fn reserve_try(conn: &mut DbConn, user_id: &str, now: DateTime<Utc>) -> AppResult<()> {
    let cutoff = timestamp(now - Duration::hours(1));
    let exists = staff_login_limits::table
        .find(user_id)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        // A concurrent first try may insert the same row; its failure is
        // harmless, the row exists either way.
        let _ = diesel::insert_into(staff_login_limits::table)
            .values((
                staff_login_limits::user_id.eq(user_id),
                staff_login_limits::window_start.eq(timestamp(now)),
                staff_login_limits::failures.eq(0),
            ))
            .execute(conn);
    }
    let counted = diesel::update(
        staff_login_limits::table
            .find(user_id)
            .filter(staff_login_limits::window_start.gt(&cutoff))
            .filter(staff_login_limits::failures.lt(MAX_FAILURES_PER_HOUR)),
    )
    .set(staff_login_limits::failures.eq(staff_login_limits::failures + 1))
    .execute(conn)?;
    if counted == 1 {
        return Ok(());
    }
    let restarted = diesel::update(
        staff_login_limits::table
            .find(user_id)
            .filter(staff_login_limits::window_start.le(&cutoff)),
    )
    .set((
        staff_login_limits::window_start.eq(timestamp(now)),
        staff_login_limits::failures.eq(1),
    ))
    .execute(conn)?;
    if restarted == 1 {
        Ok(())
    } else {
        Err(too_many_failures())
    }
}

/// A hash of a password nobody has, verified when the username is unknown,
/// so the answer takes as long as for a real account.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| crate::passwords::hash("no such account").unwrap_or_default())
}

pub struct LoggedIn {
    pub token: String,
    pub me: StaffMe,
}

/// Checks the password (argon2id, slow: call from the blocking pool) and
/// opens a session.
pub fn login(
    conn: &mut DbConn,
    username: &str,
    password: &str,
    request_id: Option<&str>,
) -> AppResult<LoggedIn> {
    let now = Utc::now();
    let user: Option<StaffUser> = staff_users::table
        .filter(staff_users::username.eq(username.trim().to_ascii_lowercase()))
        .filter(staff_users::active.eq(true))
        .select(StaffUser::as_select())
        .first(conn)
        .optional()?;
    let Some(user) = user else {
        crate::passwords::verify(password, dummy_hash());
        return Err(invalid_credentials());
    };
    reserve_try(conn, &user.id, now)?;
    if !crate::passwords::verify(password, &user.password_hash) {
        audit(
            conn,
            &staff_actor(&user.id),
            "staff.login_failed",
            "staff_user",
            Some(&user.id),
            user.market_id.as_deref(),
            json!({}),
            request_id,
        )?;
        return Err(invalid_credentials());
    }
    diesel::update(staff_login_limits::table.find(&user.id))
        .set(staff_login_limits::failures.eq(0))
        .execute(conn)?;
    diesel::delete(
        staff_sessions::table
            .filter(staff_sessions::user_id.eq(&user.id))
            .filter(staff_sessions::expires_at.le(timestamp(now))),
    )
    .execute(conn)?;
    let token = new_token();
    let expires_at = timestamp(now + Duration::hours(SESSION_HOURS));
    diesel::insert_into(staff_sessions::table)
        .values((
            staff_sessions::id.eq(new_id("sss")),
            staff_sessions::token_hash.eq(token_hash(&token)),
            staff_sessions::user_id.eq(&user.id),
            staff_sessions::created_at.eq(timestamp(now)),
            staff_sessions::expires_at.eq(&expires_at),
        ))
        .execute(conn)?;
    audit(
        conn,
        &staff_actor(&user.id),
        "staff.login",
        "staff_user",
        Some(&user.id),
        user.market_id.as_deref(),
        json!({ "role": user.role }),
        request_id,
    )?;
    let me = me_of(conn, &user, expires_at)?;
    Ok(LoggedIn { token, me })
}

fn me_of(conn: &mut DbConn, user: &StaffUser, expires_at: String) -> AppResult<StaffMe> {
    let market_name = match &user.market_id {
        Some(id) => markets::table
            .find(id)
            .select(markets::name)
            .first::<String>(conn)
            .optional()?,
        None => None,
    };
    Ok(StaffMe {
        user_id: user.id.clone(),
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role.clone(),
        market_id: user.market_id.clone(),
        market_name,
        expires_at,
    })
}

/// A logged-in staff member: what the `request::StaffSession` extractor
/// yields, and what the use cases below take to scope and audit.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub session_id: String,
    pub user: StaffUser,
    pub expires_at: String,
}

impl StaffSession {
    pub fn actor(&self) -> String {
        staff_actor(&self.user.id)
    }

    pub fn me(&self, conn: &mut DbConn) -> AppResult<StaffMe> {
        me_of(conn, &self.user, self.expires_at.clone())
    }

    pub fn is_operator(&self) -> bool {
        self.user.role == ROLE_OPERATOR
    }

    /// The one market a manager request may touch. A manager always gets
    /// their own (whatever was asked); an operator names one. Bank staff
    /// and a manager without a market have none (404: nothing to see).
    pub fn market_scope(&self, asked: Option<&str>) -> AppResult<String> {
        match self.user.role.as_str() {
            ROLE_MANAGER => self.user.market_id.clone().ok_or_else(AppError::not_found),
            ROLE_OPERATOR => asked
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    AppError::validation(vec![FieldError::new(
                        "market_id",
                        "market_required",
                        "请先选择市场",
                        "Choose a market first",
                    )])
                }),
            _ => Err(AppError::not_found()),
        }
    }

    pub fn require_operator(&self) -> AppResult<()> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(AppError::not_found())
        }
    }
}

/// The live session of an active account holding `token`, if any.
pub fn session(
    conn: &mut DbConn,
    token: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<StaffSession>> {
    let session = staff_sessions::table
        .filter(staff_sessions::token_hash.eq(token_hash(token)))
        .filter(staff_sessions::expires_at.gt(timestamp(now)))
        .select((
            staff_sessions::id,
            staff_sessions::user_id,
            staff_sessions::expires_at,
        ))
        .first::<(String, String, String)>(conn)
        .optional()?;
    let Some((session_id, user_id, expires_at)) = session else {
        return Ok(None);
    };
    let user = staff_users::table
        .find(&user_id)
        .filter(staff_users::active.eq(true))
        .select(StaffUser::as_select())
        .first(conn)
        .optional()?;
    Ok(user.map(|user| StaffSession {
        session_id,
        user,
        expires_at,
    }))
}

pub fn logout(conn: &mut DbConn, s: &StaffSession, request_id: Option<&str>) -> AppResult<()> {
    diesel::delete(staff_sessions::table.find(&s.session_id)).execute(conn)?;
    audit(
        conn,
        &s.actor(),
        "staff.logout",
        "staff_user",
        Some(&s.user.id),
        s.user.market_id.as_deref(),
        json!({}),
        request_id,
    )
}

// ---------------------------------------------------------------------------
// Markets and accounts (operators)

pub fn list_markets(conn: &mut DbConn, only: Option<&str>) -> AppResult<Vec<MarketView>> {
    let mut q = markets::table.select(Market::as_select()).into_boxed();
    if let Some(id) = only {
        q = q.filter(markets::id.eq(id.to_owned()));
    }
    let found: Vec<Market> = q.order(markets::created_at.asc()).load(conn)?;
    let mut out = Vec::with_capacity(found.len());
    for m in found {
        let stall_count = stalls::table
            .filter(stalls::market_id.eq(&m.id))
            .count()
            .get_result::<i64>(conn)?;
        out.push(MarketView {
            id: m.id,
            name: m.name,
            office_phone: m.office_phone,
            address: m.address,
            stall_count,
        });
    }
    Ok(out)
}

pub fn create_market(
    conn: &mut DbConn,
    s: &StaffSession,
    input: &MarketInput,
    request_id: Option<&str>,
) -> AppResult<MarketView> {
    let errors = shared::manager::validate_market(input);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    crate::db::write_transaction(conn, |conn| {
        let name = input.name.trim().to_owned();
        let taken = markets::table
            .filter(markets::name.eq(&name))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if taken {
            return Err(AppError::validation(vec![FieldError::new(
                "name",
                "name_taken",
                "已有同名市场",
                "A market with this name exists",
            )]));
        }
        let market = Market {
            id: new_id("mkt"),
            name,
            office_phone: input.office_phone.trim().to_owned(),
            address: input.address.trim().to_owned(),
            created_at: timestamp(Utc::now()),
        };
        diesel::insert_into(markets::table)
            .values(&market)
            .execute(conn)?;
        audit(
            conn,
            &s.actor(),
            "market.created",
            "market",
            Some(&market.id),
            Some(&market.id),
            json!({ "name": market.name }),
            request_id,
        )?;
        Ok(MarketView {
            id: market.id,
            name: market.name,
            office_phone: market.office_phone,
            address: market.address,
            stall_count: 0,
        })
    })
}

/// Used by the operator's console and by `backend create-user`.
pub fn create_user(
    conn: &mut DbConn,
    actor: &str,
    input: &StaffUserInput,
    request_id: Option<&str>,
) -> AppResult<StaffUserView> {
    let errors = shared::manager::validate_staff_user(input);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let hash = crate::passwords::hash(&input.password)?;
    crate::db::write_transaction(conn, |conn| {
        let username = input.username.trim().to_owned();
        let taken = staff_users::table
            .filter(staff_users::username.eq(&username))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if taken {
            return Err(AppError::validation(vec![FieldError::new(
                "username",
                "username_taken",
                "该用户名已被使用",
                "This username is taken",
            )]));
        }
        let market_id = if input.role == ROLE_MANAGER {
            let id = input.market_id.clone().unwrap_or_default();
            let exists = markets::table.find(&id).count().get_result::<i64>(conn)? > 0;
            if !exists {
                return Err(AppError::validation(vec![FieldError::new(
                    "market_id",
                    "market_unknown",
                    "没有这个市场",
                    "No such market",
                )]));
            }
            Some(id)
        } else {
            None
        };
        let user = StaffUser {
            id: new_id("usr"),
            username,
            display_name: input.display_name.trim().to_owned(),
            role: input.role.clone(),
            market_id,
            bank_id: None,
            password_hash: hash,
            active: true,
            created_at: timestamp(Utc::now()),
        };
        diesel::insert_into(staff_users::table)
            .values(&user)
            .execute(conn)?;
        audit(
            conn,
            actor,
            "staff.created",
            "staff_user",
            Some(&user.id),
            user.market_id.as_deref(),
            json!({ "username": user.username, "role": user.role }),
            request_id,
        )?;
        Ok(view(user))
    })
}

fn view(u: StaffUser) -> StaffUserView {
    StaffUserView {
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        role: u.role,
        market_id: u.market_id,
        active: u.active,
    }
}

pub fn list_users(conn: &mut DbConn) -> AppResult<Vec<StaffUserView>> {
    Ok(staff_users::table
        .filter(staff_users::role.eq_any([ROLE_MANAGER, ROLE_OPERATOR]))
        .order(staff_users::created_at.asc())
        .select(StaffUser::as_select())
        .load(conn)?
        .into_iter()
        .map(view)
        .collect())
}
