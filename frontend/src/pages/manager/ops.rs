//! The operator's part of the console: add a market, add a manager bound
//! to one market.

use shared::error::FieldError;
use shared::manager::{
    MarketInput, MarketView, ROLE_MANAGER, StaffUserInput, validate_market, validate_staff_user,
};
use yew::prelude::*;

use crate::api::ApiError;
use crate::api::staff as api;
use crate::components::{ButtonSpinner, ErrorAlert, Notice, TextField};
use crate::i18n::Msg;
use crate::state::use_lang;

#[derive(Properties, PartialEq)]
pub struct OpsProps {
    pub markets: Vec<MarketView>,
    pub on_changed: Callback<()>,
}

fn field_msg(errors: &[FieldError], name: &str, lang: crate::i18n::Lang) -> Option<String> {
    errors
        .iter()
        .find(|f| f.field == name)
        .map(|f| Msg::from(f).in_lang(lang))
}

#[component]
pub fn Ops(props: &OpsProps) -> Html {
    let lang = use_lang();
    let market = use_state(|| MarketInput {
        name: String::new(),
        office_phone: String::new(),
        address: String::new(),
    });
    let user = use_state(|| StaffUserInput {
        username: String::new(),
        display_name: String::new(),
        password: String::new(),
        role: ROLE_MANAGER.to_owned(),
        market_id: None,
    });
    let market_errors = use_state(Vec::<FieldError>::new);
    let user_errors = use_state(Vec::<FieldError>::new);
    let error = use_state(|| None::<ApiError>);
    let notice = use_state(|| None::<Msg>);
    let busy = use_state(|| false);

    let set_market = |f: fn(&mut MarketInput) -> &mut String| {
        let (market, errs) = (market.clone(), market_errors.clone());
        Callback::from(move |v: String| {
            let mut m = (*market).clone();
            *f(&mut m) = v;
            market.set(m);
            errs.set(Vec::new());
        })
    };
    let set_user = |f: fn(&mut StaffUserInput) -> &mut String| {
        let (user, errs) = (user.clone(), user_errors.clone());
        Callback::from(move |v: String| {
            let mut u = (*user).clone();
            *f(&mut u) = v;
            user.set(u);
            errs.set(Vec::new());
        })
    };
    let on_user_market = {
        let user = user.clone();
        Callback::from(move |e: Event| {
            let v = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            let mut u = (*user).clone();
            u.market_id = (!v.is_empty()).then_some(v);
            user.set(u);
        })
    };

    let create_market = {
        let (market, errs, error, notice, busy) = (
            market.clone(),
            market_errors.clone(),
            error.clone(),
            notice.clone(),
            busy.clone(),
        );
        let on_changed = props.on_changed.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let input = (*market).clone();
            let found = validate_market(&input);
            if !found.is_empty() {
                errs.set(found);
                return;
            }
            busy.set(true);
            let (market, errs, error, notice, busy, on_changed) = (
                market.clone(),
                errs.clone(),
                error.clone(),
                notice.clone(),
                busy.clone(),
                on_changed.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match api::create_market(&input).await {
                    Ok(m) => {
                        notice.set(Some(Msg::new(
                            &format!("已添加市场：{}", m.name),
                            &format!("Market added: {}", m.name),
                        )));
                        market.set(MarketInput {
                            name: String::new(),
                            office_phone: String::new(),
                            address: String::new(),
                        });
                        error.set(None);
                        on_changed.emit(());
                    }
                    Err(ApiError::Server { body, .. }) if !body.fields.is_empty() => {
                        errs.set(body.fields)
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    let create_user = {
        let (user, errs, error, notice, busy) = (
            user.clone(),
            user_errors.clone(),
            error.clone(),
            notice.clone(),
            busy.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let input = (*user).clone();
            let found = validate_staff_user(&input);
            if !found.is_empty() {
                errs.set(found);
                return;
            }
            busy.set(true);
            let (user, errs, error, notice, busy) = (
                user.clone(),
                errs.clone(),
                error.clone(),
                notice.clone(),
                busy.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match api::create_staff_user(&input).await {
                    Ok(u) => {
                        notice.set(Some(Msg::new(
                            &format!("已创建管理员账号：{}", u.username),
                            &format!("Manager account created: {}", u.username),
                        )));
                        let mut next = (*user).clone();
                        next.username.clear();
                        next.display_name.clear();
                        next.password.clear();
                        user.set(next);
                        error.set(None);
                    }
                    Err(ApiError::Server { body, .. }) if !body.fields.is_empty() => {
                        errs.set(body.fields)
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };

    html! {
        <div id="ops">
            if let Some(m) = &*notice { <Notice id="ops-notice">{ m.in_lang(lang) }</Notice> }
            if let Some(e) = &*error { <ErrorAlert id="ops-error" error={e.clone()} /> }
            <div class="grid2">
                <form class="card" id="market-form" onsubmit={create_market} novalidate=true>
                    <h2>{ lang.pick("添加市场", "Add a market") }</h2>
                    <TextField id="market-name" label={lang.pick("市场名称", "Market name")} value={market.name.clone()}
                        oninput={set_market(|m| &mut m.name)} error={field_msg(&market_errors, "name", lang)} />
                    <TextField id="market-phone" label={lang.pick("管理处电话", "Office phone")} value={market.office_phone.clone()}
                        oninput={set_market(|m| &mut m.office_phone)} error={field_msg(&market_errors, "office_phone", lang)} inputmode="tel" />
                    <TextField id="market-address" label={lang.pick("地址", "Address")} value={market.address.clone()}
                        oninput={set_market(|m| &mut m.address)} error={field_msg(&market_errors, "address", lang)} />
                    <button type="submit" id="market-create" class="btn block" disabled={*busy}>
                        if *busy { <ButtonSpinner /> }
                        { lang.pick("添加市场", "Add market") }
                    </button>
                </form>
                <form class="card" id="manager-form" onsubmit={create_user} novalidate=true>
                    <h2>{ lang.pick("添加市场管理员", "Add a market manager") }</h2>
                    <div class={classes!("field", field_msg(&user_errors, "market_id", lang).is_some().then_some("invalid"))}>
                        <label for="mgr-market">{ lang.pick("所属市场", "Market") }</label>
                        <select id="mgr-market" onchange={on_user_market}>
                            <option value="" selected={user.market_id.is_none()}>{ lang.pick("请选择", "Choose") }</option>
                            { for props.markets.iter().map(|m| html! {
                                <option value={m.id.clone()} selected={user.market_id.as_deref() == Some(m.id.as_str())}>{ &m.name }</option>
                            }) }
                        </select>
                        if let Some(e) = field_msg(&user_errors, "market_id", lang) { <p class="error">{ e }</p> }
                    </div>
                    <TextField id="mgr-username" label={lang.pick("用户名（小写字母、数字）", "Username (lowercase, digits)")} value={user.username.clone()}
                        oninput={set_user(|u| &mut u.username)} error={field_msg(&user_errors, "username", lang)} autocomplete="off" />
                    <TextField id="mgr-display" label={lang.pick("显示名称", "Display name")} value={user.display_name.clone()}
                        oninput={set_user(|u| &mut u.display_name)} error={field_msg(&user_errors, "display_name", lang)} />
                    <TextField id="mgr-password" label={lang.pick("初始密码（至少10位）", "Initial password (10+ characters)")} input_type="password"
                        value={user.password.clone()} oninput={set_user(|u| &mut u.password)}
                        error={field_msg(&user_errors, "password", lang)} autocomplete="new-password" />
                    <button type="submit" id="mgr-create" class="btn block" disabled={*busy}>
                        { lang.pick("创建管理员", "Create manager") }
                    </button>
                </form>
            </div>
            <h2>{ lang.pick("市场", "Markets") }</h2>
            <div class="table-wrap">
                <table class="data" id="market-table">
                    <thead><tr>
                        <th>{ lang.pick("名称", "Name") }</th>
                        <th>{ lang.pick("电话", "Phone") }</th>
                        <th>{ lang.pick("摊位数", "Stalls") }</th>
                    </tr></thead>
                    <tbody>
                        { for props.markets.iter().map(|m| html! {
                            <tr><td>{ &m.name }</td><td>{ &m.office_phone }</td><td>{ m.stall_count }</td></tr>
                        }) }
                    </tbody>
                </table>
            </div>
        </div>
    }
}
