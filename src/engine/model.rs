//! The segment reward model: mean-pooled hashed n-gram embeddings plus dense features, an MLP,
//! and one scalar per segment.

use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::bags::Bags;

/// Sizes of the model. Saved beside every checkpoint so a checkpoint can be rebuilt. Built from
/// the config's `[model]` and `[features]` sections, which hold the one default of each size.
#[derive(Config, Debug, PartialEq)]
pub struct SegmentModelConfig {
    /// Rows of the embedding table (the featuriser's hash buckets).
    pub buckets: usize,
    /// Number of dense features appended to the pooled embedding.
    pub dense: usize,
    pub embed_dim: usize,
    pub hidden: usize,
    /// Width of the data's own per-segment embeddings, appended to the features (0: none).
    #[config(default = 0)]
    pub extra: usize,
    /// Whether the pooled n-gram embedding is a feature (false: the data's embeddings alone).
    #[config(default = true)]
    pub hashed: bool,
}

impl SegmentModelConfig {
    /// The width of the hidden layer's input: pooled n-grams, dense features, own embeddings.
    pub fn input_width(&self) -> usize {
        let pooled = if self.hashed { self.embed_dim } else { 0 };
        pooled + self.dense + self.extra
    }

    pub fn init(&self, device: &Device) -> SegmentModel {
        // Small embeddings: a mean over ~100 ids of N(0, 1) rows would start the pooled vector far
        // from the scale of the dense features.
        let emb = EmbeddingConfig::new(self.buckets, self.embed_dim)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 0.1,
            })
            .init(device);
        SegmentModel {
            emb,
            hidden: LinearConfig::new(self.input_width(), self.hidden).init(device),
            head: LinearConfig::new(self.hidden, 1).init(device),
            act: Relu::new(),
            hashed: self.hashed,
        }
    }
}

/// The word-type table shared by every batch (see `data::features::Features`): each word type's
/// grams, weighted by their occurrence counts.
#[derive(Debug, Clone)]
pub struct TypeTable {
    pub types: usize,
    pub bags: Bags,
}

/// Inputs for a batch of segments.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub types: TypeTable,
    /// Each row's distinct word types (indices into the type table), weighted count / N.
    pub tok: Bags,
    /// Each row's word-bigram buckets, weighted count / N.
    pub big: Bags,
    /// [n, DENSE] dense features.
    pub dense: Tensor<2>,
    /// [n, E] the data's own embeddings, when it has them.
    pub embedding: Option<Tensor<2>>,
}

impl Inputs {
    pub fn rows(&self) -> usize {
        self.dense.dims()[0]
    }

    /// The rows at `index` ([k] ints), in that order (padded inputs: mini-batches).
    pub fn select(&self, index: Tensor<1, Int>) -> Inputs {
        Inputs {
            types: self.types.clone(),
            tok: self.tok.select(index.clone()),
            big: self.big.select(index.clone()),
            dense: self.dense.clone().select(0, index.clone()),
            embedding: self.embedding.clone().map(|e| e.select(0, index)),
        }
    }

    /// Rows `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Inputs {
        Inputs {
            types: self.types.clone(),
            tok: self.tok.slice(start, end),
            big: self.big.slice(start, end),
            dense: self.dense.clone().slice(start..end),
            embedding: self.embedding.clone().map(|e| e.slice(start..end)),
        }
    }
}

/// How large the model's inputs can make its activations, for [`activation_bound`]: the most
/// total |weight| of embedding rows in any word type's sum (`type_mass`) and in any segment's
/// pooled vector (`row_mass`), and the largest norm of any segment's other inputs, its dense
/// features and its own embedding (`other`; infinite if one is not finite).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InputScale {
    pub type_mass: f64,
    pub row_mass: f64,
    pub other: f64,
}

/// Above this bound an activation might not be finite. Far under f32's 3.4e38, so that the
/// rounding of f32 sums cannot carry a bounded value over it.
pub const ACTIVATION_LIMIT: f64 = 1e30;

