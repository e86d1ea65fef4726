use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::app::Route;
use crate::components::{ErrorAlert, Loading, use_page_title};
use crate::load::{Load, use_load};
use crate::state::use_lang;

/// What the product is, who it is for, and whether the server is reachable.
#[component]
pub fn Home() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("首页", "Home"));
    let health = use_load((), |()| api::health());

    let status = match &*health {
        Load::Loading => html! {
            <Loading id="health-loading" label={lang.pick("正在连接服务器…", "Contacting the server…")} />
        },
        Load::Failed(e) => html! {
            <ErrorAlert id="health-error" error={e.clone()} on_retry={health.retry()} />
        },
        Load::Loaded(h) => html! {
            <dl class="facts" id="health">
                <dt>{ lang.pick("市场", "Market") }</dt>
                <dd id="health-market">{ h.market.clone().unwrap_or_default() }</dd>
                <dt>{ lang.pick("数据库", "Database") }</dt>
                <dd id="health-database">{ h.database.clone() }</dd>
                <dt>{ lang.pick("版本", "Version") }</dt>
                <dd id="health-version">{ h.version.clone() }</dd>
                <dt>{ lang.pick("数据结构", "Schema") }</dt>
                <dd id="health-migration">{ h.migration.clone() }</dd>
            </dl>
        },
    };

    html! {
        <>
            <h1>{ lang.pick("市场码：扫码在线获得信用贷款", "Market Code: credit for market merchants, online") }</h1>
            <section class="card" id="for-merchants">
                <h2>{ lang.pick("我是商户", "I run a stall") }</h2>
                <p>{ lang.pick(
                    "请用微信或“看宜兴”扫描您摊位上的市场码。确认摊位、登录并授权后，约一分钟即可看到预授信结果和原因。",
                    "Scan the Market Code on your stall with WeChat or the 看宜兴 app. Confirm your stall, log in and give consent: in about a minute you see a pre-credit offer and the reasons for it.",
                ) }</p>
                <p class="muted">{ lang.pick(
                    "不收任何费用。您可以随时查看和撤回授权。",
                    "It is free. You can see and withdraw your consent at any time.",
                ) }</p>
                <Link<Route> to={Route::Consents} classes="btn secondary block">
                    { lang.pick("我的授权", "My consents") }
                </Link<Route>>
            </section>
            <section class="card" id="for-staff">
                <h2>{ lang.pick("工作人员入口", "Staff") }</h2>
                // The consoles are a separate app (kept out of this bundle), so
                // these are full page loads.
                <a href="/manager" class="btn block">
                    <span id="manager-link">{ lang.pick("市场管理方控制台", "Market manager console") }</span>
                </a>
                <div class="row">
                    <a href="/bank" class="btn secondary">{ lang.pick("银行", "Bank") }</a>
                    <a href="/ops" class="btn secondary">{ lang.pick("运营", "Operator") }</a>
                </div>
            </section>
            <section class="card" id="server-status">
                <h2>{ lang.pick("服务状态", "Service status") }</h2>
                { status }
            </section>
        </>
    }
}
