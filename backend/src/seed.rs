//! The demo data `cargo xtask run` serves: 万石石材市场 with about forty
//! stalls, one market manager, two banks with one loan product each
//! (`seed_demo`), and credit facts for every stall holder, some of them in a
//! known situation, each holder the registry's operator of their business
//! and in the development real-name roster with the stall's mobile number
//! (`seed_demo_credit_data`). Idempotent: every row is looked up by its
//! natural key first, so a second run adds nothing.
//!
//! `dev_business` makes one more business with its operator, for the tests
//! and for trying the flow as someone new (`backend dev-business`).

use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::auth::keys::FieldCipher;
use crate::credit::generate::{self, Archetype, Spec};
use crate::credit::rows::Dataset;
use crate::db::models::{Bank, Market, Product, StaffUser, Stall};
use crate::db::schema::{
    banks, credit_registration, markets, products, registry_operators, staff_users, stalls,
};
use crate::db::{DbConn, new_id, timestamp};
use crate::error::{AppError, AppResult};
use crate::identity::registry::{self, OperatorEntry};
use crate::identity::roster::{self, RosterEntry};

pub const DEMO_MARKET: &str = "万石石材市场";
pub const DEMO_MANAGER: &str = "wanshi";
/// Printed by `cargo xtask run`; demo data only. Override with
/// `MARKET_CODE_DEMO_PASSWORD`.
pub const DEFAULT_DEMO_PASSWORD: &str = "wanshi-demo-2026";

/// (zone, trade, how many stalls)
const ZONES: &[(&str, &str, usize)] = &[
    ("A", "石材", 14),
    ("B", "紫砂陶瓷", 12),
    ("C", "餐饮", 6),
    ("D", "五金建材", 5),
    ("E", "物流仓储", 3),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭", "何",
    "蒋", "沈", "陆", "顾",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "志强", "丽华", "国平", "美玲", "伟", "芳", "小军", "红梅", "德明", "金凤",
    "海涛", "桂兰", "永清", "雪琴", "春生", "玉珍", "立新", "静",
];

#[derive(Debug, Default)]
pub struct SeedReport {
    pub market_id: String,
    pub stalls_added: usize,
    pub banks_added: usize,
    pub manager_added: bool,
}

