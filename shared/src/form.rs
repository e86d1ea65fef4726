//! One field of a request body as any client may send it.
//!
//! The browser sends what the merchant typed, as text. An API client may send
//! anything: a number where text belongs, `null`, a list. Deserializing such a
//! body straight into `String`s and `u32`s would refuse the whole body with one
//! "wrong JSON shape" error; taking each field as a [`FormValue`] lets the
//! validator name every bad field with its own message instead, as it does for
//! a badly typed ID number.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A field's value before validation. Missing fields are `Absent` (use
/// `#[serde(default)]` on the field).
#[derive(Clone, PartialEq, Eq, Default)]
pub enum FormValue {
    /// Missing, or `null`.
    #[default]
    Absent,
    /// A JSON string, as typed.
    Text(String),
    /// A JSON whole number that is not negative.
    Count(u64),
    /// Anything else: a negative or fractional number, `true`/`false`, a list,
    /// an object. Only deserializing makes one; it serializes as `null`, since
    /// there is nothing left of the value to send.
    Other,
}

impl FormValue {
    /// The text, if the value is a string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FormValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A whole number from 0, sent as a number or as its digits in a string
    /// (a form's input is text).
    pub fn as_count(&self) -> Option<u64> {
        match self {
            FormValue::Count(n) => Some(*n),
            FormValue::Text(s) => s.trim().parse().ok(),
            FormValue::Absent | FormValue::Other => None,
        }
    }
}

impl From<&str> for FormValue {
    fn from(s: &str) -> Self {
        FormValue::Text(s.to_owned())
    }
}

impl From<String> for FormValue {
    fn from(s: String) -> Self {
        FormValue::Text(s)
    }
}

impl From<u32> for FormValue {
    fn from(n: u32) -> Self {
        FormValue::Count(u64::from(n))
    }
}

/// Says what kind of value it is, never the value: a field may hold an ID
/// number.
impl fmt::Debug for FormValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormValue::Absent => f.write_str("Absent"),
            FormValue::Text(s) => write!(f, "Text({} chars)", s.chars().count()),
            FormValue::Count(n) => write!(f, "Count({n})"),
            FormValue::Other => f.write_str("Other"),
        }
    }
}

impl Serialize for FormValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FormValue::Text(s) => serializer.serialize_str(s),
            FormValue::Count(n) => serializer.serialize_u64(*n),
            FormValue::Absent | FormValue::Other => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for FormValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyValue)
    }
}

/// Accepts every JSON value; lists and objects are read to their end and
/// dropped (the body's size limit bounds them).
struct AnyValue;

impl<'de> Visitor<'de> for AnyValue {
    type Value = FormValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FormValue, E> {
        Ok(FormValue::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<FormValue, E> {
        Ok(FormValue::Text(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FormValue, E> {
        Ok(FormValue::Count(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FormValue, E> {
        Ok(u64::try_from(v).map_or(FormValue::Other, FormValue::Count))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<FormValue, E> {
        Ok(FormValue::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<FormValue, E> {
        Ok(FormValue::Other)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<FormValue, E> {
        Ok(FormValue::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<FormValue, E> {
        Ok(FormValue::Absent)
    }

    fn visit_unit<E: de::Error>(self) -> Result<FormValue, E> {
        Ok(FormValue::Absent)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<FormValue, D::Error> {
        FormValue::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FormValue, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(FormValue::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FormValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(FormValue::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> FormValue {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_json_value_is_taken() {
        assert_eq!(read(r#""王""#), FormValue::Text("王".into()));
        assert_eq!(read("12"), FormValue::Count(12));
        assert_eq!(read("null"), FormValue::Absent);
        for other in [
            "-3",
            "1.5",
            "12.0",
            "true",
            "[1, [2]]",
            r#"{"a": {"b": 1}}"#,
        ] {
            assert_eq!(read(other), FormValue::Other, "{other}");
        }
    }

    #[test]
    fn a_count_may_come_as_digits() {
        assert_eq!(read(r#"" 12 ""#).as_count(), Some(12));
        assert_eq!(read("12").as_count(), Some(12));
        for no in [r#""ten""#, r#""-1""#, "-1", "1.5", "null"] {
            assert_eq!(read(no).as_count(), None, "{no}");
        }
    }

    #[test]
    fn debug_shows_no_text() {
        let v = FormValue::from("11010519491231002X");
        assert!(!format!("{v:?}").contains("1101"));
    }

    #[test]
    fn text_and_counts_go_back_as_they_came() {
        for json in [r#""石材""#, "7", "null"] {
            assert_eq!(serde_json::to_string(&read(json)).unwrap(), json);
        }
    }
}
