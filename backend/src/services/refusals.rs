//! What anonymous callers were refused, counted per client address per hour
//! (`refusal_counts`): a stall code that did not verify, a request over a
//! limit, a wrong staff password. The audit log (`services::audit`) records
//! what someone did; this records what nobody may do, and only as a count,
//! so a flood of refused requests adds one row per address and hour instead
//! of one per request, and the operator still sees who tried what and how
//! often. Addresses are as `auth::limits::address_subject` sees them (an
//! IPv6 client as its /64). Not for use inside a transaction (see
//! `auth::limits`).

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::auth::limits::{HOUR, window_start};
use crate::db::schema::refusal_counts;
use crate::db::{DbConn, timestamp};
use crate::error::AppResult;

/// Counts older than this are swept when a new row is made.
pub const KEEP_DAYS: i64 = 400;

/// One refusal: what was refused, why, and what it was about.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    /// e.g. `stall_code.refused`, `otp.send_refused`, `staff.login_failed`.
    pub action: &'a str,
    /// e.g. `invalid`, `superseded`, or the error code of a limit.
    pub reason: &'a str,
    /// The stall, account, … it concerned, when known to be genuine (so the
    /// set of values is bounded by what exists, not by what is sent).
    pub object_id: Option<&'a str>,
    pub market_id: Option<&'a str>,
}

/// Adds one to the count of `refusal` from `client_ip` this hour.
pub fn count(
    conn: &mut DbConn,
    client_ip: &str,
    refusal: Refusal<'_>,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let hour = timestamp(window_start(now, HOUR));
    let client_ip = &crate::auth::limits::address_subject(client_ip);
    let object = refusal.object_id.unwrap_or("");
    let now_text = timestamp(now);
    for _ in 0..2 {
        let counted = diesel::update(refusal_counts::table.find((
            &hour,
            client_ip,
            refusal.action,
            refusal.reason,
            object,
        )))
        .set((
            refusal_counts::count.eq(refusal_counts::count + 1),
            refusal_counts::last_at.eq(&now_text),
            refusal_counts::last_request_id.eq(request_id),
        ))
        .execute(conn)?;
        if counted == 1 {
            return Ok(());
        }
        diesel::delete(
            refusal_counts::table
                .filter(refusal_counts::hour.lt(timestamp(now - Duration::days(KEEP_DAYS)))),
        )
        .execute(conn)?;
        let inserted = diesel::insert_into(refusal_counts::table)
            .values((
                refusal_counts::hour.eq(&hour),
                refusal_counts::client_ip.eq(client_ip),
                refusal_counts::action.eq(refusal.action),
                refusal_counts::reason.eq(refusal.reason),
                refusal_counts::object_id.eq(object),
                refusal_counts::market_id.eq(refusal.market_id),
                refusal_counts::count.eq(1i64),
                refusal_counts::first_at.eq(&now_text),
                refusal_counts::last_at.eq(&now_text),
                refusal_counts::last_request_id.eq(request_id),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(()),
            // Made by a concurrent twin: count on it.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::temp_pool;

    #[test]
    fn refusals_are_counted_per_address_hour_and_kind() {
        let (pool, _dir) = temp_pool();
        let mut conn = pool.get().unwrap();
        let t: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
        let invalid = Refusal {
            action: "stall_code.refused",
            reason: "invalid",
            object_id: None,
            market_id: None,
        };
        for i in 0..50 {
            let id = format!("req-{i}");
            count(&mut conn, "203.0.113.9", invalid, Some(&id), t).unwrap();
        }
        count(&mut conn, "203.0.113.10", invalid, None, t).unwrap();
        count(
            &mut conn,
            "203.0.113.9",
            invalid,
            None,
            t + Duration::hours(1),
        )
        .unwrap();
        let rows: Vec<(String, i64, Option<String>)> = refusal_counts::table
            .order((refusal_counts::hour, refusal_counts::client_ip))
            .select((
                refusal_counts::client_ip,
                refusal_counts::count,
                refusal_counts::last_request_id,
            ))
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            rows,
            [
                ("203.0.113.10".to_owned(), 1, None),
                ("203.0.113.9".to_owned(), 50, Some("req-49".to_owned())),
                ("203.0.113.9".to_owned(), 1, None),
            ]
        );
    }
}
