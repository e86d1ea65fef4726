//! SMS one-time codes: issuing (with per-number send limits) and checking
//! (with a per-code attempt limit).
//!
//! Every limit is one conditional UPDATE whose affected-row count decides,
//! which is atomic on SQLite and PostgreSQL alike: two hundred concurrent
//! guesses cannot evaluate more than [`MAX_ATTEMPTS`] of them.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rand::Rng;

use super::keys::FieldCipher;
use crate::db::schema::{otp_challenges, otp_send_limits};
use crate::db::{DbConn, new_id, timestamp};
use crate::error::{AppError, AppResult};

pub const CODE_TTL_SECONDS: i64 = 5 * 60;
pub const RESEND_SECONDS: i64 = 60;
pub const SENDS_PER_DAY: i32 = 10;
pub const MAX_ATTEMPTS: i32 = 5;

/// The stall or market a login came from, carried from the code check to
/// the merchant record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginContext {
    pub stall_id: Option<String>,
    pub market_id: Option<String>,
}

/// Claims one send for `mobile`: at most one a minute and
/// [`SENDS_PER_DAY`] in a rolling day (the day window restarts with the
/// first send after it ends).
pub fn reserve_send(conn: &mut DbConn, mobile: &str, now: DateTime<Utc>) -> AppResult<()> {
    let now_text = timestamp(now);
    let exists = otp_send_limits::table
        .find(mobile)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        let inserted = diesel::insert_into(otp_send_limits::table)
            .values((
                otp_send_limits::mobile.eq(mobile),
                otp_send_limits::last_sent_at.eq(timestamp(DateTime::UNIX_EPOCH)),
                otp_send_limits::window_start.eq(&now_text),
                otp_send_limits::window_count.eq(0),
            ))
            .execute(conn);
        match inserted {
            // Another request made the row first: the same outcome.
            Ok(_)
            | Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            Err(e) => return Err(e.into()),
        }
    }
    diesel::update(
        otp_send_limits::table
            .find(mobile)
            .filter(otp_send_limits::window_start.le(timestamp(now - Duration::days(1)))),
    )
    .set((
        otp_send_limits::window_start.eq(&now_text),
        otp_send_limits::window_count.eq(0),
    ))
    .execute(conn)?;
    let claimed = diesel::update(
        otp_send_limits::table
            .find(mobile)
            .filter(
                otp_send_limits::last_sent_at
                    .le(timestamp(now - Duration::seconds(RESEND_SECONDS))),
            )
            .filter(otp_send_limits::window_count.lt(SENDS_PER_DAY)),
    )
    .set((
        otp_send_limits::last_sent_at.eq(&now_text),
        otp_send_limits::window_count.eq(otp_send_limits::window_count + 1),
    ))
    .execute(conn)?;
    if claimed == 1 {
        return Ok(());
    }
    let (last_sent_at, count): (String, i32) = otp_send_limits::table
        .find(mobile)
        .select((otp_send_limits::last_sent_at, otp_send_limits::window_count))
        .first(conn)?;
    if count >= SENDS_PER_DAY {
        return Err(AppError::too_many_requests(
            "otp_daily_limit",
            "今天获取验证码的次数已达上限，请明天再试",
            "Too many codes requested for this number today; please try again tomorrow",
        ));
    }
    let wait = crate::db::parse_timestamp(&last_sent_at)
        .map(|t| {
            (t + Duration::seconds(RESEND_SECONDS) - now)
                .num_seconds()
                .max(1)
        })
        .unwrap_or(RESEND_SECONDS);
    let mut e = AppError::too_many_requests(
        "otp_too_soon",
        "验证码已发送，请稍后再获取",
        "A code was just sent; please wait before asking for another",
    );
    e.body.message_zh = format!("验证码已发送，请{wait}秒后再获取");
    e.body.message_en =
        format!("A code was just sent; please wait {wait} seconds before asking for another");
    Err(e)
}

