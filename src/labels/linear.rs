//! The fast learner for cross-fitting: a sparse linear model over TF-IDF-weighted hashed n-grams
//! (the featuriser's own word and character n-grams) and the dense features, trained by AdaGrad.
//!
//! Cross-fitting needs K models that each predict what they never saw; it does not need the
//! dashboard's MLP. A linear model over the same n-grams gives out-of-fold probabilities as good
//! for ranking labels (see BENCHMARKS.md, "Wrong labels, found") at a small fraction of the cost:
//! each update touches only the row's own n-grams, never a whole embedding table.

use rayon::prelude::*;

use super::context::{CONTEXT, context};
use crate::data::features::{DENSE, FeatureSpec, grams, tokenize};
use crate::data::{Dataset, Features};

/// Hash buckets of the linear model. More than the MLP's table: a weight is 4 bytes, not a row.
pub const LINEAR_BUCKETS: usize = 1 << 20;

/// One segment as a sparse vector: (bucket, value) sorted by bucket, L2-normalised, then the
/// dense features (standardised) after it.
#[derive(Debug, Clone)]
pub struct SparseRows {
    /// Row `i` is `ids[start[i]..start[i + 1]]`.
    pub start: Vec<usize>,
    pub ids: Vec<u32>,
    pub values: Vec<f32>,
    /// [n, dense_width] standardised dense features (and the data's own embeddings).
    pub dense: Vec<f32>,
    pub dense_width: usize,
}

impl SparseRows {
    pub fn len(&self) -> usize {
        self.start.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row(&self, i: usize) -> (&[u32], &[f32], &[f32]) {
        let r = self.start[i]..self.start[i + 1];
        let d = &self.dense[i * self.dense_width..(i + 1) * self.dense_width];
        (&self.ids[r.clone()], &self.values[r], d)
    }

    /// Builds the rows of every segment: sublinear term frequency times inverse document
    /// frequency (over segments; the texts only, never a label), normalised to unit length.
    pub fn build(ds: &Dataset, features: &Features, spec: &FeatureSpec) -> SparseRows {
        let spec = FeatureSpec {
            buckets: LINEAR_BUCKETS,
            ..spec.clone()
        };
        let counts: Vec<Vec<(u32, f32)>> = ds
            .segments
            .par_iter()
            .map(|s| {
                let mut words = tokenize(&s.text);
                words.truncate(spec.max_words);
                let mut g = if spec.hashed {
                    grams(&words, &spec)
                } else {
                    Vec::new()
                };
                g.sort_unstable();
                let mut out: Vec<(u32, f32)> = Vec::with_capacity(g.len() / 2);
                for id in g {
                    match out.last_mut() {
                        Some((last, c)) if *last == id => *c += 1.0,
                        _ => out.push((id, 1.0)),
                    }
                }
                out
            })
            .collect();
        let n = counts.len();
        let mut df = vec![0u32; LINEAR_BUCKETS];
        for row in &counts {
            for &(id, _) in row {
                df[id as usize] += 1;
            }
        }
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n as f32) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let mut start = Vec::with_capacity(n + 1);
        start.push(0);
        let total: usize = counts.iter().map(Vec::len).sum();
        let mut ids = Vec::with_capacity(total);
        let mut values = Vec::with_capacity(total);
        for row in counts {
            let vals: Vec<f32> = row
                .iter()
                .map(|&(id, c)| (1.0 + c.ln()) * idf[id as usize])
                .collect();
            let norm = vals.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            for ((id, _), v) in row.into_iter().zip(vals) {
                ids.push(id);
                values.push(v / norm);
            }
            start.push(ids.len());
        }
        // Dense features, the step's context in its document, and own embeddings, standardised
        // so one learning rate suits them all.
        let ctx = context(ds);
        let width = DENSE + CONTEXT + features.embedding_dim;
        let mut dense = vec![0.0f32; n * width];
        for i in 0..n {
            let row = &mut dense[i * width..(i + 1) * width];
            row[..DENSE].copy_from_slice(&features.dense[i * DENSE..(i + 1) * DENSE]);
            row[DENSE..DENSE + CONTEXT].copy_from_slice(&ctx[i * CONTEXT..(i + 1) * CONTEXT]);
            let e = features.embedding_dim;
            if e > 0 {
                row[DENSE + CONTEXT..].copy_from_slice(&features.embedding[i * e..(i + 1) * e]);
            }
        }
        for c in 0..width {
            let col = (0..n).map(|i| dense[i * width + c]);
            let mean = col.clone().sum::<f32>() / n.max(1) as f32;
            let var = col.map(|v| (v - mean) * (v - mean)).sum::<f32>() / n.max(1) as f32;
            let sd = var.sqrt().max(1e-6);
            for i in 0..n {
                let v = &mut dense[i * width + c];
                *v = (*v - mean) / sd;
            }
        }
        SparseRows {
            start,
            ids,
            values,
            dense,
            dense_width: width,
        }
    }
}

