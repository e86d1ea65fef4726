//! Counters that limit what one client address, one number, one username
//! or everyone together may do in a window of time (`rate_counters`).
//!
//! A counter is one row per bucket (`otp_send:addr:203.0.113.9`), holding
//! the start of its current fixed window and how many were taken in it.
//! Taking one is a single conditional UPDATE (`count < limit` in the current
//! window) whose affected-row count decides, so any number of server
//! processes agree and concurrent requests cannot overshoot. Not for use
//! inside a transaction: making a bucket's first row may lose a race, which
//! PostgreSQL would let abort the whole transaction.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::schema::rate_counters;
use crate::db::{DbConn, timestamp};
use crate::error::AppResult;

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 24 * HOUR;
/// Rows whose window started this long ago belong to no live window (the
/// longest is a day) and are swept when a new row is made.
const SWEEP_AFTER: i64 = 2 * DAY;

/// A limit reached: when its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    pub retry_after: u64,
}

/// The start of the fixed window of `seconds` that `now` falls in (windows
/// are aligned on the Unix epoch, so every process computes the same).
pub fn window_start(now: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    let start = now.timestamp().div_euclid(seconds) * seconds;
    DateTime::from_timestamp(start, 0).unwrap_or(now)
}

fn seconds_left(now: DateTime<Utc>, seconds: i64) -> u64 {
    let end = window_start(now, seconds) + Duration::seconds(seconds);
    u64::try_from((end - now).num_seconds()).unwrap_or(0).max(1)
}