/// A new code for `mobile`, voiding any earlier unused one. Returns the code
/// (to send; it is stored only as a keyed hash).
pub fn issue(
    conn: &mut DbConn,
    fields: &FieldCipher,
    mobile: &str,
    context: &LoginContext,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let id = new_id("otp");
    let now_text = timestamp(now);
    crate::db::write_transaction(conn, |conn| {
        // The number's old challenges are of no use after a day; dropping
        // them here keeps the table bounded without a sweeper.
        diesel::delete(
            otp_challenges::table
                .filter(otp_challenges::mobile.eq(mobile))
                .filter(otp_challenges::created_at.lt(timestamp(now - Duration::days(1)))),
        )
        .execute(conn)?;
        diesel::update(
            otp_challenges::table
                .filter(otp_challenges::mobile.eq(mobile))
                .filter(otp_challenges::consumed_at.is_null()),
        )
        .set(otp_challenges::consumed_at.eq(&now_text))
        .execute(conn)?;
        diesel::insert_into(otp_challenges::table)
            .values((
                otp_challenges::id.eq(&id),
                otp_challenges::mobile.eq(mobile),
                otp_challenges::code_hash.eq(fields.otp_hash(&id, &code)),
                otp_challenges::created_at.eq(&now_text),
                otp_challenges::expires_at.eq(timestamp(now + Duration::seconds(CODE_TTL_SECONDS))),
                otp_challenges::attempts.eq(0),
                otp_challenges::stall_id.eq(&context.stall_id),
                otp_challenges::market_id.eq(&context.market_id),
            ))
            .execute(conn)?;
        AppResult::Ok(())
    })?;
    Ok(code)
}

fn wrong_code(remaining: i32) -> AppError {
    let mut e = AppError::bad_request("otp_wrong", "验证码不正确", "The code is not correct");
    e.body.message_zh = format!("验证码不正确，还可以再试{remaining}次");
    e.body.message_en = format!("The code is not correct; {remaining} tries left");
    e
}

fn locked() -> AppError {
    AppError::too_many_requests(
        "otp_locked",
        "验证码错误次数过多，请重新获取验证码",
        "Too many wrong tries for this code; please ask for a new one",
    )
}

/// Checks a code typed for `mobile` and consumes it. Each call on a live
/// code uses up one of its [`MAX_ATTEMPTS`] tries before the comparison, so
/// concurrent guesses are counted too.
pub fn verify(
    conn: &mut DbConn,
    fields: &FieldCipher,
    mobile: &str,
    code: &str,
    now: DateTime<Utc>,
) -> AppResult<LoginContext> {
    let no_code = || {
        AppError::bad_request(
            "otp_invalid",
            "验证码无效或已过期，请重新获取",
            "The code is not valid or has expired; please ask for a new one",
        )
    };
    let now_text = timestamp(now);
    let challenge = otp_challenges::table
        .filter(otp_challenges::mobile.eq(mobile))
        .filter(otp_challenges::consumed_at.is_null())
        .order(otp_challenges::created_at.desc())
        .select((
            otp_challenges::id,
            otp_challenges::code_hash,
            otp_challenges::expires_at,
            otp_challenges::stall_id,
            otp_challenges::market_id,
        ))
        .first::<(String, String, String, Option<String>, Option<String>)>(conn)
        .optional()?;
    let Some((id, code_hash, expires_at, stall_id, market_id)) = challenge else {
        return Err(no_code());
    };
    if expires_at <= now_text {
        return Err(no_code());
    }
    let counted = diesel::update(
        otp_challenges::table
            .find(&id)
            .filter(otp_challenges::attempts.lt(MAX_ATTEMPTS))
            .filter(otp_challenges::consumed_at.is_null()),
    )
    .set(otp_challenges::attempts.eq(otp_challenges::attempts + 1))
    .execute(conn)?;
    if counted == 0 {
        return Err(locked());
    }
    if !fields.otp_matches(&id, code, &code_hash) {
        let attempts: i32 = otp_challenges::table
            .find(&id)
            .select(otp_challenges::attempts)
            .first(conn)?;
        // "Wrong" (with 0 tries left on the last one) for every evaluated
        // guess, "locked" for those refused unevaluated: a client can tell.
        return Err(wrong_code((MAX_ATTEMPTS - attempts).max(0)));
    }
    // Single use: of two concurrent right answers only one consumes it.
    let consumed = diesel::update(
        otp_challenges::table
            .find(&id)
            .filter(otp_challenges::consumed_at.is_null()),
    )
    .set(otp_challenges::consumed_at.eq(&now_text))
    .execute(conn)?;
    if consumed == 0 {
        return Err(no_code());
    }
    Ok(LoginContext {
        stall_id,
        market_id,
    })
}

