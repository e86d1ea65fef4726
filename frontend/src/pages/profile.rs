//! Who the merchant is and which business they apply for, in two steps:
//!
//! 1. the real-name check (实名认证): name and resident ID number, which the
//!    server checks belong to the person whose mobile number logged in;
//! 2. the business: picked from those the registry names this person the
//!    operator of (or another licence code typed in, which the server then
//!    checks the same way), its trade and years, and — when a stall's code
//!    was scanned — the answer to "这是我的摊位吗?".
//!
//! Each form is checked in the browser by the function the server runs
//! (`shared::merchant::validate_identity`, `validate_profile`), so the
//! messages next to each field are the server's own, before any request; a
//! 422 lands next to the field it names the same way. A refusal of the
//! person or the business (no match, service unavailable, not the
//! registered operator) gets a screen of its own that says what to do.

use shared::error::FieldError;
use shared::ids::CivilDate;
use shared::merchant::{
    IdentityInput, NAME_MAX_CHARS, Profile as ProfileData, ProfileInput, TRADE_MAX_CHARS,
    validate_identity, validate_profile,
};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::api::merchant as api;
use crate::app::{Route, use_session_load};
use crate::components::{
    ButtonSpinner, ErrorAlert, Loading, Notice, Skeleton, TextField, use_page_title,
};
use crate::i18n::{Lang, Msg};
use crate::load::Load;
use crate::state::use_lang;

/// Refusals that end the step with a screen of their own.
const STOPS: [&str; 4] = [
    "real_name_no_match",
    "real_name_unavailable",
    "real_name_checks_exhausted",
    "operator_mismatch",
];

#[component]
pub fn Profile() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("实名认证与经营信息", "Identity and business"));
    let load = use_session_load((), |()| api::profile());
    // A refusal shown on its own screen; `None`: the forms.
    let stop = use_state(|| None::<ApiError>);
    // The merchant chose to check another identity.
    let again = use_state(|| false);

    let profile = match &*load {
        Load::Loading => {
            return html! {
                <section id="profile-page">
                    <h1>{ lang.pick("实名认证", "Verify your identity") }</h1>
                    <Loading id="profile-loading" label={lang.pick("正在读取…", "Loading…")} />
                    <Skeleton lines={5} />
                </section>
            };
        }
        Load::Failed(e) => {
            return html! {
                <section id="profile-page">
                    <h1>{ lang.pick("实名认证", "Verify your identity") }</h1>
                    <ErrorAlert id="profile-error" error={e.clone()} on_retry={load.retry()} />
                </section>
            };
        }
        Load::Loaded(p) => p.clone(),
    };

    if let Some(e) = &*stop {
        let back = {
            let stop = stop.clone();
            Callback::from(move |_: MouseEvent| stop.set(None))
        };
        return html! { <Stopped error={e.clone()} {back} /> };
    }

    let on_stop = {
        let stop = stop.clone();
        Callback::from(move |e: ApiError| stop.set(Some(e)))
    };
    let on_verified = {
        let (load, again) = (load.clone(), again.clone());
        Callback::from(move |p: ProfileData| {
            again.set(false);
            load.set(p);
        })
    };
    let where_ = match (&profile.market_name, &profile.stall_number) {
        (Some(m), Some(s)) => Some(format!("{m} · {s}")),
        (Some(m), None) => Some(m.clone()),
        _ => None,
    };
    html! {
        <section id="profile-page">
            if let Some(w) = where_ {
                <p class="muted" id="profile-stall">{ w }</p>
            }
            if profile.identity_verified && !*again {
                <Business profile={profile.clone()} on_stop={on_stop.clone()} on_again={{
                    let again = again.clone();
                    Callback::from(move |_| again.set(true))
                }} />
            } else {
                <Identity profile={profile.clone()} {on_verified} {on_stop} />
            }
            <LogOut />
        </section>
    }
}

// ---------------------------------------------------------------------------
// Step 1: the real-name check

#[derive(Properties, PartialEq)]
struct IdentityProps {
    profile: ProfileData,
    on_verified: Callback<ProfileData>,
    on_stop: Callback<ApiError>,
}

/// The fields of the identity form, by the request's JSON names.
const IDENTITY_FIELDS: [&str; 2] = ["name", "resident_id"];

