//! Reading a hotline's export: an XLSX workbook (through calamine) or a CSV file, as a
//! header row and data rows of text cells, each row numbered as the program that made the
//! file numbers it (the header is row 1), so a problem points at the row a clerk sees.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use crate::error::{InputError, Location};

/// The cells of an export, as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The sheet read, for a workbook.
    pub sheet: Option<String>,
    pub headers: Vec<String>,
    /// (row number, cells), blank rows left out.
    pub rows: Vec<(u64, Vec<String>)>,
}

impl Export {
    /// Reads `bytes` named `file`: `.xlsx` as a workbook (the named sheet, else the first),
    /// anything else as CSV (UTF-8, with or without a byte-order mark).
    pub fn read(file: &str, bytes: &[u8], sheet: Option<&str>) -> Result<Export, InputError> {
        if file.to_ascii_lowercase().ends_with(".xlsx") {
            read_xlsx(file, bytes, sheet)
        } else {
            read_csv(file, bytes)
        }
    }

    /// The column's letter and heading, as a problem names it (`C (诉求内容)`).
    pub fn column_label(&self, index: usize) -> String {
        format!(
            "{} ({})",
            column_letter(index),
            self.headers.get(index).map_or("", String::as_str)
        )
    }

    /// A problem at a row and column.
    pub fn problem(
        &self,
        file: &str,
        row: u64,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> InputError {
        InputError {
            file: match &self.sheet {
                Some(sheet) => format!("{file}: sheet {sheet}"),
                None => file.to_owned(),
            },
            location: Location::Row {
                row,
                column: column.map(|c| self.column_label(c)),
            },
            field: None,
            message: message.into(),
        }
    }
}

/// `A`, `B`, …, `Z`, `AA`, … for a 0-based column.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

fn read_csv(file: &str, bytes: &[u8]) -> Result<Export, InputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        InputError::file(
            file,
            format!("is not UTF-8 text ({e}); save the export as CSV UTF-8 or as XLSX"),
        )
    })?;
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| InputError::line(file, 1, None, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            InputError::line(file, line, None, e.to_string())
        })?;
        let row = record.position().map_or(0, csv::Position::line);
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_owned()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        rows.push((row, cells));
    }
    Ok(Export {
        sheet: None,
        headers,
        rows,
    })
}

fn read_xlsx(file: &str, bytes: &[u8], sheet: Option<&str>) -> Result<Export, InputError> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec()))
        .map_err(|e| InputError::file(file, format!("is not an XLSX workbook: {e}")))?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(wanted) => names
            .iter()
            .find(|n| n.as_str() == wanted)
            .cloned()
            .ok_or_else(|| {
                InputError::file(
                    file,
                    format!("has no sheet {wanted}; its sheets: {}", names.join(", ")),
                )
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| InputError::file(file, "has no sheet"))?,
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| InputError::file(file, format!("sheet {name}: {e}")))?;
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let mut lines = range.rows().enumerate();
    let lead = first_column as usize;
    // Cells left of the used range are empty: keep the columns where the program shows them.
    let pad = |cells: &[Data]| -> Vec<String> {
        std::iter::repeat_n(String::new(), lead)
            .chain(cells.iter().map(cell_text))
            .collect()
    };
    let Some((_, header)) = lines.next() else {
        return Err(InputError::file(file, format!("sheet {name} is empty")));
    };
    let headers: Vec<String> = pad(header)
        .into_iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (i, cells) in lines {
        let cells = pad(cells);
        if cells.iter().all(String::is_empty) {
            continue;
        }
        rows.push((u64::from(first_row) + i as u64 + 1, cells));
    }
    Ok(Export {
        sheet: Some(name),
        headers,
        rows,
    })
}

/// A cell as text: whole numbers without a decimal point (ticket numbers stored as numbers),
/// dates and times as `YYYY-MM-DD HH:MM:SS`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) if d.is_datetime() => excel_serial(d.as_f64()),
        Data::DateTimeIso(s) => s.replace('T', " "),
        other => other.to_string(),
    }
}

/// An Excel serial date (days since 1899-12-30 in the 1900 date system) as civil time.
fn excel_serial(serial: f64) -> String {
    let epoch = jiff::civil::date(1899, 12, 30).at(0, 0, 0, 0);
    let seconds = (serial * 86_400.0).round() as i64;
    match epoch.checked_add(jiff::SignedDuration::from_secs(seconds)) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => serial.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_as_spreadsheets_do() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn excel_serials_are_civil_times() {
        assert_eq!(excel_serial(45_992.5), "2025-12-01 12:00:00");
        assert_eq!(excel_serial(1.0), "1899-12-31 00:00:00");
    }

    #[test]
    fn csv_rows_are_numbered_by_line_and_blank_rows_skipped() {
        let text = "\u{feff}工单编号,诉求内容\n12345001,路灯不亮\n,\n12345002,\"井盖\n缺失\"\n12345003,噪音\n";
        let e = Export::read("x.csv", text.as_bytes(), None).expect("reads");
        assert_eq!(e.headers, ["工单编号", "诉求内容"]);
        let numbers: Vec<u64> = e.rows.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [2, 4, 6]);
        assert_eq!(e.rows[1].1[1], "井盖\n缺失");
        assert!(Export::read("x.csv", &[0xff, 0xfe, 0x00], None).is_err());
    }

    #[test]
    fn workbooks_are_read_with_their_numbers_and_dates() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("工单").expect("name");
        sheet.write_string(0, 0, "工单编号").expect("w");
        sheet.write_string(0, 1, "来电时间").expect("w");
        sheet.write_number(1, 0, 2_026_120_700_001.0).expect("w");
        let format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        sheet
            .write_number_with_format(1, 1, 45_992.5, &format)
            .expect("w");
        sheet.write_string(3, 0, "2026120700002").expect("w");
        let bytes = book.save_to_buffer().expect("saves");
        let e = Export::read("export.XLSX", &bytes, None).expect("reads");
        assert_eq!(e.sheet.as_deref(), Some("工单"));
        assert_eq!(
            e.rows,
            vec![
                (
                    2,
                    vec!["2026120700001".to_owned(), "2025-12-01 12:00:00".to_owned()]
                ),
                (4, vec!["2026120700002".to_owned(), String::new()]),
            ]
        );
        let missing = Export::read("export.xlsx", &bytes, Some("Sheet9")).expect_err("no sheet");
        assert!(missing.message.contains("工单"), "{missing}");
        assert!(Export::read("export.xlsx", b"not a zip", None).is_err());
    }
}
