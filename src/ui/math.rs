//! LaTeX as Unicode text for reading at a glance: `\frac{1}{2\sqrt{2}}` as `1/(2√2)`, powers and
//! indices as super- and subscripts where Unicode has them, Greek letters, relations, `\mathcal`,
//! `\boxed{14}` as `[14]`, math delimiters dropped. What it does not know it leaves as written.

use crate::labels::verify::latex::{OPEN, closing_brace};

/// The common commands and their Unicode text.
const SYMBOLS: &[(&str, &str)] = &[
    ("cdot", "·"),
    ("times", "×"),
    ("div", "÷"),
    ("pm", "±"),
    ("mp", "∓"),
    ("le", "≤"),
    ("leq", "≤"),
    ("ge", "≥"),
    ("geq", "≥"),
    ("neq", "≠"),
    ("ne", "≠"),
    ("approx", "≈"),
    ("equiv", "≡"),
    ("sim", "∼"),
    ("infty", "∞"),
    ("to", "→"),
    ("rightarrow", "→"),
    ("Rightarrow", "⇒"),
    ("implies", "⇒"),
    ("leftarrow", "←"),
    ("iff", "⇔"),
    ("in", "∈"),
    ("notin", "∉"),
    ("subset", "⊂"),
    ("subseteq", "⊆"),
    ("cup", "∪"),
    ("cap", "∩"),
    ("emptyset", "∅"),
    ("forall", "∀"),
    ("exists", "∃"),
    ("sum", "∑"),
    ("prod", "∏"),
    ("int", "∫"),
    ("partial", "∂"),
    ("angle", "∠"),
    ("triangle", "△"),
    ("circ", "°"),
    ("degree", "°"),
    ("perp", "⊥"),
    ("parallel", "∥"),
    ("ldots", "…"),
    ("cdots", "⋯"),
    ("dots", "…"),
    ("quad", " "),
    ("qquad", "  "),
    ("alpha", "α"),
    ("beta", "β"),
    ("gamma", "γ"),
    ("delta", "δ"),
    ("epsilon", "ε"),
    ("varepsilon", "ε"),
    ("zeta", "ζ"),
    ("eta", "η"),
    ("theta", "θ"),
    ("iota", "ι"),
    ("kappa", "κ"),
    ("lambda", "λ"),
    ("mu", "μ"),
    ("nu", "ν"),
    ("xi", "ξ"),
    ("pi", "π"),
    ("rho", "ρ"),
    ("sigma", "σ"),
    ("tau", "τ"),
    ("phi", "φ"),
    ("varphi", "φ"),
    ("chi", "χ"),
    ("psi", "ψ"),
    ("omega", "ω"),
    ("Gamma", "Γ"),
    ("Delta", "Δ"),
    ("Theta", "Θ"),
    ("Lambda", "Λ"),
    ("Pi", "Π"),
    ("Sigma", "Σ"),
    ("Phi", "Φ"),
    ("Omega", "Ω"),
    ("%", "%"),
];

/// Commands dropped with nothing in their place.
const DROPPED: &[&str] = &[
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "displaystyle",
    "textstyle",
    "limits",
    "nolimits",
];

/// Whether `s` looks like it holds LaTeX (a command, or inline or display math).
pub fn has_latex(s: &str) -> bool {
    s.contains("\\(")
        || s.contains("\\[")
        || [
            "\\frac", "\\sqrt", "\\cdot", "\\times", "\\boxed", "\\text", "^{", "_{",
        ]
        .iter()
        .any(|c| s.contains(c))
}

/// `s` with its LaTeX written as Unicode text.
pub fn unicode(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    convert(&c, &mut out);
    out
}

fn convert(c: &[char], out: &mut String) {
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => i = command(c, i, out),
            '^' | '_' => {
                let sup = c[i] == '^';
                let (arg, next) = group(c, i + 1);
                let mut inner = String::new();
                convert(arg, &mut inner);
                match script(&inner, sup) {
                    Some(t) => out.push_str(&t),
                    None => {
                        out.push(c[i]);
                        if inner.chars().count() > 1 {
                            out.push('(');
                            out.push_str(&inner);
                            out.push(')');
                        } else {
                            out.push_str(&inner);
                        }
                    }
                }
                i = next;
            }
            // Grouping braces are not text.
            '{' | '}' => i += 1,
            // `$...$` math delimiters (a lone `$` before a digit is money and stays).
            '$' if !c.get(i + 1).is_some_and(char::is_ascii_digit) => i += 1,
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
}

