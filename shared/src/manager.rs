//! Request and response types of the staff side: staff login (`/api/staff`),
//! the operator's markets and accounts (`/api/ops`), and the market
//! manager's console (`/api/manager`): stalls, bulk import, code cards,
//! rent ledger. Plus the stall validation both the form and the server run.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{MobileNumber, Uscc};

pub const ROLE_OPERATOR: &str = "operator";
pub const ROLE_MANAGER: &str = "manager";

/// `POST /api/staff/session`. Sets the staff session cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffLogin {
    pub username: String,
    pub password: String,
}

/// `GET /api/staff/me`, and the reply to [`StaffLogin`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMe {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// `operator` | `manager` | `bank`
    pub role: String,
    /// A manager's one market.
    pub market_id: Option<String>,
    pub market_name: Option<String>,
    pub expires_at: String,
}

/// `GET /api/ops/markets` (operators: all; managers: their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketView {
    pub id: String,
    pub name: String,
    pub office_phone: String,
    pub address: String,
    pub stall_count: i64,
}

/// `POST /api/ops/markets`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketInput {
    pub name: String,
    pub office_phone: String,
    pub address: String,
}

/// `POST /api/ops/users`: a market manager (or another operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUserInput {
    pub username: String,
    pub display_name: String,
    pub password: String,
    /// `manager` (needs `market_id`) or `operator`.
    pub role: String,
    #[serde(default)]
    pub market_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub market_id: Option<String>,
    pub active: bool,
}

pub const MIN_PASSWORD_LEN: usize = 10;

/// Checks a new staff account's fields (not the market's existence).
pub fn validate_staff_user(input: &StaffUserInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let u = input.username.trim();
    if u.len() < 3
        || u.len() > 32
        || !u
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        errors.push(FieldError::new(
            "username",
            "username_format",
            "用户名为3至32位小写字母、数字、下划线或短横线",
            "A username is 3 to 32 lowercase letters, digits, _ or -",
        ));
    }
    if text_len(&input.display_name) == 0 || text_len(&input.display_name) > 40 {
        errors.push(required_len("display_name", 40));
    }
    if input.password.chars().count() < MIN_PASSWORD_LEN || input.password.len() > 128 {
        errors.push(FieldError::new(
            "password",
            "password_too_short",
            "密码至少10位",
            "A password has at least 10 characters",
        ));
    }
    match input.role.as_str() {
        ROLE_MANAGER => {
            if input
                .market_id
                .as_deref()
                .is_none_or(|m| m.trim().is_empty())
            {
                errors.push(FieldError::new(
                    "market_id",
                    "market_required",
                    "请选择该管理员所属市场",
                    "Choose the market this manager runs",
                ));
            }
        }
        ROLE_OPERATOR => {}
        _ => errors.push(FieldError::new(
            "role",
            "role_invalid",
            "角色只能是市场管理方或运营方",
            "The role is manager or operator",
        )),
    }
    errors
}

pub fn validate_market(input: &MarketInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if text_len(&input.name) == 0 || text_len(&input.name) > 60 {
        errors.push(required_len("name", 60));
    }
    let phone = input.office_phone.trim();
    if phone.len() < 5
        || phone.len() > 20
        || !phone
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b' ')
    {
        errors.push(FieldError::new(
            "office_phone",
            "phone_format",
            "请填写管理处电话，如 0510-87654321",
            "Enter the office phone, e.g. 0510-87654321",
        ));
    }
    if text_len(&input.address) > 120 {
        errors.push(required_len("address", 120));
    }
    errors
}

// ---------------------------------------------------------------------------
// Stalls

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_INACTIVE: &str = "inactive";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallView {
    pub id: String,
    pub market_id: String,
    pub number: String,
    pub zone: String,
    pub trade: String,
    pub holder_name: String,
    pub holder_mobile: Option<String>,
    pub uscc: Option<String>,
    pub rent_cents: i64,
    /// `active` | `inactive`
    pub status: String,
    pub code_version: i32,
    pub updated_at: String,
}

