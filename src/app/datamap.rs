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

#[cfg(test)]
mod tests {
    use super::super::testing::{test_app, test_report};
    use super::*;

    #[test]
    fn regions_cycle_and_say_when_the_map_is_not_ready() {
        let mut app = test_app();
        app.next_region();
        assert_eq!(app.view.region, Some(Region::Easy));
        assert!(
            app.status
                .as_deref()
                .is_some_and(|s| s.contains("two refreshed steps"))
        );
        for s in 0..3 {
            let r = test_report(&app, s, &[0.5, 0.5, 0.5, 0.5]);
            app.on_report(r, 0.0);
        }
        assert!(app.datamap.is_some());
        app.next_region();
        app.next_region();
        assert_eq!(app.view.region, Some(Region::Hard));
        app.next_region();
        assert_eq!(app.view.region, None);
    }
}
