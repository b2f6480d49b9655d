//! Output buffers for a streaming pass, placed so that its loads and stores do not alias.
//!
//! x86 cores check each load against the stores still in flight by the low 12 bits of their
//! addresses only. When a pass reads some arrays and writes others that start at the same offset
//! within a 4 KiB page, every load looks as if it may depend on a store it does not, and waits.
//! The fused Adam reads four 1M-value arrays and writes three, and where they start is up to the
//! allocator, which often puts one step's buffers 16-48 bytes apart in their pages (seen in a
//! probe). `cargo bench -- adam` times the update's loop on one thread over 1M values: with the
//! seven arrays 16 bytes apart, 0.81-0.85 ms (1.18-1.25 measuring its norms); placed as here,
//! 0.66-0.78 (0.91-0.98). So the outputs are placed, within a buffer one page longer, at offsets
//! away from the inputs' and from each other's; next step they are the inputs.

use std::mem::MaybeUninit;

use burn::prelude::*;
use burn::tensor::{Bytes, DType};

/// The page size whose offsets the alias check compares.
const PAGE: usize = 4096;

/// Candidate offsets: multiples of this many bytes.
const SLOT: usize = 256;

/// Below this many values a pass is too short to stall for long, and the padding would show.
pub const STAGGER_MIN: usize = 1 << 16;

/// The offset of `p` within its 4 KiB page.
pub fn page_offset(p: *const f32) -> usize {
    p as usize % PAGE
}

/// Distance between two page offsets, around the page.
fn apart(a: usize, b: usize) -> usize {
    let d = a.abs_diff(b) % PAGE;
    d.min(PAGE - d)
}

/// `K` page offsets, multiples of [`SLOT`], each chosen in turn as far as possible from `taken`
/// and from those chosen before it (the lowest offset among equals).
pub fn spread<const K: usize>(taken: &[usize]) -> [usize; K] {
    let mut all = taken.to_vec();
    let mut out = [0; K];
    for slot in &mut out {
        let best = (0..PAGE / SLOT)
            .map(|i| i * SLOT)
            .max_by_key(|&c| {
                (
                    all.iter().map(|&t| apart(c, t)).min().unwrap_or(PAGE),
                    PAGE - c,
                )
            })
            .unwrap_or(0);
        *slot = best;
        all.push(best);
    }
    out
}

/// A buffer of `n` values to be written once each, starting at a chosen page offset.
pub struct Staggered {
    values: Vec<f32>,
    n: usize,
    /// Index of the first value: `values[..start]` is padding.
    start: usize,
}

impl Staggered {
    /// Room for `n` values whose first sits at page offset `target` (a multiple of 4), or at the
    /// allocation's start when `target` is None.
    pub fn new(n: usize, target: Option<usize>) -> Staggered {
        let pad = if target.is_some() { PAGE / 4 } else { 0 };
        let mut values = Vec::with_capacity(n + pad);
        let start = target.map_or(0, |t| {
            (t + PAGE - page_offset(values.as_ptr())) % PAGE / size_of::<f32>()
        });
        // The padding is initialised so the vector's length can cover it.
        values.resize(start, 0.0);
        Staggered { values, n, start }
    }

    /// The `n` values, uninitialised, to be written.
    pub fn out(&mut self) -> &mut [MaybeUninit<f32>] {
        &mut self.values.spare_capacity_mut()[..self.n]
    }

    /// The values as a tensor's data of `shape`, without a copy.
    ///
    /// # Safety
    /// Every value of [`Self::out`] has been written.
    pub unsafe fn into_data(mut self, shape: Shape) -> TensorData {
        // SAFETY: the caller wrote the n values after the `start` initialised ones.
        unsafe { self.values.set_len(self.start + self.n) };
        if self.start == 0 {
            return TensorData::new(self.values, shape);
        }
        let (start, end) = (self.start * 4, (self.start + self.n) * 4);
        let bytes = Bytes::from_elems(self.values).shared();
        match bytes.view(start, end) {
            Ok(view) => TensorData::from_bytes(view, shape, DType::F32),
            // A shared allocation always gives views; a copy if one ever does not.
            Err(_) => TensorData::from_bytes_vec(bytes[start..end].to_vec(), shape, DType::F32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_spread_away_from_the_taken_ones_and_each_other() {
        // Inputs bunched within 16 bytes: the outputs spread over the rest of the page, each
        // nearly a quarter of it from its neighbours.
        let taken = [32, 40, 48, 32];
        let out = spread::<3>(&taken);
        let mut all = taken.to_vec();
        for &o in &out {
            assert_eq!(o % SLOT, 0);
            assert!(all.iter().all(|&t| apart(o, t) >= 900), "{o} near {all:?}");
            all.push(o);
        }
        // Seven arrays in a page can always be 512 bytes apart.
        let out = spread::<3>(&[0, 512, 1024, 1536]);
        assert!(
            out.iter()
                .all(|&o| [0, 512, 1024, 1536].iter().all(|&t| apart(o, t) >= 512))
        );
    }

    #[test]
    fn a_staggered_buffer_starts_at_its_offset_and_keeps_its_values() {
        for target in [0, 256, 1280, 3840] {
            let n = 1000;
            let mut b = Staggered::new(n, Some(target));
            for (i, v) in b.out().iter_mut().enumerate() {
                v.write(i as f32);
            }
            // SAFETY: every value was written above.
            let data = unsafe { b.into_data(Shape::new([n / 10, 10])) };
            let t = Tensor::<2>::from_data(
                data,
                &crate::engine::plain_device(crate::config::BackendKind::Flex),
            );
            let host = crate::engine::optim::Host::of(t.clone());
            assert_eq!(page_offset(host.slice().as_ptr()), target);
            let values = t.into_data().try_into_vec::<f32>().expect("f32");
            assert!(values.iter().enumerate().all(|(i, &v)| v == i as f32));
        }
        // Without a target: a plain vector.
        let mut b = Staggered::new(3, None);
        for v in b.out() {
            v.write(1.5);
        }
        // SAFETY: every value was written above.
        let data = unsafe { b.into_data(Shape::new([3])) };
        assert_eq!(data.try_into_vec::<f32>().expect("f32"), vec![1.5; 3]);
    }
}
