//! Bulk uploads: the stall list and the monthly rent ledger. Choose a file,
//! see the parsed rows and every row error, then import (all or nothing).
//! The bytes go to the server as they are; it detects UTF-8 or GBK.

use std::rc::Rc;

use shared::manager::{RowError, format_yuan as yuan};
use yew::prelude::*;

use crate::api::ApiError;
use crate::api::staff::{self as api, RentUpload, StallUpload, Upload};
use crate::components::{ButtonSpinner, ErrorAlert, Loading, Notice};
use crate::i18n::Lang;
use crate::state::use_lang;

#[derive(Properties, PartialEq)]
pub struct ImportProps {
    pub market: Option<String>,
}

#[derive(Properties, PartialEq)]
struct ErrorsProps {
    id: AttrValue,
    errors: Vec<RowError>,
    more: bool,
}

#[component]
fn RowErrors(props: &ErrorsProps) -> Html {
    let lang = use_lang();
    if props.errors.is_empty() {
        return html! {};
    }
    html! {
        <div class="alert error" id={props.id.clone()} role="alert">
            <p><strong>{ match lang {
                Lang::Zh => format!("发现 {} 处错误，改正后重新选择文件。未导入任何数据。", props.errors.len()),
                Lang::En => format!("{} problems found. Fix them and choose the file again. Nothing was imported.", props.errors.len()),
            } }</strong></p>
            <ul class="errors">
                { for props.errors.iter().map(|e| html! {
                    <li class="import-error" data-line={e.line.to_string()} data-field={e.field.clone()}>
                        { match lang {
                            Lang::Zh => format!("第{}行 {}：{}", e.line, column_zh(&e.field), e.message_zh),
                            Lang::En => format!("Line {} {}: {}", e.line, e.field, e.message_en),
                        } }
                    </li>
                }) }
            </ul>
            if props.more { <p>{ lang.pick("（仅列出前500处）", "(only the first 500 are listed)") }</p> }
        </div>
    }
}

fn column_zh(field: &str) -> &str {
    match field {
        "number" | "stall_number" => "摊位号",
        "zone" => "区域",
        "trade" => "经营类别",
        "holder_name" => "经营者姓名",
        "holder_mobile" => "手机号",
        "uscc" => "统一社会信用代码",
        "rent_yuan" => "月租金",
        "status" => "状态",
        "month" => "月份",
        "due_yuan" => "应缴",
        "paid_yuan" => "实缴",
        "paid_on" => "缴费日期",
        _ => "",
    }
}

/// Reads a chosen file into memory.
async fn read_file(file: web_sys::File) -> Option<Vec<u8>> {
    let buf = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .ok()?;
    Some(js_sys::Uint8Array::new(&buf).to_vec())
}

/// The chosen file, read into memory (sent twice: preview, then import).
#[hook]
fn use_file_picker(on_read: Callback<Rc<Vec<u8>>>) -> Callback<Event> {
    Callback::from(move |e: Event| {
        let input = e.target_unchecked_into::<web_sys::HtmlInputElement>();
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        let on_read = on_read.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(bytes) = read_file(file).await {
                on_read.emit(Rc::new(bytes));
            }
        });
    })
}

#[derive(Clone, PartialEq, Default)]
enum Busy {
    #[default]
    Idle,
    Checking,
    Importing,
}

/// The preview-then-commit flow both uploads share; only the endpoints and
/// the shapes of the preview and result differ ([`Upload`]). Commit posts the
/// same bytes again, so they are kept until another file is chosen.
struct ImportFlow<U: Upload> {
    preview: UseStateHandle<Option<U::Preview>>,
    result: UseStateHandle<Option<U::Done>>,
    error: UseStateHandle<Option<ApiError>>,
    busy: UseStateHandle<Busy>,
    on_file: Callback<Event>,
    commit: Callback<MouseEvent>,
}