/// `None` unless exactly six ASCII digits (after trimming).
pub fn normalise_code(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> (crate::db::DbPool, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("mc-otp-{}", hex::encode(rand::random::<[u8; 6]>())));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = crate::db::connect(&dir.join("t.sqlite3").display().to_string()).unwrap();
        crate::db::migrate(&pool).unwrap();
        (pool, dir)
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(normalise_code(" 012345 ").as_deref(), Some("012345"));
        assert_eq!(normalise_code("12345"), None);
        assert_eq!(normalise_code("12345a"), None);
        assert_eq!(normalise_code("１２３４５６"), None);
    }

    #[test]
    fn send_limits_per_minute_and_per_day() {
        let (pool, dir) = temp_db();
        let mut conn = pool.get().unwrap();
        let t0 = Utc::now();
        reserve_send(&mut conn, "13900000001", t0).unwrap();
        let e = reserve_send(&mut conn, "13900000001", t0 + Duration::seconds(59)).unwrap_err();
        assert_eq!(e.code(), "otp_too_soon");
        // Another number is not affected.
        reserve_send(&mut conn, "13900000002", t0).unwrap();
        for i in 1..SENDS_PER_DAY {
            reserve_send(
                &mut conn,
                "13900000001",
                t0 + Duration::minutes(i64::from(i) * 2),
            )
            .unwrap();
        }
        let later = t0 + Duration::minutes(60);
        assert_eq!(
            reserve_send(&mut conn, "13900000001", later)
                .unwrap_err()
                .code(),
            "otp_daily_limit"
        );
        reserve_send(
            &mut conn,
            "13900000001",
            t0 + Duration::days(1) + Duration::minutes(1),
        )
        .unwrap();
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn codes_are_single_use_limited_and_replaced() {
        let (pool, dir) = temp_db();
        let mut conn = pool.get().unwrap();
        let fields = FieldCipher::new(&[3u8; 32]);
        let now = Utc::now();
        let m = "13900000003";
        let ctx = LoginContext {
            stall_id: None,
            market_id: None,
        };

        let code = issue(&mut conn, &fields, m, &ctx, now).unwrap();
        assert!(verify(&mut conn, &fields, m, &code, now).is_ok());
        assert_eq!(
            verify(&mut conn, &fields, m, &code, now)
                .unwrap_err()
                .code(),
            "otp_invalid"
        );

        // A newer code voids the older one.
        let old = issue(&mut conn, &fields, m, &ctx, now).unwrap();
        let new = issue(&mut conn, &fields, m, &ctx, now + Duration::seconds(1)).unwrap();
        if old != new {
            assert_eq!(
                verify(&mut conn, &fields, m, &old, now).unwrap_err().code(),
                "otp_wrong"
            );
        }
        assert!(verify(&mut conn, &fields, m, &new, now).is_ok());

        // Expired.
        let code = issue(&mut conn, &fields, m, &ctx, now).unwrap();
        let late = now + Duration::seconds(CODE_TTL_SECONDS);
        assert_eq!(
            verify(&mut conn, &fields, m, &code, late)
                .unwrap_err()
                .code(),
            "otp_invalid"
        );

        // Five wrong tries, then even the right code is refused.
        let code = issue(&mut conn, &fields, m, &ctx, now).unwrap();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for i in 1..=MAX_ATTEMPTS {
            let e = verify(&mut conn, &fields, m, wrong, now).unwrap_err();
            assert_eq!(e.code(), "otp_wrong", "try {i}");
            assert!(
                e.body
                    .message_en
                    .contains(&format!("{} tries left", MAX_ATTEMPTS - i))
            );
        }
        assert_eq!(
            verify(&mut conn, &fields, m, &code, now)
                .unwrap_err()
                .code(),
            "otp_locked"
        );
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }
}
