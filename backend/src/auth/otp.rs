//! SMS one-time codes: issuing (with send limits per number, per client
//! address and in total) and checking (with a per-code attempt limit, and
//! limits on wrong codes per client address and in total).
//!
//! Every limit is one conditional UPDATE whose affected-row count decides,
//! which is atomic on SQLite and PostgreSQL alike: two hundred concurrent
//! guesses cannot evaluate more than [`MAX_ATTEMPTS`] of them. The limits
//! per address and in total are `auth::limits` counters, sized by
//! `config::Limits`.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rand::Rng;

use super::keys::FieldCipher;
use super::limits::{self, DAY, HOUR};
use crate::config::Limits;
use crate::db::schema::{otp_challenges, otp_send_limits};
use crate::db::{DbConn, new_id, timestamp};
use crate::error::{AppError, AppResult};

pub const CODE_TTL_SECONDS: i64 = 5 * 60;
pub const RESEND_SECONDS: i64 = 60;
pub const SENDS_PER_DAY: i32 = 10;
/// Of a number's daily sends, how many one client address may ask for: an
/// attacker's address cannot use up a victim's day.
pub const SENDS_PER_DAY_PER_ADDRESS: u32 = 5;
pub const MAX_ATTEMPTS: i32 = 5;

/// The counters one send takes, in the order taken, and the error each
/// gives when exhausted.
fn send_buckets(limits: &Limits, mobile: &str, client_ip: &str) -> [(String, u32, i64); 3] {
    let client_ip = &limits::address_subject(client_ip);
    [
        (
            limits::bucket("otp_send:addr", client_ip),
            limits.otp_sends_per_address,
            HOUR,
        ),
        (
            limits::bucket("otp_send", "all"),
            limits.otp_sends_total,
            HOUR,
        ),
        (
            limits::bucket("otp_send:number_addr", &format!("{mobile}@{client_ip}")),
            SENDS_PER_DAY_PER_ADDRESS,
            DAY,
        ),
    ]
}

fn send_refused(which: usize, retry_after: u64) -> AppError {
    let (code, zh, en) = match which {
        0 => (
            "otp_address_limit",
            "从此网络获取验证码的次数过多，请稍后再试",
            "Too many codes were asked for from this network; please try again later",
        ),
        1 => (
            "otp_busy",
            "当前获取验证码的人数过多，请稍后再试",
            "Too many codes are being asked for right now; please try again later",
        ),
        _ => (
            "otp_address_daily_limit",
            "今天从此网络为该号码获取验证码的次数已达上限，请明天再试或换一个网络",
            "Too many codes were asked for this number from this network today; \
             please try again tomorrow or from another network",
        ),
    };
    AppError::too_many_requests(code, zh, en).with_retry_after(retry_after)
}

/// Claims one send for `mobile` asked for from `client_ip`: within the
/// limits per address and in total (hourly), of this number from this
/// address (daily), and the number's own ([`reserve_send`]). A refusal by
/// a later limit gives back what the earlier ones took, so only sends that
/// go out are counted.
pub fn reserve_send_for(
    conn: &mut DbConn,
    limits: &Limits,
    mobile: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let buckets = send_buckets(limits, mobile, client_ip);
    let mut taken = 0;
    let refused = loop {
        let Some((bucket, limit, window)) = buckets.get(taken) else {
            break reserve_send(conn, mobile, now).err();
        };
        match limits::take(conn, bucket, *limit, *window, now)? {
            Ok(()) => taken += 1,
            Err(e) => break Some(send_refused(taken, e.retry_after)),
        }
    };
    match refused {
        None => Ok(()),
        Some(e) => {
            give_back_sends(conn, &buckets[..taken], now)?;
            Err(e)
        }
    }
}

/// Undoes [`reserve_send_for`]'s counts per address and in total, when the
/// message could not be sent.
pub fn release_send(
    conn: &mut DbConn,
    limits: &Limits,
    mobile: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    give_back_sends(conn, &send_buckets(limits, mobile, client_ip), now)
}

