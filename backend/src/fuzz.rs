//! Fuzzing, as bounded property runs: the parsers of what arrives from
//! outside — stall codes, the CSV importers (stall list, rent ledger, the
//! county's credit exports) and the policy loader — get arbitrary and
//! mutated input, and must answer (accept or refuse) without panicking.
//! (`shared`'s own parsers — ids, stall-code layouts — are fuzzed in
//! `shared/tests/fuzz.rs`.)
//!
//! `cargo test` runs each target with a few hundred to a few thousand
//! cases; `FUZZ_CASES=100000 cargo test -p backend --release --lib fuzz`
//! runs longer by hand. Cases run and the time taken are in BENCHMARKS.md.
//! Inputs are built from real ones (a generated population's exports, the
//! built-in policy, the import templates) and mutated: bytes flipped,
//! lines dropped or doubled, fields replaced by edge cases.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use shared::stall_code::{CodePayload, CodeTarget, CompactPayload, CompactTarget};

use crate::credit::csvio::{RowError, read_rows};
use crate::credit::rows::each_credit_source;
use crate::decision::{Facts, Policy};
use crate::stall_codes::CodeKey;

/// Cases per target: the CI default unless `FUZZ_CASES` says more.
fn cases(ci: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci)
}

fn config(ci: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(ci),
        // A failure is shrunk, then reported with its input; nothing is
        // written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Values that break naive parsers.
const EDGE: &[&str] = &[
    "",
    " ",
    "\"",
    "\"\"",
    ",",
    ",,,",
    "\n",
    "\r\n",
    "\r",
    "0",
    "-1",
    "-0",
    "1e309",
    "NaN",
    "inf",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "3000.005",
    "2026-02-30",
    "2026-13-01",
    "0000-00-00",
    "2026/11/26",
    "2026-11",
    "91320282MA1X2Y3Z4Q",
    "11010519491231002X",
    "𝕏",
    "\u{feff}",
    "\u{0}",
    "摊位号",
    "在用",
    "停用",
    "A-01",
    "[[knock_out]]",
    "=",
    "'''",
    "}",
    "[scaling]",
];

#[derive(Debug, Clone)]
enum Edit {
    /// Replace `len` bytes at `at` with an edge value.
    Replace { at: usize, len: usize, edge: usize },
    /// Delete `len` bytes at `at`.
    Delete { at: usize, len: usize },
    /// Insert raw bytes (possibly not UTF-8) at `at`.
    Insert { at: usize, bytes: Vec<u8> },
    /// Repeat the line at `at`.
    DoubleLine { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..12, 0..EDGE.len()).prop_map(|(at, len, edge)| Edit::Replace {
            at,
            len,
            edge
        }),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        any::<usize>().prop_map(|at| Edit::DoubleLine { at }),
    ]
}

/// `seed` with `edits` applied, positions taken modulo its length.
fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for e in edits {
        let n = out.len().max(1);
        match e {
            Edit::Replace { at, len, edge } => {
                let at = at % n;
                let end = (at + len).min(out.len());
                out.splice(at.min(out.len())..end, EDGE[*edge].bytes());
            }
            Edit::Delete { at, len } => {
                let at = (at % n).min(out.len());
                let end = (at + len).min(out.len());
                out.drain(at..end);
            }
            Edit::Insert { at, bytes } => {
                let at = (at % n).min(out.len());
                out.splice(at..at, bytes.iter().copied());
            }
            Edit::DoubleLine { at } => {
                let at = (at % n).min(out.len());
                let start = out[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = out[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(out.len(), |i| at + i + 1);
                let line = out[start..end].to_vec();
                out.splice(end..end, line);
            }
        }
    }
    out
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 0..10)
}

// ---------------------------------------------------------------------------
// Stall codes

