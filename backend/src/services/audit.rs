//! The audit log: one writer for every use case (merchant, staff, the
//! command line), so every side logs alike, and the actor names it uses.

use chrono::Utc;
use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::audit_log;
use crate::db::{DbConn, new_id, timestamp};
use crate::error::AppResult;

/// The actor of a request nobody is logged in for (a code scan, an SMS
/// request).
pub const ANONYMOUS: &str = "anonymous";

/// One audit row. `detail` must hold no personal data beyond ids;
/// `request_id` is the id the client was answered with.
#[allow(clippy::too_many_arguments)]
pub fn audit(
    conn: &mut DbConn,
    actor: &str,
    action: &str,
    object_type: &str,
    object_id: Option<&str>,
    market_id: Option<&str>,
    detail: Value,
    request_id: Option<&str>,
) -> AppResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(new_id("aud")),
            audit_log::at.eq(timestamp(Utc::now())),
            audit_log::actor.eq(actor),
            audit_log::action.eq(action),
            audit_log::object_type.eq(object_type),
            audit_log::object_id.eq(object_id),
            audit_log::market_id.eq(market_id),
            audit_log::detail.eq(detail.to_string()),
            audit_log::request_id.eq(request_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// The actor name of a merchant.
pub fn merchant_actor(merchant_id: &str) -> String {
    format!("merchant:{merchant_id}")
}

/// The actor name of a staff account.
pub fn staff_actor(user_id: &str) -> String {
    format!("staff:{user_id}")
}
