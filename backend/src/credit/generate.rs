//! A synthetic population of Yixing merchants, shaped like the county's
//! exports. Deterministic: the same (count, seed, as-of date) gives the same
//! files byte for byte, on any machine (ChaCha8, not the thread RNG).
//!
//! Base rates (per merchant; see README.md beside this file):
//! market stall holders with a rent ledger 35%; registered under 6 months
//! 3%; registration revoked/cancelled 2%; operator over 70 2%; a licence
//! 65%; an administrative penalty in the last 3 years 8% (serious 1.5%),
//! about half repaired; serious-dishonesty list 0.6% active (+0.4% removed);
//! court enforcement list 1.5% active (+1% removed); latest tax grade A 25%,
//! B 45%, M 18%, C 9%, D 3%; social insurance 24/24 months 55%; late
//! utility months: none 75%; utility arrears 4%; rent (stall holders):
//! always on time 78%, some late months 14%, 1–2 months in arrears 6%, more
//! than 3 months in arrears 2%; credit household rating 10%.

use std::collections::HashSet;

use chrono::{Datelike, Months, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::rows::*;
use crate::decision::facts::Month;

pub const DEFAULT_COUNT: usize = 5_000;
pub const DEFAULT_SEED: u64 = 20_231_028;
/// The as-of date of the default population, fixed so that the default
/// files and the back-test figures in BENCHMARKS.md are reproducible.
pub fn default_as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default()
}

/// Yixing's administrative division code (宜兴市).
pub const YIXING: &str = "320282";

const USCC_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The GB 11714 check character of an 8-character organisation code body.
fn org_check(body: &[u8; 8]) -> char {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let value = |c: u8| match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        _ => u32::from(c - b'A') + 10,
    };
    let sum: u32 = body.iter().zip(W).map(|(&c, w)| value(c) * w).sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).unwrap_or('0'),
    }
}

/// A fresh individual-business USCC of Yixing (`92320282…`) with valid
/// GB 11714 and GB 32100 check characters.
pub fn individual_uscc(rng: &mut impl Rng) -> String {
    let mut body = [0u8; 8];
    body[0] = b'M';
    body[1] = b'A';
    for c in body.iter_mut().skip(2) {
        *c = USCC_CHARS[rng.random_range(0..USCC_CHARS.len())];
    }
    let mut s = format!("92{YIXING}");
    s.push_str(std::str::from_utf8(&body).unwrap_or("MA000000"));
    s.push(org_check(&body));
    let check = shared::ids::uscc_check_char(&s).unwrap_or('0');
    s.push(check);
    s
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭", "何",
    "蒋", "沈", "陆", "顾", "潘", "史", "任", "邵", "储", "许", "蒋", "宗", "闵", "路",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "志强", "丽华", "国平", "美玲", "伟", "芳", "小军", "红梅", "德明", "金凤",
    "海涛", "桂兰", "永清", "雪琴", "春生", "玉珍", "立新", "静", "卫东", "晓燕", "文军", "秋菊",
];
const TRADES: &[&str] = &[
    "石材",
    "紫砂陶瓷",
    "餐饮",
    "五金建材",
    "物流仓储",
    "服装",
    "副食品",
    "农产品",
    "茶叶",
    "竹木制品",
];
const TOWNS: &[&str] = &[
    "丁蜀镇",
    "宜城街道",
    "张渚镇",
    "和桥镇",
    "官林镇",
    "周铁镇",
    "徐舍镇",
];

/// What a generated merchant looks like. `Random` draws by the base rates;
/// the others force one known situation (demo stalls, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archetype {
    Random,
    /// Everything good: long history, tax A, rent always on time.
    Clean,
    /// Clean, but this many months of rent unpaid before the as-of month.
    RentArrears(u32),
    OnEnforcementList,
    OnDishonestyList,
    TaxGradeD,
}

/// A merchant to generate.
#[derive(Clone)]
pub struct Spec<'a> {
    pub uscc: String,
    pub operator_name: String,
    pub trade: String,
    /// (market, stall number, monthly rent in cents) for a stall holder.
    pub stall: Option<(&'a str, &'a str, i64)>,
    pub archetype: Archetype,
    /// The operator's resident ID number, when the person is given (demo
    /// holders, `backend dev-business`): its birth date is then the
    /// registry's. `None`: made from the drawn birth date.
    pub operator_resident_id: Option<String>,
}

