//! The development real-name check: a roster of people and their mobile
//! numbers, `real-name-roster.csv` (UTF-8, header `name,resident_id,mobile`),
//! standing in for the carrier's records so the demo and the tests work
//! offline. `backend generate-credit-data` writes one beside the export it
//! generates (every operator with a mobile number), `backend seed-demo` adds
//! the demo stalls' holders, `backend dev-business` one new person at a time.
//!
//! The file is read on every check (checks are few), so people added while
//! the server runs count at once. It holds ID numbers: it is created
//! owner-only, and nothing here echoes a line of it.

use std::io::Write;
use std::path::{Path, PathBuf};

use shared::ids::MobileNumber;

use super::{RealNameAnswer, RealNameCheck, RealNameClaim};

pub const ROSTER_FILE: &str = "real-name-roster.csv";
const HEADER: &str = "name,resident_id,mobile\n";

/// One person and one of their mobile numbers. No `Debug`: it holds an ID
/// number.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RosterEntry {
    pub name: String,
    pub resident_id: String,
    pub mobile: String,
}

impl RosterEntry {
    fn normalised(mut self) -> Self {
        self.name = self.name.trim().to_owned();
        self.resident_id = self.resident_id.trim().to_ascii_uppercase();
        if let Ok(m) = MobileNumber::parse(&self.mobile) {
            self.mobile = m.as_str().to_owned();
        }
        self
    }
}

/// Every entry of the roster at `path`. The error names the file and the
/// line, never its content.
pub fn read(path: &Path) -> Result<Vec<RosterEntry>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), io_kind(&e)))?;
    let mut out = Vec::new();
    for (i, row) in reader.deserialize::<RosterEntry>().enumerate() {
        let entry =
            row.map_err(|_| format!("{}:{}: not name,resident_id,mobile", path.display(), i + 2))?;
        out.push(entry.normalised());
    }
    Ok(out)
}

fn io_kind(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.kind().to_string(),
        _ => "not a CSV file".to_owned(),
    }
}

/// Adds the entries not already in the roster (same ID number and mobile),
/// creating the file (owner-only) when there is none. Returns how many were
/// added. Each entry is one append, so several processes may add at once.
pub fn add(path: &Path, entries: &[RosterEntry]) -> Result<usize, String> {
    let existing = if path.exists() {
        read(path)?
    } else {
        Vec::new()
    };
    let mut lines = Vec::new();
    let mut added = 0;
    for e in entries {
        let e = e.clone().normalised();
        let known = existing
            .iter()
            .any(|x| x.resident_id == e.resident_id && x.mobile == e.mobile);
        if known {
            continue;
        }
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.serialize(&e).map_err(|e| e.to_string())?;
        lines.push(w.into_inner().map_err(|e| e.to_string())?);
        added += 1;
    }
    if lines.is_empty() {
        return Ok(0);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {}", path.display(), e.kind()))?;
    let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
    if empty {
        file.write_all(HEADER.as_bytes())
            .map_err(|e| format!("cannot write {}: {}", path.display(), e.kind()))?;
    }
    for line in lines {
        file.write_all(&line)
            .map_err(|e| format!("cannot write {}: {}", path.display(), e.kind()))?;
    }
    Ok(added)
}

/// Writes a whole roster (the generator's), replacing any file there.
pub fn write(path: &Path, entries: &[RosterEntry]) -> Result<(), String> {
    let _ = std::fs::remove_file(path);
    add(path, entries).map(|_| ())
}

/// [`RealNameCheck`] over a roster file: a match when one entry holds the
/// same name, ID number and mobile number. An unreadable roster is an
/// unavailable service, not a "no".
pub struct DevRoster {
    path: PathBuf,
}

impl DevRoster {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl RealNameCheck for DevRoster {
    fn check(&self, claim: &RealNameClaim<'_>) -> RealNameAnswer {
        let entries = match read(&self.path) {
            Ok(e) => e,
            Err(why) => {
                tracing::warn!(%why, "the development real-name roster cannot be read");
                return RealNameAnswer::Unavailable;
            }
        };
        let name = claim.name.trim();
        let found = entries.iter().any(|e| {
            e.resident_id == claim.resident_id && e.name == name && e.mobile == claim.mobile
        });
        if found {
            RealNameAnswer::Match
        } else {
            RealNameAnswer::NoMatch
        }
    }

    fn name(&self) -> &'static str {
        "dev-roster"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, id: &str, mobile: &str) -> RosterEntry {
        RosterEntry {
            name: name.into(),
            resident_id: id.into(),
            mobile: mobile.into(),
        }
    }

    #[test]
    fn only_all_three_elements_together_match() {
        let dir = std::env::temp_dir().join(crate::db::new_id("mc-roster"));
        let path = dir.join(ROSTER_FILE);
        let check = DevRoster::new(path.clone());
        let claim = |name, id, mobile| RealNameClaim {
            name,
            resident_id: id,
            mobile,
        };
        // No roster yet: the service is unavailable, not a "no".
        assert_eq!(
            check.check(&claim("王建国", "11010519491231002X", "13912345678")),
            RealNameAnswer::Unavailable
        );
        let added = add(
            &path,
            &[
                entry("王建国", "11010519491231002x", "+86 139 1234 5678"),
                entry("李芳", "320282198005010038", "13800000001"),
            ],
        )
        .unwrap();
        assert_eq!(added, 2);
        // Adding again adds nothing.
        assert_eq!(
            add(
                &path,
                &[entry("王建国", "11010519491231002X", "13912345678")]
            )
            .unwrap(),
            0
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            check.check(&claim("王建国", "11010519491231002X", "13912345678")),
            RealNameAnswer::Match
        );
        // The right person on someone else's phone, a wrong name, another
        // person's number: no.
        for (name, id, mobile) in [
            ("王建国", "11010519491231002X", "13800000001"),
            ("王建", "11010519491231002X", "13912345678"),
            ("李芳", "11010519491231002X", "13800000001"),
            ("王建国", "320282198005010038", "13912345678"),
        ] {
            assert_eq!(
                check.check(&claim(name, id, mobile)),
                RealNameAnswer::NoMatch,
                "{name} {mobile}"
            );
        }
        std::fs::write(&path, "this is not, a roster\n\"unclosed").unwrap();
        assert_eq!(
            check.check(&claim("王建国", "11010519491231002X", "13912345678")),
            RealNameAnswer::Unavailable
        );
        let Err(e) = read(&path) else {
            panic!("a broken roster was read");
        };
        assert!(!e.contains("unclosed"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
