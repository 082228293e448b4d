//! Category suggestion (分类建议): the model that reads a message and proposes its category,
//! trained from labelled files (and unlabelled text and the category tree) or from the
//! deployment's own cases. The learning itself is pure (`civicgrid_domain::text`); this
//! capability reads and writes the files and answers `civicgrid classify …`.

pub mod cli;
pub mod files;
