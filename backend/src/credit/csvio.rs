//! Reading and writing an export folder: one `<source>.csv` per source
//! (UTF-8, header row; columns in `README.md` beside this file).

use std::path::Path;

use serde::Serialize;

use super::rows::{Dataset, SourceRow, date, each_credit_source};
use crate::decision::Facts;

/// A row that cannot be imported: file, line (1 = header) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub file: String,
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Checks one row beyond its columns' types: a valid USCC, an as-of date,
/// and whatever the source's own rules are.
fn check_row<R: SourceRow>(row: &R) -> Result<(), String> {
    shared::ids::Uscc::parse(row.uscc()).map_err(|e| format!("uscc: {}", e.message_en))?;
    date("as_of", row.as_of())?;
    row.apply(&mut Facts::default())
}

fn read_file<R: SourceRow>(dir: &Path, errors: &mut Vec<RowError>) -> Option<Vec<R>> {
    let name = format!("{}.csv", R::SOURCE.as_str());
    let path = dir.join(&name);
    if !path.exists() {
        return None;
    }
    match std::fs::File::open(&path) {
        Ok(file) => Some(read_rows(&name, file, errors)),
        Err(e) => {
            errors.push(RowError {
                file: name,
                line: 0,
                message: format!("cannot open: {e}"),
            });
            Some(Vec::new())
        }
    }
}

/// The rows of one source's CSV (named `name` in errors), every bad row
/// reported in `errors`.
pub fn read_rows<R: SourceRow>(
    name: &str,
    input: impl std::io::Read,
    errors: &mut Vec<RowError>,
) -> Vec<R> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut rows = Vec::new();
    for result in reader.deserialize::<R>() {
        match result {
            Ok(row) => {
                if let Err(message) = check_row(&row) {
                    errors.push(RowError {
                        file: name.to_owned(),
                        line: rows.len() as u64 + 2,
                        message,
                    });
                }
                rows.push(row);
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                // csv's message names the column and expected type, not the value.
                let message = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
                    _ => e.to_string(),
                };
                errors.push(RowError {
                    file: name.to_owned(),
                    line,
                    message,
                });
            }
        }
    }
    rows
}

/// Reads every `<source>.csv` present in `dir`. Either every row is good and
/// the whole export comes back, or the list of every bad row does.
pub fn read_dir(dir: &Path) -> Result<Dataset, Vec<RowError>> {
    if !dir.is_dir() {
        return Err(vec![RowError {
            file: dir.display().to_string(),
            line: 0,
            message: "not a folder".into(),
        }]);
    }
    let mut errors = Vec::new();
    let mut ds = Dataset::default();
    macro_rules! read {
        ($field:ident, $ty:ty, $table:ident) => {
            if let Some(rows) = read_file::<$ty>(dir, &mut errors) {
                ds.$field = rows;
                ds.present.insert(<$ty as SourceRow>::SOURCE);
            }
        };
    }
    each_credit_source!(read);
    if ds.present.is_empty() && errors.is_empty() {
        errors.push(RowError {
            file: dir.display().to_string(),
            line: 0,
            message: "no <source>.csv files found (see backend/src/credit/README.md)".into(),
        });
    }
    if errors.is_empty() {
        Ok(ds)
    } else {
        Err(errors)
    }
}

/// Writes every source of `ds` as `<source>.csv` into `dir` (created).
pub fn write_dir(dir: &Path, ds: &Dataset) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    fn write<R: SourceRow>(dir: &Path, rows: &[R]) -> Result<(), String> {
        let path = dir.join(format!("{}.csv", R::SOURCE.as_str()));
        let mut w = csv::Writer::from_path(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        for r in rows {
            w.serialize(r).map_err(|e| e.to_string())?;
        }
        if rows.is_empty() {
            // Keep the header so the file says "this source, nothing in it".
            drop(w);
            write_header::<R>(&path)?;
            return Ok(());
        }
        w.flush().map_err(|e| e.to_string())
    }
    macro_rules! put {
        ($field:ident, $ty:ty, $table:ident) => {
            write::<$ty>(dir, &ds.$field)?;
        };
    }
    each_credit_source!(put);
    Ok(())
}

/// The header of an empty file, from the row type's field names.
fn write_header<R: SourceRow>(path: &Path) -> Result<(), String> {
    let names = header_of::<R>();
    std::fs::write(path, format!("{}\n", names.join(","))).map_err(|e| e.to_string())
}

fn header_of<R: SourceRow>() -> Vec<&'static str> {
    match R::SOURCE {
        crate::decision::Source::Registration => vec![
            "uscc",
            "name",
            "entity_type",
            "trade",
            "registered_on",
            "status",
            "operator_name",
            "operator_birth_date",
            "as_of",
        ],
        crate::decision::Source::Licences => {
            vec![
                "uscc",
                "licence_no",
                "kind",
                "issued_on",
                "expires_on",
                "as_of",
            ]
        }
        crate::decision::Source::Penalties => vec![
            "uscc",
            "decision_no",
            "decided_on",
            "severity",
            "amount_cents",
            "repaired_on",
            "as_of",
        ],
        crate::decision::Source::Dishonesty | crate::decision::Source::Enforcement => {
            vec!["uscc", "case_no", "listed_on", "removed_on", "as_of"]
        }
        crate::decision::Source::Tax => vec!["uscc", "year", "grade", "as_of"],
        crate::decision::Source::SocialInsurance => vec!["uscc", "months_paid_24", "as_of"],
        crate::decision::Source::Utilities => vec![
            "uscc",
            "utility",
            "months_on_time_12",
            "months_late_12",
            "arrears_cents",
            "as_of",
        ],
        crate::decision::Source::Rent => vec![
            "uscc",
            "market",
            "stall_no",
            "month",
            "due_cents",
            "paid_cents",
            "paid_on",
            "as_of",
        ],
        crate::decision::Source::HouseholdRating => vec!["uscc", "level", "rated_on", "as_of"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credit::generate;

    #[test]
    fn a_bad_row_stops_the_whole_import_and_is_reported() {
        let dir = std::env::temp_dir().join(format!("mc-bad-{}", std::process::id()));
        let ds = generate::generate(20, 5, "2026-11-20".parse().unwrap());
        write_dir(&dir, &ds).unwrap();
        let path = dir.join("tax.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[3] = lines[3]
            .replacen(",A,", ",Z,", 1)
            .replacen(",B,", ",Z,", 1)
            .replacen(",M,", ",Z,", 1)
            .replacen(",C,", ",Z,", 1)
            .replacen(",D,", ",Z,", 1);
        lines[5] = format!("92320282MA0000000X{}", &lines[5][18..]);
        lines[6] = lines[6].replacen(",20", ",twenty", 1);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let errors = read_dir(&dir).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let at: Vec<(String, u64)> = errors.iter().map(|e| (e.file.clone(), e.line)).collect();
        assert_eq!(
            at,
            [
                ("tax.csv".to_owned(), 4),
                ("tax.csv".to_owned(), 6),
                ("tax.csv".to_owned(), 7)
            ],
            "{errors:?}"
        );
        assert!(errors[0].message.contains("grade"), "{}", errors[0].message);
        assert!(errors[1].message.contains("uscc"), "{}", errors[1].message);
    }
}
