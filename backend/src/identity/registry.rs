//! The registry's operator of each business (个体工商户经营者 / 法定代表人),
//! from the registration export: name, the resident ID number encrypted
//! under the field key (bound to the USCC) and its keyed blind index. Same
//! import rule as the fact tables: per business, a newer (or the same)
//! export replaces the entry, an older one never does; a newer registration
//! row without an ID number leaves the business with no operator anyone can
//! verify as.

use std::collections::BTreeMap;

use diesel::prelude::*;
use shared::merchant::RegisteredBusiness;

use crate::auth::keys::FieldCipher;
use crate::db::schema::{credit_registration, registry_operators};
use crate::db::{DbConn, new_id};
use crate::error::AppResult;

/// One business's registered operator, as an export row gives it. No
/// `Debug`: it holds an ID number.
pub struct OperatorEntry<'a> {
    pub uscc: &'a str,
    pub name: &'a str,
    /// Normalised; `None` when the export does not give it.
    pub resident_id: Option<&'a str>,
    pub as_of: &'a str,
}

/// Names compare without spaces (exports and people space them differently).
fn same_name(a: &str, b: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    squash(a) == squash(b)
}

/// The encryption context of a registry entry's ID number: its business.
/// The authenticated context of an operator's sealed ID number (also what
/// `auth::rotation` re-seals it with).
pub(crate) fn context(uscc: &str) -> String {
    format!("registry:{uscc}")
}

