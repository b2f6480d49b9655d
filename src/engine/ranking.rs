//! Ranks and the rank metrics built on them: average ranks, Kendall's tau-b and the pairwise
//! accuracy within documents.
//!
//! These run beside every training step (on the helper thread), so each split's values are sorted
//! once: Spearman's average ranks and Kendall's counts come from the same two sorts, one of the
//! predictions and one of the targets, where they took four.

/// One slice's values sorted once: each value's average rank and dense rank, and the ties.
#[derive(Debug, Clone)]
pub struct Ranks {
    /// Ranks from 1, ties given their average rank (Spearman's).
    pub average: Vec<f64>,
    /// 0-based dense ranks: equal values share one, the next value gets the next.
    dense: Vec<u32>,
    /// Positions in ascending order of value.
    order: Vec<u32>,
    /// Distinct values.
    distinct: usize,
    /// Sum over groups of equal values of t (t - 1) / 2: the pairs tied here.
    tied: u64,
}

/// A key whose integer order is `f64::total_cmp`'s: comparing integers is cheaper than comparing
/// floats totally, and these sorts run at every step.
fn order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

impl Ranks {
    /// Ranks of `x`. Values tie when they are `==` (so -0 and 0 tie, and no NaN ties).
    pub fn of(x: &[f64]) -> Ranks {
        let n = x.len();
        let mut v: Vec<(u64, u32)> = x
            .iter()
            .zip(0u32..)
            .map(|(&x, i)| (order_key(x), i))
            .collect();
        // Equal keys are equal values, interchangeable here: an unstable sort gives the same ranks.
        v.sort_unstable_by_key(|p| p.0);
        let mut average = vec![0.0; n];
        let mut dense = vec![0u32; n];
        let (mut distinct, mut tied) = (0u32, 0u64);
        let mut i = 0;
        while i < n {
            let value = x[v[i].1 as usize];
            let mut j = i + 1;
            while j < n && x[v[j].1 as usize] == value {
                j += 1;
            }
            let r = (i + j - 1) as f64 / 2.0 + 1.0;
            for &(_, k) in &v[i..j] {
                average[k as usize] = r;
                dense[k as usize] = distinct;
            }
            let t = (j - i) as u64;
            tied += t * (t - 1) / 2;
            distinct += 1;
            i = j;
        }
        Ranks {
            average,
            dense,
            order: v.into_iter().map(|p| p.1).collect(),
            distinct: distinct as usize,
            tied,
        }
    }

    fn len(&self) -> usize {
        self.order.len()
    }
}

/// Ranks from 1, ties given their average rank.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    Ranks::of(x).average
}

/// Kendall's tau-b of `x` and `y`, which corrects for ties on either side (rubric scores tie a
/// lot, so tau-a would understate agreement).
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    if x.len() != y.len() {
        return f64::NAN;
    }
    kendall(&Ranks::of(x), &Ranks::of(y))
}

/// Kendall's tau-b from the two sides' ranks, in O(n log n).
pub fn kendall(x: &Ranks, y: &Ranks) -> f64 {
    let n = x.len();
    if n < 2 || y.len() != n {
        return f64::NAN;
    }
    let n0 = (n as u64) * (n as u64 - 1) / 2;
    // tau-b is symmetric in x and y: the tree goes over the side with fewer distinct values
    // (targets often have a handful), the walk over the other.
    let (discordant, tied_both) = if x.distinct <= y.distinct {
        discordant_pairs(y, x)
    } else {
        discordant_pairs(x, y)
    };
    let (n1, n2) = (x.tied, y.tied);
    let denom = ((n0 - n1) as f64 * (n0 - n2) as f64).sqrt();
    if denom == 0.0 {
        return f64::NAN;
    }
    (n0 as f64 - n1 as f64 - n2 as f64 + tied_both as f64 - 2.0 * discordant as f64) / denom
}

