//! `cargo xtask test`: unit tests, the API suite against a real server on
//! SQLite and then on PostgreSQL, and the browser suite in headless Chromium.
//! Ends with one line, `N passed, N failed`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::server::{self, TestServer};
use crate::{Result, describe, root, spa, step, target_dir, tools};

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    /// Steps that failed without a test count (a build error, a server that
    /// would not start): each counts as one failure.
    broken: Vec<String>,
}

impl Tally {
    fn broke(&mut self, what: &str, why: String) {
        println!("!! {what}: {why}");
        self.failed += 1;
        self.broken.push(format!("{what}: {why}"));
    }
}

pub fn run_all(args: &[String]) -> Result {
    let skip_browser = args.iter().any(|a| a == "--no-browser");
    let skip_postgres = args.iter().any(|a| a == "--no-postgres");
    let started = Instant::now();
    let mut tally = Tally::default();

    step("unit and integration tests (cargo test)");
    cargo_test(
        &mut tally,
        "cargo test",
        // Every test binary runs even when one fails, so the count is whole.
        &[
            "test",
            "--no-fail-fast",
            "--workspace",
            "--exclude",
            "e2e",
            "--exclude",
            "frontend",
        ],
        &[],
    );

    step("building the server and the end-to-end suites");
    let built = crate::run_cmd(cargo().args(["build", "--quiet", "-p", "backend"]))
        .and_then(|()| crate::run_cmd(cargo().args(["test", "--quiet", "-p", "e2e", "--no-run"])));
    if let Err(e) = built {
        tally.broke("build", e);
        return finish(tally, started);
    }
    let backend = target_dir().join("debug").join("backend");
    let api_suites = suites("api_");
    let browser_suites = suites("browser_");

    // The browser suite needs the built SPA; the API suites do not, so an
    // SPA that fails to build still lets them run.
    let spa_ready = if skip_browser {
        false
    } else {
        match tools::ensure_build_tools().and_then(|()| spa::build()) {
            Ok(_) => true,
            Err(e) => {
                tally.broke("SPA build", e);
                false
            }
        }
    };

    if let Err(e) = tools::ensure_database_clients() {
        tally.broke("installing sqlite3 and psql", e);
    }

    step("API and browser suites against SQLite");
    match start(&backend, "sqlite", None) {
        Ok(srv) => {
            suite_run(&mut tally, &srv, "sqlite", &api_suites, &[]);
            if spa_ready && !browser_suites.is_empty() {
                match Chromedriver::start() {
                    Ok(driver) => suite_run(
                        &mut tally,
                        &srv,
                        "sqlite",
                        &browser_suites,
                        &[
                            ("E2E_WEBDRIVER_URL", driver.url.clone()),
                            ("E2E_CHROMIUM", driver.chromium.display().to_string()),
                        ],
                    ),
                    Err(e) => tally.broke("chromedriver", e),
                }
            }
        }
        Err(e) => tally.broke("server on SQLite", e),
    }

    if skip_postgres {
        println!("(PostgreSQL suite skipped: --no-postgres)");
    } else if let Some(server_url) = postgres_server() {
        step("API suites against PostgreSQL");
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let db_url = format!(
            "{server_url}/market_code_test_{}_{stamp}",
            std::process::id()
        );
        let created = crate::run_cmd(
            Command::new(&backend)
                .args(["pg-database", "create", &db_url])
                .current_dir(root()),
        );
        match created {
            Err(e) => tally.broke("creating the PostgreSQL test database", e),
            Ok(()) => {
                match start(&backend, "postgresql", Some(&db_url)) {
                    Ok(srv) => suite_run(
                        &mut tally,
                        &srv,
                        "postgresql",
                        &api_suites,
                        &[("E2E_DATABASE_URL", db_url.clone())],
                    ),
                    Err(e) => tally.broke("server on PostgreSQL", e),
                }
                let _ = Command::new(&backend)
                    .args(["pg-database", "drop", &db_url])
                    .current_dir(root())
                    .status();
            }
        }
        // The backend's own database tests that need PostgreSQL (named
        // `pg_…`, ignored by a plain `cargo test`), on a database of their own.
        let unit_db = format!("{db_url}_unit");
        let created = crate::run_cmd(
            Command::new(&backend)
                .args(["pg-database", "create", &unit_db])
                .current_dir(root()),
        );
        match created {
            Err(e) => tally.broke("creating the PostgreSQL unit-test database", e),
            Ok(()) => {
                cargo_test(
                    &mut tally,
                    "backend pg_ tests",
                    &["test", "-p", "backend", "--lib", "--", "--ignored", "pg_"],
                    &[("DECISION_PG_URL", unit_db.clone())],
                );
                let _ = Command::new(&backend)
                    .args(["pg-database", "drop", &unit_db])
                    .current_dir(root())
                    .status();
            }
        }
    } else {
        println!(
            "(no PostgreSQL answers at 127.0.0.1:5432 and TEST_POSTGRES_URL is unset: PostgreSQL suite skipped)"
        );
    }
    finish(tally, started)
}

