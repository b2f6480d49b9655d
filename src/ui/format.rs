//! Number formatting shared by the panels: fixed width, and "—" for undefined values.

/// Four decimals, or scientific notation for very small or large magnitudes.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

/// Signed, three decimals (scores, predictions, residuals).
pub fn score(x: f32) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    format!("{x:+.3}")
}

/// A share as a percentage, with two significant digits below 10% (never `0.0%` for a share
/// that is not nothing: a thousand rows' shares are each below a tenth of a percent), at most 6
/// characters.
pub fn pct(x: f32) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let p = x * 100.0;
    if p >= 9.95 {
        format!("{p:.0}%")
    } else if p >= 0.995 {
        format!("{p:.1}%")
    } else if p >= 0.0995 {
        format!("{p:.2}%")
    } else if p >= 0.00995 {
        format!("{p:.3}%")
    } else if p > 0.0 {
        "<0.01%".into()
    } else {
        "0%".into()
    }
}

/// A horizontal bar of `width` cells for `frac` in [0, 1], with eighth-cell precision.
pub fn bar(frac: f64, width: usize) -> String {
    const PARTS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let frac = if frac.is_finite() {
        frac.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (frac * width as f64 * 8.0).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(PARTS[eighths % 8 - 1]);
    }
    s
}

/// Trims `s` to at most `width` characters, marking the cut with "…".
/// `s` on one line: each line break shown as ` ↵ `, tabs as spaces (a table cell shows only
/// its first line, which would hide the rest of a multi-line step).
pub fn one_line(s: &str) -> String {
    s.trim_end()
        .replace("\r\n", "\n")
        .replace('\n', " ↵ ")
        .replace('\t', " ")
}

/// `s` in at most `width` characters, cut at a word with `…` when it is longer.
pub fn fit_words(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for w in s.split(' ') {
        let next = if out.is_empty() {
            w.chars().count()
        } else {
            out.chars().count() + 1 + w.chars().count()
        };
        if next + 1 > width {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        // One word longer than the line.
        return trim(s, width);
    }
    out.push('…');
    out
}

/// An id in at most `width` characters, keeping its end: ids of one dataset share their start
/// (`olympiadbench-26`, `olympiadbench-27`) and differ at the end, so `…dbench-26` tells them
/// apart where `olympiadb…` would not.
pub fn id(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut t = String::from("…");
    t.extend(s.chars().skip(n - (width - 1)));
    t
}

pub fn trim(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut t: String = s.chars().take(width - 1).collect();
    t.push('…');
    t
}

/// `text` wrapped at spaces into rows at most `width` display cells wide (a word longer than a
/// row cut into rows of its own), so a caller knows exactly how many rows it draws.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    use ratatui::text::Span;
    let width = width.max(1);
    let w = |s: &str| Span::raw(s).width();
    let mut rows: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let mut rest = word;
        loop {
            let row = rows.last_mut().expect("rows starts with one");
            let (have, need) = (w(row), w(rest));
            let sep = usize::from(have > 0);
            if have + sep + need <= width {
                if sep == 1 {
                    row.push(' ');
                }
                row.push_str(rest);
                break;
            }
            if have > 0 {
                rows.push(String::new());
                continue;
            }
            // A word longer than a row is cut into rows of its own (at least a character each).
            let cut = rest
                .char_indices()
                .map(|(k, c)| k + c.len_utf8())
                .take_while(|&k| w(&rest[..k]) <= width)
                .last()
                .unwrap_or_else(|| rest.chars().next().map_or(rest.len(), char::len_utf8));
            row.push_str(&rest[..cut]);
            rest = &rest[cut..];
            if rest.is_empty() {
                break;
            }
            rows.push(String::new());
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_the_end_that_tells_them_apart() {
        assert_eq!(id("olympiadbench-26", 10), "…dbench-26");
        assert_eq!(id("olympiadbench-26:3", 14), "…iadbench-26:3");
        assert_eq!(id("doc-1", 10), "doc-1");
        assert_eq!(id("abc", 0), "");
    }

    #[test]
    fn fit_words_cuts_at_a_word() {
        assert_eq!(
            fit_words("exported 12 segments", 40),
            "exported 12 segments"
        );
        assert_eq!(
            fit_words("exported 12 segments to out.csv", 22),
            "exported 12 segments…"
        );
        assert_eq!(fit_words("abcdefghij", 5), "abcd…");
    }

    #[test]
    fn formats() {
        assert_eq!(num(f64::NAN), "—");
        assert_eq!(num(0.12345), "0.1235");
        assert_eq!(num(0.00001234), "1.23e-5");
        assert_eq!(score(0.3), "+0.300");
        assert_eq!(pct(16.0 / 18.0), "89%");
        assert_eq!(pct(0.0123), "1.2%");
        assert_eq!(pct(0.000_81), "0.081%");
        assert_eq!(pct(0.0012), "0.12%");
        assert_eq!(pct(0.000_01), "<0.01%");
        assert_eq!(pct(0.0), "0%");
        assert_eq!(bar(1.0, 3), "███");
        assert_eq!(bar(0.5, 3), "█▌");
        assert_eq!(bar(0.0, 3), "");
        assert_eq!(trim("abcdef", 4), "abc…");
        assert_eq!(trim("abc", 4), "abc");
    }

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        assert_eq!(wrap("one two three", 20), vec!["one two three"]);
        assert_eq!(
            wrap("one two three four five six", 10),
            vec!["one two", "three four", "five six"]
        );
        // A word longer than a row is cut; nothing is lost.
        let r = wrap("abcdefghijklmnopqrstuvwxyz", 8);
        assert!(r.iter().all(|l| l.chars().count() <= 8), "{r:?}");
        assert_eq!(r.concat(), "abcdefghijklmnopqrstuvwxyz");
    }
}
