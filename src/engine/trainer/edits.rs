//! What-if edits in the trainer: the edited targets and weights training uses from the next step.

use super::*;

impl Trainer {
    /// The data as loaded, before any edited target.
    pub fn base_dataset(&self) -> &Arc<Dataset> {
        &self.base
    }

    /// The what-if edits in force.
    pub fn edits(&self) -> &Edits {
        &self.edits
    }

    /// Puts `edits` in force from the next step on (replacing the ones before, so an undo is the
    /// list without its last edit): the training rows' weights and targets, and the dataset the
    /// reports measure against. Returns that dataset. The edits must have been checked against
    /// this trainer's data and partition (`data::edits::check`).
    pub fn set_edits(&mut self, edits: Edits) -> Arc<Dataset> {
        let dataset = if edits.targets().is_empty() {
            self.base.clone()
        } else {
            Arc::new(edits.apply_targets(&self.base))
        };
        let plain = self.train_y.device();
        let ty: Vec<f32> = self.train_rows.iter().map(|&i| dataset.target(i)).collect();
        self.train_y = Tensor::from_data(TensorData::new(ty, [self.train_rows.len(), 1]), &plain);
        if edits.reweights() {
            let all = edits.weights(self.base.segments.len());
            let w: Vec<f32> = self.train_rows.iter().map(|&i| all[i]).collect();
            self.weights = Some(RowWeights {
                w: Tensor::from_data(TensorData::new(w.clone(), [w.len(), 1]), &plain),
                sum: w.iter().sum(),
            });
            self.weights_host = w;
        } else {
            self.weights = None;
            self.weights_host = Vec::new();
        }
        self.train_shape = SplitShape::of(&dataset, &self.train_rows);
        self.dev_shape = SplitShape::of(&dataset, &self.dev_rows);
        self.dataset = dataset.clone();
        self.edits = edits;
        // The loss and every residual changed: nothing computed before stands.
        self.lookahead = None;
        self.last_eval = None;
        dataset
    }
}
