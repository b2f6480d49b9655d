//! Running a source without a screen: one JSON object per step, a progress line on a terminal's
//! stderr, then the optional per-segment report and checkpoint.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::analysis::datamap::Window;
use crate::analysis::top_by_share;
use crate::data::{Dataset, Partition, Split};
use crate::engine::metrics::SplitMetrics;
use crate::engine::{LayerChange, StepReport};
use crate::export;
use crate::source::Source;

/// What a headless run should do besides stepping.
#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    pub steps: u64,
    /// JSON lines go here; stdout when `None`.
    pub out: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub save: Option<PathBuf>,
    /// Show a progress line on stderr (only when it is a terminal).
    pub progress: bool,
    /// Segments listed in each line's `top`.
    pub top_k: usize,
    /// The outlier threshold of the per-segment report.
    pub outlier_k: f64,
    /// The labels' kind, for the report's label score.
    pub labels: crate::labels::LabelInfo,
    /// Hand back the best step's model (lowest dev loss) rather than the last.
    pub keep_best: bool,
    /// End after this many steps without a better dev loss; 0 = never.
    pub early_stop: u64,
    /// Also write the stream format here: every segment, then every evaluated step's predictions.
    pub stream: Option<PathBuf>,
    /// The run's config, for the stream's header.
    pub config: Option<serde_json::Value>,
}

/// How a headless run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `steps` were taken; `kept` is the step whose model was handed back.
    Finished {
        steps: u64,
        /// Whether the dev loss stopped improving, and for how many steps (the patience used).
        stopped_early: Option<u64>,
        /// The last step taken, and the step whose model was handed back.
        last: u64,
        kept: u64,
    },
    Diverged {
        step: u64,
        reason: String,
    },
    /// A signal stopped the run after `steps` steps (its lines, report and checkpoint are written).
    Interrupted {
        steps: u64,
        signal: i32,
    },
}

/// The last line of a headless run: which model it handed back, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Steps taken.
    pub steps: u64,
    pub stopped_early: bool,
    /// `best` or `last`.
    pub keep: &'static str,
    /// The step whose model `--report` and `--save` used.
    pub kept_step: u64,
    /// The step with the lowest dev loss, and its dev metrics (null without a dev split).
    pub best_step: Option<u64>,
    pub best_dev: Option<SplitMetrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("{path}: cannot write: {source}")]
    Output {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error(transparent)]
    Save(#[from] crate::source::SourceError),
    #[error(transparent)]
    Write(#[from] crate::io_plan::WriteError),
}

impl HeadlessError {
    /// 2 for an output another process is writing or a link (the user's to change), else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            HeadlessError::Write(w) => w.exit_code(),
            _ => 1,
        }
    }
}

/// Where the step lines go: a file written atomically (in place only once complete), or
/// standard output.
enum Sink {
    File(crate::io_plan::AtomicFile),
    Stdout(std::io::BufWriter<std::io::StdoutLock<'static>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Stdout(o) => o.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Stdout(o) => o.flush(),
        }
    }
}

impl Sink {
    /// Writes one JSON line.
    fn line(&mut self, value: &impl Serialize) -> std::io::Result<()> {
        serde_json::to_writer(&mut *self, value).map_err(std::io::Error::other)?;
        self.write_all(b"\n")
    }

    /// Ends the output: standard output flushed, a file renamed into place.
    fn finish(
        self,
        io_err: impl FnOnce(std::io::Error) -> HeadlessError,
    ) -> Result<(), HeadlessError> {
        match self {
            Sink::File(f) => Ok(f.commit()?),
            Sink::Stdout(mut o) => o.flush().map_err(io_err),
        }
    }
}

/// Stream output, when asked for.
fn stream_writer(
    source: &dyn Source,
    opts: &HeadlessOptions,
) -> Result<Option<(crate::stream::Writer, String)>, HeadlessError> {
    let Some(p) = &opts.stream else {
        return Ok(None);
    };
    let name = p.display().to_string();
    let run = p
        .file_stem()
        .map_or("segscope".to_string(), |s| s.to_string_lossy().into_owned());
    let w = crate::stream::Writer::create(
        p,
        source.dataset(),
        source.partition(),
        &run,
        opts.config.clone(),
    )
    .map_err(|e| {
        // A stream another process holds is the user's to sort out (exit 2), not a failure.
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<crate::io_plan::WriteError>())
        {
            Some(crate::io_plan::WriteError::Locked { path, holder }) => {
                HeadlessError::Write(crate::io_plan::WriteError::Locked {
                    path: path.clone(),
                    holder: holder.clone(),
                })
            }
            _ => HeadlessError::Output {
                path: name.clone(),
                source: e,
            },
        }
    })?;
    Ok(Some((w, name)))
}

