//! Server configuration, read once from the environment at start-up.
//!
//! Every variable is documented in the README's "Configuration" table; keep
//! the two in step.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server listens. `MARKET_CODE_ADDR`, default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// Database URL: a SQLite file path, or `postgres://…`. `DATABASE_URL`,
    /// default `<data_dir>/market-code.sqlite3`.
    pub database_url: String,
    /// Folder for the SQLite file, generated keys and the development SMS
    /// outbox. `MARKET_CODE_DATA_DIR`, default `./data`.
    pub data_dir: PathBuf,
    /// The built SPA (Trunk's output). `MARKET_CODE_DIST_DIR`, default `./dist`.
    pub dist_dir: PathBuf,
    /// The base URL printed on stall codes. `MARKET_CODE_PUBLIC_URL`, default
    /// `http://<addr>`.
    pub public_url: String,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let addr_text = env_or("MARKET_CODE_ADDR", "127.0.0.1:8080");
        let addr: SocketAddr = addr_text
            .parse()
            .map_err(|e| format!("MARKET_CODE_ADDR={addr_text:?} is not host:port ({e})"))?;
        let data_dir = PathBuf::from(env_or("MARKET_CODE_DATA_DIR", "data"));
        let database_url = std::env::var("DATABASE_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| data_dir.join("market-code.sqlite3").display().to_string());
        let dist_dir = PathBuf::from(env_or("MARKET_CODE_DIST_DIR", "dist"));
        let public_url = env_or("MARKET_CODE_PUBLIC_URL", &format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            addr,
            database_url,
            data_dir,
            dist_dir,
            public_url,
        })
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}
