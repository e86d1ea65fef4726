//! A market's stalls as its manager keeps them: list and search, add, edit,
//! deactivate, and the printed codes (cards, reissue). Every query names the
//! market it is scoped to; a stall of another market is not found.

use chrono::Utc;
use diesel::prelude::*;
use serde_json::json;
use shared::error::FieldError;
use shared::manager::{
    STATUS_ACTIVE, STATUS_INACTIVE, StallCard, StallInput, StallList, StallView, ValidStall,
    validate_stall,
};

use crate::auth::AuthState;
use crate::db::models::{Market, Stall};
use crate::db::schema::{markets, stalls};
use crate::db::{DbConn, new_id, timestamp};
use crate::error::{AppError, AppResult};
use crate::services::audit::audit;

/// The most stalls one list answer carries; search narrows the rest.
pub const LIST_LIMIT: i64 = 500;

#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct StallFilter {
    pub market_id: Option<String>,
    pub q: Option<String>,
    pub zone: Option<String>,
    pub trade: Option<String>,
    pub status: Option<String>,
}

impl shared::limits::Bounded for StallFilter {
    fn bounds(&self, b: &mut shared::limits::Bounds) {
        use shared::limits::{MAX_ID_LEN, MAX_NAME_LEN, MAX_TOKEN_LEN};
        b.opt_text("market_id", self.market_id.as_deref(), MAX_ID_LEN)
            .opt_text("q", self.q.as_deref(), MAX_TOKEN_LEN)
            .opt_text("zone", self.zone.as_deref(), MAX_NAME_LEN)
            .opt_text("trade", self.trade.as_deref(), MAX_NAME_LEN)
            .opt_text("status", self.status.as_deref(), MAX_TOKEN_LEN);
    }
}