/// The argument after `c[i - 1]`: a `{...}` group or one character; and the index after it.
fn group(c: &[char], i: usize) -> (&[char], usize) {
    match c.get(i) {
        Some(&OPEN) => match closing_brace(c, i) {
            Some(j) => (&c[i + 1..j], j + 1),
            None => (&c[i + 1..], c.len()),
        },
        Some('\\') => {
            let mut j = i + 1;
            while j < c.len() && c[j].is_ascii_alphabetic() {
                j += 1;
            }
            (&c[i..j.max(i + 2).min(c.len())], j.max(i + 2).min(c.len()))
        }
        Some(_) => (&c[i..i + 1], i + 1),
        None => (&c[i..], c.len()),
    }
}

/// `t` as superscript or subscript characters, if Unicode has every one of them.
fn script(t: &str, sup: bool) -> Option<String> {
    const SUP: &[(char, char)] = &[
        ('0', '⁰'),
        ('1', '¹'),
        ('2', '²'),
        ('3', '³'),
        ('4', '⁴'),
        ('5', '⁵'),
        ('6', '⁶'),
        ('7', '⁷'),
        ('8', '⁸'),
        ('9', '⁹'),
        ('+', '⁺'),
        ('-', '⁻'),
        ('=', '⁼'),
        ('(', '⁽'),
        (')', '⁾'),
        ('n', 'ⁿ'),
        ('i', 'ⁱ'),
        ('x', 'ˣ'),
        ('k', 'ᵏ'),
        ('°', '°'),
    ];
    const SUB: &[(char, char)] = &[
        ('0', '₀'),
        ('1', '₁'),
        ('2', '₂'),
        ('3', '₃'),
        ('4', '₄'),
        ('5', '₅'),
        ('6', '₆'),
        ('7', '₇'),
        ('8', '₈'),
        ('9', '₉'),
        ('+', '₊'),
        ('-', '₋'),
        ('=', '₌'),
        ('(', '₍'),
        (')', '₎'),
        ('n', 'ₙ'),
        ('i', 'ᵢ'),
        ('k', 'ₖ'),
        ('x', 'ₓ'),
    ];
    let table = if sup { SUP } else { SUB };
    if t.is_empty() {
        return None;
    }
    t.chars()
        .map(|ch| table.iter().find(|(a, _)| *a == ch).map(|(_, b)| *b))
        .collect()
}

/// A fraction's part, parenthesised when it is more than one term.
fn part(t: &str) -> String {
    let plain = |u: &str| {
        !u.is_empty()
            && u.chars()
                .all(|ch| ch.is_alphanumeric() || ch == '.' || "²³¹⁰⁴⁵⁶⁷⁸⁹".contains(ch))
    };
    // One number, letter or root of one: `2`, `x²`, `√2`; `2√2` is a product and gets parentheses.
    let simple = plain(t) || t.strip_prefix('√').is_some_and(plain);
    if simple || (t.starts_with('(') && t.ends_with(')')) {
        t.to_string()
    } else {
        format!("({t})")
    }
}

