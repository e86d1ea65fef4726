//! The two languages of the UI.
//!
//! Screens write each text as a zh/en pair at the place it is shown
//! (`lang.pick("获取验证码", "Get code")`) rather than through a key catalogue:
//! with two languages the pair is shorter than a key, a missing translation
//! cannot compile, and a reader sees both wordings where they are used.

use shared::error::{ApiErrorBody, FieldError};
use shared::ids::IdError;

/// Simplified Chinese first: most merchants read nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// Value of the `lang` attribute on `<html>` (screen readers and fonts use it).
    pub fn html_tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn storage_value(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn from_storage(value: &str) -> Self {
        if value == "en" { Lang::En } else { Lang::Zh }
    }

    pub fn other(self) -> Self {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    pub fn api_message(self, body: &ApiErrorBody) -> String {
        match self {
            Lang::Zh => body.message_zh.clone(),
            Lang::En => body.message_en.clone(),
        }
    }
}

/// A message kept in both languages, so switching language re-renders it
/// instead of leaving the old wording on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    zh: String,
    en: String,
}

impl Msg {
    pub fn new(zh: &str, en: &str) -> Self {
        Self {
            zh: zh.to_owned(),
            en: en.to_owned(),
        }
    }

    pub fn in_lang(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => self.zh.clone(),
            Lang::En => self.en.clone(),
        }
    }
}

/// A refusal from the shared validators, which the server would give too.
impl From<IdError> for Msg {
    fn from(e: IdError) -> Self {
        Self::new(e.message_zh, e.message_en)
    }
}

impl From<&FieldError> for Msg {
    fn from(f: &FieldError) -> Self {
        Self::new(&f.message_zh, &f.message_en)
    }
}