/// `GET /api/manager/stalls?q=&zone=&trade=&status=&market_id=`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallList {
    pub stalls: Vec<StallView>,
    /// Matching stalls; `stalls` holds at most the first page of them.
    pub total: i64,
    /// Every zone and trade of the market, for the filter menus.
    pub zones: Vec<String>,
    pub trades: Vec<String>,
}

/// `POST /api/manager/stalls`, `PUT /api/manager/stalls/{id}`. Everything as
/// typed: the same [`validate_stall`] runs in the form and on the server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StallInput {
    pub number: String,
    pub zone: String,
    pub trade: String,
    pub holder_name: String,
    /// Empty: none on file.
    #[serde(default)]
    pub holder_mobile: String,
    /// Empty: none on file.
    #[serde(default)]
    pub uscc: String,
    /// Yuan per month, e.g. `3000` or `2999.50`.
    pub rent_yuan: String,
    /// Empty: keep (edit) or `active` (new).
    #[serde(default)]
    pub status: String,
}

/// A [`StallInput`] that passed [`validate_stall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidStall {
    pub number: String,
    pub zone: String,
    pub trade: String,
    pub holder_name: String,
    pub holder_mobile: Option<String>,
    pub uscc: Option<String>,
    pub rent_cents: i64,
    pub status: Option<String>,
}

fn text_len(s: &str) -> usize {
    s.trim().chars().count()
}

fn required_len(field: &str, max: usize) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code: "length".to_owned(),
        message_zh: format!("必填，最多{max}个字"),
        message_en: format!("Required, at most {max} characters"),
    }
}

/// `3000`, `3,000`, `2999.5`, `¥2999.50` → cents. At most 10 million yuan.
pub fn parse_yuan(s: &str) -> Option<i64> {
    let t: String = s
        .trim()
        .trim_start_matches(['¥', '￥'])
        .chars()
        .filter(|c| *c != ',' && *c != '，' && !c.is_whitespace())
        .collect();
    let t = t.strip_suffix('元').unwrap_or(&t);
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || whole.len() > 8
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    let cents = whole * 100 + frac;
    (cents <= 1_000_000_000).then_some(cents)
}

/// `300000` → `3000`, `299950` → `2999.50`.
pub fn format_yuan(cents: i64) -> String {
    if cents % 100 == 0 {
        format!("{}", cents / 100)
    } else {
        format!("{}.{:02}", cents / 100, (cents % 100).abs())
    }
}

fn plain_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> String {
    let v = value.trim();
    let n = v.chars().count();
    if (required && n == 0) || n > max || v.chars().any(char::is_control) {
        errors.push(required_len(field, max));
    }
    v.to_owned()
}

