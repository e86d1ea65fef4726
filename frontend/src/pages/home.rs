//! The home page, the entry the city app (看宜兴) links to: what the product
//! is, the way in for a stall holder (scan the stall's code) and for an
//! individual business without a stall ("没有摊位？直接申请": the same login,
//! real-name check and letter, with no stall or market), and the staff
//! consoles. The service's technical status is at `/api/health`, not here.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::components::use_page_title;
use crate::state::{forget_scanned_code, use_lang};

#[component]
pub fn Home() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("首页", "Home"));
    let navigator = use_navigator();
    let apply = Callback::from(move |_: MouseEvent| {
        forget_scanned_code();
        if let Some(nav) = &navigator {
            nav.push(&Route::Login);
        }
    });

    html! {
        <>
            <h1>{ lang.pick("市场码：扫码在线获得信用贷款", "Market Code: credit for market merchants, online") }</h1>
            <section class="card" id="for-merchants">
                <h2>{ lang.pick("我是商户", "I run a stall") }</h2>
                <p>{ lang.pick(
                    "请用微信或“看宜兴”扫描您摊位上的市场码。确认摊位、登录、实名认证并授权后，约一分钟即可看到预授信结果和原因。",
                    "Scan the Market Code on your stall with WeChat or the 看宜兴 app. Confirm your stall, log in, verify your identity and give consent: in about a minute you see a pre-credit offer and the reasons for it.",
                ) }</p>
                <p class="muted">{ lang.pick(
                    "不收任何费用。您可以随时查看和撤回授权。",
                    "It is free. You can see and withdraw your consent at any time.",
                ) }</p>
                <Link<Route> to={Route::Consents} classes="btn secondary block">
                    { lang.pick("我的授权", "My consents") }
                </Link<Route>>
            </section>
            <section class="card" id="without-stall">
                <h2>{ lang.pick("没有摊位？直接申请", "No stall? Apply directly") }</h2>
                <p>{ lang.pick(
                    "个体工商户和小微企业的经营者，也可以用手机直接申请：登录、实名认证、签署授权书，即可看到结果。",
                    "Operators of individual businesses and small firms can apply on the phone too: log in, verify your identity, sign the authorization, and see your result.",
                ) }</p>
                <button type="button" id="apply-without-stall" class="btn block" onclick={apply}>
                    { lang.pick("直接申请", "Apply now") }
                </button>
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
        </>
    }
}
