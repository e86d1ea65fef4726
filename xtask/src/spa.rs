//! Builds the SPA with Trunk (release, offline, wasm-opt), pre-compresses
//! what the server sends, and measures what a phone downloads on first load.

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

pub fn dist_dir() -> PathBuf {
    root().join("dist")
}

/// Builds unless nothing that goes into the bundle changed since the last
/// build (so a second `cargo xtask run` reaches "serving" in seconds).
pub fn build() -> Result<FirstLoad> {
    let dist = dist_dir();
    let stamp = crate::target_dir().join("spa-inputs-fingerprint");
    let fingerprint = inputs_fingerprint();
    let up_to_date = std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint)
        && dist.join("index.html").is_file();
    if up_to_date {
        step("SPA is up to date (no input changed since the last build)");
    } else {
        step("building the SPA (trunk build --release --offline)");
        run_cmd(
            Command::new("trunk")
                .args(["build", "--release", "--offline"])
                .env("PATH", tools::path_with_tools())
                // Trunk's own colour codes garble CI logs.
                .env("NO_COLOR", "true")
                .current_dir(root()),
        )?;
        precompress(&dist)?;
        std::fs::write(&stamp, &fingerprint)
            .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    }
    let size = first_load(&dist)?;
    println!("first load: {size}");
    Ok(size)
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

/// Sizes of what `index.html` makes a phone fetch before the first paint:
/// the page, its scripts, the wasm and the stylesheets (gzipped, as served).
fn first_load(dist: &Path) -> Result<FirstLoad> {
    let mut size = FirstLoad::default();
    for path in files(dist) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(base) = name.strip_suffix(".gz") else {
            continue;
        };
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if base == "index.html" {
            size.html += len;
        } else if base.ends_with(".js") && path.parent() == Some(dist) {
            size.js += len;
        } else if base.ends_with(".wasm") {
            size.wasm += len;
        } else if base.ends_with(".css") && path.parent() == Some(dist) {
            size.css += len;
        }
    }
    if size.wasm == 0 {
        return Err(format!("no wasm in {}: did the build run?", dist.display()));
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
pub fn record_in_benchmarks(size: &FirstLoad) -> Result {
    let path = root().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
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
    let section = format!(
        "{START}\nMeasured {date} on {cpu} ({cores} cores) by `cargo xtask record-size`:\n\n\
         | what | gzipped |\n|---|---|\n| wasm | {:.1} KiB |\n| js | {:.1} KiB |\n| css | {:.1} KiB |\n\
         | html | {:.1} KiB |\n| **first load** | **{:.1} KiB** |\n{END}",
        size.wasm as f64 / 1024.0,
        size.js as f64 / 1024.0,
        size.css as f64 / 1024.0,
        size.html as f64 / 1024.0,
        size.total() as f64 / 1024.0,
    );
    let new = match (text.find(START), text.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{section}{}", &text[..a], &text[b + END.len()..]),
        _ => format!("{text}\n## First load of the SPA\n\n{section}\n"),
    };
    std::fs::write(&path, new).map_err(|e| format!("cannot write BENCHMARKS.md: {e}"))?;
    println!("recorded in BENCHMARKS.md");
    Ok(())
}
