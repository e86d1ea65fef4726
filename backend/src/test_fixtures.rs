//! What the unit tests of several modules build on: a migrated in-memory
//! database, a fixed "now", a consent row, and a small imported population.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;

use crate::connectors::{Consent, PURPOSE_PRE_CREDIT};
use crate::credit::{generate, store};
use crate::db::schema::consents;
use crate::db::{DbConn, new_id};
use crate::decision::Source;
use crate::decisions::{StoredDecision, Subject, decide_for};

/// A fresh SQLite database in memory with every migration applied.
pub fn conn() -> DbConn {
    let mut c = DbConn::establish(":memory:").unwrap();
    if let DbConn::Sqlite(s) = &mut c {
        s.run_pending_migrations(crate::db::MIGRATIONS).unwrap();
    }
    c
}

/// A folder removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A migrated SQLite file (shared by the pool's connections, unlike
/// `:memory:`), for tests of what several connections do at once.
pub fn temp_pool() -> (crate::db::DbPool, TempDir) {
    let dir = std::env::temp_dir().join(format!(
        "mc-unit-{}",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = crate::db::connect(&dir.join("t.sqlite3").display().to_string()).unwrap();
    crate::db::migrate(&pool).unwrap();
    (pool, TempDir(dir))
}

/// 10:00 in Yixing on 2026-11-26.
pub fn now() -> DateTime<Utc> {
    "2026-11-26T02:00:00Z".parse().unwrap()
}

/// The blind index of the person the fixtures' consents name.
pub const PERSON: &str = "idx-test-person";

/// The subject [`consent_for`] covers, read for [`PERSON`].
pub fn subject(uscc: &str) -> Subject<'_> {
    Subject {
        uscc,
        person_index: Some(PERSON),
        birth_date: None,
    }
}

/// [`consent`] covering `uscc`, signed by [`PERSON`].
pub fn consent_for(
    conn: &mut DbConn,
    merchant: &str,
    uscc: &str,
    change: impl FnOnce(&mut Consent),
) -> String {
    consent(conn, merchant, |c| {
        c.subject_uscc = Some(uscc.to_owned());
        c.person_index = Some(PERSON.to_owned());
        change(c);
    })
}

/// Stores a consent of `merchant` for every source, bank `bnk_1` and the
/// pre-credit purpose, in force at [`now`], after `change`; returns its id.
/// It names no subject or person unless `change` does ([`consent_for`]).
pub fn consent(conn: &mut DbConn, merchant: &str, change: impl FnOnce(&mut Consent)) -> String {
    let mut c = Consent {
        id: new_id("cns"),
        merchant_id: merchant.into(),
        letter_version: "2026.11".into(),
        text_sha256: "0".repeat(64),
        categories: serde_json::to_string(&Source::ALL).unwrap(),
        bank_ids: "[\"bnk_1\"]".into(),
        purpose: PURPOSE_PRE_CREDIT.into(),
        granted_at: "2026-11-26T01:00:00.000Z".into(),
        expires_at: "2027-11-26T01:00:00.000Z".into(),
        withdrawn_at: None,
        channel: "wechat".into(),
        client_ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        subject_uscc: None,
        person_index: None,
    };
    change(&mut c);
    diesel::insert_into(consents::table)
        .values(&c)
        .execute(conn)
        .unwrap();
    c.id
}

/// Imports a small generated population and returns one subject's USCC.
pub fn with_population(conn: &mut DbConn) -> String {
    let ds = generate::generate(30, 11, "2026-11-20".parse().unwrap());
    store::import_dataset(conn, &ds, "test", "test", now()).unwrap();
    ds.registration[0].uscc.clone()
}

/// A decision about `uscc` for `merchant`, under a consent given for it, at `at`.
pub fn decided(conn: &mut DbConn, merchant: &str, uscc: &str, at: DateTime<Utc>) -> StoredDecision {
    let id = consent_for(conn, merchant, uscc, |_| {});
    decide_for(conn, "test", merchant, Some(&id), &subject(uscc), at).unwrap()
}

/// The PostgreSQL database named by `DECISION_PG_URL` (the backend's `pg_`
/// tests, run by `cargo xtask test`), migrated once per test process: tests
/// run in parallel, and two migrations racing on one fresh database collide.
pub fn pg_pool() -> crate::db::DbPool {
    static POOL: std::sync::OnceLock<crate::db::DbPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let url = std::env::var("DECISION_PG_URL").expect("DECISION_PG_URL");
        let pool = crate::db::connect(&url).unwrap();
        crate::db::migrate(&pool).unwrap();
        pool
    })
    .clone()
}
