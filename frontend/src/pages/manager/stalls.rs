//! The stall list: search and filters, add and edit (checked in the browser
//! with the server's own validation), deactivate, reissue a code, and pick
//! stalls for the printed sheet.

use std::collections::BTreeSet;

use shared::manager::{StallInput, StallView, format_yuan as yuan, validate_stall};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::api::staff::{self as api, StallFilter};
use crate::components::{ButtonSpinner, ErrorAlert, Loading, Notice, TextField};
use crate::i18n::{Lang, Msg};
use crate::load::{Load, use_load_keeping};
use crate::staff_app::StaffRoute;
use crate::state::use_lang;

#[derive(Properties, PartialEq)]
pub struct StallsProps {
    pub market: Option<String>,
}

/// Where the print sheet finds the stalls picked here (session storage: the
/// list can be long, and it must not outlive the tab).
pub const PRINT_IDS_KEY: &str = "mc.print_ids";
pub const PRINT_MARKET_KEY: &str = "mc.print_market";

#[derive(Clone, PartialEq)]
enum Editing {
    None,
    New,
    Stall(StallView),
}

/// What a row's buttons do to its stall.
#[derive(Clone, Copy, PartialEq)]
enum Action {
    Reissue,
    Deactivate,
    Activate,
}

#[component]
pub fn Stalls(props: &StallsProps) -> Html {
    let lang = use_lang();
    let q = use_state(String::new);
    let zone = use_state(String::new);
    let trade = use_state(String::new);
    let status = use_state(String::new);
    // Narrowed as the manager types; the table stays while the answer comes.
    let filter = StallFilter {
        q: (*q).clone(),
        zone: (*zone).clone(),
        trade: (*trade).clone(),
        status: (*status).clone(),
    };
    // An action's error, cleared once the list loads again.
    let error = use_state(|| None::<ApiError>);
    let list = {
        let error = error.clone();
        use_load_keeping(
            (filter, props.market.clone()),
            move |(filter, market)| async move {
                let found = api::stalls(market.as_deref(), &filter).await;
                if found.is_ok() {
                    error.set(None);
                }
                found
            },
        )
    };
    let selected = use_state(BTreeSet::<String>::new);
    let editing = use_state(|| Editing::None);
    let notice = use_state(|| None::<Msg>);
    let confirm_reissue = use_state(|| None::<String>);

    let text_filter = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |v: String| s.set(v))
    };
    let select_filter = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |e: Event| {
            s.set(
                e.target_unchecked_into::<web_sys::HtmlSelectElement>()
                    .value(),
            )
        })
    };

    let data = match &*list {
        Load::Loading => {
            return html! { <Loading id="stalls-loading" label={lang.pick("正在加载摊位…", "Loading stalls…")} /> };
        }
        Load::Failed(e) => {
            return html! { <ErrorAlert error={e.clone()} on_retry={list.retry()} /> };
        }
        Load::Loaded(data) => data.clone(),
    };

    let toggle = |id: String| {
        let selected = selected.clone();
        Callback::from(move |_: Event| {
            let mut s = (*selected).clone();
            if !s.remove(&id) {
                s.insert(id.clone());
            }
            selected.set(s);
        })
    };
    let all_ids: BTreeSet<String> = data.stalls.iter().map(|s| s.id.clone()).collect();
    let all_selected = !all_ids.is_empty() && all_ids.is_subset(&selected);
    let toggle_all = {
        let selected = selected.clone();
        let all_ids = all_ids.clone();
        Callback::from(move |_: Event| {
            if all_ids.is_subset(&selected) {
                selected.set(BTreeSet::new());
            } else {
                selected.set(all_ids.clone());
            }
        })
    };
    let navigator = use_navigator();
    // The sheet for some stalls: their ids go through session storage.
    let print = {
        let market = props.market.clone();
        Callback::from(move |ids: Vec<String>| {
            use gloo_storage::{SessionStorage, Storage};
            let _ = SessionStorage::set(PRINT_IDS_KEY, ids);
            let _ = SessionStorage::set(PRINT_MARKET_KEY, market.clone().unwrap_or_default());
            if let Some(n) = &navigator {
                n.push(&StaffRoute::ManagerPrint);
            }
        })
    };
    let print_selected = {
        let (selected, print) = (selected.clone(), print.clone());
        Callback::from(move |_: MouseEvent| print.emit(selected.iter().cloned().collect()))
    };

    let act = |stall: &StallView, action: Action| {
        let (list, error, notice, confirm) = (
            list.clone(),
            error.clone(),
            notice.clone(),
            confirm_reissue.clone(),
        );
        let market = props.market.clone();
        let (id, number) = (stall.id.clone(), stall.number.clone());
        Callback::from(move |_: MouseEvent| {
            let (list, error, notice, confirm, market, id, number) = (
                list.clone(),
                error.clone(),
                notice.clone(),
                confirm.clone(),
                market.clone(),
                id.clone(),
                number.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                let market = market.as_deref();
                let done = if action == Action::Reissue {
                    api::reissue_code(market, &id).await.map(|c| {
                        Msg::new(
                            &format!("摊位 {number} 已重新发码（第{}版），旧码即时作废。请打印新码。", c.code_version),
                            &format!("Stall {number} has a new code (version {}); the old one is refused from now on. Print the new one.", c.code_version),
                        )
                    })
                } else {
                    let active = action == Action::Activate;
                    api::set_stall_active(market, &id, active).await.map(|s| {
                        if s.status == "inactive" {
                            Msg::new(
                                &format!("摊位 {number} 已停用"),
                                &format!("Stall {number} deactivated"),
                            )
                        } else {
                            Msg::new(
                                &format!("摊位 {number} 已启用"),
                                &format!("Stall {number} reactivated"),
                            )
                        }
                    })
                };
                confirm.set(None);
                match done {
                    Ok(m) => {
                        error.set(None);
                        notice.set(Some(m));
                        list.refresh();
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };

    let on_saved = {
        let (editing, list, notice) = (editing.clone(), list.clone(), notice.clone());
        Callback::from(move |s: StallView| {
            notice.set(Some(Msg::new(
                &format!("已保存摊位 {}", s.number),
                &format!("Stall {} saved", s.number),
            )));
            editing.set(Editing::None);
            list.refresh();
        })
    };
    let on_cancel = {
        let editing = editing.clone();
        Callback::from(move |_| editing.set(Editing::None))
    };

    html! {
        <div id="stalls">
            if let Some(m) = &*notice { <Notice id="stall-notice">{ m.in_lang(lang) }</Notice> }
            if let Some(e) = &*error { <ErrorAlert id="stall-error" error={e.clone()} /> }
            { match &*editing {
                Editing::None => html! {},
                Editing::New => html! {
                    <StallForm market={props.market.clone()} stall={None::<StallView>}
                        on_saved={on_saved.clone()} on_cancel={on_cancel.clone()} />
                },
                Editing::Stall(s) => html! {
                    <StallForm market={props.market.clone()} stall={Some(s.clone())}
                        on_saved={on_saved.clone()} on_cancel={on_cancel.clone()} />
                },
            } }
            <div class="filters">
                <TextField id="stall-search" label={lang.pick("搜索（摊位号、姓名、手机、信用代码）", "Search (number, name, mobile, USCC)")}
                    value={(*q).clone()} oninput={text_filter(&q)} />
                <FilterSelect id="filter-zone" label={lang.pick("区域", "Zone")} options={data.zones.clone()}
                    value={(*zone).clone()} onchange={select_filter(&zone)} />
                <FilterSelect id="filter-trade" label={lang.pick("经营类别", "Trade")} options={data.trades.clone()}
                    value={(*trade).clone()} onchange={select_filter(&trade)} />
                <div class="field">
                    <label for="filter-status">{ lang.pick("状态", "Status") }</label>
                    <select id="filter-status" onchange={select_filter(&status)}>
                        <option value="" selected={status.is_empty()}>{ lang.pick("全部", "All") }</option>
                        <option value="active" selected={*status == "active"}>{ lang.pick("在用", "Active") }</option>
                        <option value="inactive" selected={*status == "inactive"}>{ lang.pick("停用", "Inactive") }</option>
                    </select>
                </div>
            </div>
            <div class="toolbar">
                <button type="button" id="stall-add" class="btn" onclick={{
                    let editing = editing.clone();
                    Callback::from(move |_| editing.set(Editing::New))
                }}>{ lang.pick("＋ 登记摊位", "+ Add a stall") }</button>
                <button type="button" id="print-selected" class="btn secondary"
                    disabled={selected.is_empty()} onclick={print_selected}>
                    { match lang {
                        Lang::Zh => format!("打印所选摊位码（{}）", selected.len()),
                        Lang::En => format!("Print selected codes ({})", selected.len()),
                    } }
                </button>
                <span class="muted" id="stall-count">{ match lang {
                    Lang::Zh => format!("共 {} 个摊位", data.total),
                    Lang::En => format!("{} stalls", data.total),
                } }</span>
            </div>
            <div class="table-wrap">
                <table class="data" id="stall-table">
                    <thead><tr>
                        <th><input type="checkbox" id="select-all" checked={all_selected} onchange={toggle_all}
                            aria-label={lang.pick("全选", "Select all")} /></th>
                        <th>{ lang.pick("摊位号", "Stall") }</th>
                        <th class="opt">{ lang.pick("区域", "Zone") }</th>
                        <th class="opt">{ lang.pick("经营类别", "Trade") }</th>
                        <th>{ lang.pick("经营者", "Holder") }</th>
                        <th class="opt">{ lang.pick("月租金（元）", "Rent (yuan)") }</th>
                        <th>{ lang.pick("状态", "Status") }</th>
                        <th>{ lang.pick("操作", "Actions") }</th>
                    </tr></thead>
                    <tbody>
                        { for data.stalls.iter().map(|s| {
                            let checked = selected.contains(&s.id);
                            let active = s.status == "active";
                            let edit = {
                                let editing = editing.clone();
                                let s = s.clone();
                                Callback::from(move |_| editing.set(Editing::Stall(s.clone())))
                            };
                            let ask = {
                                let confirm = confirm_reissue.clone();
                                let id = s.id.clone();
                                Callback::from(move |_| confirm.set(Some(id.clone())))
                            };
                            let confirming = confirm_reissue.as_deref() == Some(s.id.as_str());
                            html! {
                                <tr class={classes!("stall-row", (!active).then_some("inactive"))} data-number={s.number.clone()}>
                                    <td><input type="checkbox" class="stall-select" data-number={s.number.clone()}
                                        checked={checked} onchange={toggle(s.id.clone())}
                                        aria-label={format!("{} {}", lang.pick("选择", "Select"), s.number)} /></td>
                                    <td><strong>{ &s.number }</strong>
                                        <div class="muted">{ format!("v{}", s.code_version) }</div></td>
                                    <td class="opt">{ &s.zone }</td>
                                    <td class="opt">{ &s.trade }</td>
                                    <td>{ &s.holder_name }</td>
                                    <td class="opt">{ yuan(s.rent_cents) }</td>
                                    <td class="stall-status">{ if active { lang.pick("在用", "Active") } else { lang.pick("停用", "Inactive") } }</td>
                                    <td>
                                        <button type="button" class="btn secondary edit" data-number={s.number.clone()} onclick={edit}>
                                            { lang.pick("编辑", "Edit") }</button>
                                        <button type="button" class="btn secondary print-one" data-number={s.number.clone()}
                                            onclick={{
                                                let (print, id) = (print.clone(), s.id.clone());
                                                Callback::from(move |_| print.emit(vec![id.clone()]))
                                            }}>{ lang.pick("打印码", "Print code") }</button>
                                        if confirming {
                                            <button type="button" class="btn reissue-confirm" data-number={s.number.clone()}
                                                onclick={act(s, Action::Reissue)}>
                                                { lang.pick("确认重新发码（旧码作废）", "Confirm: new code, old one refused") }</button>
                                        } else {
                                            <button type="button" class="btn secondary reissue" data-number={s.number.clone()}
                                                onclick={ask}>{ lang.pick("重新发码", "Reissue code") }</button>
                                        }
                                        if active {
                                            <button type="button" class="btn secondary deactivate" data-number={s.number.clone()}
                                                onclick={act(s, Action::Deactivate)}>{ lang.pick("停用", "Deactivate") }</button>
                                        } else {
                                            <button type="button" class="btn secondary activate" data-number={s.number.clone()}
                                                onclick={act(s, Action::Activate)}>{ lang.pick("启用", "Reactivate") }</button>
                                        }
                                    </td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
            if data.total > data.stalls.len() as i64 {
                <p class="muted">{ lang.pick("只显示前500个，请用搜索缩小范围。", "Showing the first 500; search to narrow down.") }</p>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct FilterSelectProps {
    id: AttrValue,
    label: AttrValue,
    options: Vec<String>,
    value: String,
    onchange: Callback<Event>,
}

#[component]
fn FilterSelect(props: &FilterSelectProps) -> Html {
    let lang = use_lang();
    html! {
        <div class="field">
            <label for={props.id.clone()}>{ props.label.clone() }</label>
            <select id={props.id.clone()} onchange={props.onchange.clone()}>
                <option value="" selected={props.value.is_empty()}>{ lang.pick("全部", "All") }</option>
                { for props.options.iter().map(|o| html! {
                    <option value={o.clone()} selected={props.value == *o}>{ o }</option>
                }) }
            </select>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct StallFormProps {
    market: Option<String>,
    stall: Option<StallView>,
    on_saved: Callback<StallView>,
    on_cancel: Callback<()>,
}

#[component]
fn StallForm(props: &StallFormProps) -> Html {
    let lang = use_lang();
    let input = use_state(|| match &props.stall {
        Some(s) => StallInput {
            number: s.number.clone(),
            zone: s.zone.clone(),
            trade: s.trade.clone(),
            holder_name: s.holder_name.clone(),
            holder_mobile: s.holder_mobile.clone().unwrap_or_default(),
            uscc: s.uscc.clone().unwrap_or_default(),
            rent_yuan: yuan(s.rent_cents),
            status: s.status.clone(),
        },
        None => StallInput::default(),
    });
    let field_errors = use_state(Vec::<shared::error::FieldError>::new);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let set = |f: fn(&mut StallInput) -> &mut String| {
        let (input, field_errors) = (input.clone(), field_errors.clone());
        Callback::from(move |v: String| {
            let mut next = (*input).clone();
            *f(&mut next) = v;
            input.set(next);
            field_errors.set(Vec::new());
        })
    };
    let err_of = |name: &str| {
        field_errors
            .iter()
            .find(|f| f.field == name)
            .map(|f| Msg::from(f).in_lang(lang))
    };
    let submit = {
        let (input, field_errors, error, busy) = (
            input.clone(),
            field_errors.clone(),
            error.clone(),
            busy.clone(),
        );
        let on_saved = props.on_saved.clone();
        let (market, stall_id) = (
            props.market.clone(),
            props.stall.as_ref().map(|s| s.id.clone()),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Err(errs) = validate_stall(&input) {
                field_errors.set(errs);
                return;
            }
            busy.set(true);
            let body = (*input).clone();
            let (field_errors, error, busy, on_saved) = (
                field_errors.clone(),
                error.clone(),
                busy.clone(),
                on_saved.clone(),
            );
            let (market, stall_id) = (market.clone(), stall_id.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let res = match &stall_id {
                    Some(id) => api::update_stall(market.as_deref(), id, &body).await,
                    None => api::create_stall(market.as_deref(), &body).await,
                };
                busy.set(false);
                match res {
                    Ok(s) => on_saved.emit(s),
                    Err(ApiError::Server { body, .. }) if !body.fields.is_empty() => {
                        field_errors.set(body.fields)
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let cancel = {
        let cb = props.on_cancel.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    html! {
        <form id="stall-form" class="card" onsubmit={submit} novalidate=true>
            <h2>{ if props.stall.is_some() { lang.pick("编辑摊位", "Edit stall") } else { lang.pick("登记摊位", "Add a stall") } }</h2>
            <div class="grid2">
                <TextField id="stall-number" label={lang.pick("摊位号", "Stall number")} value={input.number.clone()}
                    oninput={set(|i| &mut i.number)} error={err_of("number")} />
                <TextField id="stall-zone" label={lang.pick("区域", "Zone")} value={input.zone.clone()}
                    oninput={set(|i| &mut i.zone)} error={err_of("zone")} />
                <TextField id="stall-trade" label={lang.pick("经营类别", "Trade")} value={input.trade.clone()}
                    oninput={set(|i| &mut i.trade)} error={err_of("trade")} />
                <TextField id="stall-holder" label={lang.pick("经营者姓名", "Holder's name")} value={input.holder_name.clone()}
                    oninput={set(|i| &mut i.holder_name)} error={err_of("holder_name")} />
                <TextField id="stall-mobile" label={lang.pick("手机号（选填）", "Mobile (optional)")} value={input.holder_mobile.clone()}
                    oninput={set(|i| &mut i.holder_mobile)} error={err_of("holder_mobile")} inputmode="tel" />
                <TextField id="stall-uscc" label={lang.pick("统一社会信用代码（选填）", "USCC (optional)")} value={input.uscc.clone()}
                    oninput={set(|i| &mut i.uscc)} error={err_of("uscc")} maxlength="18" />
                <TextField id="stall-rent" label={lang.pick("月租金（元）", "Monthly rent (yuan)")} value={input.rent_yuan.clone()}
                    oninput={set(|i| &mut i.rent_yuan)} error={err_of("rent_yuan")} inputmode="decimal" />
            </div>
            if let Some(e) = &*error { <ErrorAlert error={e.clone()} /> }
            <div class="row">
                <button type="submit" id="stall-save" class="btn" disabled={*busy}>
                    if *busy { <ButtonSpinner /> }
                    { lang.pick("保存", "Save") }
                </button>
                <button type="button" id="stall-cancel" class="btn secondary" onclick={cancel}>
                    { lang.pick("取消", "Cancel") }
                </button>
            </div>
        </form>
    }
}