/// The loss the linear model minimises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Cross-entropy against a target in [0, 1] (binary classes, or soft labels); predicts a
    /// probability.
    Logistic,
    /// Squared error; predicts the target's value.
    Squared,
}

/// Settings of the linear learner.
#[derive(Debug, Clone)]
pub struct LinearSettings {
    pub objective: Objective,
    pub epochs: usize,
    /// AdaGrad's step size.
    pub lr: f32,
    /// L2 penalty per update, on the coordinates the update touches.
    pub l2: f32,
    pub seed: u64,
}

impl LinearSettings {
    pub fn new(objective: Objective, seed: u64) -> LinearSettings {
        // Chosen on ProcessBench's real steps (out-of-fold AUC 0.690, against 0.673 for
        // scikit-learn's logistic regression on TF-IDF n-grams) and checked on the bundled data;
        // a larger step size overfits within the epochs (AUC 0.632 at 0.2).
        LinearSettings {
            objective,
            epochs: 10,
            lr: 0.02,
            l2: 1e-3,
            seed,
        }
    }
}

/// A trained linear model.
#[derive(Debug, Clone)]
pub struct LinearModel {
    objective: Objective,
    sparse: Vec<f32>,
    dense: Vec<f32>,
    bias: f32,
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl LinearModel {
    fn raw(&self, rows: &SparseRows, i: usize) -> f32 {
        let (ids, vals, d) = rows.row(i);
        let mut z = self.bias;
        for (&id, &v) in ids.iter().zip(vals) {
            z += self.sparse[id as usize] * v;
        }
        for (w, x) in self.dense.iter().zip(d) {
            z += w * x;
        }
        z
    }

    /// The prediction for row `i`: a probability (logistic) or a value (squared).
    pub fn predict(&self, rows: &SparseRows, i: usize) -> f32 {
        let z = self.raw(rows, i);
        match self.objective {
            Objective::Logistic => sigmoid(z),
            Objective::Squared => z,
        }
    }

    /// Trains on rows `train` with targets `y` (in [0, 1] for the logistic objective).
    pub fn train(rows: &SparseRows, train: &[usize], y: &[f32], s: &LinearSettings) -> LinearModel {
        let mean = y.iter().sum::<f32>() / y.len().max(1) as f32;
        let bias = match s.objective {
            Objective::Logistic => {
                let m = mean.clamp(1e-3, 1.0 - 1e-3);
                (m / (1.0 - m)).ln()
            }
            Objective::Squared => mean,
        };
        let mut m = LinearModel {
            objective: s.objective,
            sparse: vec![0.0; LINEAR_BUCKETS],
            dense: vec![0.0; rows.dense_width],
            bias,
        };
        let mut g2 = vec![0.0f32; LINEAR_BUCKETS];
        let mut g2_dense = vec![0.0f32; rows.dense_width];
        let mut g2_bias = 0.0f32;
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut rng = crate::data::hash::Rng::new(s.seed);
        const EPS: f32 = 1e-6;
        for _ in 0..s.epochs {
            // The project's own seeded generator: the same order on every platform.
            rng.shuffle(&mut order);
            for &k in &order {
                let i = train[k];
                let g = m.predict(rows, i) - y[k];
                let (ids, vals, d) = rows.row(i);
                for (&id, &v) in ids.iter().zip(vals) {
                    let id = id as usize;
                    let grad = g * v + s.l2 * m.sparse[id];
                    g2[id] += grad * grad;
                    m.sparse[id] -= s.lr * grad / (g2[id] + EPS).sqrt();
                }
                for c in 0..d.len() {
                    let grad = g * d[c] + s.l2 * m.dense[c];
                    g2_dense[c] += grad * grad;
                    m.dense[c] -= s.lr * grad / (g2_dense[c] + EPS).sqrt();
                }
                g2_bias += g * g;
                m.bias -= s.lr * g / (g2_bias + EPS).sqrt();
            }
        }
        m
    }
}
