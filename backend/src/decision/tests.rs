//! Table tests of the built-in policy and property tests of the engine.

use chrono::NaiveDate;
use proptest::prelude::*;
use rand::SeedableRng;
use shared::decision::{Grade, Outcome};

use super::facts::*;
use super::policy::{Better, Policy};
use super::vars::{Var, Vars, derive};
use super::{decide, decide_vars, engine};
use crate::credit::generate::{Archetype, Spec, add_merchant};
use crate::credit::rows::Dataset;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn day() -> NaiveDate {
    d("2026-11-26")
}

fn policy() -> Policy {
    Policy::current()
}

/// A merchant with nothing against them: 8 years in business, tax A, full
/// social insurance, utilities and ¥3,000 a month rent always on time.
fn clean() -> Facts {
    let rent = (1..=12)
        .map(|back| {
            let m = Month::of(day()).plus(-back);
            RentMonth {
                month: m,
                due_cents: 300_000,
                paid_cents: 300_000,
                paid_on: NaiveDate::from_ymd_opt(m.year(), m.month(), 5),
            }
        })
        .collect();
    let mut f = Facts {
        uscc: "92320282MA1XQ7Y30N".into(),
        birth_date: Some(d("1978-03-14")),
        as_of: Source::ALL
            .into_iter()
            .map(|s| (s, d("2026-11-20")))
            .collect(),
        registration: Some(Registration {
            name: "宜兴市丁蜀镇王建国石材经营部".into(),
            entity_type: "individual".into(),
            trade: "石材".into(),
            registered_on: d("2018-06-01"),
            status: RegistrationStatus::Active,
        }),
        licences: vec![Licence {
            licence_no: "L1".into(),
            kind: "经营许可".into(),
            issued_on: d("2024-01-01"),
            expires_on: Some(d("2028-01-01")),
        }],
        tax_grades: (2023..=2025)
            .map(|year| TaxGradeYear {
                year,
                grade: TaxGrade::A,
            })
            .collect(),
        social_insurance: Some(SocialInsurance { months_paid_24: 24 }),
        utilities: vec![
            UtilityRecord {
                utility: Utility::Water,
                months_on_time_12: 12,
                months_late_12: 0,
                arrears_cents: 0,
            },
            UtilityRecord {
                utility: Utility::Electricity,
                months_on_time_12: 12,
                months_late_12: 0,
                arrears_cents: 0,
            },
        ],
        rent,
        ..Facts::default()
    };
    f.canonicalize();
    f
}

fn unpay_last(f: &mut Facts, months: usize) {
    f.rent.sort();
    let n = f.rent.len();
    for r in &mut f.rent[n - months..] {
        r.paid_cents = 0;
        r.paid_on = None;
    }
}

fn codes(dec: &engine::Decision<'_>) -> Vec<String> {
    dec.explanation
        .reasons
        .iter()
        .map(|r| r.code.to_owned())
        .collect()
}

#[test]
fn the_builtin_policy_loads() {
    let p = policy();
    assert_eq!(p.version, "2026.11-1");
    assert_eq!(p.knock_outs.len(), 7);
    assert_eq!(p.characteristics.len(), 11);
    // 600 points at 50:1, doubling every 20 points.
    assert!((p.odds_at(600) - 50.0).abs() < 1e-9);
    assert!((p.odds_at(620) - 100.0).abs() < 1e-9);
    assert!((p.odds_at(580) - 25.0).abs() < 1e-9);
    for (v, _) in super::policy::BUILTIN {
        assert!(Policy::builtin(v).is_some(), "{v}");
    }
}

#[test]
fn a_clean_merchant_gets_grade_a_capped_by_rent() {
    let p = policy();
    let dec = decide(&p, &clean(), day());
    assert_eq!(dec.score, 695);
    assert_eq!(dec.grade, Grade::A);
    assert_eq!(dec.outcome, Outcome::Offer);
    let t = dec.terms.unwrap();
    // 12 × ¥3,000 paid × 5 = ¥180,000, under grade A's ¥200,000.
    assert_eq!(t.max_amount_cents, 18_000_000);
    assert!(t.capped_by_evidence);
    assert_eq!((t.annual_rate_bp, t.term_months), (385, 12));
    // The only points lost: no household rating.
    assert_eq!(codes(&dec), ["HOUSEHOLD_RATING"]);
    assert!(dec.trace.knock_outs.iter().all(|k| !k.hit));
}

