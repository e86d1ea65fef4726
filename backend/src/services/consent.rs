//! The authorization letter (授权书) and the consents signed with it: the
//! versioned text, signing (the hash of the exact text shown must match; the
//! consent names one subject, the verified person's verified business, and
//! that person), listing, reading back, and withdrawal, which also takes the
//! merchant out of every bank's view. Every query is scoped by the caller's
//! merchant id.

use chrono::{DateTime, Months, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::consent::{
    BankInfo, CONSENT_VALID_MONTHS, ConsentView, DataCategory, DataRead, Letter, ProductInfo,
    SignRequest, sha256_hex,
};
use shared::error::FieldError;

use crate::connectors::{Consent, PURPOSE_PRE_CREDIT};
use crate::db::schema::{access_log, applications, banks, consents, pool_entries, products};
use crate::db::{DbConn, new_id, parse_timestamp, timestamp};
use crate::decision::Source;
use crate::error::{AppError, AppResult};
use crate::services::audit::{audit, merchant_actor};
use crate::services::identity::{self, VerifiedSubject};

/// The version new signatures use. Older versions stay below so that a
/// consent signed under them can still be shown word for word.
pub const CURRENT_VERSION: &str = "v1";

/// (version, zh text, en text). A version's text never changes once
/// released: a change is a new version, since consents name their version.
const LETTERS: &[(&str, &str, &str)] = &[(
    "v1",
    include_str!("../../letters/v1.zh.md"),
    include_str!("../../letters/v1.en.md"),
)];

/// The text of `version` in `language` (`zh` | `en`).
pub fn letter_text(version: &str, language: &str) -> Option<&'static str> {
    let (_, zh, en) = LETTERS.iter().find(|(v, _, _)| *v == version)?;
    match language {
        "zh" => Some(zh),
        "en" => Some(en),
        _ => None,
    }
}

/// The data categories the letter covers: every source the connectors read.
pub fn categories() -> Vec<DataCategory> {
    Source::ALL
        .iter()
        .map(|s| {
            let (zh, en) = category_names(*s);
            DataCategory {
                code: s.as_str().to_owned(),
                name_zh: zh.to_owned(),
                name_en: en.to_owned(),
            }
        })
        .collect()
}

fn category_names(s: Source) -> (&'static str, &'static str) {
    match s {
        Source::Registration => ("登记注册信息", "Business registration"),
        Source::Licences => ("行政许可信息", "Licences"),
        Source::Penalties => ("行政处罚信息", "Administrative penalties"),
        Source::Dishonesty => ("严重失信主体名单", "Serious dishonesty list"),
        Source::Enforcement => ("失信被执行人名单", "Court enforcement list"),
        Source::Tax => ("纳税信用等级", "Tax credit grade"),
        Source::SocialInsurance => ("社保和公积金缴纳", "Social insurance and housing fund"),
        Source::Utilities => ("水电气缴费", "Water, electricity and gas payments"),
        Source::Rent => ("市场租金缴纳记录", "Market rent payments"),
        Source::HouseholdRating => ("信用村、信用户评定", "Credit village / household rating"),
    }
}

fn categories_named(codes: &[String]) -> Vec<DataCategory> {
    categories()
        .into_iter()
        .filter(|c| codes.contains(&c.code))
        .collect()
}

