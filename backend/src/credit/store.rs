//! Writing an export into the fact tables and reading one subject's facts
//! back. Import rule: per source and subject, the rows of a newer (or equal)
//! export replace the older ones; an older export never overwrites a newer
//! one. Each row keeps the as-of date of the export it came from.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::rows::{Dataset, SourceRow, date, each_credit_source};
use crate::db::schema::*;
use crate::db::{DbConn, new_id, timestamp};
use crate::decision::{Facts, Source};
use crate::error::{AppError, AppResult};

/// SQLite allows 999 bound parameters in old builds; stay well below.
const CHUNK: usize = 400;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    pub as_of: String,
    pub rows: usize,
    pub subjects_updated: usize,
    /// Subjects skipped because the database already holds a newer export.
    pub subjects_stale: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub batch_id: String,
    pub sources: BTreeMap<String, SourceSummary>,
    /// Businesses whose registered operator was (re)placed in the registry.
    pub operators: usize,
}

impl ImportSummary {
    pub fn rows(&self) -> usize {
        self.sources.values().map(|s| s.rows).sum()
    }
}

/// Imports a checked export in one transaction: all rows or none. The
/// registration rows' operators go into the registry too (their ID numbers
/// encrypted and indexed with `fields`).
pub fn import_export(
    conn: &mut DbConn,
    ds: &Dataset,
    fields: &crate::auth::keys::FieldCipher,
    label: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> AppResult<ImportSummary> {
    import(conn, ds, Some(fields), label, actor, now)
}

/// [`import_export`] of the facts alone: no one can be verified as the
/// operator of these businesses afterwards (tests of the facts, back-tests).
pub fn import_dataset(
    conn: &mut DbConn,
    ds: &Dataset,
    label: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> AppResult<ImportSummary> {
    import(conn, ds, None, label, actor, now)
}

fn import(
    conn: &mut DbConn,
    ds: &Dataset,
    fields: Option<&crate::auth::keys::FieldCipher>,
    label: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> AppResult<ImportSummary> {
    crate::db::write_transaction(conn, |conn| {
        let batch_id = new_batch(conn, label, actor, now)?;
        let at = timestamp(now);
        let mut summary = ImportSummary {
            batch_id: batch_id.clone(),
            sources: BTreeMap::new(),
            operators: 0,
        };
        macro_rules! import {
            ($field:ident, $ty:ty, $table:ident) => {
                let source = <$ty as SourceRow>::SOURCE;
                if ds.present.contains(&source) {
                    let s = import_source::<$ty>(
                        &ds.$field,
                        |conn, usccs| {
                            $table::table
                                .filter($table::uscc.eq_any(usccs.to_vec()))
                                .select(($table::uscc, $table::as_of))
                                .load::<(String, String)>(conn)
                        },
                        |conn, usccs| {
                            diesel::delete(
                                $table::table.filter($table::uscc.eq_any(usccs.to_vec())),
                            )
                            .execute(conn)
                        },
                        |conn, row| {
                            diesel::insert_into($table::table)
                                .values((
                                    row,
                                    $table::id.eq(new_id("cf")),
                                    $table::source.eq(source.as_str()),
                                    $table::import_batch_id.eq(&batch_id),
                                ))
                                .execute(conn)
                        },
                        conn,
                    )?;
                    if !s.as_of.is_empty() {
                        note_source(conn, source, &s.as_of, &batch_id, &at)?;
                    }
                    summary.sources.insert(source.as_str().to_owned(), s);
                }
            };
        }
        each_credit_source!(import);
        if let Some(fields) = fields
            && ds.present.contains(&Source::Registration)
        {
            let entries: Vec<crate::identity::registry::OperatorEntry<'_>> = ds
                .registration
                .iter()
                .map(|r| crate::identity::registry::OperatorEntry {
                    uscc: &r.uscc,
                    name: &r.operator_name,
                    resident_id: ds.operator_ids.0.get(&r.uscc).map(String::as_str),
                    as_of: &r.as_of,
                })
                .collect();
            summary.operators =
                crate::identity::registry::import(conn, fields, &entries, &batch_id)?;
        }
        let json = serde_json::to_string(&summary.sources).map_err(AppError::internal)?;
        diesel::update(import_batches::table.find(&batch_id))
            .set(import_batches::summary.eq(json))
            .execute(conn)?;
        Ok(summary)
    })
}

/// A new import batch (its summary filled in later, if at all).
pub fn new_batch(
    conn: &mut DbConn,
    label: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let batch_id = new_id("imp");
    diesel::insert_into(import_batches::table)
        .values((
            import_batches::id.eq(&batch_id),
            import_batches::label.eq(label),
            import_batches::actor.eq(actor),
            import_batches::imported_at.eq(timestamp(now)),
            import_batches::summary.eq("{}"),
        ))
        .execute(conn)?;
    Ok(batch_id)
}

fn import_source<R: SourceRow>(
    rows: &[R],
    load: impl Fn(&mut DbConn, &[&str]) -> QueryResult<Vec<(String, String)>>,
    delete: impl Fn(&mut DbConn, &[&str]) -> QueryResult<usize>,
    insert: impl Fn(&mut DbConn, &R) -> QueryResult<usize>,
    conn: &mut DbConn,
) -> AppResult<SourceSummary> {
    let mut by_uscc: BTreeMap<&str, (String, Vec<&R>)> = BTreeMap::new();
    let mut summary = SourceSummary::default();
    for r in rows {
        let e = by_uscc
            .entry(r.uscc())
            .or_insert_with(|| (r.as_of().to_owned(), Vec::new()));
        if r.as_of() > e.0.as_str() {
            e.0 = r.as_of().to_owned();
        }
        e.1.push(r);
        if r.as_of() > summary.as_of.as_str() {
            summary.as_of = r.as_of().to_owned();
        }
    }
    let usccs: Vec<&str> = by_uscc.keys().copied().collect();
    for chunk in usccs.chunks(CHUNK) {
        let mut newest: BTreeMap<String, String> = BTreeMap::new();
        for (u, a) in load(conn, chunk)? {
            let e = newest.entry(u).or_default();
            if a > *e {
                *e = a;
            }
        }
        let mut replace = Vec::with_capacity(chunk.len());
        for u in chunk {
            let incoming = &by_uscc[u].0;
            match newest.get(*u) {
                Some(existing) if existing > incoming => summary.subjects_stale += 1,
                _ => replace.push(*u),
            }
        }
        if replace.is_empty() {
            continue;
        }
        delete(conn, &replace)?;
        for u in &replace {
            for r in &by_uscc[u].1 {
                insert(conn, r)?;
                summary.rows += 1;
            }
        }
        summary.subjects_updated += replace.len();
    }
    Ok(summary)
}

/// Records the newest export date of a source (select, then insert or update).
fn note_source(
    conn: &mut DbConn,
    source: Source,
    as_of: &str,
    batch_id: &str,
    at: &str,
) -> AppResult<()> {
    let existing: Option<String> = credit_sources::table
        .find(source.as_str())
        .select(credit_sources::as_of)
        .first(conn)
        .optional()?;
    match existing {
        None => {
            diesel::insert_into(credit_sources::table)
                .values((
                    credit_sources::source.eq(source.as_str()),
                    credit_sources::as_of.eq(as_of),
                    credit_sources::import_batch_id.eq(batch_id),
                    credit_sources::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        Some(old) if old.as_str() <= as_of => {
            diesel::update(credit_sources::table.find(source.as_str()))
                .set((
                    credit_sources::as_of.eq(as_of),
                    credit_sources::import_batch_id.eq(batch_id),
                    credit_sources::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// What one source holds for a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Rows found; the as-of date of the newest.
    Found { rows: usize, as_of: NaiveDate },
    /// The source was imported and holds nothing for the subject.
    Empty { as_of: NaiveDate },
    /// The source has never been imported.
    NoExport,
}

/// Reads one source's rows for `uscc` into `facts` (and its as-of date).
pub fn read_source(
    conn: &mut DbConn,
    source: Source,
    uscc: &str,
    facts: &mut Facts,
) -> AppResult<Read> {
    let mut as_ofs: BTreeSet<String> = BTreeSet::new();
    let mut rows = 0usize;
    macro_rules! read {
        ($field:ident, $ty:ty, $table:ident) => {
            if <$ty as SourceRow>::SOURCE == source {
                let found: Vec<$ty> = $table::table
                    .filter($table::uscc.eq(uscc))
                    .order($table::id)
                    .select(<$ty>::as_select())
                    .load(conn)?;
                for r in &found {
                    r.apply(facts).map_err(AppError::internal)?;
                    as_ofs.insert(r.as_of.clone());
                }
                rows = found.len();
            }
        };
    }
    each_credit_source!(read);
    let parse = |s: &str| date("as_of", s).map_err(AppError::internal);
    if let Some(newest) = as_ofs.last() {
        let d = parse(newest)?;
        facts.as_of.insert(source, d);
        return Ok(Read::Found { rows, as_of: d });
    }
    let export: Option<String> = credit_sources::table
        .find(source.as_str())
        .select(credit_sources::as_of)
        .first(conn)
        .optional()?;
    match export {
        Some(s) => {
            let d = parse(&s)?;
            facts.as_of.insert(source, d);
            Ok(Read::Empty { as_of: d })
        }
        None => Ok(Read::NoExport),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credit::generate;
    use crate::test_fixtures::{conn, now};

    #[test]
    fn a_newer_export_replaces_facts_and_an_older_one_does_not() {
        let mut c = conn();
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let first = generate::generate(10, 9, day("2026-10-31"));
        import_dataset(&mut c, &first, "october", "test", now()).unwrap();
        let uscc = first.registration[0].uscc.clone();
        let grades = |c: &mut DbConn| -> Vec<(i32, String, String)> {
            credit_tax_grades::table
                .filter(credit_tax_grades::uscc.eq(&uscc))
                .order(credit_tax_grades::year)
                .select((
                    credit_tax_grades::year,
                    credit_tax_grades::grade,
                    credit_tax_grades::as_of,
                ))
                .load(c)
                .unwrap()
        };
        let before = grades(&mut c);
        assert!(before.iter().all(|g| g.2 == "2026-10-31"));

        // November: the subject's 2025 grade is now D.
        let mut newer = first.clone();
        newer.tax.retain(|t| t.uscc == uscc);
        for t in &mut newer.tax {
            t.as_of = "2026-11-30".into();
            if t.year == 2025 {
                t.grade = "D".into();
            }
        }
        let s = import_dataset(&mut c, &newer, "november", "test", now()).unwrap();
        assert_eq!(s.sources["tax"].subjects_updated, 1);
        let after = grades(&mut c);
        assert_eq!(after.len(), before.len());
        assert!(after.iter().all(|g| g.2 == "2026-11-30"));
        assert_eq!(after.iter().find(|g| g.0 == 2025).unwrap().1, "D");

        // Importing October again changes nothing for that subject.
        let s = import_dataset(&mut c, &first, "october again", "test", now()).unwrap();
        assert_eq!(s.sources["tax"].subjects_stale, 1);
        assert_eq!(grades(&mut c), after);
    }
}
