//! The staff console at `/manager`: password login, then the market
//! manager's screens (stalls, bulk import, rent ledger, dashboard). An
//! operator sees the same screens for a market they pick, plus markets and
//! manager accounts. The server scopes every request; the UI only follows.

mod dashboard;
mod import;
mod ops;
pub mod print;
mod stalls;

use shared::manager::{ROLE_OPERATOR, StaffLogin, StaffMe};
use yew::prelude::*;

use crate::api::ApiError;
use crate::api::staff as api;
use crate::components::{ButtonSpinner, ErrorAlert, Loading, TextField, use_page_title};
use crate::i18n::Lang;
use crate::load::{Load, use_load, use_load_keeping};
use crate::state::use_lang;

#[derive(Clone, Copy, PartialEq)]
enum Tab {
    Stalls,
    Import,
    Rent,
    Dashboard,
    Ops,
}

#[component]
pub fn Manager() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("市场管理方控制台", "Market manager console"));
    // `None`: not logged in.
    let me = use_load((), |()| async {
        match api::me().await {
            Err(e) if e.is_logged_out() => Ok(None),
            other => other.map(Some),
        }
    });
    let on_login = {
        let me = me.clone();
        Callback::from(move |m: StaffMe| me.set(Some(m)))
    };
    let on_logout = {
        let me = me.clone();
        Callback::from(move |_| me.set(None))
    };
    html! {
        <section id="manager-console" class="console">
            { match &*me {
                Load::Loading => html! {
                    <Loading id="staff-loading" label={lang.pick("正在加载…", "Loading…")} />
                },
                Load::Failed(e) => html! { <ErrorAlert error={e.clone()} on_retry={me.retry()} /> },
                Load::Loaded(None) => html! { <LoginForm {on_login} /> },
                // Bank officers have their own console; nothing here is theirs.
                Load::Loaded(Some(m)) if m.role == "bank" => html! {
                    <p class="alert ok" id="wrong-console">{ lang.pick(
                        "银行工作人员请使用银行工作台（/bank）。",
                        "Bank officers use the bank console (/bank).",
                    ) }</p>
                },
                Load::Loaded(Some(m)) => html! { <Console me={m.clone()} {on_logout} /> },
            } }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct LoginProps {
    on_login: Callback<StaffMe>,
}

#[component]
fn LoginForm(props: &LoginProps) -> Html {
    let lang = use_lang();
    let username = use_state(String::new);
    let password = use_state(String::new);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let submit = {
        let (username, password, error, busy) = (
            username.clone(),
            password.clone(),
            error.clone(),
            busy.clone(),
        );
        let on_login = props.on_login.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            busy.set(true);
            error.set(None);
            let req = StaffLogin {
                username: username.trim().to_owned(),
                password: (*password).clone(),
            };
            let (error, busy, on_login) = (error.clone(), busy.clone(), on_login.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::log_in(&req).await {
                    Ok(me) => on_login.emit(me),
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    let set = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |v: String| s.set(v))
    };
    html! {
        <form id="staff-login-form" class="card narrow" onsubmit={submit} novalidate=true>
            <h1>{ lang.pick("工作人员登录", "Staff log in") }</h1>
            <p class="muted">{ lang.pick(
                "市场管理方与信用办工作人员使用。",
                "For market offices and the county credit office.",
            ) }</p>
            <TextField id="staff-username" label={lang.pick("用户名", "Username")}
                value={(*username).clone()} oninput={set(&username)} autocomplete="username" />
            <TextField id="staff-password" label={lang.pick("密码", "Password")} input_type="password"
                value={(*password).clone()} oninput={set(&password)} autocomplete="current-password" />
            if let Some(e) = &*error {
                <ErrorAlert id="staff-login-error" error={e.clone()} />
            }
            <button type="submit" id="staff-login" class="btn block" disabled={*busy}>
                if *busy { <ButtonSpinner /> }
                { lang.pick("登录", "Log in") }
            </button>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct ConsoleProps {
    me: StaffMe,
    on_logout: Callback<()>,
}

#[component]
fn Console(props: &ConsoleProps) -> Html {
    let lang = use_lang();
    let me = &props.me;
    let operator = me.role == ROLE_OPERATOR;
    let tab = use_state(|| if operator { Tab::Ops } else { Tab::Stalls });
    // The market an operator works on; a manager's is fixed by the server.
    let market = use_state(|| None::<String>);
    // Only an operator chooses among markets. A failure leaves the menu
    // empty; the tabs that need a market say so.
    let markets_load = use_load_keeping(operator, |operator| async move {
        if operator {
            api::markets().await
        } else {
            Ok(Vec::new())
        }
    });
    let markets = match &*markets_load {
        Load::Loaded(list) => list.clone(),
        _ => Vec::new(),
    };
    let logout = {
        let on_logout = props.on_logout.clone();
        Callback::from(move |_: MouseEvent| {
            let on_logout = on_logout.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = api::log_out().await;
                on_logout.emit(());
            });
        })
    };
    let tab_button = |t: Tab, id: &'static str, zh: &'static str, en: &'static str| {
        let tab_h = tab.clone();
        let current = *tab == t;
        html! {
            <button type="button" {id} role="tab" aria-selected={current.to_string()}
                class={classes!("tab", current.then_some("on"))}
                onclick={Callback::from(move |_| tab_h.set(t))}>
                { lang.pick(zh, en) }
            </button>
        }
    };
    let on_market = {
        let market = market.clone();
        Callback::from(move |e: Event| {
            let v = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            market.set((!v.is_empty()).then_some(v));
        })
    };
    let market_ctx: Option<String> = if operator { (*market).clone() } else { None };
    let needs_market = operator && market_ctx.is_none();
    let on_markets_changed = {
        let markets_load = markets_load.clone();
        Callback::from(move |_| markets_load.refresh())
    };
    html! {
        <>
            <div class="console-head no-print">
                <div>
                    <h1 id="console-title">{ match (&me.market_name, operator) {
                        (_, true) => lang.pick("运营管理（信用办）", "Operator console").to_owned(),
                        (Some(name), false) => name.clone(),
                        (None, false) => lang.pick("市场管理方控制台", "Market manager console").to_owned(),
                    } }</h1>
                    <p class="muted" id="staff-who">{ format!("{} · {}", me.display_name, role_label(lang, &me.role)) }</p>
                </div>
                <button type="button" id="staff-logout" class="btn secondary" onclick={logout}>
                    { lang.pick("退出登录", "Log out") }
                </button>
            </div>
            if operator {
                <div class="field no-print">
                    <label for="market-select">{ lang.pick("当前市场", "Market") }</label>
                    <select id="market-select" onchange={on_market}>
                        <option value="" selected={market.is_none()}>{ lang.pick("（全部 / 请选择）", "(all / choose)") }</option>
                        { for markets.iter().map(|m| html! {
                            <option value={m.id.clone()} selected={market.as_deref() == Some(m.id.as_str())}>
                                { format!("{}（{}）", m.name, m.stall_count) }
                            </option>
                        }) }
                    </select>
                </div>
            }
            <nav class="tabs no-print" role="tablist">
                if operator { { tab_button(Tab::Ops, "tab-ops", "市场与账号", "Markets & accounts") } }
                { tab_button(Tab::Stalls, "tab-stalls", "摊位", "Stalls") }
                { tab_button(Tab::Import, "tab-import", "批量导入", "Bulk import") }
                { tab_button(Tab::Rent, "tab-rent", "租金台账", "Rent ledger") }
                { tab_button(Tab::Dashboard, "tab-dashboard", "数据看板", "Dashboard") }
            </nav>
            { match *tab {
                Tab::Ops => html! { <ops::Ops markets={markets.clone()} on_changed={on_markets_changed} /> },
                Tab::Dashboard => html! { <dashboard::DashboardView market={market_ctx.clone()} /> },
                _ if needs_market => html! {
                    <p class="alert ok" id="choose-market">{ lang.pick("请先在上方选择一个市场。", "Choose a market above first.") }</p>
                },
                Tab::Stalls => html! { <stalls::Stalls market={market_ctx.clone()} /> },
                Tab::Import => html! { <import::StallImport market={market_ctx.clone()} /> },
                Tab::Rent => html! { <import::RentImport market={market_ctx.clone()} /> },
            } }
        </>
    }
}

fn role_label(lang: Lang, role: &str) -> &'static str {
    match role {
        "operator" => lang.pick("信用办运营", "Operator"),
        "manager" => lang.pick("市场管理员", "Market manager"),
        _ => lang.pick("银行", "Bank"),
    }
}
