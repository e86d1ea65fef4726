//! The facts a decision is made from, in the shape the county's exports have:
//! one list per source, each source with the as-of date of the export it came
//! from. The canonical JSON form (sorted lists, fixed field order) is what is
//! hashed and stored with every decision, so a replay sees exactly the same
//! input.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A data source. The snake-case name doubles as the consent category, the
/// CSV file stem and the access-log `source` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Registration,
    Licences,
    Penalties,
    Dishonesty,
    Enforcement,
    Tax,
    SocialInsurance,
    Utilities,
    Rent,
    HouseholdRating,
}

impl Source {
    pub const ALL: [Source; 10] = [
        Source::Registration,
        Source::Licences,
        Source::Penalties,
        Source::Dishonesty,
        Source::Enforcement,
        Source::Tax,
        Source::SocialInsurance,
        Source::Utilities,
        Source::Rent,
        Source::HouseholdRating,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Licences => "licences",
            Self::Penalties => "penalties",
            Self::Dishonesty => "dishonesty",
            Self::Enforcement => "enforcement",
            Self::Tax => "tax",
            Self::SocialInsurance => "social_insurance",
            Self::Utilities => "utilities",
            Self::Rent => "rent",
            Self::HouseholdRating => "household_rating",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calendar month, `YYYY-MM` in text; kept as a month count so that month
/// arithmetic in the engine is integer subtraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(i32);

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        (1..=12)
            .contains(&month)
            .then(|| Self(year * 12 + month as i32 - 1))
    }

    pub fn of(date: NaiveDate) -> Self {
        Self(date.year() * 12 + date.month0() as i32)
    }

    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    pub fn month(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }

    pub fn plus(self, months: i32) -> Self {
        Self(self.0 + months)
    }

    /// Whole months from `self` to `later` (negative if `later` is earlier).
    pub fn until(self, later: Month) -> i32 {
        later.0 - self.0
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a month in the form YYYY-MM");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let y: i32 = y.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        Month::new(y, m).ok_or_else(bad)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// 存续 / 在业
    Active,
    /// 吊销
    Revoked,
    /// 注销
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Registration {
    pub name: String,
    /// `individual` (个体工商户) or `company`.
    pub entity_type: String,
    pub trade: String,
    pub registered_on: NaiveDate,
    pub status: RegistrationStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Licence {
    pub licence_no: String,
    pub kind: String,
    pub issued_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Minor,
    Serious,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Penalty {
    pub decision_no: String,
    pub decided_on: NaiveDate,
    pub severity: Severity,
    pub amount_cents: i64,
    /// Cleared or repaired (信用修复) on this date; the penalty stops counting.
    pub repaired_on: Option<NaiveDate>,
}

/// An entry on the serious-dishonesty list or the court enforcement list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListEntry {
    pub case_no: String,
    pub listed_on: NaiveDate,
    pub removed_on: Option<NaiveDate>,
}

impl ListEntry {
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.listed_on <= day && self.removed_on.is_none_or(|r| r > day)
    }
}

/// 纳税信用等级. Ordered worst first so that `>` means better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaxGrade {
    D,
    C,
    /// New or small taxpayers without a full evaluation year.
    M,
    B,
    A,
}

impl TaxGrade {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "A" => Some(Self::A),
            "B" => Some(Self::B),
            "M" => Some(Self::M),
            "C" => Some(Self::C),
            "D" => Some(Self::D),
            _ => None,
        }
    }

    /// 0 (D) to 4 (A): the scorecard's numeric scale.
    pub fn rank(self) -> i64 {
        self as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaxGradeYear {
    pub year: i32,
    pub grade: TaxGrade,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SocialInsurance {
    /// Months with contributions paid among the 24 before the as-of date.
    pub months_paid_24: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Utility {
    Water,
    Electricity,
    Gas,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UtilityRecord {
    pub utility: Utility,
    pub months_on_time_12: u32,
    pub months_late_12: u32,
    /// Owed and overdue at the as-of date.
    pub arrears_cents: i64,
}

/// One month of the market's rent ledger (first-party data from the manager).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RentMonth {
    pub month: Month,
    pub due_cents: i64,
    pub paid_cents: i64,
    pub paid_on: Option<NaiveDate>,
}

/// 信用户 rating from the credit village / household programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HouseholdLevel {
    A,
    AA,
    AAA,
}

impl HouseholdLevel {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "A" => Some(Self::A),
            "AA" => Some(Self::AA),
            "AAA" => Some(Self::AAA),
            _ => None,
        }
    }

    pub fn rank(self) -> i64 {
        self as i64 + 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HouseholdRating {
    pub level: HouseholdLevel,
    pub rated_on: NaiveDate,
}

/// Where a source's facts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The county's periodic export (credit platform, departments).
    CountyExport,
    /// A market's own rent ledger, uploaded by its office (first-party).
    MarketLedger,
}

/// One upload of a market's ledger: who (`staff:<id>`) and when.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Upload {
    pub by: String,
    pub at: String,
}

/// Which market ledger, for which stall, and what of it was left to the
/// county's export.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LedgerOrigin {
    pub market: String,
    pub stall: String,
    pub uploads: Vec<Upload>,
    /// Months of this ledger the county's export also holds: those are the
    /// county's, never the ledger's.
    pub months_left_to_county: usize,
}

/// Where one source's facts came from and as of when: what the decision
/// trace shows beside the numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FactSource {
    pub source: Source,
    pub origin: Origin,
    /// The export's (or ledger's) own as-of date; `None` when the source has
    /// never been exported.
    pub as_of: Option<NaiveDate>,
    pub rows: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerOrigin>,
}

/// Everything known about one subject. A source missing from `as_of` was not
/// read (or had no export); a source present with empty lists was read and
/// holds nothing for this subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub uscc: String,
    /// From the applicant's resident ID; the ID number itself is never kept here.
    pub birth_date: Option<NaiveDate>,
    pub as_of: BTreeMap<Source, NaiveDate>,
    pub registration: Option<Registration>,
    pub licences: Vec<Licence>,
    pub penalties: Vec<Penalty>,
    pub dishonesty: Vec<ListEntry>,
    pub enforcement: Vec<ListEntry>,
    pub tax_grades: Vec<TaxGradeYear>,
    pub social_insurance: Option<SocialInsurance>,
    pub utilities: Vec<UtilityRecord>,
    pub rent: Vec<RentMonth>,
    pub household_rating: Option<HouseholdRating>,
    /// Each source's origin and as-of date, as the connectors read them.
    /// Absent from facts stored before it existed (and from back-test
    /// populations), which is why it is skipped when empty: their canonical
    /// form, hash and replay are unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<FactSource>,
}

impl Facts {
    /// Sorts every list, so that two reads of the same data in a different
    /// row order hash the same.
    pub fn canonicalize(&mut self) {
        self.licences.sort();
        self.penalties.sort();
        self.dishonesty.sort();
        self.enforcement.sort();
        self.tax_grades.sort();
        self.utilities.sort();
        self.rent.sort();
        self.provenance.sort();
    }

    /// The canonical JSON text (call [`Facts::canonicalize`] first).
    pub fn canonical_json(&self) -> String {
        // Serialising plain data with string map keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Hex SHA-256 of a canonical JSON text.
    pub fn sha256_of(json: &str) -> String {
        hex::encode(Sha256::digest(json.as_bytes()))
    }
}
