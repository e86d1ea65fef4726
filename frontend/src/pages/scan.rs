//! `/s/:code`: where a stall's QR code lands. Before asking for anything the
//! merchant sees whose stall this is and confirms it.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::merchant as api;
use crate::app::Route;
use crate::components::{ErrorAlert, Loading, Skeleton, use_page_title};
use crate::i18n::Lang;
use crate::load::{Load, use_load_given};
use crate::prerendered;
use crate::state::{remember_scanned_code, use_lang};

#[derive(Properties, PartialEq)]
pub struct ScanProps {
    pub code: String,
}

#[component]
pub fn Scan(props: &ScanProps) -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("确认摊位", "Confirm your stall"));
    let navigator = use_navigator();
    // A page the server rendered carries its answer: shown at once, and not
    // asked for again.
    let given_code = props.code.clone();
    let load = use_load_given(
        move || prerendered::scan_answer(&given_code),
        props.code.clone(),
        |code| async move { api::code_info(&code).await },
    );
    // Set when the merchant says "not my stall".
    let denied = use_state(|| false);

    match &*load {
        Load::Loading => html! {
            <section id="scan">
                <Loading id="code-loading" label={lang.pick("正在核对二维码…", "Checking the code…")} />
                <Skeleton lines={4} />
            </section>
        },
        // Both languages at once, Chinese first: a dead end should be
        // understood whatever the setting (the server renders the same).
        Load::Failed(e) if e.is_permanent() => html! {
            <section id="code-invalid">
                <h1>{ "此二维码无效" }</h1>
                <p>{ "请联系市场管理处。" }</p>
                <p lang="en">{ "This code is not valid. Please ask the market office." }</p>
                // The refusal's own wording says why (revoked, forged, unknown).
                <p class="muted" id="code-invalid-reason">{ e.message(Lang::Zh) }</p>
                <p class="muted" lang="en">{ e.message(Lang::En) }</p>
            </section>
        },
        Load::Failed(e) => html! {
            <section id="scan">
                <h1>{ lang.pick("暂时无法核对二维码", "Cannot check the code right now") }</h1>
                <ErrorAlert id="code-error" error={e.clone()} on_retry={load.retry()} />
            </section>
        },
        Load::Loaded(info) if *denied => html! {
            <section id="stall-denied">
                <h1>{ lang.pick("摊位信息不符", "Not your stall") }</h1>
                <p>{ lang.pick(
                    "请勿继续。请联系市场管理处核对摊位信息：",
                    "Please stop here and ask the market office to check the stall details:",
                ) }</p>
                <OfficePhone phone={info.market_office_phone.clone()} />
            </section>
        },
        Load::Loaded(info) => {
            let confirm = {
                let code = props.code.clone();
                Callback::from(move |_| {
                    remember_scanned_code(&code);
                    if let Some(nav) = &navigator {
                        nav.push(&Route::Login);
                    }
                })
            };
            let deny = {
                let denied = denied.clone();
                Callback::from(move |_| denied.set(true))
            };
            let stall = info
                .stall_number
                .clone()
                .unwrap_or_else(|| lang.pick("（市场通用码）", "(market-wide code)").to_owned());
            html! {
                <section id="scan">
                    <h1>{ lang.pick("这是我的摊位吗？", "Is this your stall?") }</h1>
                    <div class="card" id="code-info">
                        <dl class="facts">
                            <dt>{ lang.pick("市场", "Market") }</dt>
                            <dd id="code-market">{ info.market_name.clone() }</dd>
                            <dt>{ lang.pick("摊位号", "Stall") }</dt>
                            <dd id="code-stall">{ stall }</dd>
                            if let Some(zone) = &info.zone {
                                <dt>{ lang.pick("区域", "Zone") }</dt>
                                <dd id="code-zone">{ zone.clone() }</dd>
                            }
                            if let Some(trade) = &info.trade {
                                <dt>{ lang.pick("经营类别", "Trade") }</dt>
                                <dd id="code-trade">{ trade.clone() }</dd>
                            }
                            <dt>{ lang.pick("管理处电话", "Office phone") }</dt>
                            <dd><a id="code-phone" href={format!("tel:{}", info.market_office_phone)}>
                                { info.market_office_phone.clone() }
                            </a></dd>
                        </dl>
                    </div>
                    <div class="row">
                        <button type="button" id="confirm-stall" class="btn" onclick={confirm}>
                            { lang.pick("是，是我的", "Yes, it is mine") }
                        </button>
                        <button type="button" id="deny-stall" class="btn secondary" onclick={deny}>
                            { lang.pick("不是", "No") }
                        </button>
                    </div>
                </section>
            }
        }
    }
}

#[derive(Properties, PartialEq)]
struct OfficePhoneProps {
    phone: String,
}

/// A big tap-to-call link: the fix for most problems here is a phone call.
#[component]
fn OfficePhone(props: &OfficePhoneProps) -> Html {
    html! {
        <a id="office-phone" class="btn block secondary" href={format!("tel:{}", props.phone)}>
            { format!("☎ {}", props.phone) }
        </a>
    }
}
