//! Watching a stream: segscope's own `--stream` read back by `watch --headless`, a file followed
//! while a writer appends to it (partial lines, truncation, a bad line, an unknown id, a version
//! mismatch), and the control file the keys write to.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use segscope::source::Control;
use segscope::source::watched::Watch;

fn segscope(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run segscope")
}

/// (id, prediction, residual, share, robust z) of every row of a CSV report.
fn table(path: &Path) -> Vec<(String, [f64; 4])> {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let h = r.headers().expect("header").clone();
    let col = |name: &str| h.iter().position(|c| c == name).expect("column");
    let cols = [
        col("prediction"),
        col("residual"),
        col("share"),
        col("robust_z"),
    ];
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            let v = cols.map(|c| rec[c].parse::<f64>().expect("number"));
            (rec[0].to_string(), v)
        })
        .collect()
}

#[test]
fn a_stream_run_read_back_gives_the_same_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    for extra in [&[][..], &["--batch-size", "256", "--eval-every", "3"][..]] {
        let mut args = vec![
            "--headless",
            "--steps",
            "25",
            "--stream",
            "s.jsonl",
            "--report",
            "a.csv",
        ];
        args.extend_from_slice(extra);
        let o = segscope(&args, dir.path());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = segscope(
            &["watch", "s.jsonl", "--headless", "--report", "b.csv"],
            dir.path(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let summary: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("one JSON object");
        assert_eq!(summary["bad_lines"], 0);
        assert_eq!(summary["segments"], 3471);
        let (a, b) = (
            table(&dir.path().join("a.csv")),
            table(&dir.path().join("b.csv")),
        );
        assert_eq!(a.len(), b.len());
        for ((ia, va), (ib, vb)) in a.iter().zip(&b) {
            assert_eq!(ia, ib);
            for (x, y) in va.iter().zip(vb) {
                assert!((x - y).abs() <= 1e-5, "{ia}: {va:?} vs {vb:?} ({extra:?})");
            }
        }
        if extra.is_empty() {
            // The data map needs no model: watching the stream gives the run's own.
            let (a, b) = (
                column(&dir.path().join("a.csv"), "dm_region"),
                column(&dir.path().join("b.csv"), "dm_region"),
            );
            assert!(
                a.iter().filter(|r| !r.is_empty()).count() > 3000,
                "regions in the run"
            );
            assert_eq!(a, b, "the same data map");
        }
    }
}

/// One column of a CSV report, as text.
fn column(path: &Path, name: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let h = r.headers().expect("header").clone();
    let c = h.iter().position(|x| x == name).expect("column");
    r.records()
        .map(|rec| rec.expect("row")[c].to_string())
        .collect()
}

const HEADER: &str =
    r#"{"format": "segscope.stream", "version": 1, "run": "t", "control": "t.jsonl.control"}"#;
const SEGS: &str = r#"{"id": "a:0", "doc": "a", "split": "train", "text": "one", "target": 1.0}
{"id": "a:1", "doc": "a", "split": "train", "text": "two", "target": 0.0}
{"id": "b:0", "doc": "b", "split": "dev", "text": "three", "target": 0.5}
{"id": "b:1", "doc": "b", "split": "dev", "text": "context", "target": null}
"#;

fn step(k: u64) -> String {
    format!(
        "{{\"step\": {k}, \"predictions\": [{}, 0.1, 0.4, null], \"loss\": {{\"train\": 0.5}}}}\n",
        1.0 - 1.0 / (k as f64 + 1.0)
    )
}

/// Reads until `cond` holds or 5 s pass; returns the messages seen.
fn read_until(w: &mut Watch, cond: impl Fn(&Watch) -> bool) -> Vec<String> {
    let mut msgs = Vec::new();
    for _ in 0..500 {
        let (_, m) = w.read().expect("no fatal error");
        msgs.extend(m);
        if cond(w) {
            return msgs;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out; messages {msgs:?}");
}

#[test]
fn a_followed_file_grows_restarts_and_warns_without_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("t.jsonl");
    let mut w = Watch::new(&p);
    // The file does not exist yet: nothing, and no error.
    assert_eq!(w.read().expect("read").0, 0);
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(&p).expect("create");
            writeln!(f, "{HEADER}").expect("w");
            f.write_all(SEGS.as_bytes()).expect("w");
            f.flush().expect("flush");
            for k in 1..=3 {
                let s = step(k);
                // Half a line, a pause, then the rest.
                let (a, b) = s.split_at(s.len() / 2);
                f.write_all(a.as_bytes()).expect("w");
                f.flush().expect("flush");
                std::thread::sleep(Duration::from_millis(30));
                f.write_all(b.as_bytes()).expect("w");
                f.flush().expect("flush");
            }
            writeln!(f, "this is not json").expect("w");
            writeln!(
                f,
                "{{\"step\": 4, \"ids\": [\"a:0\", \"zz:9\"], \"predictions\": [0.9, 0.2]}}"
            )
            .expect("w");
            f.flush().expect("flush");
        })
    };
    let msgs = read_until(&mut w, |w| w.state.reports.len() == 4);
    writer.join().expect("writer");
    let steps: Vec<u64> = w.state.reports.iter().map(|r| r.step).collect();
    assert_eq!(steps, vec![1, 2, 3, 4]);
    assert_eq!(w.state.bad_lines, 1);
    assert!(
        msgs.iter()
            .any(|m| m.contains(":9:") && m.contains("skipped")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("unknown segment id")),
        "{msgs:?}"
    );
    // Metrics are recomputed from the predictions: the context-only segment is not measured.
    let last = w.state.reports.last().expect("report");
    assert_eq!((last.train.n, last.dev.n), (2, 1));
    assert!(
        (last.segments[0].pred - 0.9).abs() < 1e-6,
        "the subset step updated a:0"
    );
    assert!(
        (last.segments[1].pred - 0.1).abs() < 1e-6,
        "a:1 kept its last prediction"
    );

    // Replay: back two recorded steps, forward one.
    assert_eq!(w.control(&Control::Back(2)), (None, true));
    assert_eq!(w.shown().map(|r| r.step), Some(2));
    w.control(&Control::Step(1));
    assert_eq!(w.shown().map(|r| r.step), Some(3));
    // Run follows the newest again, and (the header names a control file) tells the writer.
    let (msg, _) = w.control(&Control::Run);
    assert!(msg.expect("message").contains("sent \"run\""));
    assert_eq!(w.shown().map(|r| r.step), Some(4));
    w.control(&Control::Pause);
    w.control(&Control::Step(3));
    let control = std::fs::read_to_string(dir.path().join("t.jsonl.control")).expect("control");
    assert_eq!(control, "run\npause\nstep 3\n");

    // Truncated and rewritten: read again from the start.
    std::fs::write(&p, format!("{HEADER}\n{SEGS}{}", step(1))).expect("rewrite");
    let msgs = read_until(&mut w, |w| w.state.reports.len() == 1);
    assert!(
        msgs.iter()
            .any(|m| m.contains("truncated") || m.contains("replaced")),
        "{msgs:?}"
    );

    // A version this segscope does not read is an error, not a warning.
    let q = dir.path().join("v2.jsonl");
    std::fs::write(&q, "{\"format\": \"segscope.stream\", \"version\": 2}\n").expect("write");
    let mut v = Watch::new(&q);
    let e = v.read().expect_err("version mismatch");
    assert!(e.to_string().contains("version 2"), "{e}");
}

