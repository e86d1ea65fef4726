//! Where the merchant's application stands: recommended to which banks, and
//! what each bank has done ("已推荐给 2 家银行，等待联系").

use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::merchant as api;
use crate::app::{Route, use_session_load};
use crate::components::{ErrorAlert, Loading, Skeleton, use_page_title};
use crate::i18n::Lang;
use crate::load::Load;
use crate::state::use_lang;

#[component]
pub fn Application() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("申请进度", "Application status"));
    let load = use_session_load((), |()| api::application());

    let body = match &*load {
        Load::Loading => html! {
            <>
                <Loading id="application-loading" label={lang.pick("正在读取…", "Loading…")} />
                <Skeleton lines={3} />
            </>
        },
        Load::Loaded(None) => html! {
            <div class="card" id="application-none">
                <p>{ lang.pick("您还没有提交申请。", "You have not applied yet.") }</p>
                <Link<Route> to={Route::Decision} classes="btn block">
                    { lang.pick("查看预授信结果", "See your pre-credit result") }
                </Link<Route>>
            </div>
        },
        Load::Failed(e) => html! {
            <ErrorAlert id="application-error" error={e.clone()} on_retry={load.retry()} />
        },
        Load::Loaded(Some(a)) => {
            let n = a.entries.len();
            let headline = match (a.status.as_str(), lang) {
                ("in_pool", Lang::Zh) => format!("已推荐给 {n} 家银行，等待联系"),
                ("in_pool", Lang::En) => {
                    format!("Recommended to {n} bank(s); waiting for them to contact you")
                }
                ("withdrawn", _) => lang
                    .pick(
                        "授权已撤回，银行已看不到您的信息",
                        "Authorization withdrawn; the banks no longer see you",
                    )
                    .to_owned(),
                (_, _) => lang
                    .pick("您选择了暂不需要", "You chose “not now”")
                    .to_owned(),
            };
            html! {
                <div class="card" id="application" data-status={a.status.clone()}>
                    <h2 id="application-status">{ headline }</h2>
                    <ul class="plain" id="pool-entries">
                        { for a.entries.iter().map(|e| html! {
                            <li data-status={e.status.clone()}>
                                <strong>{ e.bank_name.clone() }</strong>
                                <span class="muted block">{ entry_status(lang, &e.status) }</span>
                            </li>
                        }) }
                    </ul>
                    <p class="muted">{ lang.pick(
                        "银行客户经理会通过您登记的手机号联系您。",
                        "A bank officer will call the mobile number you logged in with.",
                    ) }</p>
                </div>
            }
        }
    };
    html! {
        <section id="application-page">
            <h1>{ lang.pick("申请进度", "Your application") }</h1>
            { body }
            <Link<Route> to={Route::Consents} classes="btn secondary block">
                <span id="my-consents">{ lang.pick("我的授权", "My authorizations") }</span>
            </Link<Route>>
        </section>
    }
}

fn entry_status(lang: Lang, status: &str) -> &'static str {
    match status {
        "waiting" => lang.pick("等待银行联系", "Waiting for the bank"),
        "claimed" => lang.pick("银行已受理，即将联系您", "The bank has taken it up"),
        "contacted" => lang.pick("银行已联系您", "The bank has contacted you"),
        "approved" => lang.pick("银行已批准", "Approved by the bank"),
        "rejected" => lang.pick("银行未批准", "Not approved by the bank"),
        "withdrawn" => lang.pick("已撤回", "Withdrawn"),
        _ => lang.pick("处理中", "In progress"),
    }
}
