//! The files of `civicgrid classify`: columns are found by their header names, others are
//! ignored; every bad row is named by file, line and field.

use std::io::Write;

use civicgrid_domain::text::classifier::{CategoryModel, Labelled, message_text};

use crate::error::{AppError, AppResult, InputError};
use crate::interchange::csv_table::{self, field_error};

/// Labelled messages: `subject`, `detail`, `category`.
pub fn labelled(file: &str, text: &str) -> AppResult<Vec<Labelled>> {
    csv_table::read(file, text, &["subject", "detail", "category"], |row| {
        let category = row.get("category")?.to_string();
        let subject = row.opt("subject").unwrap_or_default();
        let detail = row.opt("detail").unwrap_or_default();
        if subject.is_empty() && detail.is_empty() {
            return Err(field_error(
                "detail",
                "the subject and the detail are both empty",
            ));
        }
        Ok(Labelled {
            text: message_text(subject, detail),
            category,
        })
    })
    .map_err(AppError::Input)
}

/// Unlabelled messages: `subject`, `detail`; rows with neither are skipped.
pub fn unlabelled(file: &str, text: &str) -> AppResult<Vec<String>> {
    let rows = csv_table::read(file, text, &["subject", "detail"], |row| {
        Ok(message_text(
            row.opt("subject").unwrap_or_default(),
            row.opt("detail").unwrap_or_default(),
        ))
    })
    .map_err(AppError::Input)?;
    Ok(rows.into_iter().filter(|t| !t.trim().is_empty()).collect())
}

/// The category tree: `level1`, `level2`, `level3` (the deeper levels may be empty).
pub fn taxonomy(file: &str, text: &str) -> AppResult<Vec<Vec<String>>> {
    csv_table::read(file, text, &["level1", "level2", "level3"], |row| {
        let mut path = vec![row.get("level1")?.to_string()];
        path.extend(
            ["level2", "level3"]
                .iter()
                .filter_map(|f| row.opt(f))
                .map(str::to_string),
        );
        Ok(path)
    })
    .map_err(AppError::Input)
}

/// A message to classify: `id`, `subject`, `detail`.
pub struct Message {
    pub id: String,
    pub text: String,
}

pub fn messages(file: &str, text: &str) -> AppResult<Vec<Message>> {
    csv_table::read(file, text, &["id", "subject", "detail"], |row| {
        Ok(Message {
            id: row.get("id")?.to_string(),
            text: message_text(
                row.opt("subject").unwrap_or_default(),
                row.opt("detail").unwrap_or_default(),
            ),
        })
    })
    .map_err(AppError::Input)
}

/// Reads a model file written by `classify train`.
pub fn read_model(file: &str, text: &str) -> AppResult<CategoryModel> {
    serde_json::from_str(text).map_err(|e| {
        InputError::line(
            file,
            e.line() as u64,
            None,
            format!("not a civicgrid category model: {e}"),
        )
        .into()
    })
}

/// Writes a model durably: to a temporary file beside `path`, synced, then renamed.
pub fn write_model(path: &std::path::Path, model: &CategoryModel) -> AppResult<()> {
    let name = path.display().to_string();
    let io = |source| AppError::Io {
        path: name.clone(),
        source,
    };
    let json = serde_json::to_vec(model).map_err(|e| AppError::Invalid(e.to_string()))?;
    let partial = path.with_extension("partial");
    let mut f = std::fs::File::create(&partial).map_err(io)?;
    f.write_all(&json).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}

/// `id,category,confidence` rows.
pub fn predictions_csv(rows: &[(String, String, f32)]) -> AppResult<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| AppError::Invalid(e.to_string());
    w.write_record(["id", "category", "confidence"])
        .map_err(bad)?;
    for (id, category, confidence) in rows {
        w.write_record([id.as_str(), category.as_str(), &format!("{confidence:.4}")])
            .map_err(bad)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| AppError::Invalid(e.to_string()))
}
