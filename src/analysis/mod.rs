//! From a step report to what every output shows: robust z-scores, outliers and their counts, the
//! largest loss shares, the batch, the top segments by share, and convergence; and
//! [`datamap`], the regression data map over a window of steps.
//!
//! The dashboard, the per-segment export and headless lines all read these, so the screen, the
//! CSV and the JSON lines say the same thing about the same report.

pub mod datamap;

use crate::data::{Partition, Split};
use crate::engine::metrics::robust_sigma;
use crate::engine::{SegmentEval, StepReport};

/// Each segment's robust z-score within its split and class: residual / (1.4826 x MAD of the
/// group's residuals). The residual is measured from zero, not from its median, because the
/// target is an absolute score: a shared bias is an error too. 0 in a group of fewer than
/// [`MIN_GROUP`] rows.
///
/// `classes` is each segment's class ([`crate::labels::classes`]): with binary labels the
/// residuals of a reasonable model are bimodal, one mode per class, and one z over both would
/// flag the minority class; within a class it flags what is unusual for that class. A class's
/// residuals share an offset by nature (a probability is never exactly 0 or 1), so there they are
/// measured from the group's median, over a spread of at least `CLASS_SIGMA_FLOOR`: early in
/// training, when every prediction is alike, a tiny spread would make every row an outlier.
/// Empty: one group per split.
pub fn robust_z(segments: &[SegmentEval], part: &Partition, classes: &[u8]) -> Vec<f32> {
    let mut z = vec![0f32; segments.len()];
    let class = |i: usize| classes.get(i).copied().unwrap_or(0);
    let groups: Vec<u8> = {
        let mut g: Vec<u8> = classes.to_vec();
        g.sort_unstable();
        g.dedup();
        if g.is_empty() { vec![0] } else { g }
    };
    for (split, c) in [Split::Train, Split::Dev]
        .into_iter()
        .flat_map(|s| groups.iter().map(move |&c| (s, c)))
    {
        let rows: Vec<usize> = part
            .indices(split)
            .into_iter()
            .filter(|&i| class(i) == c)
            .collect();
        let r: Vec<f64> = rows
            .iter()
            .map(|&i| f64::from(segments[i].residual))
            .collect();
        // Too few to say what is usual: nobody is an outlier among three.
        if r.len() < MIN_GROUP {
            continue;
        }
        let (centre, sigma) = if classes.is_empty() {
            (0.0, robust_sigma(&r).max(CLASS_SIGMA_FLOOR))
        } else {
            (
                crate::engine::metrics::median(&r),
                robust_sigma(&r).max(CLASS_SIGMA_FLOOR),
            )
        };
        if sigma > 0.0 && sigma.is_finite() {
            for (&i, &ri) in rows.iter().zip(&r) {
                z[i] = ((ri - centre) / sigma) as f32;
            }
        }
    }
    z
}

/// The least robust spread of a group's residuals, in target units (see [`robust_z`]): residuals
/// all alike (a shared bias of 0.25, spread 0.0001) would otherwise make every row an outlier.
pub const CLASS_SIGMA_FLOOR: f64 = 0.05;

/// The fewest rows in a split and class for any of them to be called an outlier.
pub const MIN_GROUP: usize = 5;

/// The outlier rule: |z| above `k` robust standard deviations.
pub fn is_outlier(z: f32, k: f64) -> bool {
    f64::from(z.abs()) > k
}

/// Global indices of the `k` training segments with the largest loss share, largest first.
pub fn top_by_share(report: &StepReport, part: &Partition, k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = part.indices(Split::Train);
    let segs = &report.segments;
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    // Partial selection, then sort only the k winners.
    idx.select_nth_unstable_by(k - 1, |&a, &b| segs[b].share.total_cmp(&segs[a].share));
    idx.truncate(k);
    idx.sort_by(|&a, &b| segs[b].share.total_cmp(&segs[a].share).then(a.cmp(&b)));
    idx
}

/// Per-segment flags and per-split summaries of one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Robust z-score of each segment's residual within its split.
    pub z: Vec<f32>,
    pub outlier: Vec<bool>,
    /// Outliers in (train, dev).
    pub n_outliers: (usize, usize),
    /// The largest loss share in (train, dev).
    pub max_share: (f32, f32),
    /// Segments in the report's batch.
    pub in_batch: Vec<bool>,
}

impl Analysis {
    /// Nothing known yet about `n` segments.
    pub fn empty(n: usize) -> Analysis {
        Analysis {
            z: vec![0.0; n],
            outlier: vec![false; n],
            n_outliers: (0, 0),
            max_share: (0.0, 0.0),
            in_batch: vec![false; n],
        }
    }

