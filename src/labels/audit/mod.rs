//! The audit: seeded canaries planted into a copy of the user's data, of the data's own kind of
//! noise, detected like real label issues, and the flag threshold set from them. Canaries live
//! only in that copy; nothing of them reaches any output but the aggregate figures.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod posterior;

pub use posterior::calibrate_posterior;

use super::{LabelInfo, LabelKind, average_precision, wilson};
use crate::config::Config;
use crate::data::hash::Rng;
use crate::data::{Dataset, Features};
use crate::engine::EngineError;
use crate::labels::crossfit::{self, Options};

/// What the canaries say about the detection, and the threshold they set.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// `flips`, `misplaced first errors`, `mirrored values` or `far values`.
    pub canary_kind: &'static str,
    /// Canaries over all copies, labelled segments in one copy, and the number of copies.
    pub canaries: usize,
    pub labelled: usize,
    pub repeats: usize,
    /// Average precision of the label score at ranking the canaries first.
    pub average_precision: f64,
    /// How many wrong labels the real data holds, as the canaries estimate it: of those about as
    /// easy to find as the canaries. Harder ones (first errors moved by a step, where the flip
    /// canaries are used) go uncounted: on planted ProcessBench noise it said 2 for 36-42.
    pub estimated_wrong: usize,
    #[serde(skip)]
    estimated_wrong_f: f64,
    /// Misplaced first errors: the documents the canaries were planted in (over all copies), and
    /// the estimate in documents: wrong labels over the canaries' labels per document.
    pub canary_documents: usize,
    pub estimated_documents: Option<usize>,
    /// The flags are `label_score >= threshold`: the lowest threshold whose precision on the
    /// canaries is at least `min_precision` (infinite when none is).
    pub threshold: f32,
    pub min_precision: f64,
    /// Whether any threshold reached `min_precision`.
    pub reached: bool,
    /// In the real run: segments flagged at the threshold, and the flags' expected precision
    /// and recall with 95% Wilson intervals (see [`calibrate`]).
    pub flagged: usize,
    pub precision: f64,
    pub precision_interval: (f64, f64),
    pub recall: f64,
    pub recall_interval: (f64, f64),
    /// The highest expected precision any threshold reached, and the flags it would give: what
    /// an audit that flags nothing can still say (0 and 0 when nothing could be estimated).
    pub best_precision: f64,
    pub best_flagged: usize,
}

impl Audit {
    /// What the flags' expectation is, for the dashboard's header.
    pub fn note(&self) -> String {
        header_note(self.flagged, self.precision, self.recall)
    }
}

/// An audit's figures as `OUT.audit.json` keeps them, read back for the dashboard's header.
#[derive(Debug, Clone, Deserialize)]
pub struct Saved {
    pub flagged: usize,
    pub precision: f64,
    pub recall: f64,
}

impl Saved {
    /// The audit beside cross-fit report `report` (`REPORT.audit.json`), if there is a readable one.
    pub fn beside(report: &std::path::Path) -> Option<Saved> {
        let mut p = report.to_path_buf().into_os_string();
        p.push(".audit.json");
        let text = std::fs::read_to_string(&p).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn note(&self) -> String {
        header_note(self.flagged, self.precision, self.recall)
    }
}

/// What an audit that flags nothing can say: the highest expected precision, and its flags.
pub fn none_reached(min_precision: f64, best_precision: f64, best_flagged: usize) -> String {
    if best_flagged == 0 {
        return format!("no threshold reaches an expected precision of {min_precision}");
    }
    format!(
        "no threshold reaches an expected precision of {min_precision} (the highest, {best_precision:.2}, would flag {best_flagged})"
    )
}

fn header_note(flagged: usize, precision: f64, recall: f64) -> String {
    if flagged > 0 && precision.is_finite() && recall.is_finite() {
        format!(" · flags P~{precision:.2} R~{recall:.2} (audit)")
    } else {
        " · audit: nothing flagged".into()
    }
}

/// The kinds of noise a canary can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canary {
    /// A binary label turned into the other class.
    Flip,
    /// A first error as annotators misplace it: moved 1 or 2 steps earlier or later, or missed
    /// (the solution labelled all right), or invented in a right solution.
    Misplaced,
    /// A continuous target mirrored within its range (lo + hi - v): a flipped sign on [-1, 1].
    Mirror,
    /// A continuous target from one end of the range to within 15% of the other.
    FarValue,
}

