//! `backend rotate-keys`: re-encrypts every stored ciphertext that is not
//! under the current field key, so that a retired key can then be dropped.
//!
//! [`ENCRYPTED_FIELDS`] lists every column `FieldCipher` encrypts, with how
//! its authenticated context is made; a new encrypted column joins the list
//! (a test checks that rotation leaves nothing behind in any of them).
//! Each row is rewritten with a compare-and-set on its old ciphertext, so a
//! server process writing the same row meanwhile is never overwritten, and
//! the command can run while the servers serve, and again.

use diesel::prelude::*;

use super::keys::FieldCipher;
use crate::db::DbConn;
use crate::db::schema::{idempotency_keys, merchants, registry_operators};
use crate::error::AppResult;

/// Rows re-encrypted per query, so a large table does not sit in memory.
const BATCH: i64 = 500;

/// One encrypted column: its name for the report, and how to rotate it.
pub struct EncryptedField {
    pub name: &'static str,
    rotate: fn(&mut DbConn, &FieldCipher) -> AppResult<FieldReport>,
}

/// What rotation found in one column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldReport {
    pub field: &'static str,
    /// Re-encrypted under the current key now.
    pub reencrypted: usize,
    /// Under no key this server holds (or tampered with): left as they are.
    pub unreadable: usize,
}

/// Every column `FieldCipher::encrypt` writes.
pub const ENCRYPTED_FIELDS: &[EncryptedField] = &[
    EncryptedField {
        name: "merchants.resident_id_enc",
        rotate: rotate_resident_ids,
    },
    EncryptedField {
        name: "idempotency_keys.secret_enc",
        rotate: rotate_idempotency_secrets,
    },
    EncryptedField {
        name: "registry_operators.resident_id_enc",
        rotate: rotate_registry_ids,
    },
];

/// Re-encrypts every column, one after the other.
pub fn rotate(conn: &mut DbConn, cipher: &FieldCipher) -> AppResult<Vec<FieldReport>> {
    ENCRYPTED_FIELDS
        .iter()
        .map(|f| (f.rotate)(conn, cipher))
        .collect()
}

/// A column's stored ciphertexts counted by key id.
pub type Census = Vec<(&'static str, Vec<(String, usize)>)>;

/// How many stored ciphertexts each key id holds, per column (`legacy`: made
/// before keys had ids), for `backend keys`.
pub fn census(conn: &mut DbConn) -> AppResult<Census> {
    let resident: Vec<String> = merchants::table
        .filter(merchants::resident_id_enc.is_not_null())
        .select(merchants::resident_id_enc.assume_not_null())
        .load(conn)?;
    let secrets: Vec<String> = idempotency_keys::table
        .filter(idempotency_keys::secret_enc.is_not_null())
        .select(idempotency_keys::secret_enc.assume_not_null())
        .load(conn)?;
    let registry: Vec<String> = registry_operators::table
        .select(registry_operators::resident_id_enc)
        .load(conn)?;
    let count = |texts: Vec<String>| {
        let mut by_id: std::collections::BTreeMap<String, usize> = Default::default();
        for t in &texts {
            let id = FieldCipher::key_id_of(t).unwrap_or("legacy").to_owned();
            *by_id.entry(id).or_default() += 1;
        }
        by_id.into_iter().collect::<Vec<_>>()
    };
    Ok(vec![
        (ENCRYPTED_FIELDS[0].name, count(resident)),
        (ENCRYPTED_FIELDS[1].name, count(secrets)),
        (ENCRYPTED_FIELDS[2].name, count(registry)),
    ])
}

/// The prefix every ciphertext under the current key starts with.
fn current_prefix(cipher: &FieldCipher) -> String {
    format!("v2.{}.%", cipher.current_id())
}

fn rotate_resident_ids(conn: &mut DbConn, cipher: &FieldCipher) -> AppResult<FieldReport> {
    let mut report = FieldReport {
        field: ENCRYPTED_FIELDS[0].name,
        ..FieldReport::default()
    };
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String)> = merchants::table
            .filter(merchants::id.gt(&after))
            .filter(merchants::resident_id_enc.is_not_null())
            .filter(merchants::resident_id_enc.not_like(current_prefix(cipher)))
            .order(merchants::id.asc())
            .select((merchants::id, merchants::resident_id_enc.assume_not_null()))
            .limit(BATCH)
            .load(conn)?;
        let Some((last, _)) = rows.last() else {
            return Ok(report);
        };
        after = last.clone();
        for (id, old) in rows {
            // The merchant id is the context, as `services::merchant` seals it.
            let Some(plain) = cipher.decrypt(&old, &id) else {
                report.unreadable += 1;
                continue;
            };
            let new = cipher.encrypt(&plain, &id);
            report.reencrypted += diesel::update(
                merchants::table
                    .find(&id)
                    .filter(merchants::resident_id_enc.eq(&old)),
            )
            .set(merchants::resident_id_enc.eq(&new))
            .execute(conn)?;
        }
    }
}

