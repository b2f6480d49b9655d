//! `segscope tour`: the three facts of segment regression on three small scenes, each built so
//! that its numbers are the questions' numbers, with the numbers taken from the running model.
//!
//! - [`scenes`]: the pages, their data and the model each starts from.
//! - [`numbers`]: what a page shows, computed from a step report (the dashboard and
//!   `--headless` use the same function).
//! - [`explain`]: the explanation panel's words around those numbers.

pub mod explain;
pub mod numbers;
pub mod scenes;

pub use numbers::Numbers;
pub use scenes::{PAGES, Page};

/// Which page of the tour the dashboard shows, and where the learner asked to go next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TourView {
    pub page: Page,
    /// Lines the explanation panel is scrolled by (PgUp/PgDn), when it is taller than its box.
    pub scroll: u16,
}

/// Where to go when a page is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    Next,
    Prev,
}

/// Steps the comparison page takes in `--headless` before its numbers are read.
pub const COMPARE_STEPS: u64 = 150;

/// One page's numbers before and after its step (scene 3c: after [`COMPARE_STEPS`] steps).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageRun {
    pub page: Page,
    pub backend: &'static str,
    pub title: &'static str,
    pub before: Numbers,
    pub after: Numbers,
}

/// Runs every page headless: its first report, then a step (or the comparison's steps).
pub fn headless(backend: crate::config::BackendKind) -> Result<Vec<PageRun>, scenes::TourError> {
    PAGES
        .iter()
        .map(|&page| {
            let mut b = page.build(backend)?;
            let r0 = b.source.current();
            let steps = if page == Page::Compare {
                COMPARE_STEPS
            } else {
                1
            };
            let mut prev = r0.segments.clone();
            let mut r1 = b.source.advance();
            for _ in 1..steps {
                prev = r1.segments.clone();
                r1 = b.source.advance();
            }
            if let Some(why) = &r1.diverged {
                return Err(scenes::TourError::Diverged {
                    page: page.title(),
                    why: why.clone(),
                });
            }
            Ok(PageRun {
                page,
                backend: backend.name(),
                title: page.title(),
                before: numbers::of(page, &b.dataset, &b.partition, &r0, None),
                after: numbers::of(page, &b.dataset, &b.partition, &r1, Some(&prev)),
            })
        })
        .collect()
}
