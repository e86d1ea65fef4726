//! The demo data `cargo xtask run` serves: 万石石材市场 with about forty
//! stalls, one market manager, two banks with one loan product each
//! (`seed_demo`), and credit facts for every stall holder, some of them in a
//! known situation (`seed_demo_credit_data`). Idempotent: every row is looked
//! up by its natural key first, so a second run adds nothing.

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::credit::generate::{self, Archetype, Spec};
use crate::credit::rows::Dataset;
use crate::db::models::{Bank, Market, Product, StaffUser, Stall};
use crate::db::schema::{banks, credit_registration, markets, products, staff_users, stalls};
use crate::db::{DbConn, new_id, timestamp};
use crate::error::AppResult;

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
}

/// Gives each demo stall holder a USCC and credit facts as of today. Idempotent.
pub fn seed_demo_credit_data(conn: &mut DbConn) -> AppResult<DemoCreditReport> {
    seed_demo_credit_data_on(conn, crate::clock::china_day(Utc::now()))
}

/// [`seed_demo_credit_data`] with the facts' as-of date given.
pub fn seed_demo_credit_data_on(
    conn: &mut DbConn,
    today: NaiveDate,
) -> AppResult<DemoCreditReport> {
    crate::db::write_transaction(conn, |conn| {
        let mut report = DemoCreditReport::default();
        let Some(market_id) = markets::table
            .filter(markets::name.eq(DEMO_MARKET))
            .select(markets::id)
            .first::<String>(conn)
            .optional()?
        else {
            return Ok(report);
        };
        let demo: Vec<(String, String, String, String, i64, Option<String>)> = stalls::table
            .filter(stalls::market_id.eq(&market_id))
            .order(stalls::number)
            .select((
                stalls::id,
                stalls::number,
                stalls::holder_name,
                stalls::trade,
                stalls::rent_cents,
                stalls::uscc,
            ))
            .load(conn)?;
        let now = Utc::now();
        let mut ds = Dataset {
            present: crate::decision::Source::ALL.into_iter().collect(),
            ..Dataset::default()
        };
        for (id, number, holder, trade, rent, uscc) in &demo {
            // Seeded by the stall number: the same stall gets the same merchant on every machine.
            let seed = number.bytes().fold(DEMO_SEED, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
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
            let known = credit_registration::table
                .filter(credit_registration::uscc.eq(&uscc))
                .count()
                .get_result::<i64>(conn)?
                > 0;
            if known {
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
            };
            generate::add_merchant(&mut ds, &mut rng, &spec, today);
            report.merchants_added += 1;
        }
        if report.merchants_added > 0 {
            let s =
                crate::credit::store::import_dataset(conn, &ds, "demo stalls", "seed-demo", now)?;
            report.rows_imported = s.rows();
        }
        Ok(report)
    })
}

#[cfg(test)]
mod tests {
    use shared::decision::Outcome;

    use super::*;
    use crate::decisions::replay;
    use crate::test_fixtures::{conn, decided, now};

    #[test]
    fn demo_stalls_have_known_offers_and_declines() {
        let mut c = conn();
        seed_demo(&mut c, "demo-password-for-tests").unwrap();
        let today: NaiveDate = "2026-11-26".parse().unwrap();
        let first = seed_demo_credit_data_on(&mut c, today).unwrap();
        assert!(first.merchants_added >= 40, "{first:?}");
        let again = seed_demo_credit_data_on(&mut c, today).unwrap();
        assert_eq!((again.usccs_assigned, again.merchants_added), (0, 0));

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
