//! Tensors on the device: the backend's device, the training loss as a tensor, and the input
//! tensors of each split built from the host features.

use burn::prelude::*;

use super::bags::Bags;
use super::metrics::LossKind;
use super::model::{InputScale, Inputs, TypeTable};
use crate::config::BackendKind;
use crate::data::Features;
use crate::data::features::{Csr, DENSE, take_rows};

/// A plain (non-autodiff) device of the chosen backend.
pub fn plain_device(kind: BackendKind) -> Device {
    match kind {
        BackendKind::Flex => Device::flex(),
        // burn 0.22 marks ndarray deprecated in favour of flex; it stays selectable for comparison.
        #[allow(deprecated)]
        BackendKind::Ndarray => Device::ndarray(),
    }
}

/// The mean per-segment loss of a batch as a [1] tensor; `pred` and `target` are [n, 1].
pub fn loss_tensor(pred: Tensor<2>, target: Tensor<2>, kind: LossKind) -> Tensor<1> {
    per_row_loss(pred - target, kind).mean()
}

/// Each row's loss at residual `r` (prediction - target), [n, 1].
fn per_row_loss(r: Tensor<2>, kind: LossKind) -> Tensor<2> {
    match kind {
        LossKind::Mse => r.powi_scalar(2),
        LossKind::Mae => r.abs(),
        // A pairwise objective needs its pairs: see `objective`. Pointwise, the yardstick.
        LossKind::Pairwise => r.powi_scalar(2),
        LossKind::Huber { delta } => {
            // Branch-free Huber: with c = min(|r|, delta), c (|r| - c / 2) is r^2 / 2 inside and
            // delta (|r| - delta / 2) outside.
            let a = r.abs();
            let c = a.clone().clamp_max(delta);
            c.clone() * (a - c * 0.5)
        }
    }
}

/// Per-row training weights (what-if edits): the rows' weights [n, 1] and their sum.
#[derive(Debug, Clone)]
pub struct RowWeights {
    pub w: Tensor<2>,
    pub sum: f32,
}

impl RowWeights {
    /// The weights of rows `idx`, in that order.
    pub fn select(&self, idx: Tensor<1, Int>, host: &[f32], pos: &[usize]) -> RowWeights {
        RowWeights {
            w: self.w.clone().select(0, idx),
            sum: pos.iter().map(|&p| host[p]).sum(),
        }
    }
}

/// The weighted mean of the rows' losses, sum(w l) / sum(w); 0 (with a graph) when every weight is
/// 0.
fn weighted_loss(pred: Tensor<2>, target: Tensor<2>, kind: LossKind, w: &RowWeights) -> Tensor<1> {
    let l = per_row_loss(pred - target, kind) * w.w.clone();
    if w.sum > 0.0 {
        l.sum() / w.sum
    } else {
        l.sum() * 0.0
    }
}

/// The pairs a pairwise loss compares: rows `hi[k]` and `lo[k]` of one document, with
/// target[hi] > target[lo].
#[derive(Debug, Clone)]
pub struct Pairs {
    pub hi: Tensor<1, Int>,
    pub lo: Tensor<1, Int>,
    pub len: usize,
}

/// At most this many pairs of one document are trained on; a document with more gets a seeded
/// sample, fixed for the run, so a long document cannot outweigh the rest quadratically.
pub const MAX_PAIRS_PER_DOC: usize = 64;

impl Pairs {
    /// Every pair of positions of a group (document) whose targets differ, higher first, sampled
    /// down to [`MAX_PAIRS_PER_DOC`] per group with `rng`; `None` without any pair.
    pub fn build(
        targets: &[f32],
        groups: &[Vec<usize>],
        rng: &mut crate::data::hash::Rng,
        device: &Device,
    ) -> Option<Pairs> {
        let (mut hi, mut lo) = (Vec::new(), Vec::new());
        for g in groups {
            let mut pairs: Vec<(usize, usize)> = Vec::new();
            for &i in g {
                for &j in g {
                    if targets[i] > targets[j] {
                        pairs.push((i, j));
                    }
                }
            }
            if pairs.len() > MAX_PAIRS_PER_DOC {
                rng.shuffle(&mut pairs);
                pairs.truncate(MAX_PAIRS_PER_DOC);
            }
            for (i, j) in pairs {
                hi.push(i as i64);
                lo.push(j as i64);
            }
        }
        let len = hi.len();
        (len > 0).then(|| Pairs {
            hi: Tensor::from_ints(TensorData::new(hi, [len]), device),
            lo: Tensor::from_ints(TensorData::new(lo, [len]), device),
            len,
        })
    }
}