impl Canary {
    pub fn name(self) -> &'static str {
        match self {
            Canary::Flip => "flips",
            Canary::Misplaced => "misplaced first errors",
            Canary::Mirror => "mirrored values",
            Canary::FarValue => "far values",
        }
    }

    /// The kinds of noise that fit these labels: the audit plants each and keeps the one that
    /// explains the real run's flags best.
    pub fn for_labels(info: &LabelInfo) -> &'static [Canary] {
        match (info.kind, info.first_error) {
            // The data's own noise: flips would count labels that are easy to find, not the
            // misplaced first errors that matter here.
            (LabelKind::Binary { .. }, true) => &[Canary::Misplaced],
            (LabelKind::Binary { .. }, false) => &[Canary::Flip],
            _ => &[Canary::Mirror, Canary::FarValue],
        }
    }
}

/// The share of values at each end left out of a continuous target's range for canaries.
const RANGE_TAIL: f64 = 0.01;

/// The `q` quantile of sorted `values` (nearest rank); 0 when there are none.
fn quantile(values: &[f32], q: f64) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let k = (q * (values.len() - 1) as f64).round() as usize;
    values[k.min(values.len() - 1)]
}

/// A copy of `ds` with canaries of one kind, and which segments' labels were changed (or newly
/// given).
pub fn plant(
    ds: &Dataset,
    info: &LabelInfo,
    canary: Canary,
    rate: f64,
    seed: u64,
) -> (Dataset, Vec<bool>) {
    let mut rng = Rng::new(seed ^ 0xca4a_51e5);
    let mut copy = ds.clone();
    let mut changed = vec![false; ds.segments.len()];
    let labelled: Vec<usize> = (0..ds.segments.len())
        .filter(|&i| ds.segments[i].score.is_some())
        .collect();
    // Canaries are `rate` of the labels, for every kind: a few percent, never most of them.
    let budget = ((rate * labelled.len() as f64).round() as usize).max(1);
    let count = |n: usize| budget.min(n);
    let mut values: Vec<f32> = labelled.iter().map(|&i| ds.target(i)).collect();
    values.sort_by(f32::total_cmp);
    let (lo, hi) = match canary {
        // The two classes.
        Canary::Flip | Canary::Misplaced => (
            values.first().copied().unwrap_or(0.0),
            values.last().copied().unwrap_or(0.0),
        ),
        // The range of the bulk of the values: a handful of wrong values far outside it (the
        // bundled data's batch on a 1-5 scale) would otherwise make every canary far outside the
        // real ones, easier to find than any real mistake.
        Canary::Mirror | Canary::FarValue => (
            quantile(&values, RANGE_TAIL),
            quantile(&values, 1.0 - RANGE_TAIL),
        ),
    };
    let mut pool = labelled.clone();
    rng.shuffle(&mut pool);
    match canary {
        Canary::Misplaced => {
            let mut docs: Vec<usize> = (0..ds.docs.len()).collect();
            rng.shuffle(&mut docs);
            for &d in &docs {
                if changed.iter().filter(|&&c| c).count() >= budget {
                    break;
                }
                let r = ds.docs[d].segments.clone();
                let n = r.len();
                if r.clone().all(|i| ds.segments[i].score.is_none()) {
                    continue;
                }
                let e = r
                    .clone()
                    .position(|i| ds.segments[i].score.is_some_and(|v| !info.kind.is_high(v)));
                // The new first error: None for "no error".
                let e2 = match e {
                    None => Some(rng.below(n)),
                    Some(e) => {
                        let moves: Vec<isize> = [-2isize, -1, 1, 2]
                            .into_iter()
                            .filter(|m| (0..n as isize).contains(&(e as isize + m)))
                            .collect();
                        if moves.is_empty() || rng.unit() < 1.0 / 3.0 {
                            None
                        } else {
                            Some((e as isize + *rng.pick(&moves)) as usize)
                        }
                    }
                };
                for (k, i) in r.enumerate() {
                    let new = match e2.map(|e2| k.cmp(&e2)) {
                        None | Some(std::cmp::Ordering::Less) => Some(hi),
                        Some(std::cmp::Ordering::Equal) => Some(lo),
                        Some(std::cmp::Ordering::Greater) => None,
                    };
                    if new != ds.segments[i].score {
                        changed[i] = new.is_some();
                        copy.segments[i].score = new;
                    }
                }
            }
        }
        Canary::Flip => {
            for &i in &pool[..count(pool.len())] {
                let v = ds.target(i);
                copy.segments[i].score = Some(if info.kind.is_high(v) { lo } else { hi });
                changed[i] = true;
            }
        }
        Canary::Mirror => {
            for &i in &pool[..count(pool.len())] {
                copy.segments[i].score = Some(lo + hi - ds.target(i));
                changed[i] = true;
            }
        }
        Canary::FarValue => {
            let (mid, range) = ((lo + hi) / 2.0, hi - lo);
            for &i in &pool[..count(pool.len())] {
                let u = rng.unit() as f32 * 0.15 * range;
                let v = ds.target(i);
                copy.segments[i].score = Some(if v > mid { lo + u } else { hi - u });
                changed[i] = true;
            }
        }
    }
    (copy, changed)
}

