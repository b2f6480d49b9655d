//! Rows of (id, weight) pairs without padding, the way segments' n-gram bags are kept on the host:
//! a padded layout sized every row like the longest (at a million segments, 425 MB against the
//! pairs' own 200 MB or so), and the full-batch bags the trainer builds are unpadded anyway.

/// Row `r` is `ids[offsets[r]..offsets[r + 1]]` with the same range of `weights`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Csr {
    pub offsets: Vec<usize>,
    pub ids: Vec<i32>,
    pub weights: Vec<f32>,
}

impl Csr {
    /// No rows yet.
    pub fn new() -> Csr {
        Csr {
            offsets: vec![0],
            ids: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// `n` empty rows.
    pub fn empty(n: usize) -> Csr {
        Csr {
            offsets: vec![0; n + 1],
            ids: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// Ends the row being written.
    pub fn end_row(&mut self) {
        self.offsets.push(self.ids.len());
    }

    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Row `r`'s ids and weights.
    pub fn row(&self, r: usize) -> (&[i32], &[f32]) {
        let span = self.offsets[r]..self.offsets[r + 1];
        (&self.ids[span.clone()], &self.weights[span])
    }

    /// The most pairs in a row (at least 1): the width of a padded layout.
    pub fn width(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// Rows `rows`, in that order.
    pub fn take(&self, rows: &[usize]) -> Csr {
        let mut out = Csr::new();
        for &r in rows {
            let (ids, weights) = self.row(r);
            out.ids.extend_from_slice(ids);
            out.weights.extend_from_slice(weights);
            out.end_row();
        }
        out
    }

    /// Rows `rows` padded to `width` (ids 0 and weights 0 on the padding), row-major.
    pub fn padded(&self, rows: &[usize], width: usize) -> (Vec<i32>, Vec<f32>) {
        let mut ids = vec![0i32; rows.len() * width];
        let mut weights = vec![0f32; rows.len() * width];
        for (k, &r) in rows.iter().enumerate() {
            let (i, w) = self.row(r);
            ids[k * width..k * width + i.len()].copy_from_slice(i);
            weights[k * width..k * width + w.len()].copy_from_slice(w);
        }
        (ids, weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_taken_and_padded() {
        let mut c = Csr::new();
        c.ids.extend([3, 5]);
        c.weights.extend([0.25, 0.75]);
        c.end_row();
        c.end_row();
        c.ids.push(7);
        c.weights.push(1.0);
        c.end_row();
        assert_eq!((c.rows(), c.width()), (3, 2));
        assert_eq!(c.row(1), (&[][..], &[][..]));
        let t = c.take(&[2, 0]);
        assert_eq!(t.offsets, [0, 1, 3]);
        assert_eq!(t.ids, [7, 3, 5]);
        let (ids, w) = c.padded(&[2, 1, 0], 2);
        assert_eq!(ids, [7, 0, 0, 0, 3, 5]);
        assert_eq!(w, [1.0, 0.0, 0.0, 0.0, 0.25, 0.75]);
        assert_eq!(Csr::empty(2).width(), 1);
    }
}
