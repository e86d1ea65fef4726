//! Reading and writing an export folder: one `<source>.csv` per source
//! (UTF-8, header row; columns in `README.md` beside this file).

use std::path::Path;

use serde::Serialize;

use super::rows::{Dataset, RegistrationRow, SourceRow, date, each_credit_source};
use crate::decision::{Facts, Source};

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
    if ds.present.contains(&Source::Registration) {
        read_operator_ids(dir, &mut ds, &mut errors);
    }
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

/// `registration.csv`'s `operator_resident_id` column, read apart from the
/// fact columns. No `Debug`: it holds an ID number.
#[derive(serde::Deserialize)]
struct OperatorIdRecord {
    uscc: String,
    #[serde(default)]
    operator_birth_date: Option<String>,
    #[serde(default)]
    operator_resident_id: Option<String>,
    as_of: String,
}

/// Reads the operators' ID numbers of `registration.csv` into `ds`: each a
/// valid GB 11643 number whose birth date is the row's
/// `operator_birth_date`. An error names the line and column, never the
/// number.
fn read_operator_ids(dir: &Path, ds: &mut Dataset, errors: &mut Vec<RowError>) {
    let name = format!("{}.csv", Source::Registration.as_str());
    let Ok(mut reader) = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(dir.join(&name))
    else {
        return; // reported by the fact read
    };
    for (i, record) in reader.deserialize::<OperatorIdRecord>().enumerate() {
        let line = i as u64 + 2;
        let Ok(r) = record else {
            continue; // reported by the fact read
        };
        let Some(id) = r.operator_resident_id.as_deref().filter(|s| !s.is_empty()) else {
            continue;
        };
        let bound = shared::ids::CivilDate::parse_iso(&r.as_of)
            .or_else(|| shared::ids::CivilDate::new(2100, 1, 1));
        let parsed = bound.map(|b| shared::ids::ResidentId::parse(id, b));
        let problem = match parsed {
            Some(Ok(rid)) => {
                let birth = rid.birth_date().to_string();
                match r.operator_birth_date.as_deref().filter(|s| !s.is_empty()) {
                    Some(b) if b != birth => Some(
                        "operator_resident_id: its birth date is not operator_birth_date"
                            .to_owned(),
                    ),
                    _ => {
                        ds.operator_ids
                            .0
                            .insert(r.uscc.clone(), rid.expose().to_owned());
                        None
                    }
                }
            }
            Some(Err(e)) => Some(format!("operator_resident_id: {}", e.message_en)),
            None => None,
        };
        if let Some(message) = problem {
            errors.push(RowError {
                file: name.clone(),
                line,
                message,
            });
        }
    }
}

/// `registration.csv` as written: the fact columns and the operator's ID
/// number.
#[derive(Serialize)]
struct RegistrationExport<'a> {
    uscc: &'a str,
    name: &'a str,
    entity_type: &'a str,
    trade: &'a str,
    registered_on: &'a str,
    status: &'a str,
    operator_name: &'a str,
    operator_birth_date: Option<&'a str>,
    operator_resident_id: Option<&'a str>,
    as_of: &'a str,
}

impl<'a> RegistrationExport<'a> {
    fn of(r: &'a RegistrationRow, ds: &'a Dataset) -> Self {
        Self {
            uscc: &r.uscc,
            name: &r.name,
            entity_type: &r.entity_type,
            trade: &r.trade,
            registered_on: &r.registered_on,
            status: &r.status,
            operator_name: &r.operator_name,
            operator_birth_date: r.operator_birth_date.as_deref(),
            operator_resident_id: ds.operator_ids.0.get(&r.uscc).map(String::as_str),
            as_of: &r.as_of,
        }
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
    // Again, with the operators' ID numbers.
    if !ds.registration.is_empty() {
        let path = dir.join(format!("{}.csv", Source::Registration.as_str()));
        let mut w = csv::Writer::from_path(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        for r in &ds.registration {
            w.serialize(RegistrationExport::of(r, ds))
                .map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The header of an empty file, from the row type's field names.
fn write_header<R: SourceRow>(path: &Path) -> Result<(), String> {
    let names = header_of::<R>();
    std::fs::write(path, format!("{}\n", names.join(","))).map_err(|e| e.to_string())
}

fn header_of<R: SourceRow>() -> Vec<&'static str> {
    match R::SOURCE {
        Source::Registration => vec![
            "uscc",
            "name",
            "entity_type",
            "trade",
            "registered_on",
            "status",
            "operator_name",
            "operator_birth_date",
            "operator_resident_id",
            "as_of",
        ],
        Source::Licences => {
            vec![
                "uscc",
                "licence_no",
                "kind",
                "issued_on",
                "expires_on",
                "as_of",
            ]
        }
        Source::Penalties => vec![
            "uscc",
            "decision_no",
            "decided_on",
            "severity",
            "amount_cents",
            "repaired_on",
            "as_of",
        ],
        Source::Dishonesty | Source::Enforcement => {
            vec!["uscc", "case_no", "listed_on", "removed_on", "as_of"]
        }
        Source::Tax => vec!["uscc", "year", "grade", "as_of"],
        Source::SocialInsurance => vec!["uscc", "months_paid_24", "as_of"],
        Source::Utilities => vec![
            "uscc",
            "utility",
            "months_on_time_12",
            "months_late_12",
            "arrears_cents",
            "as_of",
        ],
        Source::Rent => vec![
            "uscc",
            "market",
            "stall_no",
            "month",
            "due_cents",
            "paid_cents",
            "paid_on",
            "as_of",
        ],
        Source::HouseholdRating => vec!["uscc", "level", "rated_on", "as_of"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credit::generate;

    #[test]
    fn a_bad_operator_id_is_reported_without_the_number() {
        let dir = std::env::temp_dir().join(format!("mc-bad-id-{}", std::process::id()));
        let ds = generate::generate(5, 6, "2026-11-20".parse().unwrap());
        write_dir(&dir, &ds).unwrap();
        let path = dir.join("registration.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let first = ds.operator_ids.0[&ds.registration[0].uscc].clone();
        let second = ds.operator_ids.0[&ds.registration[1].uscc].clone();
        assert!(text.contains(&first), "the column is written");
        // A wrong check character; another person's birth date.
        let wrong = format!(
            "{}{}",
            &first[..17],
            if first.ends_with('1') { '2' } else { '1' }
        );
        let other_birth = crate::credit::generate::resident_id("1950-01-01".parse().unwrap(), 1);
        let text = text
            .replacen(&first, &wrong, 1)
            .replacen(&second, &other_birth, 1);
        std::fs::write(&path, text).unwrap();
        let errors = read_dir(&dir).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let at: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(at, [2, 3], "{errors:?}");
        for e in &errors {
            assert!(e.message.starts_with("operator_resident_id"), "{e}");
            assert!(
                !e.message.contains(&wrong) && !e.message.contains(&other_birth),
                "{e}"
            );
        }
    }

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