/// Writes `r` to the stream, if there is one and `r` evaluated every segment at its own step.
fn stream_step(
    w: &mut Option<(crate::stream::Writer, String)>,
    r: &StepReport,
) -> Result<(), HeadlessError> {
    if let Some((w, name)) = w
        && r.eval_step == r.step
    {
        w.step(r).map_err(|e| HeadlessError::Output {
            path: name.clone(),
            source: e,
        })?;
    }
    Ok(())
}

/// A segment in a headless line's `top` list.
#[derive(Debug, Clone, Serialize)]
pub struct TopSegment {
    pub id: String,
    pub doc: String,
    pub split: Split,
    pub target: f32,
    pub prediction: f32,
    pub residual: f32,
    pub share: f32,
}

/// One JSON line of a headless run.
#[derive(Debug, Clone, Serialize)]
pub struct StepLine<'a> {
    pub step: u64,
    pub eval_step: u64,
    pub train: &'a SplitMetrics,
    pub dev: &'a SplitMetrics,
    pub batch_loss: f64,
    pub batch_size: usize,
    pub grad_norm: f64,
    pub lr: f64,
    pub weight_change: f64,
    pub weight_change_rel: f64,
    pub layers: &'a [LayerChange],
    pub step_ms: f64,
    pub eval_ms: f64,
    pub top: Vec<TopSegment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<&'a str>,
}

/// The headless JSON line for a report, with the `top_k` training segments by loss share.
pub fn line<'a>(r: &'a StepReport, ds: &Dataset, part: &Partition, top_k: usize) -> StepLine<'a> {
    let top = top_by_share(r, part, top_k)
        .into_iter()
        .map(|i| {
            let s = &ds.segments[i];
            let e = &r.segments[i];
            TopSegment {
                id: ds.segment_id(i),
                doc: ds.docs[s.doc].id.clone(),
                split: part.split_of(i),
                target: ds.target(i),
                prediction: e.pred,
                residual: e.residual,
                share: e.share,
            }
        })
        .collect();
    StepLine {
        step: r.step,
        eval_step: r.eval_step,
        train: &r.train,
        dev: &r.dev,
        batch_loss: r.batch_loss,
        batch_size: r.batch.len(),
        grad_norm: r.grad_norm,
        lr: r.lr,
        weight_change: r.weight_change,
        weight_change_rel: r.weight_change_rel,
        layers: &r.layers,
        step_ms: r.step_ms,
        eval_ms: r.eval_ms,
        top,
        diverged: r.diverged.as_deref(),
    }
}

/// The last line of a headless run: `{"summary": ...}`.
#[derive(Serialize)]
struct SummaryLine<'a> {
    summary: &'a Summary,
}

/// The progress line on a terminal's stderr, rewritten in place.
fn say_progress(report: &StepReport, done: u64, steps: u64) {
    eprint!(
        "\r  step {:>6}  {:>5.1}%  train loss {:.4}  dev loss {:.4}   ",
        report.step,
        100.0 * done as f64 / steps as f64,
        report.train.loss,
        report.dev.loss
    );
}

/// The stream's end record: a watcher stops saying it follows a run that is over.
fn end_stream(
    stream: &mut Option<(crate::stream::Writer, String)>,
    stopped_early: bool,
) -> Result<(), HeadlessError> {
    if let Some((w, name)) = stream {
        let reason = if crate::signals::received().is_some() {
            "stopped by a signal"
        } else if stopped_early {
            "stopped early"
        } else {
            "finished"
        };
        w.end(reason).map_err(|e| HeadlessError::Output {
            path: name.clone(),
            source: e,
        })?;
    }
    Ok(())
}

