//! What step-reward people report for binary labels: AUROC of the predictions, and, for
//! first-error data, ProcessBench's first-error F1 (the harmonic mean of the accuracy on records
//! with an error, where the predicted first error must be the labelled one, and on records
//! without, where none must be predicted).

use super::{LabelInfo, LabelKind};
use crate::data::{Dataset, Partition, Split};
use crate::engine::SegmentEval;

/// AUROC, log loss and Brier score per split (train, dev), and the first-error F1 and its
/// threshold (NaN where they do not apply).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelMetrics {
    pub auroc: (f64, f64),
    /// The predictions read as probabilities of the positive class (clamped to the label range):
    /// exact for a writer whose predictions are probabilities, a reading for regression values.
    pub log_loss: (f64, f64),
    pub brier: (f64, f64),
    /// On dev (train when there is no dev split), at the threshold that maximises it there.
    pub first_error_f1: f64,
    pub threshold: f64,
    /// Why the first-error F1 is missing (null in JSON), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error_f1_missing: Option<String>,
}

/// The area under the ROC curve of `scores` for `positive` (ties count half); NaN without both
/// classes.
pub fn auroc(scores: &[f32], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let npos = positive.iter().filter(|&&p| p).count() as f64;
    let nneg = positive.len() as f64 - npos;
    if npos == 0.0 || nneg == 0.0 {
        return f64::NAN;
    }
    // Sum of the positives' mid-ranks (1-based).
    let (mut rank_sum, mut k) = (0.0, 0);
    while k < order.len() {
        let mut j = k;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[k]] {
            j += 1;
        }
        let mid = (k + j) as f64 / 2.0 + 1.0;
        rank_sum += order[k..=j].iter().filter(|&&i| positive[i]).count() as f64 * mid;
        k = j + 1;
    }
    (rank_sum - npos * (npos + 1.0) / 2.0) / (npos * nneg)
}

/// The metrics of `segments` (one per segment of `ds`) for binary labels; None for other kinds.
pub fn of(
    ds: &Dataset,
    part: &Partition,
    info: &LabelInfo,
    segments: &[SegmentEval],
) -> Option<LabelMetrics> {
    let LabelKind::Binary { lo, hi } = info.kind else {
        return None;
    };
    let split_auroc = |split: Split| {
        let rows: Vec<usize> = part
            .indices(split)
            .into_iter()
            .filter(|&i| segments[i].pred.is_finite())
            .collect();
        let s: Vec<f32> = rows.iter().map(|&i| segments[i].pred).collect();
        let p: Vec<bool> = rows
            .iter()
            .map(|&i| info.kind.is_high(ds.target(i)))
            .collect();
        auroc(&s, &p)
    };
    let auroc = (split_auroc(Split::Train), split_auroc(Split::Dev));
    let scores = |split: Split| -> (f64, f64) {
        let (mut ll, mut br, mut n) = (0.0, 0.0, 0usize);
        for i in part.indices(split) {
            if !segments[i].pred.is_finite() {
                continue;
            }
            let p = super::score::probability(segments[i].pred, lo, hi);
            let y = if info.kind.is_high(ds.target(i)) {
                1.0
            } else {
                0.0
            };
            ll -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
            br += (p - y) * (p - y);
            n += 1;
        }
        if n == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (ll / n as f64, br / n as f64)
        }
    };
    let (tr, dv) = (scores(Split::Train), scores(Split::Dev));
    let (log_loss, brier) = ((tr.0, dv.0), (tr.1, dv.1));
    let (mut f1, mut threshold) = (f64::NAN, f64::NAN);
    let mut missing = None;
    if !info.first_error {
        missing = Some(
            "the data has no first-error semantics (each document's steps right until the first wrong one; data.first_error)".to_string(),
        );
    } else {
        let split = if part.counts().1 > 0 {
            Split::Dev
        } else {
            Split::Train
        };
        let docs: Vec<usize> = (0..ds.docs.len())
            .filter(|&d| part.doc_split(d) == split)
            .collect();
        for k in 1..20 {
            let t = k as f64 / 20.0;
            let f = first_error_f1(ds, &docs, segments, lo, hi, info, t);
            if f.is_finite() && (f1.is_nan() || f > f1) {
                (f1, threshold) = (f, t);
            }
        }
        if f1.is_nan() {
            missing = Some(why_no_f1(ds, &docs, info, split));
        }
    }
    Some(LabelMetrics {
        auroc,
        log_loss,
        brier,
        first_error_f1: f1,
        threshold,
        first_error_f1_missing: missing,
    })
}

/// Why the first-error F1 of `docs` (the documents of `split`) cannot be computed: it needs
/// records both with an error and without.
fn why_no_f1(ds: &Dataset, docs: &[usize], info: &LabelInfo, split: Split) -> String {
    let (mut with, mut without) = (0, 0);
    for &d in docs {
        let labels: Vec<f32> = ds.docs[d]
            .segments
            .clone()
            .filter_map(|i| ds.segments[i].score)
            .collect();
        if labels.is_empty() {
            continue;
        }
        if labels.iter().any(|&v| !info.kind.is_high(v)) {
            with += 1;
        } else {
            without += 1;
        }
    }
    if with + without == 0 {
        format!("the {} split has no labelled record", split.name())
    } else if with == 0 || without == 0 {
        format!(
            "it needs records with an error and without one; the {} split has {with} with and {without} without",
            split.name()
        )
    } else {
        "no step has a prediction yet".to_string()
    }
}

