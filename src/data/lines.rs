//! Cutting input text into numbered lines, and into halves at a line boundary for parallel parsing.
//!
//! Kept apart from any format: every line-based importer reads through here, so line numbers mean
//! the same thing in every error message.

/// Texts shorter than this are parsed on one thread: a thread costs more than it saves.
pub const PARALLEL_PARSE_BYTES: usize = 1 << 20;

/// `text` as one or two runs of whole lines, each with the 1-based number of its first line.
pub fn split_at_line(text: &str, min_split: usize) -> Vec<(usize, &str)> {
    if text.len() < min_split {
        return vec![(1, text)];
    }
    match text[text.len() / 2..].find('\n') {
        Some(off) => {
            let cut = text.len() / 2 + off + 1;
            let (a, b) = text.split_at(cut);
            let lines_in_a = a.bytes().filter(|&c| c == b'\n').count();
            vec![(1, a), (lines_in_a + 1, b)]
        }
        None => vec![(1, text)],
    }
}

/// The non-blank lines of `text` with their 1-based numbers, the first being `first_line`.
pub fn numbered(text: &str, first_line: usize) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, raw)| !raw.trim().is_empty())
        .map(move |(i, raw)| (first_line + i, raw))
}

/// Maps every non-blank line of `text` with `f`, on two threads when `text` is at least
/// `min_split` bytes, and returns the results in line order with their line numbers.
pub fn map_lines<T: Send>(
    text: &str,
    min_split: usize,
    f: impl Fn(&str) -> T + Sync,
) -> Vec<(usize, T)> {
    let halves = split_at_line(text, min_split);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = halves
            .iter()
            .map(|&(first_line, part)| {
                s.spawn(move || {
                    numbered(part, first_line)
                        .map(|(n, raw)| (n, f(raw)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_keep_line_numbers() {
        let text = "a\n\nb\nc\nd\n";
        let one = map_lines(text, usize::MAX, str::to_string);
        let two = map_lines(text, 0, str::to_string);
        assert_eq!(one, two);
        assert_eq!(
            one.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![1, 3, 4, 5]
        );
    }
}
