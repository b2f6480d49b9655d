//! A regression data map: Swayamdipta et al. (2020)'s dataset cartography, moved from
//! classification to regression. Over the last [`WINDOW`] refreshed steps, each segment's mean
//! signed residual, mean |residual| (the analogue of confidence) and variability (the standard
//! deviation of its prediction), and a region: easy, ambiguous or hard.
//!
//! Thresholds are relative to the segment's split, so they follow the target's scale and the gap
//! between fitted and held-out residuals, and with binary labels to its class too (otherwise the
//! minority class is simply "hard"): a segment is ambiguous when its variability exceeds [`K`]
//! times its group's median variability, hard when its mean |residual| exceeds [`K`] times its
//! group's median mean |residual| (and it is not ambiguous), and easy otherwise.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use crate::data::{Partition, Split};
use crate::engine::SegmentEval;

/// Refreshed steps the map looks back over: long enough for a spread to mean something, short
/// enough to describe the model as it is now rather than its first steps.
pub const WINDOW: usize = 20;
/// A value is high above `K` robust standard deviations, where the robust standard deviation is
/// 1.4826 times the split's median: the outlier rule of the rest of segscope (|z| > 3), applied to
/// the window's mean |residual| (measured from zero) and to the variability.
pub const K: f64 = 3.0 * 1.4826;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Easy,
    Ambiguous,
    Hard,
}

impl Region {
    pub const ALL: [Region; 3] = [Region::Easy, Region::Ambiguous, Region::Hard];

    pub fn name(self) -> &'static str {
        match self {
            Region::Easy => "easy",
            Region::Ambiguous => "ambiguous",
            Region::Hard => "hard",
        }
    }
}

/// One segment on the map. NaN and no region for a segment that has no target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub mean_residual: f32,
    pub abs_residual: f32,
    pub variability: f32,
    /// The target (mean prediction plus mean residual), for the gap between two classes.
    pub target: f32,
    pub region: Option<Region>,
}

impl Point {
    const NONE: Point = Point {
        mean_residual: f32::NAN,
        abs_residual: f32::NAN,
        variability: f32::NAN,
        target: f32::NAN,
        region: None,
    };
}

/// The map of every segment (dataset order) over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct DataMap {
    /// The first and last step of the window, and how many refreshed steps it holds.
    pub first: u64,
    pub last: u64,
    pub steps: usize,
    pub points: Vec<Point>,
    /// The thresholds used, per split (train, dev) and class (one class unless the labels are
    /// binary): mean |residual| above `hard_at` is high, variability above `ambiguous_at` is high.
    pub hard_at: [Vec<f32>; 2],
    pub ambiguous_at: [Vec<f32>; 2],
}

