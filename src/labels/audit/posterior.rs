//! The audit of first-error data, whose label score is a posterior probability that the label
//! is wrong: that posterior calibrated on the canaries, and the threshold set from it.

use super::{Audit, Chosen, MIN_CANARIES, Scored, figures, rank_points};

/// The canaries' recall at which the posterior audit counts the data's wrong labels.
const COUNT_AT_RECALL: f64 = 0.5;

/// The threshold for first-error data. The flags' expected precision at a threshold is the mean
/// probability that their labels are wrong; the lowest threshold where it is at least
/// `min_precision` is chosen.
///
/// That probability is the posterior calibrated on the canaries (see [`Calibration`]): the raw
/// posterior is not calibrated at the top of the ranking, and not the same way on every kind
/// of noise. On the planted-noise benchmark's annotator noise the ten highest posteriors
/// averaged 0.49 where 0.78 of those labels were wrong (`bench/audit_replica.py eval
/// --first-error`), so the raw rule expected 0.51 of flags that were 0.84 right.
///
/// The canaries also give the recall at each threshold, by rank as in [`super::calibrate`], and
/// the count: the expected wrong labels among the flags (raw posteriors) where the canaries'
/// recall first reaches `COUNT_AT_RECALL`, over that recall.
pub fn calibrate_posterior(
    real: &[f32],
    copies: &[Scored],
    min_precision: f64,
    canary_kind: &'static str,
) -> Audit {
    let (real_sorted, points, npos) = rank_points(real, copies);
    let cal = Calibration::fit(copies, &real_sorted);
    // S(t) and its calibrated counterpart: sums over the flagged labels, at each point.
    let (mut raw, mut calibrated) = (Vec::new(), Vec::new());
    let (mut sum, mut csum) = (0.0f64, 0.0f64);
    for &s in &real_sorted {
        sum += f64::from(s);
        csum += cal.probability(s);
        raw.push(sum);
        calibrated.push(csum);
    }
    let mut best = None;
    let mut highest = (0.0f64, 0usize);
    for &(t, n, c) in &points {
        let precision = calibrated[n - 1] / n as f64;
        if precision >= highest.0 {
            highest = (precision, n);
        }
        if precision >= min_precision {
            best = Some((t, n, c));
        }
    }
    let errors = points
        .iter()
        .find(|p| p.2 >= MIN_CANARIES && p.2 as f64 >= COUNT_AT_RECALL * npos as f64)
        .map_or(f64::NAN, |&(_, n, c)| raw[n - 1] * npos as f64 / c as f64);
    let chosen = best.map(|(t, n, c)| Chosen {
        threshold: t,
        flagged: n,
        found: c,
        precision: calibrated[n - 1] / n as f64,
    });
    let mut a = figures(
        copies,
        canary_kind,
        real_sorted.len(),
        npos,
        errors,
        min_precision,
        chosen,
    );
    (a.best_precision, a.best_flagged) = highest;
    a
}

/// The probability that a label is wrong, given its posterior, learnt from the canary copies.
///
/// In a copy every canary is wrong, and every other labelled segment carries the real data's
/// label, wrong with the probability the real run's posterior gives it. An increasing
/// (isotonic) fit of those values on the copy's scores says how often a label at each copy
/// score is wrong. A copy holds more wrong labels than the real data (its canaries besides the
/// data's own), so the fit's odds are scaled by the ratio of the real data's odds of a wrong
/// label (its mean posterior) to the copy's.
struct Calibration {
    /// Blocks of the fit, ascending: (the highest copy score in the block, the block's value).
    blocks: Vec<(f32, f64)>,
    /// The real data's odds of a wrong label over the copies'.
    odds_ratio: f64,
}

impl Calibration {
    fn fit(copies: &[Scored], real_sorted: &[f32]) -> Calibration {
        let mut points: Vec<(f32, f64)> = copies
            .iter()
            .flat_map(|c| {
                c.scores
                    .iter()
                    .zip(&c.canary)
                    .zip(&c.real)
                    .filter(|((s, _), _)| s.is_finite())
                    .map(|((&s, &canary), &r)| {
                        let y = if canary {
                            1.0
                        } else if r.is_finite() {
                            f64::from(r)
                        } else {
                            0.0
                        };
                        (s, y)
                    })
            })
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let blocks = isotonic(&points);
        let mean = |sum: f64, n: usize| if n == 0 { 0.0 } else { sum / n as f64 };
        let p_real = mean(
            real_sorted.iter().map(|&s| f64::from(s)).sum(),
            real_sorted.len(),
        );
        let p_copy = mean(points.iter().map(|p| p.1).sum(), points.len());
        let odds = |p: f64| p / (1.0 - p);
        let odds_ratio = if (0.0..1.0).contains(&p_copy) && p_copy > 0.0 {
            odds(p_real.clamp(0.0, 1.0 - 1e-9)) / odds(p_copy)
        } else {
            1.0
        };
        Calibration { blocks, odds_ratio }
    }