/// Takes up to `opts.steps` steps from `source`, writing one line per step and a final summary
/// line; stops early when the dev loss has stopped improving (`opts.early_stop`).
pub fn run(source: &mut dyn Source, opts: &HeadlessOptions) -> Result<Outcome, HeadlessError> {
    let out_name = opts
        .out
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let io_err = |source| HeadlessError::Output {
        path: out_name.clone(),
        source,
    };
    let mut out = match &opts.out {
        Some(p) => Sink::File(crate::io_plan::AtomicFile::create(p)?),
        None => Sink::Stdout(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let progress = opts.progress && std::io::stderr().is_terminal();
    let ds = source.dataset().clone();
    let part = source.partition().clone();
    let has_dev = part.counts().1 > 0;
    let mut stream = stream_writer(source, opts)?;
    crate::signals::install();
    let mut last: Option<StepReport> = None;
    let mut taken = 0;
    let mut last_step = 0;
    let mut stopped_early = false;
    // The last refreshed steps, for the data map columns of `--report`.
    let mut window = Window::default();
    let mut best_window: Option<Window> = None;
    // Only refreshed steps can improve the best; with refreshes every k steps, a patience under
    // two refreshes would stop after a single evaluation without improvement.
    let patience = match opts.early_stop {
        0 => 0,
        n => n.max(2 * source.refresh_interval()),
    };
    for k in 0..opts.steps {
        let report = source.advance();
        if report.diverged.is_none() {
            window.push(report.eval_step, report.segments.clone());
            // The window up to the best step, for when its model is handed back (20 shared
            // pointers, no copies).
            if source.best().is_some_and(|b| b.0 == report.step) {
                best_window = Some(window.clone());
            }
        }
        stream_step(&mut stream, &report)?;
        out.line(&line(&report, &ds, &part, opts.top_k))
            .map_err(io_err)?;
        if progress {
            say_progress(&report, k + 1, opts.steps);
        }
        if let Some(reason) = &report.diverged {
            if progress {
                eprintln!();
            }
            out.finish(io_err)?;
            let outcome = Outcome::Diverged {
                step: report.step,
                reason: reason.clone(),
            };
            finish(source, opts, Some(report), &window)?;
            return Ok(outcome);
        }
        taken = k + 1;
        let step = report.step;
        last_step = step;
        last = Some(report);
        if let Some(signal) = crate::signals::received() {
            out.finish(io_err)?;
            finish(source, opts, last, &window)?;
            return Ok(Outcome::Interrupted {
                steps: taken,
                signal,
            });
        }
        let best_step = source.best().map_or(0, |b| b.0);
        if patience > 0 && has_dev && step.saturating_sub(best_step) >= patience {
            stopped_early = true;
            break;
        }
    }
    if progress {
        eprintln!();
    }
    let best = source.best();
    if opts.keep_best
        && let Some((b, _)) = best
        && last.as_ref().is_some_and(|r| r.step != b)
        && let Some(r) = source.restore_best()
    {
        // The stream goes back too, so a watcher ends on the kept model.
        stream_step(&mut stream, &r)?;
        last = Some(r);
    }
    end_stream(&mut stream, stopped_early)?;
    let kept = last.as_ref().map_or(0, |r| r.step);
    let summary = Summary {
        steps: taken,
        stopped_early,
        keep: if opts.keep_best { "best" } else { "last" },
        kept_step: kept,
        best_step: best.map(|b| b.0),
        best_dev: best.map(|b| b.1),
    };
    out.line(&SummaryLine { summary: &summary })
        .map_err(io_err)?;
    out.finish(io_err)?;
    let map_window = match &best_window {
        Some(w) if kept != last_step => w,
        _ => &window,
    };
    finish(source, opts, last, map_window)?;
    Ok(Outcome::Finished {
        steps: taken,
        stopped_early: stopped_early.then_some(patience),
        last: last_step,
        kept,
    })
}

/// Writes the per-segment report of `last` (the source's current state when no step was taken)
/// and saves the source.
fn finish(
    source: &mut dyn Source,
    opts: &HeadlessOptions,
    last: Option<StepReport>,
    window: &Window,
) -> Result<(), HeadlessError> {
    if let Some(p) = &opts.report {
        let last = match last {
            Some(r) => r,
            None => source.current(),
        };
        let (ds, part) = (source.dataset().clone(), source.partition().clone());
        let mut window = window.clone();
        // A handed-back best model: the map covers the steps up to it.
        window.truncate(last.eval_step);
        window.push(last.eval_step, last.segments.clone());
        let map = window.map(&part, &crate::labels::classes(&ds));
        export::run(&export::Job {
            path: p,
            report: &last,
            ds: &ds,
            part: &part,
            outlier_k: opts.outlier_k,
            map: map.as_ref(),
            labels: &opts.labels,
            edits: None,
        })?;
    }
    if let Some(dir) = &opts.save {
        source.save(dir)?;
    }
    Ok(())
}
