//! Staff accounts: password login (throttled per username and client
//! address, slowed down per username, never locked), sessions (the
//! merchant's token code, another cookie name; the extractor is
//! `request::StaffSession`), the market scope every manager query is
//! filtered by, and the operator's markets and accounts.
//!
//! Login throttling, so that an attacker elsewhere cannot lock the real
//! user out, and the answers do not tell which accounts exist:
//! - per (username as typed, client address): [`FREE_FAILURES`] wrong
//!   passwords, then a growing wait between tries (1 s, 2 s, 4 s, … up to
//!   [`MAX_DELAY_SECONDS`]); a try within the wait gets 429 with
//!   `Retry-After`, unevaluated. Another address is not affected;
//! - per client address: `config::Limits::login_failures_per_address`
//!   wrong passwords an hour, whatever the usernames;
//! - per username, from anywhere: past [`SLOW_DOWN_AFTER`] wrong passwords
//!   in the hour every try waits a little before its hash (a slow-down that
//!   costs the real user seconds, never the account);
//! - unknown usernames go through the same counters and an argon2 check
//!   against a dummy hash: the same statuses, codes and work as a real one.
//!
//! The hash runs on `passwords::HashPool`, between two short database
//! steps, never while holding a connection.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::error::FieldError;
use shared::manager::{
    MarketInput, MarketView, ROLE_MANAGER, ROLE_OPERATOR, StaffMe, StaffUserInput, StaffUserView,
};

use crate::auth::limits::{self, HOUR};
use crate::auth::session::{new_token, token_hash};
use crate::config::Limits;
use crate::db::models::{Market, StaffUser};
use crate::db::schema::{login_throttle, markets, staff_sessions, staff_users, stalls};
use crate::db::{DbConn, DbPool, new_id, timestamp};
use crate::error::{AppError, AppResult};
use crate::passwords::HashPool;
use crate::services::audit::{audit, staff_actor};
use crate::services::refusals::{self, Refusal};

pub const COOKIE_NAME: &str = "mc_staff";
/// An office working day.
pub const SESSION_HOURS: i64 = 10;
/// Wrong passwords from one (username, address) before tries are spaced.
pub const FREE_FAILURES: i32 = 5;
/// The longest wait between tries from one (username, address).
pub const MAX_DELAY_SECONDS: i64 = 15 * 60;
/// Wrong passwords for one username in an hour, from anywhere, past which
/// every try of it is slowed down.
pub const SLOW_DOWN_AFTER: u32 = 20;
/// The longest slow-down.
pub const MAX_SLOW_DOWN_SECONDS: u64 = 5;
/// A throttle row untouched this long says nothing and is swept.
const THROTTLE_KEEP_HOURS: i64 = 24;

fn invalid_credentials() -> AppError {
    AppError::unauthorized_as(
        "invalid_credentials",
        "用户名或密码不正确",
        "The username or password is not correct",
    )
}

fn too_many_failures(retry_after: u64) -> AppError {
    let mut e = AppError::too_many_requests(
        "too_many_failures",
        "密码错误次数过多，请稍后再试",
        "Too many wrong passwords; please wait a moment before trying again",
    );
    e.body.message_zh = format!("密码错误次数过多，请{retry_after}秒后再试");
    e.body.message_en =
        format!("Too many wrong passwords; please try again in {retry_after} seconds");
    e.with_retry_after(retry_after)
}

fn address_limit(retry_after: u64) -> AppError {
    AppError::too_many_requests(
        "login_address_limit",
        "从此网络输入错误密码的次数过多，请稍后再试",
        "Too many wrong passwords were typed from this network; please try again later",
    )
    .with_retry_after(retry_after)
}

/// The wait after the `failures`-th wrong password in a row from one
/// (username, address): none for the first few, then doubling.
pub fn delay_after(failures: i32) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES).unwrap_or(0).min(20);
    (1i64 << doublings).min(MAX_DELAY_SECONDS)
}

/// The slow-down for a username with `failures` wrong passwords this hour.
pub fn slow_down_for(failures: u32) -> std::time::Duration {
    let over = failures.saturating_sub(SLOW_DOWN_AFTER);
    let seconds = if over == 0 {
        0
    } else {
        (1 + u64::from(over) / 20).min(MAX_SLOW_DOWN_SECONDS)
    };
    std::time::Duration::from_secs(seconds)
}

/// Usernames are compared trimmed and in lower case (as stored).
fn normalise_username(username: &str) -> String {
    username.trim().to_ascii_lowercase()
}