pub fn seed_demo(conn: &mut DbConn, manager_password: &str) -> AppResult<SeedReport> {
    let now = timestamp(chrono::Utc::now());
    crate::db::write_transaction(conn, |conn| {
        let mut report = SeedReport::default();
        let market_id = match markets::table
            .filter(markets::name.eq(DEMO_MARKET))
            .select(markets::id)
            .first::<String>(conn)
            .optional()?
        {
            Some(id) => id,
            None => {
                let market = Market {
                    id: new_id("mkt"),
                    name: DEMO_MARKET.to_owned(),
                    office_phone: "0510-87654321".to_owned(),
                    address: "江苏省宜兴市丁蜀镇万石石材市场管理处".to_owned(),
                    created_at: now.clone(),
                };
                diesel::insert_into(markets::table)
                    .values(&market)
                    .execute(conn)?;
                market.id
            }
        };
        report.market_id = market_id.clone();

        let existing: Vec<String> = stalls::table
            .filter(stalls::market_id.eq(&market_id))
            .select(stalls::number)
            .load(conn)?;
        let mut n = 0usize;
        for (zone, trade, count) in ZONES {
            for i in 1..=*count {
                n += 1;
                let number = format!("{zone}-{i:02}");
                if existing.contains(&number) {
                    continue;
                }
                let holder = format!(
                    "{}{}",
                    SURNAMES[n % SURNAMES.len()],
                    GIVEN[(n * 7) % GIVEN.len()]
                );
                // Rent varies by trade and position, in whole yuan, as cents.
                let rent_yuan: i64 = match *zone {
                    "A" => 3_000 + 200 * (i as i64 % 5),
                    "B" => 1_800 + 150 * (i as i64 % 4),
                    "C" => 2_200,
                    _ => 1_500 + 100 * (i as i64 % 3),
                };
                let stall = Stall {
                    id: new_id("stl"),
                    market_id: market_id.clone(),
                    number,
                    zone: (*zone).to_owned(),
                    trade: (*trade).to_owned(),
                    holder_name: holder,
                    holder_mobile: Some(format!("139{:08}", 51_000_000 + n * 7_919)),
                    uscc: None,
                    rent_cents: rent_yuan * 100,
                    status: "active".to_owned(),
                    code_version: 1,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                };
                diesel::insert_into(stalls::table)
                    .values(&stall)
                    .execute(conn)?;
                report.stalls_added += 1;
            }
        }

        let demo_banks = [
            (
                "江苏宜兴农村商业银行",
                "宜兴农商行",
                "商户信用贷",
                (1_000_000_i64, 30_000_000_i64),
                (385, 720),
                12,
            ),
            (
                "中国工商银行宜兴支行",
                "工商银行",
                "经营快贷",
                (3_000_000, 50_000_000),
                (345, 600),
                12,
            ),
        ];
        for (name, short, product, (min_amt, max_amt), (min_rate, max_rate), term) in demo_banks {
            let bank_id = match banks::table
                .filter(banks::name.eq(name))
                .select(banks::id)
                .first::<String>(conn)
                .optional()?
            {
                Some(id) => id,
                None => {
                    let bank = Bank {
                        id: new_id("bnk"),
                        name: name.to_owned(),
                        short_name: short.to_owned(),
                        created_at: now.clone(),
                    };
                    diesel::insert_into(banks::table)
                        .values(&bank)
                        .execute(conn)?;
                    report.banks_added += 1;
                    bank.id
                }
            };
            let has_product = products::table
                .filter(products::bank_id.eq(&bank_id))
                .filter(products::name.eq(product))
                .count()
                .get_result::<i64>(conn)?
                > 0;
            if !has_product {
                diesel::insert_into(products::table)
                    .values(&Product {
                        id: new_id("prd"),
                        bank_id,
                        name: product.to_owned(),
                        min_amount_cents: min_amt,
                        max_amount_cents: max_amt,
                        min_rate_bp: min_rate,
                        max_rate_bp: max_rate,
                        term_months: term,
                        grades: "A,B,C".to_owned(),
                        active: true,
                        created_at: now.clone(),
                    })
                    .execute(conn)?;
            }
        }

        let has_manager = staff_users::table
            .filter(staff_users::username.eq(DEMO_MANAGER))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if !has_manager {
            diesel::insert_into(staff_users::table)
                .values(&StaffUser {
                    id: new_id("usr"),
                    username: DEMO_MANAGER.to_owned(),
                    display_name: "万石市场管理处".to_owned(),
                    role: "manager".to_owned(),
                    market_id: Some(market_id.clone()),
                    bank_id: None,
                    password_hash: crate::passwords::hash(manager_password)?,
                    active: true,
                    created_at: now.clone(),
                })
                .execute(conn)?;
            report.manager_added = true;
        }
        Ok(report)
    })
}

/// Demo stalls with a known situation, for the merchant-flow tests. Every
/// other demo stall is drawn at the population's base rates.
pub const DEMO_CASES: &[(&str, Archetype)] = &[
    ("A-01", Archetype::Clean),
    ("A-02", Archetype::Clean),
    ("B-01", Archetype::Clean),
    ("C-01", Archetype::Clean),
    ("A-03", Archetype::RentArrears(2)),
    ("A-04", Archetype::OnEnforcementList),
    ("B-02", Archetype::TaxGradeD),
    ("B-03", Archetype::RentArrears(5)),
    ("D-01", Archetype::OnDishonestyList),
];

const DEMO_SEED: u64 = 0x5_1a11_c0de;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoCreditReport {
    pub usccs_assigned: usize,
    pub merchants_added: usize,
    pub rows_imported: usize,
    /// Holders made the registry's operator of a business seeded before
    /// the registry kept operators.
    pub operators_added: usize,
    pub roster_added: usize,
}

