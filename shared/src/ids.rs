//! Identifiers a merchant types in: mobile number, resident ID number (GB
//! 11643), unified social credit code (GB 32100). The browser and the server
//! run the same checks, so a field the form accepted is never refused later.
//!
//! Every error converts to a [`FieldError`] carrying both languages.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Why an identifier was refused: a stable code and the two messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError {
    pub code: &'static str,
    pub message_zh: &'static str,
    pub message_en: &'static str,
}

impl IdError {
    const fn new(code: &'static str, message_zh: &'static str, message_en: &'static str) -> Self {
        Self {
            code,
            message_zh,
            message_en,
        }
    }

    /// The same error, attached to a request field.
    pub fn field_error(&self, field: &str) -> FieldError {
        FieldError::new(field, self.code, self.message_zh, self.message_en)
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message_en)
    }
}

impl std::error::Error for IdError {}

/// A calendar date without a time zone. `shared` reads no clock, so callers
/// pass "today" in as one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl CivilDate {
    /// `None` unless the date exists (leap years included).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse_iso(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Self::new(
            digits(&s[0..4])? as u16,
            digits(&s[5..7])? as u8,
            digits(&s[8..10])? as u8,
        )
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// The value of an all-ASCII-digit string; `None` for anything else.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Drops the separators people type or paste (spaces, full-width spaces,
/// dashes) so they never cause a refusal on their own.
fn compact(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '\u{3000}' | '-' | '\t'))
        .collect()
}

// ---------------------------------------------------------------------------
// Mobile number

/// A mainland China mobile number, normalised to its 11 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MobileNumber(String);

const MOBILE_INVALID: IdError = IdError::new(
    "mobile_invalid",
    "请输入11位手机号码，以1开头",
    "Enter an 11-digit mainland mobile number starting with 1",
);

