//! Weighted bags of embedding rows, the model's pooling input: padded (rows of equal width, zero
//! weights on the padding) or flat (one entry per (row, id) pair, no padding).
//!
//! Full-batch inputs are flat: ProcessBench's steps carry 22 distinct words on average and up to
//! 85, so a padded gather moved about 4x the rows it needed, in the forward pass and again in the
//! backward pass (`cargo bench -- profile`; BENCHMARKS.md). Flat bags live on the host and are
//! summed by a backend operation of their own (`engine::bagsum`). Mini-batches select rows on
//! the device, which the padded layout makes one `select`, so they stay padded.

use std::sync::Arc;

use burn::prelude::*;

use super::bagsum::{BagIndex, bag_sum};
use crate::data::features::{Csr, take_rows};

/// Bags for `n` rows.
// A few of these exist per run (train, dev, the type table), moved rarely: their size is no cost.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Bags {
    /// `ids` and `weights` [n, W]; a row's bag is its non-zero weights.
    Padded {
        ids: Tensor<2, Int>,
        weights: Tensor<2>,
    },
    Flat(Flat),
}

/// Flat bags: each row's (table row, weight) entries on the host, summed by the bag-sum
/// operation (`engine::bagsum`). Clones and slices share the arrays.
#[derive(Debug, Clone)]
pub struct Flat(Arc<BagIndex>);

impl Bags {
    /// The bags of `rows` of a host array of `width` ids and weights per row (zero weight:
    /// padding), padded or flat.
    pub fn build(
        ids: &[i32],
        weights: &[f32],
        width: usize,
        rows: &[usize],
        flat: bool,
        device: &Device,
    ) -> Bags {
        if !flat {
            let (pi, pw) = (take_rows(ids, width, rows), take_rows(weights, width, rows));
            return Bags::padded(pi, pw, rows.len(), width, device);
        }
        let row = |r: usize| {
            let span = r * width..(r + 1) * width;
            (&ids[span.clone()], &weights[span])
        };
        Bags::flat(rows.iter().map(|&r| row(r)))
    }

    /// The bags of `rows` of host rows kept without padding, padded (to the longest row of all)
    /// or flat.
    pub fn from_csr(csr: &Csr, rows: &[usize], flat: bool, device: &Device) -> Bags {
        if !flat {
            let width = csr.width();
            let (pi, pw) = csr.padded(rows, width);
            return Bags::padded(pi, pw, rows.len(), width, device);
        }
        Bags::flat(rows.iter().map(|&r| csr.row(r)))
    }

    fn padded(ids: Vec<i32>, weights: Vec<f32>, n: usize, width: usize, device: &Device) -> Bags {
        Bags::Padded {
            ids: Tensor::from_ints(TensorData::new(ids, [n, width]), device),
            weights: Tensor::from_data(TensorData::new(weights, [n, width]), device),
        }
    }

    /// Flat bags of rows given as (ids, weights), zero weights left out.
    fn flat<'a>(rows: impl Iterator<Item = (&'a [i32], &'a [f32])>) -> Bags {
        Bags::Flat(Flat(Arc::new(BagIndex::new(rows))))
    }

    /// Each row's weighted sum of `table`'s rows: [n, d].
    pub fn gather(&self, table: Tensor<2>, n: usize) -> Tensor<2> {
        let d = table.dims()[1];
        match self {
            Bags::Padded { ids, weights } => {
                let width = ids.dims()[1];
                let rows = table.select(0, ids.clone().reshape([n * width])); // [n * W, d]
                let rows = rows.reshape([n, width, d]); // [n, W, d]
                (rows * weights.clone().unsqueeze_dim::<3>(2))
                    .sum_dim(1)
                    .squeeze_dim::<2>(1) // [n, d]
            }
            Bags::Flat(f) => {
                debug_assert_eq!(f.0.rows(), n);
                bag_sum(table, &f.0)
            }
        }
    }

    /// The bags of the rows at `index`. Padded bags only: flat ones are built for full batches,
    /// which never select.
    pub fn select(&self, index: Tensor<1, Int>) -> Bags {
        match self {
            Bags::Padded { ids, weights } => Bags::Padded {
                ids: ids.clone().select(0, index.clone()),
                weights: weights.clone().select(0, index),
            },
            Bags::Flat(_) => unreachable!("mini-batch inputs are built padded"),
        }
    }

    /// The bags of rows `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Bags {
        match self {
            Bags::Padded { ids, weights } => Bags::Padded {
                ids: ids.clone().slice(start..end),
                weights: weights.clone().slice(start..end),
            },
            Bags::Flat(f) => Bags::Flat(Flat(Arc::new(f.0.slice(start, end)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackendKind;
    use crate::engine::tensors::plain_device;

    // Four rows of width 3 over a table of 5 rows; zero weights are padding. Row 2 is empty.
    const IDS: [i32; 12] = [0, 3, 0, 1, 1, 4, 0, 0, 0, 2, 4, 0];
    const W: [f32; 12] = [0.5, 0.5, 0.0, 0.25, 0.25, 0.5, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0];

    fn table(device: &Device) -> Tensor<2> {
        let v: Vec<f32> = (0..10).map(|i| i as f32 * 0.5 - 1.0).collect();
        Tensor::from_data(TensorData::new(v, [5, 2]), device)
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().expect("floats")
    }

    #[test]
    fn flat_and_padded_bags_gather_the_same_sums() {
        let device = plain_device(BackendKind::Flex);
        let rows = [0, 1, 2, 3];
        let padded = Bags::build(&IDS, &W, 3, &rows, false, &device);
        let flat = Bags::build(&IDS, &W, 3, &rows, true, &device);
        let a = values(padded.gather(table(&device), 4));
        let b = values(flat.gather(table(&device), 4));
        // Row 0: 0.5 t0 + 0.5 t3 = 0.5 (-1, -0.5) + 0.5 (2, 2.5) = (0.5, 1); row 2: nothing.
        assert_eq!(&b[..2], &[0.5, 1.0]);
        assert_eq!(&b[4..6], &[0.0, 0.0]);
        assert_eq!(a, b);
    }

    #[test]
    fn a_slice_of_flat_bags_is_the_bags_of_those_rows() {
        let device = plain_device(BackendKind::Flex);
        let all = Bags::build(&IDS, &W, 3, &[0, 1, 2, 3], true, &device);
        let some = Bags::build(&IDS, &W, 3, &[1, 2, 3], true, &device);
        let a = values(all.slice(1, 4).gather(table(&device), 3));
        let b = values(some.gather(table(&device), 3));
        assert_eq!(a, b);
        // Rows with no entry at all, alone.
        let empty = values(all.slice(2, 3).gather(table(&device), 1));
        assert_eq!(empty, [0.0, 0.0]);
    }

    #[test]
    fn the_table_gets_the_same_gradient_through_either_layout() {
        let device = plain_device(BackendKind::Flex).autodiff();
        let rows = [3, 0, 1];
        let grad = |flat: bool| {
            let t = table(&device).require_grad();
            let bags = Bags::build(&IDS, &W, 3, &rows, flat, &device);
            let out = bags.gather(t.clone(), 3);
            let weights = Tensor::<2>::from_data(
                TensorData::new(vec![1.0f32, -2.0, 0.5, 3.0, -1.0, 0.25], [3, 2]),
                &device,
            );
            let g = (out * weights).sum().backward();
            t.grad(&g).map(values).expect("a gradient")
        };
        assert_eq!(grad(true), grad(false));
    }
}
