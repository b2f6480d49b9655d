//! The two ways a run meets its user: [`headless`], a source without a screen writing JSON lines,
//! and [`tui`], the terminal and the event loop around a source.

pub mod headless;
pub mod tui;
