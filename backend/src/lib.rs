//! Market Code server library. `main.rs` is a shim over [`cli::main`]; tests
//! build the router with [`app::router`] over a [`state::AppState`].
//!
//! Where a request goes, and the only direction imports go: `app.rs`
//! (router, middleware) → `routes/<caller>.rs` (extract, authorize, call a
//! service) with `request/` (the extractors) → `services/` (one use case
//! each) → `auth/`, `identity/`, `connectors/`, `decision/`, … → `db/`. Nothing below
//! `routes` imports `routes`, `app` or `request`; `services` never touch
//! HTTP types.

pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod credit;
pub mod db;
pub mod decision;
pub mod decisions;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod identity;
pub mod passwords;
pub mod request;
pub mod routes;
pub mod security_headers;
pub mod seed;
pub mod services;
pub mod stall_codes;
pub mod stall_page;
pub mod state;
#[cfg(test)]
mod test_fixtures;
pub mod web;
pub mod working_days;

pub use error::{AppError, AppResult};
