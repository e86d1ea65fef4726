//! `/bank`: a placeholder. The bank officers' console (their own login, the
//! leads of their bank, claim and record the outcome) is not built yet; it
//! comes with the bank side of the API (issue 10). Until then the page says
//! so, so that links to it never dead-end.

use yew::prelude::*;

use crate::components::use_page_title;
use crate::state::use_lang;

#[component]
pub fn Bank() -> Html {
    let lang = use_lang();
    let title = lang.pick("银行工作台", "Bank officer console");
    use_page_title(title);
    html! {
        <section id="bank-console">
            <h1>{ title }</h1>
            <div class="placeholder">
                <p>{ lang.pick(
                    "银行工作台尚未开通。开通后将提供：",
                    "The bank console is not open yet. When it is, it will let you:",
                ) }</p>
                <ul>
                    <li>{ lang.pick("只查看授权本行的商户", "see only merchants who authorized your bank") }</li>
                    <li>{ lang.pick("认领、联系并记录结果", "claim, contact and record the outcome") }</li>
                </ul>
            </div>
        </section>
    }
}
