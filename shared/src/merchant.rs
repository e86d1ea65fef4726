//! Request and response types of the merchant API, `/api/m/...`: the scanned
//! code, SMS-code login, the session, the real-name check and the profile.
//!
//! Identifier fields travel as plain strings and are parsed with
//! [`crate::ids`] on both sides, so a bad value comes back as a 422 naming the
//! field instead of a JSON-shape error. Each form is checked by one function
//! — [`validate_identity`] (name and resident ID, for the real-name check)
//! and [`validate_profile`] (the business) — in the browser before it sends
//! and on the server when it receives.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::form::FormValue;
use crate::ids::{CivilDate, ResidentId, Uscc};

/// `GET /api/m/codes/{code}`: what the merchant sees before anything else
/// ("is this your stall?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeInfo {
    pub market_name: String,
    pub market_office_phone: String,
    /// `None` for a market-wide code (individual businesses without a stall).
    pub stall_number: Option<String>,
    pub zone: Option<String>,
    pub trade: Option<String>,
    // Nothing about the stall's holder: a code is public, and the holder's
    // name or licence code would tell a stranger whose credit to ask for.
}

/// The id of the data block in a stall page the server rendered.
pub const SCAN_DATA_ID: &str = "scan-data";

/// What the server writes into a stall page it rendered (`/S/<code>`), as a
/// `<script type="application/json" id="scan-data">` block: the answer the
/// page already shows, so the app takes over the screen without asking the
/// server again (a refusal asked twice would also be audited twice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPageData {
    /// The code the page was rendered for, as it appears in the path.
    pub code: String,
    pub answer: ScanAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanAnswer {
    /// What `GET /api/m/codes/{code}` would have answered.
    Found(CodeInfo),
    /// Its refusal: the status and error body the API would have sent.
    Refused {
        status: u16,
        error: crate::error::ApiErrorBody,
    },
}

/// `POST /api/m/otp`. Accepts an `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpRequest {
    /// Any common spelling: `+86 139 1234 5678`, `0086-…`, `139…`.
    pub mobile: String,
    /// The scanned stall code (the part after `/s/`), when the merchant came
    /// from one. Checked again here, and remembered for the login.
    #[serde(default, alias = "code_ref", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Reply to [`OtpRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpSent {
    pub mobile_masked: String,
    /// How long the code stays valid.
    pub expires_in_seconds: u32,
    /// How long before another code may be asked for.
    pub resend_after_seconds: u32,
}

/// `POST /api/m/session`: log in with the SMS code. Sets the session cookie.
/// Accepts an `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRequest {
    pub mobile: String,
    /// The six digits from the SMS.
    pub otp: String,
}

/// `GET /api/m/me`, and the reply to [`SessionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeResponse {
    pub merchant_id: String,
    pub mobile_masked: String,
    /// False until the profile has been saved once.
    pub profile_complete: bool,
    /// The market and stall of the code the merchant scanned, if any.
    pub market_name: Option<String>,
    pub stall_number: Option<String>,
    /// RFC 3339; the session cookie stops working then.
    pub session_expires_at: String,
    /// The screen a returning merchant continues on.
    #[serde(default)]
    pub next_step: crate::consent::NextStep,
    /// The real-name check (实名认证) has matched this merchant's name and
    /// resident ID with the mobile number logged in with.
    #[serde(default)]
    pub identity_verified: bool,
}

/// `POST /api/m/identity`: the real-name check (实名认证). The server asks
/// whether this name and resident ID belong to the person whose mobile
/// number logged in; only a match is stored. Each field is taken as sent and
/// checked by [`validate_identity`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityInput {
    pub name: FormValue,
    pub resident_id: FormValue,
}

/// An identity that passed [`validate_identity`]. Holds the full ID number,
/// so no `Debug`.
pub struct ValidIdentity {
    pub name: String,
    pub resident_id: ResidentId,
}

/// What the browser sends once its own check passed.
impl From<&ValidIdentity> for IdentityInput {
    fn from(v: &ValidIdentity) -> Self {
        Self {
            name: v.name.as_str().into(),
            resident_id: v.resident_id.expose().into(),
        }
    }
}

