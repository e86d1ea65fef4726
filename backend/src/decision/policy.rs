//! The credit policy as data: a TOML file (see `backend/policy/`) read into
//! [`Policy`] and checked once at load, so the engine itself can assume a
//! well-formed policy and never fail.
//!
//! Score scale: `score = base_points + Σ bin points`. The points are meant on
//! a scale where `base_score` means odds `base_odds`:1 (good:bad) and every
//! `pdo` points double the odds; [`Policy::odds_at`] gives the implied odds.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use shared::decision::{Grade, Outcome};

use super::vars::Var;

/// Why a policy file was refused: a stable code and a message in both
/// languages naming the place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} / {}",
            self.code, self.message_en, self.message_zh
        )
    }
}

impl std::error::Error for PolicyError {}

fn invalid(zh: impl Into<String>, en: impl Into<String>) -> PolicyError {
    PolicyError {
        code: "policy_invalid",
        message_zh: zh.into(),
        message_en: en.into(),
    }
}

// ---- the file as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: String,
    description: String,
    scaling: Scaling,
    #[serde(default)]
    knock_out: Vec<KnockOutFile>,
    characteristic: Vec<CharacteristicFile>,
    band: Vec<BandFile>,
    offer: BTreeMap<String, OfferFile>,
    cap: Cap,
    reasons: BTreeMap<String, ReasonText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    pub base_score: i32,
    pub base_odds: f64,
    pub pdo: f64,
    /// Points every applicant starts with (the scorecard's intercept).
    pub base_points: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KnockOutFile {
    code: String,
    var: String,
    /// Knocked out when the value is below this.
    below: Option<i64>,
    /// Knocked out when the value is above this.
    above: Option<i64>,
    /// Knocked out when there is no value.
    #[serde(default)]
    missing_knocks_out: bool,
    /// The merchant can clear it (pay, repair); the engine then suggests it.
    #[serde(default)]
    repairable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CharacteristicFile {
    name: String,
    var: String,
    reason: String,
    /// Reason code when the value is missing (default: `reason`); "no rent
    /// ledger" is different advice from "rent in arrears".
    #[serde(default)]
    missing_reason: Option<String>,
    label_zh: String,
    label_en: String,
    better: Better,
    missing_points: i32,
    bins: Vec<BinFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BinFile {
    from: Option<i64>,
    to: Option<i64>,
    points: i32,
    label_zh: String,
    label_en: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BandFile {
    grade: String,
    min_score: i32,
    outcome: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferFile {
    max_amount_yuan: i64,
    annual_rate_bp: u32,
    term_months: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    /// The amount may not exceed this multiple of the rent actually paid in
    /// the last twelve months.
    pub rent_multiple: i64,
    /// The limit for a merchant without a rent ledger.
    pub no_rent_cap_yuan: i64,
    /// Below this the offer is not worth making: the decision is a referral.
    pub min_offer_yuan: i64,
    pub round_down_to_yuan: i64,
    /// Reason code used when the cap pushes the amount below the minimum.
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonText {
    pub zh: String,
    pub en: String,
    pub fix_zh: String,
    pub fix_en: String,
}

// ---- the checked form ----------------------------------------------------

#[derive(Debug, Clone)]
pub struct KnockOut {
    pub code: String,
    pub var: Var,
    pub below: Option<i64>,
    pub above: Option<i64>,
    pub missing_knocks_out: bool,
    pub repairable: bool,
}

impl KnockOut {
    pub fn hits(&self, value: Option<i64>) -> bool {
        match value {
            None => self.missing_knocks_out,
            Some(x) => self.below.is_some_and(|b| x < b) || self.above.is_some_and(|a| x > a),
        }
    }

    /// A value that passes the rule (used to ask "what if this were repaired").
    pub fn passing_value(&self) -> i64 {
        // The boundary itself: the smallest repair that clears the rule
        // (the loader guarantees below <= above).
        match (self.below, self.above) {
            (_, Some(a)) => a,
            (Some(b), None) => b,
            (None, None) => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Bin {
    /// Inclusive; `i64::MIN` for the first bin.
    pub from: i64,
    /// Exclusive; `i64::MAX` for the last bin.
    pub to: i64,
    pub points: i32,
    pub label_zh: String,
    pub label_en: String,
}

#[derive(Debug, Clone)]
pub struct Characteristic {
    pub name: String,
    pub var: Var,
    pub reason: String,
    pub missing_reason: String,
    pub label_zh: String,
    pub label_en: String,
    pub better: Better,
    pub missing_points: i32,
    pub bins: Vec<Bin>,
    pub max_points: i32,
}

impl Characteristic {
    /// The bin holding `value`; bins cover every integer, so this always finds one.
    pub fn bin_of(&self, value: i64) -> usize {
        self.bins
            .iter()
            .position(|b| value < b.to)
            .unwrap_or(self.bins.len() - 1)
    }
}

#[derive(Debug, Clone)]
pub struct Band {
    pub grade: Grade,
    pub min_score: i32,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy)]
pub struct Offer {
    pub max_amount_cents: i64,
    pub annual_rate_bp: u32,
    pub term_months: u32,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub version: String,
    pub description: String,
    pub scaling: Scaling,
    pub knock_outs: Vec<KnockOut>,
    pub characteristics: Vec<Characteristic>,
    /// Highest `min_score` first.
    pub bands: Vec<Band>,
    pub offers: BTreeMap<Grade, Offer>,
    pub cap: Cap,
    pub reasons: BTreeMap<String, ReasonText>,
    /// The file text, kept so every stored decision can name exactly what it ran.
    pub source_text: String,
}

/// The policy shipped with this build. New versions are new files; old files
/// stay so that old decisions can be replayed under the rules they were made by.
pub const BUILTIN: &[(&str, &str)] = &[("2026.11-1", include_str!("../../policy/2026.11-1.toml"))];

impl Policy {
    /// The newest built-in policy.
    pub fn current() -> Policy {
        let (_, text) = BUILTIN[BUILTIN.len() - 1];
        // The file is checked by a unit test; a broken one fails the build's tests.
        Policy::from_toml(text).unwrap_or_else(|e| panic!("built-in policy is invalid: {e}"))
    }

    pub fn builtin(version: &str) -> Option<Policy> {
        BUILTIN
            .iter()
            .find(|(v, _)| *v == version)
            .and_then(|(_, text)| Policy::from_toml(text).ok())
    }

    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            invalid(
                format!("策略文件格式错误：{}", e.message()),
                format!("the policy file does not parse: {e}"),
            )
        })?;
        validate(file, text)
    }

    /// Implied good:bad odds at `score` on this policy's scale.
    pub fn odds_at(&self, score: i32) -> f64 {
        let s = &self.scaling;
        s.base_odds * 2f64.powf(f64::from(score - s.base_score) / s.pdo)
    }

    pub fn band_of(&self, score: i32) -> &Band {
        self.bands
            .iter()
            .find(|b| score >= b.min_score)
            .unwrap_or(&self.bands[self.bands.len() - 1])
    }

    pub fn reason(&self, code: &str) -> Option<&ReasonText> {
        self.reasons.get(code)
    }
}

fn validate(f: PolicyFile, text: &str) -> Result<Policy, PolicyError> {
    if f.version.trim().is_empty() {
        return Err(invalid("version 不能为空", "version must not be empty"));
    }
    let s = &f.scaling;
    if !(s.base_odds > 0.0 && s.base_odds.is_finite() && s.pdo > 0.0 && s.pdo.is_finite()) {
        return Err(invalid(
            "scaling：base_odds 和 pdo 必须为正数",
            "scaling: base_odds and pdo must be positive",
        ));
    }
    let need_reason = |code: &str, place: &str| -> Result<(), PolicyError> {
        if f.reasons.contains_key(code) {
            Ok(())
        } else {
            Err(invalid(
                format!("{place}：原因代码 {code} 在 [reasons] 中没有说明文字"),
                format!("{place}: reason code {code} has no text in [reasons]"),
            ))
        }
    };
    let var_of = |name: &str, place: &str| {
        Var::parse(name).ok_or_else(|| {
            invalid(
                format!("{place}：未知变量 {name}"),
                format!("{place}: unknown variable {name}"),
            )
        })
    };

    let mut knock_outs = Vec::new();
    for (i, k) in f.knock_out.into_iter().enumerate() {
        let place = format!("knock_out[{i}] {}", k.code);
        let var = var_of(&k.var, &place)?;
        if k.below.is_none() && k.above.is_none() && !k.missing_knocks_out {
            return Err(invalid(
                format!("{place}：须给出 below、above 或 missing_knocks_out"),
                format!("{place}: give below, above or missing_knocks_out"),
            ));
        }
        if let (Some(b), Some(a)) = (k.below, k.above)
            && b > a
        {
            return Err(invalid(
                format!("{place}：below 大于 above，任何值都会被拒绝"),
                format!("{place}: below > above knocks out every value"),
            ));
        }
        need_reason(&k.code, &place)?;
        knock_outs.push(KnockOut {
            code: k.code,
            var,
            below: k.below,
            above: k.above,
            missing_knocks_out: k.missing_knocks_out,
            repairable: k.repairable,
        });
    }

    let mut characteristics = Vec::new();
    let mut names = BTreeSet::new();
    for c in f.characteristic {
        let place = format!("characteristic {}", c.name);
        if !names.insert(c.name.clone()) {
            return Err(invalid(
                format!("{place}：名称重复"),
                format!("{place}: duplicate name"),
            ));
        }
        let var = var_of(&c.var, &place)?;
        need_reason(&c.reason, &place)?;
        let missing_reason = c.missing_reason.unwrap_or_else(|| c.reason.clone());
        need_reason(&missing_reason, &place)?;
        if c.bins.is_empty() {
            return Err(invalid(
                format!("{place}：至少需要一个分箱"),
                format!("{place}: needs at least one bin"),
            ));
        }
        let n = c.bins.len();
        let mut bins = Vec::with_capacity(n);
        for (j, b) in c.bins.into_iter().enumerate() {
            let from = match (j, b.from) {
                (0, None) => i64::MIN,
                (0, Some(_)) => {
                    return Err(invalid(
                        format!("{place}：第一个分箱不能有 from（须覆盖所有较小的值）"),
                        format!(
                            "{place}: the first bin must have no `from` (it covers all lower values)"
                        ),
                    ));
                }
                (_, Some(x)) => x,
                (_, None) => {
                    return Err(invalid(
                        format!("{place}：第 {} 个分箱缺少 from", j + 1),
                        format!("{place}: bin {} has no `from`", j + 1),
                    ));
                }
            };
            let to = match (j + 1 == n, b.to) {
                (true, None) => i64::MAX,
                (true, Some(_)) => {
                    return Err(invalid(
                        format!("{place}：最后一个分箱不能有 to（须覆盖所有较大的值）"),
                        format!(
                            "{place}: the last bin must have no `to` (it covers all higher values)"
                        ),
                    ));
                }
                (false, Some(x)) => x,
                (false, None) => {
                    return Err(invalid(
                        format!("{place}：第 {} 个分箱缺少 to", j + 1),
                        format!("{place}: bin {} has no `to`", j + 1),
                    ));
                }
            };
            if from >= to {
                return Err(invalid(
                    format!("{place}：第 {} 个分箱为空（from ≥ to）", j + 1),
                    format!("{place}: bin {} is empty (from ≥ to)", j + 1),
                ));
            }
            if let Some(prev) = bins.last().map(|p: &Bin| p.to)
                && prev != from
            {
                return Err(invalid(
                    format!(
                        "{place}：第 {} 个分箱须从 {prev} 开始（分箱须首尾相接）",
                        j + 1
                    ),
                    format!(
                        "{place}: bin {} must start at {prev} (bins must be contiguous)",
                        j + 1
                    ),
                ));
            }
            bins.push(Bin {
                from,
                to,
                points: b.points,
                label_zh: b.label_zh,
                label_en: b.label_en,
            });
        }
        // A better value must never cost points: the merchant is told "improve X",
        // so X's points must not fall as X improves.
        let monotone = bins.windows(2).all(|w| match c.better {
            Better::Higher => w[0].points <= w[1].points,
            Better::Lower => w[0].points >= w[1].points,
        });
        if !monotone {
            return Err(invalid(
                format!("{place}：分数须随取值变好而不减"),
                format!("{place}: points must not fall as the value gets better"),
            ));
        }
        let max_points = bins.iter().map(|b| b.points).max().unwrap_or(0);
        if c.missing_points > max_points {
            return Err(invalid(
                format!("{place}：missing_points 不能高于最好的分箱"),
                format!("{place}: missing_points may not exceed the best bin"),
            ));
        }
        characteristics.push(Characteristic {
            name: c.name,
            var,
            reason: c.reason,
            missing_reason,
            label_zh: c.label_zh,
            label_en: c.label_en,
            better: c.better,
            missing_points: c.missing_points,
            bins,
            max_points,
        });
    }

    let mut bands = Vec::new();
    for b in f.band {
        let grade = Grade::parse(&b.grade).ok_or_else(|| {
            invalid(
                format!("band：未知等级 {}", b.grade),
                format!("band: unknown grade {}", b.grade),
            )
        })?;
        let outcome = Outcome::parse(&b.outcome).ok_or_else(|| {
            invalid(
                format!("band {}：未知结果 {}", b.grade, b.outcome),
                format!("band {}: unknown outcome {}", b.grade, b.outcome),
            )
        })?;
        bands.push(Band {
            grade,
            min_score: b.min_score,
            outcome,
        });
    }
    let mut sorted = bands.clone();
    sorted.sort_by_key(|b| b.grade);
    let ordered = sorted
        .windows(2)
        .all(|w| w[0].min_score > w[1].min_score && w[0].outcome >= w[1].outcome);
    if sorted.len() != Grade::ALL.len()
        || sorted.iter().zip(Grade::ALL).any(|(b, g)| b.grade != g)
        || !ordered
    {
        return Err(invalid(
            "band：须为 A–E 各一档，分数线由高到低，结果不能随等级变好而变差",
            "band: need exactly one band for each of A–E, min_score falling from A to E, and no better grade with a worse outcome",
        ));
    }
    // The lowest band catches every score below the others.
    sorted[Grade::ALL.len() - 1].min_score = i32::MIN;

    let mut offers = BTreeMap::new();
    for (g, o) in f.offer {
        let grade = Grade::parse(&g).ok_or_else(|| {
            invalid(
                format!("offer：未知等级 {g}"),
                format!("offer: unknown grade {g}"),
            )
        })?;
        if o.max_amount_yuan <= 0 || o.term_months == 0 {
            return Err(invalid(
                format!("offer.{g}：金额和期限须为正数"),
                format!("offer.{g}: amount and term must be positive"),
            ));
        }
        offers.insert(
            grade,
            Offer {
                max_amount_cents: o.max_amount_yuan.saturating_mul(100),
                annual_rate_bp: o.annual_rate_bp,
                term_months: o.term_months,
            },
        );
    }
    for b in &sorted {
        if b.outcome == Outcome::Offer && !offers.contains_key(&b.grade) {
            return Err(invalid(
                format!(
                    "等级 {} 的结果为 offer，但 [offer] 中没有它的额度",
                    b.grade.as_str()
                ),
                format!(
                    "grade {} offers credit but has no entry in [offer]",
                    b.grade.as_str()
                ),
            ));
        }
    }
    let cap = f.cap;
    if cap.rent_multiple < 0 || cap.no_rent_cap_yuan < 0 || cap.round_down_to_yuan <= 0 {
        return Err(invalid(
            "cap：倍数和额度不能为负，round_down_to_yuan 须为正数",
            "cap: multiples and limits must not be negative; round_down_to_yuan must be positive",
        ));
    }
    need_reason(&cap.reason, "cap")?;

    Ok(Policy {
        version: f.version,
        description: f.description,
        scaling: f.scaling,
        knock_outs,
        characteristics,
        bands: sorted,
        offers,
        cap,
        reasons: f.reasons,
        source_text: text.to_owned(),
    })
}
