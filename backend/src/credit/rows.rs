//! One row type per source: a CSV record of the export, and (with the id,
//! source and import batch added at insert) a row of that source's table.
//! Dates stay text here, as they arrive; [`SourceRow::apply`] parses and
//! checks them while adding the row to a subject's [`Facts`], so the import
//! check and the fact reader are the same code.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::db::schema::*;
use crate::decision::Source;
use crate::decision::facts::{
    Facts, HouseholdLevel, HouseholdRating, Licence, ListEntry, Penalty, Registration,
    RegistrationStatus, RentMonth, Severity, SocialInsurance, TaxGrade, TaxGradeYear, Utility,
    UtilityRecord,
};

pub trait SourceRow: Sized + Clone + Serialize + DeserializeOwned {
    const SOURCE: Source;
    fn uscc(&self) -> &str;
    fn as_of(&self) -> &str;
    /// Checks the row and adds what it says to `facts`. The error names the
    /// column at fault (it never echoes an identity number).
    fn apply(&self, facts: &mut Facts) -> Result<(), String>;
}

pub fn date(column: &str, s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{column}: {s:?} is not a date YYYY-MM-DD"))
}

fn opt_date(column: &str, s: &Option<String>) -> Result<Option<NaiveDate>, String> {
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(x) => date(column, x).map(Some),
    }
}

fn non_negative(column: &str, x: i64) -> Result<i64, String> {
    if x < 0 {
        Err(format!("{column}: must not be negative"))
    } else {
        Ok(x)
    }
}

fn small_count(column: &str, x: i32, max: i32) -> Result<u32, String> {
    if (0..=max).contains(&x) {
        Ok(x as u32)
    } else {
        Err(format!("{column}: must be between 0 and {max}"))
    }
}

fn text<'a>(column: &str, s: &'a str) -> Result<&'a str, String> {
    if s.trim().is_empty() {
        Err(format!("{column}: must not be empty"))
    } else {
        Ok(s)
    }
}

macro_rules! source_row {
    ($ty:ty, $source:expr) => {
        impl SourceRow for $ty {
            const SOURCE: Source = $source;
            fn uscc(&self) -> &str {
                &self.uscc
            }
            fn as_of(&self) -> &str {
                &self.as_of
            }
            fn apply(&self, facts: &mut Facts) -> Result<(), String> {
                self.apply_row(facts)
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_registration)]
pub struct RegistrationRow {
    pub uscc: String,
    pub name: String,
    /// `individual` or `company`
    pub entity_type: String,
    pub trade: String,
    pub registered_on: String,
    /// `active` | `revoked` | `cancelled`
    pub status: String,
    pub operator_name: String,
    pub operator_birth_date: Option<String>,
    pub as_of: String,
}
source_row!(RegistrationRow, Source::Registration);

impl RegistrationRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        let status = match self.status.as_str() {
            "active" => RegistrationStatus::Active,
            "revoked" => RegistrationStatus::Revoked,
            "cancelled" => RegistrationStatus::Cancelled,
            other => {
                return Err(format!(
                    "status: {other:?} is not active, revoked or cancelled"
                ));
            }
        };
        if !matches!(self.entity_type.as_str(), "individual" | "company") {
            return Err("entity_type: must be individual or company".into());
        }
        f.registration = Some(Registration {
            name: text("name", &self.name)?.to_owned(),
            entity_type: self.entity_type.clone(),
            trade: self.trade.clone(),
            registered_on: date("registered_on", &self.registered_on)?,
            status,
        });
        if let Some(b) = opt_date("operator_birth_date", &self.operator_birth_date)? {
            f.birth_date = Some(b);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_licences)]
pub struct LicenceRow {
    pub uscc: String,
    pub licence_no: String,
    pub kind: String,
    pub issued_on: String,
    pub expires_on: Option<String>,
    pub as_of: String,
}
source_row!(LicenceRow, Source::Licences);

impl LicenceRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        f.licences.push(Licence {
            licence_no: text("licence_no", &self.licence_no)?.to_owned(),
            kind: self.kind.clone(),
            issued_on: date("issued_on", &self.issued_on)?,
            expires_on: opt_date("expires_on", &self.expires_on)?,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_penalties)]
pub struct PenaltyRow {
    pub uscc: String,
    pub decision_no: String,
    pub decided_on: String,
    /// `minor` | `serious`
    pub severity: String,
    pub amount_cents: i64,
    pub repaired_on: Option<String>,
    pub as_of: String,
}
source_row!(PenaltyRow, Source::Penalties);

impl PenaltyRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        let severity = match self.severity.as_str() {
            "minor" => Severity::Minor,
            "serious" => Severity::Serious,
            other => return Err(format!("severity: {other:?} is not minor or serious")),
        };
        f.penalties.push(Penalty {
            decision_no: text("decision_no", &self.decision_no)?.to_owned(),
            decided_on: date("decided_on", &self.decided_on)?,
            severity,
            amount_cents: non_negative("amount_cents", self.amount_cents)?,
            repaired_on: opt_date("repaired_on", &self.repaired_on)?,
        });
        Ok(())
    }
}

