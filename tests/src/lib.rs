//! Helpers for the end-to-end suites in `tests/tests/`.
//!
//! `cargo xtask test` starts a real server (fresh database, ephemeral port)
//! and a chromedriver, then runs these suites with:
//! - `E2E_BASE_URL`: the server, e.g. `http://127.0.0.1:41234`
//! - `E2E_DATA_DIR`: the server's data folder (development SMS outbox, keys)
//! - `E2E_DATABASE`: `sqlite` or `postgresql`
//! - `E2E_WEBDRIVER_URL`: chromedriver, for the `browser_*` suites
//! - `E2E_SCREENSHOT_DIR`: where browser tests save their screenshots
//!
//! Without them the suites fail at once with a message saying so: they are
//! never silently skipped.

use std::path::PathBuf;

pub mod browser;

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end-to-end suites with `cargo xtask test`")
    })
}

/// The server under test, without a trailing slash.
pub fn base_url() -> String {
    required("E2E_BASE_URL").trim_end_matches('/').to_owned()
}

/// `base_url()` joined with an absolute path such as `/api/health`.
pub fn url(path: &str) -> String {
    format!("{}{path}", base_url())
}

/// The server's data folder.
pub fn data_dir() -> PathBuf {
    PathBuf::from(required("E2E_DATA_DIR"))
}

/// `sqlite` or `postgresql`: which backend the server under test uses.
pub fn database() -> String {
    required("E2E_DATABASE")
}

/// A client with its own cookie jar: one per simulated person.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("http client")
}
