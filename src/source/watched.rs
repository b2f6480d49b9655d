//! A stream followed as a source: the reports come from another process's step records, so this
//! source does not step by itself. It follows the file as it grows and sends each new step; the
//! step keys go forward and back through the recorded steps; run, pause and step commands go to
//! the writer's control file when its header names one, and otherwise say that they cannot.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread;
use std::time::Duration;

use super::{Capabilities, Control, Event, SourceHandle};
use crate::data::{Dataset, Partition};
use crate::stream::StreamState;
use crate::stream::follow::{Follower, Polled};
use crate::stream::state::StreamError;

/// How often a followed file is polled for new lines.
pub const POLL: Duration = Duration::from_millis(50);

/// Where the stream's lines come from.
pub enum Input {
    /// A file followed by name.
    File(Follower),
    /// Standard input, read by a thread of its own; `None` once it has ended.
    Stdin(Option<Receiver<String>>),
}

impl Input {
    /// `-` is standard input; anything else a file to follow.
    pub fn open(path: &Path) -> Input {
        if path.as_os_str() == "-" {
            let (tx, rx) = mpsc::channel();
            thread::spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            Input::Stdin(Some(rx))
        } else {
            Input::File(Follower::new(path))
        }
    }

    /// New complete lines; `Polled::Missing` also when standard input has ended.
    pub fn poll(&mut self) -> std::io::Result<Polled> {
        match self {
            Input::File(f) => f.poll(),
            Input::Stdin(rx) => {
                let Some(r) = rx else {
                    return Ok(Polled::Missing);
                };
                let mut lines = Vec::new();
                loop {
                    match r.try_recv() {
                        Ok(l) => lines.push(l),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            *rx = None;
                            break;
                        }
                    }
                }
                if lines.is_empty() && rx.is_none() {
                    return Ok(Polled::Missing);
                }
                Ok(Polled::Lines(lines))
            }
        }
    }

    /// Whether no more lines can come (standard input has ended).
    pub fn ended(&self) -> bool {
        matches!(self, Input::Stdin(None))
    }
}

/// A followed stream: what has been read, and which recorded step is on screen.
pub struct Watch {
    pub name: String,
    /// The stream's directory, for the control file's path.
    dir: PathBuf,
    pub input: Input,
    pub state: StreamState,
    /// The recorded step on screen; `None` follows the newest.
    position: Option<usize>,
}

impl Watch {
    pub fn new(path: &Path) -> Watch {
        let name = if path.as_os_str() == "-" {
            "stdin".to_string()
        } else {
            path.display().to_string()
        };
        Watch {
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            input: Input::open(path),
            state: StreamState::new(&name),
            position: None,
            name,
        }
    }

    /// Reads the lines there are now. Returns (new steps, messages to show).
    pub fn read(&mut self) -> Result<(usize, Vec<String>), StreamError> {
        let mut steps = 0;
        let mut messages = Vec::new();
        match self.input.poll() {
            Ok(Polled::Lines(lines)) => {
                let warned = self.state.warnings.len();
                for l in lines {
                    if self.state.push(&l)? {
                        steps += 1;
                    }
                }
                messages.extend(self.state.warnings[warned..].iter().cloned());
            }
            Ok(Polled::Missing) => {}
            Ok(Polled::Restarted(why)) => {
                self.state = StreamState::new(&self.name);
                self.position = None;
                messages.push(why);
            }
            Err(e) => messages.push(format!("{}: cannot read: {e}", self.name)),
        }
        Ok((steps, messages))
    }

