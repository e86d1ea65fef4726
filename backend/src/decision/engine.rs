//! The decision itself: `decide(policy, facts, day)`. Pure — the same inputs
//! give the same decision on any machine at any time, which is what makes a
//! stored decision replayable.

use chrono::NaiveDate;
use serde::Serialize;
use shared::decision::{DecisionView, Grade, GradeUp, OfferTerms, Outcome, Reason};

use super::facts::Facts;
use super::policy::{Better, Characteristic, Policy};
use super::vars::{Var, Vars, derive};

/// At most this many reasons are given, as the issue asks: more would not be read.
pub const MAX_REASONS: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision<'p> {
    pub policy_version: &'p str,
    pub decided_on: NaiveDate,
    pub outcome: Outcome,
    pub score: i32,
    pub grade: Grade,
    pub terms: Option<OfferTerms>,
    pub explanation: Explanation<'p>,
    pub trace: Trace<'p>,
}

/// The reasons (knock-outs first, then by points lost) and the one change
/// that would raise the grade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation<'p> {
    pub reasons: Vec<ReasonRef<'p>>,
    pub grade_up: Option<GradeUp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReasonRef<'p> {
    pub code: &'p str,
    pub knock_out: bool,
    pub points_lost: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace<'p> {
    pub knock_outs: Vec<KnockOutTrace<'p>>,
    pub base_points: i32,
    pub characteristics: Vec<CharacteristicTrace<'p>>,
    pub cap: CapTrace,
    /// Each source the facts came from, with its origin and as-of date (the
    /// facts' provenance). Empty, and so absent, for facts stored before
    /// provenance was kept: their stored traces replay as they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<super::facts::FactSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnockOutTrace<'p> {
    pub code: &'p str,
    pub var: &'static str,
    pub value: Option<i64>,
    pub hit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CharacteristicTrace<'p> {
    pub name: &'p str,
    pub var: &'static str,
    pub value: Option<i64>,
    /// Index of the bin used; `None` when the value was missing.
    pub bin: Option<usize>,
    pub bin_label: &'p str,
    pub points: i32,
    pub max_points: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapTrace {
    pub rent_paid_12m_yuan: Option<i64>,
    pub grid_cents: Option<i64>,
    pub cap_cents: Option<i64>,
}

/// The part of a decision that depends on the variables only; used for the
/// decision and again for each "what if" of the grade-up search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    knocked_out: bool,
    score: i32,
    grade: Grade,
    outcome: Outcome,
    terms: Option<OfferTerms>,
    /// The offer was turned into a referral by the evidence cap.
    cap_too_low: bool,
}

impl Verdict {
    fn better_than(&self, other: &Verdict) -> bool {
        self.outcome > other.outcome || (self.outcome == other.outcome && self.grade < other.grade)
    }
}

fn points_of(c: &Characteristic, value: Option<i64>) -> (Option<usize>, i32) {
    match value {
        Some(x) => {
            let b = c.bin_of(x);
            (Some(b), c.bins[b].points)
        }
        None => (None, c.missing_points),
    }
}

/// The scorecard total for a set of variables.
pub fn score(policy: &Policy, vars: &Vars) -> i32 {
    policy.scaling.base_points
        + policy
            .characteristics
            .iter()
            .map(|c| points_of(c, vars.get(c.var)).1)
            .sum::<i32>()
}