/// An upper bound on the absolute value of every activation of a forward pass, on any segment:
/// word-type sums, pooled vectors with the other inputs, the hidden layer and the prediction.
/// `sq` gives each parameter tensor's squared Frobenius norm by name (`hidden.weight`); None if
/// one is missing. Layer by layer: a weighted sum of embedding rows is at most the sum of its
/// |weights| times ‖E‖_F; |W x + b| ≤ ‖W‖_F ‖x‖ + ‖b‖ (Cauchy-Schwarz, for every partial sum
/// too); ReLU does not grow a norm.
pub fn activation_bound(sq: impl Fn(&str) -> Option<f64>, scale: &InputScale) -> Option<f64> {
    // Not `max(0.0)`: that would turn a NaN norm into 0.
    let norm = |name: &str| sq(name).map(f64::sqrt);
    let e = norm("emb.weight")?;
    let (wh, bh) = (norm("hidden.weight")?, norm("hidden.bias")?);
    let (wo, bo) = (norm("head.weight")?, norm("head.bias")?);
    let types = scale.type_mass * e;
    let x = scale.row_mass * e + scale.other;
    let hidden = wh * x + bh;
    let pred = wo * hidden + bo;
    // `max` passes over NaN; the added zero carries a NaN (or an infinity, as NaN) into the
    // bound, which no comparison then accepts.
    Some(types.max(x).max(hidden).max(pred) + (types + x + hidden + pred) * 0.0)
}

#[derive(Module, Debug)]
pub struct SegmentModel {
    pub emb: Embedding,
    pub hidden: Linear,
    pub head: Linear,
    act: Relu,
    /// Whether the pooled n-grams are a feature (see `SegmentModelConfig::hashed`).
    #[module(skip)]
    hashed: bool,
}

impl SegmentModel {
    /// The sum of each word type's own gram embeddings, once per type: [T, d]. It depends only on
    /// the weights, so one value serves every batch of a step.
    pub fn type_sums(&self, types: &TypeTable) -> Tensor<2> {
        let table = self.emb.weight.val();
        if !self.hashed {
            // Unused without the n-grams (and the table is one row): nothing to gather.
            return Tensor::zeros([1, 1], &table.device());
        }
        types.bags.gather(table, types.types)
    }

    /// `type_sums(types)`, given those of a prefix of its types (`prefix`, [k, d]: a table whose
    /// first k types are the prefix's, such as the whole table after the training rows' own; see
    /// `engine::tensors::type_tables`). Each type's sum is its own, so the values are the same.
    pub fn type_sums_after(&self, prefix: Tensor<2>, types: &TypeTable) -> Tensor<2> {
        let k = prefix.dims()[0];
        if !self.hashed || k > types.types {
            return self.type_sums(types);
        }
        if k == types.types {
            return prefix;
        }
        let rest = types.bags.slice(k, types.types);
        let rest = rest.gather(self.emb.weight.val(), types.types - k);
        Tensor::cat(vec![prefix, rest], 0)
    }

    /// The mean of the embeddings of every n-gram of each segment, from the type sums: [n, d].
    fn pooled_from(&self, type_sums: Tensor<2>, x: &Inputs) -> Tensor<2> {
        let n = x.rows();
        x.tok.gather(type_sums, n) + x.big.gather(self.emb.weight.val(), n)
    }

    /// The mean of the embeddings of every n-gram of each segment: [n, d].
    pub fn pooled(&self, x: &Inputs) -> Tensor<2> {
        self.pooled_from(self.type_sums(&x.types), x)
    }

    /// Predicted score per segment, given `type_sums(&x.types)` of this model: [n, 1].
    pub fn forward_from(&self, type_sums: Tensor<2>, x: &Inputs) -> Tensor<2> {
        self.head.forward(self.hidden_from(type_sums, x)) // [n, 1]
    }

