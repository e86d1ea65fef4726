//! The decision engine: pure functions from (policy, facts, as-of date) to a
//! decision. No IO, no clock, no randomness — the callers read the facts
//! (under consent, in `connectors`), pass "today" in, and store the result
//! (`decisions`). That is what lets `backend replay` recompute any stored
//! decision and get the same answer.
//!
//! `facts` (what the exports say) → `vars` (numbers at a date) → `engine`
//! (knock-outs, scorecard, grade, offer, reasons, trace) under a `policy`
//! read from `backend/policy/*.toml`.

pub mod engine;
pub mod facts;
pub mod policy;
pub mod vars;

#[cfg(test)]
mod tests;

pub use engine::{Decision, decide, decide_vars};
pub use facts::{Facts, Source};
pub use policy::{Policy, PolicyError};
pub use vars::{Var, Vars};
