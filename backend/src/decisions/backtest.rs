//! Back-testing a policy: run it over a population of facts as of one day
//! and count outcomes, grades, offers and reasons. The report prints itself
//! (`Display`); `backend backtest` chooses the policy and the population.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use shared::decision::{Grade, Outcome};

use crate::decision::{Facts, Policy, decide};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BacktestReport {
    pub policy_version: String,
    pub as_of: Option<NaiveDate>,
    pub merchants: usize,
    pub outcomes: BTreeMap<Outcome, usize>,
    pub grades: BTreeMap<Grade, usize>,
    pub offer_total_cents: i64,
    pub offers_capped: usize,
    /// How often each code appears among a decision's (up to four) reasons.
    pub reasons: BTreeMap<String, usize>,
    /// How often each code is the first reason.
    pub top_reasons: BTreeMap<String, usize>,
    pub seconds: f64,
}

/// Runs `policy` over `population` as of `day`.
pub fn backtest(policy: &Policy, population: &[Facts], day: NaiveDate) -> BacktestReport {
    let mut r = BacktestReport {
        policy_version: policy.version.clone(),
        as_of: Some(day),
        merchants: population.len(),
        ..BacktestReport::default()
    };
    for f in population {
        let d = decide(policy, f, day);
        *r.outcomes.entry(d.outcome).or_default() += 1;
        *r.grades.entry(d.grade).or_default() += 1;
        if let Some(t) = d.terms {
            r.offer_total_cents += t.max_amount_cents;
            r.offers_capped += usize::from(t.capped_by_evidence);
        }
        for (i, reason) in d.explanation.reasons.iter().enumerate() {
            *r.reasons.entry(reason.code.to_owned()).or_default() += 1;
            if i == 0 {
                *r.top_reasons.entry(reason.code.to_owned()).or_default() += 1;
            }
        }
    }
    r
}

impl std::fmt::Display for BacktestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.merchants.max(1) as f64;
        let pct = |k: usize| 100.0 * k as f64 / n;
        let offers = self.outcomes.get(&Outcome::Offer).copied().unwrap_or(0);
        writeln!(
            f,
            "policy {}, {} merchants as of {}, {:.2} s",
            self.policy_version,
            self.merchants,
            self.as_of.map_or_else(|| "-".into(), |d| d.to_string()),
            self.seconds
        )?;
        writeln!(f, "approval rate (offer): {:.1}%", pct(offers))?;
        for o in [Outcome::Offer, Outcome::Refer, Outcome::Decline] {
            let k = self.outcomes.get(&o).copied().unwrap_or(0);
            writeln!(f, "  {:<8} {:>6}  {:>5.1}%", o.as_str(), k, pct(k))?;
        }
        writeln!(f, "grades:")?;
        for g in Grade::ALL {
            let k = self.grades.get(&g).copied().unwrap_or(0);
            writeln!(f, "  {}        {:>6}  {:>5.1}%", g.as_str(), k, pct(k))?;
        }
        let avg = if offers > 0 {
            self.offer_total_cents as f64 / offers as f64 / 100.0
        } else {
            0.0
        };
        writeln!(
            f,
            "average offer: ¥{avg:.0} ({} of {offers} capped by rent evidence)",
            self.offers_capped
        )?;
        writeln!(
            f,
            "reason codes (share of merchants; first reason in brackets):"
        )?;
        let mut codes: Vec<_> = self.reasons.iter().collect();
        codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (code, k) in codes {
            let top = self.top_reasons.get(code).copied().unwrap_or(0);
            writeln!(f, "  {code:<24} {k:>6}  {:>5.1}%  [{top}]", pct(*k))?;
        }
        Ok(())
    }
}

/// The day a population is "as of": its newest export date.
pub fn as_of(population: &[Facts]) -> Option<NaiveDate> {
    population
        .iter()
        .flat_map(|f| f.as_of.values().copied())
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credit::generate;
    use crate::decisions::current_policy;

    #[test]
    fn the_backtest_counts_every_merchant_once() {
        let ds = generate::generate(400, 3, "2026-11-20".parse().unwrap());
        let r = backtest(current_policy(), &ds.facts(), "2026-11-20".parse().unwrap());
        assert_eq!(r.merchants, 400);
        assert_eq!(r.outcomes.values().sum::<usize>(), 400);
        assert_eq!(r.grades.values().sum::<usize>(), 400);
        // Generated base rates put most merchants in the offer band and some on lists.
        assert!(r.outcomes[&Outcome::Offer] > 200, "{r}");
        assert!(r.outcomes[&Outcome::Decline] > 0, "{r}");
        let text = r.to_string();
        assert!(text.contains("approval rate"));
    }

    #[test]
    fn a_population_is_as_of_its_newest_export() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let mut facts = generate::generate(20, 3, day("2026-10-31")).facts();
        assert_eq!(as_of(&facts), Some(day("2026-10-31")));
        let one = facts[7].as_of.values_mut().next().unwrap();
        *one = day("2026-11-30");
        assert_eq!(as_of(&facts), Some(day("2026-11-30")));
        assert_eq!(as_of(&[]), None);
    }
}