    /// The last hidden activation, the output layer's input, given `type_sums(&x.types)`:
    /// [n, hidden].
    pub fn hidden_from(&self, type_sums: Tensor<2>, x: &Inputs) -> Tensor<2> {
        let mut parts = Vec::with_capacity(3);
        if self.hashed {
            parts.push(self.pooled_from(type_sums, x)); // [n, d]
        }
        parts.push(x.dense.clone()); // [n, DENSE]
        if let Some(e) = &x.embedding {
            parts.push(e.clone()); // [n, E]
        }
        let features = Tensor::cat(parts, 1); // [n, input_width]
        self.act.forward(self.hidden.forward(features))
    }

    /// Predicted score per segment: [n, 1].
    pub fn forward(&self, x: &Inputs) -> Tensor<2> {
        self.forward_from(self.type_sums(&x.types), x)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::data::features::featurize;
    use crate::data::{Partition, ReadOptions};
    use crate::engine::instrument::collect;
    use crate::engine::tensors::{input_scale, plain_device, split_inputs};
    use crate::engine::{TrainSettings, Trainer};

    fn max_abs(t: Tensor<2>) -> f64 {
        let v = t.into_data().try_into_vec::<f32>().expect("f32");
        v.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max)
    }

    /// Every activation of a trained model, on every segment, is within the bound its
    /// parameters' norms give; and the bound finds every tensor it needs by name (if a name
    /// changed, a trainer would silently keep its rollback copy through every step).
    #[test]
    fn every_activation_is_within_the_bound() {
        let (ds, _) = crate::data::load(None, &ReadOptions::default()).expect("bundled data");
        let cfg = Config::default();
        let part = Arc::new(Partition::new(&ds, cfg.dev_fraction));
        let f = featurize(&ds, &cfg.features);
        let scale = input_scale(&f);
        let mut t = Trainer::new(
            Arc::new(ds.clone()),
            part,
            f.clone(),
            TrainSettings::from_config(&cfg),
        )
        .expect("trainer");
        for _ in 0..20 {
            t.step();
        }
        let model = t.model().clone();
        let c = collect(&model);
        let sq = |name: &str| {
            let i = c.names.iter().position(|n| n == name)?;
            let v = c.tensors[i]
                .clone()
                .into_data()
                .try_into_vec::<f32>()
                .ok()?;
            Some(v.iter().map(|&x| f64::from(x) * f64::from(x)).sum())
        };
        let bound = activation_bound(sq, &scale).expect("every tensor the bound reads is named");
        assert!(
            bound < ACTIVATION_LIMIT,
            "a trained model is bounded: {bound}"
        );
        let all: Vec<usize> = (0..ds.segments.len()).collect();
        let plain = plain_device(cfg.backend);
        let (x, _) = split_inputs(f, &all, &[], true, &plain);
        let types = model.type_sums(&x.types);
        let hidden = model.hidden_from(types.clone(), &x);
        let pred = model.head.forward(hidden.clone());
        for (what, t) in [
            ("type sum", types),
            ("pooled", model.pooled(&x)),
            ("hidden", hidden),
            ("prediction", pred),
        ] {
            let m = max_abs(t.inner());
            assert!(m <= bound, "{what}: {m} over the bound {bound}");
        }
    }

    #[test]
    fn a_missing_huge_or_nan_norm_proves_nothing() {
        let scale = InputScale {
            type_mass: 3.0,
            row_mass: 2.0,
            other: 1.0,
        };
        let ok = |name: &str| Some(if name == "emb.weight" { 4.0 } else { 1.0 });
        // ‖E‖ = 2: types 6, x 5, hidden 5 + 1, prediction 6 + 1.
        assert_eq!(activation_bound(ok, &scale), Some(7.0));
        let missing = |name: &str| (name != "head.bias").then_some(1.0);
        assert_eq!(activation_bound(missing, &scale), None);
        let huge = |name: &str| Some(if name == "hidden.weight" { 1e70 } else { 1.0 });
        assert!(activation_bound(huge, &scale).is_some_and(|b| b >= ACTIVATION_LIMIT));
        let nan = |name: &str| Some(if name == "head.weight" { f64::NAN } else { 1.0 });
        assert!(!activation_bound(nan, &scale).is_some_and(|b| b < ACTIVATION_LIMIT));
    }
}
