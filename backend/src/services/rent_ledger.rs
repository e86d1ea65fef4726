//! The market's rent ledger: the monthly rent payments the office uploads.
//! They become first-party facts for the decision engine, written into the
//! same `credit_rent` table the county exports fill (keyed by the stall
//! holder's USCC, the market and the stall number). A later upload of the
//! same stall and month replaces the earlier row; other months stay.

use std::collections::{BTreeSet, HashMap};

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::limits::MAX_RENT_IMPORT_ROWS;
use shared::manager::{
    MAX_REPORTED_ERRORS, PREVIEW_ROWS, RentImportPreview, RentImportResult, RentImportRow,
    RowError, parse_yuan,
};

use crate::db::schema::{credit_rent, credit_sources, import_batches, markets, stalls};
use crate::db::{DbConn, new_id, timestamp};
use crate::decision::Source;
use crate::error::AppResult;
use crate::services::stall_import::{
    check_row_count, columns, csv_reader, decode, normalise_line_ends, rejected, unreadable,
};

pub fn template_csv() -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend_from_slice(
        "摊位号,月份,应缴（元）,实缴（元）,缴费日期\r\nA-01,2026-10,3000,3000,2026-10-05\r\n"
            .as_bytes(),
    );
    out
}

const RENT_COLUMNS: &[(&str, &[&str], bool)] = &[
    (
        "stall_number",
        &["摊位号", "摊位编号", "stall", "stall_no"],
        true,
    ),
    ("month", &["月份", "所属月份", "month"], true),
    (
        "due_yuan",
        &["应缴(元)", "应缴", "应缴金额", "due", "due_yuan"],
        true,
    ),
    (
        "paid_yuan",
        &["实缴(元)", "实缴", "实缴金额", "paid", "paid_yuan"],
        true,
    ),
    (
        "paid_on",
        &["缴费日期", "缴纳日期", "paid_date", "paid_on"],
        true,
    ),
];

pub(crate) struct Checked {
    encoding: &'static str,
    total: usize,
    rows: Vec<RentImportRow>,
    errors: Vec<RowError>,
}

fn err(line: usize, field: &str, zh: &str, en: &str) -> RowError {
    RowError {
        line,
        field: field.to_owned(),
        message_zh: zh.to_owned(),
        message_en: en.to_owned(),
    }
}

/// `2026-10`, `2026-1`, `2026/10`, `2026年10月` → `2026-10`.
fn month(s: &str) -> Option<String> {
    let t = s.trim().replace(['/', '.', '年'], "-").replace('月', "");
    let (y, m) = t.trim_end_matches('-').split_once('-')?;
    let y: i32 = y.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    ((2000..=2100).contains(&y) && (1..=12).contains(&m)).then(|| format!("{y:04}-{m:02}"))
}

