//! The pre-credit result: an offer (amount, indicative rate, term, grade,
//! until when, which banks and products) or a decline, with up to four
//! reasons and what the merchant can do about each; then "accept" (into the
//! candidate pool of the chosen banks) or "not now".

use shared::consent::ApplicationRequest;
use shared::decision::Outcome;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::merchant as api;
use crate::api::{ApiError, new_idempotency_key};
use crate::app::{Route, use_session_load};
use crate::components::{
    ButtonSpinner, DecisionCard, ErrorAlert, Loading, Notice, Skeleton, use_page_title,
};
use crate::i18n::Lang;
use crate::load::Load;
use crate::state::use_lang;

#[component]
pub fn Decision() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("预授信结果", "Pre-credit result"));
    let navigator = use_navigator();
    // `None`: no decision yet (the merchant has not authorized, or it is not made).
    let load = use_session_load((), |()| api::latest_decision());
    let busy = use_state(|| false);
    let answer_error = use_state(|| None::<ApiError>);
    let not_now = use_state(|| false);
    let key = use_state(new_idempotency_key);

    let answer = |accept: bool| {
        let (busy, answer_error, not_now, key, load) = (
            busy.clone(),
            answer_error.clone(),
            not_now.clone(),
            key.clone(),
            load.clone(),
        );
        let navigator = navigator.clone();
        Callback::from(move |_: MouseEvent| {
            let Load::Loaded(Some(d)) = &*load else {
                return;
            };
            if *busy {
                return;
            }
            let req = ApplicationRequest {
                decision_id: d.view.decision_id.clone(),
                accept,
            };
            busy.set(true);
            answer_error.set(None);
            let (busy, answer_error, not_now, key) = (
                busy.clone(),
                answer_error.clone(),
                not_now.clone(),
                key.clone(),
            );
            let navigator = navigator.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match api::answer_offer(&req, &key).await {
                    Ok(_) if accept => {
                        if let Some(nav) = navigator {
                            nav.push(&Route::Application);
                        }
                    }
                    Ok(_) => not_now.set(true),
                    Err(e) => answer_error.set(Some(e)),
                }
                // "Not now" then "accept" are two different requests.
                key.set(new_idempotency_key());
                busy.set(false);
            });
        })
    };

    let body = match &*load {
        Load::Loading => html! {
            <>
                <Loading id="decision-loading" label={lang.pick("正在评估…", "Assessing…")} />
                <Skeleton lines={4} />
            </>
        },
        Load::Loaded(Some(d)) => {
            let in_pool = d
                .application
                .as_ref()
                .is_some_and(|a| a.status == "in_pool");
            let withdrawn = d
                .application
                .as_ref()
                .is_some_and(|a| a.status == "withdrawn");
            let can_answer = d.view.outcome == Outcome::Offer && !in_pool && !withdrawn;
            html! {
                <>
                    <DecisionCard view={d.view.clone()} />
                    if d.view.outcome == Outcome::Offer {
                        <div class="card" id="offer-details">
                            if let Some(until) = &d.valid_until {
                                <p id="offer-valid-until">{ match lang {
                                    Lang::Zh => format!("本次预授信有效期至 {until}"),
                                    Lang::En => format!("This offer can be accepted until {until}"),
                                } }</p>
                            }
                            <h2>{ lang.pick("推荐给您选择的银行", "For the banks you chose") }</h2>
                            <ul class="plain" id="offer-banks">
                                { for d.banks.iter().map(|b| html! {
                                    <li>
                                        <strong>{ b.name.clone() }</strong>
                                        { for b.products.iter().map(|p| html! {
                                            <span class="muted block">{ p.name.clone() }</span>
                                        }) }
                                    </li>
                                }) }
                            </ul>
                            <p class="muted">{ lang.pick(
                                "参考利率仅供参考，最终额度和利率以银行审批为准。",
                                "The rate is indicative; the bank sets the final amount and rate.",
                            ) }</p>
                        </div>
                    }
                    if let Some(after) = &d.retry_after {
                        <div class="card" id="retry-after">
                            <p>{ match lang {
                                Lang::Zh => format!("按上面的建议处理后，可在 {after} 之后重新评估。"),
                                Lang::En => format!("After acting on the advice above, you can ask for a new assessment from {after}."),
                            } }</p>
                        </div>
                    }
                    if *not_now {
                        <Notice id="not-now-notice">{ lang.pick(
                            "已记录。有效期内可随时回来接受。",
                            "Noted. You can come back and accept while the offer holds.",
                        ) }</Notice>
                    }
                    if let Some(e) = &*answer_error {
                        <ErrorAlert id="answer-error" error={e.clone()} />
                    }
                    if can_answer {
                        <button type="button" id="accept-offer" class="btn block" disabled={*busy}
                                onclick={answer(true)}>
                            if *busy {
                                <ButtonSpinner />{ lang.pick("提交中…", "Sending…") }
                            } else {
                                { lang.pick("接受，推荐给所选银行", "Accept — recommend me to these banks") }
                            }
                        </button>
                        if !*not_now {
                            <button type="button" id="not-now" class="btn secondary block" disabled={*busy}
                                    onclick={answer(false)}>
                                { lang.pick("暂不需要", "Not now") }
                            </button>
                        }
                    }
                    if in_pool {
                        <Link<Route> to={Route::Application} classes="btn block">
                            <span id="view-application">{ lang.pick("查看银行联系进度", "See where the banks are") }</span>
                        </Link<Route>>
                    }
                </>
            }
        }
        Load::Loaded(None) => html! {
            <div class="card" id="decision-none">
                <p>{ lang.pick(
                    "还没有评估结果。签署授权书后，约一分钟即可看到可贷金额、参考利率和期限，或未通过的原因。",
                    "No result yet. After you sign the authorization, in about a minute you see the amount, rate and term — or why not.",
                ) }</p>
                <Link<Route> to={Route::Authorize} classes="btn block">
                    { lang.pick("去授权", "Go to the authorization") }
                </Link<Route>>
            </div>
        },
        Load::Failed(e) => html! {
            <ErrorAlert id="decision-error" error={e.clone()} on_retry={load.retry()} />
        },
    };
    html! {
        <section id="decision">
            <h1>{ lang.pick("预授信结果", "Your pre-credit result") }</h1>
            { body }
            <Link<Route> to={Route::Consents} classes="btn secondary block">
                <span id="my-consents">{ lang.pick("我的授权", "My authorizations") }</span>
            </Link<Route>>
        </section>
    }
}