impl DataMap {
    /// The map over `window` (oldest first; each entry a refreshed step and its predictions);
    /// `classes` as `labels::classes` gives them (empty: one class). `None` with fewer than two
    /// steps: a spread needs two.
    pub fn of<'a>(
        window: impl IntoIterator<Item = (u64, &'a [SegmentEval])>,
        part: &Partition,
        classes: &[u8],
    ) -> Option<DataMap> {
        let window: Vec<(u64, &[SegmentEval])> = window.into_iter().collect();
        if window.len() < 2 {
            return None;
        }
        let n = window[0].1.len();
        let w = window.len() as f64;
        let mut points = vec![Point::NONE; n];
        for (i, p) in points.iter_mut().enumerate() {
            if !part.is_labelled(i) {
                continue;
            }
            let (mut sr, mut sa, mut sp, mut spp) = (0f64, 0f64, 0f64, 0f64);
            for (_, segs) in &window {
                let e = segs.get(i).copied().unwrap_or(SegmentEval::UNKNOWN);
                let (r, pr) = (f64::from(e.residual), f64::from(e.pred));
                sr += r;
                sa += r.abs();
                sp += pr;
                spp += pr * pr;
            }
            let mean_p = sp / w;
            *p = Point {
                mean_residual: (sr / w) as f32,
                abs_residual: (sa / w) as f32,
                variability: (spp / w - mean_p * mean_p).max(0.0).sqrt() as f32,
                target: (mean_p + sr / w) as f32,
                region: None,
            };
        }
        // Each split against its own medians (dev residuals are out of sample, and larger), and
        // each class against its own.
        let n_classes = classes.iter().max().map_or(1, |&m| usize::from(m) + 1);
        // Two classes: a mean residual beyond half the gap between them puts the step in the
        // other class, which is hard to learn however typical that is of its class (on
        // first-error data the model misses most wrong steps alike, and per-class medians alone
        // called a wrong step at residual 0.98 "easy").
        let half_gap = if n_classes == 2 {
            let (lo, hi) = points
                .iter()
                .map(|p| p.target)
                .filter(|t| t.is_finite())
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), t| {
                    (lo.min(t), hi.max(t))
                });
            if hi > lo {
                (hi - lo) / 2.0
            } else {
                f32::INFINITY
            }
        } else {
            f32::INFINITY
        };
        let class_of = |i: usize| classes.get(i).map_or(0, |&c| usize::from(c));
        let mut hard_at = [vec![f32::NAN; n_classes], vec![f32::NAN; n_classes]];
        let mut ambiguous_at = hard_at.clone();
        for (k, split) in [Split::Train, Split::Dev].into_iter().enumerate() {
            let split_rows = part.indices(split);
            for c in 0..n_classes {
                let rows: Vec<usize> = split_rows
                    .iter()
                    .copied()
                    .filter(|&i| class_of(i) == c)
                    .collect();
                let median_of = |f: fn(&Point) -> f32| {
                    let mut v: Vec<f32> = rows
                        .iter()
                        .map(|&i| f(&points[i]))
                        .filter(|x| x.is_finite())
                        .collect();
                    if v.is_empty() {
                        return f32::NAN;
                    }
                    let mid = v.len() / 2;
                    *v.select_nth_unstable_by(mid, f32::total_cmp).1
                };
                let (h, a) = (
                    ((K as f32) * median_of(|p| p.abs_residual)).min(half_gap),
                    (K as f32) * median_of(|p| p.variability),
                );
                hard_at[k][c] = h;
                ambiguous_at[k][c] = a;
                for &i in &rows {
                    let p = &mut points[i];
                    if !p.abs_residual.is_finite() || !p.variability.is_finite() {
                        continue;
                    }
                    p.region = Some(if p.variability > a {
                        Region::Ambiguous
                    } else if p.abs_residual > h {
                        Region::Hard
                    } else {
                        Region::Easy
                    });
                }
            }
        }
        Some(DataMap {
            first: window[0].0,
            last: window[window.len() - 1].0,
            steps: window.len(),
            points,
            hard_at,
            ambiguous_at,
        })
    }

    /// How many segments of `split` fall in each region (easy, ambiguous, hard).
    pub fn counts(&self, part: &Partition, split: Split) -> [usize; 3] {
        let mut c = [0; 3];
        for i in part.indices(split) {
            if let Some(r) = self.points[i].region {
                c[Region::ALL.iter().position(|&x| x == r).unwrap_or(0)] += 1;
            }
        }
        c
    }
}

/// The last [`WINDOW`] refreshed steps' predictions, for a data map (shared with the reports, so
/// holding them copies nothing).
#[derive(Debug, Clone, Default)]
pub struct Window {
    steps: VecDeque<(u64, Arc<Vec<SegmentEval>>)>,
}

impl Window {
    /// Adds a refreshed step; a step at or before the last one starts the window again (a
    /// rewind).
    pub fn push(&mut self, step: u64, segments: Arc<Vec<SegmentEval>>) {
        if let Some(&(last, _)) = self.steps.back() {
            if step == last {
                return;
            }
            if step < last {
                self.steps.retain(|(s, _)| *s < step);
            }
        }
        self.steps.push_back((step, segments));
        while self.steps.len() > WINDOW {
            self.steps.pop_front();
        }
    }

    /// Forgets every step after `step` (the run went back to it).
    pub fn truncate(&mut self, step: u64) {
        self.steps.retain(|(s, _)| *s <= step);
    }