    /// Reads until the input has nothing more for now (or has ended).
    pub fn read_all(&mut self) -> Result<Vec<String>, StreamError> {
        let mut messages = Vec::new();
        loop {
            let before = (self.state.segments(), self.state.reports.len());
            let (steps, m) = self.read()?;
            messages.extend(m);
            let grew = steps > 0 || self.state.segments() != before.0;
            if !grew && (self.input.ended() || !matches!(self.input, Input::Stdin(Some(_)))) {
                return Ok(messages);
            }
            if !grew {
                thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// The control file, when the writer takes commands.
    pub fn control_path(&self) -> Option<PathBuf> {
        let c = self.state.header.as_ref()?.control.as_ref()?;
        Some(self.dir.join(c))
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            step: true,
            run: self.control_path().is_some(),
            speed: false,
            save: false,
            rewind: true,
            mark: false,
            edit: false,
        }
    }

    /// Appends a command for the writer.
    fn command(&self, cmd: &str) -> Result<String, ControlError> {
        let p = self.control_path().ok_or(ControlError::NoControl)?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .and_then(|mut f| writeln!(f, "{cmd}"))
            .map_err(|source| ControlError::Write { path: p, source })?;
        Ok(format!("sent \"{cmd}\" to the writer"))
    }

    /// Carries out a command: what to show, and whether a recorded step is to be shown.
    pub fn control(&mut self, c: &Control) -> (Option<String>, bool) {
        let n = self.state.reports.len();
        match c {
            Control::Step(k) => match self.position {
                Some(p) => {
                    self.position = Some((p + *k as usize).min(n.saturating_sub(1)));
                    (None, true)
                }
                None => match self.command(&format!("step {k}")) {
                    Ok(m) => (Some(m), false),
                    Err(_) => (
                        Some("at the newest recorded step; the writer takes no commands".into()),
                        false,
                    ),
                },
            },
            Control::Back(k) => {
                let at = self.position.unwrap_or(n.saturating_sub(1));
                self.position = Some(at.saturating_sub(*k as usize));
                (None, n > 0)
            }
            Control::Run => {
                let was_replaying = self.position.take().is_some();
                match self.command("run") {
                    Ok(m) => (Some(m), was_replaying),
                    Err(_) if was_replaying => {
                        (Some("back to the newest recorded step".into()), true)
                    }
                    Err(e) => (Some(e.to_string()), false),
                }
            }
            Control::Pause => (
                Some(self.command("pause").unwrap_or_else(|e| e.to_string())),
                false,
            ),
            Control::SetSpeed(_) => (Some("a stream goes at its writer's speed".into()), false),
            Control::Save(_) => (Some("nothing to save: this is a stream".into()), false),
            Control::RestoreBest => (
                Some("a stream cannot restore a model; B needs segscope's own trainer".into()),
                false,
            ),
            // The app keeps the mark's predictions for the diff view itself; a stream has no
            // model to keep or to rewind.
            Control::SetEdits(_) => (
                Some("a stream has no training to edit; edits need segscope's own trainer".into()),
                false,
            ),
            Control::Mark | Control::Rewind => (
                Some("a stream has no model to rewind; p steps back through recorded steps".into()),
                false,
            ),
            Control::Quit => (None, false),
        }
    }

    /// The report on screen: the recorded step at the position, or the newest.
    pub fn shown(&self) -> Option<&crate::engine::StepReport> {
        match self.position {
            Some(p) => self.state.reports.get(p),
            None => self.state.reports.last(),
        }
    }

    /// Whether the newest step is on screen.
    pub fn live(&self) -> bool {
        self.position.is_none()
    }
}

/// Why a command did not reach the stream's writer.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("this stream's writer takes no commands (its header names no control file)")]
    NoControl,
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why a stream could not be opened for watching; each names the stream.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}: no such file (`watch --wait` waits for it to appear)")]
    NoFile(String),
    #[error(transparent)]
    Read(#[from] StreamError),
    #[error(
        "{name}: not a segscope stream: no header or segment record in its {lines} line(s) (`segscope watch` reads streams written by --stream or the Python writer; to train on a dataset use --data)"
    )]
    NotAStream { name: String, lines: usize },
    #[error("{0}: no segment record yet (`watch --wait` waits for them)")]
    NoSegments(String),
    #[error("{0}: the stream ended before any segment record")]
    EndedEmpty(String),
}