/// Plants canaries into `audit.repeats` copies of `ds` (each with its own seed), cross-fits and
/// scores each as `opts` says, and sets the flag threshold from how the canaries ranked (pooled
/// over the copies: a few percent of a small dataset is too few canaries to calibrate on) and how
/// many segments the real run, `real` (every segment's score, NaN for context), flags.
pub fn run(
    ds: &Dataset,
    features: &Features,
    config: &Config,
    info: LabelInfo,
    opts: &Options,
    real: &[f32],
    mut progress: impl FnMut(usize, usize),
) -> Result<Audit, EngineError> {
    // Per segment, for the posterior audit's link from a copy's segments to the real run's.
    let real_all = real;
    let real: Vec<f32> = real.iter().copied().filter(|s| s.is_finite()).collect();
    let mut best: Option<Audit> = None;
    let kinds = Canary::for_labels(&info);
    let total = kinds.len() * config.audit.repeats;
    for (k, &kind) in kinds.iter().enumerate() {
        let mut copies = Vec::new();
        let mut documents = 0;
        for r in 0..config.audit.repeats {
            progress(k * config.audit.repeats + r, total);
            let seed = opts
                .seed
                .wrapping_add(1 + r as u64)
                .wrapping_mul(0x9e37_79b9);
            let (copy, canary) = plant(ds, &info, kind, config.audit.rate, seed);
            documents += ds
                .docs
                .iter()
                .filter(|d| d.segments.clone().any(|i| canary[i]))
                .count();
            let copy = Arc::new(copy);
            let o = Options {
                seed,
                ..opts.clone()
            };
            let cf = crossfit::run(&copy, features, config, info, &o, |_| {})?;
            let mut scored = Scored::default();
            for (i, ((seg, s), c)) in copy.segments.iter().zip(&cf.scores).zip(canary).enumerate() {
                if seg.score.is_some() {
                    scored.scores.push(s.score);
                    scored.canary.push(c);
                    scored
                        .real
                        .push(real_all.get(i).copied().unwrap_or(f32::NAN));
                }
            }
            copies.push(scored);
        }
        let mut a = if kind == Canary::Misplaced {
            calibrate_posterior(&real, &copies, config.audit.min_precision, kind.name())
        } else {
            calibrate(&real, &copies, config.audit.min_precision, kind.name())
        };
        a.repeats = config.audit.repeats;
        if kind == Canary::Misplaced && a.canaries > 0 && a.estimated_wrong_f.is_finite() {
            a.canary_documents = documents;
            let per_document = a.canaries as f64 / documents.max(1) as f64;
            a.estimated_documents = Some((a.estimated_wrong_f / per_document).round() as usize);
        }
        // The kind that explains the real flags with the fewest wrong labels: a kind harder to
        // find than the data's own noise would credit the flags with wrong labels they lack.
        if best
            .as_ref()
            .is_none_or(|b| a.estimated_wrong_f < b.estimated_wrong_f)
        {
            best = Some(a);
        }
    }
    Ok(best.expect("every label kind has a canary kind"))
}

