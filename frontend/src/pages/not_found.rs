use crate::components::use_page_title;
use crate::state::use_lang;
use yew::prelude::*;

#[component]
pub fn NotFound() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("页面不存在", "Not found"));
    html! {
        <section id="not-found">
            <h1>{ lang.pick("页面不存在", "Page not found") }</h1>
            <p>{ lang.pick(
                "您打开的地址不存在。如果是扫码进入的，请联系市场管理处。",
                "This address does not exist. If you scanned a code, please ask the market office.",
            ) }</p>
            // A full page load: this page also shows inside the staff console,
            // whose router has no home.
            <a href="/" class="btn block">{ lang.pick("返回首页", "Go to the home page") }</a>
        </section>
    }
}
