//! Data: reading and validating datasets, the default-data generator, and featurising.

pub mod dataset;
pub mod features;
pub mod generate;
pub mod hash;

use std::path::Path;

pub use dataset::{DataError, Dataset, Document, ReadOptions, Segment, Skipped, Split};
pub use features::{FeatureSpec, Features};

/// The default dataset, compiled into the binary so segscope runs from any directory.
pub const BUNDLED_JSONL: &str = include_str!("../../assets/segments.jsonl");

/// Name used for the bundled dataset in messages and reports.
pub const BUNDLED_NAME: &str = "bundled:assets/segments.jsonl";

/// Loads `path`, or the bundled dataset when `path` is `None`.
pub fn load(path: Option<&Path>, opts: &ReadOptions) -> Result<(Dataset, Vec<Skipped>), DataError> {
    match path {
        Some(p) => dataset::read_file(p, opts),
        None => dataset::parse_str(BUNDLED_JSONL, BUNDLED_NAME, opts),
    }
}
