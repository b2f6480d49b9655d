//! A regression data map: Swayamdipta et al. (2020)'s dataset cartography, moved from
//! classification to regression. Over the last [`WINDOW`] refreshed steps, each segment's mean
//! signed residual, mean |residual| (the analogue of confidence) and variability (the standard
//! deviation of its prediction), and a region: easy, ambiguous or hard.
//!
//! Thresholds are relative to the segment's split, so they follow the target's scale and the gap
//! between fitted and held-out residuals: a segment is ambiguous when its variability exceeds
//! [`K`] times its split's median variability, hard when its mean |residual| exceeds [`K`] times
//! its split's median mean |residual| (and it is not ambiguous), and easy otherwise.

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
    pub region: Option<Region>,
}

impl Point {
    const NONE: Point = Point {
        mean_residual: f32::NAN,
        abs_residual: f32::NAN,
        variability: f32::NAN,
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
    /// The thresholds used, per split (train, dev): mean |residual| above `hard_at` is high,
    /// variability above `ambiguous_at` is high.
    pub hard_at: [f32; 2],
    pub ambiguous_at: [f32; 2],
}

impl DataMap {
    /// The map over `window` (oldest first; each entry a refreshed step and its predictions).
    /// `None` with fewer than two steps: a spread needs two.
    pub fn of<'a>(
        window: impl IntoIterator<Item = (u64, &'a [SegmentEval])>,
        part: &Partition,
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
                region: None,
            };
        }
        // Each split against its own medians: dev residuals are out of sample, and larger.
        let mut hard_at = [f32::NAN; 2];
        let mut ambiguous_at = [f32::NAN; 2];
        for (k, split) in [Split::Train, Split::Dev].into_iter().enumerate() {
            let rows = part.indices(split);
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
            hard_at[k] = (K as f32) * median_of(|p| p.abs_residual);
            ambiguous_at[k] = (K as f32) * median_of(|p| p.variability);
            for &i in &rows {
                let p = &mut points[i];
                if !p.abs_residual.is_finite() || !p.variability.is_finite() {
                    continue;
                }
                p.region = Some(if p.variability > ambiguous_at[k] {
                    Region::Ambiguous
                } else if p.abs_residual > hard_at[k] {
                    Region::Hard
                } else {
                    Region::Easy
                });
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

    pub fn map(&self, part: &Partition) -> Option<DataMap> {
        DataMap::of(self.steps.iter().map(|(s, v)| (*s, v.as_slice())), part)
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
        let m = DataMap::of(steps.iter().map(|(s, v)| (*s, v.as_slice())), &part).expect("map");
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
