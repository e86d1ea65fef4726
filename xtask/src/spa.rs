//! Builds the two browser apps with Trunk (release, offline, wasm-opt): the
//! merchant app into `dist/` and the staff console into `dist/staff/`, and
//! the merchant app again for older webviews into `dist/mvp/` (`mvp.rs`);
//! pre-compresses what the server sends, and measures what each first load
//! downloads.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

use crate::{Result, root, run_cmd, step, tools};

/// Gzipped bytes of the first load, by kind.
#[derive(Debug, Default)]
pub struct FirstLoad {
    pub html: u64,
    pub js: u64,
    pub wasm: u64,
    pub css: u64,
}

impl FirstLoad {
    pub fn total(&self) -> u64 {
        self.html + self.js + self.wasm + self.css
    }
}

impl std::fmt::Display for FirstLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kb = |b: u64| b as f64 / 1024.0;
        write!(
            f,
            "{:.1} KiB gzipped (wasm {:.1}, js {:.1}, css {:.1}, html {:.1})",
            kb(self.total()),
            kb(self.wasm),
            kb(self.js),
            kb(self.css),
            kb(self.html)
        )
    }
}

/// First-load sizes of both apps, and of the merchant app's MVP build
/// (what an older webview downloads instead of the main wasm and glue).
#[derive(Debug)]
pub struct Sizes {
    pub merchant: FirstLoad,
    pub staff: FirstLoad,
    pub mvp: FirstLoad,
}

pub fn dist_dir() -> PathBuf {
    root().join("dist")
}

/// Where the staff console is built; `backend/src/web.rs` serves its
/// `index.html` for the console's routes.
const STAFF_DIR: &str = "staff";

/// Builds unless nothing that goes into the bundle changed since the last
/// build (so a second `cargo xtask run` reaches "serving" in seconds).
pub fn build() -> Result<Sizes> {
    let dist = dist_dir();
    let staff = dist.join(STAFF_DIR);
    let stamp = crate::target_dir().join("spa-inputs-fingerprint");
    let fingerprint = inputs_fingerprint();
    let up_to_date = std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint)
        && dist.join("index.html").is_file()
        && staff.join("index.html").is_file()
        && dist.join(crate::mvp::DIR).is_dir();
    if up_to_date {
        step("SPA is up to date (no input changed since the last build)");
    } else {
        // Merchant first: Trunk empties its dist folder, which holds the
        // staff one.
        step("building the merchant app (trunk build --release --offline)");
        trunk_build(&[])?;
        step("building the staff console into dist/staff/");
        let staff_dist = format!("dist/{STAFF_DIR}");
        let staff_url = format!("/{STAFF_DIR}/");
        trunk_build(&[
            "frontend/staff.html",
            "--dist",
            &staff_dist,
            "--public-url",
            &staff_url,
        ])?;
        crate::mvp::build(&dist)?;
        precompress(&dist)?;
        std::fs::write(&stamp, &fingerprint)
            .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    }
    let sizes = Sizes {
        merchant: first_load(&dist)?,
        staff: first_load(&staff)?,
        mvp: first_load(&dist.join(crate::mvp::DIR))?,
    };
    println!("merchant first load: {}", sizes.merchant);
    println!("staff first load:    {}", sizes.staff);
    println!("merchant MVP build:  {}", sizes.mvp);
    Ok(sizes)
}

fn trunk_build(args: &[&str]) -> Result {
    run_cmd(
        Command::new("trunk")
            .arg("build")
            .args(args)
            // Last: `--offline` takes an optional value and would swallow a
            // target path after it.
            .args(["--release", "--offline"])
            .env("PATH", tools::path_with_tools())
            // Trunk's own colour codes garble CI logs.
            .env("NO_COLOR", "true")
            .current_dir(root()),
    )
}