/// Takes one from `bucket`'s `limit` per window of `seconds`, or says when
/// the window ends.
pub fn take(
    conn: &mut DbConn,
    bucket: &str,
    limit: u32,
    seconds: i64,
    now: DateTime<Utc>,
) -> AppResult<Result<(), Exhausted>> {
    let start = timestamp(window_start(now, seconds));
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let exhausted = Err(Exhausted {
        retry_after: seconds_left(now, seconds),
    });
    if limit == 0 {
        return Ok(exhausted);
    }
    // A second round follows a row made, or a window restarted, by a
    // concurrent request between this one's statements; only a row that
    // still refuses after that is at its limit.
    for round in 0..3 {
        // The current window, or a later one a request with a later clock
        // already started (at the turn of the hour): counted there.
        let counted = diesel::update(
            rate_counters::table
                .find(bucket)
                .filter(rate_counters::window_start.ge(&start))
                .filter(rate_counters::count.lt(limit)),
        )
        .set(rate_counters::count.eq(rate_counters::count + 1))
        .execute(conn)?;
        if counted == 1 {
            return Ok(Ok(()));
        }
        let restarted = diesel::update(
            rate_counters::table
                .find(bucket)
                .filter(rate_counters::window_start.lt(&start)),
        )
        .set((
            rate_counters::window_start.eq(&start),
            rate_counters::count.eq(1),
        ))
        .execute(conn)?;
        if restarted == 1 {
            return Ok(Ok(()));
        }
        let exists = rate_counters::table
            .find(bucket)
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if exists {
            if round == 0 {
                continue;
            }
            return Ok(exhausted);
        }
        sweep(conn, now)?;
        let inserted = diesel::insert_into(rate_counters::table)
            .values((
                rate_counters::bucket.eq(bucket),
                rate_counters::window_start.eq(&start),
                rate_counters::count.eq(1),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(Ok(())),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(exhausted)
}

/// Counts one without a limit (a figure another rule reads, such as the
/// wrong passwords an account got this hour).
pub fn add(conn: &mut DbConn, bucket: &str, seconds: i64, now: DateTime<Utc>) -> AppResult<()> {
    take(conn, bucket, u32::MAX, seconds, now).map(|_| ())
}

/// Gives back one taken in the current window (the request it was taken
/// for did not happen after all, or turned out not to count).
pub fn give_back(
    conn: &mut DbConn,
    bucket: &str,
    seconds: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    diesel::update(
        rate_counters::table
            .find(bucket)
            .filter(rate_counters::window_start.eq(timestamp(window_start(now, seconds))))
            .filter(rate_counters::count.gt(0)),
    )
    .set(rate_counters::count.eq(rate_counters::count - 1))
    .execute(conn)?;
    Ok(())
}

/// How many were taken in the current window.
pub fn used(conn: &mut DbConn, bucket: &str, seconds: i64, now: DateTime<Utc>) -> AppResult<u32> {
    let count = rate_counters::table
        .find(bucket)
        .filter(rate_counters::window_start.eq(timestamp(window_start(now, seconds))))
        .select(rate_counters::count)
        .first::<i32>(conn)
        .optional()?;
    Ok(count.map_or(0, |c| u32::try_from(c).unwrap_or(0)))
}

fn sweep(conn: &mut DbConn, now: DateTime<Utc>) -> AppResult<()> {
    diesel::delete(
        rate_counters::table.filter(
            rate_counters::window_start.lt(timestamp(now - Duration::seconds(SWEEP_AFTER))),
        ),
    )
    .execute(conn)?;
    Ok(())
}

/// A bucket's name: what is limited, and for whom.
pub fn bucket(what: &str, subject: &str) -> String {
    format!("{what}:{subject}")
}

/// The client address as limits and counts see it: an IPv4 address as it
/// is, an IPv6 address as its /64 network — one subscriber's line or host
/// gets a whole /64 and could otherwise take a fresh address per request.
pub fn address_subject(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let net = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc());
            net.map_or_else(|_| ip.to_owned(), |n| n.to_string())
        }
        _ => ip.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::temp_pool;

    #[test]
    fn an_ipv6_client_is_limited_as_its_64_network() {
        assert_eq!(address_subject("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_subject("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address_subject("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(address_subject("unknown"), "unknown");
    }

    #[test]
    fn windows_are_aligned_and_say_when_they_end() {
        let t = DateTime::parse_from_rfc3339("2026-12-02T10:59:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(window_start(t, HOUR)), "2026-12-02T10:00:00.000Z");
        assert_eq!(timestamp(window_start(t, DAY)), "2026-12-02T00:00:00.000Z");
        assert_eq!(seconds_left(t, HOUR), 30);
    }

    #[test]
    fn a_limit_holds_within_its_window_and_restarts_after() {
        let (pool, _dir) = temp_pool();
        let mut conn = pool.get().unwrap();
        let t = DateTime::parse_from_rfc3339("2026-12-02T10:00:05Z")
            .unwrap()
            .with_timezone(&Utc);
        for _ in 0..3 {
            assert_eq!(take(&mut conn, "x:a", 3, HOUR, t).unwrap(), Ok(()));
        }
        let refused = take(&mut conn, "x:a", 3, HOUR, t).unwrap().unwrap_err();
        assert_eq!(refused.retry_after, 3595);
        // Another subject has its own allowance.
        assert_eq!(take(&mut conn, "x:b", 3, HOUR, t).unwrap(), Ok(()));
        // One given back can be taken again; the count never goes below 0.
        give_back(&mut conn, "x:a", HOUR, t).unwrap();
        assert_eq!(used(&mut conn, "x:a", HOUR, t).unwrap(), 2);
        assert_eq!(take(&mut conn, "x:a", 3, HOUR, t).unwrap(), Ok(()));
        for _ in 0..5 {
            give_back(&mut conn, "x:b", HOUR, t).unwrap();
        }
        assert_eq!(used(&mut conn, "x:b", HOUR, t).unwrap(), 0);
        // The next window starts afresh, and a limit of 0 refuses all.
        let later = t + Duration::hours(1);
        assert_eq!(used(&mut conn, "x:a", HOUR, later).unwrap(), 0);
        assert_eq!(take(&mut conn, "x:a", 3, HOUR, later).unwrap(), Ok(()));
        assert_eq!(used(&mut conn, "x:a", HOUR, later).unwrap(), 1);
        assert!(take(&mut conn, "x:c", 0, HOUR, later).unwrap().is_err());
        // Rows of windows long gone are swept when a new bucket is made.
        let much_later = t + Duration::days(3);
        take(&mut conn, "x:d", 3, HOUR, much_later)
            .unwrap()
            .unwrap();
        let left: i64 = rate_counters::table.count().get_result(&mut conn).unwrap();
        assert_eq!(left, 1);
    }

    #[test]
    fn concurrent_first_takes_of_a_new_bucket_are_all_counted() {
        // Eight requests racing to make a bucket's first row: none is
        // refused by a limit it is far from.
        let (pool, _dir) = temp_pool();
        let now = Utc::now();
        for round in 0..20 {
            let bucket = format!("fresh:{round}");
            let refused: usize = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        let (pool, bucket) = (pool.clone(), bucket.clone());
                        s.spawn(move || {
                            let mut conn = pool.get().unwrap();
                            usize::from(
                                take(&mut conn, &bucket, 1_000, HOUR, now).unwrap().is_err(),
                            )
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(refused, 0, "round {round}");
            let mut conn = pool.get().unwrap();
            assert_eq!(used(&mut conn, &bucket, HOUR, now).unwrap(), 8);
        }
    }

    #[test]
    fn concurrent_takes_never_overshoot() {
        let (pool, _dir) = temp_pool();
        let now = Utc::now();
        let taken: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let pool = pool.clone();
                    s.spawn(move || {
                        let mut conn = pool.get().unwrap();
                        (0..10)
                            .filter(|_| take(&mut conn, "race", 25, DAY, now).unwrap().is_ok())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(taken, 25);
    }
}
