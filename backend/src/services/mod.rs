//! Use cases, one module per area: each runs its queries in one place,
//! with the transaction and the audit rows it needs.

pub mod applications;
pub mod audit;
pub mod consent;
pub mod dashboard;
pub mod identity;
pub mod login;
pub mod merchant;
pub mod refusals;
pub mod rent_ledger;
pub mod staff;
pub mod stall_import;
pub mod stalls;
