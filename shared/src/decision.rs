//! What a credit decision tells the merchant: outcome, grade, offer terms,
//! up to four reasons with what to do about each, and the one change that
//! would raise the grade. The server's engine fills these in; the browser
//! renders them. No IO, no clock.

use serde::{Deserialize, Serialize};

/// Ordered worst to best, so `a < b` means "b is better for the merchant".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Decline,
    Refer,
    Offer,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decline => "decline",
            Self::Refer => "refer",
            Self::Offer => "offer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "decline" => Some(Self::Decline),
            "refer" => Some(Self::Refer),
            "offer" => Some(Self::Offer),
            _ => None,
        }
    }
}

/// Credit grade A (best) to E. Ordered best first, so `Grade::A < Grade::B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
    D,
    E,
}

impl Grade {
    pub const ALL: [Grade; 5] = [Grade::A, Grade::B, Grade::C, Grade::D, Grade::E];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
            Self::E => "E",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// A pre-credit offer. Money in fen (cents), rate in basis points a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferTerms {
    pub max_amount_cents: i64,
    pub annual_rate_bp: u32,
    pub term_months: u32,
    /// Whether the grid amount was lowered to what the rent evidence supports.
    pub capped_by_evidence: bool,
}

/// One reason, in the merchant's words, with the credit-repair path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable code, e.g. `RENT_ARREARS`.
    pub code: String,
    /// True for a knock-out rule (the decline itself), false for a scorecard
    /// characteristic that cost points.
    pub knock_out: bool,
    /// Points below the characteristic's best bin (0 for knock-outs).
    pub points_lost: i32,
    pub text_zh: String,
    pub text_en: String,
    pub fix_zh: String,
    pub fix_en: String,
}

/// "Pay the two months of rent in arrears → grade B, up to ¥80,000".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeUp {
    /// The reason this change addresses.
    pub code: String,
    pub change_zh: String,
    pub change_en: String,
    pub new_grade: Grade,
    pub new_outcome: Outcome,
    /// The offer amount at the new grade, if it would be an offer.
    pub new_max_amount_cents: Option<i64>,
}

/// The merchant-facing view of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    pub decision_id: String,
    pub outcome: Outcome,
    pub score: i32,
    pub grade: Grade,
    pub terms: Option<OfferTerms>,
    pub reasons: Vec<Reason>,
    pub grade_up: Option<GradeUp>,
    pub policy_version: String,
    /// `YYYY-MM-DD`.
    pub decided_on: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_order_puts_offer_best() {
        assert!(Outcome::Decline < Outcome::Refer && Outcome::Refer < Outcome::Offer);
        for o in [Outcome::Decline, Outcome::Refer, Outcome::Offer] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("maybe"), None);
    }

    #[test]
    fn grade_text_round_trips() {
        for g in Grade::ALL {
            assert_eq!(Grade::parse(g.as_str()), Some(g));
        }
        assert_eq!(Grade::parse("F"), None);
        assert!(Grade::A < Grade::E);
    }
}
