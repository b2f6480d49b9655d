//! The label-issue score: how likely each labelled segment's label is wrong, read from
//! predictions the model made without seeing it, according to the kind of label.
//!
//! - binary: the predictions as probabilities of the given label (confident learning's
//!   self-confidence); flags per class, where the probability of the other class reaches that
//!   class's own average (cleanlab's per-class thresholds);
//! - first-error data: the document as a whole. Each step's probability of being right (context
//!   steps included) gives a prior over where the first error is; the annotator either placed
//!   it right, or a step or two away (`FIRST_ERROR_SHIFT`), or missed it (`FIRST_ERROR_MISS`),
//!   or invented one in a right solution (`FIRST_ERROR_INVENT`), and each label may also
//!   disagree on its own (`FIRST_ERROR_NOISE`). A label's score is the posterior probability that it
//!   disagrees with the true position; the flags are the labels whose posteriors give the
//!   highest expected F1;
//! - ordinal, bounded and continuous: the residual over the spread of residuals among segments
//!   with similar predictions (a robust z per prediction decile), flagged past `outlier_k`.

use serde::Serialize;

use super::kind::LabelKind;
use crate::data::Dataset;
use crate::engine::metrics::{median, robust_sigma};

/// How often a first-error label is assumed to disagree with the truth on its own, per step, in
/// the document posterior (a flip; a misplaced first error is `FIRST_ERROR_SHIFT`'s). Chosen on
/// planted ProcessBench noise, seeds 0-4 (BENCHMARKS.md): with the shift at 0.1, noise 0.1, 0.05,
/// 0.02, 0.01 and 0.005 ranked moved first errors at AP 0.197, 0.210, 0.228, 0.232, 0.232 and
/// flips at 0.959, 0.956, 0.948, 0.937, 0.928; 0.02 gave the moved errors' flags F1 0.259.
/// Without the shift (before), 0.1 was the default, chosen before measuring.
pub const FIRST_ERROR_NOISE: f64 = 0.02;

/// How often an annotator of first-error data puts the first error at a nearby step instead of
/// the right one (a document-level mistake). On planted ProcessBench noise (BENCHMARKS.md, seeds
/// 0-4, per-step noise 0.1) it raised the AP of moved first errors from 0.162 to 0.197 and cost
/// flips 0.006 (0.965 to 0.959); 0.05 to 0.4 all ranked moved errors better than none. With
/// per-step noise 0.02, shifts of 0.05, 0.1 and 0.2 gave 0.221, 0.228 and 0.223.
pub const FIRST_ERROR_SHIFT: f64 = 0.1;

/// How far, in steps, a misplaced first error lands from the true one.
pub const SHIFT_REACH: usize = 2;

/// How often an annotator misses the error of a wrong solution and labels every step right.
/// With `FIRST_ERROR_INVENT`, chosen on planted annotator noise in ProcessBench, seeds 0-4
/// (`bench/label_noise.py --only processbench`, verifiers on): miss and invent 0 / 0.03 / 0.05 /
/// 0.1 ranked annotator noise at AP 0.251 / 0.317 / 0.334 / 0.339, moved first errors at 0.260 /
/// 0.250 / 0.234 / 0.195 and flips at 0.955 / 0.960 / 0.960 / 0.951; miss 0.05 with invent 0.1,
/// and 0.1 with 0.05, gave 0.331 and 0.330 on annotator noise, less on the others.
pub const FIRST_ERROR_MISS: f64 = 0.05;

/// How often an annotator invents a first error in a correct solution (at any step).
pub const FIRST_ERROR_INVENT: f64 = 0.05;

/// How an annotator of first-error data errs, in the document posterior.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Annotator {
    /// Per step, a label that disagrees on its own.
    pub noise: f64,
    /// The first error put up to `SHIFT_REACH` steps away.
    pub shift: f64,
    /// A wrong solution labelled all right.
    pub miss: f64,
    /// A first error labelled in a right solution.
    pub invent: f64,
}

impl Annotator {
    /// segscope's model of annotators.
    pub fn default_model() -> Annotator {
        Annotator {
            noise: FIRST_ERROR_NOISE,
            shift: FIRST_ERROR_SHIFT,
            miss: FIRST_ERROR_MISS,
            invent: FIRST_ERROR_INVENT,
        }
    }

