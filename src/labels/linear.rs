//! The fast learner for cross-fitting: a sparse linear model over TF-IDF-weighted hashed n-grams
//! (the featuriser's own word and character n-grams) and the dense features, trained by AdaGrad.
//!
//! Cross-fitting needs K models that each predict what they never saw; it does not need the
//! dashboard's MLP. A linear model over the same n-grams gives out-of-fold probabilities as good
//! for ranking labels (see BENCHMARKS.md, "Wrong labels, found") at a small fraction of the cost:
//! each update touches only the row's own n-grams, never a whole embedding table.

use rayon::prelude::*;

use super::context::{CONTEXT, context};
#[cfg(test)]
use crate::data::features::word_bucket;
use crate::data::features::{DENSE, FeatureSpec, grams, tokenize};
use crate::data::{Dataset, Features};

/// Hash buckets of the linear model. More than the MLP's table: a weight is 4 bytes, not a row.
pub const LINEAR_BUCKETS: usize = 1 << 20;

/// Bits of a packed row entry that hold the n-gram's count in the segment; the rest hold its
/// bucket (`LINEAR_BUCKETS` is 2^20).
const COUNT_BITS: u32 = 12;
const COUNT_MAX: u32 = (1 << COUNT_BITS) - 1;
const _: () = assert!(LINEAR_BUCKETS <= 1 << (32 - COUNT_BITS));

/// Segments per chunk of [`SparseRows::build`]: each chunk's unpacked n-grams exist only while
/// it is packed, so building a million segments' rows never holds more than one chunk of them.
const BUILD_CHUNK: usize = 16_384;

/// Every segment as a sparse vector: its distinct n-gram buckets, sorted, with their TF-IDF
/// values (sublinear term frequency times inverse document frequency, normalised to unit
/// length), then the dense features (standardised).
///
/// A row stores each bucket and its count packed in one `u32`, and the value is computed when
/// read, `(1 + ln count) * idf[bucket] / norm[row]`, the same `f32` operations in the same order
/// as storing it would give: 4 bytes an n-gram instead of 8 for a bucket and a value. At a
/// million ProcessBench-length steps the rows are most of a cross-fit's memory.
#[derive(Debug, Clone)]
pub struct SparseRows {
    /// Row `i` is `packed[start[i]..start[i + 1]]`.
    start: Vec<usize>,
    packed: Vec<u32>,
    /// Per bucket, its inverse document frequency.
    idf: Vec<f32>,
    /// Per row, the length its values are divided by.
    norm: Vec<f32>,
    /// `1 + ln c` for each count c that fits a packed entry.
    tf: Vec<f32>,
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

    /// How many n-gram entries the rows hold, all told.
    pub fn entries(&self) -> usize {
        self.packed.len()
    }

    /// Row `i`'s packed entries, the length its values are divided by, and its dense features.
    #[inline]
    fn raw(&self, i: usize) -> (&[u32], f32, &[f32]) {
        (
            &self.packed[self.start[i]..self.start[i + 1]],
            self.norm[i],
            &self.dense[i * self.dense_width..(i + 1) * self.dense_width],
        )
    }

    /// Row `i`'s (bucket, value) pairs, and its dense features.
    #[inline]
    fn row(&self, i: usize) -> (impl Iterator<Item = (usize, f32)> + '_, &[f32]) {
        let norm = self.norm[i];
        let sparse = self.packed[self.start[i]..self.start[i + 1]]
            .iter()
            .map(move |&p| {
                let id = (p >> COUNT_BITS) as usize;
                (id, self.tf[(p & COUNT_MAX) as usize] * self.idf[id] / norm)
            });
        let d = &self.dense[i * self.dense_width..(i + 1) * self.dense_width];
        (sparse, d)
    }