#[test]
fn without_a_control_file_the_keys_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("n.jsonl");
    std::fs::write(
        &p,
        format!(
            "{}\n{SEGS}{}{}",
            r#"{"format": "segscope.stream", "version": 1}"#,
            step(1),
            step(2)
        ),
    )
    .expect("write");
    let mut w = Watch::new(&p);
    read_until(&mut w, |w| w.state.reports.len() == 2);
    assert!(!w.capabilities().run);
    let (msg, _) = w.control(&Control::Pause);
    assert!(msg.expect("message").contains("takes no commands"));
    let (msg, _) = w.control(&Control::Step(1));
    assert!(msg.expect("message").contains("newest"));
    assert!(!dir.path().join("n.jsonl.control").exists());
    // The missing-file case on the command line waits, then reads; a stream that ends before any
    // segment is an error.
    let o = segscope(&["watch", "-", "--headless"], dir.path());
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A dashboard app on a stream's data, as `segscope watch` builds it.
fn stream_app(
    ds: std::sync::Arc<segscope::data::Dataset>,
    part: std::sync::Arc<segscope::data::Partition>,
    data: &str,
    objective: &str,
) -> segscope::app::App {
    segscope::app::App::new(
        ds,
        part,
        segscope::config::UiConfig::default(),
        segscope::app::RunInfo {
            backend: "stream".into(),
            loss: objective.into(),
            optimizer: "t".into(),
            lr: 0.0,
            batch_size: 0,
            data: data.into(),
            save_dir: "ck".into(),
            export_path: "out.csv".into(),
        },
        segscope::app::Keymap::default(),
    )
}

