//! Sources of step reports: the driver thread's pacing and commands against a scripted source,
//! the trainer as a source, and a report's round trip through JSON.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use segscope::cli::session;
use segscope::data::{Dataset, Partition, ReadOptions, parse_str};
use segscope::engine::StepReport;
use segscope::source::{self, Capabilities, Control, Event, Source};

use crate::common;

/// A source that "steps" by handing out the fixture's hand-made reports.
struct Scripted {
    ds: Arc<Dataset>,
    part: Arc<Partition>,
    step: u64,
}

impl Source for Scripted {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.ds
    }
    fn partition(&self) -> &Arc<Partition> {
        &self.part
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            step: true,
            run: true,
            speed: true,
            save: true,
            rewind: false,
            mark: false,
            edit: false,
        }
    }
    fn current(&mut self) -> StepReport {
        common::report(&self.ds, self.step)
    }
    fn advance(&mut self) -> StepReport {
        self.step += 1;
        let mut r = common::report(&self.ds, self.step);
        if self.step == 7 {
            r.diverged = Some("scripted".into());
            self.step -= 1;
        }
        r
    }
    fn save(&mut self, dir: &Path) -> Result<PathBuf, segscope::source::SourceError> {
        Ok(dir.join(format!("step-{}", self.step)))
    }
}

fn scripted() -> Box<dyn Source> {
    let ds = common::dataset();
    let part = common::partition(&ds);
    Box::new(Scripted { ds, part, step: 0 })
}

