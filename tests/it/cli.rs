//! The binary against real files: headless output, bad input, lenient reading, reports, checkpoints,
//! the generator, exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn segscope(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run segscope")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const GOOD: &str = r#"{"id": "a", "prompt": "p", "segments": [{"text": "one two", "score": 0.5}, {"text": "three", "score": -0.5}]}"#;
const GOOD2: &str =
    r#"{"id": "b", "split": "dev", "segments": [{"text": "four five", "score": 0.1}]}"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn headless_writes_one_json_object_per_step_with_every_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = segscope(&["--headless", "--steps", "3", "--top-k", "4"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).expect("utf8");
    let mut lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 4, "three steps and a summary");
    // The last line says which model was kept; only step lines have a top-level `step`.
    let summary = lines.pop().expect("summary");
    assert!(summary.get("step").is_none());
    let s = &summary["summary"];
    assert_eq!(
        (s["steps"].as_u64(), s["keep"].as_str()),
        (Some(3), Some("best"))
    );
    assert!(s["best_dev"]["loss"].is_number(), "{summary}");
    for (k, l) in lines.iter().enumerate() {
        assert_eq!(l["step"], k as u64 + 1);
        for split in ["train", "dev"] {
            for m in [
                "loss",
                "mse",
                "rmse",
                "mae",
                "r2",
                "bias",
                "pearson",
                "spearman",
                "kendall_tau_b",
                "pairwise_acc",
            ] {
                assert!(l[split][m].is_number(), "{split}.{m} missing in {l}");
            }
        }
        for f in [
            "grad_norm",
            "lr",
            "weight_change",
            "weight_change_rel",
            "step_ms",
        ] {
            assert!(l[f].is_number(), "{f} missing");
        }
        let layers = l["layers"].as_array().expect("layers");
        assert_eq!(layers.len(), 5);
        assert!(layers[0]["name"].is_string() && layers[0]["weight_change_rel"].is_number());
        let top = l["top"].as_array().expect("top");
        assert_eq!(top.len(), 4);
        for f in ["id", "doc", "target", "prediction", "residual", "share"] {
            assert!(!top[0][f].is_null(), "top.{f} missing");
        }
        assert!(top[0]["share"].as_f64() >= top[3]["share"].as_f64());
    }
}