/// Takes the source's events into `app` until `cond` holds (or 5 s pass).
fn pump(
    h: &segscope::source::SourceHandle,
    app: &mut segscope::app::App,
    cond: impl Fn(&segscope::app::App) -> bool,
) {
    use segscope::source::Event;
    for _ in 0..500 {
        while let Ok(e) = h.events.try_recv() {
            match e {
                Event::Report(r, rate) => app.on_report(*r, rate),
                Event::Replay(r, newest) => app.on_replay(*r, newest),
                Event::Message(m) => app.on_io_done(m),
                Event::Data(ds, part) => app.set_data(ds, part),
                Event::Edited(ds) => app.set_edited(ds),
                Event::Ended(why) => app.on_writer_ended(why),
            }
        }
        if cond(app) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "timed out: history {:?}",
        app.history().iter().map(|h| h.step).collect::<Vec<_>>()
    );
}

#[test]
fn a_finished_stream_opens_with_its_whole_history_and_replays_without_forking() {
    use segscope::app::Action;
    use segscope::source::watched;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("done.jsonl");
    let steps: String = (1..=30).map(step).collect();
    std::fs::write(
        &p,
        format!(
            "{}\n{SEGS}{steps}",
            r#"{"format": "segscope.stream", "version": 1}"#
        ),
    )
    .expect("write");
    let mut w = watched::open(&p, watched::Open::default(), |_| {}).expect("open");
    let (ds, part) = watched::data_of(&mut w).expect("segments");
    let mut app = stream_app(ds, part, "done.jsonl", "");
    let h = watched::spawn(w).expect("spawn");
    app.set_caps(h.capabilities);
    pump(&h, &mut app, |a| a.history().len() == 30);
    assert_eq!(
        app.history().first().map(|p| p.step),
        Some(1),
        "every step, not the last alone"
    );
    assert!(app.datamap().is_some(), "the data map has its steps");
    assert_eq!(app.replay(), None);
    // Two steps back: the history stays whole and nothing forked; the header and the chart say
    // which step is shown.
    for _ in 0..2 {
        app.update(Action::StepBack);
        for e in app.take_effects() {
            if let segscope::app::Effect::Source(c) = e {
                h.control.send(c).expect("send");
            }
        }
    }
    pump(&h, &mut app, |a| a.replay() == Some((28, 30)));
    assert_eq!(app.history().len(), 30);
    assert_eq!(app.forked(), None, "a replay is not a fork");
    assert_eq!(app.report().as_ref().map(|r| r.step), Some(28));
    let screen = {
        let mut t =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).expect("terminal");
        t.draw(|f| f.render_widget(&app, f.area())).expect("draw");
        t.backend().to_string()
    };
    assert!(screen.contains("replaying step 28 of 30"), "{screen}");
    assert!(screen.contains("step 28 of 30 (r: newest)"), "{screen}");
    // r goes back to the newest, though this writer takes no commands.
    app.update(Action::ToggleRun);
    for e in app.take_effects() {
        if let segscope::app::Effect::Source(c) = e {
            h.control.send(c).expect("send");
        }
    }
    pump(&h, &mut app, |a| {
        a.replay().is_none() && a.report().as_ref().is_some_and(|r| r.step == 30)
    });
    assert_eq!(app.history().len(), 30);
}

