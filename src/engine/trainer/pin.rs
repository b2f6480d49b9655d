//! Pinning predictions: moving the output layer so chosen segments start at chosen values (the
//! tour's scenes start from the questions' exact numbers).

use burn::module::Param;

use super::*;

/// Why predictions could not be pinned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PinError {
    #[error(
        "these segments look the same to the model's hidden layer; their predictions cannot be set apart"
    )]
    Indistinct,
    #[error("the output layer has no bias")]
    NoBias,
    #[error("segment {segment} is predicted {predicted} after pinning it to {wanted}")]
    Missed {
        segment: usize,
        predicted: f32,
        wanted: f32,
    },
}

impl Trainer {
    /// Moves the output layer so that each `(segment, value)` is predicted exactly `value`: the
    /// smallest change of the head's weights and bias that does it (one segment: the bias
    /// alone). The hidden layers are untouched, so the model still generalises as it did.
    /// Fails when the segments' hidden activations cannot tell them apart.
    pub fn pin_predictions(&mut self, wanted: &[(usize, f32)]) -> Result<(), PinError> {
        if wanted.is_empty() {
            return Ok(());
        }
        let (preds, hidden) = self.hidden_of_all();
        let k = wanted.len();
        let gap: Vec<f64> = wanted
            .iter()
            .map(|&(i, v)| f64::from(v) - f64::from(preds[i]))
            .collect();
        let width = hidden.first().map_or(0, Vec::len);
        // Rows of A = [h_i, 1]; one segment moves the bias alone (the column of ones).
        let rows: Vec<Vec<f64>> = wanted
            .iter()
            .map(|&(i, _)| {
                let mut r: Vec<f64> = if k == 1 {
                    vec![0.0; width]
                } else {
                    hidden[i].iter().map(|&x| f64::from(x)).collect()
                };
                r.push(1.0);
                r
            })
            .collect();
        // The minimum-norm solution of A d = gap: d = A^T (A A^T)^-1 gap.
        let gram: Vec<Vec<f64>> = rows
            .iter()
            .map(|a| rows.iter().map(|b| dot(a, b)).collect())
            .collect();
        let y = solve(gram, gap).ok_or(PinError::Indistinct)?;
        let mut delta = vec![0f64; width + 1];
        for (r, &yk) in rows.iter().zip(&y) {
            for (d, &a) in delta.iter_mut().zip(r) {
                *d += a * yk;
            }
        }
        let device = self.device.clone();
        let mut model = self.model.clone();
        let w = model.head.weight.val(); // [hidden, 1]
        let dw: Vec<f32> = delta[..width].iter().map(|&x| x as f32).collect();
        let dw = Tensor::<2>::from_data(TensorData::new(dw, [width, 1]), &device);
        model.head.weight = Param::from_tensor((w + dw).detach());
        let bias = model.head.bias.take().ok_or(PinError::NoBias)?;
        model.head.bias = Some(Param::from_tensor(
            (bias.val() + delta[width] as f32).detach(),
        ));
        let optim = self.fresh_optimizer();
        let state = self.state.clone();
        self.restore(model, optim, state);
        self.best = None;
        let now = self.predict_all();
        for &(i, v) in wanted {
            if (now[i] - v).abs() > 1e-3 {
                return Err(PinError::Missed {
                    segment: i,
                    predicted: now[i],
                    wanted: v,
                });
            }
        }
        Ok(())
    }

    /// Every segment's prediction and last hidden activation, in dataset order.
    fn hidden_of_all(&self) -> (Vec<f32>, Vec<Vec<f32>>) {
        let n = self.dataset.segments.len();
        let mut preds = vec![0f32; n];
        let mut hidden = vec![Vec::new(); n];
        let mut put = |x: &Inputs, rows: &[usize]| {
            let (p, h) = self.predict_hidden(x, true);
            let Some(h) = h else { return };
            let width = h.dims()[1];
            let h = h.into_data().try_into_vec::<f32>().unwrap_or_default();
            for (k, &i) in rows.iter().enumerate() {
                preds[i] = p[k];
                hidden[i] = h[k * width..(k + 1) * width].to_vec();
            }
        };
        put(&self.train_x, &self.train_rows);
        if let Some(dx) = &self.dev_x {
            let rows: Vec<usize> = self
                .dev_rows
                .iter()
                .chain(&self.context_rows)
                .copied()
                .collect();
            put(dx, &rows);
        }
        (preds, hidden)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `m x = b` by Gaussian elimination with partial pivoting; None when `m` is singular.
fn solve(mut m: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = m
        .iter()
        .flatten()
        .fold(0f64, |a, &x| a.max(x.abs()))
        .max(1e-300);
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))?;
        if m[p][c].abs() <= 1e-10 * scale {
            return None;
        }
        m.swap(c, p);
        b.swap(c, p);
        let (top, rest) = m.split_at_mut(c + 1);
        let pivot = &top[c];
        for (r, row) in rest.iter_mut().enumerate() {
            let f = row[c] / pivot[c];
            for (x, &p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *x -= f * p;
            }
            b[c + 1 + r] -= f * b[c];
        }
    }
    let mut x = vec![0f64; n];
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| m[c][k] * x[k]).sum();
        x[c] = (b[c] - s) / m[c][c];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    #[test]
    fn solve_finds_the_solution_and_refuses_a_singular_system() {
        let x = super::solve(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![3.0, 5.0]).expect("x");
        assert!(
            (x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12,
            "{x:?}"
        );
        assert!(super::solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
    }
}
