//! `cargo xtask phone-timing`: the number that matters on a market floor —
//! how long after a merchant opens a stall's QR code the stall card is on
//! the screen — measured by the `phone-timing` program of the end-to-end
//! crate (headless Chromium under Lighthouse's mobile profile), and written
//! into BENCHMARKS.md beside the bundle sizes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::test::Chromedriver;
use crate::{Result, root, run_cmd, spa, step, target_dir, tools};

const START: &str = "<!-- phone-timing:start -->";
const END: &str = "<!-- phone-timing:end -->";
/// The row this tree's own build gets.
const THIS_BUILD: &str = "this tree (server-rendered card)";

pub fn phone_timing(args: &[String]) -> Result {
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = option("--runs")
        .map(|r| r.parse().map_err(|_| format!("--runs {r}: not a number")))
        .transpose()?
        .unwrap_or(9);
    step("building the timing program (e2e crate)");
    run_cmd(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--quiet",
                "-p",
                "e2e",
                "--bin",
                "phone_timing",
                "-p",
                "backend",
            ])
            .current_dir(root()),
    )?;
    let driver = Chromedriver::start()?;
    let (url, label, _server) = match (option("--url"), option("--label")) {
        (Some(url), Some(label)) => (url, label, None),
        (Some(_), None) => return Err("--url needs a --label for its row".into()),
        _ => {
            tools::ensure_build_tools()?;
            spa::build()?;
            let backend = target_dir().join("debug").join("backend");
            let srv = crate::test::start(&backend, "timing", None)?;
            let data_dir = srv.log.parent().map(|p| p.join("data")).unwrap_or_default();
            let out = Command::new(&backend)
                .args(["stall-url", "A-01"])
                .env("MARKET_CODE_DATA_DIR", &data_dir)
                .env("MARKET_CODE_PUBLIC_URL", &srv.base_url)
                .env("DATABASE_URL", "")
                .current_dir(root())
                .output()
                .map_err(|e| e.to_string())?;
            let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !out.status.success() || url.is_empty() {
                return Err("backend stall-url A-01 printed no URL".into());
            }
            (url, THIS_BUILD.to_owned(), Some(srv))
        }
    };
    step(&format!(
        "timing {url} ({runs} runs after one to warm Chromium up)"
    ));
    let mut child = Command::new(target_dir().join("debug").join("phone_timing"))
        .args([url.as_str(), &runs.to_string()])
        .env("E2E_WEBDRIVER_URL", &driver.url)
        .env("E2E_CHROMIUM", &driver.chromium)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start phone_timing: {e}"))?;
    let mut result = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
            println!("{line}");
            if let Some(rest) = line.strip_prefix("phone-timing: ") {
                result = Some(rest.to_owned());
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let result = result
        .filter(|_| status.success())
        .ok_or("phone_timing failed (see above)")?;
    let field = |name: &str| -> Vec<f64> {
        result
            .split_whitespace()
            .find_map(|p| p.strip_prefix(name))
            .unwrap_or("")
            .split(',')
            .filter_map(|x| x.parse().ok())
            .collect()
    };
    let (card, app) = (field("card_ms="), field("app_ms="));
    let row = format!(
        "| {label} | {} | {} | {} | {} |",
        summary(&card),
        summary(&app),
        card.len(),
        machine_and_date()
    );
    println!("{row}");
    record(&label, &row)
}

/// `1.23 s (1.10–1.40)`: the median, and the range.
fn summary(ms: &[f64]) -> String {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let median = match v.len() {
        0 => return "—".into(),
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    format!(
        "**{:.2} s** ({:.2}–{:.2})",
        median / 1000.0,
        v[0] / 1000.0,
        v[v.len() - 1] / 1000.0
    )
}

fn machine_and_date() -> String {
    let (date, machine) = crate::measured_on();
    format!("{date}, {machine}")
}

/// Puts `row` into BENCHMARKS.md's phone-timing table, replacing the row
/// with the same label.
fn record(label: &str, row: &str) -> Result {
    let path = root().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let header = format!(
        "{START}\n| build | stall card on screen | app ready (buttons work) | runs | measured |\n\
         |---|---|---|---|---|"
    );
    let (before, rows, after) = match (text.find(START), text.find(END)) {
        (Some(a), Some(b)) if a < b => {
            let rows: Vec<String> = text[a..b]
                .lines()
                .filter(|l| l.starts_with("| ") && !l.starts_with("| build |"))
                .filter(|l| !l.starts_with(&format!("| {label} |")))
                .map(str::to_owned)
                .collect();
            (text[..a].to_owned(), rows, text[b + END.len()..].to_owned())
        }
        _ => (
            format!("{text}\n## Time to the stall card on a phone\n\n"),
            Vec::new(),
            "\n".to_owned(),
        ),
    };
    let mut rows = rows;
    rows.push(row.to_owned());
    let section = format!("{header}\n{}\n{END}", rows.join("\n"));
    std::fs::write(&path, format!("{before}{section}{after}"))
        .map_err(|e| format!("cannot write BENCHMARKS.md: {e}"))?;
    println!("recorded in BENCHMARKS.md");
    Ok(())
}