/// One copy's labelled segments: their label scores, which are canaries, and the real run's
/// score of the same segment (NaN where the real data has no label there).
#[derive(Debug, Clone, Default)]
pub struct Scored {
    pub scores: Vec<f32>,
    pub canary: Vec<bool>,
    pub real: Vec<f32>,
}

/// The least share of the canaries a threshold must rank above to estimate from (see
/// [`calibrate`]). Chosen with `bench/audit_replica.py` (this rule over cached cross-fits of the
/// planted-noise benchmark's copies, seeds 0-4 / 5-9), recall matched by rank: a floor of 0.5
/// left the +1/-1 sentence labels' flags at true precision 0.36 / 0.35 where 0.50 was expected;
/// 0.2 (with `COUNT_SD`) at 0.45 / 0.40, with ProcessBench's flips at 0.53 / 0.57.
const MIN_RECALL: f64 = 0.2;

/// Standard deviations added to each count of real flags before dividing by the canaries'
/// recall: an allowance for fewer of the real wrong labels than of the canaries happening to
/// rank above a threshold, since the minimum over many thresholds picks exactly those. Without
/// it (in the same replica), ProcessBench's flips were expected at 0.50 and reached 0.59 / 0.62.
const COUNT_SD: f64 = 0.5;

/// Fewer canaries found than this at a threshold estimate nothing there.
const MIN_CANARIES: usize = 5;

/// The real scores, descending; at each distinct real score t (descending), (t, N(t), the
/// canaries found at the same rank in each copy, summed); and the number of canaries.
#[allow(clippy::type_complexity)]
fn rank_points(real: &[f32], copies: &[Scored]) -> (Vec<f32>, Vec<(f32, usize, usize)>, usize) {
    let desc = |v: &mut Vec<f32>| v.sort_by(|a, b| b.total_cmp(a));
    let mut real_sorted: Vec<f32> = real.iter().copied().filter(|s| s.is_finite()).collect();
    desc(&mut real_sorted);
    // Per copy: the other segments' scores and the canaries' scores, each descending.
    let mut npos = 0;
    let sorted: Vec<(Vec<f32>, Vec<f32>)> = copies
        .iter()
        .map(|c| {
            let (mut other, mut canaries) = (Vec::new(), Vec::new());
            for (&s, &is) in c.scores.iter().zip(&c.canary) {
                npos += usize::from(is);
                match (is, s.is_finite()) {
                    (true, true) => canaries.push(s),
                    (false, true) => other.push(s),
                    _ => {}
                }
            }
            desc(&mut other);
            desc(&mut canaries);
            (other, canaries)
        })
        .collect();
    // At each distinct real score t (descending): N(t) and the canaries found at that rank.
    let nreal = real_sorted.len().max(1) as f64;
    let mut points: Vec<(f32, usize, usize)> = Vec::new();
    for (k, &t) in real_sorted.iter().enumerate() {
        if real_sorted.get(k + 1) == Some(&t) {
            continue;
        }
        let n = k + 1;
        let found = sorted
            .iter()
            .map(|(other, canaries)| {
                let t_copy = if other.is_empty() {
                    t
                } else {
                    let m = (n as f64 * other.len() as f64 / nreal).round() as usize;
                    other[m.clamp(1, other.len()) - 1]
                };
                canaries.partition_point(|&c| c >= t_copy)
            })
            .sum();
        points.push((t, n, found));
    }
    (real_sorted, points, npos)
}

