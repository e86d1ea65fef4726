//! Credit data: the shape of the county's exports (`rows`), reading and
//! writing export folders (`csvio`), the synthetic population (`generate`),
//! and the fact tables (`store`). Column reference: `README.md` here.

pub mod csvio;
pub mod generate;
pub mod rows;
pub mod store;

use chrono::{NaiveDate, Utc};

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
