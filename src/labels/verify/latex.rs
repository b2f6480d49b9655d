//! LaTeX and Unicode math to the plain notation the claim parser reads: `\frac{a}{b}` to
//! `((a)/(b))`, `\sqrt{x}` to `sqrt((x))`, `\cdot` and `×` to `*`, braces to parentheses. What the
//! parser must not read as arithmetic (relations other than `=`, subscripts, unknown commands,
//! `\text{...}`) becomes a word or the stop mark, so no claim is read across it.

/// Stands where the text holds something no claim may span: a relation other than `=`, a
/// subscript, a command the parser does not know.
pub const STOP: char = '¦';

/// The plain form of `text`. Math delimiters (`\(`, `\[`, `$`) are dropped or become stops;
/// everything the parser reads keeps its order.
pub fn plain(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    convert(&chars, &mut out);
    out
}

fn convert(c: &[char], out: &mut String) {
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\\' => i = command(c, i, out),
            '{' => {
                out.push('(');
                i += 1;
            }
            '}' => {
                out.push(')');
                i += 1;
            }
            // Both a currency sign and a math delimiter in this data: neither changes a claim.
            '$' => i += 1,
            '×' | '·' | '⋅' | '∙' | '∗' => {
                out.push('*');
                i += 1;
            }
            '÷' => {
                out.push('/');
                i += 1;
            }
            '−' => {
                out.push('-');
                i += 1;
            }
            '²' => {
                out.push_str("^2");
                i += 1;
            }
            '³' => {
                out.push_str("^3");
                i += 1;
            }
            '√' => {
                out.push_str("sqrt");
                i += 1;
            }
            '≈' | '≠' | '≤' | '≥' | '<' | '>' | '±' | '→' | '⇒' | '_' | '–' | '—' | '|' | '!'
            | '≡' | '∼' | '~' => {
                out.push(' ');
                out.push(STOP);
                out.push(' ');
                i += 1;
            }
            _ => {
                out.push(ch);
                i += 1;
            }
        }
    }
}

/// The brace characters, named: a match arm on them reads as code, not as a block.
pub const OPEN: char = '{';
pub const CLOSE: char = '}';

/// The index of the brace that closes the one at `c[open]`, nesting counted; None when it is
/// never closed. The one brace matcher of LaTeX text (the claim reader and the Unicode view).
pub fn closing_brace(c: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &ch) in c.iter().enumerate().skip(open) {
        if ch == OPEN {
            depth += 1;
        } else if ch == CLOSE {
            depth -= 1;
            if depth == 0 {
                return Some(j);
            }
        }
    }
    None
}

/// The group `{...}` starting at `c[i]` (or the single character there): its contents and the
/// index after it.
fn group(c: &[char], mut i: usize) -> Option<(&[char], usize)> {
    while i < c.len() && c[i] == ' ' {
        i += 1;
    }
    match *c.get(i)? {
        OPEN => closing_brace(c, i).map(|j| (&c[i + 1..j], j + 1)),
        '\\' => None,
        _ => Some((&c[i..i + 1], i + 1)),
    }
}

fn stop(out: &mut String) {
    out.push(' ');
    out.push(STOP);
    out.push(' ');
}

/// One command at `c[i] == '\\'`; returns the index after it.
fn command(c: &[char], i: usize, out: &mut String) -> usize {
    let Some(&next) = c.get(i + 1) else {
        return i + 1;
    };
    if !next.is_ascii_alphabetic() {
        match next {
            // Delimiters of inline and display math: a claim never spans two of them.
            '(' | ')' | '[' | ']' => stop(out),
            '%' => out.push('%'),
            // `\$`, and the spacing commands.
            '$' => {}
            ',' | ';' | ':' | '!' | ' ' => out.push(' '),
            _ => stop(out),
        }
        return i + 2;
    }
    let mut j = i + 1;
    while j < c.len() && c[j].is_ascii_alphabetic() {
        j += 1;
    }
    let name: String = c[i + 1..j].iter().collect();
    match name.as_str() {
        "frac" | "dfrac" | "tfrac" => {
            let Some((num, k)) = group(c, j) else {
                stop(out);
                return j;
            };
            let Some((den, k)) = group(c, k) else {
                stop(out);
                return k;
            };
            out.push_str("((");
            convert(num, out);
            out.push_str(")/(");
            convert(den, out);
            out.push_str("))");
            k
        }
        "sqrt" => {
            if c.get(j) == Some(&'[') {
                // An n-th root: not read.
                stop(out);
                return j;
            }
            let Some((arg, k)) = group(c, j) else {
                stop(out);
                return j;
            };
            out.push_str("sqrt((");
            convert(arg, out);
            out.push_str("))");
            k
        }
        "boxed" => {
            let Some((arg, k)) = group(c, j) else {
                return j;
            };
            out.push(' ');
            convert(arg, out);
            out.push(' ');
            k
        }
        "text" | "textbf" | "textit" | "mathrm" | "mathbf" | "mbox" | "operatorname" => {
            // Words: they end a claim, and their content is never arithmetic.
            let Some((arg, k)) = group(c, j) else {
                return j;
            };
            out.push(' ');
            let words: String = arg.iter().collect();
            if words.trim().is_empty() {
                out.push(' ');
            } else {
                out.push_str(&words.replace(['{', '}', '\\'], " "));
            }
            out.push(' ');
            k
        }
        "cdot" | "times" | "ast" => {
            out.push('*');
            j
        }
        "div" => {
            out.push('/');
            j
        }
        "left" | "right" | "big" | "Big" | "bigg" | "Bigg" | "displaystyle" => j,
        "quad" | "qquad" => {
            out.push(' ');
            j
        }
        // A relation other than `=`, a constant, or a command not read.
        _ => {
            stop(out);
            j
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_roots_and_products_become_plain() {
        assert_eq!(plain(r"\frac{3}{5} \times 30"), "((3)/(5)) * 30");
        assert_eq!(plain(r"\sqrt{16}"), "sqrt((16))");
        assert_eq!(plain(r"2^{10} \cdot 3"), "2^(10) * 3");
        assert_eq!(plain("5 × 4 ÷ 2 − 1"), "5 * 4 / 2 - 1");
        assert_eq!(plain(r"\boxed{14}"), " 14 ");
        assert_eq!(plain(r"\dfrac12"), "((1)/(2))");
    }

    #[test]
    fn what_is_not_arithmetic_stops_a_claim() {
        assert!(plain(r"\(x \approx 3\)").contains(STOP));
        assert!(plain(r"\sqrt[3]{8}").contains(STOP));
        assert!(plain("a_1").contains(STOP));
        assert_eq!(plain(r"\text{cats}").trim(), "cats");
    }
}
