//! The pre-credit result: an offer (amount, indicative rate, term) or a
//! decline, with up to four reasons and what the merchant can do about each.

use shared::decision::DecisionView;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::{self, ApiError};
use crate::app::Route;
use crate::components::{DecisionCard, ErrorAlert, Loading, Skeleton, use_page_title};
use crate::state::use_lang;

#[derive(Clone, PartialEq)]
enum Load {
    Loading,
    Ready(DecisionView),
    /// No decision yet: the merchant has not authorized, or it is not made.
    None,
    Failed(ApiError),
}

#[component]
pub fn Decision() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("预授信结果", "Pre-credit result"));
    let navigator = use_navigator();
    let load = use_state(|| Load::Loading);
    let attempt = use_state(|| 0u32);

    {
        let load = load.clone();
        use_effect_with(*attempt, move |_| {
            load.set(Load::Loading);
            wasm_bindgen_futures::spawn_local(async move {
                match api::latest_decision().await {
                    Ok(v) => load.set(Load::Ready(v)),
                    Err(e) if e.status() == Some(404) => load.set(Load::None),
                    Err(e) if e.status() == Some(401) => {
                        if let Some(nav) = navigator {
                            nav.replace(&Route::Login);
                        }
                    }
                    Err(e) => load.set(Load::Failed(e)),
                }
            });
        });
    }

    let body = match &*load {
        Load::Loading => html! {
            <>
                <Loading id="decision-loading" label={lang.pick("正在评估…", "Assessing…")} />
                <Skeleton lines={4} />
            </>
        },
        Load::Ready(v) => html! { <DecisionCard view={v.clone()} /> },
        Load::None => html! {
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
        Load::Failed(e) => {
            let attempt = attempt.clone();
            let retry = Callback::from(move |()| attempt.set(*attempt + 1));
            html! { <ErrorAlert id="decision-error" error={e.clone()} on_retry={retry} /> }
        }
    };
    html! {
        <section id="decision">
            <h1>{ lang.pick("预授信结果", "Your pre-credit result") }</h1>
            { body }
        </section>
    }
}
