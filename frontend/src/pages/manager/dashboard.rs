//! The funnel and weekly activity, drawn as plain SVG by the app (no chart
//! library in the bundle), the plan's targets beside the figures, and a CSV
//! export. Counts only: never a merchant's credit data. A manager's outcome
//! counts under five come as "<5" and are drawn as such.

use shared::manager::{Dashboard, SMALL_CELL, format_yuan as yuan};
use yew::prelude::*;

use crate::api::staff as api;
use crate::components::{ErrorAlert, Loading};
use crate::i18n::Lang;
use crate::load::{Load, use_load};
use crate::state::use_lang;

#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    pub market: Option<String>,
}

#[component]
pub fn DashboardView(props: &DashboardProps) -> Html {
    let lang = use_lang();
    let data = use_load(props.market.clone(), |market| async move {
        api::dashboard(market.as_deref()).await
    });
    let d = match &*data {
        Load::Loading => {
            return html! { <Loading id="dashboard-loading" label={lang.pick("正在统计…", "Counting…")} /> };
        }
        Load::Failed(e) => {
            return html! { <ErrorAlert error={e.clone()} on_retry={data.retry()} /> };
        }
        Load::Loaded(d) => d,
    };
    let csv = api::dashboard_csv_url(props.market.as_deref());
    html! {
        <div id="dashboard">
            <h2>{ match (&d.market_name, lang) {
                (Some(n), _) => n.clone(),
                (None, Lang::Zh) => "全部市场".to_owned(),
                (None, Lang::En) => "All markets".to_owned(),
            } }</h2>
            <p class="muted">{ match lang {
                Lang::Zh => format!("本周自 {} 起（周一）", d.week_start),
                Lang::En => format!("This week: since Monday {}", d.week_start),
            } }</p>
            <div class="table-wrap">
                <table class="data" id="funnel-table">
                    <thead><tr>
                        <th>{ lang.pick("环节", "Step") }</th>
                        <th>{ lang.pick("累计", "Total") }</th>
                        <th>{ lang.pick("本周", "This week") }</th>
                    </tr></thead>
                    <tbody>
                        { for d.funnel.iter().map(|s| html! {
                            <tr data-step={s.key.clone()}>
                                <td>{ if lang == Lang::Zh { &s.label_zh } else { &s.label_en } }</td>
                                <td class="total">{ if s.tracked { s.total.shown() } else { lang.pick("暂无数据", "not recorded yet").to_owned() } }</td>
                                <td class="week">{ if s.tracked { s.this_week.shown() } else { "—".to_owned() } }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
            <p id="offer-amount">{ match (lang, d.offers_total_cents) {
                (Lang::Zh, Some(total)) => format!("获得预授信 {} 户，额度合计 {} 元", d.offers_count.shown(), yuan(total)),
                (Lang::En, Some(total)) => format!("{} merchants offered, {} yuan in total", d.offers_count.shown(), yuan(total)),
                (Lang::Zh, None) => format!("获得预授信 {} 户（不足 {SMALL_CELL} 户时不显示确切数字和金额）", d.offers_count.shown()),
                (Lang::En, None) => format!("{} merchants offered (below {SMALL_CELL}, neither the number nor the amount is shown)", d.offers_count.shown()),
            } }</p>
            if d.suppressed {
                <p class="muted" id="small-cell-note">{ lang.pick(
                    "为保护商户隐私，评估结果类数字少于 5 时显示为“<5”，也不列出单个商户的结果。",
                    "To protect merchants' privacy, outcome figures under 5 show as “<5”, and no single merchant's result is listed.",
                ) }</p>
            }
            <h3>{ lang.pick("漏斗", "Funnel") }</h3>
            { funnel_chart(d, lang) }
            <h3>{ lang.pick("近8周活动", "Last 8 weeks") }</h3>
            { weekly_chart(d, lang) }
            <h3>{ lang.pick("试点目标", "Pilot targets") }</h3>
            <div class="table-wrap">
                <table class="data" id="targets">
                    <thead><tr>
                        <th>{ lang.pick("指标", "Measure") }</th>
                        <th>{ lang.pick("目标", "Target") }</th>
                        <th>{ lang.pick("当前", "Now") }</th>
                    </tr></thead>
                    <tbody>
                        { for d.targets.iter().map(|t| html! {
                            <tr>
                                <td>{ if lang == Lang::Zh { &t.label_zh } else { &t.label_en } }</td>
                                <td>{ &t.target }</td>
                                <td>{ t.actual.clone().unwrap_or_else(|| lang.pick("暂无数据", "no data yet").to_owned()) }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
            if d.market_id.is_some() {
                <h3>{ lang.pick("商户进度", "Merchants") }</h3>
                if d.merchants.is_empty() {
                    <p class="muted" id="merchants-none">{ lang.pick("还没有商户登录。", "No merchant has logged in yet.") }</p>
                } else {
                    <div class="table-wrap">
                        <table class="data" id="merchant-statuses">
                            <thead><tr>
                                <th>{ lang.pick("摊位", "Stall") }</th>
                                <th>{ lang.pick("手机", "Mobile") }</th>
                                <th>{ lang.pick("进度", "Stage") }</th>
                                <th class="opt">{ lang.pick("首次登录", "First login") }</th>
                            </tr></thead>
                            <tbody>
                                { for d.merchants.iter().map(|m| html! {
                                    <tr>
                                        <td>{ m.stall_number.clone().unwrap_or_else(|| "—".to_owned()) }</td>
                                        <td>{ &m.mobile_masked }</td>
                                        <td class="stage" data-stage={m.stage.clone()}>{ match m.stage.as_str() {
                                            "offer" => lang.pick("预授信", "Offered"),
                                            "refer" => lang.pick("转人工", "Referred"),
                                            "decline" => lang.pick("未通过", "Declined"),
                                            "authorized" => lang.pick("已授权", "Authorized"),
                                            "verified" => lang.pick("已实名认证", "Identity verified"),
                                            _ => lang.pick("已登录", "Logged in"),
                                        } }</td>
                                        <td class="opt">{ &m.since }</td>
                                    </tr>
                                }) }
                            </tbody>
                        </table>
                    </div>
                }
            }
            <p><a id="dashboard-csv" class="btn secondary" href={csv} download="dashboard.csv">
                { lang.pick("导出 CSV", "Export CSV") }</a></p>
        </div>
    }
}

fn funnel_chart(d: &Dashboard, lang: Lang) -> Html {
    let steps: Vec<_> = d.funnel.iter().filter(|s| s.tracked).collect();
    // A "<5" is drawn as a sliver: its length must not tell the number.
    let max = steps
        .iter()
        .filter_map(|s| s.total.exact())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let row = 34.0;
    let height = row * steps.len() as f64 + 8.0;
    html! {
        <svg class="chart" id="funnel-chart" viewBox={format!("0 0 600 {height}")} role="img"
            aria-label={lang.pick("漏斗图", "Funnel chart")}>
            { for steps.iter().enumerate().map(|(i, s)| {
                let y = 4.0 + i as f64 * row;
                let w = (s.total.exact().unwrap_or(0) as f64 / max * 360.0).max(2.0);
                let label = if lang == Lang::Zh { s.label_zh.clone() } else { s.label_en.clone() };
                html! {
                    <g>
                        <text x="0" y={format!("{}", y + 20.0)} font-size="13">{ label }</text>
                        <rect x="200" y={y.to_string()} width={format!("{w:.1}")} height="26" fill="#c0392b" rx="3" />
                        <text x={format!("{:.1}", 206.0 + w)} y={format!("{}", y + 19.0)} font-size="13">{ s.total.shown() }</text>
                    </g>
                }
            }) }
        </svg>
    }
}

fn weekly_chart(d: &Dashboard, lang: Lang) -> Html {
    let max = d
        .weekly
        .iter()
        .flat_map(|w| [w.logged_in, w.authorized, w.offered.exact().unwrap_or(0)])
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (chart_h, top) = (140.0, 10.0);
    let slot = 600.0 / d.weekly.len().max(1) as f64;
    let bar = (slot - 12.0) / 3.0;
    let colors = ["#2c7be5", "#f0a500", "#27ae60"];
    html! {
        <>
        <svg class="chart" id="weekly-chart" viewBox="0 0 600 180" role="img"
            aria-label={lang.pick("每周登录、授权、预授信", "Weekly logins, authorizations, offers")}>
            { for d.weekly.iter().enumerate().map(|(i, w)| {
                let x0 = i as f64 * slot + 6.0;
                html! {
                    <g>
                        { for [w.logged_in, w.authorized, w.offered.exact().unwrap_or(0)].iter().enumerate().map(|(k, v)| {
                            let h = *v as f64 / max * chart_h;
                            html! { <rect x={format!("{:.1}", x0 + k as f64 * bar)} y={format!("{:.1}", top + chart_h - h)}
                                width={format!("{:.1}", bar - 1.0)} height={format!("{h:.1}")} fill={colors[k]} /> }
                        }) }
                        <text x={format!("{:.1}", x0)} y="172" font-size="11">{ w.week_start.get(5..).unwrap_or_default().to_owned() }</text>
                    </g>
                }
            }) }
        </svg>
        <p class="muted">
            <span class="swatch-login">{ "■ " }</span>{ lang.pick("登录", "logged in") }{ "　" }
            <span class="swatch-consent">{ "■ " }</span>{ lang.pick("授权", "authorized") }{ "　" }
            <span class="swatch-offer">{ "■ " }</span>{ lang.pick("预授信", "offered") }
        </p>
        </>
    }
}
