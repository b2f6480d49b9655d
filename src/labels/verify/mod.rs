//! Verifiers: the claims a step makes that can be checked (arithmetic, `a = b = c` chains, an
//! identity of expressions tested at random points), read from plain text and LaTeX. A false
//! claim is evidence that the step is wrong; a claim that does not parse, or whose reading is in
//! doubt, is no evidence at all, so it is never checked.
//!
//! Written here rather than with an expression crate: the claims need implicit products (`4x`,
//! `(a)(b)`), LaTeX's `\frac{}{}`, postfix `%`, a number's written precision (a rounded result
//! is not a false one) and the expression printed back for the detail view; the crates that
//! evaluate strings (evalexpr, meval) read a programming language's syntax instead.

pub mod expr;
pub mod latex;

use rayon::prelude::*;
use serde::Serialize;

use crate::data::Dataset;
use expr::{Expr, Tok, parse, show_value, tokens};

/// One checked claim: as printed back, and whether it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub text: String,
    pub holds: bool,
    /// Where it does not hold: what the computed side is (`6,399,936`), or the point at which
    /// an identity fails.
    pub actual: String,
}

impl Claim {
    /// `false: 576 · 11,111 = 63,950,064; it is 6,399,936`.
    pub fn note(&self) -> String {
        format!("false: {}; {}", self.text, self.actual)
    }
}

/// What the verifiers found in one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verdict {
    /// Claims checked, and how many of them are false.
    pub checked: u16,
    pub failed: u16,
    /// The first false claim's note, empty when none failed.
    pub note: String,
}

impl Verdict {
    /// For a report column: empty where nothing was checked.
    pub fn summary(&self) -> String {
        match (self.checked, self.failed) {
            (0, _) => String::new(),
            (n, 0) => format!("{n} checked, all true"),
            _ => self.note.clone(),
        }
    }
}

/// Checks every claim in `text`.
pub fn verify(text: &str) -> Verdict {
    let found = claims(text);
    let failed: Vec<&Claim> = found.iter().filter(|c| !c.holds).collect();
    Verdict {
        checked: found.len().min(u16::MAX as usize) as u16,
        failed: failed.len().min(u16::MAX as usize) as u16,
        note: failed.first().map(|c| c.note()).unwrap_or_default(),
    }
}

/// Every segment's verdict, in dataset order.
pub fn verify_all(ds: &Dataset) -> Vec<Verdict> {
    ds.segments.par_iter().map(|s| verify(&s.text)).collect()
}

/// Words that make a number next to them part of a larger expression the text spells out
/// (`3/5 of 30 = 18`, `twice 5 = 10`): a side bounded by one is not read.
const JOINING: &[&str] = &[
    "of",
    "times",
    "by",
    "per",
    "each",
    "multiplied",
    "divided",
    "plus",
    "minus",
    "than",
    "twice",
    "half",
    "double",
    "triple",
    "thrice",
    "squared",
    "cubed",
    "percent",
    "more",
    "less",
    "over",
    "into",
    "'",
];

/// Before `of`, these nouns make it a plain phrase (`a total of 5 + 3 = 8`).
const PLAIN_OF: &[&str] = &[
    "total", "sum", "cost", "price", "number", "value", "result", "amount",
];

/// Words that say the step solves an equation: its equalities with letters are conditions, not
/// identities.
const SOLVING: &[&str] = &[
    "solve",
    "solving",
    "solved",
    "equation",
    "equations",
    "let",
    "suppose",
    "set",
    "setting",
    "unknown",
    "satisfy",
    "satisfies",
    "find",
    "where",
    "if",
    "substitute",
    "substituting",
    "plug",
    "plugging",
];

/// The claims in `text` that can be checked, checked.
pub fn claims(text: &str) -> Vec<Claim> {
    let t = tokens(&latex::plain(text));
    let chains = chains(&t);
    let identities_allowed = !t
        .iter()
        .any(|x| matches!(x, Tok::Word(w) if SOLVING.contains(&w.as_str())))
        && !chains.iter().any(|sides| assigns(sides));
    let mut out = Vec::new();
    for sides in &chains {
        for pair in sides.windows(2) {
            let (Some(a), Some(b)) = (&pair[0], &pair[1]) else {
                continue;
            };
            if let Some(c) = check(a, b, identities_allowed) {
                out.push(c);
            }
        }
    }
    out
}

