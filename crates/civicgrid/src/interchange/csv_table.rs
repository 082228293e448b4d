//! Reading and writing CSV tables with errors that name the file, line and column.

use std::collections::BTreeMap;

use crate::error::InputError;

/// One data row, with its line number, looked up by column name.
pub struct Row<'a> {
    pub line: u64,
    values: BTreeMap<&'a str, &'a str>,
}

/// A problem with one field of a row.
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl Row<'_> {
    /// A required, non-empty field.
    pub fn get(&self, field: &str) -> Result<&str, FieldError> {
        match self.values.get(field).map(|v| v.trim()) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(FieldError {
                field: field.to_owned(),
                message: "is required".into(),
            }),
        }
    }

    /// An optional field; empty counts as absent.
    pub fn opt(&self, field: &str) -> Option<&str> {
        self.values
            .get(field)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A required field parsed with `FromStr`.
    pub fn parse<T: std::str::FromStr>(&self, field: &str) -> Result<T, FieldError>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.get(field)?;
        v.parse().map_err(|e: T::Err| {
            let e = e.to_string();
            FieldError {
                field: field.to_owned(),
                // Most parse errors quote the value already.
                message: if e.contains(v) {
                    e
                } else {
                    format!("`{v}`: {e}")
                },
            }
        })
    }
}

pub fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Reads `text` as CSV with a header naming at least `required` columns, mapping each row with
/// `f`. Every bad row is reported; the result is all rows or all errors.
pub fn read<T>(
    file: &str,
    text: &str,
    required: &[&str],
    mut f: impl FnMut(&Row<'_>) -> Result<T, FieldError>,
) -> Result<Vec<T>, Vec<InputError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text); // Excel writes a BOM
    if text.trim().is_empty() {
        return Err(vec![InputError::file(file, "the file is empty")]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(vec![InputError::line(
                file,
                1,
                None,
                format!("bad header: {e}"),
            )]);
        }
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h.trim() == *c))
        .collect();
    if !missing.is_empty() {
        return Err(vec![InputError::line(
            file,
            1,
            None,
            format!("missing column(s): {}", missing.join(", ")),
        )]);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(InputError::line(
                    file,
                    line,
                    None,
                    format!("malformed row: {e}"),
                ));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let values = headers
            .iter()
            .map(str::trim)
            .zip(record.iter())
            .collect::<BTreeMap<_, _>>();
        match f(&Row { line, values }) {
            Ok(v) => out.push(v),
            Err(e) => errors.push(InputError::line(file, line, Some(&e.field), e.message)),
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(InputError::file(file, "the file has a header but no rows"));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Writes a header and rows as CSV text.
pub fn write(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail; an error would only come from a bug in csv itself.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(&r);
    }
    w.into_inner()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
