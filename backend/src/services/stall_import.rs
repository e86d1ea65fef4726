//! Bulk stall import from the spreadsheet a market office already keeps:
//! CSV in UTF-8 (with or without BOM) or GBK (what Excel writes on a Chinese
//! Windows), Chinese or English headers. Every row is checked before
//! anything is written; the import is all rows or none.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use diesel::prelude::*;
use serde_json::json;
use shared::limits::MAX_STALL_IMPORT_ROWS;
use shared::manager::{
    ImportResult, MAX_REPORTED_ERRORS, PREVIEW_ROWS, RowError, STATUS_ACTIVE, StallImportPreview,
    StallImportRow, StallInput, validate_stall,
};

use crate::db::models::Stall;
use crate::db::schema::{markets, stalls};
use crate::db::{DbConn, new_id, timestamp};
use crate::error::{AppError, AppResult};
use crate::services::audit::audit;

/// The template's header row: the columns in Chinese, in this order.
pub const TEMPLATE_HEADERS: [&str; 8] = [
    "摊位号",
    "区域",
    "经营类别",
    "经营者姓名",
    "手机号",
    "统一社会信用代码",
    "月租金（元）",
    "状态",
];

/// The downloadable template: UTF-8 with a BOM, so Excel opens it in
/// Chinese instead of mojibake, and one example row.
pub fn template_csv() -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend_from_slice(TEMPLATE_HEADERS.join(",").as_bytes());
    out.extend_from_slice("\r\nA-01,A,石材,王建国,13912345678,,3000,在用\r\n".as_bytes());
    out
}

/// Text of an uploaded file: UTF-8 when it is valid UTF-8 (a BOM is
/// dropped), else GBK. A file that is neither is refused.
pub fn decode(bytes: &[u8]) -> AppResult<(String, &'static str)> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(body) {
        return Ok((s.to_owned(), "utf-8"));
    }
    let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(AppError::bad_request(
            "file_encoding",
            "无法识别文件编码，请另存为 CSV（UTF-8 或 GBK）后重试",
            "The file's encoding is not recognised; save it as CSV (UTF-8 or GBK) and try again",
        ));
    }
    Ok((text.into_owned(), "gbk"))
}

fn normalise_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .replace(['（', '('], "(")
        .replace(['）', ')'], ")")
        .replace(' ', "")
        .to_lowercase()
}

