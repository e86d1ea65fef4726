//! Server configuration, read once from the environment at start-up.
//!
//! Every variable is documented in the README's "Configuration" table; keep
//! the two in step.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;

use crate::identity::{REAL_NAME_ENV, RealNameSetting};
use crate::working_days::WorkCalendar;

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
    /// `development` (the default) or `production`, which refuses to start
    /// with anything only fit for a developer's machine (see
    /// `state::AppState::open`). `MARKET_CODE_ENV`.
    pub mode: Mode,
    /// Origins that may show the app in a frame, besides the app itself
    /// (CSP `frame-ancestors`). `MARKET_CODE_FRAME_ANCESTORS`, separated by
    /// commas or spaces, default none.
    pub frame_ancestors: Vec<String>,
    /// The abuse limits per client address and in total.
    /// `MARKET_CODE_LIMITS`, `name=value` pairs (see [`Limits`]).
    pub limits: Limits,
    /// Public holidays and make-up working days for deadlines counted in
    /// working days: `MARKET_CODE_HOLIDAYS` names a file in the format of
    /// `backend/calendar/cn-holidays.txt`, which is built in otherwise.
    pub calendar: WorkCalendar,
    /// The SMS gateway, if one is configured (`MARKET_CODE_SMS_GATEWAY_URL`,
    /// `MARKET_CODE_SMS_GATEWAY_TOKEN`); without one, codes go to the
    /// development outbox, which production refuses.
    pub sms_gateway: Option<SmsGateway>,
    /// The stall-code signing keys: `MARKET_CODE_CODE_KEY` (signs; in
    /// development generated into the data folder when unset) and
    /// `MARKET_CODE_CODE_KEYS_RETIRED` (still verify).
    pub code_keys: KeySettings,
    /// The field-encryption keys: `MARKET_CODE_FIELD_KEY` (encrypts) and
    /// `MARKET_CODE_FIELD_KEYS_RETIRED` (still decrypt).
    pub field_keys: KeySettings,
    /// The key of the resident-ID blind index, `MARKET_CODE_INDEX_KEY` (in
    /// development generated into the data folder when unset). Never
    /// rotated: every stored index value depends on it.
    pub index_key: Option<String>,
}

/// One kind of key as configured: the current one (if given) and the
/// retired ones, each hex or base64 text. Prints without them.
#[derive(Clone, Default)]
pub struct KeySettings {
    pub current: Option<String>,
    pub retired: Vec<String>,
}

