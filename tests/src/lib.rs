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
pub mod merchant;

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

/// The server's own `backend` binary: `E2E_BACKEND_BIN` (set by `cargo xtask
/// test`), else the one beside this test's target folder.
fn backend_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("E2E_BACKEND_BIN") {
        return PathBuf::from(bin);
    }
    // <target>/debug/deps/<test>-… → <target>/debug/backend
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target folder")
        .join(format!("backend{}", std::env::consts::EXE_SUFFIX))
}

/// Runs a `backend` command against the server under test's data folder and
/// database, as a market office or the credit office would, and returns what
/// it printed. Panics with its error output when it fails.
pub fn backend(args: &[&str], extra_env: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new(backend_bin());
    cmd.args(args)
        .env("MARKET_CODE_DATA_DIR", data_dir())
        .env("MARKET_CODE_PUBLIC_URL", base_url())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null());
    if let Ok(url) = std::env::var("E2E_DATABASE_URL") {
        cmd.env("DATABASE_URL", url);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", backend_bin().display()));
    assert!(
        out.status.success(),
        "backend {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The URL printed on a stall's QR code (`backend stall-url <stall>`; pass
/// `--market-wide` for the market's own code).
pub fn stall_url(stall: &str) -> String {
    backend(&["stall-url", stall], &[]).trim().to_owned()
}

/// The signed code of a stall's URL, the part after `/S/`; the URL must be on
/// the server under test.
pub fn stall_code(stall: &str) -> String {
    let url = stall_url(stall);
    let (base, code) = url
        .rsplit_once(shared::stall_code::COMPACT_PATH)
        .expect("a compact /S/ URL");
    assert_eq!(base, base_url(), "stall URLs carry the public base URL");
    code.to_owned()
}

/// A number the server's own database gives for `sql` (`SELECT COUNT(*) …`),
/// through its command-line client: the tests check the server's figures
/// and side effects against the database itself.
pub fn db_count(sql: &str) -> i64 {
    db_text(sql)
        .parse()
        .unwrap_or_else(|_| panic!("{sql} did not give a number"))
}

/// What the server's own database prints for `sql` (one row; columns joined
/// by `|`), through its command-line client.
pub fn db_text(sql: &str) -> String {
    let out = if database() == "postgresql" {
        let url = std::env::var("E2E_DATABASE_URL").expect("E2E_DATABASE_URL for PostgreSQL");
        std::process::Command::new("psql")
            .args([url.as_str(), "-tAc", sql])
            .output()
    } else {
        let file = data_dir().join("market-code.sqlite3");
        // The server may be writing: wait out its lock as the server's own
        // connections do (busy timeout), instead of failing at once.
        std::process::Command::new("sqlite3")
            .args(["-cmd", ".timeout 10000"])
            .arg(file)
            .arg(sql)
            .output()
    }
    .expect("run the database client");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `text` in GBK, as Excel on a Chinese Windows saves a CSV. Panics on a
/// character GBK cannot hold, so a test never uploads a mangled file unknowingly.
pub fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "{text:?} has characters GBK cannot encode");
    bytes.into_owned()
}
