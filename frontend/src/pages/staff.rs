//! Consoles for bank officers and the county operator (the market
//! manager's is `pages::manager`).
//! Their APIs and logins come in later issues; each screen already has its
//! route and says what it will hold, so links from elsewhere never dead-end.

use yew::prelude::*;

use crate::components::use_page_title;
use crate::state::use_lang;

#[derive(Properties, PartialEq)]
struct ConsoleProps {
    id: AttrValue,
    title: (&'static str, &'static str),
    duties: Vec<(&'static str, &'static str)>,
}

#[component]
fn Console(props: &ConsoleProps) -> Html {
    let lang = use_lang();
    use_page_title(lang.pick(props.title.0, props.title.1));
    html! {
        <section id={props.id.clone()}>
            <h1>{ lang.pick(props.title.0, props.title.1) }</h1>
            <div class="placeholder">
                <p>{ lang.pick("此控制台正在建设中，将提供：", "This console is being built. It will let you:") }</p>
                <ul>
                    { for props.duties.iter().map(|(zh, en)| html! { <li>{ lang.pick(zh, en) }</li> }) }
                </ul>
            </div>
        </section>
    }
}

#[component]
pub fn Bank() -> Html {
    html! {
        <Console id="bank-console" title={("银行工作台", "Bank officer console")} duties={vec![
            ("只查看授权本行的商户", "see only merchants who authorized your bank"),
            ("认领、联系并记录结果", "claim, contact and record the outcome"),
        ]} />
    }
}

#[component]
pub fn Ops() -> Html {
    html! {
        <Console id="ops-console" title={("运营管理（信用办）", "Operator console (credit office)")} duties={vec![
            ("配置授信政策与贷款产品", "configure credit policy and loan products"),
            ("查看试点指标", "watch the pilot's targets"),
            ("审计数据访问记录", "audit who accessed which data"),
        ]} />
    }
}
