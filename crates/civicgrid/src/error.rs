//! The one error type of the application layer, and where bad input is located.

use std::fmt;

use civicgrid_store::StoreError;

/// Where in an input a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole.
    File,
    /// A 1-based line (CSV rows count their header as line 1), with a column when known.
    Line { line: u64, column: Option<u64> },
    /// A GeoJSON feature: 0-based index in the collection and its code or id when it has one.
    Feature { index: usize, label: Option<String> },
    /// A row of a spreadsheet or CSV export as its program numbers it (the header is row 1),
    /// with the column (its letter and heading) when known. A workbook's sheet is named with
    /// the file.
    Row { row: u64, column: Option<String> },
}

/// A problem with an input file, named precisely enough to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub location: Location,
    pub field: Option<String>,
    pub message: String,
}

impl InputError {
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        InputError {
            file: file.to_owned(),
            location: Location::File,
            field: None,
            message: message.into(),
        }
    }

    pub fn line(file: &str, line: u64, field: Option<&str>, message: impl Into<String>) -> Self {
        InputError {
            file: file.to_owned(),
            location: Location::Line { line, column: None },
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        match &self.location {
            Location::File => {}
            Location::Line { line, column: None } => write!(f, ": line {line}")?,
            Location::Line {
                line,
                column: Some(c),
            } => write!(f, ": line {line}, column {c}")?,
            Location::Feature { index, label: None } => write!(f, ": feature {index}")?,
            Location::Feature {
                index,
                label: Some(l),
            } => write!(f, ": feature {index} ({l})")?,
            Location::Row { row, column } => {
                write!(f, ": row {row}")?;
                if let Some(c) = column {
                    write!(f, ", column {c}")?;
                }
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// One or more problems in an input; nothing was changed.
    #[error("{}", render_input_errors(.0))]
    Input(Vec<InputError>),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    Conflict(String),
    /// A request that is well-formed but not acceptable (an unknown parent region, say).
    #[error("{0}")]
    Invalid(String),
    /// Fields of a request that cannot be accepted, each (field, problem).
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Unprocessable(Vec<(String, String)>),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many attempts from this caller lately (see `services/limits.rs`).
    #[error("too many requests; try again in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// The thing acted on changed since the caller read it.
    #[error("the case changed since you read it: it is now at version {current}")]
    Stale { current: u64 },
    /// The loop does not allow this now.
    #[error("{message}")]
    NotAllowed {
        message: String,
        status: civicgrid_domain::case::Status,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// Another system this request needed (an SMS provider) failed it.
    #[error("{0}")]
    Upstream(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<InputError> for AppError {
    fn from(e: InputError) -> Self {
        AppError::Input(vec![e])
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Invalid(m) => AppError::Invalid(m),
            StoreError::Stale { current } => AppError::Stale { current },
            StoreError::NotFound(m) => AppError::NotFound(m),
            other => AppError::Store(other),
        }
    }
}

fn render_input_errors(errors: &[InputError]) -> String {
    let mut out = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&e.to_string());
    }
    if errors.len() > 1 {
        out.push_str(&format!("\n{} problems; nothing was changed", errors.len()));
    } else {
        out.push_str("\nnothing was changed");
    }
    out
}

pub type AppResult<T> = Result<T, AppError>;
