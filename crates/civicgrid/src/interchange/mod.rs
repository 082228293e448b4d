//! Reading and writing the files an administrator exchanges with civicgrid: GeoJSON grids,
//! CSV tables and TOML configuration. Pure text in, domain values out; every problem is an
//! [`InputError`] naming the file, the line or feature, and the field.

pub mod catalogue;
pub mod config;
pub mod csv_table;
pub mod geojson;
pub mod tables;

use crate::error::{InputError, Location};

/// Turns a TOML parse error into an input error at its line and column.
pub fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> InputError {
    let location = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() as u64 + 1;
            let column = before
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count() as u64 + 1);
            Location::Line { line, column }
        }
        None => Location::File,
    };
    InputError {
        file: file.to_owned(),
        location,
        field: None,
        message: e.message().to_owned(),
    }
}
