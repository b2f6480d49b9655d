//! The stream format: versioned JSON lines that carry a run's segments and per-step predictions,
//! so that segscope can watch any trainer (its own headless runs, or PyTorch through the Python
//! writer in `python/`). See the README's "Stream format" section.
//!
//! - [`record`]: the three kinds of line (header, segment, step) and how a line is told apart.
//! - [`writer`]: segscope's own writer (`--headless --stream FILE`).
//! - [`state`]: what a reader builds from the lines: the dataset, the partition, the steps.
//! - [`follow`]: reading a growing file: partial lines, truncation, replacement, waiting for it.

pub mod follow;
pub mod record;
pub mod state;
pub mod writer;

pub use record::{FORMAT, Header, Line, SegmentRecord, StepRecord, VERSION};
pub use state::StreamState;
pub use writer::Writer;