/// The `=` chains of a token list: runs without a word or a stop, split at each `=`; a side
/// that does not parse, or that a joining word bounds, is None.
fn chains(t: &[Tok]) -> Vec<Vec<Option<Expr>>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < t.len() {
        let end = (start..t.len())
            .find(|&k| matches!(t[k], Tok::Word(_) | Tok::Stop))
            .unwrap_or(t.len());
        let run = &t[start..end];
        if run.contains(&Tok::Eq) {
            let parts: Vec<&[Tok]> = run.split(|x| *x == Tok::Eq).collect();
            let last = parts.len() - 1;
            let before = start.checked_sub(1).map(|k| &t[k]);
            let before2 = start.checked_sub(2).map(|k| &t[k]);
            let after = t.get(end);
            let sides = parts
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    // `Points + 17 = 68 + 17`: a side that starts with an operation on a word
                    // before it is only the end of a larger expression.
                    let continues = k == 0
                        && matches!(before, Some(Tok::Word(_)))
                        && matches!(p.first(), Some(Tok::Op(_)));
                    let joined = continues
                        || (k == 0 && joins_before(before, before2))
                        || (k == last && joins_after(after));
                    if p.is_empty() || joined {
                        None
                    } else {
                        parse(p)
                    }
                })
                .collect();
            out.push(sides);
        }
        start = end + 1;
    }
    out
}

fn joins_before(w: Option<&Tok>, w2: Option<&Tok>) -> bool {
    match w {
        Some(Tok::Word(w)) if w == "of" => {
            !matches!(w2, Some(Tok::Word(p)) if PLAIN_OF.contains(&p.as_str()))
        }
        Some(Tok::Word(w)) => JOINING.contains(&w.as_str()),
        _ => false,
    }
}

fn joins_after(w: Option<&Tok>) -> bool {
    matches!(w, Some(Tok::Word(w)) if JOINING.contains(&w.as_str()) && w != "than")
}

/// Whether a chain gives a letter a value (`x = 25`, `x = 100/4`): the step is solving for it.
fn assigns(sides: &[Option<Expr>]) -> bool {
    sides.windows(2).any(|p| match (&p[0], &p[1]) {
        (Some(a), Some(b)) => {
            let lone = |e: &Expr| matches!(e, Expr::Var(_));
            (lone(a) && b.vars().is_empty()) || (lone(b) && a.vars().is_empty())
        }
        _ => false,
    })
}

fn has_operation(e: &Expr) -> bool {
    match e {
        Expr::Num(..) | Expr::Var(_) => false,
        Expr::Group(inner) | Expr::Pct(inner) => has_operation(inner),
        _ => true,
    }
}

/// Points at which an identity is tested: not integers, not small, so that coincidences are
/// unlikely.
const POINTS: [f64; 5] = [1.37, 2.71, 0.53, 3.19, 1.91];

