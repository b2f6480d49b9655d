//! The explanation panel: what to look at on each page and what just happened, in numbers read
//! from the running model (a [`Numbers`]), never from a script.

use super::numbers::{Numbers, SegNumbers};
use super::{Page, scenes};

fn f(x: f64) -> String {
    if x.is_finite() {
        format!("{x:+.3}")
    } else {
        "—".into()
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.0}%", x * 100.0)
    } else {
        "—".into()
    }
}

/// What the last step did to one segment, or what the next one will do.
fn moved(s: &SegNumbers) -> String {
    match (s.prev_pred, s.moved, s.moved_of_gap) {
        (Some(p), Some(m), Some(g)) => format!(
            "{} → {} ({}, {} of the gap to {})",
            f(p),
            f(s.pred),
            f(m),
            pct(g),
            f(s.target)
        ),
        _ => format!("{} (no step yet)", f(s.pred)),
    }
}

/// The panel's paragraphs (each a line the screen wraps) for `n`.
pub fn lines(n: &Numbers) -> Vec<String> {
    let stepped = n.step > 0;
    match n.page {
        Page::OneStep => one_step(n, stepped),
        Page::Shares => shares(n, stepped),
        Page::Shifted | Page::Scaled => shifted_or_scaled(n, stepped),
        Page::Compare => compare(n, stepped),
    }
}

/// One step of gradient descent on one sentence, and what it does to a similar one.
fn one_step(n: &Numbers, stepped: bool) -> Vec<String> {
    let mut out = Vec::new();
    let [focus, similar, unrelated] = match &n.segments[..] {
        [a, b, c] => [a, b, c],
        _ => return vec!["this scene needs its three sentences".into()],
    };
    out.push(format!(
        "The training set is one sentence, target {:.1}. Its loss is (target − pred)² = ({:.1} − {:.3})² = {:.4}, and dL/dpred = 2(pred − target) = {:.3}: raising the prediction lowers the loss.",
        focus.target, focus.target, focus.pred, focus.loss, focus.dl_dpred
    ));
    out.push(
        "Backpropagation carries dL/dpred back through the head, the hidden layer and the n-gram embeddings: every weight w gets dL/dw = dL/dpred × dpred/dw, and a step moves it by −lr × dL/dw (plain gradient descent here). Press space.".into(),
    );
    if stepped {
        out.push(format!(
            "Step {}: the trained sentence {}.",
            n.step,
            moved(focus)
        ));
        out.push(format!(
            "A similar sentence (shares its n-grams, not trained on): {}.",
            moved(similar)
        ));
        out.push(format!(
            "An unrelated sentence (shares none, target {}): {} → {} ({}).",
            f(unrelated.target),
            f(unrelated.prev_pred.unwrap_or(f64::NAN)),
            f(unrelated.pred),
            f(unrelated.moved.unwrap_or(f64::NAN))
        ));
        if let (Some(ms), Some(mu), Some(mf)) = (similar.moved, unrelated.moved, focus.moved)
            && mf.abs() > 1e-12
        {
            out.push(format!(
                "The similar sentence moved {} as far as the trained one, the unrelated one {}: the weights the step changed are the ones the similar sentence uses too. (This scene's embeddings start {}x their usual size, so that sentences differ from the first step, as in a model that has learnt something.)",
                pct(ms / mf),
                pct(mu / mf),
                scenes::ONE_EMBEDDING_SCALE
            ));
        }
        out.push(format!(
            "Each step closes part of what is left, so the loss falls like a geometric series: now {:.4}.",
            focus.loss
        ));
    }
    out
}

