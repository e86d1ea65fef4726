//! The bounds of everything a client sends: how long each string may be,
//! how many items each list may hold, how large each body may be. One home,
//! so that a form can say "at most 100 characters" before it sends, the
//! server refuses the same with a 422 before doing any work, and a new
//! route takes its bounds from here rather than inventing its own.
//!
//! A request type implements [`Bounded`] next to its definition, naming
//! each of its strings and lists with one of the limits below; the server's
//! `ApiJson` extractor runs [`Bounded::check_bounds`] on every JSON body it
//! accepts, so a route cannot take a body without bounds. Uploads (CSV) are
//! bounded by their body cap and a row limit.

use crate::error::FieldError;
use crate::form::FormValue;

/// Any id a client names (`stl_…`, `bnk_…`, a consent id): ours are 36.
pub const MAX_ID_LEN: usize = 64;
/// A scanned stall code (compact 37 characters, legacy 75).
pub const MAX_CODE_LEN: usize = 128;
/// A username.
pub const MAX_USERNAME_LEN: usize = 64;
/// A password: long passphrases, not essays to hash.
pub const MAX_PASSWORD_LEN: usize = 256;
/// A mobile number as typed (spaces, `+86`, dashes).
pub const MAX_MOBILE_LEN: usize = 32;
/// A person's, market's or stall's name, a trade, a zone, a stall number.
pub const MAX_NAME_LEN: usize = 100;
/// A line of text: an address, a phone number as typed, a money amount.
pub const MAX_LINE_LEN: usize = 200;
/// Short codes and tokens: a letter version, a SHA-256 in hex, a language,
/// a role, a status, a search term.
pub const MAX_TOKEN_LEN: usize = 100;
/// Banks a merchant may choose on one letter (there are fewer).
pub const MAX_BANK_IDS: usize = 50;
/// Stall cards on one printed batch.
pub const MAX_CARDS: usize = 400;
/// Rows of one stall-list upload (a county's largest market has about
/// 3,000 stalls).
pub const MAX_STALL_IMPORT_ROWS: usize = 10_000;
/// Rows of one rent-ledger upload: a year of the largest market.
pub const MAX_RENT_IMPORT_ROWS: usize = 120_000;

/// Body caps, by who may send them. Anonymous routes (an SMS code, a login)
/// take a few hundred bytes; a logged-in caller's JSON the default; an
/// upload the most.
pub const MAX_BODY_ANONYMOUS: usize = 16 * 1024;
pub const MAX_BODY_DEFAULT: usize = 2 * 1024 * 1024;
pub const MAX_BODY_UPLOAD: usize = 16 * 1024 * 1024;

/// What [`Bounded::bounds`] fills: one field error per string or list over
/// its limit.
#[derive(Debug, Default)]
pub struct Bounds {
    errors: Vec<FieldError>,
}

/// Whether `s` has at most `max` characters, without counting them all
/// when the bytes already tell.
fn within(s: &str, max: usize) -> bool {
    s.len() <= max || s.chars().nth(max).is_none()
}

impl Bounds {
    /// A string of at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        if !within(value, max) {
            self.errors.push(FieldError {
                field: field.to_owned(),
                code: "too_long".to_owned(),
                message_zh: format!("最多{max}个字"),
                message_en: format!("At most {max} characters"),
            });
        }
        self
    }

    /// An optional string of at most `max` characters.
    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) -> &mut Self {
        match value {
            Some(v) => self.text(field, v, max),
            None => self,
        }
    }

    /// A form value: its text at most `max` characters (a number is short).
    pub fn form(&mut self, field: &str, value: &FormValue, max: usize) -> &mut Self {
        match value {
            FormValue::Text(t) => self.text(field, t, max),
            _ => self,
        }
    }

    /// A list of at most `max_items` strings of at most `max_len`
    /// characters each. The count is checked first, so a list far too long
    /// costs no more than its length.
    pub fn list<T: AsRef<str>>(
        &mut self,
        field: &str,
        items: &[T],
        max_items: usize,
        max_len: usize,
    ) -> &mut Self {
        if items.len() > max_items {
            self.errors.push(FieldError {
                field: field.to_owned(),
                code: "too_many".to_owned(),
                message_zh: format!("最多{max_items}项"),
                message_en: format!("At most {max_items} items"),
            });
            return self;
        }
        if let Some(i) = items.iter().position(|s| !within(s.as_ref(), max_len)) {
            self.text(&format!("{field}[{i}]"), items[i].as_ref(), max_len);
        }
        self
    }

    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// A request whose every string and list has a bound.
pub trait Bounded {
    /// Names each string and list with its limit.
    fn bounds(&self, b: &mut Bounds);

    /// Every field over its limit, or nothing.
    fn check_bounds(&self) -> Result<(), Vec<FieldError>> {
        let mut b = Bounds::default();
        self.bounds(&mut b);
        b.finish()
    }
}

/// A body with nothing to bound (e.g. `{}`).
impl Bounded for () {
    fn bounds(&self, _: &mut Bounds) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Example {
        name: String,
        ids: Vec<String>,
        note: Option<String>,
        form: FormValue,
    }

    impl Bounded for Example {
        fn bounds(&self, b: &mut Bounds) {
            b.text("name", &self.name, 3)
                .list("ids", &self.ids, 2, 4)
                .opt_text("note", self.note.as_deref(), 5)
                .form("form", &self.form, 2);
        }
    }

    fn fields(e: &Example) -> Vec<(String, String)> {
        e.check_bounds()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| (f.field, f.code))
            .collect()
    }

    #[test]
    fn each_field_over_its_bound_is_named() {
        let ok = Example {
            name: "王建国".into(),
            ids: vec!["abcd".into(), "x".into()],
            note: None,
            form: FormValue::Count(123_456),
        };
        assert!(ok.check_bounds().is_ok(), "characters, not bytes");
        let bad = Example {
            name: "王建国王".into(),
            ids: vec!["a".into(), "abcde".into()],
            note: Some("123456".into()),
            form: FormValue::Text("abc".into()),
        };
        assert_eq!(
            fields(&bad),
            [
                ("name".to_owned(), "too_long".to_owned()),
                ("ids[1]".to_owned(), "too_long".to_owned()),
                ("note".to_owned(), "too_long".to_owned()),
                ("form".to_owned(), "too_long".to_owned()),
            ]
        );
        let many = Example {
            ids: vec!["a".repeat(1000); 200_000],
            ..ok
        };
        assert_eq!(fields(&many), [("ids".to_owned(), "too_many".to_owned())]);
    }
}
