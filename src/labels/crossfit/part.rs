//! Folds as cluster jobs: one fold's out-of-fold predictions in a part file
//! (`crossfit --fold K/N`), and the parts joined back (`crossfit merge`) into what one process
//! gives, once they are shown to be of the same data, options, seed and judges, every fold once.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Learner, Options};
use crate::data::Dataset;
use crate::data::hash::fnv1a;

/// What a part file says of itself (`format`), and its version.
pub const FORMAT: &str = "segscope.crossfit-part";
pub const VERSION: u32 = 1;

/// Everything that decides a fold's predictions but the fold: two parts join only when these
/// are equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub folds: usize,
    pub repeats: usize,
    pub seed: u64,
    pub learner: String,
    pub max_steps: u64,
    pub patience: u64,
    /// The run's configuration (the data's path made absolute), so `merge` reads the same data
    /// with the same options and needs no flags of its own.
    pub config: serde_json::Value,
    pub lenient: bool,
    /// A fingerprint of the data as read: every segment's id, text and target.
    pub data: String,
    /// The judges' files (absolute) and a fingerprint of their probabilities.
    pub judges: Vec<PathBuf>,
    pub judged: String,
}

/// One fold's predictions: per fold split (repeat), each held-out segment's index and prediction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub format: String,
    pub version: u32,
    pub fold: usize,
    pub job: Job,
    pub predictions: Vec<Vec<(u32, f32)>>,
}

impl Job {
    /// The job of a cross-fit of `ds` with `opts`.
    pub fn of(
        ds: &Dataset,
        opts: &Options,
        config: serde_json::Value,
        lenient: bool,
        judges: Vec<PathBuf>,
    ) -> Job {
        let judged = opts
            .judges
            .iter()
            .flat_map(|j| j.p_correct.iter().map(|p| p.to_bits()))
            .fold(Vec::new(), |mut b, x| {
                b.extend_from_slice(&x.to_le_bytes());
                b
            });
        Job {
            folds: opts.folds,
            repeats: opts.repeats,
            seed: opts.seed,
            learner: match opts.learner {
                Learner::Linear => "linear".into(),
                Learner::Mlp => "mlp".into(),
            },
            max_steps: opts.max_steps,
            patience: opts.patience,
            config,
            lenient,
            data: fingerprint(ds),
            judges,
            judged: format!("{:016x}", fnv1a(&[&judged])),
        }
    }
}

/// A fingerprint of a dataset as read: every segment's id, text and target.
pub fn fingerprint(ds: &Dataset) -> String {
    let mut h = 0u64;
    for i in 0..ds.segments.len() {
        let s = &ds.segments[i];
        let target = s.score.map_or(u32::MAX, f32::to_bits).to_le_bytes();
        h = fnv1a(&[
            &h.to_le_bytes(),
            ds.segment_id(i).as_bytes(),
            s.text.as_bytes(),
            &target,
        ]);
    }
    format!("{h:016x}-{}", ds.segments.len())
}

impl Part {
    /// Fold `fold`'s part of `per_repeat` (one prediction vector per fold split, NaN elsewhere).
    pub fn new(fold: usize, job: Job, per_repeat: &[Vec<f32>]) -> Part {
        Part {
            format: FORMAT.into(),
            version: VERSION,
            fold,
            job,
            predictions: per_repeat
                .iter()
                .map(|p| {
                    p.iter()
                        .enumerate()
                        .filter(|(_, x)| x.is_finite())
                        .map(|(i, &x)| (i as u32, x))
                        .collect()
                })
                .collect(),
        }
    }