/// The loss shares and gradient shares of three sentences, and who moved most.
fn shares(n: &Numbers, stepped: bool) -> Vec<String> {
    let mut out = Vec::new();
    let total: f64 = n.segments.iter().map(|s| s.loss).sum();
    out.push(format!(
        "Squared errors: {}; their sum {:.4}. Each one's share of the loss is its error over the sum: {}.",
        n.segments
            .iter()
            .map(|s| format!("{:.4}", s.loss))
            .collect::<Vec<_>>()
            .join(", "),
        total,
        n.segments
            .iter()
            .map(|s| format!("{:.3} ({:.1}/18)", s.share, s.share * 18.0))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push(format!(
        "The gradient share (the `grad` column) is the size of each segment's pull on the output layer: {}. A squared error grows with the residual squared, its gradient only with the residual (times the size of the hidden activation), so the largest error dominates the loss more than the update.",
        n.segments
            .iter()
            .map(|s| s.grad_share.map_or_else(|| "—".into(), |g| format!("{g:.3}")))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if stepped {
        let most = n
            .segments
            .iter()
            .filter(|s| s.moved.is_some())
            .max_by(|a, b| {
                a.moved
                    .unwrap_or(0.0)
                    .abs()
                    .total_cmp(&b.moved.unwrap_or(0.0).abs())
            });
        for s in &n.segments {
            out.push(format!("{}: {}", s.id, moved(s)));
        }
        if let Some(m) = most {
            out.push(format!(
                "The prediction that moved most was {} ({}). One step changes weights every segment shares, so the large error pulls the others along, even against their own small errors.",
                m.id,
                f(m.moved.unwrap_or(f64::NAN))
            ));
        }
    } else {
        out.push("Press space: which prediction moves most?".into());
    }
    out
}

/// The shifted and scaled pages: the right order at the wrong values, and MSE taken apart.
fn shifted_or_scaled(n: &Numbers, stepped: bool) -> Vec<String> {
    let mut out = Vec::new();
    let t = &n.train;
    out.push(if n.page == Page::Shifted {
        format!(
            "The predictions started at target + {}: in the right order, off by a constant.",
            scenes::SHIFT
        )
    } else {
        format!(
            "The predictions started at {} × target: in the right order, squeezed toward 0.",
            scenes::SCALE
        )
    });
    out.push(format!(
        "Order: Spearman {:.3}, Kendall {:.3}, pairwise accuracy {:.3}.",
        t.spearman, t.kendall, t.pairwise
    ));
    // The bias is the mean residual, target − pred: predictions above their targets
    // give a negative one, which the words say so that -0.25 does not read as a
    // contradiction of "target + 0.25".
    out.push(format!(
        "Value: MSE = bias² + Var(residual) = ({:.4})² + {:.4} = {:.4} + {:.4} = {:.4} > 0, where bias = mean(target − pred): {}.",
        t.bias,
        t.var_residual,
        t.bias_sq,
        t.var_residual,
        t.mse,
        if t.bias < 0.0 {
            format!("the predictions sit {:.4} above their targets on average", -t.bias)
        } else {
            format!("the predictions sit {:.4} below their targets on average", t.bias)
        }
    ));
    out.push(
        "MSE asks for the values, not only the order: it stays above 0 until every prediction equals its target, and each step trains the shift (bias²) and the spread (Var) away.".into(),
    );
    if stepped {
        for s in &n.segments {
            out.push(format!("{}: {}", s.id, moved(s)));
        }
    } else {
        out.push("Press space, or r to run, and watch the two terms.".into());
    }
    out
}

/// The comparison: MSE against a pairwise objective from the same weights.
fn compare(n: &Numbers, stepped: bool) -> Vec<String> {
    let mut out = Vec::new();
    out.push(
        "Two models from the same weights on a small generated data set: one trained on MSE, one on a pairwise (Bradley-Terry) objective that sees only which segment of a document is better.".into(),
    );
    for m in &n.models {
        out.push(format!(
            "{}: dev pairwise accuracy {:.3}, dev MSE {:.3}, mean prediction {} against mean target {}.",
            m.name,
            m.dev.pairwise,
            m.dev.mse,
            f(m.mean_pred),
            f(m.mean_target)
        ));
    }
    let (mse, pw) = (
        n.models.iter().find(|m| m.name == "mse"),
        n.models.iter().find(|m| m.name == "pairwise"),
    );
    out.push(match (stepped, mse, pw) {
        (false, ..) => "Press r to run both, and watch the mean predictions.".into(),
        (true, Some(m), Some(p)) => {
            let drift = |x: &super::numbers::ModelNumbers| (x.mean_pred - x.mean_target).abs();
            if p.dev.pairwise + 0.005 >= m.dev.pairwise && drift(p) > drift(m) {
                format!(
                    "Step {}: the pairwise model orders the dev segments as well ({:.3} against {:.3}), but nothing holds its values to the targets: its mean is {} off where MSE's is {} off, so its MSE is worse. Regression is not ranking.",
                    n.step,
                    p.dev.pairwise,
                    m.dev.pairwise,
                    f(p.mean_pred - p.mean_target),
                    f(m.mean_pred - m.mean_target)
                )
            } else {
                format!(
                    "Step {}: not there yet (pairwise accuracy {:.3} against MSE's {:.3}); keep running and watch the pairwise model's mean drift from the targets' while its order holds.",
                    n.step, p.dev.pairwise, m.dev.pairwise
                )
            }
        }
        _ => String::new(),
    });
    out
}