fn finish(tally: Tally, started: Instant) -> Result {
    for b in &tally.broken {
        println!("broken step: {b}");
    }
    println!("(took {:.0} s)", started.elapsed().as_secs_f64());
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed == 0 && tally.passed > 0 {
        Ok(())
    } else {
        Err("some tests failed".into())
    }
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// The end-to-end test targets whose file names start with `prefix`.
fn suites(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests").join("tests"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs")
                .filter(|n| n.starts_with(prefix))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// `MARKET_CODE_LIMITS` for the end-to-end server.
const LIFTED_LIMITS: &str = "otp_sends_per_address=1000000, otp_sends_total=1000000, \
     otp_failures_per_address=1000000, otp_failures_total=1000000, \
     login_failures_per_address=1000000";

/// A fresh data folder and database, demo seeded, server on an ephemeral port.
pub(crate) fn start(backend: &Path, label: &str, database_url: Option<&str>) -> Result<TestServer> {
    let run_dir = target_dir()
        .join("e2e-runs")
        .join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
    let data_dir = run_dir.join("data");
    let mut env = vec![
        ("MARKET_CODE_DATA_DIR", data_dir.display().to_string()),
        (
            "MARKET_CODE_DIST_DIR",
            spa::dist_dir().display().to_string(),
        ),
        ("RUST_LOG", "info".to_owned()),
        // Every suite's client is 127.0.0.1, and the suites log hundreds of
        // merchants and staff in: the limits per address and in total are
        // lifted here, and tested at their defaults in-process, where each
        // request can come from its own address (backend/tests/abuse.rs).
        ("MARKET_CODE_LIMITS", LIFTED_LIMITS.to_owned()),
    ];
    // An empty DATABASE_URL means "the SQLite file in the data folder".
    env.push(("DATABASE_URL", database_url.unwrap_or("").to_owned()));
    let mut seed = Command::new(backend);
    seed.arg("seed-demo")
        .current_dir(root())
        .stdout(Stdio::null());
    for (k, v) in &env {
        seed.env(k, v);
    }
    crate::run_cmd(&mut seed)?;
    let srv = server::start_for_tests(backend, &env, run_dir.join("server.log"))?;
    println!(
        "server on {label}: {} (log: {})",
        srv.base_url,
        srv.log.display()
    );
    Ok(srv)
}

fn suite_run(
    tally: &mut Tally,
    srv: &TestServer,
    database: &str,
    names: &[String],
    extra: &[(&str, String)],
) {
    if names.is_empty() {
        return;
    }
    let data_dir = Path::new(&srv.log)
        .parent()
        .map(|p| p.join("data"))
        .unwrap_or_default();
    let mut env: Vec<(&str, String)> = vec![
        ("E2E_BASE_URL", srv.base_url.clone()),
        ("E2E_DATA_DIR", data_dir.display().to_string()),
        ("E2E_DATABASE", database.to_owned()),
        (
            "E2E_SCREENSHOT_DIR",
            target_dir().join("e2e").display().to_string(),
        ),
        // Suites that need a signed stall URL ask the server's own binary.
        (
            "E2E_BACKEND_BIN",
            target_dir()
                .join("debug")
                .join("backend")
                .display()
                .to_string(),
        ),
    ];
    env.extend(extra.iter().cloned());
    let mut args = vec!["test", "--no-fail-fast", "-p", "e2e"];
    for n in names {
        args.push("--test");
        args.push(n);
    }
    // Browser tests each drive a Chromium: one at a time on two cores.
    let browser = extra.iter().any(|(k, _)| *k == "E2E_WEBDRIVER_URL");
    if browser {
        args.extend(["--", "--test-threads=1"]);
    }
    let label = format!("{} on {database}", names.join(", "));
    let before = tally.failed;
    cargo_test(tally, &label, &args, &env);
    if tally.failed > before {
        println!("server log: {}", srv.log.display());
    }
    check_log_hygiene(tally, srv, &label);
}

/// No one-time code the server sent, and no resident ID number, may appear
/// in its log. The development SMS outbox lists every code sent during the
/// suites, so each is looked for as a whole token; a resident ID is any
/// 18-character run whose GB 11643 check character is right. This fails as
/// soon as any code path logs one.
fn check_log_hygiene(tally: &mut Tally, srv: &TestServer, label: &str) {
    let data_dir = srv.log.parent().map(|p| p.join("data")).unwrap_or_default();
    let outbox = std::fs::read_to_string(data_dir.join("sms-outbox.jsonl")).unwrap_or_default();
    let log = std::fs::read_to_string(&srv.log).unwrap_or_default();
    let codes: Vec<&str> = outbox
        .lines()
        .filter_map(|l| l.split("\"code\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    if codes.is_empty() || log.is_empty() {
        // Nothing was sent (no suite logs in) or nothing logged: no evidence
        // either way, and not a failure of the suites.
        return;
    }
    let leaked_codes = codes.iter().filter(|c| contains_token(&log, c)).count();
    let leaked_ids = resident_ids_in(&log);
    if leaked_codes == 0 && leaked_ids == 0 {
        println!(
            "log hygiene ({label}): none of the {} one-time codes sent, and no resident ID number, \
             appears in the server log",
            codes.len()
        );
        tally.passed += 1;
    } else {
        tally.broke(
            &format!("log hygiene ({label})"),
            format!(
                "{leaked_codes} one-time codes and {leaked_ids} resident ID numbers appear in {}",
                srv.log.display()
            ),
        );
    }
}

/// How many well-formed resident ID numbers (17 digits and a correct check
/// character) stand in `text` as whole tokens.
fn resident_ids_in(text: &str) -> usize {
    text.split(|c: char| !(c.is_ascii_digit() || c == 'X' || c == 'x'))
        .filter(|t| t.len() == 18)
        .filter(|t| {
            let (first17, check) = t.split_at(17);
            shared::ids::resident_id_check_char(first17)
                .is_some_and(|c| check.eq_ignore_ascii_case(&c.to_string()))
        })
        .count()
}

/// `needle` in `hay`, not as part of a longer run of digits, nor as the
/// fraction of a timestamp (`12:00:00.490534Z`).
fn contains_token(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// Runs `cargo <args>`, echoing its output, and adds its `test result:` lines
/// to the tally. A run that fails without reporting a failed test (it did not
/// compile, or crashed) counts as one failure.
fn cargo_test(tally: &mut Tally, label: &str, args: &[&str], env: &[(&str, String)]) {
    let mut cmd = cargo();
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return tally.broke(label, format!("cannot start {}: {e}", describe(&cmd))),
    };
    let (mut passed, mut failed) = (0, 0);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
            println!("{line}");
            if let Some((p, f)) = parse_result_line(&line) {
                passed += p;
                failed += f;
            }
        }
    }
    let ok = child.wait().is_ok_and(|s| s.success());
    tally.passed += passed;
    tally.failed += failed;
    if !ok && failed == 0 {
        tally.broke(
            label,
            "cargo test failed without a failing test (see above)".into(),
        );
    }
}

