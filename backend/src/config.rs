//! Server configuration, read once from the environment at start-up.
//!
//! Every variable is documented in the README's "Configuration" table; keep
//! the two in step.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;

use crate::identity::{REAL_NAME_ENV, RealNameSetting};

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
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or
    /// CIDR ranges). `MARKET_CODE_TRUSTED_PROXIES`, comma-separated, default
    /// none: the client's address is the socket's.
    pub trusted_proxies: Vec<IpNet>,
    /// The real-name check (实名认证) in use. `MARKET_CODE_REAL_NAME_CHECK`,
    /// default the development roster `<data_dir>/real-name-roster.csv`.
    pub real_name: RealNameSetting,
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
        let trusted_proxies = parse_trusted_proxies(&env_or("MARKET_CODE_TRUSTED_PROXIES", ""))
            .map_err(|e| format!("MARKET_CODE_TRUSTED_PROXIES: {e}"))?;
        let real_name = RealNameSetting::parse(&env_or(REAL_NAME_ENV, ""), &data_dir)?;
        Ok(Self {
            addr,
            database_url,
            data_dir,
            dist_dir,
            public_url,
            trusted_proxies,
            real_name,
        })
    }
}

/// `10.0.0.1, 10.1.0.0/16, ::1`: each entry an address or a CIDR range. A
/// bad entry stops the server rather than silently trusting less (or more).
pub fn parse_trusted_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .map(|net| net.trunc())
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR range"))
        })
        .collect()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        assert_eq!(parse_trusted_proxies("").unwrap(), vec![]);
        assert_eq!(parse_trusted_proxies(" , ").unwrap(), vec![]);
        let nets = parse_trusted_proxies("10.0.0.1, 192.168.0.0/16,::1 ,fd00::/8").unwrap();
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["10.0.0.1/32", "192.168.0.0/16", "::1/128", "fd00::/8"]
        );
        // Host bits in a range are dropped, not a reason to refuse.
        assert_eq!(
            parse_trusted_proxies("10.1.2.3/8").unwrap()[0].to_string(),
            "10.0.0.0/8"
        );
        for bad in ["proxy.local", "10.0.0.1/33", "10.0.0", "10.0.0.1;10.0.0.2"] {
            let e = parse_trusted_proxies(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