#[test]
fn bad_data_names_file_line_and_field_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&str, &str, &str)] = &[
        // A line that is not JSON says where, without a field.
        ("not json", "2", "not valid JSON at column 2"),
        (r#"{"id": "x"}"#, "2", "segments"),
        (r#"{"id": "x", "segments": []}"#, "2", "segments"),
        (
            r#"{"id": "x", "segments": [{"score": 1}]}"#,
            "2",
            "segments[0].text",
        ),
        (
            r#"{"id": "x", "segments": [{"text": "t"}]}"#,
            "2",
            "segments[0].score",
        ),
        (
            r#"{"id": "x", "segments": [{"text": "t", "score": "high"}]}"#,
            "2",
            "segments[0].score",
        ),
        (
            r#"{"id": "x", "segments": [{"text": "t", "score": 1e300}]}"#,
            "2",
            "segments[0].score",
        ),
        (
            r#"{"id": "x", "segments": [{"text": "", "score": 1}]}"#,
            "2",
            "segments[0].text",
        ),
    ];
    for (bad, line, field) in cases {
        let f = write(
            dir.path(),
            "bad.jsonl",
            &format!("{GOOD}\n{bad}\n{GOOD2}\n"),
        );
        let o = segscope(&["--headless", "--steps", "1", "--data", &f], dir.path());
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(&format!("bad.jsonl:{line}:")), "{bad}: {e}");
        if field.contains(' ') {
            assert!(e.contains(field), "{bad}: {e}");
        } else {
            assert!(e.contains(&format!("`{field}`")), "{bad}: {e}");
        }
        assert!(
            o.stdout.is_empty(),
            "nothing is trained on half-loaded data"
        );
    }
    let empty = write(dir.path(), "empty.jsonl", "");
    let o = segscope(&["--headless", "--data", &empty], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
    let o = segscope(&["--headless", "--data", "missing.jsonl"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.jsonl"), "{}", stderr(&o));
}

#[test]
fn lenient_skips_exactly_the_bad_lines_and_counts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "mixed.jsonl",
        &format!("{GOOD}\nnot json\n{{\"segments\": []}}\n{GOOD2}\n"),
    );
    let report = dir.path().join("rep.jsonl");
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "1",
            "--lenient",
            "--data",
            &f,
            "--report",
            &report.display().to_string(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("mixed.jsonl:2: skipped"), "{e}");
    assert!(e.contains("mixed.jsonl:3: skipped"), "{e}");
    assert!(e.contains("skipped 2 bad line(s)"), "{e}");
    assert_eq!(e.matches(": skipped:").count(), 2);
    let rows = std::fs::read_to_string(&report).expect("report");
    assert_eq!(
        rows.lines().count(),
        3,
        "the 3 segments of the 2 good lines"
    );
}

#[test]
fn flat_form_and_csv_report_carry_the_noise_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flat = "{\"doc\": \"a\", \"text\": \"one two\", \"score\": 0.5}\n{\"doc\": \"a\", \"text\": \"three\", \"score\": -0.5}\n{\"doc\": \"b\", \"text\": \"four\", \"score\": 0.1, \"split\": \"dev\"}\n";
    let f = write(dir.path(), "flat.jsonl", flat);
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "2",
            "--data",
            &f,
            "--report",
            "r.csv",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("r.csv")).expect("csv");
    let mut lines = csv.lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with(
        "id,doc,split,index,text,target,prediction,residual,loss,share,robust_z,outlier"
    ));
    assert_eq!(lines.count(), 3);

    // The bundled data's corruptions come through in the report.
    let o = segscope(
        &["--headless", "--steps", "1", "--report", "b.jsonl"],
        dir.path(),
    );
    assert!(o.status.success());
    let text = std::fs::read_to_string(dir.path().join("b.jsonl")).expect("report");
    let noisy = text
        .lines()
        .filter(|l| l.contains("\"noise\":\"flipped\""))
        .count();
    assert!(noisy > 10, "flipped labels in the report: {noisy}");

    // Gradient shares and the data map: the training split's shares sum to 1, and the recorded
    // corruptions sit in the map's hard region. The default run stops early and hands back its
    // best step; the map covers the 20 steps up to it.
    let o = segscope(&["--headless", "--report", "g.jsonl"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.path().join("g.jsonl")).expect("report");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let train_sum: f64 = rows
        .iter()
        .filter(|r| r["split"] == "train")
        .filter_map(|r| r["grad_share"].as_f64())
        .sum();
    assert!(
        (train_sum - 1.0).abs() < 1e-3,
        "train grad shares sum to {train_sum}"
    );
    assert!(
        rows.iter()
            .filter(|r| r["split"] == "dev")
            .all(|r| r["grad_share"].is_null()),
        "dev rows have no gradient share"
    );
    let noisy: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["noise"].as_str().is_some_and(|n| !n.is_empty()))
        .collect();
    let hard = noisy.iter().filter(|r| r["dm_region"] == "hard").count();
    assert!(
        hard * 5 >= noisy.len() * 4,
        "{hard} of {} corruptions in the hard region",
        noisy.len()
    );
    assert!(
        rows.iter()
            .all(|r| r["dm_variability"].is_number() || r["target"].is_null())
    );
}

#[test]
fn save_then_resume_continues_the_step_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `--keep last`: the checkpoint is of step 2 whichever step had the lower dev loss.
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "2",
            "--keep",
            "last",
            "--save",
            "ck",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("ck/LATEST").is_file());
    assert!(dir.path().join("ck/step-000002/model.bpk").is_file());
    assert!(dir.path().join("ck/step-000002/optim.bpk").is_file());
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "2",
            "--resume",
            "ck",
            "--save",
            "ck",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).expect("utf8");
    let steps: Vec<u64> = out
        .lines()
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["step"].as_u64()
        })
        .collect();
    assert_eq!(steps, vec![3, 4]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ck/LATEST"))
            .expect("latest")
            .trim(),
        "step-000004"
    );
    let o = segscope(&["--headless", "--resume", "nowhere"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nowhere"), "{}", stderr(&o));
}

#[test]
fn divergence_exits_3_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "5",
            "--optimizer",
            "sgd",
            "--lr",
            "1e38",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("diverged at step"), "{}", stderr(&o));
}