fn rotate_idempotency_secrets(conn: &mut DbConn, cipher: &FieldCipher) -> AppResult<FieldReport> {
    let mut report = FieldReport {
        field: ENCRYPTED_FIELDS[1].name,
        ..FieldReport::default()
    };
    let mut after = (String::new(), String::new());
    loop {
        let rows: Vec<(String, String, String)> = idempotency_keys::table
            .filter(
                idempotency_keys::scope
                    .gt(&after.0)
                    .or(idempotency_keys::scope
                        .eq(&after.0)
                        .and(idempotency_keys::idem_key.gt(&after.1))),
            )
            .filter(idempotency_keys::secret_enc.is_not_null())
            .filter(idempotency_keys::secret_enc.not_like(current_prefix(cipher)))
            .order((
                idempotency_keys::scope.asc(),
                idempotency_keys::idem_key.asc(),
            ))
            .select((
                idempotency_keys::scope,
                idempotency_keys::idem_key,
                idempotency_keys::secret_enc.assume_not_null(),
            ))
            .limit(BATCH)
            .load(conn)?;
        let Some((scope, key, _)) = rows.last() else {
            return Ok(report);
        };
        after = (scope.clone(), key.clone());
        for (scope, key, old) in rows {
            let context = super::idempotency::secret_context(&scope, &key);
            let Some(plain) = cipher.decrypt(&old, &context) else {
                report.unreadable += 1;
                continue;
            };
            let new = cipher.encrypt(&plain, &context);
            report.reencrypted += diesel::update(
                idempotency_keys::table
                    .find((&scope, &key))
                    .filter(idempotency_keys::secret_enc.eq(&old)),
            )
            .set(idempotency_keys::secret_enc.eq(&new))
            .execute(conn)?;
        }
    }
}

fn rotate_registry_ids(conn: &mut DbConn, cipher: &FieldCipher) -> AppResult<FieldReport> {
    let mut report = FieldReport {
        field: ENCRYPTED_FIELDS[2].name,
        ..FieldReport::default()
    };
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String, String)> = registry_operators::table
            .filter(registry_operators::id.gt(&after))
            .filter(registry_operators::resident_id_enc.not_like(current_prefix(cipher)))
            .order(registry_operators::id.asc())
            .select((
                registry_operators::id,
                registry_operators::uscc,
                registry_operators::resident_id_enc,
            ))
            .limit(BATCH)
            .load(conn)?;
        let Some((last, _, _)) = rows.last() else {
            return Ok(report);
        };
        after = last.clone();
        for (id, uscc, old) in rows {
            // The business is the context, as `identity::registry` seals it;
            // the blind index has its own key and stays as it is.
            let context = crate::identity::registry::context(&uscc);
            let Some(plain) = cipher.decrypt(&old, &context) else {
                report.unreadable += 1;
                continue;
            };
            let new = cipher.encrypt(&plain, &context);
            report.reencrypted += diesel::update(
                registry_operators::table
                    .find(&id)
                    .filter(registry_operators::resident_id_enc.eq(&old)),
            )
            .set(registry_operators::resident_id_enc.eq(&new))
            .execute(conn)?;
        }
    }
}
