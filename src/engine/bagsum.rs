//! The weighted bag sum (each row's weighted sum of a table's rows) as one backend operation
//! with its own backward pass: on flex a host kernel split over rayon, elsewhere burn's own ops.
//!
//! As burn's ops the sum was three: a gather of every entry's table row ([P, d], P entries), a
//! multiply by the weights, and a scatter-add into the rows; its backward pass a gather and a
//! scatter-add into a zeroed table. flex runs a scatter-add on one thread, a value at a time: on
//! ProcessBench GSM8K those ops were about half of a full-batch step's work (`perf`; BENCHMARKS.md,
//! session 14). Here the forward pass sums each row's entries in place of the gather, and the
//! backward pass sums each table row's entries, found through a transposed index built once, so
//! both are split over rayon by output row without a lock and without the [P, d] copy. Each
//! output value adds the same products in the same order as burn's ops did, so the values are
//! bit for bit the same (tested).

// burn 0.22 marks ndarray deprecated in favour of flex; it stays selectable for comparison, so the
// operation is routed to it too (the macro's generated routing names it outside any item here).
#![allow(deprecated)]

use std::mem::MaybeUninit;
use std::sync::{Arc, OnceLock};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, Dispatch, Flex, NdArray, TensorMetadata, backend_extension,
};
use burn::prelude::*;
use burn::tensor::{DType, IndexingUpdateOp};
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// Flat bags on the host: row r's entries are `offsets[r]..offsets[r + 1]` of `ids` (a table
/// row) and `weights`. Slices share the arrays.
#[derive(Debug)]
pub struct BagIndex {
    entries: Arc<Entries>,
    /// This index's rows, in the numbering of `entries`.
    start: usize,
    end: usize,
    /// The transposed index, built by the first backward pass through these bags.
    columns: OnceLock<Columns>,
}

#[derive(Debug)]
struct Entries {
    offsets: Vec<usize>,
    ids: Vec<u32>,
    weights: Vec<f32>,
}

/// The entries by table row: table row j's are `offsets[j]..offsets[j + 1]` of `rows` (a bag
/// row, counted from the index's first) and `weights`, in entry order.
#[derive(Debug)]
struct Columns {
    offsets: Vec<usize>,
    rows: Vec<u32>,
    weights: Vec<f32>,
}

/// Rows per rayon task, at least: enough work that a task outweighs its scheduling.
const MIN_ROWS: usize = 64;

impl BagIndex {
    /// The bags of rows given as (ids, weights), zero weights left out.
    pub fn new<'a>(rows: impl Iterator<Item = (&'a [i32], &'a [f32])>) -> BagIndex {
        let (mut ids, mut weights, mut offsets) = (Vec::new(), Vec::new(), vec![0]);
        for (row_ids, row_weights) in rows {
            for (&id, &w) in row_ids.iter().zip(row_weights) {
                if w != 0.0 {
                    // Ids are hash buckets or word types: never negative.
                    ids.push(id.max(0) as u32);
                    weights.push(w);
                }
            }
            offsets.push(ids.len());
        }
        let end = offsets.len() - 1;
        BagIndex {
            entries: Arc::new(Entries {
                offsets,
                ids,
                weights,
            }),
            start: 0,
            end,
            columns: OnceLock::new(),
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.end - self.start
    }

    /// Entries of all rows.
    pub fn len(&self) -> usize {
        self.span().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bags of rows `start..end` of these, sharing their arrays.
    pub fn slice(&self, start: usize, end: usize) -> BagIndex {
        assert!(
            start <= end && end <= self.rows(),
            "bag rows {start}..{end} of {}",
            self.rows()
        );
        BagIndex {
            entries: self.entries.clone(),
            start: self.start + start,
            end: self.start + end,
            columns: OnceLock::new(),
        }
    }

    /// The entries of all rows, as a range of the shared arrays.
    fn span(&self) -> std::ops::Range<usize> {
        self.entries.offsets[self.start]..self.entries.offsets[self.end]
    }

    /// Row r's entries, as a range of the shared arrays.
    fn row(&self, r: usize) -> std::ops::Range<usize> {
        self.entries.offsets[self.start + r]..self.entries.offsets[self.start + r + 1]
    }

    /// Each row's weighted sum of `table`'s rows ([_, d], row-major): [rows, d].
    fn sum_rows(&self, table: &[f32], d: usize) -> Vec<f32> {
        let e = &*self.entries;
        let mut out = vec![0.0f32; self.rows() * d];
        if d == 0 {
            return out;
        }
        out.par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(r, o)| {
                let span = self.row(r);
                for (&id, &w) in e.ids[span.clone()].iter().zip(&e.weights[span]) {
                    let t = &table[id as usize * d..(id as usize + 1) * d];
                    // Product, then sum, rounded apart: burn's multiply and scatter-add.
                    for (o, &t) in o.iter_mut().zip(t) {
                        *o += t * w;
                    }
                }
            });
        out
    }

