//! The market's rent ledger: the monthly rent payments the office uploads,
//! kept per stall in `market_rent_ledger` with who uploaded each row and
//! when, and the ledger's own as-of date (the end of the last month the
//! upload covers, or the upload day if earlier). A later upload of the same
//! stall and month replaces the earlier row; other months stay.
//!
//! An upload says nothing about any business by itself: its rows become
//! first-party facts only for the business whose verified operator
//! confirmed the stall, and never over the county's own export
//! (`credit::ledger`).

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;
use shared::limits::MAX_RENT_IMPORT_ROWS;
use shared::manager::{
    MAX_REPORTED_ERRORS, PREVIEW_ROWS, RentImportPreview, RentImportResult, RentImportRow,
    RowError, parse_yuan,
};

use crate::db::schema::{import_batches, market_rent_ledger, markets, stalls};
use crate::db::{DbConn, new_id, timestamp};
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

/// `stall_ids`: the market's stall numbers → stall ids.
pub(crate) fn check(bytes: &[u8], stall_ids: &HashMap<String, String>) -> AppResult<Checked> {
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
        if !stall_ids.contains_key(&number) {
            out.errors.push(err(
                line,
                "stall_number",
                "本市场没有这个摊位号",
                "This market has no stall with this number",
            ));
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

fn stall_ids(conn: &mut DbConn, market_id: &str) -> AppResult<HashMap<String, String>> {
    Ok(stalls::table
        .filter(stalls::market_id.eq(market_id))
        .select((stalls::number, stalls::id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// The ledger's own as-of date: the last day of the newest month it covers,
/// or `today` if that is earlier (a month still running).
fn ledger_as_of(rows: &[RentImportRow], today: NaiveDate) -> NaiveDate {
    rows.iter()
        .filter_map(|r| NaiveDate::parse_from_str(&format!("{}-01", r.month), "%Y-%m-%d").ok())
        .max()
        .and_then(|first| {
            let next = if first.month() == 12 {
                NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
            };
            next.and_then(|n| n.pred_opt())
        })
        .map_or(today, |end| end.min(today))
}

pub fn preview(conn: &mut DbConn, market_id: &str, bytes: &[u8]) -> AppResult<RentImportPreview> {
    markets::table
        .find(market_id)
        .select(markets::id)
        .first::<String>(conn)?;
    let map = stall_ids(conn, market_id)?;
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
        let map = stall_ids(conn, market_id)?;
        let c = check(bytes, &map)?;
        if !c.errors.is_empty() {
            return Err(rejected(&c.errors));
        }
        let now = Utc::now();
        let at = timestamp(now);
        let as_of = ledger_as_of(&c.rows, crate::clock::china_day(now)).to_string();
        let batch_id = new_id("imp");
        diesel::insert_into(import_batches::table)
            .values((
                import_batches::id.eq(&batch_id),
                import_batches::label.eq(format!("rent ledger: {market_name}")),
                import_batches::actor.eq(actor),
                import_batches::imported_at.eq(&at),
                import_batches::summary.eq(json!({
                    "market_ledger": { "as_of": as_of, "rows": c.rows.len() }
                })
                .to_string()),
            ))
            .execute(conn)?;
        let mut replaced = 0;
        for r in &c.rows {
            let stall_id = map.get(&r.stall_number).cloned().unwrap_or_default();
            replaced += diesel::delete(
                market_rent_ledger::table
                    .filter(market_rent_ledger::stall_id.eq(&stall_id))
                    .filter(market_rent_ledger::month.eq(&r.month)),
            )
            .execute(conn)?;
            diesel::insert_into(market_rent_ledger::table)
                .values((
                    market_rent_ledger::id.eq(new_id("mrl")),
                    market_rent_ledger::market_id.eq(market_id),
                    market_rent_ledger::stall_id.eq(&stall_id),
                    market_rent_ledger::month.eq(&r.month),
                    market_rent_ledger::due_cents.eq(r.due_cents),
                    market_rent_ledger::paid_cents.eq(r.paid_cents),
                    market_rent_ledger::paid_on.eq(&r.paid_on),
                    market_rent_ledger::as_of.eq(&as_of),
                    market_rent_ledger::uploaded_by.eq(actor),
                    market_rent_ledger::uploaded_at.eq(&at),
                    market_rent_ledger::import_batch_id.eq(&batch_id),
                ))
                .execute(conn)?;
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
            json!({ "rows": result.rows, "replaced": replaced, "batch_id": batch_id, "encoding": c.encoding, "as_of": as_of }),
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
        let map: HashMap<String, String> = [
            ("A-01".to_owned(), "stl_1".to_owned()),
            ("A-02".to_owned(), "stl_2".to_owned()),
        ]
        .into();
        // A stall with no licence code on file takes its ledger all the
        // same: the ledger is the market's, per stall.
        let file = "摊位号,月份,应缴（元）,实缴（元）,缴费日期\n\
            A-01,2026-10,3000,3000,2026-10-05\n\
            A-02,2026-10,3000,0,\n\
            Z-99,2026-10,3000,0,\n\
            A-01,2026-10,3000,3000,2026-10-06\n\
            A-01,2026-11,3000,100,\n";
        let c = check(file.as_bytes(), &map).unwrap();
        assert_eq!(c.rows.len(), 2);
        let at: Vec<(usize, &str)> = c
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect();
        assert_eq!(at, [(4, "stall_number"), (5, "month"), (6, "paid_on")]);
    }

    #[test]
    fn the_ledgers_as_of_is_the_end_of_its_period() {
        let row = |m: &str| RentImportRow {
            line: 2,
            stall_number: "A-01".into(),
            month: m.into(),
            due_cents: 1,
            paid_cents: 1,
            paid_on: None,
        };
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let rows = [row("2026-09"), row("2026-10")];
        assert_eq!(ledger_as_of(&rows, day("2026-12-02")), day("2026-10-31"));
        // A month still running: the upload day.
        assert_eq!(ledger_as_of(&rows, day("2026-10-20")), day("2026-10-20"));
        assert_eq!(
            ledger_as_of(&[row("2025-12")], day("2026-12-02")),
            day("2025-12-31")
        );
    }
}
