//! "Today" in Yixing: the one rule for turning an instant into a calendar
//! day. Every date the server derives from a point in time — the day a
//! decision is "as of", the day an offer lapses, the birth-date bound of a
//! resident ID, the as-of date of an import, the manager's weeks — comes from
//! here, so two parts of the app never disagree about which day it is.
//!
//! China Standard Time is UTC+8 all year (no daylight saving since 1991), so
//! a fixed offset is exact and needs no time-zone database. Instants are
//! stored in UTC (`db::timestamp`); only days are local.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use shared::ids::CivilDate;

/// UTC+8.
const CHINA: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// The calendar day in China at `now`.
pub fn china_day(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&CHINA).date_naive()
}

/// The instant a China calendar day begins (00:00 China time, 16:00 UTC the
/// day before).
pub fn china_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN)
        .and_local_timezone(CHINA)
        .single()
        .expect("a fixed offset maps every local time to one instant")
        .to_utc()
}

/// A day as `shared`'s clock-free date, for the validation `shared` does
/// (`shared` reads no clock, so its callers pass "today" in).
pub fn civil(day: NaiveDate) -> CivilDate {
    use chrono::Datelike;
    CivilDate {
        year: u16::try_from(day.year()).expect("a year of this era"),
        month: day.month() as u8,
        day: day.day() as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_day_turns_at_midnight_china_time_which_is_16_00_utc() {
        // 23:59 China time on the 26th is still the 26th…
        assert_eq!(china_day(at("2026-11-26T15:59:59Z")), day("2026-11-26"));
        // …and 00:00 China time is the 27th, while UTC still says the 26th.
        assert_eq!(china_day(at("2026-11-26T16:00:00Z")), day("2026-11-27"));
        assert_eq!(at("2026-11-26T16:00:00Z").date_naive(), day("2026-11-26"));
        // Early morning in China is the previous day in UTC: not in China.
        assert_eq!(china_day(at("2026-11-26T07:59:59Z")), day("2026-11-26"));
        assert_eq!(china_day(at("2026-11-26T00:00:00Z")), day("2026-11-26"));
        assert_eq!(china_day(at("2026-11-25T23:59:59Z")), day("2026-11-26"));
        // Across a year end.
        assert_eq!(china_day(at("2026-12-31T16:00:00Z")), day("2027-01-01"));
        assert_eq!(china_day(at("2026-12-31T15:59:59Z")), day("2026-12-31"));
    }

    #[test]
    fn a_china_day_begins_at_16_00_utc_the_day_before() {
        let start = china_midnight(day("2026-11-27"));
        assert_eq!(start, at("2026-11-26T16:00:00Z"));
        assert_eq!(china_day(start), day("2026-11-27"));
        assert_eq!(
            china_day(start - chrono::Duration::milliseconds(1)),
            day("2026-11-26")
        );
    }

    #[test]
    fn civil_dates_carry_the_same_day() {
        assert_eq!(
            civil(day("2028-02-29")),
            CivilDate::new(2028, 2, 29).unwrap()
        );
        assert_eq!(
            civil(china_day(at("2026-11-26T16:30:00Z"))),
            CivilDate::new(2026, 11, 27).unwrap()
        );
    }
}