    /// The gradient of a `table_rows`-row table from that of the sums, `grad` ([rows, d]):
    /// each table row's weighted sum of the gradient rows of its entries, [table_rows, d].
    fn sum_columns(&self, grad: &[f32], d: usize, table_rows: usize) -> Vec<f32> {
        let cols = self.columns(table_rows);
        let len = table_rows * d;
        if d == 0 {
            return Vec::new();
        }
        // Uninitialised, each row zeroed by the task that sums it: zeroing the 1M-value table
        // first would be one more pass over it, on one thread.
        let mut out = Vec::<f32>::with_capacity(len);
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(d)
            .with_min_len(MIN_ROWS * 8)
            .enumerate()
            .for_each(|(j, o)| {
                for v in o.iter_mut() {
                    v.write(0.0);
                }
                // SAFETY: every value of `o` was just written.
                let o = unsafe { &mut *(o as *mut [MaybeUninit<f32>] as *mut [f32]) };
                let span = cols.offsets[j]..cols.offsets[j + 1];
                for (&r, &w) in cols.rows[span.clone()].iter().zip(&cols.weights[span]) {
                    let g = &grad[r as usize * d..(r as usize + 1) * d];
                    for (o, &g) in o.iter_mut().zip(g) {
                        *o += g * w;
                    }
                }
            });
        // SAFETY: the chunks above cover 0..len, and each task writes all of its chunk.
        unsafe { out.set_len(len) };
        out
    }

    /// The transposed index over a table of `table_rows` rows, built once (a counting sort, so
    /// each table row's entries keep their order). Every id is below `table_rows`: the forward
    /// pass indexed the table with it.
    fn columns(&self, table_rows: usize) -> &Columns {
        let cols = self.columns.get_or_init(|| {
            let e = &*self.entries;
            let span = self.span();
            let mut offsets = vec![0usize; table_rows + 1];
            for &id in &e.ids[span.clone()] {
                offsets[id as usize + 1] += 1;
            }
            for j in 0..table_rows {
                offsets[j + 1] += offsets[j];
            }
            let mut next = offsets.clone();
            let (mut rows, mut weights) = (vec![0u32; span.len()], vec![0f32; span.len()]);
            for r in 0..self.rows() {
                let row = self.row(r);
                for (&id, &w) in e.ids[row.clone()].iter().zip(&e.weights[row]) {
                    let at = &mut next[id as usize];
                    rows[*at] = r as u32;
                    weights[*at] = w;
                    *at += 1;
                }
            }
            Columns {
                offsets,
                rows,
                weights,
            }
        });
        assert_eq!(
            cols.offsets.len(),
            table_rows + 1,
            "bags transposed for one table and used with another"
        );
        cols
    }

    /// Each entry's bag row, table row and weight, as host arrays.
    fn entries(&self) -> (Vec<i32>, Vec<i32>, Vec<f32>) {
        let e = &*self.entries;
        let span = self.span();
        let mut rows = Vec::with_capacity(span.len());
        for r in 0..self.rows() {
            rows.extend(std::iter::repeat_n(r as i32, self.row(r).len()));
        }
        let ids = e.ids[span.clone()].iter().map(|&i| i as i32).collect();
        (rows, ids, e.weights[span].to_vec())
    }
}

/// The bag sum on a backend: flex runs the host kernels, others burn's ops (the default bodies).
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait BagOps: Backend {
    /// Each row's weighted sum of `table`'s rows, [rows, d], of a [_, d] table.
    fn bag_sum(table: FloatTensor<Self>, bags: Arc<BagIndex>) -> FloatTensor<Self> {
        composed_sum::<Self>(table, &bags)
    }

    /// The gradient of a [table_rows, d] table from that of its bag sums, `grad` [rows, d].
    fn bag_sum_backward(
        grad: FloatTensor<Self>,
        bags: Arc<BagIndex>,
        table_rows: usize,
    ) -> FloatTensor<Self> {
        composed_backward::<Self>(grad, &bags, table_rows)
    }
}

