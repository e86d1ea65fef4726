//! `cargo xtask run` and `cargo xtask test`: the README's two commands.
//!
//! Build automation in Rust, in the repo (matklad's xtask pattern): no make,
//! no shell dialect. Each step says what it does in one line.

mod mvp;
mod server;
mod spa;
mod test;
mod timing;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

  run            install what is missing, build the SPA and the server, migrate,
                 seed the demo market, serve on http://127.0.0.1:8080
                 (MARKET_CODE_ADDR, DATABASE_URL and the rest: see README)
  test           every test: unit, API (SQLite, then PostgreSQL when one answers),
                 browser (headless Chromium); ends with `N passed, N failed`
  record-size    build the SPA and write its first-load size into BENCHMARKS.md
  phone-timing   time from opening a stall URL to the stall card on screen, in
                 headless Chromium under Lighthouse's mobile profile; median of
                 several runs into BENCHMARKS.md. Options: --runs N (default 9);
                 --url <stall URL> --label <text> to time a server already running
                 (e.g. a build of another branch) instead of this tree
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(),
        Some("test") => test::run_all(&args[1..]),
        Some("record-size") => record_size(),
        Some("phone-timing") => timing::phone_timing(&args[1..]),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Cargo's target folder, honouring `CARGO_TARGET_DIR`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

/// Today's date (UTC) and the machine, for a figure recorded in
/// BENCHMARKS.md: `("2026-12-02", "Intel(R) Xeon(R) Processor (2 cores)")`.
pub fn measured_on() -> (String, String) {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (date, format!("{cpu} ({cores} cores)"))
}

/// Prints a step's one-line heading.
pub fn step(message: &str) {
    println!("==> {message}");
}

/// Runs a command to completion, failing with its name if it fails.
pub fn run_cmd(cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", describe(cmd)))
    }
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run() -> Result {
    tools::ensure_build_tools()?;
    spa::build()?;
    step("building the server (release)");
    run_cmd(cargo().args(["build", "--release", "--quiet", "-p", "backend"]))?;
    let backend = target_dir().join("release").join("backend");
    step("migrating and seeding the demo market");
    run_cmd(Command::new(&backend).arg("seed-demo").current_dir(root()))?;
    server::serve_foreground(&backend)
}

fn record_size() -> Result {
    tools::ensure_build_tools()?;
    let size = spa::build()?;
    spa::record_in_benchmarks(&size)
}