    /// Builds the rows of every segment from its text (never a label).
    pub fn build(ds: &Dataset, features: &Features, spec: &FeatureSpec) -> SparseRows {
        let spec = FeatureSpec {
            buckets: LINEAR_BUCKETS,
            ..spec.clone()
        };
        let n = ds.segments.len();
        let mut start = Vec::with_capacity(n + 1);
        start.push(0);
        let mut packed: Vec<u32> = Vec::new();
        for chunk in ds.segments.chunks(BUILD_CHUNK) {
            let rows: Vec<Vec<u32>> = chunk
                .par_iter()
                .map(|s| packed_row(&s.text, &spec))
                .collect();
            for row in rows {
                packed.extend_from_slice(&row);
                start.push(packed.len());
            }
        }
        packed.shrink_to_fit();
        let mut df = vec![0u32; LINEAR_BUCKETS];
        for &p in &packed {
            df[(p >> COUNT_BITS) as usize] += 1;
        }
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n as f32) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        drop(df);
        let tf: Vec<f32> = (0..=COUNT_MAX).map(|c| 1.0 + (c as f32).ln()).collect();
        let norm: Vec<f32> = (0..n)
            .into_par_iter()
            .map(|i| {
                packed[start[i]..start[i + 1]]
                    .iter()
                    .map(|&p| {
                        let v = tf[(p & COUNT_MAX) as usize] * idf[(p >> COUNT_BITS) as usize];
                        v * v
                    })
                    .sum::<f32>()
                    .sqrt()
                    .max(1e-12)
            })
            .collect();
        let (dense, width) = dense_rows(ds, features);
        SparseRows {
            start,
            packed,
            idf,
            norm,
            tf,
            dense,
            dense_width: width,
        }
    }
}

/// One text's distinct n-gram buckets, sorted, each packed with its count.
fn packed_row(text: &str, spec: &FeatureSpec) -> Vec<u32> {
    let mut words = tokenize(text);
    words.truncate(spec.max_words);
    let mut g = if spec.hashed {
        grams(&words, spec)
    } else {
        Vec::new()
    };
    g.sort_unstable();
    let mut out: Vec<u32> = Vec::with_capacity(g.len() / 2);
    let mut k = 0;
    while k < g.len() {
        let id = g[k];
        let run = g[k..].iter().take_while(|&&x| x == id).count();
        out.push(id << COUNT_BITS | (run as u32).min(COUNT_MAX));
        k += run;
    }
    out.shrink_to_fit();
    out
}