/// The sum as burn's ops: gather, multiply, scatter-add (the reference the kernels match).
fn composed_sum<B: Backend>(table: FloatTensor<B>, bags: &BagIndex) -> FloatTensor<B> {
    composed::<B>(table, bags, bags.rows(), false)
}

/// The backward pass as burn's own: gather the gradient rows, multiply, scatter-add.
fn composed_backward<B: Backend>(
    grad: FloatTensor<B>,
    bags: &BagIndex,
    table_rows: usize,
) -> FloatTensor<B> {
    composed::<B>(grad, bags, table_rows, true)
}

/// Each entry's weight times `src`'s row at one end of the entry (its table row forward, its bag
/// row `backward`), added into an `out_rows`-row result at the other end.
fn composed<B: Backend>(
    src: FloatTensor<B>,
    bags: &BagIndex,
    out_rows: usize,
    backward: bool,
) -> FloatTensor<B> {
    let device = src.device();
    let d = src.shape()[1];
    let zeros = B::float_zeros([out_rows, d].into(), &device, src.dtype().into());
    if bags.is_empty() {
        return zeros;
    }
    let (rows, ids, weights) = bags.entries();
    let p = ids.len();
    let index = |v: Vec<i32>| B::int_from_data(TensorData::new(v, [p]), &device);
    let (from, to) = if backward {
        (index(rows), index(ids))
    } else {
        (index(ids), index(rows))
    };
    let weights = B::float_from_data(TensorData::new(weights, [p, 1]), &device);
    let picked = B::float_mul(B::float_select(src, 0, from), weights);
    B::float_select_assign(zeros, 0, to, picked, IndexingUpdateOp::Add)
}

/// A flex tensor's f32 values, row-major: borrowed when contiguous, copied otherwise (a view,
/// such as the pooled columns' slice of a gradient).
fn flex_values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .map(<[f32]>::to_vec)
                .unwrap_or_default(),
        ),
    }
}

impl BagOps for Flex {
    fn bag_sum(table: FlexTensor, bags: Arc<BagIndex>) -> FlexTensor {
        if table.dtype() != DType::F32 {
            return composed_sum::<Flex>(table, &bags);
        }
        let d = table.shape()[1];
        let out = bags.sum_rows(&flex_values(&table), d);
        FlexTensor::from_data(TensorData::new(out, [bags.rows(), d]))
    }

    fn bag_sum_backward(grad: FlexTensor, bags: Arc<BagIndex>, table_rows: usize) -> FlexTensor {
        if grad.dtype() != DType::F32 {
            return composed_backward::<Flex>(grad, &bags, table_rows);
        }
        let d = grad.shape()[1];
        let out = bags.sum_columns(&flex_values(&grad), d, table_rows);
        FlexTensor::from_data(TensorData::new(out, [table_rows, d]))
    }
}

impl BagOps for NdArray {}

/// The bag sum's node in the autodiff graph: its state is the bags and the table's row count.
#[derive(Debug)]
struct BagSumBackward;

impl<B: BagOps> Backward<B, 1> for BagSumBackward {
    type State = (Arc<BagIndex>, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (bags, table_rows) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| {
            B::bag_sum_backward(g, bags, table_rows)
        });
    }
}

impl<B: BagOps, C: CheckpointStrategy> BagOps for Autodiff<B, C> {
    fn bag_sum(table: FloatTensor<Self>, bags: Arc<BagIndex>) -> FloatTensor<Self> {
        let table_rows = table.primitive().shape()[0];
        let (table, node) = table.into_parts();
        // Linear in the table: the backward pass needs only the bags, never the table itself.
        match BagSumBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish((bags.clone(), table_rows), B::bag_sum(table, bags))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::bag_sum(table, bags)),
        }
    }
}