/// Equal JSON trees, numbers to a relative 1e-12.
fn same(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{at}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (k, (p, q)) in x.iter().zip(y).enumerate() {
                same(p, q, &format!("{at}[{k}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (k, p) in x {
                same(p, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// The steps of the next `n` reports, and any messages on the way.
fn next_reports(h: &source::SourceHandle, n: usize) -> (Vec<u64>, Vec<String>) {
    let (mut steps, mut msgs) = (Vec::new(), Vec::new());
    while steps.len() < n {
        match h.events.recv_timeout(Duration::from_secs(10)) {
            Ok(Event::Report(r, _)) => steps.push(r.step),
            Ok(Event::Message(m)) => msgs.push(m),
            Ok(Event::Data(..)) => panic!("the trainer's segments never change"),
            Ok(Event::Replay(..)) => panic!("a trainer replays nothing"),
            Ok(Event::Edited(ds)) => msgs.push(format!("(edited: {})", ds.target(0))),
            Ok(Event::Ended(why)) => msgs.push(format!("(ended: {why})")),
            Err(e) => panic!("no report after {steps:?}: {e}"),
        }
    }
    (steps, msgs)
}

#[test]
fn the_driver_reports_the_start_then_exactly_the_steps_asked_for() {
    let h = source::spawn(scripted(), 0.0).expect("spawn");
    assert_eq!(next_reports(&h, 1).0, vec![0]);
    h.control.send(Control::Step(3)).expect("send");
    assert_eq!(next_reports(&h, 3).0, vec![1, 2, 3]);
    // Nothing more comes unasked.
    assert!(h.events.recv_timeout(Duration::from_millis(200)).is_err());
    h.control.send(Control::Save("ckpt".into())).expect("send");
    match h.events.recv_timeout(Duration::from_secs(10)) {
        Ok(Event::Message(m)) => assert_eq!(m, "saved checkpoint ckpt/step-3"),
        other => panic!("expected the save's message, got {other:?}"),
    }
    h.control.send(Control::Quit).expect("send");
    h.thread.join().expect("the driver ends on Quit");
}

#[test]
fn running_stops_by_itself_at_a_refused_step_and_paces_at_the_speed() {
    let h = source::spawn(scripted(), 20.0).expect("spawn");
    next_reports(&h, 1);
    let t = std::time::Instant::now();
    h.control.send(Control::Run).expect("send");
    // Steps 1..=6 run at 20 a second, step 7 is refused and running ends there.
    assert_eq!(next_reports(&h, 7).0, vec![1, 2, 3, 4, 5, 6, 7]);
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    assert!(h.events.recv_timeout(Duration::from_millis(300)).is_err());
    // A pause while running stops it within one step: the driver may take the step it was
    // already starting when the pause arrived (the two sends race with it), never more.
    h.control.send(Control::SetSpeed(0.0)).expect("send");
    h.control.send(Control::Run).expect("send");
    h.control.send(Control::Pause).expect("send");
    let mut after_pause = 0;
    while h.events.recv_timeout(Duration::from_millis(300)).is_ok() {
        after_pause += 1;
    }
    assert!(after_pause <= 1, "{after_pause} reports after a pause");
    drop(h.control);
    h.thread
        .join()
        .expect("the driver ends when the app is gone");
}

#[test]
fn the_trainer_is_a_source_and_its_reports_survive_json() {
    let text = "{\"id\": \"a\", \"split\": \"train\", \"segments\": [{\"text\": \"one two\", \"score\": 0.5}, {\"text\": \"three\", \"score\": -0.5}]}\n{\"id\": \"b\", \"split\": \"dev\", \"segments\": [{\"text\": \"four five\", \"score\": 0.1}]}";
    let (ds, _) = parse_str(text, "t", &ReadOptions::default()).expect("data");
    let cfg = segscope::config::Config::default();
    let s = session::from_dataset(cfg, "defaults".into(), ds, vec![], None).expect("session");
    let (mut src, _) = s.into_source();
    assert_eq!(src.current().step, 0);
    let r = src.advance();
    assert_eq!((r.step, r.segments.len()), (1, 3));
    let json = serde_json::to_value(&r).expect("serialise");
    let back: StepReport = serde_json::from_value(json.clone()).expect("deserialise");
    // serde_json's default float parsing may be 1 ulp off; everything else is exact.
    same(
        &serde_json::to_value(&back).expect("serialise"),
        &json,
        "report",
    );
    assert_eq!(
        (back.step, &back.batch, back.segments.len()),
        (1, &r.batch, 3)
    );
    // Undefined values (NaN, written as null) come back as NaN.
    let start = src.current();
    let back: StepReport =
        serde_json::from_str(&serde_json::to_string(&start).expect("ser")).expect("de");
    assert!(back.grad_norm.is_nan() && start.grad_norm.is_nan());
}

#[test]
fn the_driver_marks_and_rewinds_the_trainer() {
    let h = source::spawn(Box::new(small_trainer()), 0.0).expect("spawn");
    next_reports(&h, 1);
    h.control.send(Control::Step(3)).expect("send");
    let (_, _) = next_reports(&h, 3);
    h.control.send(Control::Rewind).expect("send");
    match h.events.recv_timeout(Duration::from_secs(10)) {
        Ok(Event::Message(m)) => assert!(m.contains("no mark"), "{m}"),
        other => panic!("expected a message, got {other:?}"),
    }
    h.control.send(Control::Mark).expect("send");
    match h.events.recv_timeout(Duration::from_secs(10)) {
        Ok(Event::Message(m)) => assert!(m.starts_with("marked step 3: 1 mark kept"), "{m}"),
        other => panic!("expected the mark's message, got {other:?}"),
    }
    h.control.send(Control::Step(2)).expect("send");
    let (steps, _) = next_reports(&h, 2);
    assert_eq!(steps, vec![4, 5]);
    h.control.send(Control::Rewind).expect("send");
    let (steps, msgs) = next_reports(&h, 1);
    assert_eq!(steps, vec![3], "the report of the marked step");
    h.control.send(Control::Step(1)).expect("send");
    let (steps, more) = next_reports(&h, 1);
    assert_eq!(steps, vec![4], "training goes on from the mark");
    let all: Vec<String> = msgs.into_iter().chain(more).collect();
    assert!(
        all.iter().any(|m| m == "rewound to the mark at step 3"),
        "{all:?}"
    );
    h.control.send(Control::Quit).expect("send");
    h.thread.join().expect("the driver ends on Quit");
}

#[test]
fn edits_sent_to_the_driver_change_the_targets_and_say_so() {
    use segscope::data::edits::{Action, Edit, Edits};
    let h = source::spawn(Box::new(small_trainer()), 0.0).expect("spawn");
    next_reports(&h, 1);
    let edits = Edits {
        list: vec![Edit {
            segment: 0,
            action: Action::Target(0.9),
            step: 0,
        }],
    };
    h.control.send(Control::SetEdits(edits)).expect("send");
    let (steps, before) = next_reports(&h, 1);
    assert_eq!(
        steps,
        vec![0],
        "the current state, measured against the new target"
    );
    assert_eq!(
        before,
        vec!["(edited: 0.9)".to_string()],
        "the edited data comes first"
    );
    h.control.send(Control::Step(1)).expect("send");
    let (_, msgs) = next_reports(&h, 1);
    assert!(
        msgs.iter()
            .any(|m| m == "1 edit in force from the next step"),
        "{msgs:?}"
    );
    h.control.send(Control::Quit).expect("send");
    h.thread.join().expect("the driver ends on Quit");
}

/// A trainer on three segments (two train, one dev) as a source.
fn small_trainer() -> segscope::source::TrainerSource {
    let text = "{\"id\": \"a\", \"split\": \"train\", \"segments\": [{\"text\": \"one two\", \"score\": 0.5}, {\"text\": \"three\", \"score\": -0.5}]}\n{\"id\": \"b\", \"split\": \"dev\", \"segments\": [{\"text\": \"four five\", \"score\": 0.1}]}";
    let (ds, _) = parse_str(text, "t", &ReadOptions::default()).expect("data");
    let cfg = segscope::config::Config::default();
    let s = session::from_dataset(cfg, "defaults".into(), ds, vec![], None).expect("session");
    s.into_source().0
}