fn compact_payload() -> impl Strategy<Value = CompactPayload> {
    (any::<u8>(), any::<[u8; 8]>(), any::<Option<u32>>()).prop_map(|(key_id, prefix, version)| {
        CompactPayload {
            key_id,
            target: match version {
                None => CompactTarget::MarketWide {
                    market_prefix: prefix,
                },
                Some(code_version) => CompactTarget::Stall {
                    stall_prefix: prefix,
                    code_version,
                },
            },
        }
    })
}

/// Strings in the codes' own alphabets, the likeliest to get deep.
fn code_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z2-7]{0,60}",
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,30}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn fuzz_stall_code_verify_never_panics(code in code_like()) {
        let key = CodeKey::from_bytes(vec![7u8; 32]).with_retired(vec![vec![8u8; 32]]);
        // Only what a key signed verifies; nothing here was.
        prop_assert!(key.verify(&code).is_none());
    }

    #[test]
    fn fuzz_stall_codes_signed_verify_and_edited_do_not(
        payload in compact_payload(),
        at in any::<usize>(),
        with in "[A-Z2-7]",
    ) {
        let key = CodeKey::from_bytes(vec![7u8; 32]);
        let payload = CompactPayload { key_id: key.id(), ..payload };
        let code = key.sign(&payload);
        prop_assert_eq!(
            key.verify(&code),
            Some(crate::stall_codes::Verified::Compact(payload))
        );
        let at = at % code.len();
        let mut edited = code.clone().into_bytes();
        edited[at] = with.as_bytes()[0];
        let edited = String::from_utf8(edited).unwrap();
        if edited != code {
            prop_assert!(key.verify(&edited).is_none(), "{edited}");
        }
        prop_assert!(key.verify(&code[..at]).is_none());
    }

    #[test]
    fn fuzz_legacy_stall_codes_signed_verify(
        key_byte in any::<u8>(),
        market in any::<[u8; 16]>(),
        stall in any::<Option<([u8; 16], u32)>>(),
    ) {
        let key = CodeKey::from_bytes(vec![key_byte; 32]);
        let payload = CodePayload {
            key_id: key.id(),
            market_id: market,
            target: match stall {
                None => CodeTarget::MarketWide,
                Some((stall_id, code_version)) => CodeTarget::Stall { stall_id, code_version },
            },
        };
        let code = key.sign_legacy(&payload);
        prop_assert_eq!(key.verify(&code), Some(crate::stall_codes::Verified::Legacy(payload)));
    }
}

// ---------------------------------------------------------------------------
// CSV importers

/// The stall-list template plus rows in the shapes a market office writes.
fn stall_list_seed() -> Vec<u8> {
    let mut out = crate::services::stall_import::template_csv();
    out.extend_from_slice(
        "B-02,B,茶具,李四,139 1234 5679,91320282MA1X2Y3Z4Q,2999.50,停用\r\n\
         \"C,03\",C,\"紫砂\"\"壶\",王五,,,0,\r\n"
            .as_bytes(),
    );
    out
}

fn rent_seed() -> Vec<u8> {
    let mut out = crate::services::rent_ledger::template_csv();
    out.extend_from_slice(
        "A-01,2026-10,3000,3000,2026-10-05\r\nA-01,2026/11,3000.00,1500,\r\nB-02,2026-09,0,0,2026-09-31\r\n"
            .as_bytes(),
    );
    out
}

/// Each credit source's CSV for a few generated merchants, as the county
/// exports it.
fn credit_seeds() -> &'static Vec<(String, Vec<u8>)> {
    static SEEDS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "mc-fuzz-credit-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        let ds = crate::credit::generate::generate(12, 7, crate::credit::generate::default_as_of());
        crate::credit::csvio::write_dir(&dir, &ds).unwrap();
        let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        seeds.sort();
        let _ = std::fs::remove_dir_all(&dir);
        seeds
    })
}

