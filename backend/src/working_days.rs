//! Working days (工作日) in mainland China: the one rule for every deadline the
//! platform counts in working days (a bank's first contact, a merchant's window
//! to explain, the credit office's answer to a dispute).
//!
//! A day is a working day when it is Monday to Friday and not a public holiday,
//! or when it is a make-up working day (调休上班) on a weekend. The holidays and
//! make-up days are data, not code: the State Council publishes each year's
//! schedule in November, and a deployment appends it to the file
//! (`backend/calendar/cn-holidays.txt`, built in; `MARKET_CODE_HOLIDAYS` names
//! another). Dates beyond the file fall back to weekends only.
//!
//! Days here are China calendar days (`clock::china_day`), never instants.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The schedule shipped with the server.
pub const BUILT_IN: &str = include_str!("../calendar/cn-holidays.txt");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Override {
    Holiday,
    Workday,
}

/// Weekends plus the listed exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    exceptions: BTreeMap<NaiveDate, Override>,
}

impl Default for WorkCalendar {
    fn default() -> Self {
        Self::built_in()
    }
}

impl WorkCalendar {
    /// The schedule compiled into the server.
    pub fn built_in() -> Self {
        Self::parse(BUILT_IN).expect("the built-in holiday file parses (tested)")
    }

    /// Weekends only: for tests that want no holidays in the way.
    pub fn weekends_only() -> Self {
        Self {
            exceptions: BTreeMap::new(),
        }
    }

    /// Reads the file format: one `YYYY-MM-DD holiday|workday` per line; `#`
    /// starts a comment. An error names the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut exceptions = BTreeMap::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(date), Some(kind), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!(
                    "line {}: expected `YYYY-MM-DD holiday` or `YYYY-MM-DD workday`, found `{line}`",
                    n + 1
                ));
            };
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| format!("line {}: `{date}` is not a date (YYYY-MM-DD)", n + 1))?;
            let kind = match kind {
                "holiday" => Override::Holiday,
                "workday" => Override::Workday,
                other => {
                    return Err(format!(
                        "line {}: `{other}` is neither `holiday` nor `workday`",
                        n + 1
                    ));
                }
            };
            if exceptions.insert(date, kind).is_some() {
                return Err(format!("line {}: {date} is listed twice", n + 1));
            }
        }
        Ok(Self { exceptions })
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        match self.exceptions.get(&day) {
            Some(Override::Holiday) => false,
            Some(Override::Workday) => true,
            None => !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The `n`-th working day after `start` (`start` itself never counts, so
    /// "within 3 working days" of something that happened on a Friday ends on
    /// the Wednesday). `n = 0` is `start`.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day = day + Days::new(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// How many working days lie after `from` up to and including `to` (0
    /// when `to` is not after `from`): the inverse of [`Self::add_working_days`].
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut count = 0;
        let mut day = from;
        while day < to {
            day = day + Days::new(1);
            if self.is_working_day(day) {
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_built_in_file_parses_and_knows_2026() {
        let cal = WorkCalendar::built_in();
        assert!(!cal.is_working_day(d("2026-10-01")), "National Day");
        assert!(
            cal.is_working_day(d("2026-10-10")),
            "a Saturday worked (调休)"
        );
        assert!(
            !cal.is_working_day(d("2026-10-03")),
            "a Saturday of the holiday"
        );
        assert!(cal.is_working_day(d("2026-12-02")), "an ordinary Wednesday");
        assert!(!cal.is_working_day(d("2026-12-05")), "an ordinary Saturday");
    }

    #[test]
    fn adding_working_days_over_weekends_and_holidays() {
        let cal = WorkCalendar::built_in();
        // (start, n, expected)
        let table = [
            ("2026-12-02", 0, "2026-12-02"), // Wed + 0 = itself
            ("2026-12-02", 3, "2026-12-07"), // Wed → Mon (over a weekend)
            ("2026-12-04", 3, "2026-12-09"), // Fri → Wed
            ("2026-12-05", 1, "2026-12-07"), // Sat → Mon
            ("2026-12-06", 5, "2026-12-11"), // Sun → Fri
            ("2026-09-30", 1, "2026-10-08"), // before National Day → first day back
            ("2026-09-30", 3, "2026-10-10"), // … the worked Saturday counts
            ("2026-09-18", 1, "2026-09-20"), // Fri → the worked Sunday
            ("2026-02-13", 1, "2026-02-14"), // Fri → worked Saturday before Spring Festival
            ("2026-02-14", 1, "2026-02-24"), // over the whole Spring Festival
            ("2026-12-28", 5, "2027-01-04"), // past the file's end: weekends only
        ];
        for (start, n, want) in table {
            assert_eq!(
                cal.add_working_days(d(start), n),
                d(want),
                "{start} + {n} working days"
            );
            assert_eq!(
                cal.working_days_between(d(start), d(want)),
                n,
                "between {start} and {want}"
            );
        }
    }

    #[test]
    fn twenty_working_days_of_a_dispute() {
        let cal = WorkCalendar::built_in();
        // 20 working days from Mon 2026-09-14: 14 days in September (15–30,
        // minus the 25th, plus the worked 20th), then 8–9 and the worked 10th of
        // October … ends on Fri 2026-10-16.
        assert_eq!(cal.add_working_days(d("2026-09-14"), 20), d("2026-10-16"));
        let plain = WorkCalendar::weekends_only();
        assert_eq!(plain.add_working_days(d("2026-09-14"), 20), d("2026-10-12"));
    }

    #[test]
    fn a_bad_file_names_its_line() {
        for (text, line) in [
            ("2026-01-01 holiday\n2026-13-01 holiday", "line 2"),
            ("# c\n\n2026-01-01 vacation", "line 3"),
            ("2026-01-01", "line 1"),
            ("2026-01-01 holiday\n2026-01-01 workday", "line 2"),
            ("2026-01-01 holiday extra", "line 1"),
        ] {
            let err = WorkCalendar::parse(text).unwrap_err();
            assert!(err.starts_with(line), "{text:?}: {err}");
        }
        assert_eq!(
            WorkCalendar::parse("2026-01-01 holiday # 元旦\n").unwrap(),
            WorkCalendar::parse("2026-01-01 holiday").unwrap()
        );
    }
}