    /// The probability that a real label with posterior `s` is wrong. Without canary copies,
    /// the posterior itself.
    fn probability(&self, s: f32) -> f64 {
        if self.blocks.is_empty() {
            return f64::from(s);
        }
        let k = self.blocks.partition_point(|b| b.0 < s);
        let p = self.blocks[k.min(self.blocks.len() - 1)].1;
        if p >= 1.0 {
            return 1.0;
        }
        let o = p / (1.0 - p) * self.odds_ratio;
        o / (1.0 + o)
    }
}

/// Pool-adjacent-violators: the increasing step function closest to `points` (sorted by x) in
/// squared error, as blocks (the block's highest x, its mean y).
fn isotonic(points: &[(f32, f64)]) -> Vec<(f32, f64)> {
    // (sum of y, count, highest x) per block.
    let mut blocks: Vec<(f64, usize, f32)> = Vec::new();
    for &(x, y) in points {
        blocks.push((y, 1, x));
        while blocks.len() > 1 {
            let (s1, c1, _) = blocks[blocks.len() - 2];
            let (s2, c2, x2) = blocks[blocks.len() - 1];
            if s1 / c1 as f64 <= s2 / c2 as f64 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (s1 + s2, c1 + c2, x2);
        }
    }
    blocks
        .into_iter()
        .map(|(s, c, x)| (x, s / c as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_what_decreases() {
        let b = isotonic(&[(0.1, 0.0), (0.2, 1.0), (0.3, 0.0), (0.4, 1.0), (0.5, 1.0)]);
        // (0.2, 1) and (0.3, 0) pool to 0.5; equal neighbours need no pooling.
        assert_eq!(b, vec![(0.1, 0.0), (0.3, 0.5), (0.4, 1.0), (0.5, 1.0)]);
    }

    #[test]
    fn the_posterior_audit_expects_the_calibrated_probability_of_its_flags() {
        // Real posteriors: 2 at 0.9, 2 at 0.5, 6 at 0.2, 10 at 0.05 (mean 0.225).
        let real: Vec<f32> = [(2, 0.9f32), (2, 0.5), (6, 0.2), (10, 0.05)]
            .iter()
            .flat_map(|&(n, v)| std::iter::repeat_n(v, n))
            .collect();
        // One copy: 10 canaries (2 at 0.01, 3 at 0.3, 2 at 0.65, 3 at 0.85) and the 20 real
        // labels, scored as in the real run.
        let mut scores = vec![0.01, 0.01, 0.3, 0.3, 0.3, 0.65, 0.65, 0.85, 0.85, 0.85];
        let mut canary = vec![true; 10];
        let mut linked = vec![f32::NAN; 10];
        for &r in &real {
            scores.push(r);
            canary.push(false);
            linked.push(r);
        }
        let copies = [Scored {
            scores,
            canary,
            real: linked,
        }];
        let a = calibrate_posterior(&real, &copies, 0.5, "misplaced first errors");
        // By hand. The copy by score (value): 0.01 x2 (1), 0.05 x10 (0.05), 0.2 x6 (0.2), 0.3
        // x3 (1), 0.5 x2 (0.5), 0.65 x2 (1), 0.85 x3 (1), 0.9 x2 (0.9). The isotonic fit pools
        // them into three blocks: up to 0.2, 3.7 / 18 = 0.2056; up to 0.5, 4 / 5 = 0.8; up to
        // 0.9, 6.8 / 7 = 0.9714. The copy's mean is 14.5 / 30 = 0.4833, the real run's 0.225:
        // odds ratio (0.225 / 0.775) / (0.4833 / 0.5167) = 0.3103. Real 0.9: odds 34 * 0.3103
        // -> 0.9134; 0.5: odds 4 * 0.3103 -> 0.5538; 0.2 and 0.05: odds 0.2587 * 0.3103 ->
        // 0.0743. Mean over the top 2: 0.9134; top 4: 0.7336; top 10: 0.338. The lowest
        // threshold at 0.5 or more: 0.5, 4 flags, expected precision 0.7336.
        assert_eq!((a.threshold, a.flagged), (0.5, 4));
        assert!((a.precision - 0.7336).abs() < 0.001, "{}", a.precision);
        // The canaries found at those 4 flags (rank-matched: the copy's 4th other score is 0.5):
        // the 5 at 0.65 and 0.85, of 10.
        assert!((a.recall - 0.5).abs() < 1e-12, "{}", a.recall);
        // The count where the canaries' recall first reaches 0.5 (those 4 flags), from the raw
        // posteriors: 2.8 / 0.5 = 5.6 wrong labels.
        assert!((a.estimated_wrong_f - 5.6).abs() < 1e-6);
        // Nothing reaches 0.95; the highest is the top 2's 0.9134.
        let strict = calibrate_posterior(&real, &copies, 0.95, "misplaced first errors");
        assert!(!strict.reached && strict.flagged == 0);
        assert_eq!(strict.best_flagged, 2);
        assert!((strict.best_precision - 0.9134).abs() < 0.001);
    }
}
