//! Everything the browser and the server must agree on: API request and
//! response types, the error body, and the validation of identifiers and of
//! whole forms (one function each, run by the form before it sends and by
//! the handler when it receives).
//!
//! This crate compiles for `wasm32-unknown-unknown` and for the server. It
//! does no IO and reads no clock: callers pass "now" in where it matters.

pub mod api;
pub mod consent;
pub mod decision;
pub mod error;
pub mod form;
pub mod ids;
pub mod limits;
pub mod manager;
pub mod merchant;
pub mod stall_code;