/// The one check of a stall's fields: in the form, on the server, and for
/// each row of a bulk import.
pub fn validate_stall(input: &StallInput) -> Result<ValidStall, Vec<FieldError>> {
    let mut errors = Vec::new();
    let number = plain_text(&mut errors, "number", &input.number, 20, true);
    let zone = plain_text(&mut errors, "zone", &input.zone, 20, true);
    let trade = plain_text(&mut errors, "trade", &input.trade, 30, true);
    let holder_name = plain_text(&mut errors, "holder_name", &input.holder_name, 40, true);
    let holder_mobile = match input.holder_mobile.trim() {
        "" => None,
        m => MobileNumber::parse(m)
            .map_err(|e| errors.push(e.field_error("holder_mobile")))
            .ok()
            .map(|m| m.as_str().to_owned()),
    };
    let uscc = match input.uscc.trim() {
        "" => None,
        u => Uscc::parse(u)
            .map_err(|e| errors.push(e.field_error("uscc")))
            .ok()
            .map(|u| u.as_str().to_owned()),
    };
    let rent_cents = parse_yuan(&input.rent_yuan);
    if rent_cents.is_none() {
        errors.push(FieldError::new(
            "rent_yuan",
            "rent_format",
            "月租金请填金额（元），如 3000 或 2999.50",
            "Enter the monthly rent in yuan, e.g. 3000 or 2999.50",
        ));
    }
    let status = match input.status.trim() {
        "" => None,
        s @ (STATUS_ACTIVE | STATUS_INACTIVE) => Some(s.to_owned()),
        "在用" | "正常" | "启用" => Some(STATUS_ACTIVE.to_owned()),
        "停用" => Some(STATUS_INACTIVE.to_owned()),
        _ => {
            errors.push(FieldError::new(
                "status",
                "status_invalid",
                "状态只能是“在用”或“停用”",
                "The status is active or inactive",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidStall {
        number,
        zone,
        trade,
        holder_name,
        holder_mobile,
        uscc,
        rent_cents: rent_cents.unwrap_or_default(),
        status,
    })
}

// ---------------------------------------------------------------------------
// Bulk import (stalls and rent ledger share the preview shape)

/// One problem with one row of an uploaded file. `line` is the line number
/// in the file as a spreadsheet shows it (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: usize,
    /// The column (request-field name) at fault, or `row` for the whole row.
    pub field: String,
    pub message_zh: String,
    pub message_en: String,
}

/// A parsed stall row as it will be written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallImportRow {
    pub line: usize,
    pub number: String,
    pub zone: String,
    pub trade: String,
    pub holder_name: String,
    pub holder_mobile: Option<String>,
    pub uscc: Option<String>,
    pub rent_cents: i64,
    /// `add` | `update`
    pub action: String,
}

/// `POST /api/manager/stalls/import/preview` (body: the CSV file). Nothing
/// is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallImportPreview {
    /// `utf-8` | `gbk`
    pub encoding: String,
    pub total_rows: usize,
    pub to_add: usize,
    pub to_update: usize,
    /// The first rows, to look at (all of them are checked).
    pub rows: Vec<StallImportRow>,
    /// Every row error (at most [`MAX_REPORTED_ERRORS`]).
    pub errors: Vec<RowError>,
    /// More errors than were listed.
    pub more_errors: bool,
}

pub const PREVIEW_ROWS: usize = 100;
pub const MAX_REPORTED_ERRORS: usize = 500;

/// `POST /api/manager/stalls/import`: all rows or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResult {
    pub added: usize,
    pub updated: usize,
}

/// `POST /api/manager/rent/import/preview`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RentImportPreview {
    pub encoding: String,
    pub total_rows: usize,
    pub months: Vec<String>,
    pub rows: Vec<RentImportRow>,
    pub errors: Vec<RowError>,
    pub more_errors: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RentImportRow {
    pub line: usize,
    pub stall_number: String,
    pub month: String,
    pub due_cents: i64,
    pub paid_cents: i64,
    pub paid_on: Option<String>,
}

/// `POST /api/manager/rent/import`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RentImportResult {
    pub rows: usize,
    /// Rows that replaced an earlier upload of the same stall and month.
    pub replaced: usize,
}

// ---------------------------------------------------------------------------
// Code cards

/// What a printed card shows. `qr_svg` is a complete `<svg>` element made
/// by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallCard {
    pub stall_id: String,
    pub market_name: String,
    pub office_phone: String,
    pub number: String,
    pub zone: String,
    pub trade: String,
    pub code_version: i32,
    pub url: String,
    pub qr_svg: String,
}

/// `POST /api/manager/cards`: the batch sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardsRequest {
    pub stall_ids: Vec<String>,
}

pub use crate::limits::MAX_CARDS;

/// The three lines printed under every code.
pub const CARD_INSTRUCTIONS: [&str; 3] = [
    "① 用微信或“看宜兴”扫一扫上方二维码",
    "② 核对摊位号，用手机号和短信验证码登录",
    "③ 授权后约一分钟得到预授信结果",
];