pub fn view(s: Stall) -> StallView {
    StallView {
        id: s.id,
        market_id: s.market_id,
        number: s.number,
        zone: s.zone,
        trade: s.trade,
        holder_name: s.holder_name,
        holder_mobile: s.holder_mobile,
        uscc: s.uscc,
        rent_cents: s.rent_cents,
        status: s.status,
        code_version: s.code_version,
        updated_at: s.updated_at,
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `%` and `_` typed into the search box are meant literally.
fn like_pattern(q: &str) -> String {
    let mut p = String::from("%");
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub fn list(conn: &mut DbConn, market_id: &str, f: &StallFilter) -> AppResult<StallList> {
    let build = || {
        let mut q = stalls::table
            .filter(stalls::market_id.eq(market_id.to_owned()))
            .into_boxed();
        if let Some(zone) = non_empty(&f.zone) {
            q = q.filter(stalls::zone.eq(zone));
        }
        if let Some(trade) = non_empty(&f.trade) {
            q = q.filter(stalls::trade.eq(trade));
        }
        if let Some(status) = non_empty(&f.status) {
            q = q.filter(stalls::status.eq(status));
        }
        if let Some(text) = non_empty(&f.q) {
            let p = like_pattern(&text);
            q = q.filter(
                stalls::number
                    .like(p.clone())
                    .escape('\\')
                    .or(stalls::holder_name.like(p.clone()).escape('\\'))
                    .or(stalls::holder_mobile.like(p.clone()).escape('\\'))
                    .or(stalls::uscc.like(p).escape('\\')),
            );
        }
        q
    };
    let total = build().count().get_result::<i64>(conn)?;
    let found: Vec<Stall> = build()
        .order(stalls::number.asc())
        .limit(LIST_LIMIT)
        .select(Stall::as_select())
        .load(conn)?;
    let zones: Vec<String> = stalls::table
        .filter(stalls::market_id.eq(market_id))
        .select(stalls::zone)
        .distinct()
        .order(stalls::zone.asc())
        .load(conn)?;
    let trades: Vec<String> = stalls::table
        .filter(stalls::market_id.eq(market_id))
        .select(stalls::trade)
        .distinct()
        .order(stalls::trade.asc())
        .load(conn)?;
    Ok(StallList {
        stalls: found.into_iter().map(view).collect(),
        total,
        zones,
        trades,
    })
}

/// The stall, if it is in the market; otherwise 404.
pub fn get(conn: &mut DbConn, market_id: &str, stall_id: &str) -> AppResult<Stall> {
    stalls::table
        .find(stall_id)
        .filter(stalls::market_id.eq(market_id))
        .select(Stall::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

fn number_taken(
    conn: &mut DbConn,
    market_id: &str,
    number: &str,
    except: Option<&str>,
) -> AppResult<bool> {
    let mut q = stalls::table
        .filter(stalls::market_id.eq(market_id.to_owned()))
        .filter(stalls::number.eq(number.to_owned()))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(stalls::id.ne(id.to_owned()));
    }
    Ok(q.count().get_result::<i64>(conn)? > 0)
}

fn duplicate_number() -> AppError {
    AppError::validation(vec![FieldError::new(
        "number",
        "number_taken",
        "本市场已有这个摊位号",
        "This market already has a stall with this number",
    )])
}

fn valid(input: &StallInput) -> AppResult<ValidStall> {
    validate_stall(input).map_err(AppError::validation)
}

pub fn create(
    conn: &mut DbConn,
    market_id: &str,
    actor: &str,
    input: &StallInput,
    request_id: Option<&str>,
) -> AppResult<StallView> {
    let v = valid(input)?;
    crate::db::write_transaction(conn, |conn| {
        // The market must exist: an operator may name any id.
        markets::table
            .find(market_id)
            .select(markets::id)
            .first::<String>(conn)?;
        if number_taken(conn, market_id, &v.number, None)? {
            return Err(duplicate_number());
        }
        let now = timestamp(Utc::now());
        let stall = Stall {
            id: new_id("stl"),
            market_id: market_id.to_owned(),
            number: v.number,
            zone: v.zone,
            trade: v.trade,
            holder_name: v.holder_name,
            holder_mobile: v.holder_mobile,
            uscc: v.uscc,
            rent_cents: v.rent_cents,
            status: v.status.unwrap_or_else(|| STATUS_ACTIVE.to_owned()),
            code_version: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        diesel::insert_into(stalls::table)
            .values(&stall)
            .execute(conn)?;
        audit(
            conn,
            actor,
            "stall.created",
            "stall",
            Some(&stall.id),
            Some(market_id),
            json!({ "number": stall.number }),
            request_id,
        )?;
        Ok(view(stall))
    })
}

pub fn update(
    conn: &mut DbConn,
    market_id: &str,
    stall_id: &str,
    actor: &str,
    input: &StallInput,
    request_id: Option<&str>,
) -> AppResult<StallView> {
    let v = valid(input)?;
    crate::db::write_transaction(conn, |conn| {
        let before = get(conn, market_id, stall_id)?;
        if number_taken(conn, market_id, &v.number, Some(stall_id))? {
            return Err(duplicate_number());
        }
        let status = v.status.clone().unwrap_or(before.status.clone());
        diesel::update(
            stalls::table
                .find(stall_id)
                .filter(stalls::market_id.eq(market_id)),
        )
        .set((
            stalls::number.eq(&v.number),
            stalls::zone.eq(&v.zone),
            stalls::trade.eq(&v.trade),
            stalls::holder_name.eq(&v.holder_name),
            stalls::holder_mobile.eq(&v.holder_mobile),
            stalls::uscc.eq(&v.uscc),
            stalls::rent_cents.eq(v.rent_cents),
            stalls::status.eq(&status),
            stalls::updated_at.eq(timestamp(Utc::now())),
        ))
        .execute(conn)?;
        // Which fields changed, not their values: the log is not a second
        // copy of holders' personal data.
        let mut changed = Vec::new();
        if before.number != v.number {
            changed.push("number");
        }
        if before.zone != v.zone {
            changed.push("zone");
        }
        if before.trade != v.trade {
            changed.push("trade");
        }
        if before.holder_name != v.holder_name {
            changed.push("holder_name");
        }
        if before.holder_mobile != v.holder_mobile {
            changed.push("holder_mobile");
        }
        if before.uscc != v.uscc {
            changed.push("uscc");
        }
        if before.rent_cents != v.rent_cents {
            changed.push("rent");
        }
        if before.status != status {
            changed.push("status");
        }
        audit(
            conn,
            actor,
            "stall.updated",
            "stall",
            Some(stall_id),
            Some(market_id),
            json!({ "number": v.number, "changed": changed }),
            request_id,
        )?;
        Ok(view(get(conn, market_id, stall_id)?))
    })
}

pub fn set_status(
    conn: &mut DbConn,
    market_id: &str,
    stall_id: &str,
    actor: &str,
    status: &str,
    request_id: Option<&str>,
) -> AppResult<StallView> {
    debug_assert!(status == STATUS_ACTIVE || status == STATUS_INACTIVE);
    crate::db::write_transaction(conn, |conn| {
        let before = get(conn, market_id, stall_id)?;
        diesel::update(
            stalls::table
                .find(stall_id)
                .filter(stalls::market_id.eq(market_id)),
        )
        .set((
            stalls::status.eq(status),
            stalls::updated_at.eq(timestamp(Utc::now())),
        ))
        .execute(conn)?;
        audit(
            conn,
            actor,
            if status == STATUS_INACTIVE {
                "stall.deactivated"
            } else {
                "stall.activated"
            },
            "stall",
            Some(stall_id),
            Some(market_id),
            json!({ "number": before.number, "from": before.status }),
            request_id,
        )?;
        Ok(view(get(conn, market_id, stall_id)?))
    })
}

/// How much of a printed code may be lost and still scan: Q restores a
/// quarter of its codewords (a dusty, scratched sticker on a stone-market
/// stall), where M restored 15%.
pub const QR_EC_LEVEL: qrcode::EcLevel = qrcode::EcLevel::Q;

/// The QR code of `url` as one `<svg>` element (no XML prolog, so it can sit
/// inside HTML). It carries [`shared::stall_code::qr_text`]: the URL in QR
/// alphanumeric form where case does not matter.
pub fn qr_svg(url: &str) -> AppResult<String> {
    use qrcode::render::svg;
    let image = qr_code(url)?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let start = image.find("<svg").unwrap_or(0);
    Ok(image[start..].to_owned())
}

/// The symbol [`qr_svg`] draws.
pub fn qr_code(url: &str) -> AppResult<qrcode::QrCode> {
    let text = shared::stall_code::qr_text(url);
    qrcode::QrCode::with_error_correction_level(text.as_bytes(), QR_EC_LEVEL)
        .map_err(AppError::internal)
}

fn card(
    auth: &AuthState,
    public_url: &str,
    market: &Market,
    stall: &Stall,
) -> AppResult<StallCard> {
    let url = crate::stall_codes::url_for(&auth.code_key, public_url, market, Some(stall))?;
    Ok(StallCard {
        stall_id: stall.id.clone(),
        market_name: market.name.clone(),
        office_phone: market.office_phone.clone(),
        number: stall.number.clone(),
        zone: stall.zone.clone(),
        trade: stall.trade.clone(),
        code_version: stall.code_version,
        qr_svg: qr_svg(&url)?,
        url,
    })
}

fn market(conn: &mut DbConn, market_id: &str) -> AppResult<Market> {
    Ok(markets::table
        .find(market_id)
        .select(Market::as_select())
        .first(conn)?)
}

/// Cards for the stalls asked for, in stall-number order. Any id outside
/// the market makes the whole request a 404, so ids cannot be probed.
pub fn cards(
    conn: &mut DbConn,
    auth: &AuthState,
    public_url: &str,
    market_id: &str,
    stall_ids: &[String],
) -> AppResult<Vec<StallCard>> {
    let mut ids: Vec<&str> = stall_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let found: Vec<Stall> = stalls::table
        .filter(stalls::market_id.eq(market_id))
        .filter(stalls::id.eq_any(&ids))
        .order(stalls::number.asc())
        .select(Stall::as_select())
        .load(conn)?;
    if found.len() != ids.len() {
        return Err(AppError::not_found());
    }
    let market = market(conn, market_id)?;
    found
        .iter()
        .map(|s| card(auth, public_url, &market, s))
        .collect()
}

/// Raises the stall's code version (every printed code of it is refused
/// from now on) and returns the new card.
pub fn reissue(
    conn: &mut DbConn,
    auth: &AuthState,
    public_url: &str,
    market_id: &str,
    stall_id: &str,
    actor: &str,
    request_id: Option<&str>,
) -> AppResult<StallCard> {
    crate::db::write_transaction(conn, |conn| {
        let before = get(conn, market_id, stall_id)?;
        let version = crate::stall_codes::reissue(conn, &before.id)?;
        audit(
            conn,
            actor,
            "stall.code_reissued",
            "stall",
            Some(stall_id),
            Some(market_id),
            json!({ "number": before.number, "from_version": before.code_version, "to_version": version }),
            request_id,
        )?;
        let stall = get(conn, market_id, stall_id)?;
        let market = market(conn, market_id)?;
        card(auth, public_url, &market, &stall)
    })
}