#[test]
fn every_knock_out_declines_with_its_code_first() {
    type Change = fn(&mut Facts);
    let cases: &[(&str, Option<&str>, Change)] = &[
        ("revoked", Some("REGISTRATION_INACTIVE"), |f| {
            f.registration.as_mut().unwrap().status = RegistrationStatus::Revoked
        }),
        ("no registration", Some("REGISTRATION_INACTIVE"), |f| {
            f.registration = None
        }),
        ("dishonesty active", Some("DISHONESTY_LIST"), |f| {
            f.dishonesty.push(ListEntry {
                case_no: "x".into(),
                listed_on: d("2025-01-01"),
                removed_on: None,
            })
        }),
        ("dishonesty removed", None, |f| {
            f.dishonesty.push(ListEntry {
                case_no: "x".into(),
                listed_on: d("2025-01-01"),
                removed_on: Some(d("2026-11-26")),
            })
        }),
        ("enforcement active", Some("ENFORCEMENT_LIST"), |f| {
            f.enforcement.push(ListEntry {
                case_no: "x".into(),
                listed_on: d("2026-11-26"),
                removed_on: None,
            })
        }),
        ("enforcement listed tomorrow", None, |f| {
            f.enforcement.push(ListEntry {
                case_no: "x".into(),
                listed_on: d("2026-11-27"),
                removed_on: None,
            })
        }),
        ("5 months old", Some("BUSINESS_TOO_YOUNG"), |f| {
            f.registration.as_mut().unwrap().registered_on = d("2026-05-27")
        }),
        ("6 months old", None, |f| {
            f.registration.as_mut().unwrap().registered_on = d("2026-05-26")
        }),
        ("applicant 17", Some("APPLICANT_AGE"), |f| {
            f.birth_date = Some(d("2008-11-27"))
        }),
        ("applicant 18", None, |f| {
            f.birth_date = Some(d("2008-11-26"))
        }),
        ("applicant 70", None, |f| {
            f.birth_date = Some(d("1956-11-27"))
        }),
        ("applicant 71", Some("APPLICANT_AGE"), |f| {
            f.birth_date = Some(d("1955-11-26"))
        }),
        ("applicant unknown", Some("APPLICANT_AGE"), |f| {
            f.birth_date = None
        }),
        ("tax D", Some("TAX_GRADE_D"), |f| {
            f.tax_grades.push(TaxGradeYear {
                year: 2026,
                grade: TaxGrade::D,
            })
        }),
        ("tax C", None, |f| {
            f.tax_grades.push(TaxGradeYear {
                year: 2026,
                grade: TaxGrade::C,
            })
        }),
        ("tax D long ago", None, |f| {
            f.tax_grades.push(TaxGradeYear {
                year: 2020,
                grade: TaxGrade::D,
            })
        }),
        ("rent 4 months unpaid", Some("RENT_ARREARS_LONG"), |f| {
            unpay_last(f, 4)
        }),
        ("rent 3 months unpaid", None, |f| unpay_last(f, 3)),
    ];
    let p = policy();
    for (name, expected, change) in cases {
        let mut f = clean();
        change(&mut f);
        let dec = decide(&p, &f, day());
        match expected {
            Some(code) => {
                assert_eq!(dec.outcome, Outcome::Decline, "{name}");
                assert_eq!(dec.grade, Grade::E, "{name}");
                assert!(dec.terms.is_none(), "{name}");
                let first = dec.explanation.reasons[0];
                assert_eq!((first.code, first.knock_out), (*code, true), "{name}");
                let hits: Vec<_> = dec.trace.knock_outs.iter().filter(|k| k.hit).collect();
                assert_eq!(hits.len(), 1, "{name}");
                assert_eq!(hits[0].code, *code, "{name}");
            }
            None => {
                assert!(
                    dec.trace.knock_outs.iter().all(|k| !k.hit),
                    "{name}: {:?}",
                    codes(&dec)
                );
                assert_ne!(dec.outcome, Outcome::Decline, "{name}");
            }
        }
    }
}

