//! Server secrets: loading them, and the two things done with the field key
//! (encrypting personal fields at rest, keyed hashes of one-time codes).
//!
//! A key comes from an environment variable (hex or base64) when set, so
//! several server processes can share it; otherwise, in development only,
//! from a file in the data folder, generated with owner-only permissions on
//! first run (production refuses to start without the variable: see
//! [`load_ring`]). Each kind of key has one current key and any number of
//! retired ones: the current one signs or encrypts, all of them verify or
//! decrypt, so keys can be rotated without voiding what the old one made
//! (`backend rotate-keys` re-encrypts). Key bytes never reach a log: the
//! types holding them print as `<redacted>`.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub type HmacSha256 = Hmac<Sha256>;

/// Shorter keys are refused: 128 bits is the least either use needs.
pub const MIN_KEY_BYTES: usize = 16;
const GENERATED_KEY_BYTES: usize = 32;

/// Decodes a key written as hex or as base64 (either alphabet, padded or not).
pub fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let bytes = if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| e.to_string())?
    } else {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or("the key is neither hex nor base64")?
    };
    if bytes.len() < MIN_KEY_BYTES {
        return Err(format!(
            "the key has {} bytes; at least {MIN_KEY_BYTES} are needed",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The key named by `env_value` if given, else the one in
/// `data_dir/file_name`, else a new random key written there (mode 0600).
/// Error messages name the variable or file, never the key.
pub fn load_or_create(
    env_name: &str,
    env_value: Option<&str>,
    data_dir: &Path,
    file_name: &str,
) -> Result<Vec<u8>, String> {
    if let Some(value) = env_value.filter(|v| !v.trim().is_empty()) {
        return decode_key(value).map_err(|e| format!("{env_name}: {e}"));
    }
    let path = data_dir.join(file_name);
    let read = |path: &Path| -> Result<Vec<u8>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        decode_key(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    if path.exists() {
        return read(&path);
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let key: [u8; GENERATED_KEY_BYTES] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    // create_new: when two processes start at once, one writes and the other
    // reads what was written instead of overwriting it.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(format!("{}\n", hex::encode(key)).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            tracing::info!(file = %path.display(), "generated a new key");
            Ok(key.to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

/// The current key and the retired ones of one kind, as bytes: the current
/// one from its variable (or, in development, the data folder's file,
/// generated when missing), the retired ones from theirs.
pub fn load_ring(
    settings: &crate::config::KeySettings,
    env_name: &str,
    retired_env_name: &str,
    data_dir: &Path,
    file_name: &str,
    production: bool,
) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    let current = match (&settings.current, production) {
        (Some(text), _) => decode_key(text).map_err(|e| format!("{env_name}: {e}"))?,
        (None, true) => {
            return Err(format!(
                "{env_name} is not set. In production a key is never generated: one kept \
                 beside the database would be lost with its volume (every printed stall code \
                 void, every stored ID number unreadable) and copied into every backup. Make \
                 one (`openssl rand -hex 32`), keep it in your secret store and set {env_name}."
            ));
        }
        (None, false) => load_or_create(env_name, None, data_dir, file_name)?,
    };
    let retired = settings
        .retired
        .iter()
        .enumerate()
        .map(|(i, text)| {
            decode_key(text).map_err(|e| format!("{retired_env_name}, key {}: {e}", i + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((current, retired))
}

/// HMAC-SHA256 of `parts`, each length-prefixed so that ("ab","c") and
/// ("a","bc") differ.
pub fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of one message, with no framing: what stall-code tags use.
pub fn hmac_plain(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// One field key: what it encrypts with, and its id (written into every
/// ciphertext it makes, so the right key is found and rotation knows what
/// is left to do).
struct FieldKey {
    id: String,
    aead: Aes256Gcm,
    otp_key: [u8; 32],
}

impl FieldKey {
    fn new(master: &[u8]) -> Self {
        let enc_key = hmac(master, &[b"market-code field encryption v1"]);
        Self {
            id: hex::encode(&hmac(master, &[b"market-code field key id"])[..4]),
            aead: Aes256Gcm::new_from_slice(&enc_key).expect("32-byte key"),
            otp_key: hmac(master, &[b"market-code otp hash v1"]),
        }
    }

    fn open(&self, raw: &[u8], context: &str) -> Option<String> {
        if raw.len() < 12 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(12);
        let plain = self
            .aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// Encrypts personal fields (resident ID numbers) and hashes one-time codes,
/// with two keys derived from one master key so neither use can stand in for
/// the other. Holds the current master key and the retired ones: the current
/// one encrypts and hashes, every one decrypts and matches.
pub struct FieldCipher {
    current: FieldKey,
    retired: Vec<FieldKey>,
    /// Keys the blind index of resident ID numbers. Its own key, never
    /// rotated with the field keys: an index value is stored in several
    /// tables (registry, merchants, consents as evidence) and compared for
    /// equality, so it must mean the same person for as long as they exist.
    index_key: [u8; 32],
}

/// Ciphertexts made before keys had ids: `v1.<base64url(nonce ‖ sealed)>`.
const LEGACY_PREFIX: &str = "v1.";
/// `v2.<key id>.<base64url(nonce ‖ sealed)>`.
const PREFIX: &str = "v2.";

impl FieldCipher {
    /// A cipher over one master key, whose blind index is keyed from the
    /// same master until [`FieldCipher::with_index_key`] gives it its own.
    pub fn new(master: &[u8]) -> Self {
        Self {
            current: FieldKey::new(master),
            retired: Vec::new(),
            index_key: index_key_of(master),
        }
    }

    /// The same cipher, its blind index keyed by `master` (the index key,
    /// `MARKET_CODE_INDEX_KEY`).
    pub fn with_index_key(mut self, master: &[u8]) -> Self {
        self.index_key = index_key_of(master);
        self
    }

    /// The keyed blind index of a resident ID number (normalised, as
    /// `shared::ids::ResidentId` holds it): equal numbers give equal indexes,
    /// so a person is looked up without decrypting anyone, and a copy of the
    /// table gives nothing away without the key (a plain hash of 18 digits
    /// with a known region, birth date and check character falls in
    /// minutes).
    pub fn blind_index(&self, resident_id: &str) -> String {
        hex::encode(hmac(&self.index_key, &[resident_id.as_bytes()]))
    }

    /// The same cipher, also decrypting what `masters` encrypted.
    pub fn with_retired(mut self, masters: &[Vec<u8>]) -> Self {
        self.retired = masters
            .iter()
            .map(|m| FieldKey::new(m))
            .filter(|k| k.id != self.current.id)
            .collect();
        self
    }

    /// The id of the key that encrypts now.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Every key's id, the current one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys().map(|k| k.id.as_str()).collect()
    }

    fn keys(&self) -> impl Iterator<Item = &FieldKey> {
        std::iter::once(&self.current).chain(&self.retired)
    }

    /// `v2.<key id>.<base64url(nonce ‖ ciphertext)>`. `context` (e.g. the
    /// merchant id) is authenticated, so a ciphertext copied to another row
    /// fails to open.
    pub fn encrypt(&self, plain: &str, context: &str) -> String {
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .current
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short field cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!(
            "{PREFIX}{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(out)
        )
    }

    /// `None` for anything tampered with, encrypted under a key this cipher
    /// does not hold or another context, or not made by
    /// [`FieldCipher::encrypt`].
    pub fn decrypt(&self, text: &str, context: &str) -> Option<String> {
        if let Some(rest) = text.strip_prefix(PREFIX) {
            let (id, body) = rest.split_once('.')?;
            let raw = URL_SAFE_NO_PAD.decode(body).ok()?;
            return self.keys().find(|k| k.id == id)?.open(&raw, context);
        }
        // Before key ids: whichever key opens it.
        let raw = URL_SAFE_NO_PAD
            .decode(text.strip_prefix(LEGACY_PREFIX)?)
            .ok()?;
        self.keys().find_map(|k| k.open(&raw, context))
    }

    /// Whether `text` was encrypted under the current key (else
    /// `backend rotate-keys` re-encrypts it).
    pub fn is_current(&self, text: &str) -> bool {
        text.strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(id, _)| id == self.current.id)
    }

    /// The text's key id (`None` for a ciphertext made before key ids).
    pub fn key_id_of(text: &str) -> Option<&str> {
        text.strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .map(|(id, _)| id)
    }

    /// Keyed, so a copy of the table does not give the codes away: six
    /// digits are a million guesses against a plain hash.
    pub fn otp_hash(&self, challenge_id: &str, code: &str) -> String {
        otp_hash_with(&self.current.otp_key, challenge_id, code)
    }

    /// Under any key held (a code issued just before a rotation still
    /// works), compared in constant time.
    pub fn otp_matches(&self, challenge_id: &str, code: &str, stored: &str) -> bool {
        self.keys().any(|k| {
            let computed = otp_hash_with(&k.otp_key, challenge_id, code);
            computed.as_bytes().ct_eq(stored.as_bytes()).into()
        })
    }
}

fn index_key_of(master: &[u8]) -> [u8; 32] {
    hmac(master, &[b"market-code resident id blind index v1"])
}

fn otp_hash_with(key: &[u8; 32], challenge_id: &str, code: &str) -> String {
    hex::encode(hmac(key, &[challenge_id.as_bytes(), code.as_bytes()]))
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldCipher(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mc-keys-{name}-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn hmac_matches_rfc_4231_case_1() {
        let tag = hmac_plain(&[0x0b; 20], b"Hi There");
        assert_eq!(
            hex::encode(tag),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn keys_decode_from_hex_and_base64() {
        let bytes: Vec<u8> = (0u8..32).collect();
        assert_eq!(decode_key(&hex::encode(&bytes)).unwrap(), bytes);
        assert_eq!(decode_key(&STANDARD.encode(&bytes)).unwrap(), bytes);
        assert_eq!(decode_key(&URL_SAFE_NO_PAD.encode(&bytes)).unwrap(), bytes);
        assert_eq!(
            decode_key(&format!(" {}\n", hex::encode(&bytes))).unwrap(),
            bytes
        );
        assert!(
            decode_key(&hex::encode([1u8; 8]))
                .unwrap_err()
                .contains("8 bytes")
        );
        assert!(decode_key("not a key!").is_err());
    }

    #[test]
    fn generated_key_is_kept_private_and_reused() {
        let dir = temp_dir("gen");
        let first = load_or_create("X", None, &dir, "k.key").unwrap();
        assert_eq!(first.len(), GENERATED_KEY_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("k.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(load_or_create("X", None, &dir, "k.key").unwrap(), first);
        assert_eq!(
            load_or_create("X", Some("  "), &dir, "k.key").unwrap(),
            first
        );
        // The variable wins over the file.
        let env = hex::encode([9u8; 32]);
        assert_eq!(
            load_or_create("X", Some(&env), &dir, "k.key").unwrap(),
            vec![9u8; 32]
        );
        let err = load_or_create("MY_VAR", Some("abcd"), &dir, "k.key").unwrap_err();
        assert!(err.starts_with("MY_VAR"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn damaged_key_file_is_an_error_not_a_new_key() {
        let dir = temp_dir("bad");
        std::fs::write(dir.join("k.key"), "short").unwrap();
        assert!(load_or_create("X", None, &dir, "k.key").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fields_round_trip_and_are_bound_to_their_context() {
        let c = FieldCipher::new(&[1u8; 32]);
        let sealed = c.encrypt("11010519491231002X", "mch_a");
        assert!(!sealed.contains("19491231"));
        assert_ne!(
            sealed,
            c.encrypt("11010519491231002X", "mch_a"),
            "random nonce"
        );
        assert_eq!(
            c.decrypt(&sealed, "mch_a").as_deref(),
            Some("11010519491231002X")
        );
        assert_eq!(c.decrypt(&sealed, "mch_b"), None);
        assert_eq!(FieldCipher::new(&[2u8; 32]).decrypt(&sealed, "mch_a"), None);
        let mut tampered = sealed.clone().into_bytes();
        let i = tampered.len() - 3;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            c.decrypt(std::str::from_utf8(&tampered).unwrap(), "mch_a"),
            None
        );
        assert_eq!(c.decrypt("garbage", "mch_a"), None);
    }

    #[test]
    fn blind_indexes_are_keyed_and_apart_from_the_other_uses() {
        let c = FieldCipher::new(&[1u8; 32]);
        let id = "11010519491231002X";
        let i = c.blind_index(id);
        assert_eq!(i, c.blind_index(id));
        assert_eq!(i.len(), 64);
        assert!(!i.contains("19491231"));
        assert_ne!(i, c.blind_index("110105194912310037"));
        assert_ne!(i, FieldCipher::new(&[2u8; 32]).blind_index(id));
        // Not the OTP hash of the same text, nor a plain SHA-256 of it.
        assert_ne!(i, c.otp_hash("", id));
        assert_ne!(
            i,
            hex::encode(<Sha256 as sha2::Digest>::digest(id.as_bytes()))
        );
    }

    #[test]
    fn the_blind_index_outlives_a_rotation_of_the_field_key() {
        let index_master = [9u8; 32];
        let before = FieldCipher::new(&[1u8; 32]).with_index_key(&index_master);
        let after = FieldCipher::new(&[2u8; 32])
            .with_retired(&[vec![1u8; 32]])
            .with_index_key(&index_master);
        let id = "11010519491231002X";
        assert_eq!(before.blind_index(id), after.blind_index(id));
        assert_ne!(
            before.blind_index(id),
            FieldCipher::new(&[1u8; 32]).blind_index(id)
        );
    }

    #[test]
    fn a_retired_key_still_decrypts_and_the_current_one_encrypts() {
        let old = FieldCipher::new(&[1u8; 32]);
        let sealed_old = old.encrypt("11010519491231002X", "mch_a");
        assert!(sealed_old.starts_with(&format!("v2.{}.", old.current_id())));
        let rotated = FieldCipher::new(&[2u8; 32]).with_retired(&[vec![1u8; 32]]);
        assert_ne!(rotated.current_id(), old.current_id());
        assert_eq!(rotated.key_ids(), [rotated.current_id(), old.current_id()]);
        assert_eq!(
            rotated.decrypt(&sealed_old, "mch_a").as_deref(),
            Some("11010519491231002X")
        );
        assert!(!rotated.is_current(&sealed_old));
        let sealed_new = rotated.encrypt("11010519491231002X", "mch_a");
        assert!(rotated.is_current(&sealed_new));
        assert_eq!(
            FieldCipher::key_id_of(&sealed_new),
            Some(rotated.current_id())
        );
        // Without the retired key the old text is unreadable; the new is not.
        let only_new = FieldCipher::new(&[2u8; 32]);
        assert_eq!(only_new.decrypt(&sealed_old, "mch_a"), None);
        assert!(only_new.decrypt(&sealed_new, "mch_a").is_some());
        // A ciphertext from before key ids opens under whichever key made it.
        let raw = URL_SAFE_NO_PAD
            .decode(sealed_old.rsplit_once('.').unwrap().1)
            .unwrap();
        let legacy = format!("v1.{}", URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(
            rotated.decrypt(&legacy, "mch_a").as_deref(),
            Some("11010519491231002X")
        );
        assert!(!rotated.is_current(&legacy));
        // An OTP hashed just before the rotation still matches.
        let h = old.otp_hash("otp_1", "123456");
        assert!(rotated.otp_matches("otp_1", "123456", &h));
        assert!(!only_new.otp_matches("otp_1", "123456", &h));
    }

    #[test]
    fn production_never_generates_a_key() {
        let dir = temp_dir("prod");
        let none = crate::config::KeySettings::default();
        let err = load_ring(&none, "K", "K_RETIRED", &dir, "k.key", true).unwrap_err();
        assert!(err.starts_with("K is not set"), "{err}");
        assert!(!dir.join("k.key").exists());
        // Development generates one; a bad retired key is named.
        let (current, retired) = load_ring(&none, "K", "K_RETIRED", &dir, "k.key", false).unwrap();
        assert_eq!((current.len(), retired.len()), (32, 0));
        let bad = crate::config::KeySettings {
            current: Some(hex::encode([5u8; 32])),
            retired: vec![hex::encode([6u8; 32]), "nope".into()],
        };
        let err = load_ring(&bad, "K", "K_RETIRED", &dir, "k.key", true).unwrap_err();
        assert!(err.starts_with("K_RETIRED, key 2"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn otp_hashes_are_keyed_and_per_challenge() {
        let c = FieldCipher::new(&[1u8; 32]);
        let h = c.otp_hash("otp_1", "123456");
        assert!(c.otp_matches("otp_1", "123456", &h));
        assert!(!c.otp_matches("otp_1", "123457", &h));
        assert!(!c.otp_matches("otp_2", "123456", &h));
        assert!(!FieldCipher::new(&[2u8; 32]).otp_matches("otp_1", "123456", &h));
    }
}