    /// Per-step noise and shifted first errors only.
    pub fn steps(noise: f64, shift: f64) -> Annotator {
        Annotator {
            noise,
            shift,
            miss: 0.0,
            invent: 0.0,
        }
    }
}

/// One labelled segment's score and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelScore {
    /// Higher = more likely wrong; comparable within a dataset. NaN for context segments.
    pub score: f32,
    /// The model's part: 1 - P(given label) for binary, the scaled residual otherwise.
    pub model: f32,
    /// The document's part (first-error data): the posterior probability that the label
    /// disagrees with where the first error is. NaN for other data.
    pub document: f32,
    /// The flag before any audit: the kind's own default rule.
    pub flag: bool,
}

impl LabelScore {
    pub const NONE: LabelScore = LabelScore {
        score: f32::NAN,
        model: f32::NAN,
        document: f32::NAN,
        flag: false,
    };
}

/// The probability of the positive class that a prediction in target units stands for.
pub fn probability(pred: f32, lo: f32, hi: f32) -> f64 {
    (f64::from(pred - lo) / f64::from(hi - lo)).clamp(1e-4, 1.0 - 1e-4)
}

/// Scores every segment of `ds` from `pred` (one prediction per segment in target units,
/// context segments included; NaN where there is none).
pub fn score(
    ds: &Dataset,
    kind: &LabelKind,
    first_error: bool,
    pred: &[f32],
    outlier_k: f32,
) -> Vec<LabelScore> {
    match *kind {
        LabelKind::Binary { lo, hi } => {
            let mut out = binary(ds, lo, hi, pred);
            if first_error {
                for doc in &ds.docs {
                    let r = doc.segments.clone();
                    let (labels, p) = document(ds, r.clone(), kind, pred);
                    let wrong = first_error_posterior(&p, &labels, &Annotator::default_model());
                    for (k, w) in wrong.into_iter().enumerate() {
                        let s = &mut out[r.start + k];
                        if let Some(w) = w {
                            s.document = w as f32;
                            s.score = w as f32;
                        }
                    }
                }
                flag_for_expected_f1(&mut out);
            }
            out
        }
        _ => scaled_residuals(ds, pred, outlier_k),
    }
}

/// One document's labels (right, wrong, or none) and each step's probability of being right
/// (0.5 where there is no prediction): what the first-error posterior reads.
fn document(
    ds: &Dataset,
    r: std::ops::Range<usize>,
    kind: &LabelKind,
    pred: &[f32],
) -> (Vec<Option<bool>>, Vec<f64>) {
    let LabelKind::Binary { lo, hi } = *kind else {
        return (Vec::new(), Vec::new());
    };
    let labels = ds.segments[r.clone()]
        .iter()
        .map(|s| s.score.map(|v| kind.is_high(v)))
        .collect();
    let p = pred[r]
        .iter()
        .map(|&x| {
            if x.is_finite() {
                probability(x, lo, hi)
            } else {
                0.5
            }
        })
        .collect();
    (labels, p)
}

/// Self-confidence with per-class thresholds.
fn binary(ds: &Dataset, lo: f32, hi: f32, pred: &[f32]) -> Vec<LabelScore> {
    let kind = LabelKind::Binary { lo, hi };
    // t[c]: the average probability of class c among segments labelled c.
    let mut sum = [0.0f64; 2];
    let mut n = [0usize; 2];
    for (s, &x) in ds.segments.iter().zip(pred) {
        if let (Some(v), true) = (s.score, x.is_finite()) {
            let c = usize::from(kind.is_high(v));
            let p_hi = probability(x, lo, hi);
            sum[c] += if c == 1 { p_hi } else { 1.0 - p_hi };
            n[c] += 1;
        }
    }
    let t = [sum[0] / n[0].max(1) as f64, sum[1] / n[1].max(1) as f64];
    ds.segments
        .iter()
        .zip(pred)
        .map(|(s, &x)| match s.score {
            Some(v) if x.is_finite() => {
                let c = usize::from(kind.is_high(v));
                let p_hi = probability(x, lo, hi);
                let p_other = if c == 1 { 1.0 - p_hi } else { p_hi };
                LabelScore {
                    score: p_other as f32,
                    model: p_other as f32,
                    document: f32::NAN,
                    flag: n[1 - c] > 0 && p_other >= t[1 - c],
                }
            }
            _ => LabelScore::NONE,
        })
        .collect()
}