    pub fn map(&self, part: &Partition, classes: &[u8]) -> Option<DataMap> {
        DataMap::of(
            self.steps.iter().map(|(s, v)| (*s, v.as_slice())),
            part,
            classes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    fn eval(pred: f32, target: f32) -> SegmentEval {
        SegmentEval {
            pred,
            residual: target - pred,
            loss: 0.0,
            share: 0.0,
        }
    }

    #[test]
    fn with_binary_labels_each_class_is_measured_against_itself() {
        // 25 steps labelled 1 fit well (residual 0.1) but one (residual 0.8); 15 labelled 0 sit
        // at residual -0.5, one at -0.95. Together, every label-0 step is "hard"; per class,
        // the label-1 step that misses by far, and the label-0 step the model puts in the other
        // class (beyond half the gap), although its class misses alike.
        let text: String = (0..40)
            .map(|i| {
                let y = if i < 25 { 1.0 } else { 0.0 };
                format!(
                    "{{\"id\": \"d{i}\", \"split\": \"train\", \"segments\": [{{\"text\": \"s\", \"score\": {y}}}]}}\n"
                )
            })
            .collect();
        let ds: Dataset = crate::data::parse_str(&text, "t", &Default::default())
            .expect("data")
            .0;
        let part = Partition::new(&ds, 0.0);
        let preds: Vec<SegmentEval> = (0..40)
            .map(|i| match i {
                0 => eval(0.2, 1.0),
                1..=24 => eval(0.9, 1.0),
                25 => eval(0.95, 0.0),
                _ => eval(0.5, 0.0),
            })
            .collect();
        let window = [(1u64, preds.as_slice()), (2, preds.as_slice())];
        let hard = |m: &DataMap| -> Vec<usize> {
            (0..40)
                .filter(|&i| m.points[i].region == Some(Region::Hard))
                .collect()
        };
        let pooled = DataMap::of(window, &part, &[]).expect("map");
        let mut want: Vec<usize> = vec![0];
        want.extend(25..40);
        assert_eq!(hard(&pooled), want, "pooled: the minority class is hard");
        let classes = crate::labels::classes(&ds);
        let per_class = DataMap::of(window, &part, &classes).expect("map");
        assert_eq!(hard(&per_class), vec![0, 25]);
        assert_eq!(per_class.hard_at[0].len(), 2, "a threshold per class");
    }

    #[test]
    fn regions_follow_residual_and_spread() {
        // Ten training segments with target 1: six settle near it (easy), one settles far from it
        // (hard), one swings (ambiguous).
        let text: String = (0..10)
            .map(|i| {
                format!(
                    "{{\"id\": \"d{i}\", \"prompt\": \"q\", \"split\": \"train\", \"segments\": [{{\"text\": \"s\", \"score\": 1.0}}]}}\n"
                )
            })
            .collect();
        let ds: Dataset = crate::data::parse_str(&text, "t", &Default::default())
            .expect("data")
            .0;
        let part = Partition::new(&ds, 0.0);
        let steps: Vec<(u64, Vec<SegmentEval>)> = (0..4)
            .map(|s| {
                let wobble = if s % 2 == 0 { 0.02 } else { -0.02 };
                let mut v: Vec<SegmentEval> = (0..10)
                    .map(|i| eval(0.9 + wobble * (i as f32 / 10.0), 1.0))
                    .collect();
                v[7] = eval(-0.5, 1.0);
                v[8] = eval(if s % 2 == 0 { 2.0 } else { 0.0 }, 1.0);
                (s + 1, v)
            })
            .collect();
        let m =
            DataMap::of(steps.iter().map(|(s, v)| (*s, v.as_slice())), &part, &[]).expect("map");
        assert_eq!((m.first, m.last, m.steps), (1, 4, 4));
        assert_eq!(m.points[7].region, Some(Region::Hard));
        assert!((m.points[7].mean_residual - 1.5).abs() < 1e-6);
        assert_eq!(m.points[8].region, Some(Region::Ambiguous));
        assert!((m.points[8].variability - 1.0).abs() < 1e-6);
        assert_eq!(m.points[0].region, Some(Region::Easy));
        assert_eq!(m.counts(&part, Split::Train), [8, 1, 1]);
    }

    #[test]
    fn a_window_keeps_the_last_steps_and_restarts_on_a_rewind() {
        let mut w = Window::default();
        let v = Arc::new(vec![SegmentEval::default()]);
        for s in 1..=30 {
            w.push(s, v.clone());
        }
        assert_eq!(w.steps.len(), WINDOW);
        assert_eq!(w.steps.front().map(|x| x.0), Some(11));
        w.push(25, v.clone());
        assert_eq!(w.steps.back().map(|x| x.0), Some(25));
        assert!(w.steps.iter().all(|x| x.0 <= 25));
        assert_eq!(w.steps.len(), 15);
    }
}