/// Each row's weighted sum of `table`'s rows: [bags.rows(), d].
pub fn bag_sum(table: Tensor<2>, bags: &Arc<BagIndex>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as BagOps>::bag_sum(
        table.into_dispatch(),
        bags.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackendKind;
    use crate::engine::tensors::plain_device;

    /// `rows` bags over a `table_rows`-row table, of 0 to 6 entries each (ids repeat across
    /// rows and within one), from a fixed pseudo-random sequence.
    fn bags(rows: usize, table_rows: usize) -> BagIndex {
        let mut x = 0x9E37_79B9_u64;
        let mut next = move |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m as u64) as usize
        };
        let data: Vec<(Vec<i32>, Vec<f32>)> = (0..rows)
            .map(|_| {
                let k = next(7);
                let ids = (0..k).map(|_| next(table_rows) as i32).collect();
                let weights = (0..k)
                    .map(|_| (next(1000) as f32 - 300.0) / 977.0)
                    .collect();
                (ids, weights)
            })
            .collect();
        BagIndex::new(data.iter().map(|(i, w)| (&i[..], &w[..])))
    }

    fn values(t: FlexTensor) -> Vec<u32> {
        let t = t.to_contiguous();
        t.as_slice::<f32>()
            .expect("f32")
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    fn table(rows: usize, d: usize) -> FlexTensor {
        let v: Vec<f32> = (0..rows * d)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 33.0)
            .collect();
        FlexTensor::from_data(TensorData::new(v, [rows, d]))
    }

    /// The kernels give burn's gather, multiply and scatter-add bit for bit, forward and
    /// backward, on sizes that split over several tasks and on rows with no entry.
    #[test]
    fn the_kernels_give_burns_ops_bit_for_bit() {
        for (rows, table_rows, d) in [(5, 4, 3), (1500, 3000, 8), (300, 20, 32)] {
            let b = Arc::new(bags(rows, table_rows));
            assert!(!b.is_empty());
            let t = table(table_rows, d);
            let fast = <Flex as BagOps>::bag_sum(t.clone(), b.clone());
            let slow = composed_sum::<Flex>(t, &b);
            assert_eq!(values(fast), values(slow), "forward, {rows} rows");
            let g = table(rows, d);
            let fast = <Flex as BagOps>::bag_sum_backward(g.clone(), b.clone(), table_rows);
            let slow = composed_backward::<Flex>(g, &b, table_rows);
            assert_eq!(values(fast), values(slow), "backward, {rows} rows");
        }
    }

    /// A gradient view (strided, as the pooled columns' part of a larger gradient) reads as
    /// its values.
    #[test]
    fn a_strided_gradient_is_read_by_its_values() {
        let b = Arc::new(bags(40, 10));
        let wide = table(40, 6);
        let view = wide.narrow(1, 2, 3);
        assert!(view.as_slice::<f32>().is_none(), "a view, not contiguous");
        let fast = <Flex as BagOps>::bag_sum_backward(view.clone(), b.clone(), 10);
        let slow = composed_backward::<Flex>(view.to_contiguous(), &b, 10);
        assert_eq!(values(fast), values(slow));
    }

    /// Through autodiff, on both backends: the table's gradient is that of the same sum written
    /// with burn's tensor ops, and slices of the bags are the bags of those rows.
    #[test]
    fn the_operation_trains_the_table_on_both_backends() {
        for backend in [BackendKind::Flex, BackendKind::Ndarray] {
            let device = plain_device(backend).autodiff();
            let all = Arc::new(bags(30, 12));
            let b = Arc::new(all.slice(4, 30));
            let host = table(12, 4).into_data();
            let grad = |custom: bool| {
                let t = Tensor::<2>::from_data(host.clone(), &device).require_grad();
                let out = if custom {
                    bag_sum(t.clone(), &b)
                } else {
                    // The same sum as burn's tensor ops, on this backend.
                    let (rows, ids, weights) = b.entries();
                    let p = ids.len();
                    let ids = Tensor::<1, Int>::from_ints(TensorData::new(ids, [p]), &device);
                    let rows = Tensor::<1, Int>::from_ints(TensorData::new(rows, [p]), &device);
                    let w = Tensor::<2>::from_data(TensorData::new(weights, [p, 1]), &device);
                    Tensor::<2>::zeros([b.rows(), 4], &device).select_assign(
                        0,
                        rows,
                        t.clone().select(0, ids) * w,
                        IndexingUpdateOp::Add,
                    )
                };
                let out_values = out.clone().into_data().to_vec::<f32>().expect("f32");
                let wts = Tensor::<2>::from_data(
                    TensorData::new(
                        (0..b.rows() * 4)
                            .map(|i| i as f32 * 0.1 - 3.0)
                            .collect::<Vec<_>>(),
                        [b.rows(), 4],
                    ),
                    &device,
                );
                let g = (out * wts).sum().backward();
                let tg = t
                    .grad(&g)
                    .expect("a gradient")
                    .into_data()
                    .to_vec::<f32>()
                    .expect("f32");
                (out_values, tg)
            };
            assert_eq!(grad(true), grad(false), "{backend:?}");
            // The slice's rows are rows 4.. of the whole.
            let whole = bag_sum(Tensor::<2>::from_data(host.clone(), &device), &all)
                .slice(4..30)
                .into_data()
                .to_vec::<f32>()
                .expect("f32");
            assert_eq!(grad(true).0, whole);
        }
    }
}
