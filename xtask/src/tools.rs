//! Installs what the build and the tests need, only when missing, each with a
//! one-line message. Nothing is downloaded outside the package registries:
//! Trunk is told (Trunk.toml) to use these exact versions, offline.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{Result, root, run_cmd};

pub const TRUNK_VERSION: &str = "0.21.14";
pub const BINARYEN_VERSION: &str = "132";

/// Folder of project-local tools (git-ignored); its `node_modules/.bin` goes
/// first on PATH for Trunk.
pub fn tools_dir() -> PathBuf {
    root().join("tools")
}

/// PATH with the project-local tools first.
pub fn path_with_tools() -> String {
    let bin = tools_dir().join("node_modules").join(".bin");
    match std::env::var("PATH") {
        Ok(p) => format!("{}:{p}", bin.display()),
        Err(_) => bin.display().to_string(),
    }
}

/// The first line a `<tool> --version` prints, or None when it does not run.
fn version_of(program: &str) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .env("PATH", path_with_tools())
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    })
}

/// The `wasm-bindgen` version Cargo.lock pins: the CLI must match it exactly.
pub fn locked_wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
        {
            return Ok(v.trim_matches('"').to_owned());
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

pub fn ensure_build_tools() -> Result {
    ensure_wasm_target()?;
    ensure_trunk()?;
    ensure_wasm_bindgen()?;
    ensure_wasm_opt()
}

fn ensure_wasm_target() -> Result {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("rustup is needed: {e}"))?;
    if !String::from_utf8_lossy(&out.stdout).contains("wasm32-unknown-unknown") {
        println!("installing the wasm32-unknown-unknown target (rustup)");
        run_cmd(
            Command::new("rustup")
                .args(["target", "add", "wasm32-unknown-unknown"])
                .current_dir(root()),
        )?;
    }
    Ok(())
}

fn ensure_trunk() -> Result {
    if version_of("trunk").is_some_and(|v| v.ends_with(TRUNK_VERSION)) {
        return Ok(());
    }
    println!("installing trunk {TRUNK_VERSION} (cargo install; about 8 minutes on 2 cores)");
    run_cmd(Command::new("cargo").args([
        "install",
        "trunk",
        "--version",
        TRUNK_VERSION,
        "--locked",
        "--quiet",
    ]))
}

fn ensure_wasm_bindgen() -> Result {
    let want = locked_wasm_bindgen_version()?;
    if version_of("wasm-bindgen").is_some_and(|v| v.split_whitespace().nth(1) == Some(&want)) {
        return Ok(());
    }
    println!("installing wasm-bindgen-cli {want} (cargo install; the version Cargo.lock pins)");
    // Not --locked: one of its locked dependencies is missing from the registry.
    run_cmd(Command::new("cargo").args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &want,
        "--force",
        "--quiet",
    ]))
}

fn ensure_wasm_opt() -> Result {
    if version_of("wasm-opt").is_some_and(|v| v.contains(&format!("version {BINARYEN_VERSION}"))) {
        return Ok(());
    }
    println!("installing wasm-opt (npm binaryen@{BINARYEN_VERSION}) into tools/");
    let dir = tools_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    run_cmd(
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                &dir.display().to_string(),
                &format!("binaryen@{BINARYEN_VERSION}"),
            ])
            .current_dir(&dir),
    )
}

/// The nightly that builds the MVP bundle (`mvp.rs`), pinned like every other
/// tool: `-Zbuild-std` is unstable and may change under a moving nightly.
pub const NIGHTLY: &str = "nightly-2026-05-20";
/// Its rustc's commit, to recognise the same build under the name `nightly`.
const NIGHTLY_COMMIT: &str = "e50aa6fba4e63ab34c72bf9acfd2c307c1155d1a";

/// The pinned nightly with `rust-src` (what `-Zbuild-std` compiles) and the
/// crates its standard library depends on (Trunk builds `--offline`),
/// installed only when missing; a plain `nightly` that is the same build is
/// used as it is. Returns the toolchain's name.
pub fn ensure_nightly() -> Result<String> {
    let name = ensure_nightly_toolchain()?;
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .env("RUSTUP_TOOLCHAIN", &name)
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    let library = std::path::Path::new(String::from_utf8_lossy(&sysroot.stdout).trim())
        .join("lib/rustlib/src/rust/library/Cargo.toml");
    run_cmd(
        Command::new("cargo")
            .args(["fetch", "--quiet", "--manifest-path"])
            .arg(&library)
            .env("RUSTUP_TOOLCHAIN", &name),
    )?;
    Ok(name)
}

fn ensure_nightly_toolchain() -> Result<String> {
    for name in [NIGHTLY, "nightly"] {
        let commit = Command::new("rustup")
            .args(["run", name, "rustc", "-vV"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        if !commit.is_some_and(|v| v.contains(&format!("commit-hash: {NIGHTLY_COMMIT}"))) {
            continue;
        }
        let components = Command::new("rustup")
            .args(["component", "list", "--installed", "--toolchain", name])
            .output()
            .map_err(|e| format!("rustup: {e}"))?;
        if !String::from_utf8_lossy(&components.stdout).contains("rust-src") {
            println!("adding rust-src to Rust {name} (rustup; for the MVP build)");
            run_cmd(Command::new("rustup").args([
                "component",
                "add",
                "rust-src",
                "--toolchain",
                name,
            ]))?;
        }
        return Ok(name.to_owned());
    }
    println!("installing Rust {NIGHTLY} with rust-src (rustup; for the MVP build)");
    run_cmd(Command::new("rustup").args([
        "toolchain",
        "install",
        NIGHTLY,
        "--profile",
        "minimal",
        "--component",
        "rust-src",
    ]))?;
    Ok(NIGHTLY.to_owned())
}

/// The path of a program on PATH.
fn which(names: &[&str]) -> Option<PathBuf> {
    names.iter().find_map(|n| {
        let out = Command::new("which").arg(n).output().ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
}

/// `apt-get update` then `apt-get install` of `packages` (through sudo when
/// not root).
fn apt_install(packages: &[&str]) -> Result {
    let apt = |args: &[&str]| {
        let mut c = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null());
        run_cmd(&mut c)
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq"];
    args.extend_from_slice(packages);
    apt(&args)
}

/// Chromium and its driver for the browser tests, from Debian's packages.
pub fn ensure_chromium() -> Result<(PathBuf, PathBuf)> {
    let browsers = ["chromium", "chromium-browser"];
    // Without a CJK font every screenshot is a wall of empty boxes.
    let has_cjk_font = Command::new("fc-list")
        .arg(":lang=zh")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if let (Some(b), Some(d), true) = (which(&browsers), which(&["chromedriver"]), has_cjk_font) {
        return Ok((b, d));
    }
    println!("installing chromium, chromium-driver and a Chinese font (apt-get)");
    apt_install(&["chromium", "chromium-driver", "fonts-wqy-microhei"])?;
    match (which(&browsers), which(&["chromedriver"])) {
        (Some(b), Some(d)) => Ok((b, d)),
        _ => Err("chromium or chromedriver still missing after apt-get install".into()),
    }
}

/// The database shells the API suites use to count rows directly, to check
/// the server's figures against the database itself.
pub fn ensure_database_clients() -> Result {
    let mut missing = Vec::new();
    if which(&["sqlite3"]).is_none() {
        missing.push("sqlite3");
    }
    if which(&["psql"]).is_none() {
        missing.push("postgresql-client");
    }
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing {} (apt-get)", missing.join(" and "));
    apt_install(&missing)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
