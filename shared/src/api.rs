//! Request and response types of the HTTP API, by caller.
//!
//! The backend's handlers and the frontend's client both use these types, so
//! the two cannot drift apart.

use serde::{Deserialize, Serialize};

/// `GET /api/health`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// The server's package version.
    pub version: String,
    /// `"sqlite"` or `"postgresql"`.
    pub database: String,
    /// Version of the newest migration applied, e.g. `"2026-11-26-000001"`.
    pub migration: String,
    /// Name of the demo (or first) market, when one exists: lets a person see
    /// at a glance that the server reached its data.
    pub market: Option<String>,
}
