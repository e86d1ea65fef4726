//! Who is calling: merchant login by SMS code, sessions, the request
//! extractors that enforce them, and the secrets they rest on.
//!
//! All state (codes, attempt counters, send limits, sessions, idempotency
//! keys) is in the database, so any number of server processes agree.

pub mod idempotency;
pub mod keys;
pub mod limits;
pub mod origin;
pub mod otp;
pub mod rotation;
pub mod session;
pub mod sms;

use std::sync::Arc;

use crate::config::Config;
use crate::stall_codes::CodeKey;

pub const FIELD_KEY_ENV: &str = "MARKET_CODE_FIELD_KEY";
pub const FIELD_KEYS_RETIRED_ENV: &str = "MARKET_CODE_FIELD_KEYS_RETIRED";
pub const FIELD_KEY_FILE: &str = "field.key";
pub const INDEX_KEY_ENV: &str = "MARKET_CODE_INDEX_KEY";
pub const INDEX_KEY_FILE: &str = "index.key";

/// The merchant-side secrets and services, built once at start-up and shared
/// through `AppState::auth`.
pub struct AuthState {
    /// Signs and checks stall codes.
    pub code_key: CodeKey,
    /// Encrypts resident ID numbers at rest; hashes one-time codes.
    pub fields: keys::FieldCipher,
    pub sms: Arc<dyn sms::SmsSender>,
    /// `scheme://host[:port]` of the public URL: the one foreign origin a
    /// state-changing request may come from (besides the server's own host).
    pub public_origin: String,
    /// Cookies get `Secure` when the public URL is https.
    pub cookie_secure: bool,
}

impl AuthState {
    /// Keys from the configuration (in development, else from the data
    /// folder, generated there on first run); SMS through the configured
    /// gateway, else (development only) to the outbox in the data folder.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let code_key = CodeKey::load(config)?;
        let field_cipher = field_cipher(config)?;
        let sms: Arc<dyn sms::SmsSender> = match (&config.sms_gateway, config.production()) {
            (Some(gateway), _) => Arc::new(sms::GatewaySender::new(gateway)),
            (None, true) => {
                return Err(
                    "MARKET_CODE_SMS_GATEWAY_URL is not set. In production login \
                     codes must reach phones: configure the SMS gateway (README, \
                     \"SMS gateway\"); the development outbox writes codes to a file."
                        .to_owned(),
                );
            }
            (None, false) => Arc::new(sms::OutboxSender::new(&config.data_dir)),
        };
        Ok(Self::new(code_key, field_cipher, sms, &config.public_url))
    }

    pub fn new(
        code_key: CodeKey,
        fields: keys::FieldCipher,
        sms: Arc<dyn sms::SmsSender>,
        public_url: &str,
    ) -> Self {
        Self {
            code_key,
            fields,
            sms,
            public_origin: origin::origin_of(public_url),
            cookie_secure: public_url.starts_with("https://"),
        }
    }
}

/// The field cipher as configured: `MARKET_CODE_FIELD_KEY` (in development,
/// else `data/field.key`, generated on first run) and
/// `MARKET_CODE_FIELD_KEYS_RETIRED`; its blind index keyed by
/// `MARKET_CODE_INDEX_KEY` (in development, else `data/index.key`), which is
/// never rotated with the field keys.
pub fn field_cipher(config: &Config) -> Result<keys::FieldCipher, String> {
    let (current, retired) = keys::load_ring(
        &config.field_keys,
        FIELD_KEY_ENV,
        FIELD_KEYS_RETIRED_ENV,
        &config.data_dir,
        FIELD_KEY_FILE,
        config.production(),
    )?;
    let index_settings = crate::config::KeySettings {
        current: config.index_key.clone(),
        retired: Vec::new(),
    };
    let (index, _) = keys::load_ring(
        &index_settings,
        INDEX_KEY_ENV,
        INDEX_KEY_ENV,
        &config.data_dir,
        INDEX_KEY_FILE,
        config.production(),
    )?;
    Ok(keys::FieldCipher::new(&current)
        .with_retired(&retired)
        .with_index_key(&index))
}