/// [n, width] dense features, the step's context in its document, and own embeddings,
/// standardised so one learning rate suits them all.
fn dense_rows(ds: &Dataset, features: &Features) -> (Vec<f32>, usize) {
    let n = ds.segments.len();
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
    (dense, width)
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
    /// The prediction for row `i`: a probability (logistic) or a value (squared).
    pub fn predict(&self, rows: &SparseRows, i: usize) -> f32 {
        // Summed in the order `train` sums (sparse, then dense): the same score for the same row.
        let (sparse, d) = rows.row(i);
        let mut z = self.bias;
        for (id, v) in sparse {
            z += self.sparse[id] * v;
        }
        for (w, x) in self.dense.iter().zip(d) {
            z += w * x;
        }
        self.finish(z)
    }

    /// A linear score as the objective's prediction.
    fn finish(&self, z: f32) -> f32 {
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
            sparse: Vec::new(),
            dense: vec![0.0; rows.dense_width],
            bias,
        };
        // Per bucket: its weight, its AdaGrad sum of squares and its idf, side by side, so a
        // row's n-gram costs one cache line, not three scattered ones (the tables are 4 MB each).
        let mut state: Vec<[f32; 4]> = rows.idf.iter().map(|&idf| [0.0, 0.0, idf, 0.0]).collect();
        let mut g2_dense = vec![0.0f32; rows.dense_width];
        let mut g2_bias = 0.0f32;
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut entries: Vec<(usize, f32)> = Vec::new();
        let mut rng = crate::data::hash::Rng::new(s.seed);
        const EPS: f32 = 1e-6;
        for _ in 0..s.epochs {
            // The project's own seeded generator: the same order on every platform.
            rng.shuffle(&mut order);
            for &k in &order {
                let i = train[k];
                // The row's values, computed once for the prediction and the update, in the
                // order and with the operations of `predict`.
                let (packed, norm, d) = rows.raw(i);
                entries.clear();
                let mut z = m.bias;
                for &p in packed {
                    let id = (p >> COUNT_BITS) as usize;
                    let st = &state[id];
                    let v = rows.tf[(p & COUNT_MAX) as usize] * st[2] / norm;
                    z += st[0] * v;
                    entries.push((id, v));
                }
                for (w, x) in m.dense.iter().zip(d) {
                    z += w * x;
                }
                let g = m.finish(z) - y[k];
                for &(id, v) in &entries {
                    let st = &mut state[id];
                    let grad = g * v + s.l2 * st[0];
                    st[1] += grad * grad;
                    st[0] -= s.lr * grad / (st[1] + EPS).sqrt();
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
        m.sparse = state.iter().map(|st| st[0]).collect();
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::features::featurize_dense;
    use crate::data::{ReadOptions, parse_str};

    #[test]
    fn packed_rows_read_back_as_the_tf_idf_definition() {
        // Three steps, one word repeated: the packed (bucket, count) entries must give exactly
        // the stored-value definition (1 + ln count) * idf / norm, in bucket order.
        let text = r#"{"prompt": "p", "segments": [{"text": "add add add two", "score": 1}, {"text": "two apples", "score": 0}, {"text": "add two", "score": 1}]}"#;
        let (ds, _) = parse_str(text, "t", &ReadOptions::default()).unwrap();
        let spec = FeatureSpec::default();
        let rows = SparseRows::build(&ds, &featurize_dense(&ds, &spec), &spec);
        let spec = FeatureSpec {
            buckets: LINEAR_BUCKETS,
            ..spec
        };
        let bags: Vec<Vec<(u32, f32)>> = ds
            .segments
            .iter()
            .map(|s| {
                let mut g = grams(&tokenize(&s.text), &spec);
                g.sort_unstable();
                let mut out: Vec<(u32, f32)> = Vec::new();
                for id in g {
                    match out.last_mut() {
                        Some((last, c)) if *last == id => *c += 1.0,
                        _ => out.push((id, 1.0)),
                    }
                }
                out
            })
            .collect();
        let df = |id: u32| bags.iter().filter(|b| b.iter().any(|x| x.0 == id)).count();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.entries(), bags.iter().map(Vec::len).sum::<usize>());
        for (i, bag) in bags.iter().enumerate() {
            let vals: Vec<f32> = bag
                .iter()
                .map(|&(id, c)| (1.0 + c.ln()) * (((1.0 + 3.0) / (1.0 + df(id) as f32)).ln() + 1.0))
                .collect();
            let norm = vals.iter().map(|v| v * v).sum::<f32>().sqrt();
            let want: Vec<(usize, f32)> = bag
                .iter()
                .zip(&vals)
                .map(|(&(id, _), v)| (id as usize, v / norm))
                .collect();
            let (got, _) = rows.row(i);
            assert_eq!(got.collect::<Vec<_>>(), want, "row {i}");
        }
        // "add" three times in row 0: a count above 1 is kept.
        let counts: Vec<u32> = rows.packed[rows.start[0]..rows.start[1]]
            .iter()
            .map(|p| p & COUNT_MAX)
            .collect();
        assert!(counts.contains(&3), "{counts:?}");
    }

    #[test]
    fn a_count_past_the_packed_width_saturates() {
        let spec = FeatureSpec {
            buckets: LINEAR_BUCKETS,
            word_ngrams: 1,
            char_ngrams: [0, 0],
            max_words: 10_000,
            ..FeatureSpec::default()
        };
        let text = vec!["x"; COUNT_MAX as usize + 10].join(" ");
        let row = packed_row(&text, &spec);
        assert_eq!(row.len(), 1);
        assert_eq!(row[0] & COUNT_MAX, COUNT_MAX);
        assert_eq!(row[0] >> COUNT_BITS, word_bucket("x", LINEAR_BUCKETS));
    }
}