#[hook]
fn use_import_flow<U: Upload + 'static>(market: Option<String>) -> ImportFlow<U> {
    let bytes = use_state(|| None::<Rc<Vec<u8>>>);
    let preview = use_state(|| None::<U::Preview>);
    let result = use_state(|| None::<U::Done>);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(Busy::default);
    let on_read = {
        let (bytes, preview, result, error, busy) = (
            bytes.clone(),
            preview.clone(),
            result.clone(),
            error.clone(),
            busy.clone(),
        );
        let market = market.clone();
        Callback::from(move |data: Rc<Vec<u8>>| {
            bytes.set(Some(data.clone()));
            preview.set(None);
            result.set(None);
            error.set(None);
            busy.set(Busy::Checking);
            let (preview, error, busy) = (preview.clone(), error.clone(), busy.clone());
            let market = market.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match api::preview_upload::<U>(market.as_deref(), &data).await {
                    Ok(p) => preview.set(Some(p)),
                    Err(e) => error.set(Some(e)),
                }
                busy.set(Busy::Idle);
            });
        })
    };
    let on_file = use_file_picker(on_read);
    let commit = {
        let (bytes, result, error, busy, preview) = (
            bytes.clone(),
            result.clone(),
            error.clone(),
            busy.clone(),
            preview.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(data) = (*bytes).clone() else { return };
            busy.set(Busy::Importing);
            let (result, error, busy, preview) =
                (result.clone(), error.clone(), busy.clone(), preview.clone());
            let market = market.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match api::import_upload::<U>(market.as_deref(), &data).await {
                    Ok(r) => {
                        preview.set(None);
                        result.set(Some(r));
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(Busy::Idle);
            });
        })
    };
    ImportFlow {
        preview,
        result,
        error,
        busy,
        on_file,
        commit,
    }
}

#[component]
pub fn StallImport(props: &ImportProps) -> Html {
    let lang = use_lang();
    let ImportFlow {
        preview,
        result,
        error,
        busy,
        on_file,
        commit,
    } = use_import_flow::<StallUpload>(props.market.clone());
    html! {
        <div id="stall-import">
            <h2>{ lang.pick("批量导入摊位", "Import stalls in bulk") }</h2>
            <p class="muted">{ lang.pick(
                "上传 CSV 文件（Excel“另存为 CSV”即可，UTF-8 或 GBK 编码均可）。先预览检查，全部无误才导入；已有的摊位号会被更新。",
                "Upload a CSV file (Excel's \u{201c}Save as CSV\u{201d}; UTF-8 or GBK). It is checked first and imported only when every row is right; existing stall numbers are updated.",
            ) }</p>
            <p><a id="stall-template" class="btn secondary" href={StallUpload::TEMPLATE} download="摊位导入模板.csv">
                { lang.pick("下载导入模板", "Download the template") }</a></p>
            <div class="field">
                <label for="import-file">{ lang.pick("选择文件", "Choose a file") }</label>
                <input type="file" id="import-file" accept=".csv,text/csv" onchange={on_file} />
            </div>
            if *busy == Busy::Checking { <Loading id="import-checking" label={lang.pick("正在检查文件…", "Checking the file…")} /> }
            if let Some(e) = &*error { <ErrorAlert id="import-error" error={e.clone()} /> }
            if let Some(r) = &*result {
                <Notice id="import-result">{ match lang {
                    Lang::Zh => format!("导入完成：新增 {} 个，更新 {} 个摊位。", r.added, r.updated),
                    Lang::En => format!("Imported: {} added, {} updated.", r.added, r.updated),
                } }</Notice>
            }
            if let Some(p) = &*preview {
                <div class="card" id="import-preview">
                    <p id="import-summary">{ match (lang, p.errors.is_empty()) {
                        (Lang::Zh, true) => format!("编码 {}，共 {} 行：将新增 {} 个、更新 {} 个摊位。", p.encoding.to_uppercase(), p.total_rows, p.to_add, p.to_update),
                        (Lang::En, true) => format!("Encoding {}, {} rows: {} to add, {} to update.", p.encoding.to_uppercase(), p.total_rows, p.to_add, p.to_update),
                        (Lang::Zh, false) => format!("编码 {}，共 {} 行，其中 {} 行无误。", p.encoding.to_uppercase(), p.total_rows, p.to_add + p.to_update),
                        (Lang::En, false) => format!("Encoding {}, {} rows, {} of them without errors.", p.encoding.to_uppercase(), p.total_rows, p.to_add + p.to_update),
                    } }</p>
                    <RowErrors id="import-errors" errors={p.errors.clone()} more={p.more_errors} />
                    if p.errors.is_empty() {
                        <button type="button" id="import-commit" class="btn block" onclick={commit}
                            disabled={*busy == Busy::Importing}>
                            if *busy == Busy::Importing { <ButtonSpinner /> }
                            { match lang {
                                Lang::Zh => format!("确认导入 {} 行", p.total_rows),
                                Lang::En => format!("Import {} rows", p.total_rows),
                            } }
                        </button>
                    }
                    <div class="table-wrap">
                        <table class="data" id="import-rows">
                            <thead><tr>
                                <th>{ lang.pick("行", "Line") }</th>
                                <th>{ lang.pick("摊位号", "Stall") }</th>
                                <th class="opt">{ lang.pick("区域", "Zone") }</th>
                                <th>{ lang.pick("经营者", "Holder") }</th>
                                <th class="opt">{ lang.pick("月租金", "Rent") }</th>
                                <th>{ lang.pick("操作", "Action") }</th>
                            </tr></thead>
                            <tbody>
                                { for p.rows.iter().map(|r| html! {
                                    <tr>
                                        <td>{ r.line }</td>
                                        <td>{ &r.number }</td>
                                        <td class="opt">{ &r.zone }</td>
                                        <td>{ &r.holder_name }</td>
                                        <td class="opt">{ yuan(r.rent_cents) }</td>
                                        <td>{ if r.action == "add" { lang.pick("新增", "add") } else { lang.pick("更新", "update") } }</td>
                                    </tr>
                                }) }
                            </tbody>
                        </table>
                    </div>
                </div>
            }
        </div>
    }
}

