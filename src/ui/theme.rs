//! Every colour and text style of the dashboard, in one place.

use ratatui::style::{Color, Modifier, Style};

pub const TITLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
pub const BORDER: Style = Style::new().fg(Color::DarkGray);
pub const HEADER_BG: Style = Style::new().bg(Color::Rgb(30, 34, 42));
pub const LABEL: Style = Style::new().fg(Color::Gray);
pub const VALUE: Style = Style::new().fg(Color::White).add_modifier(Modifier::BOLD);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const TRAIN: Color = Color::Cyan;
pub const DEV: Color = Color::Yellow;
pub const POSITIVE: Style = Style::new().fg(Color::Green);
pub const NEGATIVE: Style = Style::new().fg(Color::Red);
pub const OUTLIER: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
pub const SELECTED: Style = Style::new()
    .bg(Color::Rgb(50, 60, 80))
    .add_modifier(Modifier::BOLD);
pub const TABLE_HEADER: Style = Style::new()
    .fg(Color::Gray)
    .add_modifier(Modifier::UNDERLINED);
pub const BAR: Style = Style::new().fg(Color::LightBlue);
pub const SPARK: Style = Style::new().fg(Color::LightMagenta);
pub const KEY: Style = Style::new().fg(Color::Black).bg(Color::Gray);
pub const STATUS: Style = Style::new().fg(Color::LightYellow);
pub const BETTER: Style = Style::new().fg(Color::Green);
pub const WORSE: Style = Style::new().fg(Color::Red);

/// The style of a run state label.
pub fn state(label: &str) -> Style {
    let c = match label {
        "running" | "following" => Color::Green,
        "converged" => Color::LightBlue,
        "diverged" => Color::Red,
        _ => Color::Yellow,
    };
    Style::new().fg(c).add_modifier(Modifier::BOLD)
}

/// The colour of model `k` of a comparison.
pub fn model(k: usize) -> Color {
    [
        Color::Cyan,
        Color::Magenta,
        Color::Yellow,
        Color::LightGreen,
    ][k % 4]
}