/// The threshold. Canaries alone cannot give the flags' precision: wrong labels already in the
/// data rank among them and would count as false flags. So, for each threshold t, with N(t) the
/// real run's flags and r(t) the canaries' recall at the same rank in each copy (a copy is
/// noisier than the real data, so its scores sit on a shifted scale; the threshold that flags
/// the same share of a copy's other segments is the one comparable to t):
/// - the data holds about E = min over t of N(t) / r(t) wrong labels (N(t) >= E r(t) at every t,
///   since the flags include the E r(t) wrong labels found; the minimum is where false flags are
///   fewest), taken over thresholds above at least `MIN_RECALL` of the canaries, with N(t)
///   raised by `COUNT_SD` of its Poisson spread: the minimum of many noisy ratios is biased low;
/// - the flags' expected precision is E r(t) / N(t), their expected recall r(t).
///
/// The threshold is the lowest whose expected precision is at least `min_precision`. This
/// assumes real wrong labels are as easy to find as the canaries, and that the real run's top
/// flags are nearly all wrong; BENCHMARKS.md measures how far the expectation is from the truth
/// on planted noise, and where those assumptions fail.
pub fn calibrate(
    real: &[f32],
    copies: &[Scored],
    min_precision: f64,
    canary_kind: &'static str,
) -> Audit {
    let (_, points, npos) = rank_points(real, copies);
    let errors = points
        .iter()
        .filter(|p| p.2 >= MIN_CANARIES && p.2 as f64 >= MIN_RECALL * npos as f64)
        .map(|&(_, n, c)| (n as f64 + COUNT_SD * (n as f64).sqrt()) * npos as f64 / c as f64)
        .fold(f64::INFINITY, f64::min);
    let mut best = None;
    let mut highest = (0.0f64, 0usize);
    if errors.is_finite() {
        for &(t, n, c) in &points {
            let found = errors * c as f64 / npos.max(1) as f64;
            let precision = (found / n as f64).min(1.0);
            if precision >= highest.0 {
                highest = (precision, n);
            }
            if found / n as f64 >= min_precision {
                best = Some((t, n, c, found));
            }
        }
    }
    let chosen = best.map(|(t, n, c, found)| Chosen {
        threshold: t,
        flagged: n,
        found: c,
        precision: (found / n as f64).min(1.0),
    });
    let mut a = figures(
        copies,
        canary_kind,
        real.len(),
        npos,
        errors,
        min_precision,
        chosen,
    );
    (a.best_precision, a.best_flagged) = highest;
    a
}

/// A threshold an audit chose: the flags it gives, the canaries found there, and the flags'
/// expected precision.
struct Chosen {
    threshold: f32,
    flagged: usize,
    found: usize,
    precision: f64,
}