#[component]
pub fn RentImport(props: &ImportProps) -> Html {
    let lang = use_lang();
    let ImportFlow {
        preview,
        result,
        error,
        busy,
        on_file,
        commit,
    } = use_import_flow::<RentUpload>(props.market.clone());
    html! {
        <div id="rent-import">
            <h2>{ lang.pick("上传租金缴纳台账", "Upload the rent ledger") }</h2>
            <p class="muted">{ lang.pick(
                "每月上传一次：摊位号、月份、应缴、实缴、缴费日期。作为市场一手数据，经商户授权后用于预授信。同一摊位同一月份再次上传会覆盖旧记录。",
                "Upload monthly: stall, month, due, paid, payment date. It is the market's first-hand data, used for pre-credit once the merchant consents. Uploading the same stall and month again replaces the earlier row.",
            ) }</p>
            <p><a id="rent-template" class="btn secondary" href={RentUpload::TEMPLATE} download="租金台账模板.csv">
                { lang.pick("下载台账模板", "Download the template") }</a></p>
            <div class="field">
                <label for="rent-file">{ lang.pick("选择文件", "Choose a file") }</label>
                <input type="file" id="rent-file" accept=".csv,text/csv" onchange={on_file} />
            </div>
            if *busy == Busy::Checking { <Loading id="rent-checking" label={lang.pick("正在检查文件…", "Checking the file…")} /> }
            if let Some(e) = &*error { <ErrorAlert id="rent-error" error={e.clone()} /> }
            if let Some(r) = &*result {
                <Notice id="rent-result">{ match lang {
                    Lang::Zh => format!("导入完成：{} 条记录（其中覆盖 {} 条）。", r.rows, r.replaced),
                    Lang::En => format!("Imported {} rows ({} replaced earlier ones).", r.rows, r.replaced),
                } }</Notice>
            }
            if let Some(p) = &*preview {
                <div class="card" id="rent-preview">
                    <p id="rent-summary">{ match lang {
                        Lang::Zh => format!("编码 {}，共 {} 行，月份：{}", p.encoding.to_uppercase(), p.total_rows, p.months.join("、")),
                        Lang::En => format!("Encoding {}, {} rows, months: {}", p.encoding.to_uppercase(), p.total_rows, p.months.join(", ")),
                    } }</p>
                    <RowErrors id="rent-errors" errors={p.errors.clone()} more={p.more_errors} />
                    if p.errors.is_empty() {
                        <button type="button" id="rent-commit" class="btn block" onclick={commit}
                            disabled={*busy == Busy::Importing}>
                            if *busy == Busy::Importing { <ButtonSpinner /> }
                            { lang.pick("确认导入", "Import") }
                        </button>
                    }
                    <div class="table-wrap">
                        <table class="data">
                            <thead><tr>
                                <th>{ lang.pick("摊位号", "Stall") }</th>
                                <th>{ lang.pick("月份", "Month") }</th>
                                <th>{ lang.pick("应缴", "Due") }</th>
                                <th>{ lang.pick("实缴", "Paid") }</th>
                                <th class="opt">{ lang.pick("缴费日期", "Paid on") }</th>
                            </tr></thead>
                            <tbody>
                                { for p.rows.iter().map(|r| html! {
                                    <tr>
                                        <td>{ &r.stall_number }</td>
                                        <td>{ &r.month }</td>
                                        <td>{ yuan(r.due_cents) }</td>
                                        <td>{ yuan(r.paid_cents) }</td>
                                        <td class="opt">{ r.paid_on.clone().unwrap_or_default() }</td>
                                    </tr>
                                }) }
                            </tbody>
                        </table>
                    </div>
                </div>
            }
        </div>
    }
}
