//! Tensors on the device: the backend's device, the training loss as a tensor, and the input
//! tensors of each split built from the host features.

use burn::prelude::*;

use super::metrics::LossKind;
use super::model::{Inputs, TypeTable};
use crate::config::BackendKind;
use crate::data::Features;
use crate::data::features::{DENSE, take_rows};

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
    let r = pred - target;
    match kind {
        LossKind::Mse => r.powi_scalar(2).mean(),
        LossKind::Mae => r.abs().mean(),
        LossKind::Huber { delta } => {
            // Branch-free Huber: with c = min(|r|, delta), c (|r| - c / 2) is r^2 / 2 inside and
            // delta (|r| - delta / 2) outside.
            let a = r.abs();
            let c = a.clone().clamp_max(delta);
            (c.clone() * (a - c * 0.5)).mean()
        }
    }
}

/// The word-type table as tensors.
fn type_table(f: &Features, device: &Device) -> TypeTable {
    TypeTable {
        ids: Tensor::from_ints(
            TensorData::new(f.type_ids.clone(), [f.types, f.type_width]),
            device,
        ),
        counts: Tensor::from_data(
            TensorData::new(f.type_counts.clone(), [f.types, f.type_width]),
            device,
        ),
    }
}

/// The input tensors of the `train` and `dev` rows (dev `None` when empty), built from `f` one
/// array at a time, each array freed once its rows are copied out: at a million segments the
/// host features are about 400 MB, and a copy of all of them would coexist with them otherwise.
pub fn split_inputs(
    f: Features,
    train: &[usize],
    dev: &[usize],
    device: &Device,
) -> (Inputs, Option<Inputs>) {
    let types = type_table(&f, device);
    let Features {
        tok_width,
        tok_types,
        tok_weights,
        big_width,
        big_ids,
        big_weights,
        dense,
        embedding_dim,
        embedding,
        ..
    } = f;
    let ints = |src: Vec<i32>, width: usize| {
        let make = |rows: &[usize]| {
            Tensor::<2, Int>::from_ints(
                TensorData::new(take_rows(&src, width, rows), [rows.len(), width]),
                device,
            )
        };
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
    let (tt, dt) = ints(tok_types, tok_width);
    let (tw, dw) = floats(tok_weights, tok_width);
    let (tb, db) = ints(big_ids, big_width);
    let (tbw, dbw) = floats(big_weights, big_width);
    let (td, dd) = floats(dense, DENSE);
    let (te, de) = if embedding_dim > 0 {
        let (t, d) = floats(embedding, embedding_dim);
        (Some(t), Some(d))
    } else {
        (None, None)
    };
    let train_x = Inputs {
        types: types.clone(),
        tok_types: tt,
        tok_weights: tw,
        big_ids: tb,
        big_weights: tbw,
        dense: td,
        embedding: te,
    };
    let dev_x = (!dev.is_empty()).then(|| Inputs {
        types,
        tok_types: dt,
        tok_weights: dw,
        big_ids: db,
        big_weights: dbw,
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