fn date(s: &str) -> Option<String> {
    let t = s.trim().replace('/', "-");
    NaiveDate::parse_from_str(&t, "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// `usccs`: stall number → the holder's USCC (`None`: none on file).
pub(crate) fn check(bytes: &[u8], usccs: &HashMap<String, Option<String>>) -> AppResult<Checked> {
    let (text, encoding) = decode(bytes)?;
    let text = normalise_line_ends(&text);
    let mut out = Checked {
        encoding,
        total: 0,
        rows: Vec::new(),
        errors: Vec::new(),
    };
    let mut reader = csv_reader(&text);
    let headers = reader.headers().cloned().unwrap_or_default();
    let cols = match columns(&headers, RENT_COLUMNS) {
        Ok(c) => c,
        Err(e) => {
            out.errors = e;
            return Ok(out);
        }
    };
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.errors
                    .push(unreadable(e.position().map_or(0, |p| p.line() as usize)));
                out.total += 1;
                check_row_count(out.total, MAX_RENT_IMPORT_ROWS)?;
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        out.total += 1;
        check_row_count(out.total, MAX_RENT_IMPORT_ROWS)?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |f: &str| cols.get(f).and_then(|&i| record.get(i)).unwrap_or_default();
        let before = out.errors.len();
        let number = get("stall_number").to_owned();
        match usccs.get(&number) {
            None => out.errors.push(err(
                line,
                "stall_number",
                "本市场没有这个摊位号",
                "This market has no stall with this number",
            )),
            Some(None) => out.errors.push(err(
                line,
                "stall_number",
                "该摊位未登记统一社会信用代码，请先在摊位信息中补填",
                "This stall has no USCC on file; add it to the stall first",
            )),
            Some(Some(_)) => {}
        }
        let m = month(get("month"));
        if m.is_none() {
            out.errors.push(err(
                line,
                "month",
                "月份格式应为 2026-10",
                "The month is written like 2026-10",
            ));
        }
        let due = parse_yuan(get("due_yuan"));
        if due.is_none() {
            out.errors.push(err(
                line,
                "due_yuan",
                "应缴金额（元）有误",
                "The amount due (yuan) is not valid",
            ));
        }
        let paid = parse_yuan(get("paid_yuan"));
        if paid.is_none() {
            out.errors.push(err(
                line,
                "paid_yuan",
                "实缴金额（元）有误",
                "The amount paid (yuan) is not valid",
            ));
        }
        let paid_on = match get("paid_on") {
            "" => None,
            d => {
                let parsed = date(d);
                if parsed.is_none() {
                    out.errors.push(err(
                        line,
                        "paid_on",
                        "缴费日期格式应为 2026-10-05",
                        "The payment date is written like 2026-10-05",
                    ));
                }
                parsed
            }
        };
        if paid.is_some_and(|p| p > 0) && get("paid_on").is_empty() {
            out.errors.push(err(
                line,
                "paid_on",
                "有实缴金额时请填写缴费日期",
                "Give the payment date when something was paid",
            ));
        }
        if out.errors.len() > before {
            continue;
        }
        let m = m.unwrap_or_default();
        if let Some(first) = seen.insert((number.clone(), m.clone()), line) {
            out.errors.push(RowError {
                line,
                field: "month".to_owned(),
                message_zh: format!("摊位 {number} 的 {m} 与第{first}行重复"),
                message_en: format!("Stall {number}, {m} is also on line {first}"),
            });
            continue;
        }
        out.rows.push(RentImportRow {
            line,
            stall_number: number,
            month: m,
            due_cents: due.unwrap_or_default(),
            paid_cents: paid.unwrap_or_default(),
            paid_on,
        });
    }
    if out.rows.is_empty() && out.errors.is_empty() {
        out.errors.push(err(
            2,
            "row",
            "文件中没有租金记录",
            "The file holds no rent rows",
        ));
    }
    Ok(out)
}

fn usccs(conn: &mut DbConn, market_id: &str) -> AppResult<HashMap<String, Option<String>>> {
    Ok(stalls::table
        .filter(stalls::market_id.eq(market_id))
        .select((stalls::number, stalls::uscc))
        .load::<(String, Option<String>)>(conn)?
        .into_iter()
        .collect())
}

pub fn preview(conn: &mut DbConn, market_id: &str, bytes: &[u8]) -> AppResult<RentImportPreview> {
    markets::table
        .find(market_id)
        .select(markets::id)
        .first::<String>(conn)?;
    let map = usccs(conn, market_id)?;
    let c = check(bytes, &map)?;
    let months: BTreeSet<String> = c.rows.iter().map(|r| r.month.clone()).collect();
    Ok(RentImportPreview {
        encoding: c.encoding.to_owned(),
        total_rows: c.total,
        months: months.into_iter().collect(),
        more_errors: c.errors.len() > MAX_REPORTED_ERRORS,
        rows: c.rows.into_iter().take(PREVIEW_ROWS).collect(),
        errors: c.errors.into_iter().take(MAX_REPORTED_ERRORS).collect(),
    })
}

pub fn commit(
    conn: &mut DbConn,
    market_id: &str,
    actor: &str,
    bytes: &[u8],
    request_id: Option<&str>,
) -> AppResult<RentImportResult> {
    crate::db::write_transaction(conn, |conn| {
        let market_name: String = markets::table
            .find(market_id)
            .select(markets::name)
            .first(conn)?;
        let map = usccs(conn, market_id)?;
        let c = check(bytes, &map)?;
        if !c.errors.is_empty() {
            return Err(rejected(&c.errors));
        }
        let now = Utc::now();
        let at = timestamp(now);
        let as_of = crate::clock::china_day(now).to_string();
        let batch_id = new_id("imp");
        let source = Source::Rent.as_str();
        diesel::insert_into(import_batches::table)
            .values((
                import_batches::id.eq(&batch_id),
                import_batches::label.eq(format!("rent ledger: {market_name}")),
                import_batches::actor.eq(actor),
                import_batches::imported_at.eq(&at),
                import_batches::summary
                    .eq(json!({ source: { "as_of": as_of, "rows": c.rows.len() } }).to_string()),
            ))
            .execute(conn)?;
        let mut replaced = 0;
        for r in &c.rows {
            let uscc = map
                .get(&r.stall_number)
                .cloned()
                .flatten()
                .unwrap_or_default();
            replaced += diesel::delete(
                credit_rent::table
                    .filter(credit_rent::market.eq(&market_name))
                    .filter(credit_rent::stall_no.eq(&r.stall_number))
                    .filter(credit_rent::month.eq(&r.month)),
            )
            .execute(conn)?;
            diesel::insert_into(credit_rent::table)
                .values((
                    credit_rent::id.eq(new_id("cf")),
                    credit_rent::uscc.eq(uscc),
                    credit_rent::market.eq(&market_name),
                    credit_rent::stall_no.eq(&r.stall_number),
                    credit_rent::month.eq(&r.month),
                    credit_rent::due_cents.eq(r.due_cents),
                    credit_rent::paid_cents.eq(r.paid_cents),
                    credit_rent::paid_on.eq(&r.paid_on),
                    credit_rent::source.eq(source),
                    credit_rent::as_of.eq(&as_of),
                    credit_rent::import_batch_id.eq(&batch_id),
                ))
                .execute(conn)?;
        }
        // The source's newest export date: select, then insert or update.
        let existing: Option<String> = credit_sources::table
            .find(source)
            .select(credit_sources::as_of)
            .first(conn)
            .optional()?;
        match existing {
            None => {
                diesel::insert_into(credit_sources::table)
                    .values((
                        credit_sources::source.eq(source),
                        credit_sources::as_of.eq(&as_of),
                        credit_sources::import_batch_id.eq(&batch_id),
                        credit_sources::updated_at.eq(&at),
                    ))
                    .execute(conn)?;
            }
            Some(old) if old <= as_of => {
                diesel::update(credit_sources::table.find(source))
                    .set((
                        credit_sources::as_of.eq(&as_of),
                        credit_sources::import_batch_id.eq(&batch_id),
                        credit_sources::updated_at.eq(&at),
                    ))
                    .execute(conn)?;
            }
            Some(_) => {}
        }
        let result = RentImportResult {
            rows: c.rows.len(),
            replaced,
        };
        crate::services::audit::audit(
            conn,
            actor,
            "rent.imported",
            "market",
            Some(market_id),
            Some(market_id),
            json!({ "rows": result.rows, "replaced": replaced, "batch_id": batch_id, "encoding": c.encoding }),
            request_id,
        )?;
        Ok(result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_dates() {
        assert_eq!(month("2026-1").as_deref(), Some("2026-01"));
        assert_eq!(month("2026年10月").as_deref(), Some("2026-10"));
        assert_eq!(month("2026/13"), None);
        assert_eq!(date("2026/10/5").as_deref(), Some("2026-10-05"));
        assert_eq!(date("2026-02-30"), None);
    }

    #[test]
    fn rows_are_checked_against_the_market() {
        let map: HashMap<String, Option<String>> = [
            ("A-01".to_owned(), Some("92320282MA1X2Y3Z4B".to_owned())),
            ("A-02".to_owned(), None),
        ]
        .into();
        let file = "摊位号,月份,应缴（元）,实缴（元）,缴费日期\n\
            A-01,2026-10,3000,3000,2026-10-05\n\
            A-02,2026-10,3000,0,\n\
            Z-99,2026-10,3000,0,\n\
            A-01,2026-10,3000,3000,2026-10-06\n\
            A-01,2026-11,3000,100,\n";
        let c = check(file.as_bytes(), &map).unwrap();
        assert_eq!(c.rows.len(), 1);
        let at: Vec<(usize, &str)> = c
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect();
        assert_eq!(
            at,
            [
                (3, "stall_number"),
                (4, "stall_number"),
                (5, "month"),
                (6, "paid_on")
            ]
        );
    }
}
