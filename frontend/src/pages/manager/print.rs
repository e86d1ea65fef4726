//! The batch sheet: the stalls picked in the list as code cards, eight to an
//! A4 page, with print CSS that hides everything but the cards. The QR codes
//! are SVG made by the server, so the app carries no QR encoder.

use gloo_storage::{SessionStorage, Storage};
use shared::manager::{CARD_INSTRUCTIONS, StallCard};
use yew::prelude::*;
use yew_router::prelude::*;

use super::stalls::{PRINT_IDS_KEY, PRINT_MARKET_KEY};
use crate::api::staff as api;
use crate::components::{ErrorAlert, Loading, use_page_title};
use crate::load::{Load, use_load};
use crate::staff_app::StaffRoute;
use crate::state::use_lang;

#[component]
pub fn PrintSheet() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("打印摊位码", "Print stall codes"));
    let cards = use_load((), |()| async {
        let ids: Vec<String> = SessionStorage::get(PRINT_IDS_KEY).unwrap_or_default();
        let market: String = SessionStorage::get(PRINT_MARKET_KEY).unwrap_or_default();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        api::cards((!market.is_empty()).then_some(market.as_str()), ids).await
    });
    let print = Callback::from(|_: MouseEvent| {
        if let Some(w) = web_sys::window() {
            let _ = w.print();
        }
    });
    html! {
        <section id="print-sheet">
            <div class="no-print toolbar">
                <Link<StaffRoute> to={StaffRoute::Manager} classes="btn secondary">{ lang.pick("← 返回摊位列表", "← Back to the stalls") }</Link<StaffRoute>>
                <button type="button" id="print-now" class="btn" onclick={print}>{ lang.pick("打印", "Print") }</button>
                <span class="muted">{ lang.pick("A4 纸，每页8张；打印时选择“无边距”效果最好。", "A4, eight a page; print without margins for best results.") }</span>
            </div>
            { match &*cards {
                Load::Loading => html! { <Loading id="cards-loading" label={lang.pick("正在生成二维码…", "Making the codes…")} /> },
                Load::Failed(e) => html! { <ErrorAlert error={e.clone()} on_retry={cards.retry()} /> },
                Load::Loaded(c) if c.is_empty() => html! {
                    <p id="cards-empty">{ lang.pick("没有选择摊位。请回到摊位列表勾选。", "No stalls chosen. Tick them in the stall list.") }</p>
                },
                Load::Loaded(c) => html! {
                    <div class="sheets" id="cards">
                        { for c.chunks(8).map(|page| html! {
                            <div class="sheet">
                                { for page.iter().map(card) }
                            </div>
                        }) }
                    </div>
                },
            } }
        </section>
    }
}

fn card(c: &StallCard) -> Html {
    html! {
        <article class="code-card" data-number={c.number.clone()} data-version={c.code_version.to_string()}
            data-url={c.url.clone()}>
            <h3>{ &c.market_name }</h3>
            <p class="stall-no">{ format!("摊位 {}", c.number) }</p>
            <div class="qr">{ Html::from_html_unchecked(AttrValue::from(c.qr_svg.clone())) }</div>
            <ol>
                { for CARD_INSTRUCTIONS.iter().map(|l| html! { <li>{ *l }</li> }) }
            </ol>
            <p class="phone">{ format!("管理处电话：{}", c.office_phone) }</p>
            <p class="ver">{ format!("市场码 · {} · 第{}版", c.zone, c.code_version) }</p>
        </article>
    }
}