fn list_entry(case_no: &str, listed: &str, removed: &Option<String>) -> Result<ListEntry, String> {
    let listed_on = date("listed_on", listed)?;
    let removed_on = opt_date("removed_on", removed)?;
    if removed_on.is_some_and(|r| r < listed_on) {
        return Err("removed_on: earlier than listed_on".into());
    }
    Ok(ListEntry {
        case_no: text("case_no", case_no)?.to_owned(),
        listed_on,
        removed_on,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_dishonesty)]
pub struct DishonestyRow {
    pub uscc: String,
    pub case_no: String,
    pub listed_on: String,
    pub removed_on: Option<String>,
    pub as_of: String,
}
source_row!(DishonestyRow, Source::Dishonesty);

impl DishonestyRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        f.dishonesty.push(list_entry(
            &self.case_no,
            &self.listed_on,
            &self.removed_on,
        )?);
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_enforcement)]
pub struct EnforcementRow {
    pub uscc: String,
    pub case_no: String,
    pub listed_on: String,
    pub removed_on: Option<String>,
    pub as_of: String,
}
source_row!(EnforcementRow, Source::Enforcement);

impl EnforcementRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        f.enforcement.push(list_entry(
            &self.case_no,
            &self.listed_on,
            &self.removed_on,
        )?);
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_tax_grades)]
pub struct TaxRow {
    pub uscc: String,
    pub year: i32,
    /// A | B | M | C | D
    pub grade: String,
    pub as_of: String,
}
source_row!(TaxRow, Source::Tax);

impl TaxRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        let grade = TaxGrade::parse(&self.grade)
            .ok_or_else(|| format!("grade: {:?} is not A, B, M, C or D", self.grade))?;
        if !(1990..=2100).contains(&self.year) {
            return Err("year: out of range".into());
        }
        f.tax_grades.push(TaxGradeYear {
            year: self.year,
            grade,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_social_insurance)]
pub struct SocialInsuranceRow {
    pub uscc: String,
    pub months_paid_24: i32,
    pub as_of: String,
}
source_row!(SocialInsuranceRow, Source::SocialInsurance);

impl SocialInsuranceRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        f.social_insurance = Some(SocialInsurance {
            months_paid_24: small_count("months_paid_24", self.months_paid_24, 24)?,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_utilities)]
pub struct UtilityRow {
    pub uscc: String,
    /// water | electricity | gas
    pub utility: String,
    pub months_on_time_12: i32,
    pub months_late_12: i32,
    pub arrears_cents: i64,
    pub as_of: String,
}
source_row!(UtilityRow, Source::Utilities);

impl UtilityRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        let utility = match self.utility.as_str() {
            "water" => Utility::Water,
            "electricity" => Utility::Electricity,
            "gas" => Utility::Gas,
            other => {
                return Err(format!(
                    "utility: {other:?} is not water, electricity or gas"
                ));
            }
        };
        let on_time = small_count("months_on_time_12", self.months_on_time_12, 12)?;
        let late = small_count("months_late_12", self.months_late_12, 12)?;
        if on_time + late > 12 {
            return Err("months_on_time_12 + months_late_12: more than 12".into());
        }
        f.utilities.push(UtilityRecord {
            utility,
            months_on_time_12: on_time,
            months_late_12: late,
            arrears_cents: non_negative("arrears_cents", self.arrears_cents)?,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_rent)]
pub struct RentRow {
    pub uscc: String,
    pub market: String,
    pub stall_no: String,
    /// YYYY-MM
    pub month: String,
    pub due_cents: i64,
    pub paid_cents: i64,
    pub paid_on: Option<String>,
    pub as_of: String,
}
source_row!(RentRow, Source::Rent);

impl RentRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        f.rent.push(RentMonth {
            month: self.month.parse().map_err(|e| format!("month: {e}"))?,
            due_cents: non_negative("due_cents", self.due_cents)?,
            paid_cents: non_negative("paid_cents", self.paid_cents)?,
            paid_on: opt_date("paid_on", &self.paid_on)?,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Insertable, Queryable, Selectable)]
#[diesel(table_name = credit_household_ratings)]
pub struct HouseholdRow {
    pub uscc: String,
    /// A | AA | AAA
    pub level: String,
    pub rated_on: String,
    pub as_of: String,
}
source_row!(HouseholdRow, Source::HouseholdRating);

