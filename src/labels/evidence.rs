//! Evidence beyond a step's words, weighed by how well each source agrees with the labels: the
//! cross-fit model's probability, the verifiers' verdicts and any outside judges become one
//! probability that the step is right. A logistic model over the sources' log-odds is fitted on
//! the labels of the other folds and applied to each fold in turn (as CROWDLAB weighs annotators
//! by their agreement), so no step's own label sets the weight its evidence gets. The document's
//! first-error structure then reads these probabilities (`score::first_error_posterior`).

use super::judge::Judge;
use super::verify::Verdict;
use crate::data::Dataset;

/// The sources' weights in the combined log-odds (fitted on every label), for the summary.
#[derive(Debug, Clone, Default)]
pub struct Weights {
    pub names: Vec<String>,
    pub values: Vec<f64>,
}

impl Weights {
    /// `model 0.92, a false claim -2.31, ...`.
    pub fn describe(&self) -> String {
        self.names
            .iter()
            .zip(&self.values)
            .skip(1)
            .map(|(n, w)| format!("{n} {w:+.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The features of segment `i`: bias, the model's log-odds, a false claim, only true claims,
/// then per judge its log-odds and whether it is silent.
fn row(i: usize, p_model: &[f64], verdicts: &[Verdict], judges: &[Judge], out: &mut Vec<f64>) {
    out.clear();
    out.push(1.0);
    out.push(if p_model[i].is_finite() {
        logit(p_model[i])
    } else {
        0.0
    });
    let v = &verdicts[i];
    out.push(f64::from(u8::from(v.failed > 0)));
    out.push(f64::from(u8::from(v.checked > 0 && v.failed == 0)));
    for j in judges {
        let p = f64::from(j.p_correct[i]);
        if p.is_finite() {
            out.extend([logit(p), 0.0]);
        } else {
            out.extend([0.0, 1.0]);
        }
    }
}

/// The names of [`row`]'s features.
fn names(judges: &[Judge]) -> Vec<String> {
    let mut n: Vec<String> = ["bias", "model", "a false claim", "true claims only"]
        .into_iter()
        .map(String::from)
        .collect();
    for j in judges {
        n.push(j.name.clone());
        n.push(format!("{} silent", j.name));
    }
    n
}

/// L2 penalty on every weight but the bias: keeps a source seen on few labels (a verifier that
/// fired twice) from a weight it has not earned.
const L2: f64 = 1.0;

/// Fits a logistic model of `y` on rows `x` by Newton's method.
fn fit(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let d = x.first().map_or(0, Vec::len);
    let mut w = vec![0.0; d];
    for _ in 0..25 {
        let mut g = vec![0.0; d];
        let mut h = vec![0.0; d * d];
        for (xi, &yi) in x.iter().zip(y) {
            let p = sigmoid(xi.iter().zip(&w).map(|(a, b)| a * b).sum());
            let r = p - yi;
            let s = p * (1.0 - p);
            for a in 0..d {
                g[a] += r * xi[a];
                for b in 0..d {
                    h[a * d + b] += s * xi[a] * xi[b];
                }
            }
        }
        for a in 1..d {
            g[a] += L2 * w[a];
            h[a * d + a] += L2;
        }
        h[0] += 1e-9;
        let Some(step) = solve(&mut h, &mut g, d) else {
            break;
        };
        let mut moved = 0.0f64;
        for a in 0..d {
            w[a] -= step[a];
            moved = moved.max(step[a].abs());
        }
        if moved < 1e-8 {
            break;
        }
    }
    w
}

/// Solves `h x = g` (h is d x d, row-major) by Gaussian elimination with partial pivoting.
fn solve(h: &mut [f64], g: &mut [f64], d: usize) -> Option<Vec<f64>> {
    for c in 0..d {
        let p = (c..d).max_by(|&a, &b| h[a * d + c].abs().total_cmp(&h[b * d + c].abs()))?;
        if h[p * d + c].abs() < 1e-12 {
            return None;
        }
        for k in 0..d {
            h.swap(c * d + k, p * d + k);
        }
        g.swap(c, p);
        for r in c + 1..d {
            let f = h[r * d + c] / h[c * d + c];
            for k in c..d {
                h[r * d + k] -= f * h[c * d + k];
            }
            g[r] -= f * g[c];
        }
    }
    let mut x = vec![0.0; d];
    for c in (0..d).rev() {
        let s: f64 = (c + 1..d).map(|k| h[c * d + k] * x[k]).sum();
        x[c] = (g[c] - s) / h[c * d + c];
    }
    Some(x)
}

/// Per segment, the probability that it is right given every source, out of fold: `fold[doc]`
/// is each document's fold of `k`; `p_model[i]` the model's out-of-fold probability (NaN where
/// there is none); `right[i]` whether the label says right (None for context). Also the weights
/// fitted on all labels, to report.
pub fn combine(
    ds: &Dataset,
    fold: &[usize],
    k: usize,
    p_model: &[f64],
    right: &[Option<bool>],
    verdicts: &[Verdict],
    judges: &[Judge],
) -> (Vec<f64>, Weights) {
    let n = ds.segments.len();
    let mut x = Vec::with_capacity(n);
    let mut buf = Vec::new();
    for i in 0..n {
        row(i, p_model, verdicts, judges, &mut buf);
        x.push(buf.clone());
    }
    let labelled: Vec<usize> = (0..n).filter(|&i| right[i].is_some()).collect();
    let y_of = |i: usize| f64::from(u8::from(right[i] == Some(true)));
    let fit_on = |keep: &dyn Fn(usize) -> bool| {
        let rows: Vec<usize> = labelled.iter().copied().filter(|&i| keep(i)).collect();
        let xs: Vec<Vec<f64>> = rows.iter().map(|&i| x[i].clone()).collect();
        let ys: Vec<f64> = rows.iter().map(|&i| y_of(i)).collect();
        fit(&xs, &ys)
    };
    let mut p = vec![f64::NAN; n];
    for f in 0..k {
        let w = fit_on(&|i| fold[ds.segments[i].doc] != f);
        for i in (0..n).filter(|&i| fold[ds.segments[i].doc] == f) {
            p[i] = sigmoid(x[i].iter().zip(&w).map(|(a, b)| a * b).sum());
        }
    }
    let all = fit_on(&|_| true);
    (
        p,
        Weights {
            names: names(judges),
            values: all,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newton_recovers_a_known_logistic_model() {
        // y = 1 exactly where 2 x - 1 > 0 would be too easy (separable); instead frequencies:
        // at x = 0, 1 of 4 right; at x = 1, 3 of 4: the fit's log-odds are -ln 3 and +ln 3
        // (shrunk a little by the L2 penalty on the slope).
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (x, rights) in [(0.0, 1), (1.0, 3)] {
            for k in 0..4 {
                xs.push(vec![1.0, x]);
                ys.push(if k < rights { 1.0 } else { 0.0 });
            }
        }
        let w = fit(&xs, &ys);
        let at0 = w[0];
        let at1 = w[0] + w[1];
        assert!(at0 < 0.0 && at1 > 0.0, "{w:?}");
        assert!((at0 + at1).abs() < 1e-6, "symmetric: {w:?}");
        assert!(at1 < 3f64.ln(), "shrunk: {w:?}");
        // The penalised loss is stationary: sum (p - y) x + L2 w = 0 for the slope, and
        // sum (p - y) = 0 for the bias.
        let (mut gb, mut gs) = (0.0, L2 * w[1]);
        for (x, y) in xs.iter().zip(&ys) {
            let r = sigmoid(w[0] + w[1] * x[1]) - y;
            gb += r;
            gs += r * x[1];
        }
        assert!(gb.abs() < 1e-9 && gs.abs() < 1e-9, "{gb} {gs}");
    }

    #[test]
    fn solve_by_hand() {
        // 2a + b = 5, a + 3b = 10: a = 1, b = 3.
        let mut h = vec![2.0, 1.0, 1.0, 3.0];
        let mut g = vec![5.0, 10.0];
        let x = solve(&mut h, &mut g, 2).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 3.0).abs() < 1e-12);
    }
}
