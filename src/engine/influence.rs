//! Who moves the weights: each training segment's own gradient with respect to the output layer,
//! as a share of all of theirs, and its alignment with their sum.
//!
//! For the output layer `p = w·h + b`, a segment's loss gradient is `ℓ'(r) · [h; 1]`: the loss's
//! slope at its residual times its last hidden activation (and 1 for the bias). It is exact, and
//! needs only the forward pass's `h`: two passes over [n, hidden] on the host.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::metrics::{LossKind, nan_if_null_f32};
use super::optim::Host;

/// One training segment's pull on the output layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GradShare {
    /// `‖g_i‖ / Σ_j ‖g_j‖` over the training split: the shares sum to 1.
    #[serde(deserialize_with = "nan_if_null_f32")]
    pub share: f32,
    /// `cos(g_i, Σ_j g_j)`: +1 pulls with the crowd, −1 against it (NaN when either is 0).
    #[serde(deserialize_with = "nan_if_null_f32")]
    pub align: f32,
}

impl GradShare {
    /// A segment with no gradient (dev, context only, or not computed).
    pub const NONE: GradShare = GradShare {
        share: f32::NAN,
        align: f32::NAN,
    };
}

/// Gradient shares of the rows of `h` ([n, hidden], the last hidden activation, no graph needed)
/// whose residuals are `residuals`, in row order, each row's slope scaled by its training weight
/// (`weights`, empty when all are 1; an excluded row pulls nothing). `None` when the loss has no
/// per-segment slope (pairwise).
pub fn grad_shares(
    h: Tensor<2>,
    residuals: &[f32],
    loss: LossKind,
    weights: &[f32],
) -> Option<Vec<GradShare>> {
    let [n, width] = h.dims();
    let slopes: Vec<f32> = residuals
        .iter()
        .enumerate()
        .map(|(k, &r)| {
            let w = weights.get(k).copied().unwrap_or(1.0);
            loss.slope(f64::from(r)).map(|s| s as f32 * w)
        })
        .collect::<Option<_>>()?;
    if n == 0 || width == 0 || n != slopes.len() {
        return Some(vec![GradShare::NONE; n]);
    }
    // On the host, two passes over [n, hidden] where the tensor ops were five, each allocating
    // an [n, hidden] result (this runs beside the training step, every step). The sums run in
    // f32 lanes and are carried in f64 between rows: the shares and alignments are f32, and
    // an f32 sum of one row's 64 products is good to about 1e-6 of it.
    let host = Host::of(h);
    let h = host.slice();
    let rows = || h.chunks_exact(width).take(n);
    // The summed gradient's weight part: Σ_i ℓ'_i h_i, [hidden], in f32 over blocks of rows.
    let mut g_w = vec![0f64; width];
    let mut block = vec![0f32; width];
    for (k, (row, &s)) in rows().zip(&slopes).enumerate() {
        for (b, &x) in block.iter_mut().zip(row) {
            *b += s * x;
        }
        if k % BLOCK == BLOCK - 1 || k + 1 == n {
            for (g, b) in g_w.iter_mut().zip(block.iter_mut()) {
                *g += f64::from(*b);
                *b = 0.0;
            }
        }
    }
    let g_b: f64 = slopes.iter().map(|&s| f64::from(s)).sum();
    let g_w32: Vec<f32> = g_w.iter().map(|&g| g as f32).collect();
    // Per row: ‖h_i‖² and h_i · g_w.
    let (hh, hg): (Vec<f64>, Vec<f64>) = rows().map(|row| row_sums(row, &g_w32)).unzip();
    let g_w_sq: f64 = g_w.iter().map(|g| g * g).sum();
    let g_norm = (g_w_sq + g_b * g_b).sqrt();
    let norms: Vec<f64> = (0..n)
        .map(|i| f64::from(slopes[i]).abs() * (hh[i] + 1.0).sqrt())
        .collect();
    let total: f64 = norms.iter().sum();
    Some(
        (0..n)
            .map(|i| {
                let dot = f64::from(slopes[i]) * (hg[i] + g_b);
                let denom = norms[i] * g_norm;
                GradShare {
                    share: if total > 0.0 {
                        (norms[i] / total) as f32
                    } else {
                        0.0
                    },
                    align: if denom > 0.0 {
                        (dot / denom).clamp(-1.0, 1.0) as f32
                    } else {
                        f32::NAN
                    },
                }
            })
            .collect(),
    )
}

/// Rows summed in f32 before their sum is carried into the f64 total.
const BLOCK: usize = 64;

/// Independent partial sums per row: one running sum per quantity would chain every addition on
/// the last; 8 lanes of each are one vector register with AVX and two with SSE.
const LANES: usize = 8;

/// (‖x‖², x · g) of one row.
fn row_sums(row: &[f32], g: &[f32]) -> (f64, f64) {
    (dot(row, row), dot(row, g))
}

/// `a · b` in `LANES` independent f32 sums, added up in f64. One dot product per loop: with both
/// of a row's sums in one loop the compiler shuffled pairs of values between registers instead of
/// vectorising (half the speed).
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f32; LANES];
    let (a_groups, a_tail) = a.as_chunks::<LANES>();
    let (b_groups, b_tail) = b.as_chunks::<LANES>();
    for (x, y) in a_groups.iter().zip(b_groups) {
        for j in 0..LANES {
            acc[j] += x[j] * y[j];
        }
    }
    let tail: f64 = a_tail
        .iter()
        .zip(b_tail)
        .map(|(&x, &y)| f64::from(x * y))
        .sum();
    tail + acc.iter().map(|&x| f64::from(x)).sum::<f64>()
}
