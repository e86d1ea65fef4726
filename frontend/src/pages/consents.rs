//! "My authorizations": every letter signed, its exact text, the banks, when
//! it expires, and a one-tap withdrawal (with a confirm step, since it takes
//! the merchant out of the banks' view).

use shared::consent::{ConsentView, DataRead};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::api::merchant as api;
use crate::app::{Route, use_session_load};
use crate::components::{ErrorAlert, Loading, Notice, Skeleton, use_page_title};
use crate::i18n::Lang;
use crate::load::Load;
use crate::pages::authorize::render_letter;
use crate::state::use_lang;

#[component]
pub fn Consents() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("我的授权", "My authorizations"));
    let load = use_session_load((), |()| api::consents());
    let confirming = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let withdrawn = use_state(|| false);
    // The read logs opened so far, by consent id.
    let reads = use_state(Vec::<(String, Vec<DataRead>)>::new);

    let ask = |id: Option<String>| {
        let confirming = confirming.clone();
        Callback::from(move |_: MouseEvent| confirming.set(id.clone()))
    };
    let confirm = {
        let (confirming, busy, error, withdrawn, load) = (
            confirming.clone(),
            busy.clone(),
            error.clone(),
            withdrawn.clone(),
            load.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(id) = (*confirming).clone() else {
                return;
            };
            if *busy {
                return;
            }
            busy.set(true);
            error.set(None);
            let (confirming, busy, error, withdrawn, load) = (
                confirming.clone(),
                busy.clone(),
                error.clone(),
                withdrawn.clone(),
                load.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match api::withdraw_consent(&id).await {
                    Ok(_) => {
                        confirming.set(None);
                        withdrawn.set(true);
                        // The list stays on screen until the new one comes.
                        load.refresh();
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };

    let show_reads = |id: String| {
        let (reads, error) = (reads.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            let (reads, error, id) = (reads.clone(), error.clone(), id.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::consent_reads(&id).await {
                    Ok(list) => {
                        let mut next: Vec<_> =
                            reads.iter().filter(|(c, _)| *c != id).cloned().collect();
                        next.push((id, list));
                        reads.set(next);
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };

    let body = match &*load {
        Load::Loading => html! {
            <>
                <Loading id="consents-loading" label={lang.pick("正在读取…", "Loading…")} />
                <Skeleton lines={3} />
            </>
        },
        Load::Failed(e) => html! {
            <ErrorAlert id="consents-error" error={e.clone()} on_retry={load.retry()} />
        },
        Load::Loaded(list) if list.is_empty() => html! {
            <>
                <p class="muted" id="consents-empty">{ lang.pick(
                    "您还没有签署授权。签署后可在此查看全文并随时撤回。",
                    "You have not signed any authorization. Once you do, you can read it here and withdraw it at any time.",
                ) }</p>
                <Link<Route> to={Route::Authorize} classes="btn block">
                    { lang.pick("去授权", "Go to the authorization") }
                </Link<Route>>
            </>
        },
        Load::Loaded(list) => html! {
            <div id="consent-list">
                { for list.iter().enumerate().map(|(i, c)| {
                    let banks: Vec<String> = c.banks.iter().map(|b| b.short_name.clone()).collect();
                    let is_confirming = confirming.as_deref() == Some(c.id.as_str());
                    html! {
                        <div class="card consent" id={format!("consent-{i}")} data-status={c.status.clone()}>
                            <h2 class="flush-top">
                                { status_text(lang, &c.status) }
                                <span class="muted">{ format!(" · {}", c.letter_version) }</span>
                            </h2>
                            <dl class="facts">
                                if let Some(u) = &c.subject_uscc {
                                    <dt>{ lang.pick("营业执照", "Business licence") }</dt>
                                    <dd class="subject">{ u.clone() }</dd>
                                }
                                <dt>{ lang.pick("签署日期", "Signed") }</dt>
                                <dd>{ day(&c.granted_at) }</dd>
                                <dt>{ lang.pick("有效期至", "Valid until") }</dt>
                                <dd>{ day(&c.expires_at) }</dd>
                                if let Some(w) = &c.withdrawn_at {
                                    <dt>{ lang.pick("撤回日期", "Withdrawn") }</dt>
                                    <dd class="withdrawn-at">{ day(w) }</dd>
                                }
                                <dt>{ lang.pick("银行", "Banks") }</dt>
                                <dd>{ banks.join("、") }</dd>
                            </dl>
                            <details>
                                <summary id={format!("letter-{i}")}>{ lang.pick("查看授权书全文", "Read the letter you signed") }</summary>
                                <div class="letter-text">{ render_letter(c.text.as_deref().unwrap_or("")) }</div>
                                <p class="muted digest">
                                    { format!("SHA-256 {}", c.text_sha256) }
                                </p>
                            </details>
                            if let Some((_, list)) = reads.iter().find(|(id, _)| *id == c.id) {
                                <ul class="plain reads" id={format!("reads-{i}")}>
                                    if list.is_empty() {
                                        <li>{ lang.pick("尚无查询记录", "No reads yet") }</li>
                                    }
                                    { for list.iter().map(|r| html! {
                                        <li data-result={r.result.clone()}>
                                            <span class="muted">{ local_minute(&r.at) }</span>
                                            { " " }
                                            { source_name(lang, c, &r.source) }
                                            { " · " }
                                            { read_result(lang, &r.result) }
                                        </li>
                                    }) }
                                </ul>
                            } else {
                                <button type="button" class="btn secondary block" id={format!("show-reads-{i}")}
                                        onclick={show_reads(c.id.clone())}>
                                    { lang.pick("查看查询记录", "See who read my data") }
                                </button>
                            }
                            if c.status == "active" && !is_confirming {
                                <button type="button" class="btn secondary block withdraw" id={format!("withdraw-{i}")}
                                        onclick={ask(Some(c.id.clone()))}>
                                    { lang.pick("撤回授权", "Withdraw") }
                                </button>
                            }
                            if is_confirming {
                                <div class="alert error" id="withdraw-confirm">
                                    <p>{ lang.pick(
                                        "撤回后平台将停止查询您的信息，银行也将看不到您的推荐。确定撤回吗？",
                                        "After withdrawal nothing more is read about you and the banks no longer see your recommendation. Withdraw?",
                                    ) }</p>
                                    <div class="row">
                                        <button type="button" class="btn" id="confirm-withdraw" disabled={*busy}
                                                onclick={confirm.clone()}>
                                            { lang.pick("确认撤回", "Yes, withdraw") }
                                        </button>
                                        <button type="button" class="btn secondary" id="cancel-withdraw"
                                                onclick={ask(None)}>
                                            { lang.pick("取消", "Cancel") }
                                        </button>
                                    </div>
                                </div>
                            }
                        </div>
                    }
                }) }
            </div>
        },
    };

    html! {
        <section id="consents">
            <h1>{ lang.pick("我的授权", "My authorizations") }</h1>
            if *withdrawn {
                <Notice id="withdrawn-notice">{ lang.pick(
                    "已撤回。平台不再查询您的信息，银行已看不到您的推荐。",
                    "Withdrawn. Nothing more is read about you, and the banks no longer see you.",
                ) }</Notice>
            }
            if let Some(e) = &*error {
                <ErrorAlert id="withdraw-error" error={e.clone()} />
            }
            { body }
        </section>
    }
}

fn source_name(lang: Lang, c: &ConsentView, code: &str) -> String {
    c.categories
        .iter()
        .find(|k| k.code == code)
        .map(|k| match lang {
            Lang::Zh => k.name_zh.clone(),
            Lang::En => k.name_en.clone(),
        })
        .unwrap_or_else(|| code.to_owned())
}

fn read_result(lang: Lang, result: &str) -> &'static str {
    match result {
        "ok" => lang.pick("已查询", "read"),
        "not_found" => lang.pick("无记录", "nothing on file"),
        _ => lang.pick("已拒绝（授权无效）", "refused (no valid authorization)"),
    }
}

fn status_text(lang: Lang, status: &str) -> &'static str {
    match status {
        "active" => lang.pick("有效", "In force"),
        "withdrawn" => lang.pick("已撤回", "Withdrawn"),
        _ => lang.pick("已过期", "Expired"),
    }
}

/// A stored UTC timestamp in the phone's own time zone (China's, for a
/// merchant), as `YYYY-MM-DD HH:MM`; the stored text if it does not parse.
fn local_minute(t: &str) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(t));
    if d.get_time().is_nan() {
        return t.to_owned();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// The local calendar day of a stored timestamp.
fn day(t: &str) -> String {
    local_minute(t).chars().take(10).collect()
}