/// One command at `c[i] == '\\'`; returns the index after it.
fn command(c: &[char], i: usize, out: &mut String) -> usize {
    let Some(&next) = c.get(i + 1) else {
        out.push('\\');
        return i + 1;
    };
    if !next.is_ascii_alphabetic() {
        match next {
            '(' | ')' | '[' | ']' => {}
            ',' | ';' | ':' | ' ' => out.push(' '),
            '!' => {}
            '{' => out.push('{'),
            '}' => out.push('}'),
            '\\' => out.push(' '),
            ch => out.push(ch),
        }
        return i + 2;
    }
    let mut j = i + 1;
    while j < c.len() && c[j].is_ascii_alphabetic() {
        j += 1;
    }
    let name: String = c[i + 1..j].iter().collect();
    let arg = |k: usize| -> (String, usize) {
        let (a, next) = group(c, k);
        let mut t = String::new();
        convert(a, &mut t);
        (t, next)
    };
    match name.as_str() {
        "frac" | "dfrac" | "tfrac" => {
            let (num, k) = arg(j);
            let (den, k) = arg(k);
            out.push_str(&format!("{}/{}", part(&num), part(&den)));
            k
        }
        "sqrt" => {
            let (root, k) = if c.get(j) == Some(&'[') {
                let end = c[j..].iter().position(|&x| x == ']').map_or(j, |p| j + p);
                let r: String = c[j + 1..end].iter().collect();
                (Some(r), end + 1)
            } else {
                (None, j)
            };
            let (x, k) = arg(k);
            let sign = match root.as_deref() {
                Some("3") => "∛",
                Some("4") => "∜",
                _ => "√",
            };
            out.push_str(sign);
            out.push_str(&part(&x));
            k
        }
        "boxed" => {
            let (x, k) = arg(j);
            out.push('[');
            out.push_str(&x);
            out.push(']');
            k
        }
        "text" | "textbf" | "textit" | "mathrm" | "mathbf" | "mathit" | "operatorname" | "mbox" => {
            let (x, k) = arg(j);
            out.push_str(&x);
            k
        }
        "mathcal" | "mathbb" | "mathscr" => {
            let (x, k) = arg(j);
            out.extend(x.chars().map(|ch| styled(ch, &name)));
            k
        }
        n if DROPPED.contains(&n) => j,
        n => match SYMBOLS.iter().find(|(k, _)| *k == n) {
            Some((_, u)) => {
                out.push_str(u);
                j
            }
            None => {
                out.push('\\');
                out.push_str(n);
                j
            }
        },
    }
}

/// A capital letter in the script or double-struck alphabet.
fn styled(ch: char, style: &str) -> char {
    let upper = ch.is_ascii_uppercase();
    let k = (ch as u32).wrapping_sub('A' as u32);
    let special = |c: char| Some(c);
    let picked = match (style, ch) {
        // Letters Unicode keeps outside the contiguous block.
        ("mathcal" | "mathscr", 'B') => special('ℬ'),
        ("mathcal" | "mathscr", 'E') => special('ℰ'),
        ("mathcal" | "mathscr", 'F') => special('ℱ'),
        ("mathcal" | "mathscr", 'H') => special('ℋ'),
        ("mathcal" | "mathscr", 'I') => special('ℐ'),
        ("mathcal" | "mathscr", 'L') => special('ℒ'),
        ("mathcal" | "mathscr", 'M') => special('ℳ'),
        ("mathcal" | "mathscr", 'R') => special('ℛ'),
        ("mathbb", 'C') => special('ℂ'),
        ("mathbb", 'H') => special('ℍ'),
        ("mathbb", 'N') => special('ℕ'),
        ("mathbb", 'P') => special('ℙ'),
        ("mathbb", 'Q') => special('ℚ'),
        ("mathbb", 'R') => special('ℝ'),
        ("mathbb", 'Z') => special('ℤ'),
        _ if upper => {
            let base = if style == "mathbb" { 0x1D538 } else { 0x1D49C };
            char::from_u32(base + k)
        }
        _ => None,
    };
    picked.unwrap_or(ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_latex_reads_as_text() {
        assert_eq!(unicode(r"\(\frac{1}{2\sqrt{2}}\)"), "1/(2√2)");
        assert_eq!(
            unicode(r"\[ \frac{3}{5} \times 30 = 18 \]"),
            " 3/5 × 30 = 18 "
        );
        assert_eq!(unicode(r"x^{2} + y_1 \le 10"), "x² + y₁ ≤ 10");
        assert_eq!(unicode(r"\(\mathcal{P}^{-1}\)"), "𝒫⁻¹");
        assert_eq!(unicode(r"The answer is \boxed{14}."), "The answer is [14].");
        assert_eq!(unicode(r"\alpha + \beta \neq \pi"), "α + β ≠ π");
        assert_eq!(
            unicode(r"\text{Total cost} = 5 \cdot 4"),
            "Total cost = 5 · 4"
        );
        assert_eq!(unicode(r"\sqrt[3]{8} = 2"), "∛8 = 2");
        assert_eq!(unicode(r"\mathbb{R}"), "ℝ");
        // Money stays money; an unknown command stays as written.
        assert_eq!(unicode("costs $20, so $x$"), "costs $20, so x");
        assert_eq!(unicode(r"\weird{x}"), r"\weirdx");
        assert!(has_latex(r"\(x\)") && !has_latex("costs $20"));
    }
}
