//! The only way credit data is read for a decision: under a valid consent,
//! one access-log row per source read (系统日志). Without a valid consent
//! nothing is read, the refusal is logged, and the caller gets an error.
//!
//! A consent covers one subject (the USCC it names) for the verified person
//! who signed it (the blind index it names): a read of any other subject, or
//! for any other person, or under a consent that names no person (signed
//! before the real-name check existed), is refused like any other.
//!
//! Callers must not run [`read_facts`] inside a transaction they may roll
//! back: the log rows of a refusal have to survive the refusal.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::credit::ledger;
use crate::credit::store::{self, Read};
use crate::db::schema::{access_log, consents};
use crate::db::{DbConn, new_id, parse_timestamp, timestamp};
use crate::decision::facts::{FactSource, Origin};
use crate::decision::{Facts, Source};
use crate::error::{AppError, AppResult};

/// The purpose a merchant's letter authorizes in this pilot.
pub const PURPOSE_PRE_CREDIT: &str = "pre_credit_assessment";

/// A signed authorization (授权书), as the merchant flow stores it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct Consent {
    pub id: String,
    pub merchant_id: String,
    pub letter_version: String,
    pub text_sha256: String,
    /// JSON array of [`Source`] names.
    pub categories: String,
    /// JSON array of bank ids.
    pub bank_ids: String,
    pub purpose: String,
    pub granted_at: String,
    pub expires_at: String,
    pub withdrawn_at: Option<String>,
    pub channel: String,
    pub client_ip: String,
    pub user_agent: String,
    /// The one business whose data this consent covers.
    pub subject_uscc: Option<String>,
    /// The verified person who signed it (blind index of the resident ID).
    pub person_index: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = access_log)]
pub struct AccessLogRow {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub merchant_id: String,
    pub subject_uscc: String,
    pub source: String,
    pub purpose: String,
    pub consent_id: Option<String>,
    /// `ok` | `denied` | `not_found`
    pub result: String,
    /// JSON object; never holds identity numbers.
    pub detail: String,
}

/// Who reads whose data, for what, under which consent.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    /// e.g. `merchant:<id>`, `system:decision`, `staff:<id>`.
    pub actor: &'a str,
    pub merchant_id: &'a str,
    pub subject_uscc: &'a str,
    /// The verified person the read is for (blind index); must be the one
    /// the consent names.
    pub person_index: Option<&'a str>,
    pub consent_id: Option<&'a str>,
    pub purpose: &'a str,
}

/// Why a consent does not allow the read: stable code and both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    pub code: &'static str,
    pub message_zh: &'static str,
    pub message_en: &'static str,
}

impl Denial {
    const REQUIRED: Denial = Denial {
        code: "consent_required",
        message_zh: "需要您先签署授权书，才能查询信用信息",
        message_en: "Your signed authorization is needed before credit information can be read",
    };
    const WITHDRAWN: Denial = Denial {
        code: "consent_withdrawn",
        message_zh: "该授权已撤回，请重新授权",
        message_en: "This authorization was withdrawn; please authorize again",
    };
    const EXPIRED: Denial = Denial {
        code: "consent_expired",
        message_zh: "该授权不在有效期内，请重新授权",
        message_en: "This authorization is not in force; please authorize again",
    };
    const SCOPE: Denial = Denial {
        code: "consent_scope",
        message_zh: "该授权不包括所需的数据类别或用途",
        message_en: "This authorization does not cover the data categories or purpose needed",
    };
    const SUBJECT: Denial = Denial {
        code: "consent_subject",
        message_zh: "该授权不包括此营业执照或不是由您本人签署，请完成实名认证后重新授权",
        message_en: "This authorization does not cover this business or was not signed by you; please verify your identity and authorize again",
    };

    pub fn into_error(self) -> AppError {
        AppError::new(
            StatusCode::FORBIDDEN,
            self.code,
            self.message_zh,
            self.message_en,
        )
    }
}