/// Imports the operators of one export (inside the caller's transaction).
/// Returns how many businesses' entries were replaced.
pub fn import(
    conn: &mut DbConn,
    fields: &FieldCipher,
    entries: &[OperatorEntry<'_>],
    batch_id: &str,
) -> AppResult<usize> {
    // The newest row per business in this export.
    let mut newest: BTreeMap<&str, &OperatorEntry<'_>> = BTreeMap::new();
    for e in entries {
        match newest.get(e.uscc) {
            Some(x) if x.as_of > e.as_of => {}
            _ => {
                newest.insert(e.uscc, e);
            }
        }
    }
    let mut replaced = 0;
    let usccs: Vec<&str> = newest.keys().copied().collect();
    for chunk in usccs.chunks(400) {
        let held: Vec<(String, String)> = registry_operators::table
            .filter(registry_operators::uscc.eq_any(chunk))
            .select((registry_operators::uscc, registry_operators::as_of))
            .load(conn)?;
        for uscc in chunk {
            let e = newest[uscc];
            if held.iter().any(|(u, a)| u == uscc && a.as_str() > e.as_of) {
                continue;
            }
            diesel::delete(registry_operators::table.filter(registry_operators::uscc.eq(uscc)))
                .execute(conn)?;
            if let Some(id) = e.resident_id {
                diesel::insert_into(registry_operators::table)
                    .values((
                        registry_operators::id.eq(new_id("rop")),
                        registry_operators::uscc.eq(e.uscc),
                        registry_operators::name.eq(e.name.trim()),
                        registry_operators::resident_id_enc
                            .eq(fields.encrypt(id, &context(e.uscc))),
                        registry_operators::resident_id_index.eq(fields.blind_index(id)),
                        registry_operators::as_of.eq(e.as_of),
                        registry_operators::import_batch_id.eq(batch_id),
                    ))
                    .execute(conn)?;
            }
            replaced += 1;
        }
    }
    Ok(replaced)
}

/// Whether the registry names this person (blind index and name) the
/// operator of `uscc`.
pub fn is_operator(
    conn: &mut DbConn,
    uscc: &str,
    person_index: &str,
    name: &str,
) -> AppResult<bool> {
    let names: Vec<String> = registry_operators::table
        .filter(registry_operators::uscc.eq(uscc))
        .filter(registry_operators::resident_id_index.eq(person_index))
        .select(registry_operators::name)
        .load(conn)?;
    Ok(names.iter().any(|n| same_name(n, name)))
}

/// Whether the registry names this person (blind index alone) the operator
/// of `uscc`: what a stall confirmation and a consent, which keep the index,
/// are checked against.
pub fn index_is_operator(conn: &mut DbConn, uscc: &str, person_index: &str) -> AppResult<bool> {
    let n: i64 = registry_operators::table
        .filter(registry_operators::uscc.eq(uscc))
        .filter(registry_operators::resident_id_index.eq(person_index))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The businesses the registry names this person the operator of, with
/// their registration entries, by code.
pub fn businesses_of(
    conn: &mut DbConn,
    person_index: &str,
    name: &str,
) -> AppResult<Vec<RegisteredBusiness>> {
    let rows: Vec<(String, String)> = registry_operators::table
        .filter(registry_operators::resident_id_index.eq(person_index))
        .select((registry_operators::uscc, registry_operators::name))
        .load(conn)?;
    let usccs: Vec<String> = rows
        .into_iter()
        .filter(|(_, n)| same_name(n, name))
        .map(|(u, _)| u)
        .collect();
    business_entries(conn, &usccs)
}

/// The registration entries of `usccs` (the newest of each), by code.
pub fn business_entries(conn: &mut DbConn, usccs: &[String]) -> AppResult<Vec<RegisteredBusiness>> {
    let regs: Vec<(String, String, String, String, String, String, String)> =
        credit_registration::table
            .filter(credit_registration::uscc.eq_any(usccs))
            .order((credit_registration::uscc, credit_registration::as_of.desc()))
            .select((
                credit_registration::uscc,
                credit_registration::name,
                credit_registration::trade,
                credit_registration::entity_type,
                credit_registration::registered_on,
                credit_registration::status,
                credit_registration::as_of,
            ))
            .load(conn)?;
    let mut out: Vec<RegisteredBusiness> = Vec::new();
    for (uscc, name, trade, entity_type, registered_on, status, _) in regs {
        if out.last().is_some_and(|b| b.uscc == uscc) {
            continue;
        }
        out.push(RegisteredBusiness {
            uscc,
            name,
            trade,
            entity_type,
            registered_on,
            status,
        });
    }
    Ok(out)
}

/// The registered operator of `uscc`: name and full ID number (decrypted).
/// For the development tools only (`backend dev-business`); `None` when the
/// registry has none.
pub fn operator_of(
    conn: &mut DbConn,
    fields: &FieldCipher,
    uscc: &str,
) -> AppResult<Option<(String, String)>> {
    let row: Option<(String, String)> = registry_operators::table
        .filter(registry_operators::uscc.eq(uscc))
        .select((
            registry_operators::name,
            registry_operators::resident_id_enc,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(name, enc)| fields.decrypt(&enc, &context(uscc)).map(|id| (name, id))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::conn;

    fn batch(c: &mut DbConn) -> String {
        use crate::db::schema::import_batches;
        let id = new_id("imp");
        diesel::insert_into(import_batches::table)
            .values((
                import_batches::id.eq(&id),
                import_batches::label.eq("t"),
                import_batches::actor.eq("t"),
                import_batches::imported_at.eq("2026-11-26T00:00:00.000Z"),
                import_batches::summary.eq("{}"),
            ))
            .execute(c)
            .unwrap();
        id
    }

    #[test]
    fn the_operator_is_found_by_index_and_name_and_a_newer_export_replaces_it() {
        let mut c = conn();
        let f = FieldCipher::new(&[3u8; 32]);
        let (u, id) = ("92320282MA1X2Y3Z4B", "320282198005010038");
        let b = batch(&mut c);
        let e = |name, rid, as_of| OperatorEntry {
            uscc: u,
            name,
            resident_id: rid,
            as_of,
        };
        import(&mut c, &f, &[e("王 建国", Some(id), "2026-11-20")], &b).unwrap();
        let index = f.blind_index(id);
        assert!(is_operator(&mut c, u, &index, "王建国").unwrap());
        assert!(!is_operator(&mut c, u, &index, "王建").unwrap());
        assert!(!is_operator(&mut c, u, &f.blind_index("11010519491231002X"), "王建国").unwrap());
        assert_eq!(
            operator_of(&mut c, &f, u)
                .unwrap()
                .map(|(_, i)| i)
                .as_deref(),
            Some(id)
        );
        // Stored encrypted and indexed, never in clear.
        let stored: (String, String) = registry_operators::table
            .select((
                registry_operators::resident_id_enc,
                registry_operators::resident_id_index,
            ))
            .first(&mut c)
            .unwrap();
        assert!(!stored.0.contains(id) && !stored.1.contains(id));

        // An older export changes nothing; a newer one without an ID number
        // leaves no one to verify as.
        import(
            &mut c,
            &f,
            &[e("李芳", Some("11010519491231002X"), "2026-10-01")],
            &b,
        )
        .unwrap();
        assert!(is_operator(&mut c, u, &index, "王建国").unwrap());
        import(&mut c, &f, &[e("李芳", None, "2026-12-01")], &b).unwrap();
        assert!(!index_is_operator(&mut c, u, &index).unwrap());
    }
}