/// Reserves one try for (username, address), counting it as a failure
/// until [`finish_login`] learns otherwise: concurrent tries cannot slip
/// past the wait (one compare-and-set per try; the losers are told to wait
/// a second).
fn reserve_try(
    conn: &mut DbConn,
    username: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> AppResult<Result<(), u64>> {
    let now_text = timestamp(now);
    let row: Option<(i32, String)> = login_throttle::table
        .find((username, client_ip))
        .select((login_throttle::failures, login_throttle::next_try_at))
        .first(conn)
        .optional()?;
    let next_at = |failures: i32| timestamp(now + Duration::seconds(delay_after(failures)));
    let claimed = match row {
        Some((failures, next_try_at)) => {
            if next_try_at > now_text {
                let wait = crate::db::parse_timestamp(&next_try_at)
                    .map_or(1, |t| (t - now).num_seconds().max(1));
                return Ok(Err(u64::try_from(wait).unwrap_or(1)));
            }
            diesel::update(
                login_throttle::table
                    .find((username, client_ip))
                    .filter(login_throttle::failures.eq(failures))
                    .filter(login_throttle::next_try_at.eq(&next_try_at)),
            )
            .set((
                login_throttle::failures.eq(failures + 1),
                login_throttle::next_try_at.eq(next_at(failures + 1)),
                login_throttle::updated_at.eq(&now_text),
            ))
            .execute(conn)?
                == 1
        }
        None => {
            diesel::delete(
                login_throttle::table.filter(
                    login_throttle::updated_at
                        .lt(timestamp(now - Duration::hours(THROTTLE_KEEP_HOURS))),
                ),
            )
            .execute(conn)?;
            let inserted = diesel::insert_into(login_throttle::table)
                .values((
                    login_throttle::username.eq(username),
                    login_throttle::client_ip.eq(client_ip),
                    login_throttle::failures.eq(1),
                    login_throttle::next_try_at.eq(next_at(1)),
                    login_throttle::updated_at.eq(&now_text),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => true,
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => false,
                Err(e) => return Err(e.into()),
            }
        }
    };
    Ok(if claimed { Ok(()) } else { Err(1) })
}

/// Forgets a username's throttle rows (all addresses): after a password
/// reset, say.
pub fn clear_login_throttle(conn: &mut DbConn, username: &str) -> AppResult<()> {
    diesel::delete(
        login_throttle::table.filter(login_throttle::username.eq(normalise_username(username))),
    )
    .execute(conn)?;
    Ok(())
}

/// A login between its two database steps: what the hash is checked
/// against, and how long to slow down first.
pub struct LoginTry {
    username: String,
    client_ip: String,
    user: Option<StaffUser>,
    stored_hash: String,
    pub slow_down: std::time::Duration,
}

fn address_bucket(client_ip: &str) -> String {
    limits::bucket("login_fail:addr", client_ip)
}

fn username_bucket(username: &str) -> String {
    limits::bucket("login_fail:user", username)
}

/// The first step: the limits, then the stored hash (a dummy one for an
/// unknown username). A refusal is counted for the address.
pub fn begin_login(
    conn: &mut DbConn,
    limits: &Limits,
    username: &str,
    client_ip: &str,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<LoginTry> {
    let username = normalise_username(username);
    let client_ip = &limits::address_subject(client_ip);
    let user: Option<StaffUser> = staff_users::table
        .filter(staff_users::username.eq(&username))
        .filter(staff_users::active.eq(true))
        .select(StaffUser::as_select())
        .first(conn)
        .optional()?;
    let refused = |conn: &mut DbConn, e: AppError| -> AppResult<LoginTry> {
        let refusal = Refusal {
            action: "staff.login_throttled",
            reason: e.code(),
            object_id: user.as_ref().map(|u| u.id.as_str()),
            market_id: user.as_ref().and_then(|u| u.market_id.as_deref()),
        };
        refusals::count(conn, client_ip, refusal, request_id, now)?;
        Err(e)
    };
    let address = address_bucket(client_ip);
    if let Err(e) = limits::take(conn, &address, limits.login_failures_per_address, HOUR, now)? {
        return refused(conn, address_limit(e.retry_after));
    }
    if let Err(wait) = reserve_try(conn, &username, client_ip, now)? {
        limits::give_back(conn, &address, HOUR, now)?;
        return refused(conn, too_many_failures(wait));
    }
    let failures = limits::used(conn, &username_bucket(&username), HOUR, now)?;
    let stored_hash = user.as_ref().map_or_else(
        || crate::passwords::dummy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    Ok(LoginTry {
        username,
        client_ip: client_ip.to_owned(),
        user,
        stored_hash,
        slow_down: slow_down_for(failures),
    })
}

/// The active accounts whose password is `password` (production refuses to
/// start while the demo password from the source code opens one).
pub fn accounts_with_password(conn: &mut DbConn, password: &str) -> AppResult<Vec<String>> {
    let accounts: Vec<(String, String)> = staff_users::table
        .filter(staff_users::active.eq(true))
        .select((staff_users::username, staff_users::password_hash))
        .load(conn)?;
    Ok(accounts
        .into_iter()
        .filter(|(_, hash)| crate::passwords::verify(password, hash))
        .map(|(username, _)| username)
        .collect())
}

/// `backend set-password`: a new password for an account (checked as a new
/// account's is), its login throttle forgotten, audited.
pub fn set_password(
    conn: &mut DbConn,
    actor: &str,
    username: &str,
    password: &str,
) -> AppResult<()> {
    let probe = StaffUserInput {
        username: username.to_owned(),
        display_name: username.to_owned(),
        password: password.to_owned(),
        role: ROLE_OPERATOR.to_owned(),
        market_id: None,
    };
    // The password rules of a new account, and nothing else of it.
    let errors: Vec<FieldError> = shared::manager::validate_staff_user(&probe)
        .into_iter()
        .filter(|e| e.field == "password")
        .collect();
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let username = normalise_username(username);
    let hash = crate::passwords::hash(password)?;
    crate::db::write_transaction(conn, |conn| {
        let user: StaffUser = staff_users::table
            .filter(staff_users::username.eq(&username))
            .select(StaffUser::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(AppError::not_found)?;
        diesel::update(staff_users::table.find(&user.id))
            .set(staff_users::password_hash.eq(&hash))
            .execute(conn)?;
        diesel::delete(login_throttle::table.filter(login_throttle::username.eq(&username)))
            .execute(conn)?;
        audit(
            conn,
            actor,
            "staff.password_set",
            "staff_user",
            Some(&user.id),
            user.market_id.as_deref(),
            json!({}),
            None,
        )
    })
}

pub struct LoggedIn {
    pub token: String,
    pub me: StaffMe,
}

/// The last step: a session when the password `matched` a real account;
/// otherwise the failure is counted and the answer is the one an unknown
/// username gets.
pub fn finish_login(
    conn: &mut DbConn,
    attempt: &LoginTry,
    matched: bool,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<LoggedIn> {
    let user = match (&attempt.user, matched) {
        (Some(user), true) => user,
        (user, _) => {
            limits::add(conn, &username_bucket(&attempt.username), HOUR, now)?;
            let refusal = Refusal {
                action: "staff.login_failed",
                reason: "wrong_password",
                object_id: user.as_ref().map(|u| u.id.as_str()),
                market_id: user.as_ref().and_then(|u| u.market_id.as_deref()),
            };
            refusals::count(conn, &attempt.client_ip, refusal, request_id, now)?;
            return Err(invalid_credentials());
        }
    };
    // A success clears this address's record for the username and gives
    // back the address's try.
    diesel::delete(login_throttle::table.find((&attempt.username, &attempt.client_ip)))
        .execute(conn)?;
    limits::give_back(conn, &address_bucket(&attempt.client_ip), HOUR, now)?;
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
    let me = me_of(conn, user, expires_at)?;
    Ok(LoggedIn { token, me })
}

/// The whole login: the limits and the stored hash from the database, the
/// slow-down and the argon2 check on the hash pool (no connection held),
/// then the session.
pub async fn login(
    pool: &DbPool,
    hasher: &HashPool,
    limits: &Limits,
    username: &str,
    password: &str,
    client_ip: &str,
    request_id: Option<&str>,
) -> AppResult<LoggedIn> {
    let (limits, username, ip) = (*limits, username.to_owned(), client_ip.to_owned());
    let rid = request_id.map(str::to_owned);
    let attempt = crate::db::run(pool, move |conn| {
        begin_login(conn, &limits, &username, &ip, rid.as_deref(), Utc::now())
    })
    .await?;
    if !attempt.slow_down.is_zero() {
        tokio::time::sleep(attempt.slow_down).await;
    }
    let matched = hasher
        .verify(password.to_owned(), attempt.stored_hash.clone())
        .await?;
    let rid = request_id.map(str::to_owned);
    crate::db::run(pool, move |conn| {
        finish_login(conn, &attempt, matched, rid.as_deref(), Utc::now())
    })
    .await
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

/// Refuses an account that `shared::manager::validate_staff_user` refuses:
/// checked before the password is hashed.
pub fn check_new_user(input: &StaffUserInput) -> AppResult<()> {
    let errors = shared::manager::validate_staff_user(input);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::validation(errors))
    }
}

/// `backend create-user`: checks, hashes here (a command line has no pool
/// to wait for) and creates.
pub fn create_user(
    conn: &mut DbConn,
    actor: &str,
    input: &StaffUserInput,
    request_id: Option<&str>,
) -> AppResult<StaffUserView> {
    check_new_user(input)?;
    let hash = crate::passwords::hash(&input.password)?;
    create_user_with_hash(conn, actor, input, hash, request_id)
}

/// Creates a checked account whose password was hashed already (the
/// operator's console hashes on the server's pool, not holding this
/// connection).
pub fn create_user_with_hash(
    conn: &mut DbConn,
    actor: &str,
    input: &StaffUserInput,
    hash: String,
    request_id: Option<&str>,
) -> AppResult<StaffUserView> {
    check_new_user(input)?;
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
