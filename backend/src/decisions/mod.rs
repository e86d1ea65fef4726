//! Decisions made, kept and checked: the IO around the pure engine in
//! `decision/`.
//!
//! - `store`: `decide_for` — the one entry point of the merchant flow: the
//!   connectors read the facts under the merchant's consent (each read
//!   logged), the engine decides, and the decision is stored with everything
//!   needed to recompute it — and the merchant's views of stored decisions;
//! - `replay`: recomputes a stored decision and lists every difference;
//! - `backtest`: runs a policy over a population and reports the figures.
//!
//! The commands that print these (`backend replay`, `backend backtest`) live
//! with the rest of the command line in `cli.rs`.

pub mod backtest;
pub mod replay;
pub mod store;

pub use backtest::{BacktestReport, backtest};
pub use replay::{ReplayReport, replay};
pub use store::{
    DecisionRow, StoredDecision, Subject, current_policy, decide_for, decide_with, latest_view,
    load_view,
};
