use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::state::{SettingsAction, SettingsContext};

#[derive(Properties, PartialEq)]
pub struct LayoutProps {
    #[prop_or_default]
    pub children: Html,
    /// In the staff console, whose router does not know `/`, the brand must
    /// load the merchant app instead of routing inside the console.
    #[prop_or_default]
    pub full_page_home: bool,
}

/// Top bar with the two switches every screen needs within thumb reach:
/// language and large text.
#[component]
pub fn Layout(props: &LayoutProps) -> Html {
    let settings = use_context::<SettingsContext>().expect("settings context");
    // Effects run once the whole first screen is drawn.
    use_effect_with((), |_| crate::prerendered::take_over());
    let lang = settings.lang;
    let toggle_lang = {
        let s = settings.clone();
        Callback::from(move |_| s.dispatch(SettingsAction::ToggleLang))
    };
    let toggle_large = {
        let s = settings.clone();
        Callback::from(move |_| s.dispatch(SettingsAction::ToggleLargeText))
    };
    let brand = html! {
        <>
            <img src="/icon.svg" alt="" width="28" height="28" />
            <span>{ lang.pick("市场码", "Market Code") }</span>
        </>
    };
    html! {
        <>
            <header class="topbar">
                if props.full_page_home {
                    <a href="/" class="brand">{ brand }</a>
                } else {
                    <Link<Route> to={Route::Home} classes="brand">{ brand }</Link<Route>>
                }
                // The label is written in the *other* language, so someone who
                // cannot read the current one can still find the way back.
                <button type="button" id="lang-toggle" class="switch" lang={lang.other().html_tag()}
                        onclick={toggle_lang}>
                    { lang.pick("English", "中文") }
                </button>
                <button type="button" id="large-text-toggle" class="switch"
                        aria-pressed={if settings.large_text { "true" } else { "false" }}
                        onclick={toggle_large}>
                    { lang.pick("大字", "Large text") }
                </button>
            </header>
            <main id="content">{ props.children.clone() }</main>
            <footer>
                <p>{ lang.pick(
                    "宜兴市信用体系建设试点 · 所有数据查询均经您授权并留痕。",
                    "Yixing credit pilot · every data access needs your consent and is logged.",
                ) }</p>
            </footer>
        </>
    }
}

/// Sets the tab / history title: people with several tabs, and screen
/// readers announcing a new page, rely on it.
#[hook]
pub fn use_page_title(title: &'static str) {
    use_effect_with(title, |title| {
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(&format!("{title} · 市场码"));
        }
    });
}
