//! Tokens and expressions of the plain notation (`latex::plain`'s output): numbers with their
//! written precision, one-letter variables, `+ - * / ^ %`, `sqrt`, parentheses and implicit
//! products (`4x`, `(a)(b)`). Anything the grammar does not cover fails to parse, and a claim
//! with a side that fails is not checked.

use std::fmt;

use super::latex::STOP;

/// One token of the plain notation.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A number as written: its value, and its decimal places (what a rounded result keeps).
    Num(f64, u32),
    Var(char),
    /// A word of two or more letters: prose, a unit, a name.
    Word(String),
    Op(char),
    Open,
    Close,
    Eq,
    Pct,
    Sqrt,
    /// Sentence punctuation, a math delimiter, a relation other than `=`: no claim spans it.
    Stop,
}

/// The tokens of `s`.
pub fn tokens(s: &str) -> Vec<Tok> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_ascii_digit() || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let (tok, j) = number(&c, i);
            out.push(tok);
            i = j;
        } else if ch.is_alphabetic() {
            let mut j = i;
            while j < c.len() && c[j].is_alphabetic() {
                j += 1;
            }
            let w: String = c[i..j].iter().collect();
            // `5ac`, `30abc`: letters written straight after a number are a product of
            // variables (but `5th`, `2nd`).
            let after_digit = i > 0 && c[i - 1].is_ascii_digit();
            if after_digit
                && (2..=3).contains(&(j - i))
                && !["st", "nd", "rd", "th"].contains(&w.as_str())
            {
                out.extend(c[i..j].iter().map(|&v| Tok::Var(v)));
                i = j;
                continue;
            }
            out.push(match w.as_str() {
                "sqrt" => Tok::Sqrt,
                _ if j - i == 1 => Tok::Var(ch),
                _ => Tok::Word(w.to_lowercase()),
            });
            i = j;
        } else {
            out.push(match ch {
                '+' | '-' | '*' | '/' | '^' => Tok::Op(ch),
                '(' => Tok::Open,
                ')' => Tok::Close,
                '=' => Tok::Eq,
                '%' => Tok::Pct,
                c if c.is_whitespace() => {
                    i += 1;
                    continue;
                }
                // A quote or an apostrophe inside prose.
                '\'' | '"' | '’' | '‘' | '“' | '”' => Tok::Word("'".into()),
                STOP => Tok::Stop,
                _ => Tok::Stop,
            });
            i += 1;
        }
    }
    times_between_numbers(&mut out);
    out
}

/// `4 x 5`: an `x` between two numbers is a product, not a variable.
fn times_between_numbers(t: &mut [Tok]) {
    for k in 1..t.len().saturating_sub(1) {
        if matches!(t[k], Tok::Var('x' | 'X'))
            && matches!(t[k - 1], Tok::Num(..))
            && matches!(t[k + 1], Tok::Num(..))
        {
            t[k] = Tok::Op('*');
        }
    }
}

/// A number at `c[i]`: digits with thousands separators (`63,950,064`: a comma followed by
/// exactly three digits) and a decimal part.
fn number(c: &[char], mut i: usize) -> (Tok, usize) {
    let mut digits = String::new();
    let mut decimals = 0u32;
    let mut seen_point = false;
    while i < c.len() {
        let ch = c[i];
        if ch.is_ascii_digit() {
            digits.push(ch);
            if seen_point {
                decimals += 1;
            }
            i += 1;
        } else if ch == ','
            && !seen_point
            && !digits.is_empty()
            && c.len() >= i + 4
            && c[i + 1..i + 4].iter().all(char::is_ascii_digit)
            && !c.get(i + 4).is_some_and(char::is_ascii_digit)
        {
            i += 1;
        } else if ch == '.' && !seen_point && c.get(i + 1).is_some_and(char::is_ascii_digit) {
            digits.push('.');
            seen_point = true;
            i += 1;
        } else {
            break;
        }
    }
    (Tok::Num(digits.parse().unwrap_or(f64::NAN), decimals), i)
}

/// An expression of the plain notation.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal: value and decimal places as written.
    Num(f64, u32),
    Var(char),
    Neg(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
    Pct(Box<Expr>),
    Sqrt(Box<Expr>),
    /// A parenthesised group, kept so the claim prints as written.
    Group(Box<Expr>),
}