// ---------------------------------------------------------------------------
// Dashboard

/// Counts of credit outcomes below this are shown to a market manager only
/// as "<5" (small-cell suppression): with one or two merchants behind a
/// figure, the figure would be their result.
pub const SMALL_CELL: i64 = 5;

/// A count as its viewer may see it: exact, or only "fewer than `below`".
/// JSON: `12`, or `{"below": 5}`; shown as `12` or `<5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Figure {
    Exact(i64),
    Below { below: i64 },
}

impl Figure {
    /// `n` itself, or `<5` when it is under [`SMALL_CELL`] (0 included: "no
    /// one" is as telling as "one").
    pub fn suppressed(n: i64) -> Self {
        if n < SMALL_CELL {
            Figure::Below { below: SMALL_CELL }
        } else {
            Figure::Exact(n)
        }
    }

    /// The number, when the viewer may know it.
    pub fn exact(self) -> Option<i64> {
        match self {
            Figure::Exact(n) => Some(n),
            Figure::Below { .. } => None,
        }
    }

    /// `12` or `<5`.
    pub fn shown(self) -> String {
        match self {
            Figure::Exact(n) => n.to_string(),
            Figure::Below { below } => format!("<{below}"),
        }
    }
}

impl Default for Figure {
    fn default() -> Self {
        Figure::Exact(0)
    }
}

/// One step of the funnel. `tracked` is false for a step whose data the
/// system does not record yet (its figures are then 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// `stalls` | `scanned` | `logged_in` | `authorized` | `offered` |
    /// `accepted` | `bank_outcome`
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub total: Figure,
    pub this_week: Figure,
    pub tracked: bool,
    /// A credit outcome (offered, accepted, bank outcome) rather than an
    /// onboarding step: suppressed below [`SMALL_CELL`] for managers.
    #[serde(default)]
    pub outcome: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekActivity {
    /// Monday, `YYYY-MM-DD` (China time).
    pub week_start: String,
    pub logged_in: i64,
    pub authorized: i64,
    pub offered: Figure,
}

/// A plan target beside the figure it is measured by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFigure {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub target: String,
    /// `None`: not measurable from this system's data yet.
    pub actual: Option<String>,
}

/// `GET /api/manager/dashboard[?market_id=]`. Counts and statuses only:
/// no merchant's credit data or reasons. For a market manager every outcome
/// count below [`SMALL_CELL`] is [`Figure::Below`], and per-merchant rows
/// show onboarding steps only; operators (the county credit office) see
/// exact figures and each merchant's latest outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    /// `None`: all markets (operators).
    pub market_id: Option<String>,
    pub market_name: Option<String>,
    pub generated_at: String,
    /// Monday of this week, `YYYY-MM-DD` (China time).
    pub week_start: String,
    pub funnel: Vec<FunnelStep>,
    pub offers_count: Figure,
    /// Sum of the offered maximum amounts (each merchant's latest offer);
    /// `None` when the number of offers is suppressed.
    pub offers_total_cents: Option<i64>,
    /// True when small-cell suppression applies (a manager's view).
    #[serde(default)]
    pub suppressed: bool,
    pub weekly: Vec<WeekActivity>,
    pub targets: Vec<TargetFigure>,
    pub stalls_active: i64,
    pub stalls_inactive: i64,
    /// One market only: where each of its merchants is in the funnel.
    #[serde(default)]
    pub merchants: Vec<MerchantStatus>,
}

/// A merchant as the market sees them: who (masked) and how far they got.
/// Never their credit data, grade or reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantStatus {
    pub stall_number: Option<String>,
    pub mobile_masked: String,
    /// The furthest onboarding step: `logged_in` | `verified` (real-name
    /// check passed) | `authorized`. For operators only, the latest
    /// decision's outcome instead once there is one: `offer` | `refer` |
    /// `decline`.
    pub stage: String,
    /// `YYYY-MM-DD` (China time) of the first login.
    pub since: String,
}

