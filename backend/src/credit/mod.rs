//! Credit data: the shape of the county's exports (`rows`), reading and
//! writing export folders (`csvio`), the synthetic population (`generate`),
//! and the fact tables (`store`). Column reference: `README.md` here.

pub mod csvio;
pub mod generate;
pub mod rows;
pub mod schema;
pub mod store;

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::db::schema::{markets, stalls};
use crate::db::{DbConn, timestamp};
use crate::error::AppResult;
use generate::{Archetype, Spec};
use rows::Dataset;

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
    seed_demo_credit_data_on(conn, Utc::now().date_naive())
}

/// [`seed_demo_credit_data`] with the facts' as-of date given.
pub fn seed_demo_credit_data_on(
    conn: &mut DbConn,
    today: NaiveDate,
) -> AppResult<DemoCreditReport> {
    crate::db::write_transaction(conn, |conn| {
        let mut report = DemoCreditReport::default();
        let Some(market_id) = markets::table
            .filter(markets::name.eq(crate::seed::DEMO_MARKET))
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
            let known = schema::credit_registration::table
                .filter(schema::credit_registration::uscc.eq(&uscc))
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
                stall: Some((crate::seed::DEMO_MARKET, number.as_str(), *rent)),
                archetype,
            };
            generate::add_merchant(&mut ds, &mut rng, &spec, today);
            report.merchants_added += 1;
        }
        if report.merchants_added > 0 {
            let s = store::import_dataset(conn, &ds, "demo stalls", "seed-demo", now)?;
            report.rows_imported = s.rows();
        }
        Ok(report)
    })
}

/// `backend generate-credit-data [--count N] [--seed S] [--as-of DATE] <out-dir>`.
pub fn cli_generate(
    count: usize,
    seed: u64,
    as_of: Option<NaiveDate>,
    out: &std::path::Path,
) -> Result<(), String> {
    let as_of = as_of.unwrap_or_else(generate::default_as_of);
    let ds = generate::generate(count, seed, as_of);
    csvio::write_dir(out, &ds)?;
    println!(
        "{count} merchants, {} rows as of {as_of} (seed {seed}) written to {}",
        ds.row_count(),
        out.display()
    );
    Ok(())
}

/// `backend import-credit-data <dir>`: all rows or none; every bad row listed.
pub fn cli_import(pool: &crate::db::DbPool, dir: &std::path::Path) -> Result<(), String> {
    let ds = csvio::read_dir(dir).map_err(|errors| {
        let mut msg = format!("{} bad rows; nothing was imported:", errors.len());
        for e in &errors {
            msg.push_str(&format!("\n  {e}"));
        }
        msg
    })?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let label = dir.display().to_string();
    let s = store::import_dataset(&mut conn, &ds, &label, "cli", Utc::now())
        .map_err(|e| e.to_string())?;
    println!("import batch {}: {} rows", s.batch_id, s.rows());
    for (source, x) in &s.sources {
        println!(
            "  {source:<18} as of {}  rows {:>6}  subjects updated {:>5}  kept newer {:>5}",
            x.as_of, x.rows, x.subjects_updated, x.subjects_stale
        );
    }
    Ok(())
}