/// Writes a `.gz` beside every text or wasm file, so the server can send the
/// compressed bytes without compressing on each request.
fn precompress(dist: &Path) -> Result {
    for path in files(dist) {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(
            ext,
            "html" | "js" | "wasm" | "css" | "svg" | "webmanifest" | "json" | "txt"
        ) {
            continue;
        }
        let data = std::fs::read(&path).map_err(|e| e.to_string())?;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&data).map_err(|e| e.to_string())?;
        let gz = enc.finish().map_err(|e| e.to_string())?;
        let mut out = path.clone().into_os_string();
        out.push(".gz");
        std::fs::write(&out, gz).map_err(|e| format!("cannot write {out:?}: {e}"))?;
    }
    Ok(())
}

/// Sizes of what an app's `index.html` makes a browser fetch before the first
/// paint: the page, its scripts, the wasm and the stylesheets (gzipped, as
/// served). Only `dir` itself is counted: the other app lives in a sub-folder
/// (or beside it), and so do icons and wasm-bindgen snippets.
fn first_load(dir: &Path) -> Result<FirstLoad> {
    let mut size = FirstLoad::default();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for path in entries.flatten().map(|e| e.path()) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(base) = name.strip_suffix(".gz") else {
            continue;
        };
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if base == "index.html" {
            size.html += len;
        } else if base.ends_with(".js") {
            size.js += len;
        } else if base.ends_with(".wasm") {
            size.wasm += len;
        } else if base.ends_with(".css") {
            size.css += len;
        }
    }
    if size.wasm == 0 {
        return Err(format!("no wasm in {}: did the build run?", dir.display()));
    }
    Ok(size)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Path, size and modification time of every input of the bundle.
fn inputs_fingerprint() -> String {
    let root = root();
    let mut hasher = std::hash::DefaultHasher::new();
    let mut inputs: Vec<PathBuf> = ["frontend", "shared", "public"]
        .iter()
        .flat_map(|d| files(&root.join(d)))
        .collect();
    inputs.extend(["Trunk.toml", "Cargo.lock", "Cargo.toml", "index.html"].map(|f| root.join(f)));
    // The MVP build's toolchain and flags live in xtask.
    inputs.extend(["mvp.rs", "tools.rs"].map(|f| root.join("xtask").join("src").join(f)));
    for p in inputs {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        p.hash(&mut hasher);
        meta.len().hash(&mut hasher);
        meta.modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

const START: &str = "<!-- first-load:start -->";
const END: &str = "<!-- first-load:end -->";

/// Replaces the first-load section of BENCHMARKS.md with today's figures.
pub fn record_in_benchmarks(sizes: &Sizes) -> Result {
    let path = root().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (date, machine) = crate::measured_on();
    let kb = |b: u64| format!("{:.1} KiB", b as f64 / 1024.0);
    let (m, s) = (&sizes.merchant, &sizes.staff);
    let section = format!(
        "{START}\nMeasured {date} on {machine} by `cargo xtask record-size`. The merchant \
         app (`/`) and the staff console (`/manager`, `/ops`, `/bank`) are separate bundles:\n\n\
         | what | merchant (gzipped) | staff (gzipped) |\n|---|---|---|\n\
         | wasm | {} | {} |\n| js | {} | {} |\n| css | {} | {} |\n| html | {} | {} |\n\
         | **first load** | **{}** | **{}** |\n\n\
         Older webviews (no reference types etc.) get the merchant app's MVP build instead of its \
         wasm and JS glue: wasm {}, js {} gzipped.\n{END}",
        kb(m.wasm),
        kb(s.wasm),
        kb(m.js),
        kb(s.js),
        kb(m.css),
        kb(s.css),
        kb(m.html),
        kb(s.html),
        kb(m.total()),
        kb(s.total()),
        kb(sizes.mvp.wasm),
        kb(sizes.mvp.js),
    );
    let new = match (text.find(START), text.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{section}{}", &text[..a], &text[b + END.len()..]),
        _ => format!("{text}\n## First load of the SPA\n\n{section}\n"),
    };
    std::fs::write(&path, new).map_err(|e| format!("cannot write BENCHMARKS.md: {e}"))?;
    println!("recorded in BENCHMARKS.md");
    Ok(())
}