#[component]
fn Identity(props: &IdentityProps) -> Html {
    let lang = use_lang();
    let name = use_state(|| props.profile.name.clone().unwrap_or_default());
    // Never sent back in full; the merchant types it again.
    let resident_id = use_state(String::new);
    let errors = use_state(Vec::<FieldError>::new);
    let submit_error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let navigator = use_navigator();

    let clearing = |handle, field| clearing_input(&errors, handle, field);
    let error_of = |field: &str| error_in(&errors, field, lang);

    let onsubmit = {
        let (name, resident_id, errors, submit_error, busy) = (
            name.clone(),
            resident_id.clone(),
            errors.clone(),
            submit_error.clone(),
            busy.clone(),
        );
        let (on_verified, on_stop) = (props.on_verified.clone(), props.on_stop.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let typed = IdentityInput {
                name: name.as_str().into(),
                resident_id: resident_id.as_str().into(),
            };
            // The server's own check first: nothing is sent with a bad field.
            let input = match validate_identity(&typed, today_in_china()) {
                Ok(valid) => IdentityInput::from(&valid),
                Err(found) => {
                    errors.set(found);
                    focus_first_error();
                    return;
                }
            };
            errors.set(Vec::new());
            submit_error.set(None);
            busy.set(true);
            let (errors, submit_error, busy) = (errors.clone(), submit_error.clone(), busy.clone());
            let (on_verified, on_stop, navigator) =
                (on_verified.clone(), on_stop.clone(), navigator.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let answer = api::verify_identity(&input).await;
                busy.set(false);
                match answer {
                    Ok(p) => on_verified.emit(p),
                    Err(e) if e.is_logged_out() => {
                        if let Some(nav) = navigator {
                            nav.replace(&Route::Login);
                        }
                    }
                    Err(e) if e.code().is_some_and(|c| STOPS.contains(&c)) => on_stop.emit(e),
                    Err(e) => show_field_errors(e, &IDENTITY_FIELDS, &errors, &submit_error),
                }
            });
        })
    };

    html! {
        <div id="identity-step">
            <h1>{ lang.pick("实名认证", "Verify your identity") }</h1>
            <p class="muted">{ lang.pick(
                "请填写本人姓名和身份证号。我们会向运营商核验它们与您登录的手机号属于同一人；只有营业执照登记的经营者本人才能查询该执照的信用信息。",
                "Enter your own name and resident ID number. We check with the mobile carrier that they and the number you logged in with belong to one person: only the registered operator of a business licence can have its credit information read.",
            ) }</p>
            <form {onsubmit} novalidate=true>
                <TextField id="name" label={lang.pick("姓名", "Full name")}
                           value={(*name).clone()} oninput={clearing(name.clone(), "name")}
                           error={error_of("name")} autocomplete="name"
                           maxlength={NAME_MAX_CHARS.to_string()} />
                <TextField id="resident-id" label={lang.pick("居民身份证号", "Resident ID number")}
                           value={(*resident_id).clone()}
                           oninput={clearing(resident_id.clone(), "resident_id")}
                           error={error_of("resident_id")}
                           hint={props.profile.resident_id_masked.as_ref().map(|m| AttrValue::from(match lang {
                               Lang::Zh => format!("已登记：{m}，如需重新核验请再次输入"),
                               Lang::En => format!("On file: {m}. Type it again to check again."),
                           }))}
                           autocomplete="off" maxlength="22" />
                if let Some(e) = &*submit_error {
                    <ErrorAlert id="identity-submit-error" error={e.clone()} />
                }
                <button type="submit" id="verify-identity" class="btn block" disabled={*busy}>
                    if *busy {
                        <ButtonSpinner />{ lang.pick("正在核验…", "Checking…") }
                    } else {
                        { lang.pick("下一步：实名认证", "Next: verify my identity") }
                    }
                </button>
            </form>
        </div>
    }
}

// ---------------------------------------------------------------------------
// Step 2: the business

#[derive(Properties, PartialEq)]
struct BusinessProps {
    profile: ProfileData,
    on_stop: Callback<ApiError>,
    on_again: Callback<()>,
}

/// The fields of the business form, by the request's JSON names.
const BUSINESS_FIELDS: [&str; 3] = ["uscc", "trade", "years_in_business"];