/// Banks with their active products; all banks, or only `only` (in the
/// order given, unknown ids left out).
pub fn banks_info(conn: &mut DbConn, only: Option<&[String]>) -> AppResult<Vec<BankInfo>> {
    let mut q = banks::table
        .select((banks::id, banks::name, banks::short_name))
        .order(banks::name)
        .into_boxed();
    if let Some(ids) = only {
        q = q.filter(banks::id.eq_any(ids.to_vec()));
    }
    let rows: Vec<(String, String, String)> = q.load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let prods: Vec<(String, ProductInfoRow)> = products::table
        .filter(products::bank_id.eq_any(&ids))
        .filter(products::active.eq(true))
        .order(products::name)
        .select((
            products::bank_id,
            (
                products::name,
                products::min_amount_cents,
                products::max_amount_cents,
                products::min_rate_bp,
                products::max_rate_bp,
                products::term_months,
                products::grades,
            ),
        ))
        .load(conn)?;
    let mut out: Vec<BankInfo> = rows
        .into_iter()
        .map(|(id, name, short_name)| BankInfo {
            products: prods
                .iter()
                .filter(|(b, _)| *b == id)
                .map(|(_, p)| p.info())
                .collect(),
            bank_id: id,
            name,
            short_name,
        })
        .collect();
    if let Some(ids) = only {
        out.sort_by_key(|b| ids.iter().position(|i| *i == b.bank_id));
    }
    Ok(out)
}

type ProductInfoRow = (String, i64, i64, i32, i32, i32, String);

trait ToInfo {
    fn info(&self) -> ProductInfo;
}

impl ToInfo for ProductInfoRow {
    fn info(&self) -> ProductInfo {
        ProductInfo {
            name: self.0.clone(),
            min_amount_cents: self.1,
            max_amount_cents: self.2,
            min_rate_bp: self.3,
            max_rate_bp: self.4,
            term_months: self.5,
        }
    }
}

/// The products of `bank_ids` open to `grade` (products list grades as `A,B,C`).
pub fn banks_for_grade(
    conn: &mut DbConn,
    bank_ids: &[String],
    grade: &str,
) -> AppResult<Vec<BankInfo>> {
    let mut banks = banks_info(conn, Some(bank_ids))?;
    let open: Vec<(String, String, String)> = products::table
        .filter(products::bank_id.eq_any(bank_ids.to_vec()))
        .filter(products::active.eq(true))
        .select((products::bank_id, products::name, products::grades))
        .load(conn)?;
    for b in &mut banks {
        b.products.retain(|p| {
            open.iter().any(|(bank, name, grades)| {
                *bank == b.bank_id
                    && *name == p.name
                    && grades.split(',').any(|g| g.trim() == grade)
            })
        });
    }
    Ok(banks)
}

/// The current letter, with the business a signature would cover (the
/// caller's verified business, when there is one).
pub fn letter(conn: &mut DbConn, merchant_id: &str) -> AppResult<Letter> {
    let subject = match identity::verified_subject(conn, merchant_id, None) {
        Ok(s) => crate::identity::registry::business_entries(conn, &[s.uscc])?
            .into_iter()
            .next(),
        Err(_) => None,
    };
    Ok(Letter {
        subject,
        version: CURRENT_VERSION.to_owned(),
        text_zh: letter_text(CURRENT_VERSION, "zh")
            .unwrap_or_default()
            .to_owned(),
        text_en: letter_text(CURRENT_VERSION, "en")
            .unwrap_or_default()
            .to_owned(),
        categories: categories(),
        banks: banks_info(conn, None)?,
        valid_months: CONSENT_VALID_MONTHS,
    })
}

/// Where the merchant signed: WeChat's in-app browser, the city app, or any
/// other browser. Kept with the consent as evidence of how it was given.
pub fn channel_of(user_agent: &str) -> &'static str {
    if user_agent.contains("MicroMessenger") {
        "wechat"
    } else if user_agent.contains("KanYixing") || user_agent.contains("kanyixing") {
        "app"
    } else {
        "browser"
    }
}

/// Who signed from where, as the request showed it.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

/// A signature that passed every check: the letter's text and the banks.
pub struct ValidSignature {
    pub version: String,
    pub language: String,
    pub text_sha256: String,
    pub bank_ids: Vec<String>,
}

