//! The authorization letter (授权书). The consent API arrives in a later
//! issue; the screen already has its final structure: who collects, which
//! data, why, which banks (each chosen separately, none pre-ticked), how long,
//! how to withdraw, and an explicit signing action.

use yew::prelude::*;

use crate::components::use_page_title;
use crate::state::use_lang;

#[component]
pub fn Authorize() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("授权书", "Authorization"));
    let sections: [(&str, &str, &str, &str); 6] = [
        (
            "letter-collector",
            "谁收集",
            "Who collects",
            "宜兴市信用信息平台（市场码）",
        ),
        (
            "letter-categories",
            "哪些数据",
            "Which data",
            "登记注册、行政处罚、失信名单、纳税信用、社保公积金、水电气、租金台账",
        ),
        (
            "letter-purpose",
            "用途",
            "Purpose",
            "预授信评估，并推荐给您选择的银行",
        ),
        (
            "letter-banks",
            "给哪些银行",
            "To which banks",
            "由您逐一选择，默认不选",
        ),
        ("letter-term", "期限", "How long", "签署后一年内有效"),
        (
            "letter-withdraw",
            "如何撤回",
            "How to withdraw",
            "在“我的授权”中随时撤回",
        ),
    ];
    html! {
        <section id="authorize">
            <h1>{ lang.pick("信用信息查询授权书", "Authorization to use your credit information") }</h1>
            <div class="card" id="letter">
                <dl class="facts">
                    { for sections.iter().map(|(id, zh, en, body)| html! {
                        <>
                            <dt>{ lang.pick(zh, en) }</dt>
                            <dd id={*id}>{ *body }</dd>
                        </>
                    }) }
                </dl>
            </div>
            <p class="placeholder" id="authorize-pending">{ lang.pick(
                "授权签署功能即将开通。",
                "Signing opens soon.",
            ) }</p>
            <button type="button" id="sign-consent" class="btn block" disabled=true>
                { lang.pick("我已阅读并同意授权", "I have read this and I consent") }
            </button>
        </section>
    }
}
