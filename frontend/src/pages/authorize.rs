//! The authorization letter (授权书): the server's versioned text in the
//! reader's language (who collects, which data, why, for how long, how to
//! withdraw), one checkbox per bank (none ticked in advance), and an explicit
//! signing button. The hash of the exact text shown goes with the signature;
//! the answer carries the decision, so the next screen is the result.

use shared::consent::NextStep;
use shared::consent::{BankInfo, SignRequest, sha256_hex};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::merchant as api;
use crate::api::{ApiError, new_idempotency_key};
use crate::app::{Route, use_session_load};
use crate::components::{ButtonSpinner, ErrorAlert, Loading, Notice, Skeleton, use_page_title};
use crate::i18n::Lang;
use crate::load::Load;
use crate::state::use_lang;

#[component]
pub fn Authorize() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("授权书", "Authorization"));
    let navigator = use_navigator();
    // Set when the merchant signed before: they are told so.
    let already = use_state(|| None::<NextStep>);
    let load = {
        let already = already.clone();
        use_session_load((), move |()| async move {
            let letter = api::letter().await;
            if letter.is_ok() {
                wasm_bindgen_futures::spawn_local(async move {
                    if let Ok(me) = api::me().await
                        && matches!(me.next_step, NextStep::Decision | NextStep::Application)
                    {
                        already.set(Some(me.next_step));
                    }
                });
            }
            letter
        })
    };
    let chosen = use_state(Vec::<String>::new);
    let banks_error = use_state(|| false);
    let submit_error = use_state(|| None::<ApiError>);
    let signing = use_state(|| false);
    // One key per signing the merchant means; a retry after a lost answer
    // reuses it, so a double tap cannot sign twice.
    let key = use_state(new_idempotency_key);

    let letter = match &*load {
        Load::Loading => {
            return html! {
                <section id="authorize">
                    <h1>{ lang.pick("信用信息查询授权书", "Authorization to use your credit information") }</h1>
                    <Loading id="letter-loading" label={lang.pick("正在读取授权书…", "Loading the letter…")} />
                    <Skeleton lines={6} />
                </section>
            };
        }
        Load::Failed(e) => {
            return html! {
                <section id="authorize">
                    <h1>{ lang.pick("信用信息查询授权书", "Authorization to use your credit information") }</h1>
                    <ErrorAlert id="letter-error" error={e.clone()} on_retry={load.retry()} />
                </section>
            };
        }
        Load::Loaded(l) => l.clone(),
    };
    let text = match lang {
        Lang::Zh => letter.text_zh.clone(),
        Lang::En => letter.text_en.clone(),
    };

    let toggle = |bank_id: String| {
        let (chosen, banks_error) = (chosen.clone(), banks_error.clone());
        Callback::from(move |_: Event| {
            let mut next = (*chosen).clone();
            if let Some(i) = next.iter().position(|b| *b == bank_id) {
                next.remove(i);
            } else {
                next.push(bank_id.clone());
            }
            if !next.is_empty() {
                banks_error.set(false);
            }
            chosen.set(next);
        })
    };

    let onsign = {
        let (chosen, banks_error, submit_error, signing, key) = (
            chosen.clone(),
            banks_error.clone(),
            submit_error.clone(),
            signing.clone(),
            key.clone(),
        );
        let text = text.clone();
        let version = letter.version.clone();
        let navigator = navigator.clone();
        Callback::from(move |_: MouseEvent| {
            if *signing {
                return;
            }
            // The server's rule, checked first here: no bank, no recommendation.
            if chosen.is_empty() {
                banks_error.set(true);
                return;
            }
            let req = SignRequest {
                letter_version: version.clone(),
                text_sha256: sha256_hex(&text),
                bank_ids: (*chosen).clone(),
                language: lang.storage_value().to_owned(),
            };
            submit_error.set(None);
            signing.set(true);
            let (submit_error, signing, key) = (submit_error.clone(), signing.clone(), key.clone());
            let navigator = navigator.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match api::sign(&req, &key).await {
                    Ok(_) => {
                        if let Some(nav) = navigator {
                            nav.push(&Route::Decision);
                        }
                    }
                    Err(e) if e.status() == Some(401) => {
                        if let Some(nav) = navigator {
                            nav.replace(&Route::Login);
                        }
                    }
                    Err(e) => {
                        // A refusal is final for this request; a changed
                        // choice is a new request with a new key.
                        if e.status().is_some() {
                            key.set(new_idempotency_key());
                        }
                        submit_error.set(Some(e));
                    }
                }
                signing.set(false);
            });
        })
    };

    // The signature needs a verified person and their verified business.
    let profile_missing = submit_error
        .as_ref()
        .and_then(ApiError::code)
        .is_some_and(|c| {
            matches!(
                c,
                "profile_incomplete" | "identity_unverified" | "operator_mismatch"
            )
        });

    html! {
        <section id="authorize">
            <h1>{ lang.pick("信用信息查询授权书", "Authorization to use your credit information") }</h1>
            if let Some(step) = *already {
                <Notice id="already-signed">
                    <p>{ lang.pick(
                        "您已签署过授权，可直接查看结果。若要选择其他银行，可在下方重新签署。",
                        "You have already signed. See your result, or sign again below to choose other banks.",
                    ) }</p>
                    <Link<Route> to={if step == NextStep::Application { Route::Application } else { Route::Decision }}
                                 classes="btn secondary block">
                        { lang.pick("查看结果", "See my result") }
                    </Link<Route>>
                </Notice>
            }
            if let Some(b) = &letter.subject {
                <div class="card" id="letter-subject">
                    <p class="muted">{ lang.pick(
                        "本授权仅针对以下营业执照，查询结果只用于它：",
                        "This authorization covers this business licence only:",
                    ) }</p>
                    <p><strong>{ b.name.clone() }</strong></p>
                    <p class="muted" id="letter-subject-uscc">{ b.uscc.clone() }</p>
                </div>
            }
            <div class="card" id="letter" data-version={letter.version.clone()}>
                <div id="letter-text">{ render_letter(&text) }</div>
            </div>
            <fieldset class="card" id="letter-banks">
                <legend><strong>{ lang.pick("推荐给哪些银行（请逐一选择）", "Which banks may see your result (choose each)") }</strong></legend>
                { for letter.banks.iter().enumerate().map(|(i, b)| {
                    let checked = chosen.contains(&b.bank_id);
                    html! {
                        <label class="bank-choice" for={format!("bank-{i}")}>
                            <input type="checkbox" id={format!("bank-{i}")} data-bank-id={b.bank_id.clone()}
                                   {checked} onchange={toggle(b.bank_id.clone())} />
                            <span>
                                <strong>{ b.name.clone() }</strong>
                                { for b.products.iter().map(|p| html! {
                                    <span class="muted block">{ product_line(lang, b, p) }</span>
                                }) }
                            </span>
                        </label>
                    }
                }) }
                if *banks_error {
                    <p class="alert error" id="bank-ids-error" role="alert">{ lang.pick(
                        "请至少选择一家银行，否则无法为您推荐。",
                        "Choose at least one bank, or there is no one to recommend you to.",
                    ) }</p>
                }
            </fieldset>
            if let Some(e) = &*submit_error {
                <ErrorAlert id="sign-error" error={e.clone()} />
                if profile_missing {
                    <Link<Route> to={Route::Profile} classes="btn secondary block">
                        { lang.pick("去填写经营信息", "Complete your business details") }
                    </Link<Route>>
                }
            }
            <button type="button" id="sign-consent" class="btn block" disabled={*signing} onclick={onsign}>
                if *signing {
                    <ButtonSpinner />{ lang.pick("正在查询和评估，请稍候…", "Reading your records and assessing…") }
                } else {
                    { lang.pick("我已阅读并同意，签署授权", "I have read this and I consent — sign") }
                }
            </button>
            <p class="muted">{ lang.pick(
                "签署后可随时在“我的授权”中查看全文或一键撤回。",
                "After signing you can read it again or withdraw it at any time under “My authorizations”.",
            ) }</p>
        </section>
    }
}