fn vars_with(v: Var, value: Option<i64>) -> Vars {
    let mut vars = derive(&clean(), day());
    vars.set(v, value);
    vars
}

#[test]
fn bin_edges_give_the_points_in_the_policy_file() {
    // (characteristic, value, points) read off backend/policy/2026.11-1.toml.
    let table: &[(&str, Option<i64>, i32)] = &[
        ("business_age", Some(11), 0),
        ("business_age", Some(12), 20),
        ("business_age", Some(35), 20),
        ("business_age", Some(36), 35),
        ("business_age", Some(59), 35),
        ("business_age", Some(60), 45),
        ("business_age", None, 0),
        ("tax_grade", Some(1), 0),
        ("tax_grade", Some(2), 25),
        ("tax_grade", Some(3), 35),
        ("tax_grade", Some(4), 50),
        ("tax_grade", None, 15),
        ("social_insurance", Some(5), 0),
        ("social_insurance", Some(6), 10),
        ("social_insurance", Some(11), 10),
        ("social_insurance", Some(12), 20),
        ("social_insurance", Some(23), 20),
        ("social_insurance", Some(24), 30),
        ("utility_late", Some(0), 30),
        ("utility_late", Some(1), 15),
        ("utility_late", Some(2), 15),
        ("utility_late", Some(3), 5),
        ("utility_late", Some(5), 5),
        ("utility_late", Some(6), 0),
        ("utility_late", None, 10),
        ("utility_arrears", Some(0), 15),
        ("utility_arrears", Some(1), 5),
        ("utility_arrears", Some(499), 5),
        ("utility_arrears", Some(500), 0),
        ("rent_arrears", Some(0), 40),
        ("rent_arrears", Some(1), 20),
        ("rent_arrears", Some(2), 0),
        ("rent_arrears", None, 15),
        ("rent_late", Some(0), 30),
        ("rent_late", Some(1), 20),
        ("rent_late", Some(2), 20),
        ("rent_late", Some(3), 5),
        ("rent_late", Some(5), 5),
        ("rent_late", Some(6), 0),
        ("rent_late", None, 10),
        ("penalties", Some(0), 25),
        ("penalties", Some(1), 10),
        ("penalties", Some(2), 0),
        ("serious_penalties", Some(0), 20),
        ("serious_penalties", Some(1), 0),
        ("licences", Some(0), 0),
        ("licences", Some(1), 10),
        ("household_rating", None, 0),
        ("household_rating", Some(1), 5),
        ("household_rating", Some(2), 10),
        ("household_rating", Some(3), 15),
    ];
    let p = policy();
    for (name, value, points) in table {
        let c = p.characteristics.iter().find(|c| c.name == *name).unwrap();
        let dec = decide_vars(&p, &vars_with(c.var, *value), day());
        let t = dec
            .trace
            .characteristics
            .iter()
            .find(|t| t.name == *name)
            .unwrap();
        assert_eq!(t.value, *value, "{name}");
        assert_eq!(t.points, *points, "{name} at {value:?}");
    }
    // And every edge of every characteristic: `from` is in the bin, `from - 1` is not.
    for c in &p.characteristics {
        for (j, b) in c.bins.iter().enumerate().skip(1) {
            let at = decide_vars(&p, &vars_with(c.var, Some(b.from)), day());
            let below = decide_vars(&p, &vars_with(c.var, Some(b.from - 1)), day());
            let find = |dec: &engine::Decision<'_>| {
                dec.trace
                    .characteristics
                    .iter()
                    .find(|t| t.name == c.name)
                    .map(|t| t.bin)
                    .unwrap()
            };
            assert_eq!(find(&at), Some(j), "{} at {}", c.name, b.from);
            assert_eq!(find(&below), Some(j - 1), "{} at {}", c.name, b.from - 1);
        }
    }
}

#[test]
fn grade_bands_split_at_their_minimum_scores() {
    let p = policy();
    let table = [
        (710, Grade::A, Outcome::Offer),
        (670, Grade::A, Outcome::Offer),
        (669, Grade::B, Outcome::Offer),
        (640, Grade::B, Outcome::Offer),
        (639, Grade::C, Outcome::Offer),
        (610, Grade::C, Outcome::Offer),
        (609, Grade::D, Outcome::Refer),
        (580, Grade::D, Outcome::Refer),
        (579, Grade::E, Outcome::Decline),
        (-5_000, Grade::E, Outcome::Decline),
    ];
    for (score, grade, outcome) in table {
        let b = p.band_of(score);
        assert_eq!((b.grade, b.outcome), (grade, outcome), "score {score}");
    }
}

