//! Credit data: the shape of the county's exports (`rows`), reading and
//! writing export folders (`csvio`), the synthetic population (`generate`),
//! the fact tables (`store`), and the markets' own rent ledgers as
//! first-party facts (`ledger`). Column reference: `README.md` here.

pub mod csvio;
pub mod generate;
pub mod ledger;
pub mod rows;
pub mod store;

use std::path::Path;

use crate::identity::roster;

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
    // What the real-name check's carrier would know of these operators: for
    // a development server only (see `identity::roster`).
    roster::write(&out.join(roster::ROSTER_FILE), &generate::roster(&ds, seed))?;
    println!(
        "{count} merchants, {} rows as of {as_of} (seed {seed}) written to {}, with a \
         development real-name roster ({})",
        ds.row_count(),
        out.display(),
        roster::ROSTER_FILE
    );
    Ok(())
}

/// `backend import-credit-data <dir>`: all rows or none; every bad row listed.
/// The registered operators go into the registry (ID numbers encrypted with
/// `fields`); a development roster beside the export (`generate-credit-data`
/// writes one) is added to the server's, when that is the check in use.
pub fn cli_import(
    pool: &crate::db::DbPool,
    fields: &crate::auth::keys::FieldCipher,
    server_roster: Option<&Path>,
    dir: &Path,
) -> Result<(), String> {
    let ds = csvio::read_dir(dir).map_err(|errors| {
        let mut msg = format!("{} bad rows; nothing was imported:", errors.len());
        for e in &errors {
            msg.push_str(&format!("\n  {e}"));
        }
        msg
    })?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let label = dir.display().to_string();
    let s = store::import_export(&mut conn, &ds, fields, &label, "cli", Utc::now())
        .map_err(|e| e.to_string())?;
    println!(
        "import batch {}: {} rows, {} registered operators",
        s.batch_id,
        s.rows(),
        s.operators
    );
    for (source, x) in &s.sources {
        println!(
            "  {source:<18} as of {}  rows {:>6}  subjects updated {:>5}  kept newer {:>5}",
            x.as_of, x.rows, x.subjects_updated, x.subjects_stale
        );
    }
    let beside = dir.join(roster::ROSTER_FILE);
    if let Some(server_roster) = server_roster
        && beside.exists()
    {
        let added = roster::add(server_roster, &roster::read(&beside)?)?;
        println!("development real-name roster: {added} people added");
    }
    Ok(())
}