#[test]
fn bad_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "config.toml", "[train]\nlearning_rate = 0.1\n");
    let o = segscope(&["--headless", "--steps", "1"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("config.toml") && e.contains("learning_rate"),
        "{e}"
    );
    let o = segscope(&["--headless", "--config", "nope.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.toml"));
    let o = segscope(
        &["--headless", "--lr=-1", "--config", "/dev/null"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("train.lr"), "{}", stderr(&o));
    // A bad key binding is a config error too, in headless mode as well.
    write(
        dir.path(),
        "keys.toml",
        "[keys]\nstep = [\"space\", \"q\"]\n",
    );
    let o = segscope(
        &["--headless", "--steps", "1", "--config", "keys.toml"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("keys.toml") && e.contains("`keys`"), "{e}");
}

#[test]
fn gen_data_reproduces_the_bundled_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = segscope(
        &[
            "gen-data", "--docs", "600", "--seed", "7", "--out", "g.jsonl",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let generated = std::fs::read_to_string(dir.path().join("g.jsonl")).expect("generated");
    assert_eq!(
        generated,
        segscope::data::BUNDLED_JSONL,
        "assets/segments.jsonl must come from gen-data"
    );
}

#[test]
fn help_lists_every_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = segscope(&["--help"], dir.path());
    assert!(o.status.success());
    let h = String::from_utf8(o.stdout).expect("utf8");
    for flag in [
        "--data",
        "--headless",
        "--steps",
        "--out",
        "--report",
        "--save",
        "--resume",
        "--lenient",
        "--backend",
        "gen-data",
    ] {
        assert!(h.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn the_guide_documents_every_key_action() {
    let readme = include_str!("../../docs/guide.md");
    for b in segscope::app::Keymap::default().bindings {
        assert!(
            readme.contains(&format!("`{}`", b.name)),
            "docs/guide.md lacks the key action `{}`",
            b.name
        );
    }
}

#[test]
fn sigint_exits_130_and_sigterm_143_after_writing_what_was_asked() {
    use std::io::BufRead;
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_segscope"))
            .args([
                "--headless",
                "--steps",
                "100000",
                "--early-stop",
                "0",
                "--report",
                "r.csv",
            ])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        // Wait until training is under way.
        assert!(lines.next().is_some());
        // SAFETY: a signal to our own child.
        unsafe {
            libc::kill(child.id() as libc::pid_t, sig);
        }
        let rest = lines.count();
        let o = child.wait_with_output().expect("wait");
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        assert!(rest < 100_000);
        assert!(stderr(&o).contains("stopped by"), "{}", stderr(&o));
        assert!(
            dir.path().join("r.csv").is_file(),
            "the report is still written"
        );
    }
}

#[test]
fn edits_apply_at_start_and_convert_writes_the_edited_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("e.jsonl"),
        "{\"id\": \"doc-0013:7\", \"action\": \"exclude\"}\n{\"id\": \"doc-0035:1\", \"action\": \"target\", \"value\": 0.9}\n",
    )
    .expect("write");
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "2",
            "--keep",
            "last",
            "--edits",
            "e.jsonl",
            "--save",
            "ck",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The checkpoint keeps the edits, and a resumed run has them again.
    let saved = std::fs::read_to_string(dir.path().join("ck/step-000002/edits.jsonl"))
        .expect("edits saved with the checkpoint");
    assert!(saved.contains("\"doc-0013:7\"") && saved.contains("\"target\""));
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "1",
            "--resume",
            "ck",
            "--report",
            "r.jsonl",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report = std::fs::read_to_string(dir.path().join("r.jsonl")).expect("report");
    let row = report
        .lines()
        .find(|l| l.contains("\"id\":\"doc-0035:1\""))
        .expect("the re-targeted row");
    assert!(row.contains("\"target\":0.9"), "{row}");
    let row = report
        .lines()
        .find(|l| l.contains("\"id\":\"doc-0013:7\""))
        .expect("the excluded row");
    assert!(
        row.contains("\"grad_share\":0.0"),
        "an excluded row pulls nothing: {row}"
    );

    // A bad edit names its line and field, exit 2, in both modes' start-up path.
    std::fs::write(
        dir.path().join("bad.jsonl"),
        "{\"id\": \"doc-0013:7\", \"action\": \"exclude\"}\n{\"id\": \"doc-0001:0\", \"action\": \"exclude\"}\n",
    )
    .expect("write");
    let o = segscope(
        &["--headless", "--steps", "1", "--edits", "bad.jsonl"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("bad.jsonl: line 2: field `id`") && e.contains("dev split"),
        "{e}"
    );

    // convert --edits: the excluded segment loses its target, the other gets the new one.
    let bundled = dir.path().join("b.jsonl");
    let o = segscope(&["gen-data", "--out", "b.jsonl"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = segscope(
        &[
            "convert",
            bundled.to_str().expect("path"),
            "--out",
            "c.jsonl",
            "--edits",
            "e.jsonl",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.path().join("c.jsonl")).expect("converted");
    let doc13 = text
        .lines()
        .find(|l| l.contains("\"id\":\"doc-0013\""))
        .expect("doc-0013");
    let v: serde_json::Value = serde_json::from_str(doc13).expect("json");
    assert!(v["segments"][7]["score"].is_null(), "{}", v["segments"][7]);
    // A weight other than 0 or 1 has no place in a dataset file: an error naming its line.
    std::fs::write(
        dir.path().join("w.jsonl"),
        "\n{\"id\": \"doc-0013:7\", \"action\": \"weight\", \"value\": 0.5}\n",
    )
    .expect("write");
    let o = segscope(
        &[
            "convert",
            bundled.to_str().expect("path"),
            "--out",
            "d.jsonl",
            "--edits",
            "w.jsonl",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("w.jsonl: line 2: field `value`: a weight of 0.5"),
        "{e}"
    );
}

#[test]
fn no_output_overwrites_an_input_or_another_output_and_all_are_checked_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let bundled = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/segments.jsonl");
    let data = d.join("d.jsonl");
    std::fs::copy(bundled, &data).expect("copy");
    let data = data.display().to_string();
    let before = std::fs::read(&data).expect("read");
    let refused = |args: &[&str], want: &str| {
        let o = segscope(args, d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}: nothing is written first");
    };
    let input = "never overwrites its input";
    refused(&["--headless", "--data", &data, "--out", &data], input);
    refused(&["--headless", "--data", &data, "--report", &data], input);
    refused(&["--headless", "--data", &data, "--stream", &data], input);
    refused(&["--headless", "--data", &data, "--save", &data], input);
    refused(&["convert", &data, "--out", &data], input);
    refused(&["crossfit", "--data", &data, "--out", &data], input);
    refused(&["compare", "--data", &data, "--report", &data], input);
    refused(&["watch", &data, "--headless", "--report", &data], input);
    // Through a link, and an edits file as the output.
    let link = d.join("link.jsonl");
    std::os::unix::fs::symlink(&data, &link).expect("symlink");
    let link = link.display().to_string();
    refused(&["--headless", "--data", &data, "--report", &link], input);
    let edits = write(d, "e.jsonl", "");
    refused(
        &[
            "--headless",
            "--data",
            &data,
            "--edits",
            &edits,
            "--out",
            &edits,
        ],
        input,
    );
    // Two outputs on one file; missing directories; standard output twice or where it cannot go.
    refused(
        &["--headless", "--data", &data, "--out", "x", "--report", "x"],
        "same file",
    );
    refused(
        &["--headless", "--data", &data, "--report", "nodir/x.csv"],
        "does not exist",
    );
    refused(
        &["crossfit", "--data", &data, "--out", "nodir/o.csv"],
        "does not exist",
    );
    refused(
        &["--headless", "--data", &data, "--report", "-"],
        "standard output",
    );
    refused(
        &["--headless", "--data", &data, "--stream", "-"],
        "standard output",
    );
    refused(
        &["gen-data", "--docs", "18446744073709551615"],
        "--docs must be from 1",
    );
    refused(&["compare", "--losses", "mse,huber,mse"], "`mse` twice");
    refused(
        &[
            "crossfit",
            "--folds",
            "18446744073709551615",
            "--out",
            "o.csv",
        ],
        "--folds must be from 2 to 100",
    );
    assert_eq!(
        std::fs::read(&data).expect("read"),
        before,
        "the input is intact"
    );
    assert!(!d.join("-").exists() && !d.join("x").exists());

    // `-` is standard output where an output streams.
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "2",
            "--data",
            &data,
            "--out",
            "o.jsonl",
            "--report",
            "-",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("id,doc,split"), "{text}");
    let o = segscope(&["crossfit", "--data", &data, "--out", "-"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("id,doc,split,fold"));
    assert!(!d.join("-").exists());
}

#[test]
fn watch_headless_never_hangs_and_numbers_read_naturally() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // A file that is not there: an error, at once, naming --wait.
    let o = segscope(&["watch", "missing.jsonl", "--headless"], d);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--wait"), "{}", stderr(&o));
    // A dataset is not a stream.
    let data = write(d, "d.jsonl", &format!("{GOOD}\n{GOOD2}\n"));
    let o = segscope(&["watch", &data, "--headless"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a segscope stream"),
        "{}",
        stderr(&o)
    );
    // A stream with its segments and no step yet: the summary and a report with what it has.
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "2",
            "--data",
            &data,
            "--stream",
            "s.jsonl",
            "--out",
            "o.jsonl",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(d.join("s.jsonl")).expect("stream");
    let no_steps: Vec<&str> = text
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v.get("step").is_none() || v.get("format").is_some()
        })
        .collect();
    assert!(no_steps.len() < text.lines().count());
    write(d, "ns.jsonl", &(no_steps.join("\n") + "\n"));
    let o = segscope(
        &["watch", "ns.jsonl", "--headless", "--report", "ns.csv"],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("no step records"), "{}", stderr(&o));
    let report = std::fs::read_to_string(d.join("ns.csv")).expect("report");
    assert_eq!(report.lines().count(), 1 + 3, "{report}");

    // Negative and fractional numbers say what is expected.
    let o = segscope(&["--headless", "--lr", "-1"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("train.lr") && stderr(&o).contains("positive"),
        "{}",
        stderr(&o)
    );
    let o = segscope(&["--headless", "--steps", "-3"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("whole number"), "{}", stderr(&o));
}

#[test]
fn the_references_command_line_section_is_what_h_prints() {
    let readme = include_str!("../../docs/reference.md");
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in [
        "", "gen-data", "formats", "watch", "compare", "convert", "crossfit", "audit",
    ] {
        let mut args: Vec<&str> = if sub.is_empty() { vec![] } else { vec![sub] };
        args.push("-h");
        let o = segscope(&args, dir.path());
        assert!(o.status.success());
        let text = String::from_utf8_lossy(&o.stdout);
        let block = format!("$ segscope {}\n{}", args.join(" "), text.trim_end());
        assert!(
            readme.contains(&block),
            "docs/reference.md's Command line section is out of date for `segscope {}`: regenerate it from the binary",
            args.join(" ")
        );
    }
}

/// Every output of `dir` is whole: CSV or JSON lines ending in a newline, each JSON line
/// parsing; `.json` parsing as a whole.
fn assert_whole(dir: &Path) {
    for e in std::fs::read_dir(dir).expect("ls").flatten() {
        let p = e.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        assert!(
            !name.ends_with(".tmp"),
            "a temporary file was left behind: {name}"
        );
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        if text.is_empty() {
            continue;
        }
        if name.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{name} is cut: {e}"));
            continue;
        }
        assert!(text.ends_with('\n'), "{name} ends mid-line");
        if name.ends_with(".jsonl") {
            for (k, l) in text.lines().enumerate() {
                serde_json::from_str::<serde_json::Value>(l)
                    .unwrap_or_else(|e| panic!("{name}:{}: {e}", k + 1));
            }
        }
    }
}

#[test]
fn a_hard_link_to_the_input_is_the_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = segscope(&["gen-data", "--docs", "30", "--out", "d.jsonl"], d);
    assert!(o.status.success());
    std::fs::hard_link(d.join("d.jsonl"), d.join("hard.jsonl")).expect("link");
    let before = std::fs::read(d.join("d.jsonl")).expect("read");
    for args in [
        vec![
            "--headless",
            "-d",
            "d.jsonl",
            "--steps",
            "1",
            "--out",
            "hard.jsonl",
        ],
        vec![
            "--headless",
            "-d",
            "d.jsonl",
            "--steps",
            "1",
            "--report",
            "hard.jsonl",
            "--out",
            "o.jsonl",
        ],
        vec![
            "--headless",
            "-d",
            "d.jsonl",
            "--steps",
            "1",
            "--stream",
            "hard.jsonl",
            "--out",
            "o.jsonl",
        ],
        vec![
            "convert",
            "d.jsonl",
            "--to",
            "segscope",
            "--out",
            "hard.jsonl",
        ],
        vec!["crossfit", "-d", "d.jsonl", "--out", "hard.jsonl"],
        vec![
            "compare",
            "-d",
            "d.jsonl",
            "--headless",
            "--steps",
            "1",
            "--report",
            "hard.jsonl",
        ],
    ] {
        let o = segscope(&args, d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("is also an input"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read(d.join("d.jsonl")).expect("read"),
            before,
            "{args:?}"
        );
    }
    // The audit's side file is an output too.
    std::fs::hard_link(d.join("d.jsonl"), d.join("x.csv.audit.json")).expect("link");
    let o = segscope(&["audit", "-d", "d.jsonl", "--out", "x.csv"], d);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("d.jsonl")).expect("read"), before);
}

#[test]
fn an_output_inside_the_checkpoint_being_resumed_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = segscope(
        &[
            "--headless",
            "--steps",
            "1",
            "--keep",
            "last",
            "--save",
            "ck",
            "--out",
            "o.jsonl",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let latest = std::fs::read(d.join("ck/LATEST")).expect("LATEST");
    for args in [
        vec![
            "--headless",
            "--resume",
            "ck",
            "--steps",
            "1",
            "--out",
            "ck/LATEST",
        ],
        vec![
            "--headless",
            "--resume",
            "ck",
            "--steps",
            "1",
            "--out",
            "o.jsonl",
            "--report",
            "ck/step-000001/state.json",
        ],
    ] {
        let o = segscope(&args, d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(d.join("ck/LATEST")).expect("LATEST"), latest);
    // New checkpoints may go beside the resumed one.
    let o = segscope(
        &[
            "--headless",
            "--resume",
            "ck",
            "--steps",
            "1",
            "--keep",
            "last",
            "--save",
            "ck",
            "--out",
            "o.jsonl",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_second_writer_of_an_output_is_refused_and_the_holder_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // This test process holds the lock, as another segscope writing o.jsonl would.
    let held = std::fs::File::create(d.join("o.jsonl")).expect("create");
    held.try_lock().expect("lock");
    std::fs::write(d.join("s.jsonl"), b"").expect("write");
    for (args, name) in [
        (
            vec!["--headless", "--steps", "1", "--out", "o.jsonl"],
            "o.jsonl",
        ),
        (
            vec!["gen-data", "--docs", "3", "--out", "o.jsonl"],
            "o.jsonl",
        ),
        (vec!["crossfit", "--out", "o.jsonl"], "o.jsonl"),
    ] {
        let o = segscope(&args, d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{name}: another process is writing it")),
            "{err}"
        );
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }
    drop(held);
    let o = segscope(&["gen-data", "--docs", "3", "--out", "o.jsonl"], d);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn outputs_keep_their_mode_and_devices_are_written_not_replaced() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("o.jsonl"), b"old\n").expect("write");
    std::fs::set_permissions(d.join("o.jsonl"), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    let o = segscope(&["gen-data", "--docs", "3", "--out", "o.jsonl"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = std::fs::metadata(d.join("o.jsonl"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    // A FIFO is written to, not renamed over.
    let fifo = d.join("pipe");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).expect("read the pipe"))
    };
    let o = segscope(&["gen-data", "--docs", "3", "--out", "pipe"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = reader.join().expect("reader");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("meta")
            .file_type()
            .is_fifo()
    );
}

/// A 64 KiB tmpfs mounted for one test and unmounted after it.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: &Path) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(at)
            .status()
            .ok()?
            .success();
        ok.then(|| SmallDisk(at.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_every_output_whole_or_absent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = segscope(&["gen-data", "--docs", "600", "--out", "big.jsonl"], d);
    assert!(o.status.success());
    let Some(disk) = SmallDisk::mount(&d.join("small")) else {
        // Mounting needs root (CI and this project's machines have it); say so rather than
        // pass silently.
        eprintln!("SKIPPED: cannot mount a tmpfs here");
        return;
    };
    let s = disk.0.display().to_string();
    let at = |name: &str| format!("{s}/{name}");
    let runs: Vec<Vec<String>> = vec![
        vec![
            "gen-data".into(),
            "--docs".into(),
            "3000".into(),
            "--out".into(),
            at("g.jsonl"),
        ],
        vec![
            "convert".into(),
            "big.jsonl".into(),
            "--to".into(),
            "trl-stepwise".into(),
            "--threshold".into(),
            "0".into(),
            "--out".into(),
            at("c.jsonl"),
        ],
        vec![
            "crossfit".into(),
            "-d".into(),
            "big.jsonl".into(),
            "--out".into(),
            at("cf.csv"),
        ],
        vec![
            "audit".into(),
            "-d".into(),
            "big.jsonl".into(),
            "--out".into(),
            at("au.csv"),
        ],
        vec![
            "--headless".into(),
            "-d".into(),
            "big.jsonl".into(),
            "--steps".into(),
            "3".into(),
            "--out".into(),
            at("o.jsonl"),
            "--report".into(),
            at("r.csv"),
            "--stream".into(),
            at("s.jsonl"),
        ],
        vec![
            "compare".into(),
            "-d".into(),
            "big.jsonl".into(),
            "--headless".into(),
            "--steps".into(),
            "2".into(),
            "--report".into(),
            at("cmp.csv"),
        ],
    ];
    for args in runs {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = segscope(&a, d);
        assert_whole(&disk.0);
        // Each run fills the disk; the next starts empty.
        if !o.status.success() {
            assert!(
                stderr(&o).contains("No space left"),
                "{a:?}: {}",
                stderr(&o)
            );
        }
        for e in std::fs::read_dir(&disk.0).expect("ls").flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[test]
fn an_interrupt_at_any_moment_leaves_the_output_whole_or_absent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = segscope(&["gen-data", "--docs", "20000", "--out", "big.jsonl"], d);
    assert!(o.status.success());
    let o = segscope(&["gen-data", "--docs", "2000", "--out", "mid.jsonl"], d);
    assert!(o.status.success());
    let out = d.join("out");
    std::fs::create_dir(&out).expect("mkdir");
    // Moments spread over the whole run (reading, converting, writing), the same each time.
    let runs: [&[&str]; 4] = [
        &["convert", "big.jsonl", "--to", "segscope", "--out"],
        &["gen-data", "--docs", "40000", "--out"],
        &["crossfit", "-d", "mid.jsonl", "--out"],
        &[
            "--headless",
            "-d",
            "mid.jsonl",
            "--steps",
            "5",
            "--report",
            "out/r.csv",
            "--out",
        ],
    ];
    for (k, (ms, run)) in [5u64, 150, 400]
        .into_iter()
        .flat_map(|ms| runs.iter().map(move |r| (ms, r)))
        .enumerate()
    {
        let target = format!("out/c{k}.jsonl");
        let mut args = run.to_vec();
        args.push(&target);
        let headless = args[0] == "--headless";
        let child = Command::new(env!("CARGO_BIN_EXE_segscope"))
            .current_dir(d)
            .args(&args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(ms));
        // SAFETY: a signal to our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let o = child.wait_with_output().expect("wait");
        match o.status.code() {
            Some(0) => assert!(d.join(&target).exists(), "{ms} ms: exit 0 without the file"),
            // A training run stops through its normal path on a signal and writes what it has.
            Some(130) if headless => {}
            Some(130) => {
                assert!(
                    !d.join(&target).exists(),
                    "{ms} ms: interrupted, yet written"
                );
                assert!(
                    stderr(&o).contains("interrupted"),
                    "{ms} ms: {}",
                    stderr(&o)
                );
            }
            // A signal before the handler was installed ends the process the default way.
            None => assert!(!d.join(&target).exists(), "{ms} ms: killed, yet written"),
            other => panic!("{ms} ms: exit {other:?}: {}", stderr(&o)),
        }
        assert_whole(&out);
    }
}

#[test]
fn options_that_would_be_ignored_are_refused_and_edge_inputs_said_plainly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = segscope(&["gen-data", "--docs", "30", "--out", "d.jsonl"], d);
    assert!(o.status.success());
    let refused = |args: &[&str], want: &str| {
        let o = segscope(args, d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    };
    refused(
        &[
            "--headless",
            "-d",
            "d.jsonl",
            "--format",
            "",
            "--steps",
            "1",
        ],
        "`--format`: is empty",
    );
    let o = segscope(
        &[
            "--headless",
            "-d",
            "d.jsonl",
            "--steps",
            "1",
            "--keep",
            "last",
            "--save",
            "ck",
            "--out",
            "o.jsonl",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    refused(
        &[
            "--headless",
            "--resume",
            "ck",
            "--seed",
            "9",
            "--steps",
            "1",
            "--out",
            "o2.jsonl",
        ],
        "does not apply with --resume",
    );
    refused(
        &[
            "convert",
            "d.jsonl",
            "--to",
            "segscope",
            "--dev-fraction",
            "0.3",
            "--out",
            "c.jsonl",
        ],
        "--dev-fraction applies to convert with --edits only",
    );
    refused(
        &[
            "crossfit", "-d", "d.jsonl", "--folds", "31", "--out", "x.csv",
        ],
        "more than the data's 30 documents",
    );
    std::fs::write(
        d.join("one.jsonl"),
        r#"{"id": "a", "segments": [{"text": "x", "score": 1}, {"text": "y", "score": 0}]}"#,
    )
    .expect("write");
    refused(
        &["crossfit", "-d", "one.jsonl", "--out", "x.csv"],
        "at least 2 documents",
    );
    // A score a 32-bit float cannot hold is not "not finite".
    std::fs::write(
        d.join("huge.jsonl"),
        r#"{"id": "a", "segments": [{"text": "x", "score": 1e308}]}"#,
    )
    .expect("write");
    refused(
        &["--headless", "-d", "huge.jsonl", "--steps", "1"],
        "beyond a 32-bit float's range",
    );
    // Two edits of one segment: both read, the last in force, and said.
    std::fs::write(
        d.join("e.jsonl"),
        "{\"id\": \"doc-0000:0\", \"action\": \"exclude\"}\n{\"id\": \"doc-0000:0\", \"action\": \"weight\", \"value\": 1}\n",
    )
    .expect("write");
    let o = segscope(
        &[
            "--headless",
            "-d",
            "d.jsonl",
            "--edits",
            "e.jsonl",
            "--steps",
            "1",
            "--out",
            "o3.jsonl",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "1 segment(s) edited more than once the same way (first doc-0000:0, 2 times)"
        ),
        "{}",
        stderr(&o)
    );
    // `audit --out -`: the report on standard output, the audit's figures on standard error.
    let o = segscope(&["audit", "-d", "d.jsonl", "--out", "-"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("segscope: audit figures: {"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn lenient_skips_invalid_utf8_lines_sizes_are_bounded_and_unwritable_outputs_found_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"\n{\"id\": \"c\", \"segments\": [{\"text\": \"caf\xe9\", \"score\": 0.1}]}\n",
    );
    bytes.extend_from_slice(GOOD2.as_bytes());
    bytes.push(b'\n');
    std::fs::write(d.join("u.jsonl"), &bytes).expect("write");
    let o = segscope(&["--headless", "-d", "u.jsonl", "--steps", "1"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("u.jsonl:2: invalid UTF-8"),
        "{}",
        stderr(&o)
    );
    let o = segscope(
        &["--headless", "-d", "u.jsonl", "--lenient", "--steps", "1"],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("u.jsonl:2: skipped: invalid UTF-8"),
        "{}",
        stderr(&o)
    );
    // Sizes are checked before anything is allocated.
    for (toml, key) in [
        ("[model]\nembed_dim = 100000\n", "model.embed_dim"),
        ("[model]\nhidden = 1000000\n", "model.hidden"),
        ("[features]\nmax_words = 10000000\n", "features.max_words"),
        (
            "[features]\nbuckets = 16777216\n[model]\nembed_dim = 64\n",
            "model.embed_dim",
        ),
    ] {
        std::fs::write(d.join("c.toml"), toml).expect("write");
        let o = segscope(&["--headless", "--config", "c.toml", "--steps", "1"], d);
        assert_eq!(o.status.code(), Some(2), "{toml}: {}", stderr(&o));
        assert!(stderr(&o).contains(key), "{toml}: {}", stderr(&o));
    }
    // An immutable output is found in the plan, not after the work (where chattr works).
    std::fs::write(d.join("imm.jsonl"), b"").expect("write");
    let immutable = Command::new("chattr")
        .args(["+i"])
        .arg(d.join("imm.jsonl"))
        .status()
        .is_ok_and(|s| s.success());
    if immutable {
        let o = segscope(&["gen-data", "--docs", "3", "--out", "imm.jsonl"], d);
        let _ = Command::new("chattr")
            .args(["-i"])
            .arg(d.join("imm.jsonl"))
            .status();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("cannot write it"), "{}", stderr(&o));
    } else {
        eprintln!("SKIPPED: chattr +i is not available here");
    }
}

/// Folds as jobs: five `crossfit --fold K/5` processes and a merge give the report one
/// `crossfit` process gives, label scores to 1e-6; parts of another seed, a fold missing or a
/// fold twice are refused.
#[test]
fn five_fold_jobs_and_a_merge_give_one_processs_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/processbench-gsm8k.json"
    );
    let run = |args: &[&str]| {
        let o = segscope(args, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    };
    run(&["crossfit", "--data", data, "--out", "whole.csv"]);
    let parts: Vec<String> = (0..5).map(|k| format!("p{k}.json")).collect();
    // The jobs as a cluster runs them: separate processes, side by side.
    let jobs: Vec<_> = (0..5)
        .map(|k| {
            Command::new(env!("CARGO_BIN_EXE_segscope"))
                .args(["crossfit", "--data", data, "--fold", &format!("{k}/5")])
                .args(["--out", &parts[k]])
                .current_dir(dir.path())
                .output()
        })
        .collect();
    for j in jobs {
        let o = j.expect("run a job");
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mut merge = vec!["crossfit", "merge"];
    merge.extend(parts.iter().map(String::as_str));
    merge.extend(["--out", "merged.csv"]);
    run(&merge);
    let read = |f: &str| -> Vec<csv::StringRecord> {
        csv::Reader::from_path(dir.path().join(f))
            .expect("report")
            .records()
            .map(|r| r.expect("row"))
            .collect()
    };
    let header = csv::Reader::from_path(dir.path().join("whole.csv"))
        .expect("report")
        .headers()
        .expect("header")
        .clone();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (whole, merged) = (read("whole.csv"), read("merged.csv"));
    assert_eq!(whole.len(), merged.len());
    assert!(whole.len() > 1000, "ProcessBench's labelled steps");
    for (a, b) in whole.iter().zip(&merged) {
        assert_eq!(a[col("id")], b[col("id")]);
        for c in ["oof_prediction", "label_score", "suggested_probability"] {
            let (x, y): (f64, f64) = (
                a[col(c)].parse().unwrap_or(f64::NAN),
                b[col(c)].parse().unwrap_or(f64::NAN),
            );
            assert!(
                (x - y).abs() <= 1e-6 || (x.is_nan() && y.is_nan()),
                "{} {c}: {x} vs {y}",
                &a[col("id")]
            );
        }
        assert_eq!(a[col("label_issue")], b[col("label_issue")]);
        assert_eq!(
            a[col("suggested_first_error")],
            b[col("suggested_first_error")]
        );
    }
    // Refused: a fold missing, a fold twice, a part of another seed.
    let refused = |args: &[&str], why: &str| {
        let o = segscope(args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
    };
    let four = [
        "crossfit", "merge", "p0.json", "p1.json", "p2.json", "p3.json",
    ];
    refused(
        &[&four[..], &["--out", "m.csv"]].concat(),
        "fold 4 of 5 missing",
    );
    refused(
        &[&four[..], &["p3.json", "p4.json", "--out", "m.csv"]].concat(),
        "fold 3 is given twice",
    );
    run(&[
        "crossfit", "--data", data, "--seed", "7", "--fold", "4/5", "--out", "s4.json",
    ]);
    refused(
        &[&four[..], &["s4.json", "--out", "m.csv"]].concat(),
        "different seeds",
    );
}