/// `test result: ok. 12 passed; 0 failed; 0 ignored; …` → (12, 0)
fn parse_result_line(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let mut passed = None;
    let mut failed = None;
    for part in rest.split(';') {
        let mut words = part.split_whitespace().rev();
        let (Some(kind), Some(n)) = (words.next(), words.next()) else {
            continue;
        };
        match kind {
            "passed" => passed = n.parse().ok(),
            "failed" => failed = n.parse().ok(),
            _ => {}
        }
    }
    Some((passed?, failed?))
}

/// The PostgreSQL server to make a throwaway database on, without a database
/// name: `TEST_POSTGRES_URL`, or the local default when one answers.
fn postgres_server() -> Option<String> {
    if let Ok(url) = std::env::var("TEST_POSTGRES_URL")
        && !url.is_empty()
    {
        // Accept either a server URL or one naming a database.
        let without_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
        return Some(if without_scheme.contains('/') {
            url.rsplit_once('/')
                .map(|(s, _)| s.to_owned())
                .unwrap_or(url)
        } else {
            url.trim_end_matches('/').to_owned()
        });
    }
    let addr: SocketAddr = "127.0.0.1:5432".parse().ok()?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .ok()
        .map(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// chromedriver on a free port, stopped when dropped.
pub(crate) struct Chromedriver {
    child: Child,
    pub(crate) url: String,
    pub(crate) chromium: std::path::PathBuf,
}

impl Chromedriver {
    pub(crate) fn start() -> Result<Self> {
        let (chromium, driver) = tools::ensure_chromium()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| e.to_string())?;
        let log = target_dir().join("e2e").join("chromedriver.log");
        let _ = std::fs::create_dir_all(log.parent().unwrap_or(Path::new(".")));
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start chromedriver: {e}"))?;
        let url = format!("http://127.0.0.1:{port}");
        let addr: SocketAddr = format!("127.0.0.1:{port}")
            .parse()
            .map_err(|_| "bad port")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err("chromedriver did not listen within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            child,
            url,
            chromium,
        })
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_result_line;

    #[test]
    fn finds_resident_ids_by_their_check_character() {
        use super::resident_ids_in;
        // 11010519491231002X is the standard's own example.
        assert_eq!(resident_ids_in("name=张三 id=11010519491231002X ok"), 1);
        assert_eq!(resident_ids_in("id=11010519491231002x"), 1);
        assert_eq!(resident_ids_in("masked 1101**********002X"), 0);
        assert_eq!(resident_ids_in("wrong check 110105194912310021"), 0);
        assert_eq!(resident_ids_in("longer 1110105194912310021"), 0);
    }

    #[test]
    fn finds_codes_as_whole_tokens_only() {
        use super::contains_token;
        assert!(contains_token("sent code=490534 to", "490534"));
        assert!(contains_token("验证码是490534，", "490534"));
        assert!(!contains_token("at 13:26:19.490534Z", "490534"));
        assert!(!contains_token("id 14905341", "490534"));
    }

    #[test]
    fn reads_cargo_result_lines() {
        assert_eq!(
            parse_result_line(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            parse_result_line("test result: FAILED. 3 passed; 2 failed; 0 ignored"),
            Some((3, 2))
        );
        assert_eq!(parse_result_line("running 3 tests"), None);
    }
}
