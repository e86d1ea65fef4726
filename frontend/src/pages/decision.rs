//! The pre-credit result: an offer (amount, indicative rate, term, valid
//! until) or a decline, with up to four reasons and what the merchant can do
//! about each. Filled in when the decision API lands.

use yew::prelude::*;

use crate::state::use_lang;

#[component]
pub fn Decision() -> Html {
    let lang = use_lang();
    html! {
        <section id="decision">
            <h1>{ lang.pick("预授信结果", "Your pre-credit result") }</h1>
            <div class="card" id="decision-outcome">
                <p class="placeholder">{ lang.pick(
                    "完成授权后，这里会显示可贷金额、参考利率、期限和有效期，或未通过的原因。",
                    "After you give consent, this shows the amount, indicative rate, term and validity — or why not.",
                ) }</p>
            </div>
            <h2>{ lang.pick("原因与改进建议", "Reasons and what you can do") }</h2>
            <ol id="decision-reasons" class="muted">
                <li>{ lang.pick("暂无", "Nothing yet") }</li>
            </ol>
        </section>
    }
}