impl MobileNumber {
    /// Accepts `+86` / `0086` / `86 ` prefixes and spaces or dashes anywhere.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let c = compact(s.trim());
        let national = c
            .strip_prefix("+86")
            .or_else(|| c.strip_prefix("0086"))
            .unwrap_or(&c);
        // "86" alone is only a prefix when what follows is a whole number;
        // otherwise it would eat the start of numbers like 186….
        let national = match national.strip_prefix("86") {
            Some(rest) if rest.len() == 11 => rest,
            _ => national,
        };
        let b = national.as_bytes();
        if b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit)
        {
            Ok(Self(national.to_owned()))
        } else {
            Err(MOBILE_INVALID)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `139****1234`: enough for a person to recognise their own number.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Display for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for MobileNumber {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<MobileNumber> for String {
    fn from(m: MobileNumber) -> String {
        m.0
    }
}

// ---------------------------------------------------------------------------
// Resident ID number (GB 11643-1999)

/// An 18-character resident ID number with a valid check digit and a real,
/// past birth date. Deliberately not `Display`/`Serialize`: the full number
/// must be asked for by name ([`ResidentId::expose`]) so it is not logged or
/// sent by accident.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

const RID_FORMAT: IdError = IdError::new(
    "resident_id_format",
    "身份证号应为18位：17位数字加1位数字或X",
    "A resident ID number has 18 characters: 17 digits, then a digit or X",
);
const RID_CHECK: IdError = IdError::new(
    "resident_id_check",
    "身份证号校验位不符，请核对是否输错",
    "The resident ID number's check digit does not match; please check for a typo",
);
const RID_BIRTH: IdError = IdError::new(
    "resident_id_birth_date",
    "身份证号中的出生日期无效",
    "The birth date inside the resident ID number is not a valid date",
);
const RID_FUTURE: IdError = IdError::new(
    "resident_id_future_birth",
    "身份证号中的出生日期晚于今天",
    "The birth date inside the resident ID number is in the future",
);

const RID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// The GB 11643 check character for the first 17 digits.
pub fn resident_id_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .zip(RID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(RID_CHECK_CHARS[(sum % 11) as usize] as char)
}

impl ResidentId {
    /// `today` bounds the birth date; a lowercase `x` is taken as `X`.
    pub fn parse(s: &str, today: CivilDate) -> Result<Self, IdError> {
        let c = compact(s.trim()).to_ascii_uppercase();
        let b = c.as_bytes();
        if b.len() != 18
            || !b[..17].iter().all(u8::is_ascii_digit)
            || !(b[17].is_ascii_digit() || b[17] == b'X')
        {
            return Err(RID_FORMAT);
        }
        if resident_id_check_char(&c[..17]) != Some(b[17] as char) {
            return Err(RID_CHECK);
        }
        let birth = birth_date_of(&c).ok_or(RID_BIRTH)?;
        if birth.year < 1900 {
            return Err(RID_BIRTH);
        }
        if birth > today {
            return Err(RID_FUTURE);
        }
        Ok(Self(c))
    }

    pub fn birth_date(&self) -> CivilDate {
        birth_date_of(&self.0).expect("checked by parse")
    }

    /// `1101**********002X`: region prefix and the last four only.
    pub fn masked(&self) -> String {
        mask_resident_id(&self.0)
    }

    /// The full number, for encryption at rest and for the credit
    /// connectors. Never for logs or responses.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Masks an ID number that is already known to be 18 characters; shorter
/// input is masked entirely rather than shown.
pub fn mask_resident_id(s: &str) -> String {
    if s.len() == 18 && s.is_ascii() {
        format!("{}{}{}", &s[..4], "*".repeat(10), &s[14..])
    } else {
        "*".repeat(s.chars().count())
    }
}

fn birth_date_of(s: &str) -> Option<CivilDate> {
    CivilDate::new(
        digits(&s[6..10])? as u16,
        digits(&s[10..12])? as u8,
        digits(&s[12..14])? as u8,
    )
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

// ---------------------------------------------------------------------------
// Unified social credit code (GB 32100-2015)

/// An 18-character unified social credit code with a valid check character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

/// The 31 characters a USCC may use: digits and capitals without I, O, S,
/// V, Z. A character's value is its position here.
const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

const USCC_FORMAT: IdError = IdError::new(
    "uscc_format",
    "统一社会信用代码应为18位数字或大写字母（不含I、O、S、V、Z）",
    "A unified social credit code has 18 digits or capital letters (no I, O, S, V or Z)",
);
const USCC_REGION: IdError = IdError::new(
    "uscc_region",
    "统一社会信用代码第3至8位应为行政区划代码（数字）",
    "Characters 3 to 8 of a unified social credit code are a region code (digits)",
);
const USCC_CHECK: IdError = IdError::new(
    "uscc_check",
    "统一社会信用代码校验位不符，请核对营业执照",
    "The unified social credit code's check character does not match; please check the licence",
);

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARS.iter().position(|&x| x == c).map(|p| p as u32)
}

/// The GB 32100 check character for the first 17 characters, or `None` when
/// they are not 17 characters of the USCC alphabet.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (&c, w) in b.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARS[check as usize] as char)
}

impl Uscc {
    /// A lowercase code is taken as uppercase.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let c = compact(s.trim()).to_ascii_uppercase();
        let b = c.as_bytes();
        if b.len() != 18 || !b.iter().all(|&x| uscc_value(x).is_some()) {
            return Err(USCC_FORMAT);
        }
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(USCC_REGION);
        }
        if uscc_check_char(&c[..17]) != Some(b[17] as char) {
            return Err(USCC_CHECK);
        }
        Ok(Self(c))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Registration authority 9 (market regulation), entity type 2: an
    /// individual business (个体工商户).
    pub fn is_individual_business(&self) -> bool {
        self.0.starts_with("92")
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Uscc {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<Uscc> for String {
    fn from(u: Uscc) -> String {
        u.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: u16, m: u8, d: u8) -> CivilDate {
        CivilDate::new(y, m, d).unwrap()
    }

    const TODAY: CivilDate = CivilDate {
        year: 2026,
        month: 11,
        day: 26,
    };

    #[test]
    fn mobile_formats() {
        for ok in [
            "13912345678",
            "+86 139 1234 5678",
            "0086-139-1234-5678",
            "8613912345678",
            " 139-1234-5678 ",
            "19912345678",
        ] {
            let m = MobileNumber::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(m.as_str().len(), 11, "{ok}");
            assert!(m.as_str().ends_with("5678"), "{ok}");
        }
        // 186… must not lose its leading 86.
        assert_eq!(
            MobileNumber::parse("18612345678").unwrap().as_str(),
            "18612345678"
        );
        for bad in [
            "",
            "1391234567",
            "139123456789",
            "12912345678",
            "23912345678",
            "1391234567a",
            "+1 139 1234 5678",
            "＋8613912345678",
        ] {
            assert_eq!(MobileNumber::parse(bad), Err(MOBILE_INVALID), "{bad:?}");
        }
        assert_eq!(
            MobileNumber::parse("13912345678").unwrap().masked(),
            "139****5678"
        );
    }

    #[test]
    fn mobile_deserialises_through_parse() {
        let m: MobileNumber = serde_json::from_str("\"+86 13912345678\"").unwrap();
        assert_eq!(m.as_str(), "13912345678");
        assert!(serde_json::from_str::<MobileNumber>("\"123\"").is_err());
    }

    #[test]
    fn resident_id_examples_from_the_standard() {
        // The worked example printed in GB 11643-1999, and a widely quoted one.
        let a = ResidentId::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(a.birth_date(), day(1949, 12, 31));
        assert_eq!(a.masked(), "1101**********002X");
        // Its check digit is right (else the error would be the check's),
        // but nobody alive was born in 1880.
        assert_eq!(
            ResidentId::parse("440524188001010014", TODAY),
            Err(RID_BIRTH)
        );
    }

    #[test]
    fn resident_id_lowercase_x_and_separators() {
        let a = ResidentId::parse("110105 19491231 002x", TODAY).unwrap();
        assert_eq!(a.expose(), "11010519491231002X");
    }

    #[test]
    fn resident_id_check_digit_errors() {
        assert_eq!(
            ResidentId::parse("110105194912310021", TODAY),
            Err(RID_CHECK)
        );
        // Swapping two digits is the commonest typo; the check digit catches it.
        assert_eq!(
            ResidentId::parse("11010591491231002X", TODAY)
                .unwrap_err()
                .code,
            "resident_id_check"
        );
        for bad in [
            "1101051949123100",
            "11010519491231002Y",
            "X1010519491231002X",
            "",
        ] {
            assert_eq!(ResidentId::parse(bad, TODAY), Err(RID_FORMAT), "{bad}");
        }
    }

    /// Builds a number with a chosen birth date and the right check digit, so
    /// the date rules are tested on their own.
    fn with_birth(date: &str) -> String {
        let first17 = format!("320282{date}123");
        let check = resident_id_check_char(&first17).unwrap();
        format!("{first17}{check}")
    }

    #[test]
    fn resident_id_birth_dates() {
        assert!(ResidentId::parse(&with_birth("19960229"), TODAY).is_ok());
        assert!(ResidentId::parse(&with_birth("20000229"), TODAY).is_ok());
        assert_eq!(
            ResidentId::parse(&with_birth("19970229"), TODAY),
            Err(RID_BIRTH)
        );
        assert_eq!(
            ResidentId::parse(&with_birth("19000229"), TODAY),
            Err(RID_BIRTH)
        );
        assert_eq!(
            ResidentId::parse(&with_birth("19801301"), TODAY),
            Err(RID_BIRTH)
        );
        assert_eq!(
            ResidentId::parse(&with_birth("19800431"), TODAY),
            Err(RID_BIRTH)
        );
        assert_eq!(
            ResidentId::parse(&with_birth("19800100"), TODAY),
            Err(RID_BIRTH)
        );
        assert!(ResidentId::parse(&with_birth("20261126"), TODAY).is_ok());
        assert_eq!(
            ResidentId::parse(&with_birth("20261127"), TODAY),
            Err(RID_FUTURE)
        );
        assert_eq!(
            ResidentId::parse(&with_birth("20270101"), TODAY),
            Err(RID_FUTURE)
        );
    }

    #[test]
    fn resident_id_debug_is_masked() {
        let a = ResidentId::parse("11010519491231002X", TODAY).unwrap();
        assert!(!format!("{a:?}").contains("19491231"));
    }

    #[test]
    fn uscc_published_codes() {
        // Codes printed on real licences (Huawei, Tencent's Shenzhen entity).
        for ok in [
            "914403001922038216",
            "9144030071526726XG",
            "91350100M000100Y43",
        ] {
            Uscc::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        assert_eq!(uscc_check_char("91440300192203821"), Some('6'));
        assert_eq!(uscc_check_char("9144030071526726X"), Some('G'));
    }

    #[test]
    fn uscc_lowercase_and_individual_business() {
        let u = Uscc::parse("9144030071526726xg").unwrap();
        assert_eq!(u.as_str(), "9144030071526726XG");
        assert!(!u.is_individual_business());
        let first17 = "92320282MA1XYT0AB";
        let code = format!("{first17}{}", uscc_check_char(first17).unwrap());
        assert!(Uscc::parse(&code).unwrap().is_individual_business());
    }

    #[test]
    fn uscc_errors() {
        assert_eq!(Uscc::parse("914403001922038217"), Err(USCC_CHECK));
        assert_eq!(Uscc::parse("91440300192203821"), Err(USCC_FORMAT));
        // I, O, S, V, Z are not in the alphabet.
        assert_eq!(Uscc::parse("91440300192203821O"), Err(USCC_FORMAT));
        assert_eq!(Uscc::parse("9144A300192203821G"), Err(USCC_REGION));
        assert_eq!(uscc_check_char("9144030019220382"), None);
        assert_eq!(uscc_check_char("9144030019220382I"), None);
    }

    #[test]
    fn uscc_check_char_makes_every_prefix_valid() {
        // The generator's contract: any 17 alphabet characters plus the
        // computed check character parse.
        let mut seed = 7u32;
        for _ in 0..200 {
            let mut first17 = String::from("92");
            for i in 0..15 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let c = if i < 6 {
                    b'0' + (seed >> 16) as u8 % 10
                } else {
                    USCC_CHARS[(seed >> 16) as usize % 31]
                };
                first17.push(c as char);
            }
            let code = format!("{first17}{}", uscc_check_char(&first17).unwrap());
            assert!(Uscc::parse(&code).is_ok(), "{code}");
        }
    }

    #[test]
    fn errors_become_field_errors() {
        let fe = Uscc::parse("x").unwrap_err().field_error("uscc");
        assert_eq!(fe.field, "uscc");
        assert_eq!(fe.code, "uscc_format");
        assert!(!fe.message_zh.is_empty() && !fe.message_en.is_empty());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(CivilDate::parse_iso("2024-02-29"), Some(day(2024, 2, 29)));
        assert_eq!(CivilDate::parse_iso("2023-02-29"), None);
        assert_eq!(day(2024, 2, 29).to_string(), "2024-02-29");
        assert!(day(2024, 2, 29) < day(2024, 3, 1));
    }
}
