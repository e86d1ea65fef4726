//! Database access: one connection type for SQLite and PostgreSQL, the pool,
//! migrations, and the bridge that keeps blocking diesel calls off the async
//! executor.
//!
//! Portability rules (so the same queries run on both backends through
//! `MultiConnection`): primary keys are TEXT ids made by [`new_id`]; times are
//! TEXT in the fixed RFC 3339 UTC form of [`timestamp`] (sorts as text); dates
//! are TEXT `YYYY-MM-DD`; money is BIGINT cents (fen); no `RETURNING`, no
//! upserts — a select then an insert inside a transaction instead.

pub mod models;
pub mod schema;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{AppError, AppResult};

/// PostgreSQL is tried first: libpq refuses a file path at once, whereas
/// SQLite would happily create a file named `postgres://…`.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager<DbConn>>;

/// `backend/migrations/`: one set of SQL, applied as it is to either backend
/// (the portable subset: see ARCHITECTURE.md, "Databases").
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgresql",
        }
    }
}

/// Applied to every pooled connection: SQLite needs WAL (readers do not block
/// the writer), a busy timeout (writers wait instead of failing with
/// SQLITE_BUSY) and foreign keys switched on, per connection.
#[derive(Debug)]
struct ConnectionSetup;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            c.batch_execute(
                // busy_timeout first: switching to WAL takes a lock that the
                // pool's other new connections contend for at start-up.
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Opens the pool. For SQLite the file's folder is created first.
pub fn connect(url: &str) -> Result<DbPool, String> {
    let backend = Backend::from_url(url);
    if backend == Backend::Sqlite
        && let Some(parent) = std::path::Path::new(url).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let size = match backend {
        Backend::Sqlite => 8,
        Backend::Postgres => 16,
    };
    Pool::builder()
        .max_size(size)
        .connection_timeout(std::time::Duration::from_secs(10))
        .connection_customizer(Box::new(ConnectionSetup))
        .build(ConnectionManager::<DbConn>::new(url))
        .map_err(|e| format!("cannot open the database ({}): {e}", backend.name()))
}

/// Applies pending migrations for whichever backend the pool talks to and
/// returns the newest applied version.
pub fn migrate(pool: &DbPool) -> Result<String, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    // `MultiConnection` has no migration harness of its own: each backend's
    // connection runs the same embedded set.
    let applied = match &mut *conn {
        DbConn::Sqlite(c) => apply(c)?,
        DbConn::Pg(c) => apply(c)?,
    };
    Ok(applied
        .iter()
        .map(|v| v.to_string())
        .max()
        .unwrap_or_default())
}

fn apply<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
) -> Result<Vec<diesel::migration::MigrationVersion<'static>>, String> {
    conn.run_pending_migrations(MIGRATIONS)
        .map_err(|e| format!("migration failed: {e}"))?;
    conn.applied_migrations().map_err(|e| e.to_string())
}

/// Runs blocking database work on tokio's blocking pool.
pub async fn run<T, F>(pool: &DbPool, work: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await
    .map_err(AppError::internal)?
}

/// A transaction for work that may read before it writes; use it for every
/// transaction that writes at all. SQLite begins a plain transaction as a
/// reader, and when another connection commits a write meanwhile, the first
/// write here fails at once with "database is locked" (SQLITE_BUSY) instead of
/// waiting for the busy timeout, because upgrading a stale read lock could
/// deadlock. Taking the write lock first (BEGIN IMMEDIATE semantics) makes it
/// wait its turn instead. PostgreSQL's row locks need nothing of the kind.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        if let DbConn::Sqlite(c) = conn {
            // `SqliteConnection::immediate_transaction` would hand the work a
            // `SqliteConnection`, not the `DbConn` every query is written
            // for; a write that matches no row takes the same lock, waiting
            // out the busy timeout as needed. The migrations table exists in
            // every migrated database, whatever the schema.
            diesel::sql_query(
                "UPDATE __diesel_schema_migrations SET version = version WHERE 0 = 1",
            )
            .execute(c)?;
        }
        work(conn)
    })
}

/// A new random primary key: a short type prefix and 128 random bits, e.g.
/// `stl_3f0c…`. Random, so ids reveal neither counts nor order.
pub fn new_id(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::random();
    format!("{prefix}_{}", hex::encode(bytes))
}