#[test]
fn the_amount_is_the_grid_capped_by_rent_evidence() {
    let p = policy();
    let with_rent = |cents: i64| {
        let mut f = clean();
        for r in &mut f.rent {
            r.due_cents = cents;
            r.paid_cents = cents;
        }
        decide(&p, &f, day())
    };
    // Large rent: the grid's ¥200,000 for grade A, not capped.
    let t = with_rent(5_000_000).terms.unwrap();
    assert_eq!(
        (t.max_amount_cents, t.capped_by_evidence),
        (20_000_000, false)
    );
    // ¥1,234.56 a month: 12 × 1,234.56 = ¥14,814 (whole yuan) × 5 = ¥74,070 → ¥74,000.
    let t = with_rent(123_456).terms.unwrap();
    assert_eq!(
        (t.max_amount_cents, t.capped_by_evidence),
        (7_400_000, true)
    );
    // ¥150 a month: ¥9,000 is below the ¥10,000 minimum → referral.
    let dec = with_rent(15_000);
    assert_eq!((dec.outcome, dec.grade), (Outcome::Refer, Grade::A));
    assert!(dec.terms.is_none());
    assert_eq!(codes(&dec)[0], "EVIDENCE_LOW");
    // No rent ledger at all: grade B by score (695 − 25 − 20), capped at ¥50,000.
    let mut f = clean();
    f.rent.clear();
    let dec = decide(&p, &f, day());
    assert_eq!((dec.score, dec.grade), (650, Grade::B));
    let t = dec.terms.unwrap();
    assert_eq!(
        (t.max_amount_cents, t.capped_by_evidence),
        (5_000_000, true)
    );
    // Explained as "no ledger" (once, for both rent characteristics), not as
    // arrears; and there is no small change that fixes a missing ledger.
    assert_eq!(codes(&dec), ["NO_RENT_LEDGER", "HOUSEHOLD_RATING"]);
    assert_eq!(dec.explanation.reasons[0].points_lost, 25);
    assert!(dec.explanation.grade_up.is_none());
}

#[test]
fn reasons_put_knock_outs_first_then_the_costliest() {
    let p = policy();
    let mut f = clean();
    f.enforcement.push(ListEntry {
        case_no: "x".into(),
        listed_on: d("2025-01-01"),
        removed_on: None,
    });
    f.tax_grades.push(TaxGradeYear {
        year: 2026,
        grade: TaxGrade::C,
    }); // 50 lost
    f.social_insurance = Some(SocialInsurance { months_paid_24: 3 }); // 30 lost
    f.utilities[0].months_late_12 = 1; // 15 lost
    let dec = decide(&p, &f, day());
    assert_eq!(
        codes(&dec),
        [
            "ENFORCEMENT_LIST",
            "TAX_GRADE_LOW",
            "SOCIAL_INSURANCE_SHORT",
            "UTILITY_LATE"
        ]
    );
    let lost: Vec<i32> = dec
        .explanation
        .reasons
        .iter()
        .map(|r| r.points_lost)
        .collect();
    assert_eq!(lost, [0, 50, 30, 15]);
    // Equal losses keep the policy's order: UTILITY_LATE (15) before HOUSEHOLD_RATING (15).
    let mut g = clean();
    g.utilities[0].months_late_12 = 1;
    assert_eq!(
        codes(&decide(&p, &g, day())),
        ["UTILITY_LATE", "HOUSEHOLD_RATING"]
    );
}