/// A business the registry names the verified person as operator (or legal
/// representative) of: the merchant picks theirs instead of typing its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredBusiness {
    pub uscc: String,
    pub name: String,
    pub trade: String,
    /// `individual` or `company`.
    pub entity_type: String,
    /// `YYYY-MM-DD`
    pub registered_on: String,
    /// `active`, `revoked` or `cancelled`.
    pub status: String,
}

/// `PUT /api/m/profile`: the business the verified person applies for.
/// Each field is taken as sent ([`FormValue`]) and checked on its own by
/// [`validate_profile`]; a 422 names every bad one. The server then checks
/// that the registry names the verified person as the business's operator.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileInput {
    pub uscc: FormValue,
    pub trade: FormValue,
    /// A whole number, or its digits as text.
    pub years_in_business: FormValue,
    /// The answer to "这是我的摊位吗?" for the stall whose code was scanned:
    /// only then does the market's rent ledger count for the business.
    /// `None`: no stall, or not asked.
    pub stall_confirmed: Option<bool>,
}

/// `GET /api/m/profile` (and `GET /api/m/merchants/{id}/profile`), and the
/// reply to [`ProfileInput`] and [`IdentityInput`]. Before the first save the
/// business fields are prefilled from the registry's entry of the verified
/// person's business (and the trade from the scanned stall), never from
/// another person's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub merchant_id: String,
    /// Verified person, verified business, profile saved: consent may be
    /// given.
    pub complete: bool,
    pub mobile_masked: String,
    pub name: Option<String>,
    /// Always masked, e.g. `1101**********002X`.
    pub resident_id_masked: Option<String>,
    /// `YYYY-MM-DD`, from the ID number.
    pub birth_date: Option<String>,
    /// The real-name check matched `name` and the resident ID with the
    /// mobile number logged in with.
    #[serde(default)]
    pub identity_verified: bool,
    pub uscc: Option<String>,
    pub trade: Option<String>,
    pub years_in_business: Option<u32>,
    pub market_name: Option<String>,
    pub stall_number: Option<String>,
    /// The businesses the registry names the verified person operator of.
    #[serde(default)]
    pub businesses: Vec<RegisteredBusiness>,
    /// The stored answer to "这是我的摊位吗?" for the scanned stall.
    #[serde(default)]
    pub stall_confirmed: Option<bool>,
}

/// Limits the forms show and the server enforces.
pub const NAME_MAX_CHARS: usize = 30;
pub const TRADE_MAX_CHARS: usize = 30;
pub const YEARS_IN_BUSINESS_MAX: u32 = 80;

/// A profile that passed [`validate_profile`].
#[derive(Debug)]
pub struct ValidProfile {
    pub uscc: Uscc,
    pub trade: String,
    pub years_in_business: u32,
    pub stall_confirmed: Option<bool>,
}

/// What the browser sends once its own check passed: the values as the
/// server will store them (spaces gone, letters upper-cased).
impl From<&ValidProfile> for ProfileInput {
    fn from(p: &ValidProfile) -> Self {
        Self {
            uscc: p.uscc.as_str().into(),
            trade: p.trade.as_str().into(),
            years_in_business: p.years_in_business.into(),
            stall_confirmed: p.stall_confirmed,
        }
    }
}

/// The one check of the real-name form: every bad field at once, each with
/// its code and both messages. `today` (in China) bounds the birth date in
/// the ID number.
pub fn validate_identity(
    input: &IdentityInput,
    today: CivilDate,
) -> Result<ValidIdentity, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = required_text(&mut errors, "name", &input.name).and_then(|n| {
        let ok_char = |c: char| c.is_alphabetic() || matches!(c, '·' | '•' | '.' | ' ');
        if n.chars().count() > NAME_MAX_CHARS || !n.chars().all(ok_char) {
            errors.push(FieldError::new(
                "name",
                "name_invalid",
                "姓名应为30个字以内的文字，不含数字或符号",
                "A name is up to 30 letters, without digits or symbols",
            ));
            None
        } else {
            Some(n)
        }
    });
    let resident_id = required_text(&mut errors, "resident_id", &input.resident_id).and_then(|s| {
        ResidentId::parse(&s, today)
            .map_err(|e| errors.push(e.field_error("resident_id")))
            .ok()
    });
    match (name, resident_id) {
        (Some(name), Some(resident_id)) if errors.is_empty() => {
            Ok(ValidIdentity { name, resident_id })
        }
        _ => Err(errors),
    }
}

