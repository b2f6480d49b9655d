//! Who moves the weights: each training segment's own gradient with respect to the output layer,
//! as a share of all of theirs, and its alignment with their sum.
//!
//! For the output layer `p = w·h + b`, a segment's loss gradient is `ℓ'(r) · [h; 1]`: the loss's
//! slope at its residual times its last hidden activation (and 1 for the bias). It is exact, and
//! needs only the forward pass's `h`: two reductions over [n, hidden] on the device and 2n values
//! to the host.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::metrics::{LossKind, nan_if_null_f32};

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
    let [n, _] = h.dims();
    let slopes: Vec<f32> = residuals
        .iter()
        .enumerate()
        .map(|(k, &r)| {
            let w = weights.get(k).copied().unwrap_or(1.0);
            loss.slope(f64::from(r)).map(|s| s as f32 * w)
        })
        .collect::<Option<_>>()?;
    if n == 0 || n != slopes.len() {
        return Some(vec![GradShare::NONE; n]);
    }
    let d = Tensor::<2>::from_data(TensorData::new(slopes.clone(), [n, 1]), &h.device());
    // The summed gradient's weight part: Σ_i ℓ'_i h_i, [1, hidden].
    let g_w = (h.clone() * d).sum_dim(0);
    let g_b: f64 = slopes.iter().map(|&s| f64::from(s)).sum();
    // Per row: ‖h_i‖² and h_i · g_w, read back together.
    let both = Tensor::cat(
        vec![h.clone().powi_scalar(2).sum_dim(1), (h * g_w).sum_dim(1)],
        1,
    ); // [n, 2]
    let v = both.into_data().try_into_vec::<f32>().unwrap_or_default();
    if v.len() != 2 * n {
        return Some(vec![GradShare::NONE; n]);
    }
    // ‖g_w‖² = Σ_i ℓ'_i (h_i · g_w): no second read-back.
    let g_w_sq: f64 = (0..n)
        .map(|i| f64::from(slopes[i]) * f64::from(v[2 * i + 1]))
        .sum();
    let g_norm = (g_w_sq.max(0.0) + g_b * g_b).sqrt();
    let norms: Vec<f64> = (0..n)
        .map(|i| f64::from(slopes[i]).abs() * (f64::from(v[2 * i]) + 1.0).sqrt())
        .collect();
    let total: f64 = norms.iter().sum();
    Some(
        (0..n)
            .map(|i| {
                let dot = f64::from(slopes[i]) * (f64::from(v[2 * i + 1]) + g_b);
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