/// Which business: one the registry lists (its index), or another code.
#[derive(Clone, PartialEq)]
enum Choice {
    Listed(usize),
    Other,
}

#[component]
fn Business(props: &BusinessProps) -> Html {
    let lang = use_lang();
    let navigator = use_navigator();
    let p = &props.profile;
    let listed = p.businesses.clone();
    let initial = match &p.uscc {
        Some(u) => listed
            .iter()
            .position(|b| &b.uscc == u)
            .map_or(Choice::Other, Choice::Listed),
        None if !listed.is_empty() => Choice::Listed(0),
        None => Choice::Other,
    };
    let choice = use_state(|| initial);
    let other = use_state(|| {
        match (
            &p.uscc,
            listed.iter().any(|b| Some(&b.uscc) == p.uscc.as_ref()),
        ) {
            (Some(u), false) => u.clone(),
            _ => String::new(),
        }
    });
    let trade = use_state(|| p.trade.clone().unwrap_or_default());
    let years = use_state(|| {
        p.years_in_business
            .map(|y| y.to_string())
            .unwrap_or_default()
    });
    // "这是我的摊位吗?": they said yes on the stall's page to get here.
    let stall_yes = use_state(|| p.stall_confirmed.unwrap_or(true));
    let errors = use_state(Vec::<FieldError>::new);
    let submit_error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);

    let clearing = |handle, field| clearing_input(&errors, handle, field);
    let error_of = |field: &str| error_in(&errors, field, lang);
    let pick = |c: Choice| {
        let (choice, trade, years, listed) =
            (choice.clone(), trade.clone(), years.clone(), listed.clone());
        Callback::from(move |_: Event| {
            // The registry's trade and age of the business, as a start.
            if let Choice::Listed(i) = c
                && let Some(b) = listed.get(i)
            {
                trade.set(b.trade.clone());
                if let Some(y) = whole_years_since(&b.registered_on) {
                    years.set(y.to_string());
                }
            }
            choice.set(c.clone());
        })
    };

    let onsubmit = {
        let (choice, other, trade, years, stall_yes) = (
            choice.clone(),
            other.clone(),
            trade.clone(),
            years.clone(),
            stall_yes.clone(),
        );
        let (errors, submit_error, busy) = (errors.clone(), submit_error.clone(), busy.clone());
        let (listed, on_stop, navigator) =
            (listed.clone(), props.on_stop.clone(), navigator.clone());
        let birth = p.birth_date.as_deref().and_then(CivilDate::parse_iso);
        let asks_stall = p.stall_number.is_some();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let uscc = match &*choice {
                Choice::Listed(i) => listed.get(*i).map(|b| b.uscc.clone()).unwrap_or_default(),
                Choice::Other => (*other).clone(),
            };
            let typed = ProfileInput {
                uscc: uscc.as_str().into(),
                trade: trade.as_str().into(),
                years_in_business: years.as_str().into(),
                stall_confirmed: asks_stall.then_some(*stall_yes),
            };
            let input = match validate_profile(&typed, birth, today_in_china()) {
                Ok(valid) => ProfileInput::from(&valid),
                Err(found) => {
                    errors.set(found);
                    focus_first_error();
                    return;
                }
            };
            errors.set(Vec::new());
            submit_error.set(None);
            busy.set(true);
            let (errors, submit_error, busy) = (errors.clone(), submit_error.clone(), busy.clone());
            let (on_stop, navigator) = (on_stop.clone(), navigator.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let answer = api::save_profile(&input).await;
                busy.set(false);
                match answer {
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
                    Err(e) if e.code().is_some_and(|c| STOPS.contains(&c)) => on_stop.emit(e),
                    Err(e) => show_field_errors(e, &BUSINESS_FIELDS, &errors, &submit_error),
                }
            });
        })
    };

    let who = format!(
        "{} {}",
        p.name.clone().unwrap_or_default(),
        p.resident_id_masked.clone().unwrap_or_default()
    );
    let again = {
        let cb = props.on_again.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    html! {
        <div id="business-step">
            <h1>{ lang.pick("经营信息", "Your business") }</h1>
            <Notice id="identity-verified">
                <p>
                    <strong>{ lang.pick("✓ 实名认证通过", "✓ Identity verified") }</strong>
                    { "：" }<span id="verified-person">{ who }</span>
                </p>
                <button type="button" id="verify-again" class="btn secondary" onclick={again}>
                    { lang.pick("不是我，重新认证", "Not me: verify again") }
                </button>
            </Notice>
            <form {onsubmit} novalidate=true>
                <fieldset class="card" id="businesses">
                    <legend><strong>{ lang.pick("申请的营业执照", "The business licence you apply for") }</strong></legend>
                    if listed.is_empty() {
                        <p class="muted" id="no-businesses">{ lang.pick(
                            "登记信息中没有以您为经营者的营业执照。如有，请输入其统一社会信用代码：",
                            "The registry lists no business with you as its operator. If you have one, enter its code:",
                        ) }</p>
                    } else {
                        <p class="muted">{ lang.pick(
                            "以下是登记信息中以您为经营者的营业执照：",
                            "The registry lists you as the operator of:",
                        ) }</p>
                    }
                    { for listed.iter().enumerate().map(|(i, b)| html! {
                        <label class="choice" for={format!("business-{i}")}>
                            <input type="radio" name="business" id={format!("business-{i}")}
                                   data-uscc={b.uscc.clone()}
                                   checked={*choice == Choice::Listed(i)}
                                   onchange={pick(Choice::Listed(i))} />
                            <span>
                                <strong>{ b.name.clone() }</strong>
                                <span class="muted block">{ b.uscc.clone() }</span>
                            </span>
                        </label>
                    }) }
                    if !listed.is_empty() {
                        <label class="choice" for="business-other">
                            <input type="radio" name="business" id="business-other"
                                   checked={*choice == Choice::Other} onchange={pick(Choice::Other)} />
                            <span>{ lang.pick("其他营业执照", "Another licence") }</span>
                        </label>
                    }
                    if *choice == Choice::Other || listed.is_empty() {
                        <TextField id="uscc" label={lang.pick("统一社会信用代码（营业执照）", "Unified social credit code (business licence)")}
                                   value={(*other).clone()} oninput={clearing(other.clone(), "uscc")}
                                   error={error_of("uscc")}
                                   hint={lang.pick("18位，个体工商户以92开头", "18 characters; individual businesses start with 92")}
                                   autocomplete="off" maxlength="22" />
                    } else if let Some(msg) = error_of("uscc") {
                        <p class="error" id="uscc-error" role="alert">{ msg }</p>
                    }
                </fieldset>
                <TextField id="trade" label={lang.pick("经营类别", "Trade")}
                           value={(*trade).clone()} oninput={clearing(trade.clone(), "trade")}
                           error={error_of("trade")}
                           hint={lang.pick("如：石材、建材、餐饮", "e.g. stone, building materials, food")}
                           maxlength={TRADE_MAX_CHARS.to_string()} />
                <TextField id="years" label={lang.pick("经营年限（年）", "Years in business")}
                           value={(*years).clone()}
                           oninput={clearing(years.clone(), "years_in_business")}
                           error={error_of("years_in_business")}
                           inputmode="numeric" maxlength="2" />
                if let (Some(market), Some(stall)) = (&p.market_name, &p.stall_number) {
                    <fieldset class="card" id="stall-question">
                        <legend><strong>{ lang.pick("这是我的摊位吗？", "Is this your stall?") }</strong></legend>
                        <p>{ format!("{market} · {stall}") }</p>
                        <p class="muted">{ lang.pick(
                            "确认后，市场管理处上报的该摊位租金记录才会用于您的评估。",
                            "Only once you confirm does the market office's rent ledger for this stall count in your assessment.",
                        ) }</p>
                        <label class="choice" for="stall-yes">
                            <input type="radio" name="stall" id="stall-yes" checked={*stall_yes}
                                   onchange={{ let s = stall_yes.clone(); Callback::from(move |_: Event| s.set(true)) }} />
                            <span>{ lang.pick("是，这是我的摊位", "Yes, it is mine") }</span>
                        </label>
                        <label class="choice" for="stall-no">
                            <input type="radio" name="stall" id="stall-no" checked={!*stall_yes}
                                   onchange={{ let s = stall_yes.clone(); Callback::from(move |_: Event| s.set(false)) }} />
                            <span>{ lang.pick("不是", "No") }</span>
                        </label>
                    </fieldset>
                }
                if let Some(e) = &*submit_error {
                    <ErrorAlert id="profile-submit-error" error={e.clone()} />
                }
                <button type="submit" id="save-profile" class="btn block" disabled={*busy}>
                    if *busy {
                        <ButtonSpinner />{ lang.pick("核对登记信息…", "Checking the registry…") }
                    } else {
                        { lang.pick("保存并继续", "Save and continue") }
                    }
                </button>
            </form>
        </div>
    }
}

