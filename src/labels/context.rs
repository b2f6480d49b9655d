//! A step in its document, for the cross-fit learner: the numbers it uses that neither the
//! problem nor an earlier step produced (a value from nowhere is a common first error). Each
//! document is read once, front to back, so the cost is linear in its length.
//!
//! Tried and left out (planted-noise benchmark, BENCHMARKS.md): the previous step's words as
//! n-grams of their own, and whether the step is the document's last; neither ranked wrong
//! labels better on ProcessBench or the bundled data. The step's position among the labelled
//! steps is not a feature: in first-error data it is the label itself.

use std::collections::HashSet;

use rayon::prelude::*;

use super::verify::expr::{Tok, tokens};
use super::verify::latex;
use crate::data::Dataset;

/// The context features, per segment.
pub const CONTEXT_NAMES: [&str; 2] = ["new_numbers", "new_share"];
pub const CONTEXT: usize = CONTEXT_NAMES.len();

/// A number's key: its value to six decimals (`1,200` and `1200.0` are one number).
fn key(v: f64) -> i64 {
    (v * 1e6).round() as i64
}

/// The numbers a text uses (operands), and those it produces (written straight after `=`).
fn numbers(text: &str) -> (Vec<i64>, Vec<i64>) {
    let t = tokens(&latex::plain(text));
    let (mut used, mut made) = (Vec::new(), Vec::new());
    for (k, tok) in t.iter().enumerate() {
        if let Tok::Num(v, _) = tok {
            if k > 0 && t[k - 1] == Tok::Eq {
                made.push(key(*v));
            } else {
                used.push(key(*v));
            }
        }
    }
    (used, made)
}

/// [n, CONTEXT]: per segment, ln(1 + the count of new numbers) and their share of the numbers
/// it uses.
pub fn context(ds: &Dataset) -> Vec<f32> {
    let per_doc: Vec<Vec<f32>> = ds
        .docs
        .par_iter()
        .map(|doc| {
            let r = doc.segments.clone();
            let mut known: HashSet<i64> = {
                let (u, m) = numbers(&doc.prompt);
                u.into_iter().chain(m).collect()
            };
            let mut dense = Vec::with_capacity(r.len() * CONTEXT);
            for i in r {
                let (used, made) = numbers(&ds.segments[i].text);
                let mine: HashSet<i64> = made.iter().copied().collect();
                let distinct: HashSet<i64> = used.iter().copied().collect();
                let new = distinct
                    .iter()
                    .filter(|n| !known.contains(n) && !mine.contains(n))
                    .count();
                dense.extend([
                    (new as f32).ln_1p(),
                    if distinct.is_empty() {
                        0.0
                    } else {
                        new as f32 / distinct.len() as f32
                    },
                ]);
                known.extend(used);
                known.extend(made);
            }
            dense
        })
        .collect();
    per_doc.concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ReadOptions, parse_str};

    #[test]
    fn a_number_no_earlier_step_or_the_problem_produced_is_new() {
        let ds = parse_str(
            concat!(
                r#"{"id": "a", "prompt": "Tom has 3 apples and buys 2.", "segments": ["#,
                r#"{"text": "3 + 2 = 5", "score": 1}, {"text": "5 * 7 = 35", "score": 0}, "#,
                r#"{"text": "So 35.", "score": 0}]}"#
            ),
            "t",
            &ReadOptions::default(),
        )
        .expect("parse")
        .0;
        let c = context(&ds);
        let d = |r: usize, k: usize| c[r * CONTEXT + k];
        // Step 0 uses 3 and 2 (the problem's); step 1 uses 5 (step 0's) and 7 (new); step 2
        // uses 35 (step 1's).
        assert_eq!((d(0, 0), d(0, 1)), (0.0, 0.0));
        assert!((d(1, 0) - 1f32.ln_1p()).abs() < 1e-6 && (d(1, 1) - 0.5).abs() < 1e-6);
        assert_eq!((d(2, 0), d(2, 1)), (0.0, 0.0));
    }
}