impl Expr {
    /// The value with `vars` bound (by letter); None where a variable is unbound.
    pub fn eval(&self, vars: &dyn Fn(char) -> Option<f64>) -> Option<f64> {
        Some(match self {
            Expr::Num(v, _) => *v,
            Expr::Var(c) => vars(*c)?,
            Expr::Neg(e) => -e.eval(vars)?,
            Expr::Pct(e) => e.eval(vars)? / 100.0,
            Expr::Sqrt(e) => e.eval(vars)?.sqrt(),
            Expr::Group(e) => e.eval(vars)?,
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(vars)?, b.eval(vars)?);
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    '/' => a / b,
                    _ => a.powf(b),
                }
            }
        })
    }

    /// The letters it uses, sorted.
    pub fn vars(&self) -> Vec<char> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_vars(&self, out: &mut Vec<char>) {
        match self {
            Expr::Var(c) => out.push(*c),
            Expr::Num(..) => {}
            Expr::Neg(e) | Expr::Pct(e) | Expr::Sqrt(e) | Expr::Group(e) => e.collect_vars(out),
            Expr::Bin(_, a, b) => {
                a.collect_vars(out);
                b.collect_vars(out);
            }
        }
    }

    /// Whether it is a literal (its precision then bounds the claim's rounding).
    pub fn literal(&self) -> Option<(f64, u32)> {
        match self {
            Expr::Num(v, d) => Some((*v, *d)),
            Expr::Pct(e) => e.literal().map(|(v, d)| (v / 100.0, d + 2)),
            Expr::Group(e) => e.literal(),
            _ => None,
        }
    }

    /// The first literal read from the left: a running computation (`7 + 10 = 17 - 3 = 14`)
    /// starts its next side from the previous side's value.
    pub fn leading(&self) -> Option<f64> {
        match self {
            Expr::Num(v, _) => Some(*v),
            Expr::Bin(_, a, _) => a.leading(),
            Expr::Group(e) | Expr::Pct(e) => e.leading(),
            _ => None,
        }
    }
}

/// A number as a reader writes it: thousands separated, the written decimals kept.
pub fn show_number(v: f64, decimals: u32) -> String {
    let s = format!("{:.*}", decimals as usize, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
    let mut grouped = String::new();
    for (k, ch) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// A computed value: whole numbers as such, others to at most four decimals.
pub fn show_value(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        show_number(v.round(), 0)
    } else {
        let s = show_number(v, 4);
        s.trim_end_matches('0').to_string()
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Num(v, d) => write!(f, "{}", show_number(*v, *d)),
            Expr::Var(c) => write!(f, "{c}"),
            Expr::Neg(e) => write!(f, "-{e}"),
            Expr::Pct(e) => write!(f, "{e}%"),
            Expr::Sqrt(e) => write!(f, "√{e}"),
            Expr::Group(e) if matches!(**e, Expr::Num(..) | Expr::Var(_)) => write!(f, "{e}"),
            Expr::Group(e) => write!(f, "({e})"),
            Expr::Bin(op, a, b) => match op {
                '*' if juxtaposed(b)
                    && !matches!(**a, Expr::Bin('+' | '-' | '/', ..) | Expr::Neg(_)) =>
                {
                    write!(f, "{a}{b}")
                }
                '*' => write!(f, "{a} · {b}"),
                '^' => write!(f, "{a}^{b}"),
                _ => write!(f, "{a} {op} {b}"),
            },
        }
    }
}

/// Whether a factor reads right written straight after another (`4x`, `2(3 + 4)`), not after a
/// dot: a letter, or a group that keeps its parentheses.
fn juxtaposed(e: &Expr) -> bool {
    match e {
        Expr::Var(_) => true,
        Expr::Group(inner) => !matches!(**inner, Expr::Num(..) | Expr::Var(_)),
        _ => false,
    }
}