// ---------------------------------------------------------------------------
// A refusal, on its own screen

#[derive(Properties, PartialEq)]
struct StoppedProps {
    error: ApiError,
    back: Callback<MouseEvent>,
}

/// What went wrong and what to do, in the reader's language: the server's
/// own message, then the way on.
#[component]
fn Stopped(props: &StoppedProps) -> Html {
    let lang = use_lang();
    let code = props.error.code().unwrap_or_default().to_owned();
    let (title, next) = match code.as_str() {
        "operator_mismatch" => (
            lang.pick("无法为该营业执照申请", "You cannot apply for this licence"),
            lang.pick(
                "只有营业执照登记的经营者本人可以申请。请核对代码，或联系市场管理处办理代办。",
                "Only the licence's registered operator can apply. Check the code, or ask the market office about applying on someone's behalf.",
            ),
        ),
        "real_name_unavailable" => (
            lang.pick("实名认证暂时无法完成", "The identity check is unavailable"),
            lang.pick("请过几分钟再试。", "Please try again in a few minutes."),
        ),
        "real_name_checks_exhausted" => (
            lang.pick("今天的认证次数已用完", "No more checks today"),
            lang.pick("请明天再试，或联系市场管理处。", "Please try again tomorrow, or ask the market office."),
        ),
        _ => (
            lang.pick("实名认证未通过", "Identity not verified"),
            lang.pick(
                "请核对姓名和身份证号，并用本人实名登记的手机号登录后再试。",
                "Check your name and ID number, and log in with a mobile number registered in your own name.",
            ),
        ),
    };
    html! {
        <section id="identity-failed" data-code={code}>
            <h1>{ title }</h1>
            <div class="alert error" role="alert" id="identity-failed-message">
                <p>{ props.error.message(lang) }</p>
            </div>
            <p>{ next }</p>
            <button type="button" id="identity-back" class="btn block" onclick={props.back.clone()}>
                { lang.pick("返回修改", "Go back and change") }
            </button>
            <Link<Route> to={Route::Home} classes="btn secondary block">
                { lang.pick("返回首页", "Home") }
            </Link<Route>>
        </section>
    }
}