/// For one first-error document: `p[k]`, the probability that step k is right; `labels[k]`,
/// its label (true = right, false = wrong, None = unlabelled). Returns, per labelled step, the
/// posterior probability that its label disagrees with the true first error position.
///
/// The true position j is one of 0..n (n: no error). Its prior is P(j) = prod_{k<j} p_k (1 - p_j)
/// (with no last factor for j = n). Under j the labels should be: right before j, wrong at j,
/// absent after j; each step that does not match (a wrong label, or one present where it should be
/// absent, or absent where it should be present) costs a factor `noise`, each that matches
/// 1 - noise: L(labels | j). The annotator may also have misplaced the first error: with
/// probability `shift` the labels were written for a position l within `SHIFT_REACH` steps of j
/// (each equally likely; both l and j errors, not "no error"); with probability `miss` (j an
/// error) written for no error; with probability `invent` (j = n) written for an error at any
/// step. So for j < n
/// P(labels | j) = (1 - shift - miss) L(labels | j) + shift mean_l L(labels | l) + miss L(labels | n)
/// and P(labels | n) = (1 - invent) L(labels | n) + invent mean_{l<n} L(labels | l).
/// Each position's count of mismatches comes from prefix sums: O(n SHIFT_REACH).
pub fn first_error_posterior(
    p: &[f64],
    labels: &[Option<bool>],
    annotator: &Annotator,
) -> Vec<Option<f64>> {
    let n = p.len();
    let w = first_error_positions(p, labels, annotator);
    // at_or_before[k] = P(j <= k).
    let mut cum = 0.0;
    let at_or_before: Vec<f64> = w[..n]
        .iter()
        .map(|x| {
            cum += x;
            cum
        })
        .collect();
    (0..n)
        .map(|k| match labels[k] {
            // A "right" label is right only if the first error comes later.
            Some(true) => Some(at_or_before[k]),
            // A "wrong" label is right only if the first error is here.
            Some(false) => Some(1.0 - w[k]),
            None => None,
        })
        .collect()
}

/// The posterior over the true first error's position j = 0..=n (n: no error), normalised; the
/// model of [`first_error_posterior`].
pub fn first_error_positions(p: &[f64], labels: &[Option<bool>], a: &Annotator) -> Vec<f64> {
    let (noise, shift) = (a.noise, a.shift);
    let n = p.len();
    // bad_before[j]: steps k < j that are not labelled right.
    let mut bad_before = vec![0usize; n + 1];
    for k in 0..n {
        bad_before[k + 1] = bad_before[k] + usize::from(labels[k] != Some(true));
    }
    // labelled_after[j]: labelled steps k > j.
    let mut labelled_after = vec![0usize; n + 1];
    for j in (0..n).rev() {
        labelled_after[j] =
            labelled_after[j + 1] + usize::from(j + 1 < n && labels[j + 1].is_some());
    }
    let (ln_ok, ln_bad) = ((1.0 - noise).ln(), noise.ln());
    // lik[l]: ln P(labels | an annotator who placed the first error at l), step noise only.
    let mut lik = vec![0.0f64; n + 1];
    let mut prior = vec![0.0f64; n + 1];
    let mut prefix = 0.0f64; // sum of ln p_k for k < j
    for j in 0..=n {
        let (pr, at_j, after) = if j < n {
            let at = usize::from(labels[j] != Some(false));
            (prefix + (1.0 - p[j]).ln(), at, labelled_after[j])
        } else {
            (prefix, 0, 0)
        };
        let bad = bad_before[j] + at_j + after;
        lik[j] = bad as f64 * ln_bad + (n - bad) as f64 * ln_ok;
        prior[j] = pr;
        if j < n {
            prefix += p[j].ln();
        }
    }
    // Any error position, equally likely: what an invented first error is written for.
    let anywhere = if n > 0 {
        log_sum_exp(&lik[..n]) - (n as f64).ln()
    } else {
        f64::NEG_INFINITY
    };
    let mut logw = vec![0.0f64; n + 1];
    for j in 0..=n {
        // The annotator's ways of writing the labels for a true first error at j: (weight,
        // ln likelihood); the weights of the ways that exist here sum to 1.
        let mut ways: Vec<(f64, f64)> = Vec::with_capacity(3);
        if j < n {
            let near: Vec<f64> = (j.saturating_sub(SHIFT_REACH)..(j + SHIFT_REACH + 1).min(n))
                .filter(|&l| l != j)
                .map(|l| lik[l])
                .collect();
            if shift > 0.0 && !near.is_empty() {
                ways.push((shift, log_sum_exp(&near) - (near.len() as f64).ln()));
            }
            if a.miss > 0.0 {
                ways.push((a.miss, lik[n]));
            }
        } else if a.invent > 0.0 && n > 0 {
            ways.push((a.invent, anywhere));
        }
        let rest = 1.0 - ways.iter().map(|w| w.0).sum::<f64>();
        let terms: Vec<f64> = std::iter::once(rest.ln() + lik[j])
            .chain(ways.iter().map(|(w, l)| w.ln() + l))
            .collect();
        logw[j] = prior[j] + log_sum_exp(&terms);
    }
    let max = logw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = logw.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// Where a first-error document's first error most likely is, under the posterior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Suggestion {
    /// The step's index in its document (`Segment::index`), or None for "no error".
    pub first_error: Option<usize>,
    pub probability: f64,
    /// Where the labels put it (None: no step labelled wrong).
    pub labelled: Option<usize>,
}