#[test]
fn a_poor_record_without_knock_outs_declines_on_score() {
    let p = policy();
    let mut f = clean();
    f.registration.as_mut().unwrap().registered_on = d("2026-03-01");
    f.tax_grades.push(TaxGradeYear {
        year: 2026,
        grade: TaxGrade::C,
    });
    f.social_insurance = Some(SocialInsurance { months_paid_24: 0 });
    f.utilities[0].months_late_12 = 7;
    let dec = decide(&p, &f, day());
    // 695 − 45 − 50 − 30 − 30 = 540.
    assert_eq!(dec.score, 540);
    assert_eq!((dec.outcome, dec.grade), (Outcome::Decline, Grade::E));
    assert!(dec.explanation.reasons.iter().all(|r| !r.knock_out));
    assert_eq!(codes(&dec)[0], "TAX_GRADE_LOW");
}

#[test]
fn paying_two_months_of_rent_arrears_is_the_grade_up() {
    let p = policy();
    let mut f = clean();
    unpay_last(&mut f, 2);
    let dec = decide(&p, &f, day());
    // 695 − 40 (arrears) − 10 (two late months) = 645: grade B.
    assert_eq!((dec.score, dec.grade), (645, Grade::B));
    assert_eq!(codes(&dec)[0], "RENT_ARREARS");
    let up = dec.explanation.grade_up.clone().unwrap();
    assert_eq!(up.code, "RENT_ARREARS");
    assert_eq!(up.new_grade, Grade::A);
    // Ten months paid: ¥30,000 × 5.
    assert_eq!(up.new_max_amount_cents, Some(15_000_000));
    assert!(up.change_zh.contains("无拖欠"), "{}", up.change_zh);
    // The view carries the merchant-facing texts.
    let view = dec.view(&p, "dec_x");
    assert_eq!(
        view.reasons[0].fix_zh,
        p.reason("RENT_ARREARS").unwrap().fix_zh
    );
}

#[test]
fn a_single_repairable_knock_out_suggests_its_repair() {
    let p = policy();
    let mut f = clean();
    f.enforcement.push(ListEntry {
        case_no: "x".into(),
        listed_on: d("2025-01-01"),
        removed_on: None,
    });
    let up = decide(&p, &f, day()).explanation.grade_up.unwrap();
    assert_eq!(
        (up.code.as_str(), up.new_grade),
        ("ENFORCEMENT_LIST", Grade::A)
    );
    // Two knock-outs: clearing one still declines, so no suggestion.
    f.birth_date = Some(d("1950-01-01"));
    assert!(decide(&p, &f, day()).explanation.grade_up.is_none());
}

fn broken(from: &str, to: &str) -> super::PolicyError {
    let text = super::policy::BUILTIN[0].1;
    assert!(
        text.contains(from),
        "test setup: {from:?} not in the policy"
    );
    Policy::from_toml(&text.replacen(from, to, 1)).unwrap_err()
}

#[test]
fn bad_policies_are_refused_with_a_clear_message() {
    let cases = [
        (
            "{ from = 12, to = 36, points = 20",
            "{ from = 13, to = 36, points = 20",
            "contiguous",
        ),
        (
            "{ from = 3, to = 4, points = 35",
            "{ from = 3, to = 4, points = 60",
            "must not fall",
        ),
        (
            "var = \"social_insurance_months\"",
            "var = \"social_security\"",
            "unknown variable",
        ),
        (
            "reason = \"RENT_LATE\"",
            "reason = \"RENT_LATER\"",
            "has no text",
        ),
        ("min_score = 640", "min_score = 690", "band"),
        (
            "version = \"2026.11-1\"",
            "version = \"2026.11-1\"\nfoo = 1",
            "does not parse",
        ),
        (
            "{ to = 12, points = 0,",
            "{ from = 0, to = 12, points = 0,",
            "first bin",
        ),
        (
            "max_amount_yuan = 120000",
            "max_amount_yuan = 0",
            "positive",
        ),
    ];
    for (from, to, expected) in cases {
        let e = broken(from, to);
        assert_eq!(e.code, "policy_invalid");
        assert!(
            e.message_en.contains(expected),
            "{expected}: {}",
            e.message_en
        );
        assert!(!e.message_zh.is_empty());
    }
}

// ---- properties ----------------------------------------------------------