/// The first-error F1 over `docs` when a step whose probability of being right is below `t` is
/// predicted wrong. NaN unless there are records both with and without an error.
pub fn first_error_f1(
    ds: &Dataset,
    docs: &[usize],
    segments: &[SegmentEval],
    lo: f32,
    hi: f32,
    info: &LabelInfo,
    t: f64,
) -> f64 {
    let (mut err, mut err_ok, mut clean, mut clean_ok) = (0, 0, 0, 0);
    for &d in docs {
        let r = ds.docs[d].segments.clone();
        let labelled: Vec<usize> = r.filter(|&i| ds.segments[i].score.is_some()).collect();
        if labelled.is_empty() {
            continue;
        }
        let label = labelled
            .iter()
            .position(|&i| !info.kind.is_high(ds.target(i)));
        let wrong = |i: usize| {
            let p = super::score::probability(segments[i].pred, lo, hi);
            segments[i].pred.is_finite() && p < t
        };
        // Only the labelled steps can be judged: where the label has its first error, every
        // step before it must be predicted right and that one wrong.
        let predicted = labelled.iter().position(|&i| wrong(i));
        match label {
            Some(e) => {
                err += 1;
                err_ok += usize::from(predicted == Some(e));
            }
            None => {
                clean += 1;
                clean_ok += usize::from(predicted.is_none());
            }
        }
    }
    if err == 0 || clean == 0 {
        return f64::NAN;
    }
    let (a, b) = (err_ok as f64 / err as f64, clean_ok as f64 / clean as f64);
    if a + b == 0.0 {
        0.0
    } else {
        2.0 * a * b / (a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_by_hand() {
        // Positives 0.9, 0.4; negatives 0.5, 0.1: pairs won 1 (0.9>0.5), 1 (0.9>0.1), 0, 1 = 3/4.
        let a = auroc(&[0.9, 0.4, 0.5, 0.1], &[true, true, false, false]);
        assert!((a - 0.75).abs() < 1e-12, "{a}");
        // A tie counts half.
        let a = auroc(&[0.5, 0.5], &[true, false]);
        assert!((a - 0.5).abs() < 1e-12);
        assert!(auroc(&[0.1], &[true]).is_nan());
    }

    #[test]
    fn first_error_f1_by_hand() {
        let ds = crate::data::parse_str(
            concat!(
                r#"{"id": "a", "segments": [{"text": "x", "score": 1}, {"text": "y", "score": 0}, {"text": "z", "score": null}]}"#,
                "\n",
                r#"{"id": "b", "segments": [{"text": "x", "score": 1}, {"text": "y", "score": 1}]}"#,
                "\n",
                r#"{"id": "c", "segments": [{"text": "x", "score": 1}, {"text": "y", "score": 0}]}"#,
            ),
            "t",
            &crate::data::ReadOptions::default(),
        )
        .expect("parse")
        .0;
        let info = LabelInfo {
            kind: LabelKind::Binary { lo: 0.0, hi: 1.0 },
            first_error: true,
        };
        let eval = |p: f32| SegmentEval {
            pred: p,
            ..SegmentEval::UNKNOWN
        };
        // a: right (first error at 1); b: right (none); c: wrong (predicted at 0, label at 1).
        let segs = [0.9, 0.2, 0.1, 0.8, 0.7, 0.3, 0.9].map(eval);
        let f = first_error_f1(&ds, &[0, 1, 2], &segs, 0.0, 1.0, &info, 0.5);
        // Error records 1 of 2, clean records 1 of 1: F1 = 2 * 0.5 * 1 / 1.5.
        assert!((f - 2.0 / 3.0).abs() < 1e-12, "{f}");
    }

    #[test]
    fn a_missing_first_error_f1_says_why() {
        // Every record has an error: the F1's clean half has nothing to measure.
        let ds = crate::data::parse_str(
            concat!(
                r#"{"id": "a", "split": "train", "segments": [{"text": "x", "score": 1}, {"text": "y", "score": 0}]}"#,
                "\n",
                r#"{"id": "c", "split": "train", "segments": [{"text": "x", "score": 0}]}"#,
            ),
            "t",
            &crate::data::ReadOptions::default(),
        )
        .expect("parse")
        .0;
        let part = Partition::new(&ds, 0.0);
        let info = LabelInfo {
            kind: LabelKind::Binary { lo: 0.0, hi: 1.0 },
            first_error: true,
        };
        let segs = [0.9f32, 0.2, 0.1].map(|p| SegmentEval {
            pred: p,
            ..SegmentEval::UNKNOWN
        });
        let m = of(&ds, &part, &info, &segs).expect("binary");
        assert!(m.first_error_f1.is_nan());
        let why = m.first_error_f1_missing.clone().expect("a reason");
        assert!(why.contains("2 with and 0 without"), "{why}");
        let json = serde_json::to_string(&m).expect("json");
        assert!(json.contains("first_error_f1_missing"), "{json}");
        let plain = LabelInfo {
            first_error: false,
            ..info
        };
        let m = of(&ds, &part, &plain, &segs).expect("binary");
        assert!(
            m.first_error_f1_missing
                .is_some_and(|w| w.contains("no first-error semantics"))
        );
    }
}