fn give_back_sends(
    conn: &mut DbConn,
    buckets: &[(String, u32, i64)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for (bucket, _, window) in buckets {
        limits::give_back(conn, bucket, *window, now)?;
    }
    Ok(())
}

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
        // A row whose day ended long ago says no more than no row: swept
        // here, so numbers asked for once do not stay forever.
        diesel::delete(
            otp_send_limits::table
                .filter(otp_send_limits::window_start.lt(timestamp(now - Duration::days(2)))),
        )
        .execute(conn)?;
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
        // Challenges are of no use after a day, whoever's they were;
        // dropping them here keeps the table bounded without a sweeper.
        diesel::delete(
            otp_challenges::table
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

fn failures_refused(which: usize, retry_after: u64) -> AppError {
    let (code, zh, en) = if which == 0 {
        (
            "otp_address_tries_limit",
            "从此网络输入错误验证码的次数过多，请稍后再试",
            "Too many wrong codes were typed from this network; please try again later",
        )
    } else {
        (
            "otp_busy",
            "当前登录的人数过多，请稍后再试",
            "Too many people are logging in right now; please try again later",
        )
    };
    AppError::too_many_requests(code, zh, en).with_retry_after(retry_after)
}

/// Checks a code typed for `mobile` from `client_ip` and consumes it. Each
/// call on a live code uses up one of its [`MAX_ATTEMPTS`] tries, and one
/// of the address's and everyone's hourly allowance of wrong codes, before
/// the comparison, so concurrent guesses are counted too; a right code gives
/// the allowances back.
pub fn verify(
    conn: &mut DbConn,
    fields: &FieldCipher,
    limits: &Limits,
    mobile: &str,
    code: &str,
    client_ip: &str,
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
    let buckets = [
        (
            limits::bucket("otp_fail:addr", &limits::address_subject(client_ip)),
            limits.otp_failures_per_address,
        ),
        (limits::bucket("otp_fail", "all"), limits.otp_failures_total),
    ];
    for (i, (bucket, limit)) in buckets.iter().enumerate() {
        if let Err(e) = limits::take(conn, bucket, *limit, HOUR, now)? {
            for (taken, _) in &buckets[..i] {
                limits::give_back(conn, taken, HOUR, now)?;
            }
            return Err(failures_refused(i, e.retry_after));
        }
    }
    let give_back = |conn: &mut DbConn| -> AppResult<()> {
        for (bucket, _) in &buckets {
            limits::give_back(conn, bucket, HOUR, now)?;
        }
        Ok(())
    };
    let counted = diesel::update(
        otp_challenges::table
            .find(&id)
            .filter(otp_challenges::attempts.lt(MAX_ATTEMPTS))
            .filter(otp_challenges::consumed_at.is_null()),
    )
    .set(otp_challenges::attempts.eq(otp_challenges::attempts + 1))
    .execute(conn)?;
    if counted == 0 {
        // Refused unevaluated: not a guess.
        give_back(conn)?;
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
    give_back(conn)?;
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
        assert!(
            verify(
                &mut conn,
                &fields,
                &Limits::default(),
                m,
                &code,
                "203.0.113.9",
                now
            )
            .is_ok()
        );
        assert_eq!(
            verify(
                &mut conn,
                &fields,
                &Limits::default(),
                m,
                &code,
                "203.0.113.9",
                now
            )
            .unwrap_err()
            .code(),
            "otp_invalid"
        );

        // A newer code voids the older one.
        let old = issue(&mut conn, &fields, m, &ctx, now).unwrap();
        let new = issue(&mut conn, &fields, m, &ctx, now + Duration::seconds(1)).unwrap();
        if old != new {
            assert_eq!(
                verify(
                    &mut conn,
                    &fields,
                    &Limits::default(),
                    m,
                    &old,
                    "203.0.113.9",
                    now
                )
                .unwrap_err()
                .code(),
                "otp_wrong"
            );
        }
        assert!(
            verify(
                &mut conn,
                &fields,
                &Limits::default(),
                m,
                &new,
                "203.0.113.9",
                now
            )
            .is_ok()
        );

        // Expired.
        let code = issue(&mut conn, &fields, m, &ctx, now).unwrap();
        let late = now + Duration::seconds(CODE_TTL_SECONDS);
        assert_eq!(
            verify(
                &mut conn,
                &fields,
                &Limits::default(),
                m,
                &code,
                "203.0.113.9",
                late
            )
            .unwrap_err()
            .code(),
            "otp_invalid"
        );

        // Five wrong tries, then even the right code is refused.
        let code = issue(&mut conn, &fields, m, &ctx, now).unwrap();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for i in 1..=MAX_ATTEMPTS {
            let e = verify(
                &mut conn,
                &fields,
                &Limits::default(),
                m,
                wrong,
                "203.0.113.9",
                now,
            )
            .unwrap_err();
            assert_eq!(e.code(), "otp_wrong", "try {i}");
            assert!(
                e.body
                    .message_en
                    .contains(&format!("{} tries left", MAX_ATTEMPTS - i))
            );
        }
        assert_eq!(
            verify(
                &mut conn,
                &fields,
                &Limits::default(),
                m,
                &code,
                "203.0.113.9",
                now
            )
            .unwrap_err()
            .code(),
            "otp_locked"
        );
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn one_address_cannot_use_up_a_victims_number() {
        let (pool, _dir) = crate::test_fixtures::temp_pool();
        let mut conn = pool.get().unwrap();
        let limits = Limits::default();
        let victim = "13900000009";
        let t0: DateTime<Utc> = "2026-12-02T01:00:00Z".parse().unwrap();
        // The attacker asks every two minutes (past the one-a-minute limit)
        // until refused.
        let mut sent = 0;
        let refusal = loop {
            let at = t0 + Duration::minutes(2 * sent);
            match reserve_send_for(&mut conn, &limits, victim, "198.51.100.66", at) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent <= i64::from(SENDS_PER_DAY), "never refused");
        };
        assert_eq!(refusal.code(), "otp_address_daily_limit");
        assert_eq!(sent, i64::from(SENDS_PER_DAY_PER_ADDRESS));
        assert!(refusal.retry_after.is_some_and(|s| s > 3600));
        // The victim, from their own address, still gets their codes.
        let later = t0 + Duration::minutes(2 * sent + 2);
        reserve_send_for(&mut conn, &limits, victim, "203.0.113.20", later).unwrap();
        // …and a refused send took nothing from the attacker's hourly
        // allowance: only sends that went out count.
        let used = limits::used(
            &mut conn,
            &limits::bucket("otp_send:addr", "198.51.100.66"),
            HOUR,
            later,
        )
        .unwrap();
        assert_eq!(i64::from(used), sent);
    }

    #[test]
    fn wrong_codes_are_limited_per_address_and_a_right_one_costs_nothing() {
        let (pool, _dir) = crate::test_fixtures::temp_pool();
        let mut conn = pool.get().unwrap();
        let fields = FieldCipher::new(&[3u8; 32]);
        let limits = Limits {
            otp_failures_per_address: 7,
            ..Limits::default()
        };
        let now = Utc::now();
        let ctx = LoginContext::default();
        let guesser = "198.51.100.77";
        // Two numbers' codes: five wrong tries on the first, then two on the
        // second use up the address's seven.
        let mut wrong_tries = 0;
        for m in ["13900000011", "13900000012"] {
            let code = issue(&mut conn, &fields, m, &ctx, now).unwrap();
            let wrong = if code == "000000" { "000001" } else { "000000" };
            loop {
                match verify(&mut conn, &fields, &limits, m, wrong, guesser, now) {
                    Err(e) if e.code() == "otp_wrong" => wrong_tries += 1,
                    Err(e) if e.code() == "otp_locked" => break,
                    Err(e) => {
                        assert_eq!(e.code(), "otp_address_tries_limit");
                        assert!(e.retry_after.is_some());
                        break;
                    }
                    Ok(_) => panic!("a wrong code was taken"),
                }
            }
        }
        assert_eq!(wrong_tries, 7);
        // The right code from another address still logs in, and gives its
        // try back.
        let m = "13900000013";
        let code = issue(&mut conn, &fields, m, &ctx, now).unwrap();
        verify(&mut conn, &fields, &limits, m, &code, "203.0.113.21", now).unwrap();
        let used = limits::used(
            &mut conn,
            &limits::bucket("otp_fail:addr", "203.0.113.21"),
            HOUR,
            now,
        )
        .unwrap();
        assert_eq!(used, 0);
    }
}
