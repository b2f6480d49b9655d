//! Data: the dataset's types, reading it in any supported format, partitions, the default-data
//! generator, and featurising.
//!
//! - [`model`]: `Dataset`, `Document`, `Segment`, `Split`.
//! - [`formats`]: one importer per input format, sniffing, and the reader's errors.
//! - [`builder`]: placing records into documents (unique ids, provenance, `meta` labels).
//! - [`strict`]: one line of JSON, duplicate keys and column numbers named.
//! - [`lines`]: numbered lines and the two-thread split every line-based reader uses.
//! - [`partition`]: which documents train and which evaluate.
//! - [`edits`]: what-if edits (exclude, re-weight, re-target a training segment).
//! - [`features`], [`hash`], [`generate`]: featurising, the stable hash, the seeded generator.

pub mod builder;
pub mod edits;
pub mod features;
pub mod formats;
pub mod generate;
pub mod hash;
pub mod label_kind;
pub mod lines;
pub mod model;
pub mod partition;
pub mod strict;

use std::path::Path;

pub use features::{FeatureSpec, Features};
pub use formats::{DataError, ReadOptions, Skipped, parse_str, read_file};
pub use model::{Dataset, Document, Segment, Split};
pub use partition::Partition;

/// The default dataset, compiled into the binary so segscope runs from any directory.
pub const BUNDLED_JSONL: &str = include_str!("../../assets/segments.jsonl");

/// Name used for the bundled dataset in messages and reports.
pub const BUNDLED_NAME: &str = "bundled:assets/segments.jsonl";

/// Loads `path`, or the bundled dataset when `path` is `None`.
pub fn load(path: Option<&Path>, opts: &ReadOptions) -> Result<(Dataset, Vec<Skipped>), DataError> {
    match path {
        Some(p) => read_file(p, opts),
        None => parse_str(BUNDLED_JSONL, BUNDLED_NAME, opts),
    }
}