/// The mean Bradley-Terry loss log(1 + exp(-(pred_hi - pred_lo))) over `pairs`; `pred` is [n, 1].
pub fn pairwise_tensor(pred: Tensor<2>, pairs: &Pairs) -> Tensor<1> {
    let d = pred.clone().select(0, pairs.hi.clone()) - pred.select(0, pairs.lo.clone()); // [P, 1]
    // softplus(-d) = max(-d, 0) + log(1 + exp(-|d|)), stable for any d.
    let neg = d.neg();
    (neg.clone().clamp_min(0.0) + neg.abs().neg().exp().log1p()).mean()
}

/// The training objective of `pred` ([n, 1]): a pointwise loss against `target`, or the pairwise
/// loss over `pairs`.
pub fn objective(
    pred: Tensor<2>,
    target: Tensor<2>,
    kind: LossKind,
    pairs: Option<&Pairs>,
    weights: Option<&RowWeights>,
) -> Tensor<1> {
    match (kind, pairs, weights) {
        (LossKind::Pairwise, Some(p), _) => pairwise_tensor(pred, p),
        // No pair at all: nothing to rank, a zero loss that still has a graph.
        (LossKind::Pairwise, None, _) => (pred * 0.0).mean(),
        (_, _, Some(w)) => weighted_loss(pred, target, kind, w),
        _ => loss_tensor(pred, target, kind),
    }
}

/// The scale of every segment's inputs in `f` (see [`InputScale`]), read before the features
/// become tensors.
pub fn input_scale(f: &Features) -> InputScale {
    let abs_sum = |v: &[f32]| v.iter().map(|&x| f64::from(x.abs())).sum::<f64>();
    let norm = |v: &[f32]| {
        v.iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt()
    };
    let type_mass: Vec<f64> = if f.type_width == 0 {
        vec![0.0; f.types]
    } else {
        f.type_counts.chunks(f.type_width).map(abs_sum).collect()
    };
    let mut scale = InputScale {
        type_mass: type_mass.iter().copied().fold(0.0, f64::max),
        ..InputScale::default()
    };
    let mut finite = type_mass.iter().all(|m| m.is_finite());
    for r in 0..f.n {
        let (types, weights) = f.tok.row(r);
        let pooled: f64 = types
            .iter()
            .zip(weights)
            .map(|(&t, &w)| f64::from(w.abs()) * type_mass.get(t as usize).copied().unwrap_or(0.0))
            .sum::<f64>()
            + abs_sum(f.big.row(r).1);
        let dense = f.dense.get(r * DENSE..(r + 1) * DENSE).unwrap_or(&[]);
        let own = f
            .embedding
            .get(r * f.embedding_dim..(r + 1) * f.embedding_dim)
            .unwrap_or(&[]);
        let other = norm(dense) + norm(own);
        finite &= pooled.is_finite() && other.is_finite();
        scale.row_mass = scale.row_mass.max(pooled);
        scale.other = scale.other.max(other);
    }
    if !finite {
        scale.other = f64::INFINITY;
    }
    scale
}

/// The word-type table as tensors. It is never selected from, so always flat.
/// The word-type tables of the `train` rows and of every row: the types the training rows use
/// are put first (rewriting `f.tok`'s ids to that order), so the training rows' table is a prefix
/// of the whole one. A training pass then sums only the types it reads, in its forward pass and
/// again in its backward pass: on ProcessBench GSM8K the dev and unlabelled rows bring words of
/// their own. The values are the same: each type's sum and each row's entries keep their order.
fn type_tables(f: &mut Features, train: &[usize], device: &Device) -> (TypeTable, TypeTable) {
    let mut used = vec![false; f.types];
    for &r in train {
        for &t in f.tok.row(r).0 {
            used[t as usize] = true;
        }
    }
    let order: Vec<usize> = (0..f.types)
        .filter(|&t| used[t])
        .chain((0..f.types).filter(|&t| !used[t]))
        .collect();
    let first = used.iter().filter(|&&u| u).count();
    drop(used);
    let mut new_id = vec![0i32; f.types];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = new as i32;
    }
    for id in &mut f.tok.ids {
        *id = new_id[*id as usize];
    }
    let bags = Bags::build(
        &f.type_ids,
        &f.type_counts,
        f.type_width,
        &order,
        true,
        device,
    );
    let train_table = TypeTable {
        types: first,
        bags: bags.slice(0, first),
    };
    (
        train_table,
        TypeTable {
            types: f.types,
            bags,
        },
    )
}

