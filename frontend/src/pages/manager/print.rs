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
            <style>{ PRINT_CSS }</style>
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

/// A4 portrait: 2 × 4 cards of about 105 × 74 mm.
const PRINT_CSS: &str = r#"
.sheets { display: flex; flex-direction: column; gap: 1rem; align-items: center; }
.sheet { display: grid; grid-template-columns: 1fr 1fr; gap: 0; width: 100%; max-width: 210mm; background: #fff; }
.code-card { border: 1px dashed #999; padding: 3mm 4mm; text-align: center; break-inside: avoid; overflow: hidden; }
.code-card h3 { margin: 0; font-size: 13pt; }
.code-card .stall-no { margin: 1mm 0; font-size: 16pt; font-weight: 700; }
.code-card .qr svg { width: 34mm; height: 34mm; }
.code-card ol { list-style: none; padding: 0; margin: 1mm 0; font-size: 8.5pt; text-align: left; }
.code-card .phone { margin: 0; font-size: 9pt; font-weight: 600; }
.code-card .ver { margin: 0; font-size: 7pt; color: #666; }
@page { size: A4 portrait; margin: 0; }
@media print {
  html, body, main { margin: 0 !important; padding: 0 !important; background: #fff; }
  .no-print, header.topbar, footer { display: none !important; }
  .sheets { gap: 0; display: block; }
  .sheet { width: 210mm; height: 297mm; max-width: none; grid-template-rows: repeat(4, 74.25mm); page-break-after: always; break-after: page; }
  .code-card { height: 74.25mm; box-sizing: border-box; }
}
"#;