/// Which column holds each field, from a header row in Chinese or English.
/// `names` maps each field to the header spellings accepted for it.
pub fn columns(
    headers: &csv::StringRecord,
    names: &[(&'static str, &[&str], bool)],
) -> Result<HashMap<&'static str, usize>, Vec<RowError>> {
    let normalised: Vec<String> = headers.iter().map(normalise_header).collect();
    let mut found = HashMap::new();
    let mut errors = Vec::new();
    for (field, spellings, required) in names {
        let at = normalised
            .iter()
            .position(|h| spellings.iter().any(|s| normalise_header(s) == *h));
        match at {
            Some(i) => {
                found.insert(*field, i);
            }
            None if *required => errors.push(RowError {
                line: 1,
                field: (*field).to_owned(),
                message_zh: format!("缺少“{}”列", spellings[0]),
                message_en: format!("The column \u{201c}{}\u{201d} is missing", spellings[0]),
            }),
            None => {}
        }
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

const STALL_COLUMNS: &[(&str, &[&str], bool)] = &[
    (
        "number",
        &["摊位号", "摊位编号", "number", "stall_no"],
        true,
    ),
    ("zone", &["区域", "区", "zone"], true),
    ("trade", &["经营类别", "行业", "经营范围", "trade"], true),
    (
        "holder_name",
        &["经营者姓名", "经营者", "姓名", "holder_name"],
        true,
    ),
    (
        "holder_mobile",
        &["手机号", "手机号码", "联系电话", "holder_mobile", "mobile"],
        false,
    ),
    ("uscc", &["统一社会信用代码", "信用代码", "uscc"], false),
    (
        "rent_yuan",
        &["月租金(元)", "月租金", "租金", "rent_yuan", "rent"],
        true,
    ),
    ("status", &["状态", "status"], false),
];

/// A checked file: its rows (each with add/update), or every error found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub encoding: &'static str,
    pub rows: Vec<StallImportRow>,
    /// Status column per row, when the file has one.
    pub statuses: Vec<Option<String>>,
    pub errors: Vec<RowError>,
    /// Data rows in the file (blank lines not counted).
    pub total: usize,
}

pub fn unreadable(line: usize) -> RowError {
    RowError {
        line,
        field: "row".to_owned(),
        message_zh: "这一行无法读取（引号不成对？）".to_owned(),
        message_en: "This line cannot be read (unbalanced quotes?)".to_owned(),
    }
}

/// Line ends made `\n` first: the csv crate counts a CRLF line (Windows
/// Excel) one late in record positions, and old Mac Excel writes bare `\r`.
pub fn normalise_line_ends(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

pub fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}

/// Refuses a file with more than `max` rows as soon as its row `max + 1`
/// is read, before anything is written (`shared::limits`).
pub fn check_row_count(rows: usize, max: usize) -> AppResult<()> {
    if rows <= max {
        return Ok(());
    }
    let mut e = AppError::unprocessable(
        "too_many_rows",
        "文件行数过多",
        "The file has too many rows",
    );
    e.body.message_zh = format!("一个文件最多{max}行，请分成几个文件导入");
    e.body.message_en = format!("A file may have at most {max} rows; split it into several");
    Err(e)
}

/// Checks every row against the shared validation, the other rows (no
/// stall number twice) and the market's stalls (`existing`: numbers
/// already there, which become updates).
pub fn parse(bytes: &[u8], existing: &HashSet<String>) -> AppResult<Parsed> {
    let (text, encoding) = decode(bytes)?;
    let text = normalise_line_ends(&text);
    let mut parsed = Parsed {
        encoding,
        ..Parsed::default()
    };
    let mut reader = csv_reader(&text);
    let headers = reader.headers().cloned().unwrap_or_default();
    let cols = match columns(&headers, STALL_COLUMNS) {
        Ok(c) => c,
        Err(e) => {
            parsed.errors = e;
            return Ok(parsed);
        }
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                parsed.errors.push(unreadable(line));
                parsed.total += 1;
                check_row_count(parsed.total, MAX_STALL_IMPORT_ROWS)?;
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        parsed.total += 1;
        check_row_count(parsed.total, MAX_STALL_IMPORT_ROWS)?;
        let get = |field: &str| {
            cols.get(field)
                .and_then(|&i| record.get(i))
                .unwrap_or_default()
                .to_owned()
        };
        let input = StallInput {
            number: get("number"),
            zone: get("zone"),
            trade: get("trade"),
            holder_name: get("holder_name"),
            holder_mobile: get("holder_mobile"),
            uscc: get("uscc"),
            rent_yuan: get("rent_yuan"),
            status: get("status"),
        };
        match validate_stall(&input) {
            Err(fields) => {
                parsed.errors.extend(fields.into_iter().map(|f| RowError {
                    line,
                    field: f.field,
                    message_zh: f.message_zh,
                    message_en: f.message_en,
                }));
            }
            Ok(v) => {
                if let Some(first) = seen.get(&v.number) {
                    parsed.errors.push(RowError {
                        line,
                        field: "number".to_owned(),
                        message_zh: format!("摊位号 {} 与第{first}行重复", v.number),
                        message_en: format!("Stall {} is also on line {first}", v.number),
                    });
                    continue;
                }
                seen.insert(v.number.clone(), line);
                let action = if existing.contains(&v.number) {
                    "update"
                } else {
                    "add"
                };
                parsed.statuses.push(v.status.clone());
                parsed.rows.push(StallImportRow {
                    line,
                    number: v.number,
                    zone: v.zone,
                    trade: v.trade,
                    holder_name: v.holder_name,
                    holder_mobile: v.holder_mobile,
                    uscc: v.uscc,
                    rent_cents: v.rent_cents,
                    action: action.to_owned(),
                });
            }
        }
    }
    if parsed.rows.is_empty() && parsed.errors.is_empty() {
        parsed.errors.push(RowError {
            line: 2,
            field: "row".to_owned(),
            message_zh: "文件中没有摊位数据".to_owned(),
            message_en: "The file holds no stalls".to_owned(),
        });
    }
    Ok(parsed)
}

/// (stall number → id) of the market.
fn existing(conn: &mut DbConn, market_id: &str) -> AppResult<HashMap<String, String>> {
    Ok(stalls::table
        .filter(stalls::market_id.eq(market_id))
        .select((stalls::number, stalls::id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

fn ensure_market(conn: &mut DbConn, market_id: &str) -> AppResult<()> {
    markets::table
        .find(market_id)
        .select(markets::id)
        .first::<String>(conn)?;
    Ok(())
}

pub fn preview(conn: &mut DbConn, market_id: &str, bytes: &[u8]) -> AppResult<StallImportPreview> {
    ensure_market(conn, market_id)?;
    let numbers: HashSet<String> = existing(conn, market_id)?.into_keys().collect();
    let parsed = parse(bytes, &numbers)?;
    let to_add = parsed.rows.iter().filter(|r| r.action == "add").count();
    let more_errors = parsed.errors.len() > MAX_REPORTED_ERRORS;
    Ok(StallImportPreview {
        encoding: parsed.encoding.to_owned(),
        total_rows: parsed.total,
        to_add,
        to_update: parsed.rows.len() - to_add,
        rows: parsed.rows.into_iter().take(PREVIEW_ROWS).collect(),
        errors: parsed
            .errors
            .into_iter()
            .take(MAX_REPORTED_ERRORS)
            .collect(),
        more_errors,
    })
}

/// A 422 listing the first row errors as `line N: field` fields.
pub fn rejected(errors: &[RowError]) -> AppError {
    let mut e = AppError::validation(
        errors
            .iter()
            .take(MAX_REPORTED_ERRORS)
            .map(|r| shared::error::FieldError {
                field: format!("line {}: {}", r.line, r.field),
                code: "row_invalid".to_owned(),
                message_zh: r.message_zh.clone(),
                message_en: r.message_en.clone(),
            })
            .collect(),
    );
    e.body.code = "import_rejected".to_owned();
    e.body.message_zh = format!("文件中有{}处错误，未导入任何数据", errors.len());
    e.body.message_en = format!("The file has {} errors; nothing was imported", errors.len());
    e
}

/// Rows per INSERT: 13 columns each, well under SQLite's parameter limit.
const INSERT_CHUNK: usize = 500;

pub fn commit(
    conn: &mut DbConn,
    market_id: &str,
    actor: &str,
    bytes: &[u8],
    request_id: Option<&str>,
) -> AppResult<ImportResult> {
    crate::db::write_transaction(conn, |conn| {
        ensure_market(conn, market_id)?;
        let ids = existing(conn, market_id)?;
        let numbers: HashSet<String> = ids.keys().cloned().collect();
        let parsed = parse(bytes, &numbers)?;
        if !parsed.errors.is_empty() {
            return Err(rejected(&parsed.errors));
        }
        let now = timestamp(Utc::now());
        let mut inserts = Vec::new();
        let mut updated = 0usize;
        for (row, status) in parsed.rows.iter().zip(&parsed.statuses) {
            match ids.get(&row.number) {
                Some(id) => {
                    let q = diesel::update(
                        stalls::table
                            .find(id)
                            .filter(stalls::market_id.eq(market_id)),
                    );
                    let common = (
                        stalls::zone.eq(&row.zone),
                        stalls::trade.eq(&row.trade),
                        stalls::holder_name.eq(&row.holder_name),
                        stalls::holder_mobile.eq(&row.holder_mobile),
                        stalls::uscc.eq(&row.uscc),
                        stalls::rent_cents.eq(row.rent_cents),
                        stalls::updated_at.eq(&now),
                    );
                    match status {
                        Some(s) => q.set((common, stalls::status.eq(s))).execute(conn)?,
                        None => q.set(common).execute(conn)?,
                    };
                    updated += 1;
                }
                None => inserts.push(Stall {
                    id: new_id("stl"),
                    market_id: market_id.to_owned(),
                    number: row.number.clone(),
                    zone: row.zone.clone(),
                    trade: row.trade.clone(),
                    holder_name: row.holder_name.clone(),
                    holder_mobile: row.holder_mobile.clone(),
                    uscc: row.uscc.clone(),
                    rent_cents: row.rent_cents,
                    status: status.clone().unwrap_or_else(|| STATUS_ACTIVE.to_owned()),
                    code_version: 1,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                }),
            }
        }
        // Multi-row INSERTs need the concrete connection: MultiConnection
        // does not offer batch inserts.
        for chunk in inserts.chunks(INSERT_CHUNK) {
            let q = diesel::insert_into(stalls::table).values(chunk);
            match conn {
                DbConn::Sqlite(c) => q.execute(c)?,
                DbConn::Pg(c) => q.execute(c)?,
            };
        }
        let result = ImportResult {
            added: inserts.len(),
            updated,
        };
        audit(
            conn,
            actor,
            "stalls.imported",
            "market",
            Some(market_id),
            Some(market_id),
            json!({ "added": result.added, "updated": result.updated, "encoding": parsed.encoding }),
            request_id,
        )?;
        Ok(result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(s: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(s).0.into_owned()
    }

    const FILE: &str = "摊位号,区域,经营类别,经营者姓名,手机号,统一社会信用代码,月租金（元）\n\
        A-01,A,石材,王建国,13912345678,,3000\n\
        A-02,A,石材,李秀英,12345,,2800\n\
        A-01,A,石材,张三,,,100\n";

    #[test]
    fn gbk_and_utf8_read_the_same() {
        let existing: HashSet<String> = ["A-01".to_owned()].into();
        let a = parse(&gbk(FILE), &existing).unwrap();
        assert_eq!(a.encoding, "gbk");
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(FILE.as_bytes());
        let b = parse(&bom, &existing).unwrap();
        assert_eq!(b.encoding, "utf-8");
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.errors, b.errors);
        assert_eq!(a.rows.len(), 1);
        assert_eq!(a.rows[0].holder_name, "王建国");
        assert_eq!(a.rows[0].action, "update");
        let where_: Vec<(usize, &str)> = a
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect();
        assert_eq!(where_, [(3, "holder_mobile"), (4, "number")]);
    }

    #[test]
    fn crlf_files_report_the_right_lines() {
        let crlf = FILE.replace('\n', "\r\n");
        let p = parse(crlf.as_bytes(), &HashSet::new()).unwrap();
        let lines: Vec<usize> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4]);
    }

    #[test]
    fn missing_columns_are_named() {
        let p = parse("摊位号,区域\nA-1,A\n".as_bytes(), &HashSet::new()).unwrap();
        let fields: Vec<&str> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["trade", "holder_name", "rent_yuan"]);
        assert!(p.rows.is_empty());
    }

    #[test]
    fn template_parses_cleanly() {
        let p = parse(&template_csv(), &HashSet::new()).unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.rows.len(), 1);
    }

    /// The 10,000-row import, timed against a real SQLite file (and
    /// PostgreSQL when `MC_BENCH_PG_URL` names a database to create).
    /// By hand: `cargo test -p backend --lib import_10k -- --ignored --nocapture`;
    /// the figures go into BENCHMARKS.md.
    #[test]
    #[ignore]
    fn import_10k_rows_timing() {
        let mut file = String::from(
            "摊位号,区域,经营类别,经营者姓名,手机号,统一社会信用代码,月租金（元）\r\n",
        );
        for i in 0..10_000u32 {
            let first17 = format!("92320282MA{:07}", i);
            let check = shared::ids::uscc_check_char(&first17).unwrap();
            file.push_str(&format!(
                "K-{i:05},K{},石材,王建国{i},139{:08},{first17}{check},{}\r\n",
                i % 20,
                i,
                1500 + i % 1000
            ));
        }
        let gbk = encoding_rs::GBK.encode(&file).0.into_owned();
        let mut urls = Vec::new();
        let dir = std::env::temp_dir().join(format!(
            "mc-bench-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        urls.push(dir.join("b.sqlite3").display().to_string());
        if let Ok(pg) = std::env::var("MC_BENCH_PG_URL") {
            urls.push(pg);
        }
        for url in urls {
            let pool = crate::db::connect(&url).unwrap();
            crate::db::migrate(&pool).unwrap();
            let mut conn = pool.get().unwrap();
            let market = crate::seed::seed_demo(&mut conn, "bench-password")
                .unwrap()
                .market_id;
            let t = std::time::Instant::now();
            let p = preview(&mut conn, &market, &gbk).unwrap();
            let preview_time = t.elapsed();
            assert!(p.errors.is_empty());
            let t = std::time::Instant::now();
            let r = commit(&mut conn, &market, "bench", &gbk, None).unwrap();
            let add_time = t.elapsed();
            assert_eq!(r.added, 10_000);
            let t = std::time::Instant::now();
            let r = commit(&mut conn, &market, "bench", &gbk, None).unwrap();
            let update_time = t.elapsed();
            assert_eq!(r.updated, 10_000);
            println!(
                "{}: 10,000 rows GBK ({} KB): preview {:?}, import (all new) {:?}, re-import (all updates) {:?}",
                crate::db::Backend::from_url(&url).name(),
                gbk.len() / 1024,
                preview_time,
                add_time,
                update_time
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn not_a_text_file_is_refused() {
        assert!(decode(&[0xff, 0xff, 0xff, 0x80]).is_err());
    }
}