/// The audit's figures for a chosen threshold (or none reached).
fn figures(
    copies: &[Scored],
    canary_kind: &'static str,
    labelled: usize,
    npos: usize,
    errors: f64,
    min_precision: f64,
    chosen: Option<Chosen>,
) -> Audit {
    let reached = chosen.is_some();
    let c = chosen.unwrap_or(Chosen {
        threshold: f32::INFINITY,
        flagged: 0,
        found: 0,
        precision: 0.0,
    });
    let (scores, canary): (Vec<f32>, Vec<bool>) = copies
        .iter()
        .flat_map(|c| c.scores.iter().copied().zip(c.canary.iter().copied()))
        .unzip();
    Audit {
        canary_kind,
        canaries: npos,
        labelled,
        repeats: 1,
        average_precision: average_precision(&scores, &canary),
        estimated_wrong: if errors.is_finite() {
            errors.round() as usize
        } else {
            0
        },
        estimated_wrong_f: errors,
        canary_documents: 0,
        estimated_documents: None,
        threshold: c.threshold,
        min_precision,
        reached,
        flagged: c.flagged,
        precision: c.precision,
        precision_interval: wilson((c.precision * c.flagged as f64).round() as usize, c.flagged),
        recall: c.found as f64 / npos.max(1) as f64,
        recall_interval: wilson(c.found, npos),
        best_precision: 0.0,
        best_flagged: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One copy of 100 labelled segments: 20 canaries (8 at 0.85, 8 at 0.65, 4 at 0.16) and 80
    /// others (3 at 0.8, 8 at 0.6, 40 at 0.15, 29 at 0).
    fn copy() -> Scored {
        let mut scores = vec![0.85; 8];
        scores.extend([0.65; 8]);
        scores.extend([0.16; 4]);
        let mut canary = vec![true; 20];
        for (n, v) in [(3, 0.8), (8, 0.6), (40, 0.15), (29, 0.0)] {
            scores.extend(std::iter::repeat_n(v, n));
            canary.extend(std::iter::repeat_n(false, n));
        }
        let real = vec![f32::NAN; scores.len()];
        Scored {
            scores,
            canary,
            real,
        }
    }

    fn real(counts: &[(usize, f32)]) -> Vec<f32> {
        counts
            .iter()
            .flat_map(|&(n, v)| std::iter::repeat_n(v, n))
            .collect()
    }

    #[test]
    fn calibrate_estimates_precision_from_the_real_flags() {
        // The real run: 4 at 0.9, 10 at 0.7, 50 at 0.2, 36 at 0.05; N = 4, 14, 64, 100.
        let r = real(&[(4, 0.9), (10, 0.7), (50, 0.2), (36, 0.05)]);
        // The copy's 80 others flag N * 0.8 = 3, 11, 51, 80 at 0.8, 0.6, 0.15, 0: canaries found
        // there 8, 16, 20, 20; recall 0.4, 0.8, 1, 1. (Compared with the real scores instead,
        // none would lie above 0.9, and 8 above 0.7.)
        // (N + 0.5 sqrt N) / r: (4 + 1) / 0.4 = 12.5; (14 + 1.871) / 0.8 = 19.84; 68; 105.
        // E = 12.5. Precision: at 0.9, 12.5 * 0.4 / 4 > 1; at 0.7, 12.5 * 0.8 / 14 = 0.714; at
        // 0.2, 12.5 / 64 = 0.195.
        let a = calibrate(&r, &[copy()], 0.5, "flips");
        assert_eq!(a.estimated_wrong, 13);
        assert_eq!((a.threshold, a.flagged), (0.7, 14));
        assert!((a.precision - 10.0 / 14.0).abs() < 1e-9, "{}", a.precision);
        assert!((a.recall - 0.8).abs() < 1e-12);
        let strict = calibrate(&r, &[copy()], 1.0, "flips");
        assert_eq!((strict.flagged, strict.precision), (4, 1.0));
        // With 30 real segments at 0.7 instead (N = 4, 34, 84, 100; the copy's thresholds at
        // ranks 3, 27, 67, 80 are 0.8, 0.15, 0, 0; canaries found 8, 20, 20, 20):
        // (4 + 1) / 0.4 = 12.5; (34 + 2.915) / 1 = 36.9: E = 12.5, and 0.7 flags 34 at 0.37.
        let wide = real(&[(4, 0.9), (30, 0.7), (50, 0.2), (16, 0.05)]);
        let w = calibrate(&wide, &[copy()], 0.3, "flips");
        assert_eq!((w.threshold, w.flagged), (0.7, 34));
        assert!((w.precision - 12.5 / 34.0).abs() < 1e-9, "{}", w.precision);
        let mut none = copy();
        none.canary = vec![false; 100];
        let n = calibrate(&r, &[none], 0.5, "flips");
        assert!(!n.reached && n.threshold.is_infinite() && n.flagged == 0);
    }

    #[test]
    fn a_copy_on_a_shifted_scale_gives_the_same_audit() {
        // A noisier copy's model is less sure of everything: only the order within a copy may
        // count, not where its scores sit against the real run's.
        let r = real(&[(4, 0.9), (10, 0.7), (50, 0.2), (36, 0.05)]);
        let mut shifted = copy();
        for s in &mut shifted.scores {
            *s = *s / 2.0 - 0.3;
        }
        let (a, b) = (
            calibrate(&r, &[copy()], 0.5, "flips"),
            calibrate(&r, &[shifted], 0.5, "flips"),
        );
        assert_eq!(
            (a.threshold, a.flagged, a.estimated_wrong),
            (b.threshold, b.flagged, b.estimated_wrong)
        );
        assert_eq!((a.precision, a.recall), (b.precision, b.recall));
    }
}
