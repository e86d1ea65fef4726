//! The merchant's signed authorizations: the exact text signed, the banks,
//! when it expires, and a withdraw button. Filled in when the consent API lands.

use yew::prelude::*;

use crate::components::use_page_title;
use crate::state::use_lang;

#[component]
pub fn Consents() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("我的授权", "My consents"));
    html! {
        <section id="consents">
            <h1>{ lang.pick("我的授权", "My consents") }</h1>
            <ul class="plain" id="consent-list"></ul>
            <p class="placeholder" id="consents-empty">{ lang.pick(
                "您还没有签署授权。签署后可在此查看全文并随时撤回。",
                "You have not signed any authorization. Once you do, you can read it here and withdraw it at any time.",
            ) }</p>
        </section>
    }
}