    /// The analysis of `report`, with outliers beyond `outlier_k` robust standard deviations
    /// of their split and class (see [`robust_z`]).
    pub fn of(report: &StepReport, part: &Partition, classes: &[u8], outlier_k: f64) -> Analysis {
        let z = robust_z(&report.segments, part, classes);
        let n = z.len();
        let mut outlier = vec![false; n];
        let mut counts = (0, 0);
        let mut max_share = (0f32, 0f32);
        for (i, &zi) in z.iter().enumerate() {
            let o = is_outlier(zi, outlier_k);
            outlier[i] = o;
            let share = report.segments[i].share;
            match part.split_of(i) {
                Split::Train => {
                    counts.0 += usize::from(o);
                    max_share.0 = max_share.0.max(share);
                }
                Split::Dev => {
                    counts.1 += usize::from(o);
                    max_share.1 = max_share.1.max(share);
                }
            }
        }
        let mut in_batch = vec![false; n];
        for &i in report.batch.iter() {
            if let Some(b) = in_batch.get_mut(i) {
                *b = true;
            }
        }
        Analysis {
            z,
            outlier,
            n_outliers: counts,
            max_share,
            in_batch,
        }
    }
}

/// Whether the monitored loss (dev, or train when there is no dev split) has stopped improving:
/// by more than `min_rel` (relative) for `patience` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    pub patience: u64,
    pub min_rel: f64,
    best: f64,
    since_best: u64,
    /// The last refreshed step seen, and the gap before it (refreshes every k steps with
    /// mini-batches: between them the loss is the last refresh's and says nothing new).
    last_refresh: Option<u64>,
    gap: u64,
}

impl Convergence {
    pub fn new(patience: u64, min_rel: f64) -> Convergence {
        Convergence {
            patience,
            min_rel,
            best: f64::INFINITY,
            since_best: 0,
            last_refresh: None,
            gap: 1,
        }
    }

    /// The loss this tracker watches in `r`, and its split's name.
    pub fn monitored(r: &StepReport) -> (f64, &'static str) {
        if r.dev.n > 0 {
            (r.dev.loss, "dev")
        } else {
            (r.train.loss, "train")
        }
    }

    /// Takes in a new step's report.
    pub fn observe(&mut self, r: &StepReport) {
        let (loss, _) = Self::monitored(r);
        // Only a refreshed step measures the model anew.
        if !loss.is_finite() || r.eval_step != r.step {
            return;
        }
        let steps = match self.last_refresh {
            Some(last) if r.step > last => r.step - last,
            _ => 1,
        };
        self.last_refresh = Some(r.step);
        self.gap = steps;
        if loss < self.best * (1.0 - self.min_rel) {
            self.best = loss;
            self.since_best = 0;
        } else {
            self.since_best += steps;
        }
    }

    /// Steps since the monitored loss last improved enough.
    pub fn since_best(&self) -> u64 {
        self.since_best
    }

    /// The patience has run out: in steps, and at least two refreshes when predictions are
    /// refreshed every k steps.
    pub fn converged(&self) -> bool {
        self.since_best >= self.patience.max(2 * self.gap)
    }

