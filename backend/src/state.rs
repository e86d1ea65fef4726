//! What every handler and extractor is given: the pool, the configuration,
//! the keys. Built once at start-up (or by a test), cheap to clone.

use std::sync::Arc;

use crate::auth::AuthState;
use crate::config::Config;
use crate::db::{self, Backend, DbPool};
use crate::passwords::HashPool;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub backend: Backend,
    /// Newest migration applied at start-up.
    pub migration: Arc<str>,
    /// Merchant-side keys (stall codes, field encryption) and the SMS
    /// sender: `AuthState::from_config(&config)`.
    pub auth: Arc<AuthState>,
    /// Where staff passwords are hashed: bounded, off the database pool.
    pub hasher: Arc<HashPool>,
}

impl AppState {
    /// Opens and migrates the configured database and loads (or generates)
    /// the keys: what `backend serve` runs on, and what the in-process tests
    /// build with a temporary data folder.
    pub fn open(config: Config) -> Result<Self, String> {
        let backend = Backend::from_url(&config.database_url);
        let pool = db::connect(&config.database_url)?;
        let migration = db::migrate(&pool)?;
        let auth = AuthState::from_config(&config)?;
        Ok(Self {
            pool,
            config: Arc::new(config),
            backend,
            migration: migration.into(),
            auth: Arc::new(auth),
            hasher: Arc::new(HashPool::for_this_machine()),
        })
    }
}
