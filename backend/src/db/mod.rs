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

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

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
    let applied = match &mut *conn {
        DbConn::Sqlite(c) => {
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| format!("migration failed: {e}"))?;
            c.applied_migrations().map_err(|e| e.to_string())?
        }
        DbConn::Pg(c) => {
            c.run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| format!("migration failed: {e}"))?;
            c.applied_migrations().map_err(|e| e.to_string())?
        }
    };
    Ok(applied
        .iter()
        .map(|v| v.to_string())
        .max()
        .unwrap_or_default())
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
