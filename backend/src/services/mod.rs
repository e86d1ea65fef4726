//! Use cases, one module per area: each runs its queries in one place,
//! with the transaction and the audit rows it needs.

pub mod merchant;