#[test]
fn headers_of_another_version_are_refused_and_a_cut_last_line_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "2",
            "--keep",
            "last",
            "--stream",
            "s.jsonl",
            "--out",
            "o.jsonl",
        ],
        d,
    );
    assert!(o.status.success());
    let text = std::fs::read_to_string(d.join("s.jsonl")).expect("stream");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: serde_json::Value = serde_json::from_str(&lines[0]).expect("header");
    for (version, shown) in [
        (Some(serde_json::json!("2.0")), "\"2.0\""),
        (Some(serde_json::json!(1.5)), "1.5"),
        (Some(serde_json::json!(2)), "2"),
        (None, "missing"),
    ] {
        let mut h = header.clone();
        match version {
            Some(v) => h["version"] = v,
            None => {
                h.as_object_mut().expect("object").remove("version");
            }
        }
        lines[0] = h.to_string();
        std::fs::write(d.join("v.jsonl"), lines.join("\n") + "\n").expect("write");
        let o = segscope(&["watch", "--headless", "v.jsonl"], d);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{shown}: {err}");
        assert!(
            err.contains(&format!(
                "line 1: stream version {shown}, but this segscope reads version 1"
            )),
            "{err}"
        );
    }
    // Cut in the middle of its last step record: counted and said.
    let cut = &text[..text.len() - 40];
    std::fs::write(d.join("cut.jsonl"), cut).expect("write");
    let o = segscope(&["watch", "--headless", "cut.jsonl"], d);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary");
    assert_eq!(summary["bad_lines"], 1, "{summary}");
    assert_eq!(summary["warnings"], 1, "{summary}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("the last line is cut"));
}

#[test]
fn an_ended_stream_says_so_and_names_the_trainers_own_loss() {
    use segscope::source::watched;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bce.jsonl");
    let steps: String = (1..=3).map(step).collect();
    std::fs::write(
        &p,
        format!(
            "{}\n{SEGS}{steps}{}\n",
            r#"{"format": "segscope.stream", "version": 1, "objective": "bce"}"#,
            r#"{"end": "finished"}"#
        ),
    )
    .expect("write");
    let mut w = watched::open(&p, watched::Open::default(), |_| {}).expect("open");
    let (ds, part) = watched::data_of(&mut w).expect("segments");
    let mut app = stream_app(ds, part, "bce.jsonl", "bce");
    app.set_run(segscope::app::RunState::Running);
    let h = watched::spawn(w).expect("spawn");
    app.set_caps(h.capabilities);
    pump(&h, &mut app, |a| {
        a.history().len() == 3 && a.writer_ended().is_some()
    });
    assert_eq!(app.writer_ended(), Some("finished"));
    assert!(
        app.status()
            .as_deref()
            .is_some_and(|m| m.contains("writer has ended")),
        "{:?}",
        app.status()
    );
    // The status takes the header's second line while it is there (at 100 columns); without it
    // the losses show.
    app.set_status(None);
    for (w, rows) in [(160, 48), (100, 28)] {
        let screen = {
            let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, rows))
                .expect("test terminal");
            t.draw(|f| f.render_widget(&app, f.area())).expect("draw");
            t.backend().to_string()
        };
        let header: String = screen.lines().take(2).collect::<Vec<_>>().join("\n");
        assert!(header.contains("ended"), "{w}x{rows}: {header}");
        assert!(!header.contains("following"), "{w}x{rows}: {header}");
        // The recomputed MSE is called that; the trainer's own loss is its objective's.
        assert!(header.contains("train mse"), "{w}x{rows}: {header}");
        assert!(!header.contains("train loss"), "{w}x{rows}: {header}");
        assert!(header.contains("trainer's bce 0.5"), "{w}x{rows}: {header}");
    }
    let _ = h.control.send(segscope::app::Control::Quit);
}