/// Checks `a = b`; None where the claim is not one that can be checked.
fn check(a: &Expr, b: &Expr, identities_allowed: bool) -> Option<Claim> {
    if !has_operation(a) && !has_operation(b) {
        // `17 = 18`, `x = 5`: a name or an answer, not a computation.
        return None;
    }
    let text = format!("{a} = {b}");
    let (va, vb) = (a.vars(), b.vars());
    if va.is_empty() && vb.is_empty() {
        let (x, y) = (a.eval(&|_| None)?, b.eval(&|_| None)?);
        if !x.is_finite() || !y.is_finite() {
            return None;
        }
        // A literal side may be rounded, or cut, to its written decimals.
        let tol = [a.literal(), b.literal()]
            .into_iter()
            .flatten()
            .map(|(_, d)| 10f64.powi(-(d as i32)))
            .fold(0.0f64, f64::max);
        let scale = 1e-9 * x.abs().max(y.abs()).max(1.0);
        let holds = if tol > 0.0 {
            (x - y).abs() < tol - scale
        } else {
            (x - y).abs() <= scale
        };
        if !holds && b.leading().is_some_and(|l| (l - x).abs() <= scale) {
            // `7 + 10 = 17 - 3 = 14`: a running computation, each side going on from the last.
            return None;
        }
        let actual = match (a.literal(), b.literal()) {
            (None, Some(_)) => format!("it is {}", show_value(x)),
            (Some(_), None) => format!("it is {}", show_value(y)),
            _ => format!("the sides are {} and {}", show_value(x), show_value(y)),
        };
        return Some(Claim {
            text,
            holds,
            actual,
        });
    }
    // An identity: both sides of the same letters, neither a lone letter, and the step is not
    // solving an equation.
    if !identities_allowed || va != vb || matches!(a, Expr::Var(_)) || matches!(b, Expr::Var(_)) {
        return None;
    }
    let mut worst: Option<(f64, usize)> = None;
    for (k, base) in POINTS.iter().enumerate() {
        let at = |c: char| {
            let slot = va.iter().position(|&v| v == c)?;
            Some(base + 0.61 * slot as f64)
        };
        let (x, y) = (a.eval(&at)?, b.eval(&at)?);
        if !x.is_finite() || !y.is_finite() {
            return None;
        }
        let rel = (x - y).abs() / x.abs().max(y.abs()).max(1.0);
        if worst.is_none_or(|w| rel > w.0) {
            worst = Some((rel, k));
        }
    }
    let (rel, k) = worst?;
    if rel <= 1e-9 {
        return Some(Claim {
            text,
            holds: true,
            actual: String::new(),
        });
    }
    if rel < 1e-3 {
        // Close but not equal: rounding inside the expression, not a wrong identity.
        return None;
    }
    let point: Vec<String> = va
        .iter()
        .enumerate()
        .map(|(slot, c)| format!("{c} = {}", show_value(POINTS[k] + 0.61 * slot as f64)))
        .collect();
    Some(Claim {
        text,
        holds: false,
        actual: format!("the sides differ at {}", point.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Option<Claim> {
        let mut c = claims(text);
        assert!(c.len() <= 1, "{c:?}");
        c.pop()
    }

    #[test]
    fn false_arithmetic_is_caught_and_explained() {
        let c = one("So the total is 576 · 11111 = 63,950,064 dollars.").unwrap();
        assert!(!c.holds);
        assert_eq!(
            c.note(),
            "false: 576 · 11,111 = 63,950,064; it is 6,399,936"
        );
        let c = one(r"\[ \frac{3}{5} \times 30 = 20 \]").unwrap();
        assert!(!c.holds, "{c:?}");
    }

    #[test]
    fn true_arithmetic_holds_including_rounded_results() {
        for t in [
            "we add 7 + 10 = 17.",
            r"\(4 \times 5 = 20\) cats were carried away",
            "$18 - 3 - 4 = 11$",
            "10/3 = 3.33 hours",
            "50 * 20% = 10",
            "<<7+10=17>>",
            r"\[ \frac{3}{5} \times 30 = 18 \]",
            "2^{10} = 1,024",
        ] {
            let c = one(t).unwrap_or_else(|| panic!("no claim in {t}"));
            assert!(c.holds, "{t}: {c:?}");
        }
    }

    #[test]
    fn a_chain_is_checked_pair_by_pair_and_running_sums_are_not_claims() {
        let c = claims("Total = 20 + 100 = 120");
        assert_eq!(c.len(), 1);
        assert!(c[0].holds);
        let c = claims("7 + 10 = 17 - 3 = 14");
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].holds);
        let c = claims("2 + 3 = 5 = 6");
        assert!(c.iter().all(|c| c.holds), "{c:?}");
    }

    #[test]
    fn identities_are_tested_at_points_equations_being_solved_are_not() {
        let c = one("Expanding, (5ac)(6ab) = 30abc.").unwrap();
        assert!(!c.holds);
        assert!(c.actual.starts_with("the sides differ at a = "), "{c:?}");
        let c = one(r"so \(x^3 - 1 = (x - 1)(x^2 + x + 1)\)").unwrap();
        assert!(c.holds, "{c:?}");
        let c = one(r"so \(x^3 - 1 = (x + 1)(x^2 - x + 1)\)").unwrap();
        assert!(!c.holds, "{c:?}");
        // Equations being solved: not identities.
        assert_eq!(claims("Solve 2x + 3 = x + 7 for x."), vec![]);
        assert_eq!(claims(r"\[2x + 3 = x + 7\] \[x = 4\]"), vec![]);
        assert_eq!(claims(r"\[4x = 100\] \[x = 25\]"), vec![]);
        assert_eq!(claims("20 + 4x = 100"), vec![]);
    }

    #[test]
    fn claims_in_doubt_are_not_checked() {
        for t in [
            // Spelled-out operations around the numbers.
            "3/5 of 30 = 18",
            "so 3/5 of 30 + 2 = 20",
            "twice 5 = 10",
            "5 cats * 2 = 10 cats",
            "$10/hour * 5 hours = $50",
            // Names and answers, not computations.
            "x = 25",
            "Total Cost = 100",
            "2 hours = 120 minutes",
            // Approximations and other relations.
            r"\(10/3 \approx 3\)",
            "7 + 10 > 16",
            // A mixed number.
            "1 1/2 = 1.5",
            // Ambiguous division.
            "1/2x = 3",
            // A number whose unit is a percent.
            "= 20 percent",
            // The end of an expression that starts with words.
            r"\[ \text{Brianna's Points} = \text{Naomi's Points} + 17 = 68 + 17 \]",
            "New position: 1st - 5 = 6th",
        ] {
            assert_eq!(claims(t), vec![], "{t}");
        }
    }

    #[test]
    fn a_step_without_claims_has_an_empty_verdict() {
        assert_eq!(verify("Erin starts with 7 lollipops."), Verdict::default());
        let v = verify("7 + 10 = 17 and 17 - 3 = 15");
        assert_eq!((v.checked, v.failed), (2, 1));
        assert_eq!(v.note, "false: 17 - 3 = 15; it is 14");
        assert_eq!(v.summary(), v.note);
    }
}