/// One merchant drawn by the population generator from `seed`.
fn generated(seed: u64, with_stall: bool) -> Facts {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut ds = Dataset::default();
    let spec = Spec {
        uscc: crate::credit::generate::individual_uscc(&mut rng),
        operator_name: "王建国".into(),
        trade: "石材".into(),
        stall: with_stall.then_some(("万石石材市场", "A-01", 250_000)),
        archetype: Archetype::Random,
        operator_resident_id: None,
    };
    add_merchant(&mut ds, &mut rng, &spec, d("2026-11-20"));
    ds.present = Source::ALL.into_iter().collect();
    ds.facts().pop().unwrap()
}

fn rank(dec: &engine::Decision<'_>) -> (Outcome, std::cmp::Reverse<Grade>) {
    (dec.outcome, std::cmp::Reverse(dec.grade))
}

fn arb_vars() -> impl Strategy<Value = Vars> {
    proptest::collection::vec(
        proptest::option::weighted(0.9, -3i64..400),
        super::vars::VAR_COUNT,
    )
    .prop_map(|v| {
        let mut a = [None; super::vars::VAR_COUNT];
        a.copy_from_slice(&v);
        Vars(a)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_same_facts_give_the_same_decision(seed in any::<u64>(), stall in any::<bool>()) {
        let p = policy();
        let f = generated(seed, stall);
        let a = decide(&p, &f, day());
        let b = decide(&p, &f.clone(), day());
        prop_assert_eq!(&a, &b);
        // Row order does not matter once canonical.
        let mut g = f.clone();
        g.rent.reverse();
        g.utilities.reverse();
        g.canonicalize();
        prop_assert_eq!(Facts::sha256_of(&g.canonical_json()), Facts::sha256_of(&f.canonical_json()));
        prop_assert_eq!(decide(&p, &g, day()), a);
    }

    #[test]
    fn adding_a_knock_out_fact_never_improves_the_decision(
        seed in any::<u64>(), stall in any::<bool>(), which in 0usize..5,
    ) {
        let p = policy();
        let f = generated(seed, stall);
        let before = decide(&p, &f, day());
        let mut g = f.clone();
        let entry = ListEntry { case_no: "new".into(), listed_on: d("2026-11-01"), removed_on: None };
        match which {
            0 => g.enforcement.push(entry),
            1 => g.dishonesty.push(entry),
            2 => g.tax_grades.push(TaxGradeYear { year: 2026, grade: TaxGrade::D }),
            3 => if let Some(r) = g.registration.as_mut() { r.status = RegistrationStatus::Revoked },
            _ => {
                if g.rent.is_empty() {
                    g.rent = clean().rent;
                }
                unpay_last(&mut g, 4);
            }
        }
        g.canonicalize();
        let after = decide(&p, &g, day());
        prop_assert!(rank(&after) <= rank(&before), "{:?} → {:?}", rank(&before), rank(&after));
        prop_assert_eq!(after.outcome, Outcome::Decline);
    }

    #[test]
    fn a_better_value_never_lowers_the_score(vars in arb_vars(), which in 0usize..11, step in 1i64..60) {
        let p = policy();
        let c = &p.characteristics[which % p.characteristics.len()];
        if let Some(x) = vars.get(c.var) {
            let mut better = vars;
            better.set(c.var, Some(match c.better { Better::Higher => x + step, Better::Lower => x - step }));
            prop_assert!(engine::score(&p, &better) >= engine::score(&p, &vars));
        }
    }

    #[test]
    fn any_variables_give_a_well_formed_decision(vars in arb_vars()) {
        let p = policy();
        let dec = decide_vars(&p, &vars, day());
        let r = &dec.explanation.reasons;
        prop_assert!(r.len() <= engine::MAX_REASONS);
        // Knock-outs first; then points lost never increase.
        let first_scored = r.iter().position(|x| !x.knock_out).unwrap_or(r.len());
        prop_assert!(r[first_scored..].iter().all(|x| !x.knock_out));
        let lost: Vec<i32> = r[first_scored..].iter().filter(|x| x.points_lost > 0).map(|x| x.points_lost).collect();
        prop_assert!(lost.windows(2).all(|w| w[0] >= w[1]));
        prop_assert_eq!(dec.terms.is_some(), dec.outcome == Outcome::Offer);
        if let Some(up) = &dec.explanation.grade_up {
            prop_assert!(up.new_outcome > dec.outcome || up.new_grade < dec.grade);
        }
        prop_assert_eq!(dec.score, engine::score(&p, &vars));
    }
}