/// Checks that the consent named in `access` is the merchant's, in force at
/// `now`, for the purpose, covers every one of `sources`, and names the
/// subject and the verified person of the read.
pub fn check_consent(
    conn: &mut DbConn,
    access: &Access<'_>,
    sources: &[Source],
    now: DateTime<Utc>,
) -> AppResult<Result<Consent, Denial>> {
    let Some(id) = access.consent_id else {
        return Ok(Err(Denial::REQUIRED));
    };
    // Scoped by merchant in the query: another merchant's consent id is "no consent".
    let Some(c) = consents::table
        .filter(consents::id.eq(id))
        .filter(consents::merchant_id.eq(access.merchant_id))
        .select(Consent::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(Err(Denial::REQUIRED));
    };
    if c.withdrawn_at
        .as_deref()
        .is_some_and(|w| parse_timestamp(w).is_none_or(|w| w <= now))
    {
        return Ok(Err(Denial::WITHDRAWN));
    }
    let in_force = matches!(
        (parse_timestamp(&c.granted_at), parse_timestamp(&c.expires_at)),
        (Some(g), Some(e)) if g <= now && now < e
    );
    if !in_force {
        return Ok(Err(Denial::EXPIRED));
    }
    let categories: Vec<String> = serde_json::from_str(&c.categories).unwrap_or_default();
    let covered = sources
        .iter()
        .all(|s| categories.iter().any(|c| c == s.as_str()));
    if c.purpose != access.purpose || !covered {
        return Ok(Err(Denial::SCOPE));
    }
    let same_subject = c.subject_uscc.as_deref() == Some(access.subject_uscc);
    let same_person = c.person_index.is_some() && c.person_index.as_deref() == access.person_index;
    if !(same_subject && same_person) {
        return Ok(Err(Denial::SUBJECT));
    }
    Ok(Ok(c))
}

fn log(
    conn: &mut DbConn,
    a: &Access<'_>,
    source: &str,
    result: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    diesel::insert_into(access_log::table)
        .values(AccessLogRow {
            id: new_id("acc"),
            at: timestamp(now),
            actor: a.actor.to_owned(),
            merchant_id: a.merchant_id.to_owned(),
            subject_uscc: a.subject_uscc.to_owned(),
            source: source.to_owned(),
            purpose: a.purpose.to_owned(),
            consent_id: a.consent_id.map(str::to_owned),
            result: result.to_owned(),
            detail: detail.to_string(),
        })
        .execute(conn)?;
    Ok(())
}

/// Reads `sources` for the subject under the consent named in `access`.
/// Refused: one `denied` row per source, no data read, a 403 error.
/// Allowed: one `ok` or `not_found` row per source read.
pub fn read_facts(
    conn: &mut DbConn,
    access: &Access<'_>,
    sources: &[Source],
    now: DateTime<Utc>,
) -> AppResult<Facts> {
    let consent = check_consent(conn, access, sources, now)?;
    if let Err(denial) = consent {
        for s in sources {
            log(
                conn,
                access,
                s.as_str(),
                "denied",
                json!({ "reason": denial.code }),
                now,
            )?;
        }
        return Err(denial.into_error());
    }
    let mut facts = Facts {
        uscc: access.subject_uscc.to_owned(),
        ..Facts::default()
    };
    for &s in sources {
        let read = store::read_source(conn, s, access.subject_uscc, &mut facts)?;
        let (rows, as_of) = match read {
            Read::Found { rows, as_of } => (rows, Some(as_of)),
            Read::Empty { as_of } => (0, Some(as_of)),
            Read::NoExport => (0, None),
        };
        facts.provenance.push(FactSource {
            source: s,
            origin: Origin::CountyExport,
            as_of,
            rows,
            ledger: None,
        });
        let (mut result, mut detail) = match read {
            Read::Found { rows, as_of } => ("ok", json!({ "rows": rows, "as_of": as_of })),
            Read::Empty { as_of } => ("not_found", json!({ "rows": 0, "as_of": as_of })),
            Read::NoExport => ("not_found", json!({ "rows": 0, "export": "none" })),
        };
        if s == Source::Rent {
            // The markets' own ledgers, where they count (credit::ledger).
            let ledger = ledger::read_for(conn, access.subject_uscc)?;
            if !ledger.sources.is_empty() {
                detail["ledger_rows"] = json!(ledger.rows());
                detail["ledger_as_of"] = json!(ledger.as_of());
                if ledger.rows() > 0 {
                    result = "ok";
                    if !matches!(read, Read::Found { .. })
                        && let Some(d) = ledger.as_of()
                    {
                        facts.as_of.insert(Source::Rent, d);
                    }
                }
                facts.rent.extend(ledger.rent);
                facts.provenance.extend(ledger.sources);
            }
        }
        log(conn, access, s.as_str(), result, detail, now)?;
    }
    facts.canonicalize();
    Ok(facts)
}

/// The newest `limit` reads of a merchant's data, newest first: what the
/// merchant's "who looked at my data" page and an audit show.
pub fn access_log_for_merchant(
    conn: &mut DbConn,
    merchant_id: &str,
    limit: i64,
) -> AppResult<Vec<AccessLogRow>> {
    Ok(access_log::table
        .filter(access_log::merchant_id.eq(merchant_id))
        .order((access_log::at.desc(), access_log::id))
        .limit(limit)
        .select(AccessLogRow::as_select())
        .load(conn)?)
}