fn product_line(lang: Lang, _bank: &BankInfo, p: &shared::consent::ProductInfo) -> String {
    let wan = |c: i64| c / 1_000_000;
    let pct = |bp: i32| format!("{}.{:02}%", bp / 100, bp % 100);
    match lang {
        Lang::Zh => format!(
            "{}：{}–{}万元，年利率 {}–{}，{}个月",
            p.name,
            wan(p.min_amount_cents),
            wan(p.max_amount_cents),
            pct(p.min_rate_bp),
            pct(p.max_rate_bp),
            p.term_months
        ),
        Lang::En => format!(
            "{}: ¥{}0k–{}0k, {}–{} a year, {} months",
            p.name,
            wan(p.min_amount_cents),
            wan(p.max_amount_cents),
            pct(p.min_rate_bp),
            pct(p.max_rate_bp),
            p.term_months
        ),
    }
}

/// The letter's light markdown (`# title`, `**bold**`, numbered lines) as
/// HTML. The words are exactly the text whose hash is signed.
pub fn render_letter(text: &str) -> Html {
    html! {
        { for text.lines().filter(|l| !l.trim().is_empty()).map(|line| {
            if let Some(title) = line.strip_prefix("# ") {
                html! { <h2>{ title.to_owned() }</h2> }
            } else {
                let parts: Vec<Html> = line
                    .split("**")
                    .enumerate()
                    .map(|(i, part)| if i % 2 == 1 {
                        html! { <strong>{ part.to_owned() }</strong> }
                    } else {
                        html! { { part.to_owned() } }
                    })
                    .collect();
                html! { <p class="letter-para">{ for parts }</p> }
            }
        }) }
    }
}