/// Waits until the stream has a header and its segments (its first step record, or the end of
/// what there is), telling `waiting` once if the file does not exist yet.
pub fn open(path: &Path, how: Open, mut waiting: impl FnMut(&str)) -> Result<Watch, OpenError> {
    let is_file = path.as_os_str() != "-";
    if is_file && !how.wait && !path.exists() {
        return Err(OpenError::NoFile(path.display().to_string()));
    }
    let mut w = Watch::new(path);
    let mut told = false;
    loop {
        let messages = w.read_all()?;
        for m in messages {
            waiting(&m);
        }
        if w.state.segments() > 0 && (!w.state.reports.is_empty() || w.input.ended()) {
            return Ok(w);
        }
        if is_file && how.to_end && !how.wait {
            // Read to its end now: what the file holds is all there is.
            if w.state.segments() > 0 {
                return Ok(w);
            }
            return Err(if w.state.header.is_none() && w.state.bad_lines > 0 {
                OpenError::NotAStream {
                    name: w.name,
                    lines: w.state.bad_lines,
                }
            } else {
                OpenError::NoSegments(w.name)
            });
        }
        if w.input.ended() {
            return Err(OpenError::EndedEmpty(w.name));
        }
        if !told {
            let what = if matches!(w.input, Input::File(_)) && !Path::new(&w.name).exists() {
                format!("waiting for {} to appear ...", w.name)
            } else {
                format!("waiting for {}'s segments and first step ...", w.name)
            };
            waiting(&what);
            told = true;
        }
        thread::sleep(POLL);
    }
}

/// How [`open`] treats a stream file that is not there, or has no steps yet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Open {
    /// Wait for the file, its segments and its first step (a writer may not have started).
    pub wait: bool,
    /// Read the file to its end and stop (headless): never wait, unless `wait`.
    pub to_end: bool,
}

/// The dataset and partition of a stream that has its segments.
pub fn data_of(w: &mut Watch) -> Option<(Arc<Dataset>, Arc<Partition>)> {
    w.state.dataset()
}

/// Follows `w` on a thread of its own for the dashboard.
pub fn spawn(w: Watch) -> std::io::Result<SourceHandle> {
    let capabilities = w.capabilities();
    super::driver::spawn_thread(capabilities, move |cmds, tx| follow(w, cmds, tx))
}

fn follow(mut w: Watch, cmds: Receiver<Control>, out: Sender<Event>) {
    // Every recorded step goes to the app once, in order, so its charts, data map and diff have
    // the whole history, whether the stream is finished or still growing. While an older step is
    // shown (`p`), new steps wait; they follow when the view is live again.
    let mut sent = 0usize;
    let catch_up = |w: &Watch, sent: &mut usize, rate: f64| -> bool {
        let n = w.state.reports.len();
        for r in &w.state.reports[(*sent).min(n)..] {
            if out.send(Event::Report(Box::new(r.clone()), rate)).is_err() {
                return false;
            }
        }
        *sent = n;
        true
    };
    let replay = |w: &Watch| -> bool {
        let newest = w.state.reports.last().map_or(0, |r| r.step);
        match w.shown() {
            Some(r) => out.send(Event::Replay(Box::new(r.clone()), newest)).is_ok(),
            None => true,
        }
    };
    // Steps per second as they arrive from the writer.
    let mut meter = super::driver::RateMeter::default();
    if !catch_up(&w, &mut sent, 0.0) {
        return;
    }
    let mut segments = w.state.segments();
    let mut told_end = false;
    loop {
        match cmds.recv_timeout(POLL) {
            Ok(Control::Quit) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(c) => {
                let (msg, show) = w.control(&c);
                if show && !(replay(&w) && (!w.live() || catch_up(&w, &mut sent, 0.0))) {
                    return;
                }
                if let Some(m) = msg
                    && out.send(Event::Message(m)).is_err()
                {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let (steps, messages) = match w.read() {
            Ok(x) => x,
            Err(e) => {
                let _ = out.send(Event::Message(format!("stopped following: {e}")));
                return;
            }
        };
        for m in messages {
            if out.send(Event::Message(m)).is_err() {
                return;
            }
        }
        if w.state.segments() != segments {
            segments = w.state.segments();
            if let Some((ds, part)) = w.state.dataset()
                && out.send(Event::Data(ds, part)).is_err()
            {
                return;
            }
        }
        // A replaced stream (a new run) has not ended.
        if told_end && w.state.ended.is_none() && !w.input.ended() {
            told_end = false;
        }
        if !told_end
            && let Some(why) = w
                .state
                .ended
                .clone()
                .or_else(|| w.input.ended().then(|| "standard input closed".to_string()))
        {
            told_end = true;
            if out.send(Event::Ended(why)).is_err() {
                return;
            }
        }
        if steps > 0 {
            let mut rate = 0.0;
            for _ in 0..steps {
                rate = meter.tick();
            }
            if w.live() && !catch_up(&w, &mut sent, rate) {
                return;
            }
        }
    }
}