/// The one check of the profile form: every bad field at once, each with its
/// code and both messages, so the merchant fixes them in one pass.
/// `birth_date` (of the verified person, when known) and `today` (in China)
/// bound the years in business.
pub fn validate_profile(
    input: &ProfileInput,
    birth_date: Option<CivilDate>,
    today: CivilDate,
) -> Result<ValidProfile, Vec<FieldError>> {
    let mut errors = Vec::new();
    let uscc = required_text(&mut errors, "uscc", &input.uscc).and_then(|s| {
        Uscc::parse(&s)
            .map_err(|e| errors.push(e.field_error("uscc")))
            .ok()
    });
    let trade = required_text(&mut errors, "trade", &input.trade).and_then(|t| {
        if t.chars().count() > TRADE_MAX_CHARS || t.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "trade",
                "trade_invalid",
                "经营行业应在30个字以内",
                "The trade is up to 30 characters",
            ));
            None
        } else {
            Some(t)
        }
    });
    let years = match input.years_in_business.as_count() {
        Some(y) if y <= u64::from(YEARS_IN_BUSINESS_MAX) => Some(y as u32),
        _ => {
            errors.push(FieldError::new(
                "years_in_business",
                "years_invalid",
                "经营年限应为0至80之间的整数",
                "Years in business must be a whole number from 0 to 80",
            ));
            None
        }
    };
    // Trading longer than one has been alive is a typo.
    if let (Some(b), Some(y)) = (birth_date, years) {
        let age = today.year.saturating_sub(b.year)
            - u16::from((today.month, today.day) < (b.month, b.day));
        if u32::from(age) < y {
            errors.push(FieldError::new(
                "years_in_business",
                "years_exceed_age",
                "经营年限超过了年龄，请核对",
                "Years in business exceed the age on the ID number; please check",
            ));
        }
    }
    match (uscc, trade, years) {
        (Some(uscc), Some(trade), Some(years_in_business)) if errors.is_empty() => {
            Ok(ValidProfile {
                uscc,
                trade,
                years_in_business,
                stall_confirmed: input.stall_confirmed,
            })
        }
        _ => Err(errors),
    }
}