/// The bounds of the staff's requests (see [`crate::limits`]).
mod bounds {
    use super::{CardsRequest, MarketInput, StaffLogin, StaffUserInput, StallInput};
    use crate::limits::*;

    impl Bounded for StaffLogin {
        fn bounds(&self, b: &mut Bounds) {
            b.text("username", &self.username, MAX_USERNAME_LEN).text(
                "password",
                &self.password,
                MAX_PASSWORD_LEN,
            );
        }
    }

    impl Bounded for MarketInput {
        fn bounds(&self, b: &mut Bounds) {
            b.text("name", &self.name, MAX_NAME_LEN)
                .text("office_phone", &self.office_phone, MAX_LINE_LEN)
                .text("address", &self.address, MAX_LINE_LEN);
        }
    }

    impl Bounded for StaffUserInput {
        fn bounds(&self, b: &mut Bounds) {
            b.text("username", &self.username, MAX_USERNAME_LEN)
                .text("display_name", &self.display_name, MAX_NAME_LEN)
                .text("password", &self.password, MAX_PASSWORD_LEN)
                .text("role", &self.role, MAX_TOKEN_LEN)
                .opt_text("market_id", self.market_id.as_deref(), MAX_ID_LEN);
        }
    }

    impl Bounded for StallInput {
        fn bounds(&self, b: &mut Bounds) {
            b.text("number", &self.number, MAX_NAME_LEN)
                .text("zone", &self.zone, MAX_NAME_LEN)
                .text("trade", &self.trade, MAX_NAME_LEN)
                .text("holder_name", &self.holder_name, MAX_NAME_LEN)
                .text("holder_mobile", &self.holder_mobile, MAX_MOBILE_LEN)
                .text("uscc", &self.uscc, MAX_TOKEN_LEN)
                .text("rent_yuan", &self.rent_yuan, MAX_TOKEN_LEN)
                .text("status", &self.status, MAX_TOKEN_LEN);
        }
    }

    impl Bounded for CardsRequest {
        fn bounds(&self, b: &mut Bounds) {
            b.list("stall_ids", &self.stall_ids, MAX_CARDS, MAX_ID_LEN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> StallInput {
        StallInput {
            number: " A-01 ".into(),
            zone: "A".into(),
            trade: "石材".into(),
            holder_name: "王建国".into(),
            holder_mobile: "139 1234 5678".into(),
            uscc: "".into(),
            rent_yuan: "3,000.5".into(),
            status: "".into(),
        }
    }

    #[test]
    fn yuan() {
        assert_eq!(parse_yuan("3000"), Some(300_000));
        assert_eq!(parse_yuan("¥2,999.5"), Some(299_950));
        assert_eq!(parse_yuan("0.07"), Some(7));
        assert_eq!(parse_yuan("12元"), Some(1200));
        for bad in ["", "-1", "1.234", "abc", "1e5", "123456789"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
        assert_eq!(format_yuan(299_950), "2999.50");
        assert_eq!(format_yuan(300_000), "3000");
    }

    #[test]
    fn stall_validation() {
        let v = validate_stall(&good()).unwrap();
        assert_eq!(v.number, "A-01");
        assert_eq!(v.holder_mobile.as_deref(), Some("13912345678"));
        assert_eq!(v.rent_cents, 300_050);
        let mut bad = good();
        bad.holder_mobile = "12345".into();
        bad.uscc = "92320282MA1X2Y3Z4A".into();
        bad.number = "".into();
        bad.rent_yuan = "x".into();
        let fields: Vec<String> = validate_stall(&bad)
            .unwrap_err()
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["number", "holder_mobile", "uscc", "rent_yuan"]);
    }
}