/// Seeded by the stall number: the same stall gets the same merchant on
/// every machine.
fn stall_seed(number: &str) -> u64 {
    number.bytes().fold(DEMO_SEED, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The resident ID number of a demo stall's holder: the same on every
/// machine and every day (born 28–60 years before 2026-11-20), so the README
/// can name the one to type.
pub fn demo_resident_id(number: &str) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(stall_seed(number) ^ 0x1d);
    let reference = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
    let birth = reference - Duration::days(rng.random_range(28 * 365..60 * 365));
    generate::resident_id(birth, rng.random_range(0..1000))
}

/// Gives each demo stall holder a USCC and credit facts as of today, makes
/// them the registry's operator of it, and adds them (with the stall's
/// mobile number) to the development roster at `roster_file`, if one is in
/// use. Idempotent.
pub fn seed_demo_credit_data(
    conn: &mut DbConn,
    fields: &FieldCipher,
    roster_file: Option<&Path>,
) -> AppResult<DemoCreditReport> {
    seed_demo_credit_data_on(
        conn,
        fields,
        roster_file,
        crate::clock::china_day(Utc::now()),
    )
}

/// [`seed_demo_credit_data`] with the facts' as-of date given.
pub fn seed_demo_credit_data_on(
    conn: &mut DbConn,
    fields: &FieldCipher,
    roster_file: Option<&Path>,
    today: NaiveDate,
) -> AppResult<DemoCreditReport> {
    let (mut report, people) = crate::db::write_transaction(conn, |conn| {
        let mut report = DemoCreditReport::default();
        let mut people = Vec::new();
        let Some(market_id) = markets::table
            .filter(markets::name.eq(DEMO_MARKET))
            .select(markets::id)
            .first::<String>(conn)
            .optional()?
        else {
            return Ok((report, people));
        };
        type DemoStall = (
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
            Option<String>,
        );
        let demo: Vec<DemoStall> = stalls::table
            .filter(stalls::market_id.eq(&market_id))
            .order(stalls::number)
            .select((
                stalls::id,
                stalls::number,
                stalls::holder_name,
                stalls::trade,
                stalls::rent_cents,
                stalls::uscc,
                stalls::holder_mobile,
            ))
            .load(conn)?;
        let now = Utc::now();
        let mut ds = Dataset {
            present: crate::decision::Source::ALL.into_iter().collect(),
            ..Dataset::default()
        };
        for (id, number, holder, trade, rent, uscc, mobile) in &demo {
            let mut rng = ChaCha8Rng::seed_from_u64(stall_seed(number));
            let uscc = match uscc {
                Some(u) => u.clone(),
                None => {
                    let u = generate::individual_uscc(&mut rng);
                    diesel::update(stalls::table.find(id))
                        .set((stalls::uscc.eq(&u), stalls::updated_at.eq(timestamp(now))))
                        .execute(conn)?;
                    report.usccs_assigned += 1;
                    u
                }
            };
            let resident_id = demo_resident_id(number);
            if let Some(mobile) = mobile {
                people.push(RosterEntry {
                    name: holder.clone(),
                    resident_id: resident_id.clone(),
                    mobile: mobile.clone(),
                });
            }
            let registered: Option<String> = credit_registration::table
                .filter(credit_registration::uscc.eq(&uscc))
                .select(credit_registration::as_of)
                .first(conn)
                .optional()?;
            if let Some(as_of) = registered {
                // Seeded before the registry kept operators: the holder is.
                let has_operator: i64 = registry_operators::table
                    .filter(registry_operators::uscc.eq(&uscc))
                    .count()
                    .get_result(conn)?;
                if has_operator == 0 {
                    let batch =
                        crate::credit::store::new_batch(conn, "demo operators", "seed-demo", now)?;
                    let entry = OperatorEntry {
                        uscc: &uscc,
                        name: holder,
                        resident_id: Some(&resident_id),
                        as_of: &as_of,
                    };
                    report.operators_added += registry::import(conn, fields, &[entry], &batch)?;
                }
                continue;
            }
            let archetype = DEMO_CASES
                .iter()
                .find(|(n, _)| n == number)
                .map_or(Archetype::Random, |(_, a)| *a);
            let spec = Spec {
                uscc,
                operator_name: holder.clone(),
                trade: trade.clone(),
                stall: Some((DEMO_MARKET, number.as_str(), *rent)),
                archetype,
                operator_resident_id: Some(resident_id),
            };
            generate::add_merchant(&mut ds, &mut rng, &spec, today);
            report.merchants_added += 1;
        }
        if report.merchants_added > 0 {
            let s = crate::credit::store::import_export(
                conn,
                &ds,
                fields,
                "demo stalls",
                "seed-demo",
                now,
            )?;
            report.rows_imported = s.rows();
            report.operators_added += s.operators;
        }
        Ok::<_, AppError>((report, people))
    })?;
    if let Some(file) = roster_file {
        report.roster_added = roster::add(file, &people).map_err(AppError::internal)?;
    }
    Ok(report)
}

/// What `backend dev-business` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevBusinessSpec<'a> {
    pub archetype: Archetype,
    /// The operator's mobile number (normalised); a random one when `None`.
    pub mobile: Option<&'a str>,
    /// Make the new business's operator the person registered for this one.
    pub same_operator_as: Option<&'a str>,
    /// A county rent export for the business: (market name, stall number).
    pub county_rent: Option<(&'a str, &'a str)>,
}

