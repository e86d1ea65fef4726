//! The merchant's profile: name, resident ID, business licence code (USCC),
//! trade, years in business. The form is checked in the browser by the
//! function the server runs (`shared::merchant::validate_profile`), so the
//! messages next to each field are the server's own, before any request; a
//! 422 from the server lands next to the field it names the same way.

use shared::error::FieldError;
use shared::ids::CivilDate;
use shared::merchant::{NAME_MAX_CHARS, ProfileInput, TRADE_MAX_CHARS, validate_profile};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::api::merchant as api;
use crate::app::{Route, use_session_load};
use crate::components::{ButtonSpinner, ErrorAlert, Loading, Skeleton, TextField, use_page_title};
use crate::i18n::{Lang, Msg};
use crate::load::Load;
use crate::state::use_lang;

#[derive(Clone, PartialEq, Default)]
struct Form {
    name: String,
    resident_id: String,
    uscc: String,
    trade: String,
    years: String,
}

impl Form {
    fn input(&self) -> ProfileInput {
        ProfileInput {
            name: self.name.as_str().into(),
            resident_id: self.resident_id.as_str().into(),
            uscc: self.uscc.as_str().into(),
            trade: self.trade.as_str().into(),
            years_in_business: self.years.as_str().into(),
        }
    }
}

/// The fields of the form, by the request's JSON names (what a 422 names).
const FIELDS: [&str; 5] = ["name", "resident_id", "uscc", "trade", "years_in_business"];

#[component]
pub fn Profile() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("经营信息", "Business details"));
    let navigator = use_navigator();
    let form = use_state(Form::default);
    let errors = use_state(Vec::<FieldError>::new);
    let submit_error = use_state(|| None::<ApiError>);
    let saving = use_state(|| false);
    let load = {
        let form = form.clone();
        use_session_load((), move |()| async move {
            let found = api::profile().await;
            if let Ok(p) = &found {
                form.set(Form {
                    name: p.name.clone().unwrap_or_default(),
                    // Never sent back in full; the merchant types it again.
                    resident_id: String::new(),
                    uscc: p.uscc.clone().unwrap_or_default(),
                    trade: p.trade.clone().unwrap_or_default(),
                    years: p
                        .years_in_business
                        .map(|y| y.to_string())
                        .unwrap_or_default(),
                });
            }
            found
        })
    };

    let profile = match &*load {
        Load::Loading => {
            return html! {
                <section id="profile-page">
                    <h1>{ lang.pick("填写经营信息", "Your business details") }</h1>
                    <Loading id="profile-loading" label={lang.pick("正在读取…", "Loading…")} />
                    <Skeleton lines={5} />
                </section>
            };
        }
        Load::Failed(e) => {
            return html! {
                <section id="profile-page">
                    <h1>{ lang.pick("填写经营信息", "Your business details") }</h1>
                    <ErrorAlert id="profile-error" error={e.clone()} on_retry={load.retry()} />
                </section>
            };
        }
        Load::Loaded(p) => p.clone(),
    };

    // One input handler per field: update the value, clear that field's error.
    let setter = |apply: fn(&mut Form, String), field: &'static str| {
        let (form, errors) = (form.clone(), errors.clone());
        Callback::from(move |v: String| {
            let mut next = (*form).clone();
            apply(&mut next, v);
            form.set(next);
            if errors.iter().any(|f| f.field == field) {
                errors.set(
                    errors
                        .iter()
                        .filter(|f| f.field != field)
                        .cloned()
                        .collect(),
                );
            }
        })
    };
    let error_of = |field: &str| {
        errors
            .iter()
            .find(|f| f.field == field)
            .map(|f| Msg::from(f).in_lang(lang))
    };

    let onsubmit = {
        let (form, errors, submit_error, saving) = (
            form.clone(),
            errors.clone(),
            submit_error.clone(),
            saving.clone(),
        );
        let navigator = navigator.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // The server's own check, run here first: a bad field is shown
            // with the server's message and nothing is sent.
            let input = match validate_profile(&form.input(), today_in_china()) {
                Ok(valid) => ProfileInput::from(&valid),
                Err(found) => {
                    errors.set(found);
                    focus_first_error();
                    return;
                }
            };
            errors.set(Vec::new());
            submit_error.set(None);
            saving.set(true);
            let (errors, submit_error, saving) =
                (errors.clone(), submit_error.clone(), saving.clone());
            let navigator = navigator.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match api::save_profile(&input).await {
                    Ok(_) => {
                        if let Some(nav) = navigator {
                            nav.push(&Route::Authorize);
                        }
                    }
                    Err(e) if e.is_logged_out() => {
                        if let Some(nav) = navigator {
                            nav.replace(&Route::Login);
                        }
                    }
                    Err(e) => {
                        let shown = |f: &&FieldError| FIELDS.contains(&f.field.as_str());
                        let found: Vec<FieldError> =
                            e.fields().iter().filter(shown).cloned().collect();
                        // A field we do not show still needs to be seen somewhere.
                        let unshown = found.len() < e.fields().len();
                        if found.is_empty() || unshown {
                            submit_error.set(Some(e));
                        }
                        if !found.is_empty() {
                            errors.set(found);
                            focus_first_error();
                        }
                    }
                }
                saving.set(false);
            });
        })
    };

    let rid_hint = profile.resident_id_masked.as_ref().map(|m| {
        AttrValue::from(match lang {
            Lang::Zh => format!("已登记：{m}，如需保存请重新输入"),
            Lang::En => format!("On file: {m}. Type it again to save."),
        })
    });
    let where_ = match (&profile.market_name, &profile.stall_number) {
        (Some(m), Some(s)) => Some(format!("{m} · {s}")),
        (Some(m), None) => Some(m.clone()),
        _ => None,
    };

    html! {
        <section id="profile-page">
            <h1>{ lang.pick("填写经营信息", "Your business details") }</h1>
            if let Some(w) = where_ {
                <p class="muted" id="profile-stall">{ w }</p>
            }
            <form {onsubmit} novalidate=true>
                <TextField id="name" label={lang.pick("姓名", "Full name")}
                           value={form.name.clone()} oninput={setter(|f, v| f.name = v, "name")}
                           error={error_of("name")} autocomplete="name"
                           maxlength={NAME_MAX_CHARS.to_string()} />
                <TextField id="resident-id" label={lang.pick("居民身份证号", "Resident ID number")}
                           value={form.resident_id.clone()}
                           oninput={setter(|f, v| f.resident_id = v, "resident_id")}
                           error={error_of("resident_id")} hint={rid_hint}
                           autocomplete="off" maxlength="22" />
                <TextField id="uscc" label={lang.pick("统一社会信用代码（营业执照）", "Unified social credit code (business licence)")}
                           value={form.uscc.clone()} oninput={setter(|f, v| f.uscc = v, "uscc")}
                           error={error_of("uscc")}
                           hint={lang.pick("18位，个体工商户以92开头", "18 characters; individual businesses start with 92")}
                           autocomplete="off" maxlength="22" />
                <TextField id="trade" label={lang.pick("经营类别", "Trade")}
                           value={form.trade.clone()} oninput={setter(|f, v| f.trade = v, "trade")}
                           error={error_of("trade")}
                           hint={lang.pick("如：石材、建材、餐饮", "e.g. stone, building materials, food")}
                           maxlength={TRADE_MAX_CHARS.to_string()} />
                <TextField id="years" label={lang.pick("经营年限（年）", "Years in business")}
                           value={form.years.clone()}
                           oninput={setter(|f, v| f.years = v, "years_in_business")}
                           error={error_of("years_in_business")}
                           inputmode="numeric" maxlength="2" />
                if let Some(e) = &*submit_error {
                    <ErrorAlert id="profile-submit-error" error={e.clone()} />
                }
                <button type="submit" id="save-profile" class="btn block" disabled={*saving}>
                    if *saving {
                        <ButtonSpinner />{ lang.pick("保存中…", "Saving…") }
                    } else {
                        { lang.pick("保存并继续", "Save and continue") }
                    }
                </button>
            </form>
            <LogOut />
        </section>
    }
}

