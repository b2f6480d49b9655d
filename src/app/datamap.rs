//! The data map from the keyboard: which region of it the table shows.

use super::*;

impl App {
    /// Cycles the data-map region the table shows: easy, ambiguous, hard, all.
    pub(super) fn next_region(&mut self) {
        self.view.region = match self.view.region {
            None => Some(Region::Easy),
            Some(Region::Easy) => Some(Region::Ambiguous),
            Some(Region::Ambiguous) => Some(Region::Hard),
            Some(Region::Hard) => None,
        };
        if self.view.region.is_some() && self.datamap.is_none() {
            self.status = Some(format!(
                "the data map needs two refreshed steps; filtering by region once it has them (over the last {})",
                crate::analysis::datamap::WINDOW
            ));
        }
        self.view.cursor = 0;
        self.refresh_rows();
    }
}