/// Every source's parser over `bytes`, as if it were that source's file.
fn read_every_source(bytes: &[u8]) {
    macro_rules! read {
        ($field:ident, $ty:ty, $table:ident) => {
            let mut errors: Vec<RowError> = Vec::new();
            let rows = read_rows::<$ty>("fuzz.csv", bytes, &mut errors);
            // What parsed is checked facts: applying them cannot fail now.
            if errors.is_empty() {
                for row in &rows {
                    let _ = crate::credit::rows::SourceRow::apply(row, &mut Facts::default());
                }
            }
        };
    }
    each_credit_source!(read);
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn fuzz_stall_list_import(edits in edits(), gbk in any::<bool>()) {
        let mut bytes = mutate(&stall_list_seed(), &edits);
        if gbk {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            bytes = encoding_rs::GBK.encode(&text).0.into_owned();
        }
        let existing: HashSet<String> = ["A-01".to_owned()].into();
        // Any answer but a panic; a refusal is the client's error, not ours.
        match crate::services::stall_import::parse(&bytes, &existing) {
            Ok(parsed) => prop_assert!(parsed.rows.len() <= parsed.total),
            Err(e) => prop_assert!(e.status.is_client_error(), "{e}"),
        }
    }

    #[test]
    fn fuzz_rent_ledger_import(edits in edits()) {
        let bytes = mutate(&rent_seed(), &edits);
        let stall_ids: HashMap<String, String> = [
            ("A-01".to_owned(), "stl_a01".to_owned()),
            ("B-02".to_owned(), "stl_b02".to_owned()),
        ]
        .into();
        if let Err(e) = crate::services::rent_ledger::check(&bytes, &stall_ids) {
            prop_assert!(e.status.is_client_error(), "{e}");
        }
    }

    #[test]
    fn fuzz_credit_export_import(which in any::<usize>(), edits in edits()) {
        let seeds = credit_seeds();
        let (_, seed) = &seeds[which % seeds.len()];
        read_every_source(&mutate(seed, &edits));
    }

    #[test]
    fn fuzz_importers_with_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2_000)) {
        let _ = crate::services::stall_import::parse(&bytes, &HashSet::new());
        let _ = crate::services::rent_ledger::check(&bytes, &HashMap::new());
        read_every_source(&bytes);
    }
}

// ---------------------------------------------------------------------------
// The policy loader

fn policy_seed() -> &'static str {
    include_str!("../policy/2026.11-1.toml")
}

/// A few merchants to decide for under a policy that loaded.
fn some_facts() -> &'static Vec<Facts> {
    static FACTS: std::sync::OnceLock<Vec<Facts>> = std::sync::OnceLock::new();
    FACTS.get_or_init(|| {
        crate::credit::generate::generate(8, 11, crate::credit::generate::default_as_of()).facts()
    })
}

proptest! {
    #![proptest_config(config(800))]

    #[test]
    fn fuzz_policy_loader(edits in edits()) {
        let bytes = mutate(policy_seed().as_bytes(), &edits);
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        // A policy the loader accepts is one the engine can run: deciding
        // under it must not panic either.
        if let Ok(policy) = Policy::from_toml(&text) {
            let day = crate::credit::generate::default_as_of();
            for facts in some_facts() {
                let _ = crate::decision::decide(&policy, facts, day);
            }
        }
    }

    #[test]
    fn fuzz_policy_loader_with_arbitrary_text(text in any::<String>()) {
        let _ = Policy::from_toml(&text);
    }
}

#[test]
fn the_mutations_reach_past_the_first_line() {
    // A guard on the fuzzer itself: mutated seeds still parse often enough
    // that the targets test the parsers' depths, not only their doors.
    let mut parsed_policies = 0;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..200 {
        let e = proptest::strategy::ValueTree::current(&edits().new_tree(&mut runner).unwrap());
        if let Ok(text) = String::from_utf8(mutate(policy_seed().as_bytes(), &e))
            && Policy::from_toml(&text).is_ok()
        {
            parsed_policies += 1;
        }
    }
    assert!(
        parsed_policies > 20,
        "{parsed_policies} of 200 mutated policies load"
    );
}