impl Suggestion {
    /// Whether the suggestion differs from the labels.
    pub fn differs(&self) -> bool {
        self.first_error != self.labelled
    }
}

/// Per document of first-error data, the most likely first error given `pred` (every segment's
/// prediction in target units); None for documents without labels, or when the labels are not
/// binary.
pub fn suggestions(ds: &Dataset, kind: &LabelKind, pred: &[f32]) -> Vec<Option<Suggestion>> {
    if !matches!(kind, LabelKind::Binary { .. }) {
        return vec![None; ds.docs.len()];
    }
    ds.docs
        .iter()
        .map(|doc| {
            let r = doc.segments.clone();
            let (labels, p) = document(ds, r.clone(), kind, pred);
            if labels.iter().all(Option::is_none) {
                return None;
            }
            let w = first_error_positions(&p, &labels, &Annotator::default_model());
            let (j, &pj) = w
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap_or((r.len(), &1.0));
            let index = |k: usize| ds.segments[r.start + k].index;
            Some(Suggestion {
                first_error: (j < r.len()).then(|| index(j)),
                probability: pj,
                labelled: labels.iter().position(|l| *l == Some(false)).map(index),
            })
        })
        .collect()
}

/// Flags the labels whose posteriors, read as probabilities of being wrong, give the flags the
/// highest expected F1: the top k, for the k that maximises 2 S_k / (k + S), where S_k is the sum
/// of the k highest posteriors and S the sum of all (the expected number of wrong labels).
fn flag_for_expected_f1(out: &mut [LabelScore]) {
    let mut order: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].document.is_finite())
        .collect();
    order.sort_by(|&a, &b| out[b].document.total_cmp(&out[a].document));
    let total: f64 = order.iter().map(|&i| f64::from(out[i].document)).sum();
    let (mut best, mut best_k, mut sum) = (0.0f64, 0usize, 0.0f64);
    for (k, &i) in order.iter().enumerate() {
        sum += f64::from(out[i].document);
        let f1 = 2.0 * sum / ((k + 1) as f64 + total);
        if f1 > best {
            (best, best_k) = (f1, k + 1);
        }
    }
    for (k, &i) in order.iter().enumerate() {
        out[i].flag = k < best_k;
    }
}

fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// |residual| over the robust spread of residuals among segments with similar predictions.
fn scaled_residuals(ds: &Dataset, pred: &[f32], outlier_k: f32) -> Vec<LabelScore> {
    let labelled: Vec<usize> = (0..ds.segments.len())
        .filter(|&i| ds.segments[i].score.is_some() && pred[i].is_finite())
        .collect();
    let mut out = vec![LabelScore::NONE; ds.segments.len()];
    if labelled.is_empty() {
        return out;
    }
    let mut by_pred = labelled.clone();
    by_pred.sort_by(|&a, &b| pred[a].total_cmp(&pred[b]));
    const BINS: usize = 10;
    let bins = BINS.min(by_pred.len().div_ceil(30)).max(1);
    let all_res: Vec<f64> = labelled
        .iter()
        .map(|&i| f64::from(ds.target(i) - pred[i]))
        .collect();
    let global = robust_sigma(&all_res).max(1e-6);
    for b in 0..bins {
        let chunk = &by_pred[b * by_pred.len() / bins..(b + 1) * by_pred.len() / bins];
        let res: Vec<f64> = chunk
            .iter()
            .map(|&i| f64::from(ds.target(i) - pred[i]))
            .collect();
        let med = median(&res);
        // A bin's spread never below a quarter of the whole data's: a tight bin would make
        // small residuals look extreme.
        let spread = robust_sigma(&res).max(global / 4.0);
        for (&i, r) in chunk.iter().zip(res) {
            let z = ((r - med).abs() / spread) as f32;
            out[i] = LabelScore {
                score: z,
                model: z,
                document: f32::NAN,
                flag: z >= outlier_k,
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posterior_matches_a_hand_computed_case() {
        // Two steps, both labelled right, the model sure of neither: p = (0.5, 0.5), noise 0.1.
        // Positions: j=0: prior 0.5, mismatches 1 (step 0 labelled right at the error) and 1
        // (step 1 labelled after it) -> 0.5 * 0.1^2; j=1: prior 0.25, mismatch 1 (step 1) ->
        // 0.25 * 0.1 * 0.9; j=2: prior 0.25, none -> 0.25 * 0.81.
        let w = [0.5 * 0.01, 0.25 * 0.09, 0.25 * 0.81];
        let total: f64 = w.iter().sum();
        let got = first_error_posterior(
            &[0.5, 0.5],
            &[Some(true), Some(true)],
            &Annotator::steps(0.1, 0.0),
        );
        let want0 = w[0] / total;
        let want1 = (w[0] + w[1]) / total;
        assert!((got[0].unwrap() - want0).abs() < 1e-12, "{got:?}");
        assert!((got[1].unwrap() - want1).abs() < 1e-12, "{got:?}");
    }

    #[test]
    fn a_misplaced_first_error_matches_a_hand_computed_case() {
        // Two steps: right, wrong. p = (0.5, 0.5), noise 0.1, shift 0.2 (reach 2: from j=0 the
        // only other error position is l=1, and from j=1 it is l=0).
        // Step-noise likelihoods: L(0) = 0.1 * 0.1 (step 0 labelled right at the error, step 1
        // labelled after it); L(1) = 0.9 * 0.9; L(2) = 0.9 * 0.1 (step 1 labelled wrong).
        // Mixed: j=0: 0.8 L(0) + 0.2 L(1); j=1: 0.8 L(1) + 0.2 L(0); j=2 (no error): L(2).
        // Priors: 0.5, 0.25, 0.25.
        let (l0, l1, l2) = (0.01, 0.81, 0.09);
        let w = [
            0.5 * (0.8 * l0 + 0.2 * l1),
            0.25 * (0.8 * l1 + 0.2 * l0),
            0.25 * l2,
        ];
        let total: f64 = w.iter().sum();
        let got = first_error_posterior(
            &[0.5, 0.5],
            &[Some(true), Some(false)],
            &Annotator::steps(0.1, 0.2),
        );
        // Step 0's "right" is wrong if j <= 0; step 1's "wrong" is wrong unless j = 1.
        assert!((got[0].unwrap() - w[0] / total).abs() < 1e-12, "{got:?}");
        assert!(
            (got[1].unwrap() - (1.0 - w[1] / total)).abs() < 1e-12,
            "{got:?}"
        );
        // And without the shift the same labels are suspected less.
        let plain = first_error_posterior(
            &[0.5, 0.5],
            &[Some(true), Some(false)],
            &Annotator::steps(0.1, 0.0),
        );
        assert!(plain[0].unwrap() < got[0].unwrap(), "{plain:?} {got:?}");
    }

    #[test]
    fn a_missed_or_invented_first_error_matches_a_hand_computed_case() {
        // Two steps, both labelled right; p = (0.5, 0.5), noise 0.1, no shift, miss 0.2, invent
        // 0.3. Step-noise likelihoods: L(0) = 0.1 * 0.1, L(1) = 0.9 * 0.1, L(2) = 0.9 * 0.9.
        // j=0: 0.8 L(0) + 0.2 L(2); j=1: 0.8 L(1) + 0.2 L(2); j=2: 0.7 L(2) + 0.3 (L(0) + L(1)) / 2.
        let (l0, l1, l2) = (0.01, 0.09, 0.81);
        let w = [
            0.5 * (0.8 * l0 + 0.2 * l2),
            0.25 * (0.8 * l1 + 0.2 * l2),
            0.25 * (0.7 * l2 + 0.3 * (l0 + l1) / 2.0),
        ];
        let total: f64 = w.iter().sum();
        let a = Annotator {
            noise: 0.1,
            shift: 0.0,
            miss: 0.2,
            invent: 0.3,
        };
        let got = first_error_positions(&[0.5, 0.5], &[Some(true), Some(true)], &a);
        for j in 0..3 {
            assert!((got[j] - w[j] / total).abs() < 1e-12, "{got:?}");
        }
        // A missed error makes "all right" labels more suspect than step noise alone does.
        let plain = first_error_posterior(
            &[0.5, 0.5],
            &[Some(true), Some(true)],
            &Annotator::steps(0.1, 0.0),
        );
        let mixed = first_error_posterior(&[0.5, 0.5], &[Some(true), Some(true)], &a);
        assert!(mixed[0].unwrap() > plain[0].unwrap(), "{plain:?} {mixed:?}");
    }

    #[test]
    fn the_suggestion_is_the_most_likely_position() {
        // The model is sure step 1 is wrong, the labels put the error at step 3.
        let p = [0.95, 0.02, 0.5, 0.5];
        let labels = [Some(true), Some(true), Some(true), Some(false)];
        let w = first_error_positions(&p, &labels, &Annotator::default_model());
        let best = (0..w.len()).max_by(|&a, &b| w[a].total_cmp(&w[b])).unwrap();
        assert_eq!(best, 1, "{w:?}");
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn flags_take_the_top_k_of_highest_expected_f1() {
        // Posteriors 0.9, 0.8, 0.3, 0.1, 0.1: S = 2.2. Expected F1 of the top k = 2 S_k / (k + S):
        // k=1 1.8/3.2 = 0.5625; k=2 3.4/4.2 = 0.8095; k=3 4.0/5.2 = 0.769; so k = 2.
        let mut out: Vec<LabelScore> = [0.1f32, 0.9, 0.3, 0.8, 0.1]
            .iter()
            .map(|&d| LabelScore {
                score: d,
                model: d,
                document: d,
                flag: false,
            })
            .collect();
        out.push(LabelScore::NONE);
        flag_for_expected_f1(&mut out);
        let flags: Vec<bool> = out.iter().map(|s| s.flag).collect();
        assert_eq!(flags, [false, true, false, true, false, false]);
    }

    #[test]
    fn a_wrong_label_before_right_ones_is_the_suspect() {
        // right, wrong, right, right: the "wrong" at step 1 contradicts the layout.
        let p = [0.8, 0.8, 0.8, 0.8];
        let labels = [Some(true), Some(false), Some(true), Some(true)];
        let got = first_error_posterior(&p, &labels, &Annotator::steps(0.1, 0.0));
        let s: Vec<f64> = got.into_iter().map(|x| x.unwrap()).collect();
        assert!(s[1] > 0.5, "{s:?}");
        assert!(s[0] < s[1] && s[2] < s[1] && s[3] < s[1], "{s:?}");
    }

    #[test]
    fn a_consistent_document_the_model_agrees_with_scores_low() {
        let p = [0.9, 0.9, 0.1, 0.5];
        let labels = [Some(true), Some(true), Some(false), None];
        let got = first_error_posterior(&p, &labels, &Annotator::steps(0.1, 0.0));
        assert!(got[..3].iter().all(|x| x.unwrap() < 0.2), "{got:?}");
        assert_eq!(got[3], None);
    }
}