/// The trimmed text of a field that must hold some; otherwise its error.
fn required_text(errors: &mut Vec<FieldError>, field: &str, value: &FormValue) -> Option<String> {
    match value {
        FormValue::Text(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        FormValue::Text(_) | FormValue::Absent => {
            errors.push(FieldError::new(
                field,
                "required",
                "此项必填",
                "This field is required",
            ));
            None
        }
        FormValue::Count(_) | FormValue::Other => {
            errors.push(FieldError::new(
                field,
                "not_text",
                "此项应为文字",
                "This field must be text",
            ));
            None
        }
    }
}

/// The bounds of the merchant's requests (see [`crate::limits`]).
mod bounds {
    use super::{IdentityInput, OtpRequest, ProfileInput, SessionRequest};
    use crate::limits::*;

    impl Bounded for OtpRequest {
        fn bounds(&self, b: &mut Bounds) {
            b.text("mobile", &self.mobile, MAX_MOBILE_LEN).opt_text(
                "code",
                self.code.as_deref(),
                MAX_CODE_LEN,
            );
        }
    }

    impl Bounded for SessionRequest {
        fn bounds(&self, b: &mut Bounds) {
            b.text("mobile", &self.mobile, MAX_MOBILE_LEN)
                .text("otp", &self.otp, MAX_TOKEN_LEN);
        }
    }

    impl Bounded for IdentityInput {
        fn bounds(&self, b: &mut Bounds) {
            b.form("name", &self.name, MAX_NAME_LEN).form(
                "resident_id",
                &self.resident_id,
                MAX_TOKEN_LEN,
            );
        }
    }

    impl Bounded for ProfileInput {
        fn bounds(&self, b: &mut Bounds) {
            b.form("uscc", &self.uscc, MAX_TOKEN_LEN)
                .form("trade", &self.trade, MAX_NAME_LEN)
                .form("years_in_business", &self.years_in_business, MAX_TOKEN_LEN);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const TODAY: CivilDate = CivilDate {
        year: 2026,
        month: 11,
        day: 26,
    };

    fn good_identity() -> Value {
        json!({ "name": "王建国", "resident_id": "11010519491231002X" })
    }

    fn good_profile() -> Value {
        json!({ "uscc": "914403001922038216", "trade": "石材", "years_in_business": 12 })
    }

    /// The bodies as the server reads them: JSON into the input type, then
    /// the check. A wrong JSON type must still be a field error, not a
    /// refusal of the whole body.
    fn check_identity(body: Value) -> Result<ValidIdentity, Vec<FieldError>> {
        let input: IdentityInput = serde_json::from_value(body).expect("any JSON object is taken");
        validate_identity(&input, TODAY)
    }

    fn check_profile(
        body: Value,
        birth: Option<CivilDate>,
    ) -> Result<ValidProfile, Vec<FieldError>> {
        let input: ProfileInput = serde_json::from_value(body).expect("any JSON object is taken");
        validate_profile(&input, birth, TODAY)
    }

    /// `(field, code)` of each error.
    fn fields(found: Vec<FieldError>) -> Vec<(String, String)> {
        found.into_iter().map(|f| (f.field, f.code)).collect()
    }

    #[test]
    fn a_good_identity_and_profile_pass() {
        let i = check_identity(good_identity()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(i.name, "王建国");
        assert_eq!(i.resident_id.masked(), "1101**********002X");
        let p = check_profile(good_profile(), Some(i.resident_id.birth_date()))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.uscc.as_str(), "914403001922038216");
        assert_eq!(p.trade, "石材");
        assert_eq!(p.years_in_business, 12);
        assert_eq!(p.stall_confirmed, None);
    }

    #[test]
    fn each_bad_field_is_named_with_its_code() {
        // 1949 was not a leap year; the check digit is right.
        let feb29 = format!(
            "11010519490229002{}",
            crate::ids::resident_id_check_char("11010519490229002").unwrap()
        );
        for (field, value, code) in [
            ("name", json!(""), "required"),
            ("name", json!("   "), "required"),
            ("name", Value::Null, "required"),
            ("name", json!(17), "not_text"),
            ("name", json!(["王"]), "not_text"),
            ("name", json!("王2"), "name_invalid"),
            ("name", json!("王".repeat(31)), "name_invalid"),
            (
                "resident_id",
                json!("110105194912310021"),
                "resident_id_check",
            ),
            ("resident_id", json!("1101051949"), "resident_id_format"),
            ("resident_id", json!(feb29), "resident_id_birth_date"),
            ("resident_id", Value::Null, "required"),
            ("resident_id", json!(110105194912310021u64), "not_text"),
        ] {
            let mut body = good_identity();
            body[field] = value.clone();
            let found = check_identity(body).err().map(fields).unwrap_or_default();
            assert_eq!(
                found,
                vec![(field.to_owned(), code.to_owned())],
                "{field} = {value}"
            );
        }
        for (field, value, code) in [
            ("uscc", json!("914403001922038217"), "uscc_check"),
            ("uscc", json!({"code": "914403001922038216"}), "not_text"),
            ("uscc", json!(""), "required"),
            ("trade", json!(""), "required"),
            ("trade", json!("石".repeat(31)), "trade_invalid"),
            ("trade", json!("石\u{7}材"), "trade_invalid"),
            ("years_in_business", json!(-1), "years_invalid"),
            ("years_in_business", json!(81), "years_invalid"),
            ("years_in_business", json!("many"), "years_invalid"),
            ("years_in_business", json!(1.5), "years_invalid"),
            ("years_in_business", json!(true), "years_invalid"),
            ("years_in_business", Value::Null, "years_invalid"),
        ] {
            let mut body = good_profile();
            body[field] = value.clone();
            let found = check_profile(body, None)
                .err()
                .map(fields)
                .unwrap_or_default();
            assert_eq!(
                found,
                vec![(field.to_owned(), code.to_owned())],
                "{field} = {value}"
            );
        }
    }

    #[test]
    fn missing_fields_are_each_required() {
        let all: Vec<_> = fields(check_identity(json!({})).err().unwrap())
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(all, ["name", "resident_id"]);
        let all: Vec<_> = fields(check_profile(json!({}), None).err().unwrap())
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(all, ["uscc", "trade", "years_in_business"]);
    }

    /// The messages are what the merchant reads, in the browser and in a
    /// 422 alike; each error carries both languages.
    #[test]
    fn every_error_has_both_messages() {
        let Err(mut found) = check_identity(json!({"name": 1, "resident_id": "1"})) else {
            panic!("a bad body passed");
        };
        let Err(more) = check_profile(
            json!({"uscc": "", "trade": [], "years_in_business": -1}),
            None,
        ) else {
            panic!("a bad body passed");
        };
        found.extend(more);
        assert_eq!(found.len(), 5);
        for f in &found {
            assert!(
                !f.message_zh.is_empty() && !f.message_en.is_empty(),
                "{f:?}"
            );
        }
        assert_eq!(found[0].message_zh, "此项应为文字");
    }

    #[test]
    fn years_in_business_may_be_digits_as_text() {
        let mut body = good_profile();
        body["years_in_business"] = json!(" 12 ");
        assert_eq!(
            check_profile(body, None).ok().map(|p| p.years_in_business),
            Some(12)
        );
    }

    #[test]
    fn values_are_trimmed_and_ids_normalised() {
        let mut body = good_identity();
        body["name"] = json!("  王建国 ");
        body["resident_id"] = json!("110105 19491231 002x");
        let i = check_identity(body).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(i.name, "王建国");
        assert_eq!(i.resident_id.expose(), "11010519491231002X");
    }

    #[test]
    fn years_cannot_exceed_the_verified_persons_age() {
        // Born 2010-12-31: 15 on TODAY.
        let birth = CivilDate::new(2010, 12, 31);
        let mut body = good_profile();
        body["years_in_business"] = json!(16);
        assert_eq!(
            fields(check_profile(body.clone(), birth).err().unwrap()),
            vec![("years_in_business".into(), "years_exceed_age".into())]
        );
        // Without a known birth date there is nothing to compare with.
        assert!(check_profile(body.clone(), None).is_ok());
        body["years_in_business"] = json!(15);
        assert!(check_profile(body, birth).is_ok());
    }

    #[test]
    fn a_birth_date_after_today_is_refused() {
        // Born 2026-11-27, the day after TODAY.
        let first17 = "11010520261127002";
        let check_char = crate::ids::resident_id_check_char(first17).unwrap();
        let mut body = good_identity();
        body["resident_id"] = json!(format!("{first17}{check_char}"));
        assert_eq!(
            fields(check_identity(body).err().unwrap()),
            vec![("resident_id".into(), "resident_id_future_birth".into())]
        );
    }

    /// What the browser sends after its own check is accepted as it is.
    #[test]
    fn the_browsers_bodies_pass_again() {
        let i = check_identity(good_identity()).unwrap_or_else(|e| panic!("{e:?}"));
        let sent = serde_json::to_value(IdentityInput::from(&i)).unwrap();
        let again = check_identity(sent).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((again.name, again.resident_id), (i.name, i.resident_id));

        let mut body = good_profile();
        body["stall_confirmed"] = json!(true);
        let p = check_profile(body, None).unwrap_or_else(|e| panic!("{e:?}"));
        let sent = serde_json::to_value(ProfileInput::from(&p)).unwrap();
        assert_eq!(sent["years_in_business"], json!(12));
        assert_eq!(sent["stall_confirmed"], json!(true));
        let again = check_profile(sent, None).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(again.uscc, p.uscc);
        assert_eq!(again.stall_confirmed, Some(true));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_by_serde() {
        assert!(serde_json::from_value::<ProfileInput>(json!("王建国")).is_err());
        assert!(serde_json::from_value::<IdentityInput>(json!(12)).is_err());
    }
}