/// A business made for development: the person to type. Printed by
/// `backend dev-business` (a development tool: it shows an ID number).
#[derive(Clone, Serialize)]
pub struct DevBusiness {
    pub uscc: String,
    pub business_name: String,
    pub trade: String,
    pub name: String,
    pub resident_id: String,
    pub mobile: String,
}

/// Makes a new business with credit facts as of today in the given
/// situation, its registered operator (a new person, or the operator of
/// `same_operator_as`), and that person in the development roster at
/// `roster_file` with their mobile number.
pub fn dev_business(
    conn: &mut DbConn,
    fields: &FieldCipher,
    roster_file: &Path,
    spec: &DevBusinessSpec<'_>,
) -> AppResult<DevBusiness> {
    let now = Utc::now();
    let today = crate::clock::china_day(now);
    let mut rng = ChaCha8Rng::from_rng(&mut rand::rng());
    let uscc = generate::individual_uscc(&mut rng);
    let (drawn_name, trade) = generate::random_person(&mut rng);
    let (name, resident_id) = match spec.same_operator_as {
        Some(other) => {
            registry::operator_of(conn, fields, other)?.ok_or_else(AppError::not_found)?
        }
        None => {
            let birth = today - Duration::days(rng.random_range(25 * 365..60 * 365));
            (
                drawn_name,
                generate::resident_id(birth, rng.random_range(0..1000)),
            )
        }
    };
    let mobile = match spec.mobile {
        Some(m) => m.to_owned(),
        None => format!("170{:08}", rng.random_range(0..100_000_000u32)),
    };
    let mut ds = Dataset {
        present: crate::decision::Source::ALL.into_iter().collect(),
        ..Dataset::default()
    };
    let stall = spec
        .county_rent
        .map(|(market, number)| (market, number, 300_000));
    generate::add_merchant(
        &mut ds,
        &mut rng,
        &Spec {
            uscc: uscc.clone(),
            operator_name: name.clone(),
            trade: trade.clone(),
            stall,
            archetype: spec.archetype,
            operator_resident_id: Some(resident_id.clone()),
        },
        today,
    );
    // Every source is present; one with no rows for this business moves
    // nothing (no subject, no export date).
    crate::credit::store::import_export(conn, &ds, fields, "dev business", "dev-business", now)?;
    roster::add(
        roster_file,
        &[RosterEntry {
            name: name.clone(),
            resident_id: resident_id.clone(),
            mobile: mobile.clone(),
        }],
    )
    .map_err(AppError::internal)?;
    Ok(DevBusiness {
        business_name: ds
            .registration
            .first()
            .map(|r| r.name.clone())
            .unwrap_or_default(),
        uscc,
        trade,
        name,
        resident_id,
        mobile,
    })
}

#[cfg(test)]
mod tests {
    use shared::decision::Outcome;

    use super::*;
    use crate::decisions::replay;
    use crate::test_fixtures::{conn, decided, now};

    fn temp_roster() -> std::path::PathBuf {
        std::env::temp_dir()
            .join(new_id("mc-seed"))
            .join(roster::ROSTER_FILE)
    }