/// Ends the session: a shared family phone should not stay logged in.
#[component]
fn LogOut() -> Html {
    let lang = use_lang();
    let navigator = use_navigator();
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let onclick = {
        let (busy, error) = (busy.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            busy.set(true);
            let (busy, error, navigator) = (busy.clone(), error.clone(), navigator.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::log_out().await {
                    Ok(()) => {
                        if let Some(nav) = navigator {
                            nav.push(&Route::Home);
                        }
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    html! {
        <>
            if let Some(e) = &*error {
                <ErrorAlert id="logout-error" error={e.clone()} />
            }
            <button type="button" id="logout" class="btn secondary block" disabled={*busy} {onclick}>
                { lang.pick("退出登录", "Log out") }
            </button>
        </>
    }
}

/// Today in China (UTC+8), as the server reckons it: the ID number's birth
/// date must not be after it.
fn today_in_china() -> CivilDate {
    const EIGHT_HOURS_MS: f64 = 8.0 * 3600.0 * 1000.0;
    let china = js_sys::Date::new(&(js_sys::Date::now() + EIGHT_HOURS_MS).into());
    CivilDate::new(
        china.get_utc_full_year() as u16,
        china.get_utc_month() as u8 + 1,
        china.get_utc_date() as u8,
    )
    .unwrap_or(CivilDate {
        year: 2100,
        month: 1,
        day: 1,
    })
}

/// Moves focus (and the screen) to the first field in error after the next
/// render, so on a small phone the merchant sees what to fix.
fn focus_first_error() {
    gloo_timers::callback::Timeout::new(0, || {
        let el = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(".field.invalid input").ok().flatten());
        if let Some(el) =
            el.and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            let _ = el.focus();
        }
    })
    .forget();
}
