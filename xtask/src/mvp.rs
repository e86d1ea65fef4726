//! The merchant app built a second time for the WebAssembly MVP feature set,
//! for webviews whose engine lacks what stable Rust now emits by default
//! (reference types, multi-value, bulk memory…: iOS before 16.4 runs none of
//! it, so a merchant on an older iPhone would see nothing at all).
//!
//! Stable Rust cannot do it: its prebuilt standard library already uses those
//! features. So a pinned nightly rebuilds `std` (`-Zbuild-std`) with
//! `-Ctarget-cpu=mvp`, Trunk runs as for the main build (wasm-opt told
//! `--mvp-features`, so it refuses anything newer too) into `dist/mvp/`, the
//! result is validated with every post-MVP feature off, and its file names go
//! onto `dist/index.html`'s `<link id="app-bundle">`, where
//! `frontend/loader.js` picks it for a browser that fails its feature test.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::{Result, root, run_cmd, step, tools};

/// Where the MVP build goes, and its public URL.
pub const DIR: &str = "mvp";

/// Builds `dist/mvp/`, checks it and links it into `dist/index.html`.
pub fn build(dist: &Path) -> Result {
    let started = Instant::now();
    let toolchain = tools::ensure_nightly()?;
    let installed = started.elapsed();
    step(&format!(
        "building the merchant app for the WebAssembly MVP (older webviews; {toolchain}, -Zbuild-std)"
    ));
    let out = dist.join(DIR);
    let public = format!("/{DIR}/");
    let build_started = Instant::now();
    run_cmd(
        Command::new("trunk")
            .args(["build", "frontend/mvp.html", "--dist"])
            .arg(&out)
            .args(["--public-url", &public, "--release", "--offline"])
            .env("PATH", tools::path_with_tools())
            .env("NO_COLOR", "true")
            .env("RUSTUP_TOOLCHAIN", &toolchain)
            .env("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort")
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
                "-Ctarget-cpu=mvp",
            )
            // Its own target folder: the stable build's artefacts stay valid.
            .env("CARGO_TARGET_DIR", crate::target_dir().join("mvp"))
            .current_dir(root()),
    )?;
    let mvp_index =
        std::fs::read_to_string(out.join("index.html")).map_err(|e| format!("{DIR}: {e}"))?;
    let bundle = Bundle::from_index(&mvp_index)?;
    let wasm_path = out.join(bundle.wasm.trim_start_matches(&public));
    let wasm = std::fs::read(&wasm_path).map_err(|e| format!("{}: {e}", wasm_path.display()))?;
    validate_mvp(&wasm).map_err(|e| format!("{}: {e}", wasm_path.display()))?;
    println!(
        "MVP build: {} validates with every post-MVP feature off (toolchain ready in {:.0} s, built in {:.0} s)",
        wasm_path.display(),
        installed.as_secs_f64(),
        build_started.elapsed().as_secs_f64()
    );
    // Its page is not served; the main page names its files.
    let _ = std::fs::remove_file(out.join("index.html"));
    let index_path = dist.join("index.html");
    let index = std::fs::read_to_string(&index_path).map_err(|e| e.to_string())?;
    std::fs::write(&index_path, bundle.link_into(&index)?)
        .map_err(|e| format!("cannot write {}: {e}", index_path.display()))
}

/// `Err` with the first post-MVP feature found, when there is one.
pub fn validate_mvp(wasm: &[u8]) -> std::result::Result<(), String> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::MVP)
        .validate_all(wasm)
        .map(|_| ())
        .map_err(|e| format!("not a WebAssembly MVP module: {e}"))
}

/// The JS glue and wasm named by a page's `<link id="app-bundle">`.
#[derive(Debug, PartialEq)]
struct Bundle {
    js: String,
    wasm: String,
}

impl Bundle {
    fn from_index(html: &str) -> Result<Self> {
        let (_, tag) = app_bundle_tag(html)?;
        let value = |name| attr_value(tag, name).ok_or(format!("app-bundle has no {name}"));
        Ok(Self {
            js: value("href")?.to_owned(),
            wasm: value("data-wasm")?.to_owned(),
        })
    }