/// A Yixing (320282) resident ID number for a birth date: the three-digit
/// sequence `seq` and the GB 11643 check character.
pub fn resident_id(birth: NaiveDate, seq: u16) -> String {
    let first17 = format!("{YIXING}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
    let check = shared::ids::resident_id_check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The birth date inside a resident ID number.
pub fn birth_date_in(resident_id: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(resident_id.get(6..14)?, "%Y%m%d").ok()
}

/// A sequence number drawn from the USCC, not from the population's random
/// stream, so adding ID numbers changed no other generated value.
fn sequence_of(uscc: &str) -> u16 {
    let h = uscc.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % 1000) as u16
}

fn pick<'a>(rng: &mut impl Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

/// A name and a trade as the population draws them.
pub fn random_person(rng: &mut impl Rng) -> (String, String) {
    let name = format!("{}{}", pick(rng, SURNAMES), pick(rng, GIVEN));
    (name, pick(rng, TRADES).to_owned())
}

fn days_before(day: NaiveDate, days: i64) -> NaiveDate {
    day - chrono::Duration::days(days)
}

/// Adds one merchant's rows in every source to `ds`.
pub fn add_merchant(ds: &mut Dataset, rng: &mut impl Rng, spec: &Spec<'_>, as_of: NaiveDate) {
    let arche = spec.archetype;
    let random = arche == Archetype::Random;
    let clean = !random;
    let as_of_s = as_of.to_string();
    let uscc = spec.uscc.clone();

    // Registration.
    let age_months: u32 = if clean {
        rng.random_range(60..180)
    } else if rng.random_bool(0.03) {
        rng.random_range(0..6)
    } else {
        rng.random_range(6..200)
    };
    let registered_on = as_of
        .checked_sub_months(Months::new(age_months))
        .unwrap_or(as_of)
        .with_day(rng.random_range(1..=28))
        .unwrap_or(as_of);
    let status = if random && rng.random_bool(0.02) {
        if rng.random_bool(0.75) {
            "revoked"
        } else {
            "cancelled"
        }
    } else {
        "active"
    };
    let operator_age: i64 = if random && rng.random_bool(0.02) {
        rng.random_range(71..76)
    } else {
        rng.random_range(24..66)
    };
    let drawn_birth = days_before(as_of, operator_age * 365 + rng.random_range(30..330));
    let (birth, operator_id) = match &spec.operator_resident_id {
        Some(id) => (birth_date_in(id).unwrap_or(drawn_birth), id.clone()),
        None => (drawn_birth, resident_id(drawn_birth, sequence_of(&uscc))),
    };
    ds.operator_ids.0.insert(uscc.clone(), operator_id);
    let town = pick(rng, TOWNS);
    ds.registration.push(RegistrationRow {
        uscc: uscc.clone(),
        name: format!("宜兴市{town}{}{}经营部", spec.operator_name, spec.trade),
        entity_type: "individual".into(),
        trade: spec.trade.clone(),
        registered_on: registered_on.to_string(),
        status: status.into(),
        operator_name: spec.operator_name.clone(),
        operator_birth_date: Some(birth.to_string()),
        as_of: as_of_s.clone(),
    });

    // Licences.
    if clean || rng.random_bool(0.65) {
        let issued = days_before(as_of, rng.random_range(60..1500));
        let expired = random && rng.random_bool(0.05);
        let expires = if expired {
            days_before(as_of, rng.random_range(1..300))
        } else {
            as_of + chrono::Duration::days(rng.random_range(200..1500))
        };
        ds.licences.push(LicenceRow {
            uscc: uscc.clone(),
            licence_no: format!("JY3{}{:08}", YIXING, rng.random_range(0..100_000_000u32)),
            kind: if spec.trade == "餐饮" {
                "食品经营许可证"
            } else {
                "经营许可"
            }
            .into(),
            issued_on: issued.to_string(),
            expires_on: Some(expires.to_string()),
            as_of: as_of_s.clone(),
        });
    }

    // Administrative penalties.
    if random && rng.random_bool(0.08) {
        let serious = rng.random_bool(0.19);
        let decided = days_before(as_of, rng.random_range(20..1000));
        let repaired = rng.random_bool(0.5).then(|| {
            let d = decided + chrono::Duration::days(rng.random_range(30..400));
            d.min(as_of)
        });
        ds.penalties.push(PenaltyRow {
            uscc: uscc.clone(),
            decision_no: format!(
                "宜市监处罚〔{}〕{}号",
                decided.year(),
                rng.random_range(1..999)
            ),
            decided_on: decided.to_string(),
            severity: if serious { "serious" } else { "minor" }.into(),
            amount_cents: rng.random_range(200..(if serious { 5_000_000 } else { 200_000 })) * 100,
            repaired_on: repaired.map(|d| d.to_string()),
            as_of: as_of_s.clone(),
        });
    }

    // The two lists: an entry is active, or was removed in the past.
    let list_entry = |rng: &mut dyn rand::RngCore, active: bool, prefix: &str| {
        let listed = days_before(as_of, rng.random_range(60..1200));
        let removed = (!active).then(|| {
            let d = listed + chrono::Duration::days(rng.random_range(30..300));
            d.min(days_before(as_of, 1))
        });
        (
            format!(
                "（{}）苏0282{}{}号",
                listed.year(),
                prefix,
                rng.random_range(1..9999)
            ),
            listed.to_string(),
            removed.map(|d| d.to_string()),
        )
    };
    let dishonest_active =
        arche == Archetype::OnDishonestyList || (random && rng.random_bool(0.006));
    if dishonest_active || (random && rng.random_bool(0.004)) {
        let (case_no, listed_on, removed_on) = list_entry(rng, dishonest_active, "失信");
        ds.dishonesty.push(DishonestyRow {
            uscc: uscc.clone(),
            case_no,
            listed_on,
            removed_on,
            as_of: as_of_s.clone(),
        });
    }
    let enforcement_active =
        arche == Archetype::OnEnforcementList || (random && rng.random_bool(0.015));
    if enforcement_active || (random && rng.random_bool(0.01)) {
        let (case_no, listed_on, removed_on) = list_entry(rng, enforcement_active, "执");
        ds.enforcement.push(EnforcementRow {
            uscc: uscc.clone(),
            case_no,
            listed_on,
            removed_on,
            as_of: as_of_s.clone(),
        });
    }

    // Tax grades for the last three evaluation years.
    let latest = match arche {
        Archetype::TaxGradeD => "D",
        Archetype::Random => {
            let x: f64 = rng.random();
            if x < 0.25 {
                "A"
            } else if x < 0.70 {
                "B"
            } else if x < 0.88 {
                "M"
            } else if x < 0.97 {
                "C"
            } else {
                "D"
            }
        }
        _ => "A",
    };
    let first_year = registered_on.year();
    for (i, year) in (as_of.year() - 3..as_of.year()).enumerate() {
        if year < first_year {
            continue;
        }
        let grade = if i == 2 || !random {
            latest
        } else {
            ["A", "B", "B", "M"][rng.random_range(0..4)]
        };
        ds.tax.push(TaxRow {
            uscc: uscc.clone(),
            year,
            grade: grade.into(),
            as_of: as_of_s.clone(),
        });
    }

    // Social insurance.
    let si: i32 = if clean {
        24
    } else {
        let x: f64 = rng.random();
        if x < 0.55 {
            24
        } else if x < 0.75 {
            rng.random_range(12..24)
        } else if x < 0.85 {
            rng.random_range(6..12)
        } else {
            rng.random_range(0..6)
        }
    };
    ds.social_insurance.push(SocialInsuranceRow {
        uscc: uscc.clone(),
        months_paid_24: si,
        as_of: as_of_s.clone(),
    });

    // Utilities.
    let mut kinds = vec!["water", "electricity"];
    if spec.trade == "餐饮" || rng.random_bool(0.3) {
        kinds.push("gas");
    }
    let late_total: i32 = if clean {
        0
    } else {
        let x: f64 = rng.random();
        if x < 0.75 {
            0
        } else if x < 0.93 {
            rng.random_range(1..3)
        } else if x < 0.98 {
            rng.random_range(3..6)
        } else {
            rng.random_range(6..10)
        }
    };
    let arrears_holder = random && rng.random_bool(0.04);
    for (i, kind) in kinds.iter().enumerate() {
        let late = if i == 0 { late_total.min(12) } else { 0 };
        ds.utilities.push(UtilityRow {
            uscc: uscc.clone(),
            utility: (*kind).into(),
            months_on_time_12: 12 - late,
            months_late_12: late,
            arrears_cents: if arrears_holder && i == 1 {
                rng.random_range(50..3000) * 100
            } else {
                0
            },
            as_of: as_of_s.clone(),
        });
    }

    // Rent ledger: the last 12 months before the as-of month.
    if let Some((market, stall, rent)) = spec.stall {
        let (late_months, arrears_months) = match arche {
            Archetype::RentArrears(n) => (0, n),
            Archetype::Random => {
                let x: f64 = rng.random();
                if x < 0.78 {
                    (0, 0)
                } else if x < 0.92 {
                    (rng.random_range(1..5), 0)
                } else if x < 0.98 {
                    (rng.random_range(0..2), rng.random_range(1..3))
                } else {
                    (rng.random_range(0..3), rng.random_range(4..7))
                }
            }
            _ => (0, 0),
        };
        let this_month = Month::of(as_of);
        for back in (1..=12).rev() {
            let m = this_month.plus(-back);
            let first = NaiveDate::from_ymd_opt(m.year(), m.month(), 1).unwrap_or(as_of);
            let unpaid = back <= arrears_months as i32;
            let late = !unpaid && back <= (arrears_months + late_months) as i32;
            let paid_on = if unpaid {
                None
            } else if late {
                Some(first + chrono::Duration::days(35 + rng.random_range(0..20)))
            } else {
                Some(first + chrono::Duration::days(rng.random_range(0..10)))
            };
            ds.rent.push(RentRow {
                uscc: uscc.clone(),
                market: market.into(),
                stall_no: stall.into(),
                month: m.to_string(),
                due_cents: rent,
                paid_cents: if unpaid { 0 } else { rent },
                paid_on: paid_on.map(|d| d.min(as_of).to_string()),
                as_of: as_of_s.clone(),
            });
        }
    }

    // Credit household rating.
    let rating = if clean {
        Some("AA")
    } else if rng.random_bool(0.10) {
        Some(["A", "A", "A", "A", "A", "AA", "AA", "AA", "AAA", "AAA"][rng.random_range(0..10)])
    } else {
        None
    };
    if let Some(level) = rating {
        ds.household_rating.push(HouseholdRow {
            uscc,
            level: level.into(),
            rated_on: days_before(as_of, rng.random_range(30..700)).to_string(),
            as_of: as_of_s,
        });
    }
}

/// Generates `count` merchants. About a third hold a stall in one of a few
/// markets (so have a rent ledger).
pub fn generate(count: usize, seed: u64, as_of: NaiveDate) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ds = Dataset {
        present: crate::decision::Source::ALL.into_iter().collect(),
        ..Dataset::default()
    };
    let mut seen = HashSet::new();
    let mut ids = HashSet::new();
    let markets = ["万石石材市场", "丁蜀陶瓷城", "宜兴农贸批发市场"];
    let mut stall_numbers = Vec::with_capacity(count);
    for i in 0..count {
        stall_numbers.push(format!(
            "{}-{:03}",
            (b'A' + (i % 8) as u8) as char,
            i / 8 + 1
        ));
    }
    for stall_no in stall_numbers.iter() {
        let mut uscc = individual_uscc(&mut rng);
        while !seen.insert(uscc.clone()) {
            uscc = individual_uscc(&mut rng);
        }
        let operator_name = format!("{}{}", pick(&mut rng, SURNAMES), pick(&mut rng, GIVEN));
        let trade = pick(&mut rng, TRADES).to_owned();
        let stall = rng.random_bool(0.35).then(|| {
            let rent = rng.random_range(12..40) * 100 * 100;
            (
                markets[rng.random_range(0..markets.len())],
                stall_no.as_str(),
                rent,
            )
        });
        let spec = Spec {
            uscc: uscc.clone(),
            operator_name,
            trade,
            stall,
            archetype: Archetype::Random,
            operator_resident_id: None,
        };
        add_merchant(&mut ds, &mut rng, &spec, as_of);
        // Two operators born the same day may draw the same sequence: the
        // later one takes the next free number, as the police would give.
        if let Some(id) = ds.operator_ids.0.get(&uscc).cloned() {
            let mut id = id;
            let mut seq = id[14..17].parse::<u16>().unwrap_or(0);
            while !ids.insert(id.clone()) {
                seq = (seq + 1) % 1000;
                id = resident_id(birth_date_in(&id).unwrap_or(as_of), seq);
            }
            ds.operator_ids.0.insert(uscc, id);
        }
    }
    ds
}

