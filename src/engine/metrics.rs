//! Metrics practitioners read: per-segment losses and shares, regression, calibration and ranking.
//!
//! All functions take predictions and targets in the same order. Undefined values (a correlation
//! with zero variance, pairwise accuracy with no pairs) are NaN, which JSON output writes as null.

use serde::{Deserialize, Serialize};

use super::ranking::kendall;
pub use super::ranking::{Ranks, average_ranks, kendall_tau_b, pairwise_accuracy};

/// The per-segment loss being minimised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum LossKind {
    /// Squared error r^2.
    Mse,
    /// Huber with threshold `delta`: r^2 / 2 inside, delta (|r| - delta / 2) outside.
    Huber { delta: f32 },
    /// Absolute error |r|.
    Mae,
    /// Bradley-Terry over pairs (i, j) of one document with target_i > target_j:
    /// log(1 + exp(-(r_i - r_j))), the mean over pairs. It sees only differences within a
    /// document, so a shift of a document's predictions costs nothing: per segment it is measured
    /// by the squared residual, the common yardstick.
    Pairwise,
}

impl LossKind {
    /// The objective the config names (`train.loss`, with `train.huber_delta` for Huber).
    pub fn from_config(t: &crate::config::TrainConfig) -> Self {
        match t.loss {
            crate::config::LossName::Mse => LossKind::Mse,
            crate::config::LossName::Huber => LossKind::Huber {
                delta: t.huber_delta,
            },
            crate::config::LossName::Mae => LossKind::Mae,
            crate::config::LossName::Pairwise => LossKind::Pairwise,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            LossKind::Mse => "mse",
            LossKind::Huber { .. } => "huber",
            LossKind::Mae => "mae",
            LossKind::Pairwise => "pairwise",
        }
    }

    /// The loss of one residual.
    pub fn of(&self, r: f64) -> f64 {
        match *self {
            LossKind::Mse => r * r,
            LossKind::Huber { delta } => {
                let d = f64::from(delta);
                if r.abs() <= d {
                    0.5 * r * r
                } else {
                    d * (r.abs() - 0.5 * d)
                }
            }
            LossKind::Mae => r.abs(),
            // The per-segment yardstick: a pairwise loss has no per-segment value.
            LossKind::Pairwise => r * r,
        }
    }

    /// The derivative of one segment's training loss with respect to its prediction, at residual
    /// `r = target - prediction`. `None` for a pairwise loss, which has no per-segment term.
    pub fn slope(&self, r: f64) -> Option<f64> {
        match *self {
            LossKind::Mse => Some(-2.0 * r),
            LossKind::Huber { delta } => {
                let d = f64::from(delta);
                Some(-r.clamp(-d, d))
            }
            // |r| has no slope at 0; take 0 there, as autodiff's abs does.
            LossKind::Mae => Some(if r == 0.0 { 0.0 } else { -r.signum() }),
            LossKind::Pairwise => None,
        }
    }
}

