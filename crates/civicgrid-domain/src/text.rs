//! Text intelligence over case text: the terms a text is cut into and the category
//! suggestion model (train, suggest with reasons, evaluate). Pure: files, the database and
//! the job that retrains live in the app's `suggestion` capability.

pub mod classifier;
pub mod hotspots;
pub mod search;
pub mod similar;
pub mod terms;

#[cfg(test)]
mod tests;