/// The one text form of a point in time stored in the database.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses what [`timestamp`] wrote.
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::stalls;

    const THREADS: usize = 16;
    const ROUNDS: usize = 20;

    /// A migrated SQLite file (not `:memory:`, which is private to one
    /// connection) holding one market with one stall; removed on drop.
    struct TempDb(std::path::PathBuf, DbPool);

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_db() -> TempDb {
        let dir = std::env::temp_dir().join(new_id("mc-lock-test"));
        let pool = connect(dir.join("db.sqlite").to_str().unwrap()).unwrap();
        assert_eq!(pool.max_size(), 8);
        migrate(&pool).unwrap();
        let mut conn = pool.get().unwrap();
        conn.batch_execute(
            "INSERT INTO markets (id, name, office_phone, address, created_at) \
             VALUES ('mkt_1', 'M', '0510', 'A', '2026-01-01T00:00:00.000Z'); \
             INSERT INTO stalls (id, market_id, number, zone, trade, holder_name, rent_cents, \
             status, created_at, updated_at) VALUES ('stl_1', 'mkt_1', 'A-1', 'A', 'tea', 'H', \
             0, 'active', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');",
        )
        .unwrap();
        TempDb(dir, pool)
    }

    /// Many threads each read the stall's rent, then write it back plus one:
    /// the read-then-write shape of the service transactions. Returns the
    /// errors and the final rent.
    fn contend(db: &TempDb, immediate: bool) -> (Vec<String>, i64) {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let pool = db.1.clone();
                std::thread::spawn(move || {
                    let mut errors = Vec::new();
                    for _ in 0..ROUNDS {
                        let mut pooled = pool.get().unwrap();
                        let conn: &mut DbConn = &mut pooled;
                        let work = |conn: &mut DbConn| -> QueryResult<()> {
                            let rent: i64 = stalls::table
                                .find("stl_1")
                                .select(stalls::rent_cents)
                                .first(conn)?;
                            // Widens the window in which another writer commits.
                            std::thread::sleep(std::time::Duration::from_millis(1));
                            diesel::update(stalls::table.find("stl_1"))
                                .set(stalls::rent_cents.eq(rent + 1))
                                .execute(conn)?;
                            Ok(())
                        };
                        let result = if immediate {
                            write_transaction(conn, work)
                        } else {
                            conn.transaction(work)
                        };
                        if let Err(e) = result {
                            errors.push(e.to_string());
                        }
                    }
                    errors
                })
            })
            .collect();
        let errors: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let rent = stalls::table
            .find("stl_1")
            .select(stalls::rent_cents)
            .first(&mut db.1.get().unwrap())
            .unwrap();
        (errors, rent)
    }

    #[test]
    fn write_transactions_wait_for_the_lock_instead_of_failing() {
        let db = temp_db();
        let (errors, rent) = contend(&db, true);
        assert!(
            errors.is_empty(),
            "{} failed: {:?}",
            errors.len(),
            errors.first()
        );
        // No lost update either: every increment read the previous one.
        assert_eq!(rent, (THREADS * ROUNDS) as i64);
    }

    /// Every table a migrated database has is declared in `schema.rs` with
    /// the same columns, and nothing more: the one schema module and the one
    /// migrations folder cannot drift apart unnoticed.
    fn assert_schema_matches_the_database(conn: &mut DbConn) {
        use std::collections::BTreeMap;

        use diesel::sql_types::Text;

        let declared: BTreeMap<String, Vec<String>> = crate::db::schema::declared_columns()
            .into_iter()
            .map(|(table, mut columns)| {
                columns.sort();
                (table.to_owned(), columns)
            })
            .collect();

        #[derive(QueryableByName)]
        struct TableColumn {
            #[diesel(sql_type = Text)]
            table_name: String,
            #[diesel(sql_type = Text)]
            column_name: String,
        }
        let query = match conn {
            DbConn::Sqlite(_) => {
                "SELECT m.name AS table_name, p.name AS column_name \
                 FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.name NOT LIKE '__diesel%'"
            }
            DbConn::Pg(_) => {
                "SELECT table_name::text AS table_name, column_name::text AS column_name \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name NOT LIKE '__diesel%'"
            }
        };
        let mut migrated: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in diesel::sql_query(query).load::<TableColumn>(conn).unwrap() {
            migrated
                .entry(c.table_name)
                .or_default()
                .push(c.column_name);
        }
        migrated.values_mut().for_each(|columns| columns.sort());
        assert_eq!(
            declared.keys().collect::<Vec<_>>(),
            migrated.keys().collect::<Vec<_>>(),
            "tables declared in schema.rs vs. created by the migrations"
        );
        for (table, columns) in &migrated {
            assert_eq!(&declared[table], columns, "columns of {table}");
        }
    }

    #[test]
    fn the_schema_matches_the_migrations() {
        assert_schema_matches_the_database(&mut crate::test_fixtures::conn());
    }

    /// The same on PostgreSQL: `DECISION_PG_URL` names a throwaway database.
    #[test]
    #[ignore = "needs PostgreSQL: DECISION_PG_URL=postgres://…/db cargo test -p backend -- --ignored pg_"]
    fn pg_the_schema_matches_the_migrations() {
        assert_schema_matches_the_database(&mut crate::test_fixtures::pg_pool().get().unwrap());
    }

    /// The control: without the write lock up front the same workload fails,
    /// so the test above would catch `write_transaction` losing it.
    #[test]
    fn plain_transactions_fail_with_database_locked() {
        let db = temp_db();
        let (errors, _) = contend(&db, false);
        assert!(
            errors.iter().any(|e| e.contains("database is locked")),
            "expected SQLITE_BUSY, got {errors:?}"
        );
    }
}