/// Checks a [`SignRequest`] against the letters and the banks table; every
/// fault is named by its field.
pub fn validate(conn: &mut DbConn, req: &SignRequest) -> AppResult<ValidSignature> {
    let mut errors = Vec::new();
    let language = req.language.trim();
    if !matches!(language, "zh" | "en") {
        errors.push(FieldError::new(
            "language",
            "language_invalid",
            "语言应为 zh 或 en",
            "The language must be zh or en",
        ));
    }
    let text = match letter_text(req.letter_version.trim(), "zh") {
        None => {
            errors.push(FieldError::new(
                "letter_version",
                "letter_version_unknown",
                "授权书版本不存在，请刷新页面",
                "No such letter version; please reload the page",
            ));
            None
        }
        Some(_) if req.letter_version.trim() != CURRENT_VERSION => {
            errors.push(FieldError::new(
                "letter_version",
                "letter_version_outdated",
                "授权书已更新，请刷新页面后重新阅读",
                "The letter has changed; please reload the page and read it again",
            ));
            None
        }
        Some(_) => letter_text(CURRENT_VERSION, language),
    };
    let wanted = req.text_sha256.trim().to_ascii_lowercase();
    if let Some(text) = text
        && sha256_hex(text) != wanted
    {
        errors.push(FieldError::new(
            "text_sha256",
            "text_mismatch",
            "您看到的授权书与当前版本不一致，请刷新页面后重新阅读",
            "The letter you saw differs from the current version; please reload the page and read it again",
        ));
    }
    // In the order chosen, each once (the list is bounded before it gets
    // here; a set keeps this linear all the same).
    let mut seen = std::collections::HashSet::new();
    let bank_ids: Vec<String> = req
        .bank_ids
        .iter()
        .map(|id| id.trim().to_owned())
        .filter(|id| seen.insert(id.clone()))
        .collect();
    if bank_ids.is_empty() {
        errors.push(FieldError::new(
            "bank_ids",
            "bank_required",
            "请至少选择一家银行，否则无法为您推荐",
            "Choose at least one bank, or there is no one to recommend you to",
        ));
    } else {
        let known: i64 = banks::table
            .filter(banks::id.eq_any(&bank_ids))
            .count()
            .get_result(conn)?;
        if known != bank_ids.len() as i64 {
            errors.push(FieldError::new(
                "bank_ids",
                "bank_unknown",
                "所选银行不存在，请刷新页面",
                "A chosen bank does not exist; please reload the page",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    Ok(ValidSignature {
        version: CURRENT_VERSION.to_owned(),
        language: language.to_owned(),
        text_sha256: wanted,
        bank_ids,
    })
}

/// Stores a signed consent for `subject` (the merchant's verified subject,
/// [`identity::verified_subject`]), valid for [`CONSENT_VALID_MONTHS`] from
/// `now`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    conn: &mut DbConn,
    merchant_id: &str,
    subject: &VerifiedSubject,
    sig: &ValidSignature,
    client: &ClientInfo,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> AppResult<ConsentView> {
    let expires = now
        .checked_add_months(Months::new(CONSENT_VALID_MONTHS))
        .ok_or_else(|| AppError::internal("consent expiry out of range"))?;
    let categories: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
    let row = Consent {
        id: new_id("cns"),
        merchant_id: merchant_id.to_owned(),
        letter_version: sig.version.clone(),
        text_sha256: sig.text_sha256.clone(),
        categories: json!(categories).to_string(),
        bank_ids: json!(sig.bank_ids).to_string(),
        purpose: PURPOSE_PRE_CREDIT.to_owned(),
        granted_at: timestamp(now),
        expires_at: timestamp(expires),
        withdrawn_at: None,
        channel: channel_of(&client.user_agent).to_owned(),
        client_ip: client.ip.clone(),
        // Bounded: it is evidence, not a place to store a client's essay.
        user_agent: client.user_agent.chars().take(500).collect(),
        subject_uscc: Some(subject.uscc.clone()),
        person_index: Some(subject.person_index.clone()),
    };
    crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(consents::table)
            .values(&row)
            .execute(conn)?;
        audit(
            conn,
            &merchant_actor(merchant_id),
            "consent.granted",
            "consent",
            Some(&row.id),
            None,
            json!({
                "letter_version": row.letter_version,
                "language": sig.language,
                "bank_ids": sig.bank_ids,
                "channel": row.channel,
                "subject_uscc": subject.uscc,
            }),
            request_id,
        )
    })?;
    view(conn, row, false, now)
}

fn load(conn: &mut DbConn, merchant_id: &str, id: &str) -> AppResult<Consent> {
    consents::table
        .filter(consents::id.eq(id))
        .filter(consents::merchant_id.eq(merchant_id))
        .select(Consent::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// `active`, `withdrawn` or `expired` at `now`.
pub fn status_of(c: &Consent, now: DateTime<Utc>) -> &'static str {
    if c.withdrawn_at.is_some() {
        "withdrawn"
    } else if parse_timestamp(&c.expires_at).is_none_or(|e| e <= now) {
        "expired"
    } else {
        "active"
    }
}

fn view(
    conn: &mut DbConn,
    c: Consent,
    with_text: bool,
    now: DateTime<Utc>,
) -> AppResult<ConsentView> {
    // The hash says which language's text was signed.
    let language = ["zh", "en"]
        .into_iter()
        .find(|l| letter_text(&c.letter_version, l).is_some_and(|t| sha256_hex(t) == c.text_sha256))
        .unwrap_or("zh");
    let bank_ids: Vec<String> = serde_json::from_str(&c.bank_ids).unwrap_or_default();
    let codes: Vec<String> = serde_json::from_str(&c.categories).unwrap_or_default();
    Ok(ConsentView {
        status: status_of(&c, now).to_owned(),
        language: language.to_owned(),
        text: if with_text {
            letter_text(&c.letter_version, language).map(str::to_owned)
        } else {
            None
        },
        categories: categories_named(&codes),
        banks: banks_info(conn, Some(&bank_ids))?,
        id: c.id,
        letter_version: c.letter_version,
        text_sha256: c.text_sha256,
        granted_at: c.granted_at,
        expires_at: c.expires_at,
        withdrawn_at: c.withdrawn_at,
        channel: c.channel,
        subject_uscc: c.subject_uscc,
    })
}

pub fn list(
    conn: &mut DbConn,
    merchant_id: &str,
    now: DateTime<Utc>,
) -> AppResult<Vec<ConsentView>> {
    let rows: Vec<Consent> = consents::table
        .filter(consents::merchant_id.eq(merchant_id))
        .order(consents::granted_at.desc())
        .select(Consent::as_select())
        .load(conn)?;
    rows.into_iter().map(|c| view(conn, c, true, now)).collect()
}

pub fn get(
    conn: &mut DbConn,
    merchant_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> AppResult<ConsentView> {
    let c = load(conn, merchant_id, id)?;
    view(conn, c, true, now)
}

/// The merchant's newest active consent for `subject` (its business, signed
/// by its verified person), if any.
pub fn active(
    conn: &mut DbConn,
    merchant_id: &str,
    subject: &VerifiedSubject,
    now: DateTime<Utc>,
) -> AppResult<Option<Consent>> {
    let rows: Vec<Consent> = consents::table
        .filter(consents::merchant_id.eq(merchant_id))
        .filter(consents::subject_uscc.eq(&subject.uscc))
        .filter(consents::person_index.eq(&subject.person_index))
        .filter(consents::withdrawn_at.is_null())
        .filter(consents::expires_at.gt(timestamp(now)))
        .order(consents::granted_at.desc())
        .select(Consent::as_select())
        .load(conn)?;
    Ok(rows.into_iter().next())
}

/// Withdraws a consent: no more reads under it (the connectors check
/// `withdrawn_at`), and its applications leave every bank's pool. Again on
/// a withdrawn consent changes nothing and answers the same.
pub fn withdraw(
    conn: &mut DbConn,
    merchant_id: &str,
    id: &str,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> AppResult<ConsentView> {
    let at = timestamp(now);
    let c = crate::db::write_transaction(conn, |conn| {
        let c = load(conn, merchant_id, id)?;
        if c.withdrawn_at.is_some() {
            return AppResult::Ok(c);
        }
        diesel::update(
            consents::table
                .filter(consents::id.eq(id))
                .filter(consents::merchant_id.eq(merchant_id))
                .filter(consents::withdrawn_at.is_null()),
        )
        .set(consents::withdrawn_at.eq(&at))
        .execute(conn)?;
        let apps: Vec<String> = applications::table
            .filter(applications::consent_id.eq(id))
            .filter(applications::merchant_id.eq(merchant_id))
            .select(applications::id)
            .load(conn)?;
        diesel::update(
            applications::table
                .filter(applications::id.eq_any(&apps))
                .filter(applications::status.ne("withdrawn")),
        )
        .set((
            applications::status.eq("withdrawn"),
            applications::updated_at.eq(&at),
        ))
        .execute(conn)?;
        let entries = diesel::update(
            pool_entries::table
                .filter(pool_entries::application_id.eq_any(&apps))
                .filter(pool_entries::status.ne("withdrawn")),
        )
        .set((
            pool_entries::status.eq("withdrawn"),
            pool_entries::updated_at.eq(&at),
        ))
        .execute(conn)?;
        audit(
            conn,
            &merchant_actor(merchant_id),
            "consent.withdrawn",
            "consent",
            Some(id),
            None,
            json!({ "applications": apps.len(), "pool_entries": entries }),
            request_id,
        )?;
        load(conn, merchant_id, id)
    })?;
    view(conn, c, false, now)
}

/// Every read of data under this consent, newest first (系统日志, the
/// merchant's own view of it).
pub fn reads(conn: &mut DbConn, merchant_id: &str, id: &str) -> AppResult<Vec<DataRead>> {
    load(conn, merchant_id, id)?;
    let rows: Vec<(String, String, String)> = access_log::table
        .filter(access_log::merchant_id.eq(merchant_id))
        .filter(access_log::consent_id.eq(id))
        .order((access_log::at.desc(), access_log::source))
        .select((access_log::at, access_log::source, access_log::result))
        .limit(500)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(at, source, result)| DataRead { at, source, result })
        .collect())
}

/// A consent that no longer allows anything new to happen under it.
pub fn not_in_force(status: &str) -> AppError {
    match status {
        "withdrawn" => AppError::conflict(
            "consent_withdrawn",
            "该授权已撤回，请重新授权",
            "This authorization was withdrawn; please authorize again",
        ),
        _ => AppError::conflict(
            "consent_expired",
            "该授权已过期，请重新授权",
            "This authorization has expired; please authorize again",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn every_letter_exists_in_both_languages_and_hashes_alike() {
        for (v, zh, en) in LETTERS {
            assert!(zh.contains("撤回") && zh.contains("一年"), "{v}");
            assert!(en.contains("withdraw") && en.contains("one year"), "{v}");
            for t in [zh, en] {
                assert_eq!(sha256_hex(t), hex::encode(Sha256::digest(t.as_bytes())));
            }
        }
        assert!(letter_text(CURRENT_VERSION, "zh").is_some());
        assert!(letter_text(CURRENT_VERSION, "fr").is_none());
    }

    #[test]
    fn the_letter_names_every_category() {
        let zh = letter_text(CURRENT_VERSION, "zh").unwrap();
        assert_eq!(categories().len(), Source::ALL.len());
        // Each source has a numbered line in the text.
        assert!(zh.contains(&format!("{}. ", Source::ALL.len())));
    }

    #[test]
    fn channels() {
        assert_eq!(channel_of("Mozilla/5.0 … MicroMessenger/8.0.34"), "wechat");
        assert_eq!(channel_of("Mozilla/5.0 KanYixing/3.1"), "app");
        assert_eq!(channel_of("curl/8"), "browser");
    }
}