impl HouseholdRow {
    fn apply_row(&self, f: &mut Facts) -> Result<(), String> {
        f.household_rating = Some(HouseholdRating {
            level: HouseholdLevel::parse(&self.level)
                .ok_or_else(|| format!("level: {:?} is not A, AA or AAA", self.level))?,
            rated_on: date("rated_on", &self.rated_on)?,
        });
        Ok(())
    }
}

/// Calls `$m!(field, RowType, table)` for every source; the field name is
/// the source's name, which is also the CSV file stem.
#[macro_export]
#[doc(hidden)]
macro_rules! each_credit_source {
    ($m:ident) => {
        $m!(
            registration,
            $crate::credit::rows::RegistrationRow,
            credit_registration
        );
        $m!(licences, $crate::credit::rows::LicenceRow, credit_licences);
        $m!(
            penalties,
            $crate::credit::rows::PenaltyRow,
            credit_penalties
        );
        $m!(
            dishonesty,
            $crate::credit::rows::DishonestyRow,
            credit_dishonesty
        );
        $m!(
            enforcement,
            $crate::credit::rows::EnforcementRow,
            credit_enforcement
        );
        $m!(tax, $crate::credit::rows::TaxRow, credit_tax_grades);
        $m!(
            social_insurance,
            $crate::credit::rows::SocialInsuranceRow,
            credit_social_insurance
        );
        $m!(
            utilities,
            $crate::credit::rows::UtilityRow,
            credit_utilities
        );
        $m!(rent, $crate::credit::rows::RentRow, credit_rent);
        $m!(
            household_rating,
            $crate::credit::rows::HouseholdRow,
            credit_household_ratings
        );
    };
}
pub use each_credit_source;

/// The registered operators' resident ID numbers of an export's
/// registration rows, by USCC (the `operator_resident_id` column of
/// `registration.csv`). Kept apart from [`RegistrationRow`], which is also a
/// fact row: the ID number is never a fact a decision reads, it only says who
/// may apply (`identity::registry`). `Debug` shows the count, never a number.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OperatorIds(pub std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for OperatorIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperatorIds({} numbers)", self.0.len())
    }
}

/// One export: every source's rows (a source with no file is empty and
/// marked absent in `present`).
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub registration: Vec<RegistrationRow>,
    pub licences: Vec<LicenceRow>,
    pub penalties: Vec<PenaltyRow>,
    pub dishonesty: Vec<DishonestyRow>,
    pub enforcement: Vec<EnforcementRow>,
    pub tax: Vec<TaxRow>,
    pub social_insurance: Vec<SocialInsuranceRow>,
    pub utilities: Vec<UtilityRow>,
    pub rent: Vec<RentRow>,
    pub household_rating: Vec<HouseholdRow>,
    /// Sources this export contains (a file, possibly with no rows).
    pub present: std::collections::BTreeSet<Source>,
    /// The registration rows' operator ID numbers.
    pub operator_ids: OperatorIds,
}

impl Dataset {
    pub fn row_count(&self) -> usize {
        let mut n = 0;
        macro_rules! count {
            ($field:ident, $ty:ty, $table:ident) => {
                n += self.$field.len();
            };
        }
        each_credit_source!(count);
        n
    }

    /// Every subject's facts, as the connectors would read them after this
    /// export was imported into an empty database (the back-test's input).
    pub fn facts(&self) -> Vec<Facts> {
        use std::collections::BTreeMap;
        let mut by_uscc: BTreeMap<&str, Facts> = BTreeMap::new();
        let mut export_as_of: BTreeMap<Source, NaiveDate> = BTreeMap::new();
        macro_rules! gather {
            ($field:ident, $ty:ty, $table:ident) => {
                for row in &self.$field {
                    let f = by_uscc.entry(row.uscc()).or_insert_with(|| Facts {
                        uscc: row.uscc().to_owned(),
                        ..Facts::default()
                    });
                    // Rows were checked when the export was read.
                    let _ = row.apply(f);
                    if let Ok(d) = date("as_of", row.as_of()) {
                        let e = export_as_of.entry(<$ty as SourceRow>::SOURCE).or_insert(d);
                        *e = (*e).max(d);
                        let s = f.as_of.entry(<$ty as SourceRow>::SOURCE).or_insert(d);
                        *s = (*s).max(d);
                    }
                }
            };
        }
        each_credit_source!(gather);
        by_uscc
            .into_values()
            .map(|mut f| {
                for (source, d) in &export_as_of {
                    f.as_of.entry(*source).or_insert(*d);
                }
                f.canonicalize();
                f
            })
            .collect()
    }
}