    /// `html` with this bundle named as the MVP fallback on its app-bundle.
    fn link_into(&self, html: &str) -> Result<String> {
        let (start, tag) = app_bundle_tag(html)?;
        let insert_at = start + tag.trim_end_matches('>').trim_end_matches('/').len();
        let mut out = html.to_owned();
        out.insert_str(
            insert_at,
            &format!(
                " data-mvp-js=\"{}\" data-mvp-wasm=\"{}\"",
                self.js, self.wasm
            ),
        );
        Ok(out)
    }
}

/// The `<link …>` whose id is `app-bundle`, and where it starts.
fn app_bundle_tag(html: &str) -> Result<(usize, &str)> {
    html.match_indices("<link")
        .filter_map(|(start, _)| {
            let end = html[start..].find('>')?;
            Some((start, &html[start..=start + end]))
        })
        .find(|(_, tag)| attr_value(tag, "id") == Some("app-bundle"))
        .ok_or_else(|| "no <link id=app-bundle> (see Trunk.toml's pattern_script)".to_owned())
}

/// One attribute's value in a tag Trunk wrote (quoted, or bare after
/// minification).
fn attr_value<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    tag.split_whitespace().find_map(|part| {
        let value = part.strip_prefix(name)?.strip_prefix('=')?;
        let value = value.trim_end_matches('>').trim_end_matches('/');
        Some(value.trim_matches(|c| c == '"' || c == '\''))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::WasmFeatures as F;

    /// The post-MVP features the main build is compiled with (rustc's
    /// defaults for wasm32; frontend/index.html tells wasm-opt the same).
    const MAIN_BUILD: [F; 6] = [
        F::MULTI_VALUE,
        F::SIGN_EXTENSION,
        F::SATURATING_FLOAT_TO_INT,
        F::BULK_MEMORY,
        F::REFERENCE_TYPES,
        F::MUTABLE_GLOBAL,
    ];

    /// The probe module in `frontend/loader.js`, read from the file itself.
    fn loader_probe() -> Vec<u8> {
        let js = std::fs::read_to_string(root().join("frontend").join("loader.js")).unwrap();
        let start = js.find("new Uint8Array([").unwrap() + "new Uint8Array([".len();
        let end = js[start..].find("])").unwrap() + start;
        js[start..end]
            .split(',')
            .map(|b| {
                let b = b.trim();
                u8::from_str_radix(b.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{b}"))
            })
            .collect()
    }

    fn valid_with(features: F, bytes: &[u8]) -> bool {
        wasmparser::Validator::new_with_features(features)
            .validate_all(bytes)
            .is_ok()
    }

    #[test]
    fn the_loaders_probe_needs_every_feature_of_the_main_build() {
        let probe = loader_probe();
        let all = MAIN_BUILD.iter().fold(F::MVP, |acc, f| acc | *f);
        assert!(valid_with(all, &probe), "an engine with them all passes");
        for missing in MAIN_BUILD {
            assert!(
                !valid_with(all - missing, &probe),
                "an engine without {missing:?} must fail the probe"
            );
        }
        assert!(validate_mvp(&probe).is_err());
    }

    #[test]
    fn reads_and_links_the_bundle_in_minified_and_quoted_html() {
        let mvp = "<head><link data-wasm=/mvp/frontend-1_bg.wasm href=/mvp/frontend-1.js id=app-bundle rel=modulepreload></head>";
        let bundle = Bundle::from_index(mvp).unwrap();
        assert_eq!(
            bundle,
            Bundle {
                js: "/mvp/frontend-1.js".into(),
                wasm: "/mvp/frontend-1_bg.wasm".into()
            }
        );
        let main = r#"<link rel="icon" href="/i.svg"><link rel="modulepreload" id="app-bundle" href="/frontend-2.js" data-wasm="/frontend-2_bg.wasm"><body>"#;
        let linked = bundle.link_into(main).unwrap();
        assert!(linked.contains(
            r#"data-wasm="/frontend-2_bg.wasm" data-mvp-js="/mvp/frontend-1.js" data-mvp-wasm="/mvp/frontend-1_bg.wasm"><body>"#
        ), "{linked}");
        assert!(Bundle::from_index("<link id=other href=x>").is_err());
    }
}