/// Shares of the total: x_i / sum x (all zero when the total is zero).
pub fn shares(losses: &[f64]) -> Vec<f64> {
    let total: f64 = losses.iter().sum();
    if total <= 0.0 {
        return vec![0.0; losses.len()];
    }
    losses.iter().map(|l| l / total).collect()
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Pearson correlation; NaN when either side is constant or there are fewer than two points.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 || y.len() != n {
        return f64::NAN;
    }
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

/// Spearman's rho: Pearson of average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Median of a slice (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The robust standard deviation 1.4826 x MAD: for normal data it estimates sigma, but a handful of
/// outliers cannot inflate it, so it can be used to flag them.
pub fn robust_sigma(xs: &[f64]) -> f64 {
    let m = median(xs);
    let dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    1.4826 * median(&dev)
}

/// log(1 + exp(x)), without overflow.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The mean Bradley-Terry loss over every pair (i, j) of a group (document) with
/// target_i > target_j: log(1 + exp(-(pred_i - pred_j))). NaN without pairs.
pub fn pairwise_loss(pred: &[f64], target: &[f64], groups: &[Vec<usize>]) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for g in groups {
        for &i in g {
            for &j in g {
                if target[i] > target[j] {
                    sum += softplus(-(pred[i] - pred[j]));
                    n += 1;
                }
            }
        }
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Reads a number written by serde_json, where NaN (an undefined metric) was written as null.
pub fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// [`nan_if_null`] for an `f32`.
pub fn nan_if_null_f32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

/// Metrics of one split after a step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitMetrics {
    /// Number of segments.
    pub n: usize,
    /// Mean per-segment training loss (the chosen loss kind).
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub mse: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub rmse: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub mae: f64,
    /// 1 - MSE / Var(target): 0 is no better than predicting the mean target.
    #[serde(deserialize_with = "nan_if_null")]
    pub r2: f64,
    /// Mean residual (target - prediction): positive when the model predicts too low.
    #[serde(deserialize_with = "nan_if_null")]
    pub bias: f64,
    /// Slope and intercept of the least-squares line target ~ prediction (1 and 0 if calibrated).
    #[serde(deserialize_with = "nan_if_null")]
    pub calib_slope: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub calib_intercept: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub pearson: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub spearman: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub kendall_tau_b: f64,
    /// Within-document pairwise accuracy.
    #[serde(deserialize_with = "nan_if_null")]
    pub pairwise_acc: f64,
    /// Share of the loss carried by the top 1% of segments by loss.
    #[serde(deserialize_with = "nan_if_null")]
    pub top1pct_share: f64,
}

/// Splits at least this large compute their rank correlations on a second thread.
const PARALLEL_METRICS: usize = 1024;

impl SplitMetrics {
    /// Computes every metric. `groups` are documents as index lists into `pred`/`target`.
    pub fn compute(pred: &[f64], target: &[f64], groups: &[Vec<usize>], loss: LossKind) -> Self {
        Self::compute_ranked(pred, target, None, groups, loss)
    }

    /// [`SplitMetrics::compute`], with the targets' ranks when the caller keeps them (they are
    /// `Ranks::of(target)`; a trainer's targets stay the same from step to step).
    pub fn compute_ranked(
        pred: &[f64],
        target: &[f64],
        target_ranks: Option<&Ranks>,
        groups: &[Vec<usize>],
        loss: LossKind,
    ) -> Self {
        // Spearman's rho and Kendall's tau from one sort of each side.
        let ranked = || {
            let p = Ranks::of(pred);
            let owned;
            let t = match target_ranks {
                Some(t) if t.average.len() == target.len() => t,
                _ => {
                    owned = Ranks::of(target);
                    &owned
                }
            };
            (pearson(&p.average, &t.average), kendall(&p, t))
        };
        // The rank correlations are the costliest metrics (the sorts); on a large split they run
        // on a second thread while this one computes the rest. Below the threshold a thread costs
        // more than it saves. Not from a rayon worker (the trainer's helper thread, the
        // cross-fit's folds): there the other cores already have work, which a third thread would
        // only slow.
        let (mut m, (spearman, tau)) =
            if pred.len() >= PARALLEL_METRICS && rayon::current_thread_index().is_none() {
                std::thread::scope(|s| {
                    let ranks = s.spawn(ranked);
                    let m = Self::compute_unranked(pred, target, groups, loss);
                    let r = ranks
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e));
                    (m, r)
                })
            } else {
                (Self::compute_unranked(pred, target, groups, loss), ranked())
            };
        m.spearman = spearman;
        m.kendall_tau_b = tau;
        if loss == LossKind::Pairwise {
            // The objective's own value; per segment the squared residual stands in.
            m.loss = pairwise_loss(pred, target, groups);
        }
        m
    }

    /// Every metric but the rank correlations (left NaN).
    fn compute_unranked(
        pred: &[f64],
        target: &[f64],
        groups: &[Vec<usize>],
        loss: LossKind,
    ) -> Self {
        let n = pred.len();
        // One pass for the sums (each added in row order, as a mean over a collected vector
        // would), and the losses kept for the top 1%.
        let mean_of = |sum: f64| if n == 0 { f64::NAN } else { sum / n as f64 };
        let (mut s_r, mut s_rr, mut s_abs, mut s_t) = (0.0, 0.0, 0.0, 0.0);
        let mut losses = Vec::with_capacity(n);
        for (&t, &p) in target.iter().zip(pred) {
            let r = t - p;
            s_r += r;
            s_rr += r * r;
            s_abs += r.abs();
            s_t += t;
            losses.push(loss.of(r));
        }
        let mse = mean_of(s_rr);
        let mt = mean_of(s_t);
        let var_t = mean_of(target.iter().map(|t| (t - mt) * (t - mt)).sum());
        let (calib_slope, calib_intercept) = {
            let mp = mean(pred);
            let (mut sxy, mut sxx) = (0.0, 0.0);
            for i in 0..n {
                sxy += (pred[i] - mp) * (target[i] - mt);
                sxx += (pred[i] - mp) * (pred[i] - mp);
            }
            if sxx > 0.0 {
                let b = sxy / sxx;
                (b, mt - b * mp)
            } else {
                (f64::NAN, f64::NAN)
            }
        };
        let total: f64 = losses.iter().sum();
        let mean_loss = mean_of(total);
        let top1pct_share = if n == 0 || total <= 0.0 {
            f64::NAN
        } else {
            let k = n.div_ceil(100);
            // Only the k largest are needed: select them instead of sorting all n.
            losses.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            losses[..k].iter().sum::<f64>() / total
        };
        Self {
            n,
            loss: mean_loss,
            mse,
            rmse: mse.sqrt(),
            mae: mean_of(s_abs),
            r2: if var_t > 0.0 {
                1.0 - mse / var_t
            } else {
                f64::NAN
            },
            bias: mean_of(s_r),
            calib_slope,
            calib_intercept,
            pearson: pearson(pred, target),
            spearman: f64::NAN,
            kendall_tau_b: f64::NAN,
            pairwise_acc: pairwise_accuracy(pred, target, groups),
            top1pct_share,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slope_is_the_derivative_of_the_loss_in_the_prediction() {
        // prediction = target - r, so d loss / d prediction = -d loss / d r.
        for kind in [LossKind::Mse, LossKind::Huber { delta: 1.0 }, LossKind::Mae] {
            for r in [-2.5, -0.3, 0.4, 1.7] {
                let h = 1e-6;
                let numeric = -(kind.of(r + h) - kind.of(r - h)) / (2.0 * h);
                let slope = kind.slope(r).expect("a per-segment loss");
                assert!(
                    (slope - numeric).abs() < 1e-5,
                    "{kind:?} at {r}: {slope} vs {numeric}"
                );
            }
        }
        assert_eq!(LossKind::Pairwise.slope(0.5), None);
    }

    use super::*;

    /// The definition, pair by pair: the reference for the O(m log m) count.
    fn pairwise_by_pairs(pred: &[f64], target: &[f64], groups: &[Vec<usize>]) -> f64 {
        let (mut right, mut pairs) = (0.0f64, 0u64);
        for g in groups {
            for (a, &i) in g.iter().enumerate() {
                for &j in &g[a + 1..] {
                    let dt = target[i] - target[j];
                    if dt == 0.0 {
                        continue;
                    }
                    pairs += 1;
                    let dp = pred[i] - pred[j];
                    if dp == 0.0 {
                        right += 0.5;
                    } else if (dp > 0.0) == (dt > 0.0) {
                        right += 1.0;
                    }
                }
            }
        }
        if pairs == 0 {
            f64::NAN
        } else {
            right / pairs as f64
        }
    }

    #[test]
    fn pairwise_accuracy_counts_as_the_definition_does_ties_included() {
        // By hand: targets (1, 2, 3), predictions (0.5, 0.5, 0.1): pairs (1,2) tied in
        // prediction (1/2), (1,3) and (2,3) discordant: 0.5 / 3.
        let g = vec![vec![0, 1, 2]];
        let got = pairwise_accuracy(&[0.5, 0.5, 0.1], &[1.0, 2.0, 3.0], &g);
        assert!((got - 0.5 / 3.0).abs() < 1e-12, "{got}");
        // Against the pair-by-pair definition on tie-heavy data in several groups.
        let mut rng = crate::data::hash::Rng::new(7);
        let n = 300;
        let target: Vec<f64> = (0..n).map(|_| (rng.unit() * 4.0).floor()).collect();
        let pred: Vec<f64> = (0..n).map(|_| (rng.unit() * 6.0).floor() / 2.0).collect();
        let groups: Vec<Vec<usize>> = (0..n)
            .collect::<Vec<_>>()
            .chunks(37)
            .map(<[usize]>::to_vec)
            .collect();
        let (fast, slow) = (
            pairwise_accuracy(&pred, &target, &groups),
            pairwise_by_pairs(&pred, &target, &groups),
        );
        assert!((fast - slow).abs() < 1e-12, "{fast} {slow}");
        assert!(pairwise_accuracy(&[1.0], &[1.0], &[vec![0]]).is_nan());
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// O(n^2) tau-b straight from the definition, to check the fast one.
    fn tau_b_brute(x: &[f64], y: &[f64]) -> f64 {
        let (mut c, mut d, mut tx, mut ty) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                let (dx, dy) = (x[i] - x[j], y[i] - y[j]);
                if dx == 0.0 && dy == 0.0 {
                    continue;
                } else if dx == 0.0 {
                    tx += 1.0;
                } else if dy == 0.0 {
                    ty += 1.0;
                } else if dx * dy > 0.0 {
                    c += 1.0;
                } else {
                    d += 1.0;
                }
            }
        }
        (c - d) / ((c + d + tx) * (c + d + ty)).sqrt()
    }

    #[test]
    fn loss_kinds_by_hand() {
        assert!(close(LossKind::Mse.of(0.5), 0.25));
        assert!(close(LossKind::Mae.of(-0.5), 0.5));
        let h = LossKind::Huber { delta: 1.0 };
        assert!(close(h.of(0.5), 0.125));
        assert!(close(h.of(-3.0), 2.5));
    }

    #[test]
    fn fact_two_loss_shares() {
        // DOMAIN fact 2: targets (0.9, 0.1, -0.6), predictions (0.8, 0.5, -0.7).
        let t = [0.9, 0.1, -0.6];
        let p = [0.8, 0.5, -0.7];
        let l: Vec<f64> = t
            .iter()
            .zip(&p)
            .map(|(t, p)| LossKind::Mse.of(t - p))
            .collect();
        let s = shares(&l);
        assert!((s[0] - 1.0 / 18.0).abs() < 1e-9);
        assert!((s[1] - 16.0 / 18.0).abs() < 1e-9);
        assert!((s[2] - 1.0 / 18.0).abs() < 1e-9);
        assert_eq!(shares(&[0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn fact_three_shift_and_scale_keep_ranking_but_not_mse() {
        let t = [0.9, 0.1, -0.6, 0.3, -0.2];
        let groups = vec![vec![0, 1, 2, 3, 4]];
        for (a, c) in [(1.0, 0.3), (2.0, -0.1), (0.5, 0.0)] {
            let p: Vec<f64> = t.iter().map(|y| a * y + c).collect();
            let m = SplitMetrics::compute(&p, &t, &groups, LossKind::Mse);
            assert!(close(m.spearman, 1.0) && close(m.kendall_tau_b, 1.0) && close(m.pearson, 1.0));
            assert!(close(m.pairwise_acc, 1.0));
            assert!(m.mse > 0.0);
            // MSE = bias^2 + Var(residual).
            let r: Vec<f64> = t.iter().zip(&p).map(|(t, p)| t - p).collect();
            let mr = mean(&r);
            let var = mean(&r.iter().map(|x| (x - mr) * (x - mr)).collect::<Vec<_>>());
            assert!((m.mse - (m.bias * m.bias + var)).abs() < 1e-12);
        }
        let shifted: Vec<f64> = t.iter().map(|y| y + 0.3).collect();
        let m = SplitMetrics::compute(&shifted, &t, &groups, LossKind::Mse);
        assert!(close(m.bias, -0.3) && close(m.mse, 0.09));
        assert!(close(m.calib_slope, 1.0) && close(m.calib_intercept, -0.3));
    }

    #[test]
    fn regression_metrics_by_hand() {
        let t = [1.0, 2.0, 3.0, 4.0];
        let p = [1.5, 2.0, 2.0, 4.5];
        let m = SplitMetrics::compute(&p, &t, &[], LossKind::Mse);
        // residuals -0.5, 0, 1, -0.5: squares 0.25, 0, 1, 0.25.
        assert!(close(m.mse, 0.375));
        assert!(close(m.rmse, 0.375f64.sqrt()));
        assert!(close(m.mae, 0.5));
        assert!(close(m.bias, 0.0));
        // Var(t) = 1.25.
        assert!(close(m.r2, 1.0 - 0.375 / 1.25));
        assert!(m.pairwise_acc.is_nan());
        // Top 1% of 4 segments is one segment: 1 / 1.5.
        assert!(close(m.top1pct_share, 1.0 / 1.5));
    }

    #[test]
    fn pearson_and_spearman_by_hand() {
        let x = [1.0, 2.0, 3.0];
        let y = [1.0, 3.0, 2.0];
        assert!(close(pearson(&x, &y), 0.5));
        assert!(close(spearman(&x, &y), 0.5));
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        // Ties: ranks x (1, 2.5, 2.5, 4), y (1, 2, 3, 4).
        let s = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((s - pearson(&[1.0, 2.5, 2.5, 4.0], &[1.0, 2.0, 3.0, 4.0])).abs() < 1e-12);
    }

    #[test]
    fn kendall_tau_b_with_ties_by_hand() {
        // Pairs: C = 3, D = 1, one tie in x only, one tie in y only: (3 - 1) / sqrt(5 * 5).
        let x = [1.0, 2.0, 2.0, 3.0];
        let y = [1.0, 3.0, 2.0, 2.0];
        assert!(close(kendall_tau_b(&x, &y), 0.4));
        assert!(close(
            kendall_tau_b(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]),
            -1.0
        ));
        assert!(kendall_tau_b(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        // Against the definition on data with many ties in both.
        let xs: Vec<f64> = (0..60).map(|i| ((i * 7) % 5) as f64).collect();
        let ys: Vec<f64> = (0..60)
            .map(|i| ((i * 3) % 4) as f64 + ((i * 7) % 5) as f64 * 0.5)
            .collect();
        assert!((kendall_tau_b(&xs, &ys) - tau_b_brute(&xs, &ys)).abs() < 1e-12);
    }

    #[test]
    fn large_splits_get_every_metric_on_either_path() {
        // At PARALLEL_METRICS rows and above, tau is computed on a second thread; both paths must
        // give the metrics the plain functions give.
        for n in [PARALLEL_METRICS - 1, PARALLEL_METRICS + 500] {
            let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
            let y: Vec<f64> = (0..n).map(|i| ((i * 11) % 23) as f64 + x[i]).collect();
            let groups = vec![(0..n).collect::<Vec<_>>()];
            let m = SplitMetrics::compute(&x, &y, &groups, LossKind::Mse);
            assert!(close(m.kendall_tau_b, kendall_tau_b(&x, &y)), "n = {n}");
            assert!(close(m.spearman, spearman(&x, &y)), "n = {n}");
            assert!(m.kendall_tau_b > 0.0 && m.kendall_tau_b < 1.0);
        }
        let x: Vec<f64> = (0..300).map(|i| ((i * 7) % 13) as f64).collect();
        let y: Vec<f64> = (0..300).map(|i| ((i * 5) % 17) as f64).collect();
        assert!((kendall_tau_b(&x, &y) - tau_b_brute(&x, &y)).abs() < 1e-12);
    }

    #[test]
    fn pairwise_accuracy_counts_only_within_documents_and_halves_ties() {
        let t = [0.9, 0.1, 0.1, 0.5, -0.5];
        let p = [0.2, 0.3, 0.0, 0.4, 0.4];
        // doc A = 0,1,2: pairs (0,1) wrong, (0,2) right, (1,2) target tie skipped.
        // doc B = 3,4: prediction tie, half.
        let acc = pairwise_accuracy(&p, &t, &[vec![0, 1, 2], vec![3, 4]]);
        assert!(close(acc, 1.5 / 3.0));
    }

    #[test]
    fn robust_sigma_ignores_an_outlier() {
        let xs = [-1.0, -0.5, 0.0, 0.5, 1.0, 100.0];
        // median 0.25; |dev| = 1.25, 0.75, 0.25, 0.25, 0.75, 99.75 -> median 0.75.
        assert!(close(robust_sigma(&xs), 1.4826 * 0.75));
        assert!(close(median(&[3.0, 1.0, 2.0]), 2.0));
    }
}