// ---------------------------------------------------------------------------

/// An input's handler: keep the value, and clear that field's error.
fn clearing_input(
    errors: &UseStateHandle<Vec<FieldError>>,
    handle: UseStateHandle<String>,
    field: &'static str,
) -> Callback<String> {
    let errors = errors.clone();
    Callback::from(move |v: String| {
        handle.set(v);
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
}

/// The message next to `field`, in the reader's language.
fn error_in(errors: &[FieldError], field: &str, lang: Lang) -> Option<String> {
    errors
        .iter()
        .find(|f| f.field == field)
        .map(|f| Msg::from(f).in_lang(lang))
}

/// A 422's field errors next to their fields; anything else (or a field not
/// on this form) above the button.
fn show_field_errors(
    e: ApiError,
    fields: &[&str],
    errors: &UseStateHandle<Vec<FieldError>>,
    submit_error: &UseStateHandle<Option<ApiError>>,
) {
    let found: Vec<FieldError> = e
        .fields()
        .iter()
        .filter(|f| fields.contains(&f.field.as_str()))
        .cloned()
        .collect();
    if found.is_empty() || found.len() < e.fields().len() {
        submit_error.set(Some(e));
    }
    if !found.is_empty() {
        errors.set(found);
        focus_first_error();
    }
}

/// Whole years from a `YYYY-MM-DD` date to today in China.
fn whole_years_since(date: &str) -> Option<u32> {
    let from = CivilDate::parse_iso(date)?;
    let today = today_in_china();
    let years = today.year.checked_sub(from.year)?;
    Some(u32::from(
        years - u16::from((today.month, today.day) < (from.month, from.day)),
    ))
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
