//! Row types of the core tables.

use diesel::prelude::*;

use super::schema::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = markets)]
pub struct Market {
    pub id: String,
    pub name: String,
    pub office_phone: String,
    pub address: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = stalls)]
pub struct Stall {
    pub id: String,
    pub market_id: String,
    pub number: String,
    pub zone: String,
    pub trade: String,
    pub holder_name: String,
    pub holder_mobile: Option<String>,
    pub uscc: Option<String>,
    pub rent_cents: i64,
    pub status: String,
    pub code_version: i32,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = banks)]
pub struct Bank {
    pub id: String,
    pub name: String,
    pub short_name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = products)]
pub struct Product {
    pub id: String,
    pub bank_id: String,
    pub name: String,
    pub min_amount_cents: i64,
    pub max_amount_cents: i64,
    pub min_rate_bp: i32,
    pub max_rate_bp: i32,
    pub term_months: i32,
    /// Comma-separated credit grades served, e.g. `A,B,C`.
    pub grades: String,
    pub active: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff_users)]
pub struct StaffUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub market_id: Option<String>,
    pub bank_id: Option<String>,
    pub password_hash: String,
    pub active: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub market_id: Option<String>,
    /// JSON object.
    pub detail: String,
    pub request_id: Option<String>,
}
