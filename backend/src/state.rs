//! What every handler and extractor is given: the pool, the configuration,
//! the keys. Built once at start-up (or by a test), cheap to clone.

use std::sync::Arc;

use crate::auth::AuthState;
use crate::config::Config;
use crate::db::{self, Backend, DbPool};
use crate::identity::{REAL_NAME_ENV, RealNameCheck, RealNameSetting};
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
    /// The real-name check (实名认证): `config.real_name.build()`; a test
    /// may put another in.
    pub real_name: Arc<dyn RealNameCheck>,
    /// Where staff passwords are hashed: bounded, off the database pool.
    pub hasher: Arc<HashPool>,
}

impl AppState {
    /// Loads (or, in development, generates) the keys, opens and migrates
    /// the configured database: what `backend serve` runs on, and what the
    /// in-process tests build with a temporary data folder. In production
    /// (`MARKET_CODE_ENV=production`) anything only fit for a developer's
    /// machine stops it with a message saying what to do: no https public
    /// URL, keys not configured, no SMS gateway, the development roster as
    /// the real-name check, a staff account with the demo password.
    pub fn open(config: Config) -> Result<Self, String> {
        let refuse = |e: String| {
            if config.production() {
                format!("MARKET_CODE_ENV=production: {e}")
            } else {
                e
            }
        };
        if config.production() && !config.https() {
            return Err(refuse(format!(
                "MARKET_CODE_PUBLIC_URL={} is not https://; sessions and login codes \
                 travel over it (over https cookies get Secure and __Host-, and responses HSTS)",
                config.public_url
            )));
        }
        let auth = AuthState::from_config(&config).map_err(refuse)?;
        if config.production()
            && let RealNameSetting::DevRoster(path) = &config.real_name
        {
            return Err(refuse(format!(
                "{REAL_NAME_ENV} is not set: the development roster ({}) is not a real-name \
                 check; configure the deployment's check (README, \"Real-name check\")",
                path.display()
            )));
        }
        let backend = Backend::from_url(&config.database_url);
        let pool = db::connect(&config.database_url)?;
        let migration = db::migrate(&pool)?;
        let real_name = config.real_name.build();
        if config.production() {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let demo = crate::services::staff::accounts_with_password(
                &mut conn,
                crate::seed::DEFAULT_DEMO_PASSWORD,
            )
            .map_err(|e| e.to_string())?;
            if !demo.is_empty() {
                return Err(refuse(format!(
                    "staff account(s) {} still have the demo password from the source code; \
                     give each another (`backend set-password <username>`) before serving",
                    demo.join(", ")
                )));
            }
        }
        Ok(Self {
            pool,
            config: Arc::new(config),
            backend,
            migration: migration.into(),
            auth: Arc::new(auth),
            real_name,
            hasher: Arc::new(HashPool::for_this_machine()),
        })
    }
}