fn verdict(policy: &Policy, vars: &Vars, score: i32) -> (Verdict, CapTrace) {
    let knocked_out = policy.knock_outs.iter().any(|k| k.hits(vars.get(k.var)));
    let rent_paid = vars.get(Var::RentPaid12mYuan);
    let mut cap_trace = CapTrace {
        rent_paid_12m_yuan: rent_paid,
        grid_cents: None,
        cap_cents: None,
    };
    if knocked_out {
        let v = Verdict {
            knocked_out,
            score,
            grade: Grade::E,
            outcome: Outcome::Decline,
            terms: None,
            cap_too_low: false,
        };
        return (v, cap_trace);
    }
    let band = policy.band_of(score);
    let mut v = Verdict {
        knocked_out,
        score,
        grade: band.grade,
        outcome: band.outcome,
        terms: None,
        cap_too_low: false,
    };
    if band.outcome == Outcome::Offer
        && let Some(offer) = policy.offers.get(&band.grade)
    {
        let cap = &policy.cap;
        let cap_yuan = match rent_paid {
            Some(paid) => paid.saturating_mul(cap.rent_multiple),
            None => cap.no_rent_cap_yuan,
        };
        let cap_cents = cap_yuan.saturating_mul(100);
        let step = cap.round_down_to_yuan.saturating_mul(100).max(1);
        let amount = offer.max_amount_cents.min(cap_cents) / step * step;
        cap_trace.grid_cents = Some(offer.max_amount_cents);
        cap_trace.cap_cents = Some(cap_cents);
        if amount < cap.min_offer_yuan.saturating_mul(100) {
            v.outcome = Outcome::Refer;
            v.cap_too_low = true;
        } else {
            v.terms = Some(OfferTerms {
                max_amount_cents: amount,
                annual_rate_bp: offer.annual_rate_bp,
                term_months: offer.term_months,
                capped_by_evidence: amount < offer.max_amount_cents,
            });
        }
    }
    (v, cap_trace)
}

/// Decides for `facts` under `policy` as of `day`.
pub fn decide<'p>(policy: &'p Policy, facts: &Facts, day: NaiveDate) -> Decision<'p> {
    let mut d = decide_vars(policy, &derive(facts, day), day);
    d.trace.sources = facts.provenance.clone();
    d
}

/// [`decide`] over variables already derived (the back-test and the property
/// tests work at this level).
pub fn decide_vars<'p>(policy: &'p Policy, vars: &Vars, day: NaiveDate) -> Decision<'p> {
    let mut knock_outs = Vec::with_capacity(policy.knock_outs.len());
    let mut reasons: Vec<ReasonRef<'p>> = Vec::with_capacity(MAX_REASONS + 4);
    for k in &policy.knock_outs {
        let value = vars.get(k.var);
        let hit = k.hits(value);
        if hit {
            reasons.push(ReasonRef {
                code: &k.code,
                knock_out: true,
                points_lost: 0,
            });
        }
        knock_outs.push(KnockOutTrace {
            code: &k.code,
            var: k.var.name(),
            value,
            hit,
        });
    }

    let mut total = policy.scaling.base_points;
    let mut characteristics = Vec::with_capacity(policy.characteristics.len());
    let mut lost: Vec<(i32, &'p str)> = Vec::with_capacity(policy.characteristics.len());
    for c in &policy.characteristics {
        let value = vars.get(c.var);
        let (bin, points) = points_of(c, value);
        total += points;
        if points < c.max_points {
            let code = if value.is_some() {
                &c.reason
            } else {
                &c.missing_reason
            };
            lost.push((c.max_points - points, code));
        }
        characteristics.push(CharacteristicTrace {
            name: &c.name,
            var: c.var.name(),
            value,
            bin,
            bin_label: bin.map_or("missing", |b| c.bins[b].label_en.as_str()),
            points,
            max_points: c.max_points,
        });
    }

    let (v, cap) = verdict(policy, vars, total);
    if v.cap_too_low {
        reasons.push(ReasonRef {
            code: &policy.cap.reason,
            knock_out: false,
            points_lost: 0,
        });
    }
    // Most points lost first; equal losses keep the policy's order (stable sort).
    lost.sort_by_key(|&(points_lost, _)| std::cmp::Reverse(points_lost));
    for &(points_lost, code) in &lost {
        if reasons.len() >= MAX_REASONS {
            break;
        }
        // Two characteristics may share a code (no rent ledger): say it once.
        if reasons.iter().any(|r| r.code == code) {
            continue;
        }
        reasons.push(ReasonRef {
            code,
            knock_out: false,
            points_lost,
        });
    }
    reasons.truncate(MAX_REASONS);

    let grade_up = reasons
        .first()
        .and_then(|top| grade_up(policy, vars, &v, top));

    Decision {
        policy_version: &policy.version,
        decided_on: day,
        outcome: v.outcome,
        score: total,
        grade: v.grade,
        terms: v.terms,
        explanation: Explanation { reasons, grade_up },
        trace: Trace {
            knock_outs,
            base_points: policy.scaling.base_points,
            characteristics,
            cap,
            sources: Vec::new(),
        },
    }
}

