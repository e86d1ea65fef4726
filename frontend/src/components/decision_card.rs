use shared::decision::{DecisionView, Outcome};
use yew::prelude::*;

use crate::i18n::Lang;
use crate::state::use_lang;

#[derive(Properties, PartialEq)]
pub struct DecisionCardProps {
    pub view: DecisionView,
}

/// The answer first (offer or not, how much), then why, then the one change
/// that would help most: the order a merchant asks in.
#[component]
pub fn DecisionCard(props: &DecisionCardProps) -> Html {
    let lang = use_lang();
    let v = &props.view;
    let headline = match v.outcome {
        Outcome::Offer => lang.pick("恭喜，您获得预授信", "You have a pre-credit offer"),
        Outcome::Refer => lang.pick("需要银行人工审核", "A bank officer will review this"),
        Outcome::Decline => lang.pick("暂时未能给出授信", "No offer this time"),
    };
    let terms = v.terms.map(|t| {
        html! {
            <dl class="facts" id="offer-terms">
                <dt>{ lang.pick("最高额度", "Up to") }</dt>
                <dd id="offer-amount">{ yuan(t.max_amount_cents) }</dd>
                <dt>{ lang.pick("参考年利率", "Indicative rate") }</dt>
                <dd id="offer-rate">{ percent(t.annual_rate_bp) }</dd>
                <dt>{ lang.pick("期限", "Term") }</dt>
                <dd id="offer-term">{ months(lang, t.term_months) }</dd>
                <dt>{ lang.pick("信用等级", "Grade") }</dt>
                <dd id="decision-grade">{ v.grade.as_str() }</dd>
            </dl>
        }
    });
    html! {
        <div class="card" id="decision-outcome" data-outcome={v.outcome.as_str()}>
            <h2>{ headline }</h2>
            { for terms }
            if v.terms.is_some_and(|t| t.capped_by_evidence) {
                <p class="muted">{ lang.pick(
                    "额度已按租金缴纳记录能证明的经营规模调整。",
                    "The amount is limited to what your rent record supports.",
                ) }</p>
            }
            if !v.reasons.is_empty() {
                <h2>{ lang.pick("原因与改进建议", "Reasons and what you can do") }</h2>
                <ol id="decision-reasons">
                    { for v.reasons.iter().map(|r| html! {
                        <li data-code={r.code.clone()}>
                            <p>{ pick(lang, &r.text_zh, &r.text_en) }</p>
                            <p class="muted">{ pick(lang, &r.fix_zh, &r.fix_en) }</p>
                        </li>
                    }) }
                </ol>
            }
            if let Some(up) = &v.grade_up {
                <div class="alert ok" id="grade-up">
                    <p>{ pick(lang, &up.change_zh, &up.change_en) }</p>
                    <p>{ match (lang, up.new_max_amount_cents) {
                        (Lang::Zh, Some(c)) => format!("可升至 {} 级，最高 {}", up.new_grade.as_str(), yuan(c)),
                        (Lang::En, Some(c)) => format!("→ grade {}, up to {}", up.new_grade.as_str(), yuan(c)),
                        (Lang::Zh, None) => format!("可升至 {} 级", up.new_grade.as_str()),
                        (Lang::En, None) => format!("→ grade {}", up.new_grade.as_str()),
                    } }</p>
                </div>
            }
            <p class="muted">{ match lang {
                Lang::Zh => format!("评估日期 {}", v.decided_on),
                Lang::En => format!("Assessed on {}", v.decided_on),
            } }</p>
        </div>
    }
}

fn pick(lang: Lang, zh: &str, en: &str) -> String {
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// Whole yuan with thousands separators: offers are never in fen.
fn yuan(cents: i64) -> String {
    let digits = (cents / 100).unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    format!("¥{out}")
}

fn percent(bp: u32) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

fn months(lang: Lang, n: u32) -> String {
    match lang {
        Lang::Zh => format!("{n}个月"),
        Lang::En => format!("{n} months"),
    }
}