/// Parses all of `t` as one expression; None if any of it is left over or does not fit the
/// grammar, or if it is ambiguous (`1/2x`: is x under the fraction bar?).
pub fn parse(t: &[Tok]) -> Option<Expr> {
    let mut p = Parser { t, i: 0 };
    let e = p.sum()?;
    (p.i == t.len()).then_some(e)
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }

    fn sum(&mut self) -> Option<Expr> {
        let mut e = self.product()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek() {
            let op = *op;
            self.i += 1;
            let r = self.product()?;
            e = Expr::Bin(op, Box::new(e), Box::new(r));
        }
        Some(e)
    }

    fn product(&mut self) -> Option<Expr> {
        let mut e = self.unary()?;
        let mut divided = false;
        loop {
            match self.peek() {
                Some(Tok::Op(op @ ('*' | '/'))) => {
                    let op = *op;
                    divided |= op == '/';
                    self.i += 1;
                    let r = self.unary()?;
                    e = Expr::Bin(op, Box::new(e), Box::new(r));
                }
                // An implicit product: `4x`, `2(3)`, `(a)(b)`, `2 sqrt(3)`; a number only after
                // a group (`(2)3`), never after a number.
                Some(Tok::Var(_) | Tok::Open | Tok::Sqrt) => {
                    if divided {
                        return None;
                    }
                    let r = self.power()?;
                    e = Expr::Bin('*', Box::new(e), Box::new(r));
                }
                Some(Tok::Num(..)) if matches!(last_factor(&e), Expr::Group(_)) => {
                    if divided {
                        return None;
                    }
                    let r = self.power()?;
                    e = Expr::Bin('*', Box::new(e), Box::new(r));
                }
                _ => return Some(e),
            }
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        match self.peek() {
            Some(Tok::Op('-')) => {
                self.i += 1;
                Some(Expr::Neg(Box::new(self.unary()?)))
            }
            Some(Tok::Op('+')) => {
                self.i += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Option<Expr> {
        let base = self.postfix()?;
        if let Some(Tok::Op('^')) = self.peek() {
            self.i += 1;
            let exp = self.unary()?;
            return Some(Expr::Bin('^', Box::new(base), Box::new(exp)));
        }
        Some(base)
    }

    fn postfix(&mut self) -> Option<Expr> {
        let mut e = self.primary()?;
        if let Some(Tok::Pct) = self.peek() {
            self.i += 1;
            e = Expr::Pct(Box::new(e));
        }
        Some(e)
    }

    fn primary(&mut self) -> Option<Expr> {
        let tok = self.peek()?.clone();
        self.i += 1;
        match tok {
            Tok::Num(v, d) if v.is_finite() => Some(Expr::Num(v, d)),
            Tok::Var(c) => Some(Expr::Var(c)),
            Tok::Open => {
                let e = self.sum()?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.i += 1;
                        // `((3)/(5))` from LaTeX: one pair of parentheses is enough to print.
                        Some(match e {
                            Expr::Group(_) => e,
                            e => Expr::Group(Box::new(e)),
                        })
                    }
                    _ => None,
                }
            }
            Tok::Sqrt => Some(Expr::Sqrt(Box::new(self.postfix()?))),
            _ => None,
        }
    }
}

fn last_factor(e: &Expr) -> &Expr {
    match e {
        Expr::Bin('*', _, b) => b,
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> Option<f64> {
        parse(&tokens(s))?.eval(&|_| None)
    }

    #[test]
    fn numbers_keep_their_written_precision() {
        assert_eq!(tokens("63,950,064"), vec![Tok::Num(63_950_064.0, 0)]);
        assert_eq!(tokens("3.25"), vec![Tok::Num(3.25, 2)]);
        // A list, not a thousands separator.
        assert_eq!(
            tokens("1,2"),
            vec![Tok::Num(1.0, 0), Tok::Stop, Tok::Num(2.0, 0)]
        );
    }

    #[test]
    fn precedence_implicit_products_and_percent() {
        assert_eq!(value("2 + 3 * 4"), Some(14.0));
        assert_eq!(value("-2^2"), Some(-4.0));
        assert_eq!(value("2(3 + 4)"), Some(14.0));
        assert_eq!(value("4 x 5"), Some(20.0));
        assert_eq!(value("50 * 20%"), Some(10.0));
        assert_eq!(value("sqrt((16))"), Some(4.0));
        assert_eq!(value("((3)/(5)) * 30"), Some(18.0));
    }

    #[test]
    fn what_is_ambiguous_or_left_over_does_not_parse() {
        assert_eq!(parse(&tokens("1/2x")), None);
        assert_eq!(parse(&tokens("1 1/2")), None);
        assert_eq!(parse(&tokens("* 2")), None);
        assert_eq!(parse(&tokens("2 cats")), None);
    }

    #[test]
    fn claims_print_as_a_reader_writes_them() {
        let e = parse(&tokens("576 * 11111")).unwrap();
        assert_eq!(e.to_string(), "576 · 11,111");
        assert_eq!(show_value(6_399_936.0), "6,399,936");
        assert_eq!(show_value(2.5), "2.5");
        assert_eq!(
            parse(&tokens("(5ac)(6ab)")).unwrap().to_string(),
            "(5ac)(6ab)"
        );
    }
}