fn evaluate(policy: &Policy, vars: &Vars) -> Verdict {
    verdict(policy, vars, score(policy, vars)).0
}

/// The smallest change to the top reason that would raise the outcome or the
/// grade, if one exists.
fn grade_up(policy: &Policy, vars: &Vars, now: &Verdict, top: &ReasonRef<'_>) -> Option<GradeUp> {
    let hint = |code: &str, zh: String, en: String, after: Verdict| GradeUp {
        code: code.to_owned(),
        change_zh: zh,
        change_en: en,
        new_grade: after.grade,
        new_outcome: after.outcome,
        new_max_amount_cents: after.terms.map(|t| t.max_amount_cents),
    };
    if top.knock_out {
        let hits: Vec<_> = policy
            .knock_outs
            .iter()
            .filter(|k| k.hits(vars.get(k.var)))
            .collect();
        // With two knock-outs, clearing one still declines: no single change helps.
        let [k] = hits.as_slice() else { return None };
        if !k.repairable || k.code != top.code {
            return None;
        }
        let mut after = *vars;
        after.set(k.var, Some(k.passing_value()));
        let v = evaluate(policy, &after);
        let text = policy.reason(&k.code)?;
        return v
            .better_than(now)
            .then(|| hint(&k.code, text.fix_zh.clone(), text.fix_en.clone(), v));
    }
    let c = policy
        .characteristics
        .iter()
        .find(|c| c.reason == top.code)?;
    // A missing record is not fixed by a small change (e.g. no rent ledger at all).
    let current = vars.get(c.var)?;
    let bin = c.bin_of(current);
    let points = c.bins[bin].points;
    // Candidate bins nearest first, better only: the first that raises the
    // grade is the smallest change.
    let order: Vec<usize> = match c.better {
        Better::Higher => (bin + 1..c.bins.len()).collect(),
        Better::Lower => (0..bin).rev().collect(),
    };
    for j in order {
        let target = &c.bins[j];
        if target.points <= points {
            continue;
        }
        // The bin's edge nearest the current value.
        let value = match c.better {
            Better::Higher => target.from,
            Better::Lower => target.to - 1,
        };
        let mut after = *vars;
        after.set(c.var, Some(value));
        let v = evaluate(policy, &after);
        if v.better_than(now) {
            let from = &c.bins[bin];
            return Some(hint(
                &c.reason,
                format!("{}：{} → {}", c.label_zh, from.label_zh, target.label_zh),
                format!("{}: {} → {}", c.label_en, from.label_en, target.label_en),
                v,
            ));
        }
    }
    None
}

impl Decision<'_> {
    /// The merchant-facing form, with each reason's text and fix from the policy.
    pub fn view(&self, policy: &Policy, decision_id: &str) -> DecisionView {
        let reasons = self
            .explanation
            .reasons
            .iter()
            .map(|r| {
                let text = policy.reason(r.code);
                let pick = |f: fn(&super::policy::ReasonText) -> &String| {
                    text.map(f).cloned().unwrap_or_else(|| r.code.to_owned())
                };
                Reason {
                    code: r.code.to_owned(),
                    knock_out: r.knock_out,
                    points_lost: r.points_lost,
                    text_zh: pick(|t| &t.zh),
                    text_en: pick(|t| &t.en),
                    fix_zh: pick(|t| &t.fix_zh),
                    fix_en: pick(|t| &t.fix_en),
                }
            })
            .collect();
        DecisionView {
            decision_id: decision_id.to_owned(),
            outcome: self.outcome,
            score: self.score,
            grade: self.grade,
            terms: self.terms,
            reasons,
            grade_up: self.explanation.grade_up.clone(),
            policy_version: self.policy_version.to_owned(),
            decided_on: self.decided_on.to_string(),
        }
    }
}