/// The input tensors of the `train` and `dev` rows (dev `None` when empty), built from `f` one
/// array at a time, each array freed once its rows are copied out: at a million segments the
/// host features are about 400 MB, and a copy of all of them would coexist with them otherwise.
/// `flat`: the n-gram bags without padding, for full batches (see `engine::bags`); mini-batches
/// need them padded.
pub fn split_inputs(
    mut f: Features,
    train: &[usize],
    dev: &[usize],
    flat: bool,
    device: &Device,
) -> (Inputs, Option<Inputs>) {
    let (train_types, types) = type_tables(&mut f, train, device);
    let Features {
        tok,
        big,
        dense,
        embedding_dim,
        embedding,
        ..
    } = f;
    let bags = |csr: Csr| {
        let make = |rows: &[usize]| Bags::from_csr(&csr, rows, flat, device);
        (make(train), make(dev))
    };
    let floats = |src: Vec<f32>, width: usize| {
        let make = |rows: &[usize]| {
            Tensor::<2>::from_data(
                TensorData::new(take_rows(&src, width, rows), [rows.len(), width]),
                device,
            )
        };
        (make(train), make(dev))
    };
    let (tt, dt) = bags(tok);
    let (tb, db) = bags(big);
    let (td, dd) = floats(dense, DENSE);
    let (te, de) = if embedding_dim > 0 {
        let (t, d) = floats(embedding, embedding_dim);
        (Some(t), Some(d))
    } else {
        (None, None)
    };
    let train_x = Inputs {
        types: train_types,
        tok: tt,
        big: tb,
        dense: td,
        embedding: te,
    };
    let dev_x = (!dev.is_empty()).then(|| Inputs {
        types,
        tok: dt,
        big: db,
        dense: dd,
        embedding: de,
    });
    (train_x, dev_x)
}

/// Predictions of `model` for `x` as host values, in one transfer.
pub fn host_preds(pred: Tensor<2>) -> Vec<f32> {
    // A [k, 1] float tensor always converts to Vec<f32>.
    pred.into_data().try_into_vec::<f32>().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackendKind;
    use crate::data::features::{FeatureSpec, featurize};
    use crate::data::{ReadOptions, parse_str};
    use crate::engine::model::SegmentModelConfig;

    /// The training rows' word-type table holds only their types, and pools their rows to the
    /// same values as the whole table does.
    #[test]
    fn the_training_rows_type_table_is_theirs_and_pools_the_same() {
        let text = r#"{"segments": [{"text": "the kettle and the banana", "score": 1}, {"text": "a zebra quietly grazes", "score": 0}, {"text": "banana kettle", "score": 0.5}]}"#;
        let (ds, _) = parse_str(text, "t", &ReadOptions::default()).expect("parses");
        let spec = FeatureSpec::default();
        let device = plain_device(BackendKind::Flex);
        let train = [0, 2];
        // The training rows as `train`, and the same rows again as `dev`, with the whole table.
        let (x, same) = split_inputs(featurize(&ds, &spec), &train, &train, true, &device);
        let same = same.expect("dev rows");
        let (_, all) = split_inputs(featurize(&ds, &spec), &train, &[0, 1, 2], true, &device);
        let all = all.expect("dev rows");
        // "the kettle and banana" are the training rows' types; "a zebra quietly grazes" are not.
        assert_eq!(x.types.types, 4);
        assert_eq!(all.types.types, 8);
        assert_eq!(same.types.types, 8);
        let model =
            SegmentModelConfig::new(spec.buckets, crate::data::features::DENSE, 8, 4).init(&device);
        let values = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().expect("f32");
        assert_eq!(values(model.pooled(&x)), values(model.pooled(&same)));
        // The whole table's sums, from the training rows' own and the rest (the dev pass).
        let whole = model.type_sums(&all.types);
        let after = model.type_sums_after(model.type_sums(&x.types), &all.types);
        assert_eq!(after.dims(), [8, 8]);
        assert_eq!(values(after), values(whole));
    }

    /// The input scale adds up |weights| as the forward pass sums embedding rows: a type's
    /// gram counts, a row's token weights times its types' masses plus its bigram weights.
    #[test]
    fn the_input_scale_adds_up_what_the_forward_pass_sums() {
        let mut dense = vec![0.0f32; 2 * DENSE];
        dense[0] = 3.0;
        dense[1] = 4.0;
        let mut f = Features {
            n: 2,
            types: 2,
            type_width: 2,
            type_ids: vec![0, 1, 2, 0],
            type_counts: vec![1.0, 2.0, 4.0, 0.0],
            tok: Csr {
                offsets: vec![0, 2, 3],
                ids: vec![0, 1, 1],
                weights: vec![0.5, -0.25, 1.0],
            },
            big: Csr {
                offsets: vec![0, 2, 2],
                ids: vec![5, 6],
                weights: vec![0.125, 0.25],
            },
            dense,
            embedding_dim: 0,
            embedding: Vec::new(),
        };
        // Types 3 and 4; rows 0.5 * 3 + 0.25 * 4 + 0.375 = 2.875 and 4; dense norms 5 and 0.
        let want = InputScale {
            type_mass: 4.0,
            row_mass: 4.0,
            other: 5.0,
        };
        assert_eq!(input_scale(&f), want);
        f.dense[2 * DENSE - 1] = f32::NAN;
        assert_eq!(input_scale(&f).other, f64::INFINITY);
    }
}
