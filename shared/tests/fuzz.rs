//! Fuzzing `shared`'s parsers, as bounded property runs: the stall-code
//! layouts (compact `/S/` and legacy `/s/`), the identifier parsers, the
//! whole-form validators, the bounds — arbitrary input, never a panic, and
//! what parses reads back the same. (The server's parsers are fuzzed in
//! `backend/src/fuzz.rs`.)
//!
//! `cargo test` runs a few thousand cases each; `FUZZ_CASES=200000 cargo
//! test -p shared --release --test fuzz` runs longer by hand (figures in
//! BENCHMARKS.md).

use proptest::prelude::*;
use shared::form::FormValue;
use shared::ids::{CivilDate, MobileNumber, ResidentId, Uscc};
use shared::limits::{Bounded, MAX_BANK_IDS, MAX_TOKEN_LEN};
use shared::stall_code::{self, CodePayload, CompactPayload};

fn config(ci: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(ci),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn today() -> CivilDate {
    CivilDate::new(2026, 12, 2).unwrap()
}

/// Text near the shapes the parsers expect, and anything at all.
fn id_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,20}",
        "[0-9]{17}[0-9Xx]",
        "[0-9A-HJ-NPQRTUWXY]{18}",
        "[+0 ()-]{0,4}1[3-9][0-9 -]{9,14}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn fuzz_compact_codes_split_and_payloads_are_canonical(code in "[A-Z2-7=a-z.]{0,60}") {
        if let Ok((payload, tag)) = stall_code::split_compact(&code) {
            prop_assert_eq!(tag.len(), stall_code::COMPACT_TAG_LEN);
            // One spelling per byte string: joining gives the code back.
            prop_assert_eq!(stall_code::join_compact(&payload, &tag), code);
            if let Ok(p) = CompactPayload::from_bytes(&payload) {
                prop_assert_eq!(p.to_bytes(), payload);
            }
        }
    }

    #[test]
    fn fuzz_legacy_codes_split_and_payloads_are_canonical(
        code in "[A-Za-z0-9_=-]{0,60}\\.?[A-Za-z0-9_=-]{0,30}",
    ) {
        if let Ok((payload, tag)) = stall_code::split(&code) {
            prop_assert_eq!(stall_code::join(&payload, &tag), code);
            if let Ok(p) = CodePayload::from_bytes(&payload) {
                prop_assert_eq!(p.to_bytes(), payload);
            }
        }
    }

    #[test]
    fn fuzz_payload_bytes(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        if let Ok(p) = CompactPayload::from_bytes(&bytes) {
            prop_assert_eq!(p.to_bytes(), bytes.clone());
        }
        if let Ok(p) = CodePayload::from_bytes(&bytes) {
            prop_assert_eq!(p.to_bytes(), bytes);
        }
    }

    #[test]
    fn fuzz_urls_and_ids(url in any::<String>(), id in "[a-z]{0,4}_?[0-9a-fA-F]{0,34}") {
        let _ = stall_code::code_in_url(&url);
        let _ = stall_code::qr_text(&url);
        if let Some(b) = stall_code::id_bytes(&id) {
            let (prefix, _) = id.split_once('_').unwrap();
            prop_assert_eq!(stall_code::id_text(prefix, &b), id.to_ascii_lowercase());
        }
        let _ = stall_code::id_prefix(&id);
    }

    #[test]
    fn fuzz_identifier_parsers(s in id_like()) {
        if let Ok(m) = MobileNumber::parse(&s) {
            // What parsed is 11 digits and parses again as itself.
            prop_assert_eq!(m.as_str().len(), 11);
            prop_assert_eq!(MobileNumber::parse(m.as_str()).unwrap(), m.clone());
            let _ = m.masked();
        }
        if let Ok(u) = Uscc::parse(&s) {
            prop_assert_eq!(Uscc::parse(u.as_str()).unwrap(), u);
        }
        if let Ok(r) = ResidentId::parse(&s, today()) {
            prop_assert!(r.birth_date() <= today());
            prop_assert_eq!(r.masked().chars().count(), 18);
        }
        let _ = shared::ids::mask_resident_id(&s);
        let _ = shared::ids::resident_id_check_char(&s);
        let _ = shared::ids::uscc_check_char(&s);
        if let Some(d) = CivilDate::parse_iso(&s) {
            prop_assert_eq!(d.to_string(), s.clone());
        }
        let _ = shared::manager::parse_yuan(&s);
        let _ = shared::decision::Grade::parse(&s);
    }

    #[test]
    fn fuzz_form_values_from_any_json(json in any::<String>(), n in any::<i64>(), f in any::<f64>()) {
        let texts = [
            json.clone(),
            format!("{n}"),
            format!("{f}"),
            format!("[{json:?}]"),
            format!("{{\"a\":{json:?}}}"),
        ];
        for text in texts {
            if let Ok(v) = serde_json::from_str::<FormValue>(&text) {
                let _ = v.as_count();
                let _ = v.as_text();
            }
        }
    }

    #[test]
    fn fuzz_form_validators(
        name in any::<String>(),
        id in id_like(),
        uscc in id_like(),
        years in any::<String>(),
        rent in "[0-9.,-]{0,12}",
    ) {
        let identity = shared::merchant::IdentityInput {
            name: FormValue::Text(name.clone()),
            resident_id: FormValue::Text(id),
        };
        let _ = shared::merchant::validate_identity(&identity, today());
        let _ = identity.check_bounds();
        let profile = shared::merchant::ProfileInput {
            uscc: FormValue::Text(uscc.clone()),
            trade: FormValue::Text(name.clone()),
            years_in_business: FormValue::Text(years),
            stall_confirmed: None,
        };
        let _ = shared::merchant::validate_profile(&profile, None, today());
        let _ = shared::merchant::validate_profile(&profile, Some(today()), today());
        let _ = profile.check_bounds();
        let stall = shared::manager::StallInput {
            number: name.clone(),
            zone: name.clone(),
            trade: name.clone(),
            holder_name: name.clone(),
            holder_mobile: uscc.clone(),
            uscc,
            rent_yuan: rent,
            status: name,
        };
        let _ = shared::manager::validate_stall(&stall);
        let _ = stall.check_bounds();
    }

    #[test]
    fn fuzz_bounds_count_characters(s in any::<String>(), n in 0usize..80) {
        let req = shared::consent::SignRequest {
            letter_version: s.clone(),
            text_sha256: String::new(),
            bank_ids: vec![s.clone(); n],
            language: String::new(),
        };
        let within = s.chars().count() <= MAX_TOKEN_LEN;
        let refused = req.check_bounds().err().unwrap_or_default();
        prop_assert_eq!(refused.iter().any(|f| f.field == "letter_version"), !within);
        prop_assert_eq!(refused.iter().any(|f| f.field == "bank_ids"), n > MAX_BANK_IDS);
    }
}
