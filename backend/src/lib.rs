//! Market Code server library. `main.rs` is a shim over [`cli::main`]; tests
//! build the router with [`app::router`].
//!
//! Where a request goes: `app.rs` (router, middleware) → `routes/<caller>.rs`
//! (extract, authorize, call a service) → `services/` (one use case each) →
//! `db/` (schema, connections, migrations).

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod credit;
pub mod db;
pub mod decision;
pub mod decisions;
pub mod error;
pub mod passwords;
pub mod routes;
pub mod seed;
pub mod services;
pub mod stall_codes;
pub mod stall_page;
pub mod web;

pub use error::{AppError, AppResult};