/// (discordant pairs, pairs tied on both sides): walking `walk` in ascending order, one group of
/// equal values at a time (so that pairs tied in it are never counted discordant), a Fenwick
/// tree over `tree`'s dense ranks counts the values already passed that rank higher there.
fn discordant_pairs(walk: &Ranks, tree: &Ranks) -> (u64, u64) {
    let n = walk.len();
    // counts[i] holds the passed ranks in (i - lowbit(i), i], 1-based.
    let mut counts = vec![0u32; tree.distinct + 1];
    // Per rank in `tree`, how many of the current group have it: the pairs tied in both.
    let mut in_group = vec![0u32; tree.distinct];
    let (mut passed, mut discordant, mut tied_both) = (0u64, 0u64, 0u64);
    let mut start = 0;
    while start < n {
        let group = walk.dense[walk.order[start] as usize];
        let mut end = start;
        while end < n && walk.dense[walk.order[end] as usize] == group {
            end += 1;
        }
        let members = &walk.order[start..end];
        for &k in members {
            let r = tree.dense[k as usize] as usize;
            // Passed values (all lower in `walk`) with rank at most r in `tree`.
            let (mut at_most, mut i) = (0u64, r + 1);
            while i > 0 {
                at_most += u64::from(counts[i]);
                i &= i - 1;
            }
            discordant += passed - at_most;
            tied_both += u64::from(in_group[r]);
            in_group[r] += 1;
        }
        for &k in members {
            let r = tree.dense[k as usize] as usize;
            in_group[r] = 0;
            let mut i = r + 1;
            while i < counts.len() {
                counts[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
        passed += members.len() as u64;
        start = end;
    }
    (discordant, tied_both)
}

/// Documents of at most this many segments are counted pair by pair: up to 1,128 comparisons
/// without an allocation, cheaper than three sorts (most documents have a few dozen steps).
const BY_PAIRS: usize = 48;

/// Pairwise accuracy over pairs of segments in the same group whose targets differ: the fraction
/// ordered the same way by the predictions, a tie in prediction counting one half. `groups` holds
/// the index ranges (into `pred`/`target`) of each document. Long documents in O(m log m), as
/// Kendall's tau is (a document of 100,000 steps has 5e9 pairs): with P the pairs whose targets
/// differ, D the discordant ones and T the ones tied in prediction only, right = P - D - T / 2.
pub fn pairwise_accuracy(pred: &[f64], target: &[f64], groups: &[Vec<usize>]) -> f64 {
    let (mut right, mut pairs) = (0.0f64, 0u64);
    for g in groups {
        let (differ, discordant, tied_pred_only) = if g.len() <= BY_PAIRS {
            counts_by_pairs(pred, target, g)
        } else {
            counts_by_sorting(pred, target, g)
        };
        pairs += differ;
        right += differ as f64 - discordant as f64 - tied_pred_only as f64 / 2.0;
    }
    if pairs == 0 {
        return f64::NAN;
    }
    right / pairs as f64
}

/// (pairs whose targets differ, discordant ones, ones tied in prediction only), pair by pair.
fn counts_by_pairs(pred: &[f64], target: &[f64], g: &[usize]) -> (u64, u64, u64) {
    let (mut differ, mut discordant, mut tied) = (0u64, 0u64, 0u64);
    for (a, &i) in g.iter().enumerate() {
        let (ti, pi) = (target[i], pred[i]);
        for &j in &g[a + 1..] {
            let (tj, pj) = (target[j], pred[j]);
            if ti == tj {
                continue;
            }
            differ += 1;
            if pi == pj {
                tied += 1;
            } else if (ti < tj) != (pi < pj) {
                discordant += 1;
            }
        }
    }
    (differ, discordant, tied)
}

/// The same counts in O(m log m), from the document's own ranks: Kendall's count of discordant
/// pairs, walking the targets.
fn counts_by_sorting(pred: &[f64], target: &[f64], g: &[usize]) -> (u64, u64, u64) {
    let m = g.len() as u64;
    let t = Ranks::of(&g.iter().map(|&i| target[i]).collect::<Vec<_>>());
    let p = Ranks::of(&g.iter().map(|&i| pred[i]).collect::<Vec<_>>());
    let (discordant, tied_both) = discordant_pairs(&t, &p);
    (m * (m - 1) / 2 - t.tied, discordant, p.tied - tied_both)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_tie_equal_values_and_order_as_total_cmp() {
        let x = [2.0, -0.0, 0.0, -1.5, 2.0, f64::INFINITY, -3.0];
        let r = Ranks::of(&x);
        // Sorted: -3, -1.5, {-0, 0}, {2, 2}, inf.
        assert_eq!(r.average, vec![5.5, 3.5, 3.5, 2.0, 5.5, 7.0, 1.0]);
        assert_eq!(r.dense, vec![3, 2, 2, 1, 3, 4, 0]);
        assert_eq!((r.distinct, r.tied), (5, 2));
        let keys: Vec<u64> = [-f64::INFINITY, -1.0, -0.0, 0.0, 1e-300, 1.0, f64::NAN]
            .map(order_key)
            .to_vec();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    }

    /// Both ways of counting a document's pairs agree, on tie-heavy values and on continuous
    /// ones, at every length around the switch between them.
    #[test]
    fn pair_counts_by_pairs_and_by_sorting_agree() {
        let mut rng = crate::data::hash::Rng::new(11);
        for m in [2, 3, 17, BY_PAIRS, BY_PAIRS + 1, 140] {
            for coarse in [true, false] {
                let value = |rng: &mut crate::data::hash::Rng, k: f64| {
                    if coarse {
                        (rng.unit() * k).floor()
                    } else {
                        rng.unit()
                    }
                };
                let target: Vec<f64> = (0..m).map(|_| value(&mut rng, 3.0)).collect();
                let pred: Vec<f64> = (0..m).map(|_| value(&mut rng, 4.0)).collect();
                let g: Vec<usize> = (0..m).collect();
                assert_eq!(
                    counts_by_pairs(&pred, &target, &g),
                    counts_by_sorting(&pred, &target, &g),
                    "m = {m}, coarse {coarse}"
                );
            }
        }
    }

    /// Kendall's counts pair by pair, from the definition.
    fn tau_b_by_pairs(x: &[f64], y: &[f64]) -> f64 {
        let (mut s, mut tx, mut ty, mut all) = (0i64, 0u64, 0u64, 0u64);
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                all += 1;
                let (dx, dy) = (x[i] - x[j], y[i] - y[j]);
                tx += u64::from(dx == 0.0);
                ty += u64::from(dy == 0.0);
                if dx != 0.0 && dy != 0.0 {
                    s += if (dx > 0.0) == (dy > 0.0) { 1 } else { -1 };
                }
            }
        }
        s as f64 / (((all - tx) * (all - ty)) as f64).sqrt()
    }

    /// Whichever side the tree goes over (the one with fewer distinct values), the same tau.
    #[test]
    fn kendall_is_the_definition_with_the_tree_on_either_side() {
        let mut rng = crate::data::hash::Rng::new(5);
        for n in [2, 9, 200] {
            let coarse: Vec<f64> = (0..n).map(|_| (rng.unit() * 3.0).floor()).collect();
            let fine: Vec<f64> = (0..n).map(|_| (rng.unit() * 50.0).floor()).collect();
            for (x, y) in [(&coarse, &fine), (&fine, &coarse)] {
                let want = tau_b_by_pairs(x, y);
                let got = kendall(&Ranks::of(x), &Ranks::of(y));
                assert!(
                    (got - want).abs() < 1e-12 || (got.is_nan() && want.is_nan()),
                    "{n}: {got} {want}"
                );
            }
        }
    }
}