    /// Reads a part file, refusing anything that is not one of this version.
    pub fn read(path: &Path) -> Result<Part, PartError> {
        let file = || path.to_path_buf();
        let text = std::fs::read_to_string(path).map_err(|e| PartError::Read {
            file: file(),
            message: e.to_string(),
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| PartError::NotJson {
            file: file(),
            message: e.to_string(),
        })?;
        if v["format"] != FORMAT {
            return Err(PartError::NotAPart(file()));
        }
        if v["version"] != VERSION {
            return Err(PartError::Version {
                file: file(),
                found: v["version"].to_string(),
            });
        }
        serde_json::from_value(v).map_err(|e| PartError::Read {
            file: file(),
            message: e.to_string(),
        })
    }
}

/// Why parts cannot be read or joined; each names the file or the fold.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error("{}: {message}", file.display())]
    Read { file: PathBuf, message: String },
    #[error("{}: not a cross-fit part (JSON): {message}", file.display())]
    NotJson { file: PathBuf, message: String },
    #[error(
        "{}: not a cross-fit part (its `format` is not \"{FORMAT}\"); parts come from `segscope crossfit --fold K/N`",
        .0.display()
    )]
    NotAPart(PathBuf),
    #[error("{}: a part of version {found}, and this build reads version {VERSION}", file.display())]
    Version { file: PathBuf, found: String },
    #[error("no parts to merge")]
    NoParts,
    #[error(
        "{} and {} are parts of different cross-fits ({why}): run every fold with the same data, options and seed",
        first.display(),
        other.display()
    )]
    DifferentJobs {
        first: PathBuf,
        other: PathBuf,
        why: &'static str,
    },
    #[error("{}: fold {fold} of {folds}", file.display())]
    FoldOutOfRange {
        file: PathBuf,
        fold: usize,
        folds: usize,
    },
    #[error("fold {fold} is given twice: {} and {}", first.display(), second.display())]
    FoldTwice {
        fold: usize,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "fold{} {} of {folds} missing: merge needs every fold's part",
        if missing.len() == 1 { "" } else { "s" },
        missing.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
    )]
    Missing { missing: Vec<usize>, folds: usize },
    #[error("{}: more fold splits than its job", .0.display())]
    TooManySplits(PathBuf),
    #[error("{}: segment {segment} is beyond the data's {n}", file.display())]
    SegmentBeyond {
        file: PathBuf,
        segment: u64,
        n: usize,
    },
}

/// Joins parts into one prediction vector per fold split over `n` segments, or says why they do
/// not join: a different job, a fold missing or given twice, a prediction out of range.
pub fn join(parts: &[(PathBuf, Part)], n: usize) -> Result<Vec<Vec<f32>>, PartError> {
    let Some((first_path, first)) = parts.first() else {
        return Err(PartError::NoParts);
    };
    let job = &first.job;
    let mut seen: Vec<Option<&Path>> = vec![None; job.folds];
    for (path, p) in parts {
        if p.job != *job {
            return Err(PartError::DifferentJobs {
                first: first_path.clone(),
                other: path.clone(),
                why: differs(job, &p.job),
            });
        }
        let Some(slot) = seen.get_mut(p.fold) else {
            return Err(PartError::FoldOutOfRange {
                file: path.clone(),
                fold: p.fold,
                folds: job.folds,
            });
        };
        if let Some(other) = slot {
            return Err(PartError::FoldTwice {
                fold: p.fold,
                first: other.to_path_buf(),
                second: path.clone(),
            });
        }
        *slot = Some(path);
    }
    let missing: Vec<usize> = (0..job.folds).filter(|&f| seen[f].is_none()).collect();
    if !missing.is_empty() {
        return Err(PartError::Missing {
            missing,
            folds: job.folds,
        });
    }
    let mut out = vec![vec![f32::NAN; n]; job.repeats.max(1)];
    for (path, p) in parts {
        for (r, preds) in p.predictions.iter().enumerate() {
            let Some(row) = out.get_mut(r) else {
                return Err(PartError::TooManySplits(path.clone()));
            };
            for &(i, x) in preds {
                let Some(slot) = row.get_mut(i as usize) else {
                    return Err(PartError::SegmentBeyond {
                        file: path.clone(),
                        segment: u64::from(i),
                        n,
                    });
                };
                *slot = x;
            }
        }
    }
    Ok(out)
}

/// The first field two jobs differ in, named for the message.
fn differs(a: &Job, b: &Job) -> &'static str {
    if a.data != b.data {
        "different data"
    } else if a.seed != b.seed {
        "different seeds"
    } else if a.folds != b.folds {
        "different numbers of folds"
    } else if a.judged != b.judged || a.judges != b.judges {
        "different judges"
    } else {
        "different options"
    }
}
