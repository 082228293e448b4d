//! The assessment table as files: CSV and XLSX (Chinese headers, number formats, a frozen
//! header row) and GeoJSON (the scope's grids with their indicators).

use super::*;
use crate::error::{AppError, AppResult};

/// The table as CSV with Chinese and English headers.
pub fn kpi_csv(table: &KpiTable) -> String {
    let header = [
        "类型 kind",
        "代码 code",
        "名称 name",
        "得分 score",
        "等级 grade",
        "环比 previous",
        "同比 year before",
        "上报 reported",
        "接收 received",
        "处置 handled",
        "按期处置 handled on time",
        "超期 overdue",
        "返工 reworked",
        "退回 sent back",
        "结案 closed",
        "按期结案 closed on time",
        "响应率 response rate",
        "解决率 resolution rate",
        "满意率 satisfaction rate",
        "平均处置工时(分) avg handling min",
        "P90处置工时(分) p90 handling min",
        "重复件率 repeat rate",
        "有效上报率 valid report rate",
    ];
    let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    let rows = table.rows.iter().map(|r| {
        let i = &r.indicators;
        let c = &i.counters;
        vec![
            r.kind.clone(),
            r.code.clone(),
            r.name.clone(),
            r.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
            r.grade.map(String::from).unwrap_or_default(),
            r.previous_score
                .map(|s| format!("{s:.1}"))
                .unwrap_or_default(),
            r.year_before_score
                .map(|s| format!("{s:.1}"))
                .unwrap_or_default(),
            c.reported.to_string(),
            c.received.to_string(),
            c.handled.to_string(),
            c.handled_on_time.to_string(),
            c.overdue.to_string(),
            c.reworked_cases.to_string(),
            c.sent_back.to_string(),
            c.closed.to_string(),
            c.closed_on_time.to_string(),
            f(i.response_rate),
            f(i.resolution_rate),
            f(i.satisfaction_rate),
            f(i.average_handling_minutes),
            i.p90_handling_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            f(i.repeat_rate),
            f(i.valid_report_rate),
        ]
    });
    crate::interchange::csv_table::write(&header, rows)
}

/// The table as an XLSX workbook: Chinese and English headers, rates as percentages, the
/// header row frozen, one sheet.
pub fn kpi_xlsx(table: &KpiTable) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Color, Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Invalid(format!("xlsx: {e}"));
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet
        .set_name(format!(
            "考核 {}",
            table
                .period
                .replace(['/', ':', '?', '*', '[', ']', '\\'], "-")
        ))
        .map_err(err)?;
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_background_color(Color::RGB(0xDDEBF7));
    let percent = Format::new().set_num_format("0.0%");
    let one_decimal = Format::new().set_num_format("0.0");
    let columns: [(&str, f64); 16] = [
        ("类型\nkind", 8.0),
        ("代码\ncode", 18.0),
        ("名称\nname", 24.0),
        ("得分\nscore", 8.0),
        ("等级\ngrade", 6.0),
        ("环比\nprevious", 9.0),
        ("同比\nyear before", 9.0),
        ("接收\nreceived", 9.0),
        ("上报\nreported", 9.0),
        ("结案\nclosed", 9.0),
        ("响应率\nresponse", 10.0),
        ("解决率\nresolution", 10.0),
        ("满意率\nsatisfaction", 10.0),
        ("按期处置率\non-time handling", 12.0),
        ("返工率\nrework", 10.0),
        ("平均处置工时(分)\navg handling min", 14.0),
    ];
    for (col, (title, width)) in columns.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        sheet
            .write_string_with_format(0, col, *title, &header)
            .map_err(err)?;
        sheet.set_column_width(col, *width).map_err(err)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(err)?;
    for (i, r) in table.rows.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let ind = &r.indicators;
        sheet.write_string(row, 0, &r.kind).map_err(err)?;
        sheet.write_string(row, 1, &r.code).map_err(err)?;
        sheet.write_string(row, 2, &r.name).map_err(err)?;
        let numbers: [(u16, Option<f64>, &Format); 13] = [
            (3, r.score, &one_decimal),
            (5, r.previous_score, &one_decimal),
            (6, r.year_before_score, &one_decimal),
            (7, Some(ind.counters.received as f64), &Format::new()),
            (8, Some(ind.counters.reported as f64), &Format::new()),
            (9, Some(ind.counters.closed as f64), &Format::new()),
            (10, ind.response_rate, &percent),
            (11, ind.resolution_rate, &percent),
            (12, ind.satisfaction_rate, &percent),
            (13, ind.on_time_handling_rate, &percent),
            (14, ind.rework_rate, &percent),
            (15, ind.average_handling_minutes, &one_decimal),
            (4, None, &Format::new()),
        ];
        for (col, value, format) in numbers {
            if let Some(v) = value {
                sheet
                    .write_number_with_format(row, col, v, format)
                    .map_err(err)?;
            }
        }
        if let Some(g) = r.grade {
            sheet.write_string(row, 4, g.to_string()).map_err(err)?;
        }
    }
    workbook.save_to_buffer().map_err(err)
}

/// The grids of the scope as GeoJSON, each with its indicators as properties.
pub fn kpi_geojson(
    table: &KpiTable,
    grids: &[civicgrid_domain::territory::Grid],
) -> serde_json::Value {
    let by_code: HashMap<&str, &KpiRow> = table
        .rows
        .iter()
        .filter(|r| r.kind == "grid")
        .map(|r| (r.code.as_str(), r))
        .collect();
    let features: Vec<serde_json::Value> = grids
        .iter()
        .map(|g| {
            let mut properties = serde_json::json!({
                "code": g.code.as_str(),
                "name": g.name,
                "region": g.region.as_str(),
                "period": table.period,
            });
            if let (Some(r), Some(p)) = (by_code.get(g.code.as_str()), properties.as_object_mut()) {
                p.insert("score".into(), serde_json::json!(r.score));
                p.insert("grade".into(), serde_json::json!(r.grade.map(String::from)));
                if let Ok(serde_json::Value::Object(ind)) = serde_json::to_value(&r.indicators) {
                    for (k, v) in ind {
                        if k == "counters" {
                            if let serde_json::Value::Object(c) = v {
                                for (ck, cv) in c {
                                    if ck != "handling_histogram" {
                                        p.insert(ck, cv);
                                    }
                                }
                            }
                        } else {
                            p.insert(k, v);
                        }
                    }
                }
            }
            serde_json::json!({
                "type": "Feature",
                "id": g.code.as_str(),
                "properties": properties,
                "geometry": civicgrid_store::multipolygon_to_json(&g.geometry),
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features})
}