impl KeySettings {
    fn from_env(current: &str, retired: &str) -> Self {
        Self {
            current: std::env::var(current).ok().filter(|v| !v.trim().is_empty()),
            retired: std::env::var(retired)
                .unwrap_or_default()
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeySettings(current {}, {} retired, <redacted>)",
            if self.current.is_some() {
                "set"
            } else {
                "unset"
            },
            self.retired.len()
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

/// Where login codes are sent in production: an HTTP endpoint taking a JSON
/// POST (`auth::sms::GatewaySender`). The token never reaches a log.
#[derive(Clone)]
pub struct SmsGateway {
    pub url: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Limits that hold across server processes (counters in the database):
/// per client address and in total, per hour. Each number's own limits
/// (one code a minute, ten a day, five tries a code) and the staff login
/// throttle's delays are fixed in `auth::otp` and `services::staff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// SMS codes sent at the request of one client address, per hour.
    pub otp_sends_per_address: u32,
    /// SMS codes sent in total, per hour.
    pub otp_sends_total: u32,
    /// Wrong SMS codes typed from one client address, per hour.
    pub otp_failures_per_address: u32,
    /// Wrong SMS codes typed in total, per hour.
    pub otp_failures_total: u32,
    /// Wrong staff passwords from one client address (any usernames), per
    /// hour.
    pub login_failures_per_address: u32,
}

impl Default for Limits {
    /// Sized for a county pilot: a market office's shared connection (or a
    /// carrier's NAT) is one address for many merchants, so the per-address
    /// limits leave room for a busy morning, and the totals for every
    /// merchant of the county logging in within a few days.
    fn default() -> Self {
        Self {
            otp_sends_per_address: 30,
            otp_sends_total: 2_000,
            otp_failures_per_address: 30,
            otp_failures_total: 2_000,
            login_failures_per_address: 30,
        }
    }
}

impl Limits {
    /// `otp_sends_per_address=30, otp_sends_total=2000`: the named limits
    /// replace the defaults, the others stay. Unknown names are an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut limits = Self::default();
        for entry in text
            .split([',', ' '])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (name, value) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not name=value"))?;
            let value: u32 = value
                .trim()
                .parse()
                .map_err(|_| format!("{entry:?}: the value is not a whole number"))?;
            let slot = match name.trim() {
                "otp_sends_per_address" => &mut limits.otp_sends_per_address,
                "otp_sends_total" => &mut limits.otp_sends_total,
                "otp_failures_per_address" => &mut limits.otp_failures_per_address,
                "otp_failures_total" => &mut limits.otp_failures_total,
                "login_failures_per_address" => &mut limits.login_failures_per_address,
                other => return Err(format!("no limit named {other:?}")),
            };
            *slot = value;
        }
        Ok(limits)
    }
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
        let mode = match env_or("MARKET_CODE_ENV", "development").as_str() {
            "development" => Mode::Development,
            "production" => Mode::Production,
            other => {
                return Err(format!(
                    "MARKET_CODE_ENV={other:?}: expected development or production"
                ));
            }
        };
        let frame_ancestors = parse_frame_ancestors(&env_or("MARKET_CODE_FRAME_ANCESTORS", ""))
            .map_err(|e| format!("MARKET_CODE_FRAME_ANCESTORS: {e}"))?;
        let limits = Limits::parse(&env_or("MARKET_CODE_LIMITS", ""))
            .map_err(|e| format!("MARKET_CODE_LIMITS: {e}"))?;
        let calendar = match std::env::var("MARKET_CODE_HOLIDAYS")
            .ok()
            .filter(|p| !p.is_empty())
        {
            None => WorkCalendar::built_in(),
            Some(path) => std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| WorkCalendar::parse(&text))
                .map_err(|e| format!("MARKET_CODE_HOLIDAYS={path}: {e}"))?,
        };
        let sms_gateway = std::env::var("MARKET_CODE_SMS_GATEWAY_URL")
            .ok()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .map(|url| {
                if url.starts_with("https://") || url.starts_with("http://") {
                    Ok(SmsGateway {
                        url,
                        token: std::env::var("MARKET_CODE_SMS_GATEWAY_TOKEN")
                            .ok()
                            .filter(|t| !t.trim().is_empty()),
                    })
                } else {
                    Err("MARKET_CODE_SMS_GATEWAY_URL must be an http(s) URL".to_owned())
                }
            })
            .transpose()?;
        Ok(Self {
            addr,
            database_url,
            data_dir,
            dist_dir,
            public_url,
            trusted_proxies,
            real_name,
            mode,
            frame_ancestors,
            limits,
            calendar,
            sms_gateway,
            code_keys: KeySettings::from_env(
                "MARKET_CODE_CODE_KEY",
                "MARKET_CODE_CODE_KEYS_RETIRED",
            ),
            field_keys: KeySettings::from_env(
                "MARKET_CODE_FIELD_KEY",
                "MARKET_CODE_FIELD_KEYS_RETIRED",
            ),
            index_key: std::env::var("MARKET_CODE_INDEX_KEY")
                .ok()
                .filter(|v| !v.trim().is_empty()),
        })
    }

    /// A development configuration over `data_dir` (the database, keys and
    /// outbox in it, no SPA): what in-process tests start from, changing
    /// what they test.
    pub fn local(data_dir: PathBuf) -> Self {
        Self {
            addr: "127.0.0.1:0".parse().expect("a socket address"),
            database_url: data_dir.join("market-code.sqlite3").display().to_string(),
            dist_dir: data_dir.join("dist"),
            real_name: RealNameSetting::DevRoster(
                data_dir.join(crate::identity::roster::ROSTER_FILE),
            ),
            data_dir,
            public_url: "http://127.0.0.1:8080".to_owned(),
            trusted_proxies: Vec::new(),
            mode: Mode::Development,
            frame_ancestors: Vec::new(),
            limits: Limits::default(),
            calendar: WorkCalendar::built_in(),
            sms_gateway: None,
            code_keys: KeySettings::default(),
            field_keys: KeySettings::default(),
            index_key: None,
        }
    }

    pub fn production(&self) -> bool {
        self.mode == Mode::Production
    }

    /// Whether the public URL is https: cookies get `Secure` and the
    /// `__Host-` prefix, and responses carry HSTS.
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// `https://app.example.cn https://*.example.cn`: origins (scheme, host,
/// optional port; a `*.` wildcard host as CSP allows), checked character by
/// character since each goes into a header as it is.
pub fn parse_frame_ancestors(text: &str) -> Result<Vec<String>, String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (scheme, rest) = entry
                .split_once("://")
                .ok_or_else(|| format!("{entry:?} is not an origin (https://host)"))?;
            let host_ok = !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:*".contains(&b))
                && !rest.contains("**");
            if !matches!(scheme, "https" | "http") || !host_ok {
                return Err(format!(
                    "{entry:?} is not an origin (https://host[:port], no path)"
                ));
            }
            Ok(entry.to_ascii_lowercase())
        })
        .collect()
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

    #[test]
    fn frame_ancestors_are_plain_origins() {
        assert_eq!(
            parse_frame_ancestors(" https://App.Example.cn, https://*.kanyixing.cn:8443 ").unwrap(),
            ["https://app.example.cn", "https://*.kanyixing.cn:8443"]
        );
        assert!(parse_frame_ancestors("").unwrap().is_empty());
        for bad in [
            "app.example.cn",
            "https://x.cn/path",
            "https://x.cn;script-src",
            "javascript://x",
            "https://'self'",
            "https://",
        ] {
            assert!(parse_frame_ancestors(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_replace_the_named_defaults_only() {
        let l = Limits::parse("otp_sends_per_address=5, login_failures_per_address=7").unwrap();
        assert_eq!(l.otp_sends_per_address, 5);
        assert_eq!(l.login_failures_per_address, 7);
        assert_eq!(l.otp_sends_total, Limits::default().otp_sends_total);
        assert_eq!(Limits::parse("").unwrap(), Limits::default());
        assert!(Limits::parse("otp_sends=5").is_err());
        assert!(Limits::parse("otp_sends_total=-1").is_err());
        assert!(Limits::parse("otp_sends_total").is_err());
    }
}