    /// Starts the patience count again (running on past convergence).
    pub fn restart(&mut self) {
        self.since_best = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::data::{ReadOptions, parse_str};
    use crate::engine::SplitMetrics;

    fn fixture() -> (crate::data::Dataset, Partition) {
        let text = "{\"id\": \"a\", \"split\": \"train\", \"segments\": [{\"text\": \"w\", \"score\": 0}, {\"text\": \"x\", \"score\": 0}, {\"text\": \"y\", \"score\": 0}, {\"text\": \"z\", \"score\": 0}, {\"text\": \"v\", \"score\": 0}]}\n{\"id\": \"b\", \"split\": \"dev\", \"segments\": [{\"text\": \"u\", \"score\": 0}]}";
        let (ds, _) = parse_str(text, "t", &ReadOptions::default()).unwrap();
        let part = Partition::new(&ds, 0.0);
        (ds, part)
    }

    fn report(residuals: &[f32], shares: &[f32], dev_loss: f64) -> StepReport {
        let segments = residuals
            .iter()
            .zip(shares)
            .map(|(&r, &s)| SegmentEval {
                pred: -r,
                residual: r,
                loss: r * r,
                share: s,
            })
            .collect();
        let m = |loss| {
            SplitMetrics {
            n: 1,
            loss,
            ..serde_json::from_str("{\"n\":0,\"loss\":0,\"mse\":0,\"rmse\":0,\"mae\":0,\"r2\":0,\"bias\":0,\"calib_slope\":0,\"calib_intercept\":0,\"pearson\":0,\"spearman\":0,\"kendall_tau_b\":0,\"pairwise_acc\":0,\"top1pct_share\":0}").unwrap()
        }
        };
        StepReport {
            step: 1,
            batch: Arc::new(vec![0, 2]),
            batch_loss: 0.0,
            trainer_loss: None,
            eval_step: 1,
            segments: Arc::new(segments),
            pred_steps: Arc::default(),
            grad: Arc::default(),
            train: m(1.0),
            dev: m(dev_loss),
            grad_norm: 0.0,
            lr: 0.1,
            weight_change: 0.0,
            weight_change_rel: 0.0,
            layers: Vec::new(),
            step_ms: 0.0,
            eval_ms: 0.0,
            diverged: None,
            models: Vec::new(),
        }
    }

    #[test]
    fn robust_z_is_the_residual_over_the_splits_scaled_mad() {
        let (_, part) = fixture();
        // Train residuals 1, 2, 3, 4, 100: median 3, absolute deviations 2, 1, 0, 1, 97, MAD 1.
        let r = report(&[1.0, 2.0, 3.0, 4.0, 100.0, 5.0], &[0.0; 6], 1.0);
        let z = robust_z(&r.segments, &part, &[]);
        let sigma = 1.4826f32;
        assert!((z[4] - 100.0 / sigma).abs() < 1e-3, "{}", z[4]);
        assert!((z[0] - 1.0 / sigma).abs() < 1e-5);
        // A split of one segment has MAD 0: no z.
        assert_eq!(z[5], 0.0);
        let a = Analysis::of(&r, &part, &[], 3.0);
        // |z| = 0.67, 1.35, 2.02, 2.70, 67.4: only the last is beyond 3.
        assert_eq!(a.outlier, vec![false, false, false, false, true, false]);
        assert_eq!(a.n_outliers, (1, 0));
        assert_eq!(a.in_batch, vec![true, false, true, false, false, false]);
    }

    #[test]
    fn with_binary_classes_the_minority_class_is_not_an_outlier() {
        let (_, part) = fixture();
        // Train rows 0-4: three of class 1 with small residuals, two of class 0 with large
        // negative ones (a model that predicts the majority). Over all five, MAD flags both
        // class-0 rows; within each class nothing stands out.
        let r = report(&[0.1, 0.12, 0.11, -0.9, -0.92, 0.0], &[0.0; 6], 1.0);
        let z_all = robust_z(&r.segments, &part, &[]);
        assert!(z_all[3].abs() > 3.0 && z_all[4].abs() > 3.0, "{z_all:?}");
        let classes = [1, 1, 1, 0, 0, 1];
        let a = Analysis::of(&r, &part, &classes, 3.0);
        assert_eq!(a.n_outliers, (0, 0), "{:?}", a.z);
    }

    #[test]
    fn top_by_share_takes_the_largest_training_shares_in_order() {
        let (_, part) = fixture();
        let r = report(&[0.0; 6], &[0.1, 0.4, 0.05, 0.4, 0.05, 0.9], 1.0);
        // The dev segment's 0.9 is not a training share; ties go to the lower index.
        assert_eq!(top_by_share(&r, &part, 3), vec![1, 3, 0]);
        assert_eq!(Analysis::of(&r, &part, &[], 3.0).max_share, (0.4, 0.9));
    }

    #[test]
    fn convergence_counts_steps_without_enough_improvement() {
        let mut c = Convergence::new(2, 0.1);
        for (loss, since) in [(1.0, 0), (0.95, 1), (0.5, 0), (0.49, 1), (0.48, 2)] {
            c.observe(&report(&[0.0; 6], &[0.0; 6], loss));
            assert_eq!(c.since_best(), since, "at {loss}");
        }
        assert!(c.converged());
        c.restart();
        assert!(!c.converged());
    }

    #[test]
    fn convergence_waits_for_two_refreshes_when_predictions_are_refreshed_every_k_steps() {
        // Refreshes every 10 steps, patience 5: the stale steps in between say nothing, and one
        // refresh without improvement is not enough.
        let mut c = Convergence::new(5, 0.1);
        let mut converged_at = None;
        for step in 1..=40u64 {
            let refreshed = step.div_ceil(10) * 10 - 10 + u64::from(step % 10 == 0) * 10;
            let mut r = report(
                &[0.0; 6],
                &[0.0; 6],
                if step <= 10 { 1.0 / step as f64 } else { 0.1 },
            );
            r.step = step;
            r.eval_step = refreshed.min(step);
            c.observe(&r);
            if c.converged() && converged_at.is_none() {
                converged_at = Some(step);
            }
        }
        assert_eq!(
            converged_at,
            Some(30),
            "two refreshes (20, 30) without improvement"
        );
    }
}