/// The development roster of a generated population: every operator with a
/// mobile number of their own (deterministic from `seed`), what the real-name
/// check's carrier would know. `generate-credit-data` writes it beside the
/// export.
pub fn roster(ds: &Dataset, seed: u64) -> Vec<crate::identity::roster::RosterEntry> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x726f_7374_6572);
    let mut used = HashSet::new();
    ds.registration
        .iter()
        .filter_map(|r| {
            let id = ds.operator_ids.0.get(&r.uscc)?;
            let mut mobile;
            loop {
                mobile = format!(
                    "1{}{:08}",
                    ["35", "36", "37", "38", "50", "51", "52", "58", "87", "88"]
                        [rng.random_range(0..10)],
                    rng.random_range(0..100_000_000u64)
                );
                if used.insert(mobile.clone()) {
                    break;
                }
            }
            Some(crate::identity::roster::RosterEntry {
                name: r.operator_name.clone(),
                resident_id: id.clone(),
                mobile,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    #[test]
    fn usccs_are_valid_yixing_individual_businesses() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..500 {
            let s = individual_uscc(&mut rng);
            let u = shared::ids::Uscc::parse(&s).expect("valid check character");
            assert!(u.is_individual_business());
            assert_eq!(&s[2..8], YIXING);
        }
    }

    #[test]
    fn org_code_check_matches_a_published_example() {
        // GB 11714 worked example: D2143569 → check digit X.
        assert_eq!(org_check(b"D2143569"), 'X');
    }

    #[test]
    fn same_seed_same_population_other_seed_other_population() {
        let a = generate(200, 1, day());
        let b = generate(200, 1, day());
        let c = generate(200, 2, day());
        assert_eq!(a.registration, b.registration);
        assert_eq!(a.rent, b.rent);
        assert_ne!(a.registration, c.registration);
        assert_eq!(a.registration.len(), 200);
    }

    #[test]
    fn every_operator_has_a_unique_valid_resident_id_born_on_the_registrys_day() {
        let ds = generate(2000, 4, day());
        assert_eq!(ds.operator_ids.0.len(), 2000);
        let unique: HashSet<&String> = ds.operator_ids.0.values().collect();
        assert_eq!(unique.len(), 2000);
        let today = shared::ids::CivilDate::new(2026, 11, 20).unwrap();
        for r in &ds.registration {
            let id = &ds.operator_ids.0[&r.uscc];
            assert!(
                shared::ids::ResidentId::parse(id, today).is_ok(),
                "check character"
            );
            assert_eq!(&id[..6], YIXING);
            assert_eq!(
                birth_date_in(id).map(|d| d.to_string()),
                r.operator_birth_date,
                "the ID's birth date is the registry's"
            );
        }
        let roster = roster(&ds, 4);
        assert_eq!(roster.len(), 2000);
        let mobiles: HashSet<&String> = roster.iter().map(|e| &e.mobile).collect();
        assert_eq!(mobiles.len(), 2000);
        assert!(
            roster
                .iter()
                .all(|e| shared::ids::MobileNumber::parse(&e.mobile).is_ok())
        );
    }

    #[test]
    fn generated_rows_pass_the_import_checks() {
        let dir = std::env::temp_dir().join(format!("mc-gen-{}", std::process::id()));
        let ds = generate(300, 3, day());
        super::super::csvio::write_dir(&dir, &ds).unwrap();
        let back = super::super::csvio::read_dir(&dir).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(back.row_count(), ds.row_count());
        assert_eq!(back.registration, ds.registration);
        assert_eq!(back.penalties, ds.penalties);
        assert_eq!(back.operator_ids, ds.operator_ids);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
