//! The numeric variables rules and characteristics are written over, derived
//! from [`Facts`] at an as-of date. Policies name these; the loader resolves
//! each name to an index once, so evaluation is array look-ups.

use chrono::{Datelike, Months, NaiveDate};

use super::facts::{Facts, Month, RegistrationStatus, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    RegistrationActive,
    BusinessAgeMonths,
    ApplicantAge,
    OnDishonestyList,
    OnEnforcementList,
    TaxGrade,
    SocialInsuranceMonths,
    UtilityLateMonths,
    UtilityArrearsYuan,
    RentArrearsMonths,
    RentLateMonths,
    RentPaid12mYuan,
    PenaltiesOpen,
    SeriousPenaltiesOpen,
    LicencesValid,
    HouseholdRating,
}

pub const VAR_COUNT: usize = 16;

impl Var {
    pub const ALL: [Var; VAR_COUNT] = [
        Var::RegistrationActive,
        Var::BusinessAgeMonths,
        Var::ApplicantAge,
        Var::OnDishonestyList,
        Var::OnEnforcementList,
        Var::TaxGrade,
        Var::SocialInsuranceMonths,
        Var::UtilityLateMonths,
        Var::UtilityArrearsYuan,
        Var::RentArrearsMonths,
        Var::RentLateMonths,
        Var::RentPaid12mYuan,
        Var::PenaltiesOpen,
        Var::SeriousPenaltiesOpen,
        Var::LicencesValid,
        Var::HouseholdRating,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::RegistrationActive => "registration_active",
            Self::BusinessAgeMonths => "business_age_months",
            Self::ApplicantAge => "applicant_age",
            Self::OnDishonestyList => "on_dishonesty_list",
            Self::OnEnforcementList => "on_enforcement_list",
            Self::TaxGrade => "tax_grade",
            Self::SocialInsuranceMonths => "social_insurance_months",
            Self::UtilityLateMonths => "utility_late_months",
            Self::UtilityArrearsYuan => "utility_arrears_yuan",
            Self::RentArrearsMonths => "rent_arrears_months",
            Self::RentLateMonths => "rent_late_months",
            Self::RentPaid12mYuan => "rent_paid_12m_yuan",
            Self::PenaltiesOpen => "penalties_open",
            Self::SeriousPenaltiesOpen => "serious_penalties_open",
            Self::LicencesValid => "licences_valid",
            Self::HouseholdRating => "household_rating",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Variable values; `None` is "no data" (the policy says what that is worth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vars(pub [Option<i64>; VAR_COUNT]);

impl Vars {
    pub fn get(&self, v: Var) -> Option<i64> {
        self.0[v.index()]
    }

    pub fn set(&mut self, v: Var, value: Option<i64>) {
        self.0[v.index()] = value;
    }
}

fn months_between(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut m = Month::of(from).until(Month::of(to)) as i64;
    if to.day() < from.day() {
        m -= 1;
    }
    m
}

fn years_between(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut y = (to.year() - from.year()) as i64;
    if (to.month(), to.day()) < (from.month(), from.day()) {
        y -= 1;
    }
    y
}

/// Derives every variable at `day`. Facts dated after `day` are ignored, so
/// a decision "as of" a past date sees only what was known then.
pub fn derive(facts: &Facts, day: NaiveDate) -> Vars {
    let mut v = [None; VAR_COUNT];
    let set = |v: &mut [Option<i64>; VAR_COUNT], var: Var, x: Option<i64>| v[var.index()] = x;

    if let Some(r) = &facts.registration {
        set(
            &mut v,
            Var::RegistrationActive,
            Some((r.status == RegistrationStatus::Active) as i64),
        );
        set(
            &mut v,
            Var::BusinessAgeMonths,
            Some(months_between(r.registered_on, day).max(0)),
        );
    }
    if let Some(b) = facts.birth_date {
        set(&mut v, Var::ApplicantAge, Some(years_between(b, day)));
    }
    set(
        &mut v,
        Var::OnDishonestyList,
        Some(facts.dishonesty.iter().any(|e| e.active_on(day)) as i64),
    );
    set(
        &mut v,
        Var::OnEnforcementList,
        Some(facts.enforcement.iter().any(|e| e.active_on(day)) as i64),
    );
    let year = day.year();
    set(
        &mut v,
        Var::TaxGrade,
        facts
            .tax_grades
            .iter()
            .filter(|t| t.year <= year)
            .max_by_key(|t| t.year)
            .map(|t| t.grade.rank()),
    );
    set(
        &mut v,
        Var::SocialInsuranceMonths,
        facts
            .social_insurance
            .map(|s| i64::from(s.months_paid_24.min(24))),
    );
    if !facts.utilities.is_empty() {
        let late: i64 = facts
            .utilities
            .iter()
            .map(|u| i64::from(u.months_late_12.min(12)))
            .sum();
        let arrears: i64 = facts.utilities.iter().map(|u| u.arrears_cents.max(0)).sum();
        set(&mut v, Var::UtilityLateMonths, Some(late));
        set(&mut v, Var::UtilityArrearsYuan, Some(arrears / 100));
    }

    if !facts.rent.is_empty() {
        let this_month = Month::of(day);
        let mut arrears = 0;
        let mut late = 0;
        let mut paid_12m = 0i64;
        for r in &facts.rent {
            let age = r.month.until(this_month);
            // The current month's rent is not overdue yet; future rows do not count.
            if age < 1 {
                continue;
            }
            let paid_by_now = r.paid_on.is_some_and(|p| p <= day);
            let paid_in_full = paid_by_now && r.paid_cents >= r.due_cents;
            if !paid_in_full && r.due_cents > 0 {
                arrears += 1;
            }
            if age <= 12 {
                if paid_by_now {
                    paid_12m += r.paid_cents.max(0);
                }
                let on_time = paid_in_full && r.paid_on.is_some_and(|p| Month::of(p) <= r.month);
                if !on_time && r.due_cents > 0 {
                    late += 1;
                }
            }
        }
        set(&mut v, Var::RentArrearsMonths, Some(arrears));
        set(&mut v, Var::RentLateMonths, Some(late));
        set(&mut v, Var::RentPaid12mYuan, Some(paid_12m / 100));
    }

    let open = |p: &&super::facts::Penalty, window: u32| {
        let since = day.checked_sub_months(Months::new(window)).unwrap_or(day);
        p.decided_on <= day && p.decided_on > since && p.repaired_on.is_none_or(|r| r > day)
    };
    set(
        &mut v,
        Var::PenaltiesOpen,
        Some(facts.penalties.iter().filter(|p| open(p, 24)).count() as i64),
    );
    set(
        &mut v,
        Var::SeriousPenaltiesOpen,
        Some(
            facts
                .penalties
                .iter()
                .filter(|p| p.severity == Severity::Serious && open(p, 36))
                .count() as i64,
        ),
    );
    set(
        &mut v,
        Var::LicencesValid,
        Some(
            facts
                .licences
                .iter()
                .filter(|l| l.issued_on <= day && l.expires_on.is_none_or(|e| e > day))
                .count() as i64,
        ),
    );
    set(
        &mut v,
        Var::HouseholdRating,
        facts
            .household_rating
            .filter(|h| h.rated_on <= day)
            .map(|h| h.level.rank()),
    );
    Vars(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::facts::RentMonth;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn ages_count_whole_units_only() {
        assert_eq!(months_between(d("2026-05-27"), d("2026-11-26")), 5);
        assert_eq!(months_between(d("2026-05-26"), d("2026-11-26")), 6);
        assert_eq!(years_between(d("1956-11-27"), d("2026-11-26")), 69);
        assert_eq!(years_between(d("1956-11-26"), d("2026-11-26")), 70);
    }

    #[test]
    fn rent_arrears_ignore_the_current_month_and_later_payments() {
        let day = d("2026-11-26");
        let row = |m: &str, paid: Option<&str>| RentMonth {
            month: m.parse().unwrap(),
            due_cents: 300_000,
            paid_cents: if paid.is_some() { 300_000 } else { 0 },
            paid_on: paid.map(d),
        };
        let facts = Facts {
            rent: vec![
                row("2026-08", Some("2026-08-03")),
                row("2026-09", Some("2026-10-15")), // late
                row("2026-10", None),               // arrears
                row("2026-11", None),               // not due yet
                row("2026-07", Some("2026-12-01")), // paid after the as-of date
            ],
            ..Facts::default()
        };
        let v = derive(&facts, day);
        assert_eq!(v.get(Var::RentArrearsMonths), Some(2));
        assert_eq!(v.get(Var::RentLateMonths), Some(3));
        assert_eq!(v.get(Var::RentPaid12mYuan), Some(6_000));
    }

    #[test]
    fn names_round_trip() {
        for v in Var::ALL {
            assert_eq!(Var::parse(v.name()), Some(v));
            assert_eq!(Var::ALL[v.index()], v);
        }
    }
}
