//! App-wide settings (language, large text), shared through a context and
//! kept in local storage so an older merchant who switched on large text does
//! not have to find the switch again on the next scan.

use std::rc::Rc;

use gloo_storage::{LocalStorage, SessionStorage, Storage};
use yew::prelude::*;

use crate::i18n::Lang;

const LANG_KEY: &str = "mc.lang";
const LARGE_KEY: &str = "mc.large_text";
/// The settings as a cookie, `zh`, `en`, `zh.large` or `en.large`, so the
/// server renders the stall page in them from its first byte (no inline
/// script may apply them: the Content-Security-Policy forbids it).
/// `loader.js` writes the same from local storage on every page load, and
/// `backend/src/stall_page.rs` reads it.
const PREFS_COOKIE: &str = "mc_prefs";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub lang: Lang,
    pub large_text: bool,
}

pub enum SettingsAction {
    ToggleLang,
    ToggleLargeText,
}

impl Settings {
    pub fn load() -> Self {
        let lang = LocalStorage::get::<String>(LANG_KEY)
            .map(|v| Lang::from_storage(&v))
            .unwrap_or_default();
        let large_text = LocalStorage::get::<bool>(LARGE_KEY).unwrap_or(false);
        Self { lang, large_text }
    }

    fn save(&self) {
        // Storage can be full or disabled (private mode in some webviews); the
        // setting then simply lasts for this visit.
        let _ = LocalStorage::set(LANG_KEY, self.lang.storage_value());
        let _ = LocalStorage::set(LARGE_KEY, self.large_text);
        let value = format!(
            "{PREFS_COOKIE}={}{}; Path=/; Max-Age=31536000; SameSite=Lax",
            if self.lang == Lang::En { "en" } else { "zh" },
            if self.large_text { ".large" } else { "" },
        );
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let _ = js_sys::Reflect::set(document.as_ref(), &"cookie".into(), &value.into());
        }
    }

    /// Reflects the settings on `<html>`: `lang` for screen readers and font
    /// choice, the `large` class so every rem-sized rule grows together.
    pub fn apply_to_document(&self) {
        let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        else {
            return;
        };
        let _ = root.set_attribute("lang", self.lang.html_tag());
        let class = if self.large_text { "large" } else { "" };
        let _ = root.set_attribute("class", class);
    }
}

impl Reducible for Settings {
    type Action = SettingsAction;

    fn reduce(self: Rc<Self>, action: SettingsAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            SettingsAction::ToggleLang => next.lang = next.lang.other(),
            SettingsAction::ToggleLargeText => next.large_text = !next.large_text,
        }
        next.save();
        next.apply_to_document();
        Rc::new(next)
    }
}

pub type SettingsContext = UseReducerHandle<Settings>;

/// The current language; every page needs it.
#[hook]
pub fn use_lang() -> Lang {
    use_context::<SettingsContext>()
        .map(|s| s.lang)
        .unwrap_or_default()
}

const CODE_KEY: &str = "mc.scanned_code";

/// The stall code the merchant confirmed, carried from the scan screen to
/// the login (the server ties the merchant to the stall then). Session
/// storage: it survives a reload while the SMS arrives, and no longer.
pub fn remember_scanned_code(code: &str) {
    let _ = SessionStorage::set(CODE_KEY, code);
}

pub fn scanned_code() -> Option<String> {
    SessionStorage::get::<String>(CODE_KEY).ok()
}

/// Starting without a stall ("没有摊位？直接申请"): no earlier scan rides along.
pub fn forget_scanned_code() {
    SessionStorage::delete(CODE_KEY);
}