    #[test]
    fn demo_stalls_have_known_offers_and_declines() {
        let mut c = conn();
        let fields = FieldCipher::new(&[5u8; 32]);
        let file = temp_roster();
        seed_demo(&mut c, "demo-password-for-tests").unwrap();
        let today: NaiveDate = "2026-11-26".parse().unwrap();
        let first = seed_demo_credit_data_on(&mut c, &fields, Some(&file), today).unwrap();
        assert!(first.merchants_added >= 40, "{first:?}");
        assert_eq!(first.operators_added, first.merchants_added);
        assert_eq!(first.roster_added, first.merchants_added);
        let again = seed_demo_credit_data_on(&mut c, &fields, Some(&file), today).unwrap();
        assert_eq!(
            (
                again.usccs_assigned,
                again.merchants_added,
                again.operators_added,
                again.roster_added
            ),
            (0, 0, 0, 0)
        );
        // Each holder is in the roster with the stall's mobile number and is
        // the registry's operator of the stall's business.
        let people = roster::read(&file).unwrap();
        let holders: Vec<(String, String, Option<String>, Option<String>)> = stalls::table
            .select((
                stalls::number,
                stalls::holder_name,
                stalls::holder_mobile,
                stalls::uscc,
            ))
            .load(&mut c)
            .unwrap();
        for (number, name, mobile, uscc) in &holders {
            let id = demo_resident_id(number);
            assert!(people.iter().any(|p| p.resident_id == id
                && &p.name == name
                && Some(&p.mobile) == mobile.as_ref()));
            let uscc = uscc.as_deref().unwrap();
            assert!(registry::is_operator(&mut c, uscc, &fields.blind_index(&id), name).unwrap());
        }
        std::fs::remove_dir_all(file.parent().unwrap()).unwrap();

        let expect = [
            ("A-01", Outcome::Offer, None),
            ("A-02", Outcome::Offer, None),
            ("B-01", Outcome::Offer, None),
            ("C-01", Outcome::Offer, None),
            ("A-03", Outcome::Offer, Some("RENT_ARREARS")),
            ("A-04", Outcome::Decline, Some("ENFORCEMENT_LIST")),
            ("B-02", Outcome::Decline, Some("TAX_GRADE_D")),
            ("B-03", Outcome::Decline, Some("RENT_ARREARS_LONG")),
            ("D-01", Outcome::Decline, Some("DISHONESTY_LIST")),
        ];
        for (number, outcome, top) in expect {
            let uscc: Option<String> = stalls::table
                .filter(stalls::number.eq(number))
                .select(stalls::uscc)
                .first(&mut c)
                .unwrap();
            let uscc = uscc.unwrap();
            assert!(shared::ids::Uscc::parse(&uscc).is_ok());
            let d = decided(&mut c, &format!("mer_{number}"), &uscc, now());
            assert_eq!(d.view.outcome, outcome, "{number}: {:?}", d.view.reasons);
            if let Some(code) = top {
                assert_eq!(d.view.reasons[0].code, code, "{number}");
            }
            assert!(replay(&mut c, &d.id).unwrap().identical(), "{number}");
        }
    }
}

#[cfg(test)]
mod upgrade {
    use super::*;
    use crate::test_fixtures::conn;

    /// A demo database seeded before the registry kept operators: seeding
    /// again makes each holder the operator of their stall's business, and
    /// changes no fact.
    #[test]
    fn seeding_again_gives_an_older_demo_its_operators() {
        let mut c = conn();
        let fields = FieldCipher::new(&[6u8; 32]);
        seed_demo(&mut c, "demo-password-for-tests").unwrap();
        let today: NaiveDate = "2026-11-26".parse().unwrap();
        seed_demo_credit_data_on(&mut c, &fields, None, today).unwrap();
        let facts: i64 = credit_registration::table
            .count()
            .get_result(&mut c)
            .unwrap();
        diesel::delete(registry_operators::table)
            .execute(&mut c)
            .unwrap();
        let again = seed_demo_credit_data_on(&mut c, &fields, None, today).unwrap();
        assert_eq!(again.merchants_added, 0);
        let stalls_n: i64 = stalls::table.count().get_result(&mut c).unwrap();
        assert_eq!(again.operators_added as i64, stalls_n);
        assert_eq!(
            credit_registration::table
                .count()
                .get_result::<i64>(&mut c)
                .unwrap(),
            facts
        );
        let (name, uscc): (String, Option<String>) = stalls::table
            .filter(stalls::number.eq("B-01"))
            .select((stalls::holder_name, stalls::uscc))
            .first(&mut c)
            .unwrap();
        let index = fields.blind_index(&demo_resident_id("B-01"));
        assert!(registry::is_operator(&mut c, &uscc.unwrap(), &index, &name).unwrap());
    }
}

#[cfg(test)]
mod readme {
    use super::*;
    use crate::test_fixtures::conn;

    /// The README tells a tester whom to log in as on the demo: the holders
    /// of B-01 and C-01 (offers) and of B-02 (a decline). Their identities
    /// come from the seed; this keeps the README's words true.
    #[test]
    fn the_readme_names_the_demo_holders_as_seeded() {
        let mut c = conn();
        seed_demo(&mut c, "demo-password-for-tests").unwrap();
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let mut missing = Vec::new();
        for number in ["B-01", "B-02", "C-01"] {
            let (name, mobile): (String, Option<String>) = stalls::table
                .filter(stalls::number.eq(number))
                .select((stalls::holder_name, stalls::holder_mobile))
                .first(&mut c)
                .unwrap();
            let line = format!(
                "| {number} | {name} | `{}` | `{}` |",
                mobile.unwrap(),
                demo_resident_id(number)
            );
            if !readme.contains(&line) {
                missing.push(line);
            }
        }
        assert!(
            missing.is_empty(),
            "README.md lacks the lines\n{}",
            missing.join("\n")
        );
    }
}
