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
    // On the host, in f64: two passes over [n, hidden] where the tensor ops were five, each
    // allocating an [n, hidden] result (this runs beside the training step, every step).
    let host = Host::of(h);
    let h = host.slice();
    let rows = || h.chunks_exact(width).take(n);
    // The summed gradient's weight part: Σ_i ℓ'_i h_i, [hidden].
    let mut g_w = vec![0f64; width];
    for (row, &s) in rows().zip(&slopes) {
        for (g, &x) in g_w.iter_mut().zip(row) {
            *g += f64::from(s) * f64::from(x);
        }
    }
    let g_b: f64 = slopes.iter().map(|&s| f64::from(s)).sum();
    // Per row: ‖h_i‖² and h_i · g_w.
    let (hh, hg): (Vec<f64>, Vec<f64>) = rows().map(|row| row_sums(row, &g_w)).unzip();
    // ‖g_w‖² = Σ_i ℓ'_i (h_i · g_w).
    let g_w_sq: f64 = (0..n).map(|i| f64::from(slopes[i]) * hg[i]).sum();
    let g_norm = (g_w_sq.max(0.0) + g_b * g_b).sqrt();
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

/// Independent partial sums per row: one running sum per quantity would chain every addition on
/// the last (a quarter of this function's time, on the helper thread, at every step).
const LANES: usize = 4;

/// (‖x‖², x · g) of one row, in f64.
fn row_sums(row: &[f32], g: &[f64]) -> (f64, f64) {
    let (mut xx, mut xg) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (rows, row_tail) = row.as_chunks::<LANES>();
    let (gs, g_tail) = g.as_chunks::<LANES>();
    for (x, g) in rows.iter().zip(gs) {
        for j in 0..LANES {
            let x = f64::from(x[j]);
            xx[j] += x * x;
            xg[j] += x * g[j];
        }
    }
    for (&x, &g) in row_tail.iter().zip(g_tail) {
        let x = f64::from(x);
        xx[0] += x * x;
        xg[0] += x * g;
    }
    (xx.iter().sum(), xg.iter().sum())
}
