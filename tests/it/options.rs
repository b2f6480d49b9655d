//! Every option of every command does something: this test walks clap's command tree and, for
//! each (command, option) pair, runs a case that shows the option's effect or its refusal. An
//! option added without a case here fails the suite, and so does a case for an option that is
//! gone.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use clap::CommandFactory;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run segscope")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

type Check = Box<dyn Fn(&Path, &Output) -> Result<(), String>>;

enum Expect {
    /// Exit 0, and the check holds.
    Ok(Check),
    /// Exit 2, and stderr says this.
    Refused(&'static str),
    /// Both runs succeed, and their standard outputs differ: the value changes the result.
    Differs(Vec<&'static str>),
    /// A case that runs the command itself.
    Custom(Check),
}

struct Case {
    cmd: &'static str,
    flag: &'static str,
    args: Vec<&'static str>,
    expect: Expect,
}

fn ok(check: impl Fn(&Path, &Output) -> Result<(), String> + 'static) -> Expect {
    Expect::Ok(Box::new(check))
}

/// The file's text contains `want`.
fn file_has(name: &'static str, want: &'static str) -> Expect {
    ok(move |d, _| {
        let t = std::fs::read_to_string(d.join(name)).map_err(|e| format!("{name}: {e}"))?;
        t.contains(want)
            .then_some(())
            .ok_or(format!("{name} lacks {want}"))
    })
}

fn stdout_has(want: &'static str) -> Expect {
    ok(move |_, o| {
        text(&o.stdout)
            .contains(want)
            .then_some(())
            .ok_or(format!("stdout lacks {want}"))
    })
}

fn stderr_has(want: &'static str) -> Expect {
    ok(move |_, o| {
        text(&o.stderr)
            .contains(want)
            .then_some(())
            .ok_or(format!("stderr lacks {want}"))
    })
}

/// Standard output has `n` lines.
fn stdout_lines(n: usize) -> Expect {
    ok(move |_, o| {
        let got = text(&o.stdout).lines().count();
        (got == n)
            .then_some(())
            .ok_or(format!("{got} lines, want {n}"))
    })
}

/// The (command, long option) pairs clap knows, the training run as "".
fn pairs() -> BTreeSet<(String, String)> {
    let root = segscope::cli::Args::command();
    let mut out = BTreeSet::new();
    let mut add = |name: &str, c: &clap::Command| {
        for a in c.get_arguments() {
            if let Some(long) = a.get_long()
                && !["help", "version"].contains(&long)
            {
                out.insert((name.to_string(), format!("--{long}")));
            }
        }
    };
    add("", &root);
    for sub in root.get_subcommands() {
        add(sub.get_name(), sub);
    }
    out
}

fn cases() -> Vec<Case> {
    use Expect::{Differs, Refused};
    let h = ["--headless", "--steps", "1", "--data", "d.jsonl"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = h.to_vec();
        v.extend_from_slice(extra);
        v
    };
    // A run whose stream header records the config: where a flag sets a config value.
    let header = |extra: &[&'static str], want: &'static str| {
        let mut v = with(extra);
        v.extend(["--stream", "hs.jsonl", "--out", "o.jsonl"]);
        (v, file_has("hs.jsonl", want))
    };
    let mut c = Vec::new();
    let mut push = |cmd, flag, (args, expect): (Vec<&'static str>, Expect)| {
        c.push(Case {
            cmd,
            flag,
            args,
            expect,
        })
    };
    // The training run.
    push(
        "",
        "--config",
        (
            vec!["--headless", "--config", "cfg.toml", "--data", "d.jsonl"],
            stdout_lines(3),
        ),
    );
    push(
        "",
        "--data",
        (with(&["--report", "r.csv"]), file_has("r.csv", "doc-0039")),
    );
    push(
        "",
        "--format",
        (
            with(&["--format", "math-shepherd"]),
            Refused("field `input`"),
        ),
    );
    push(
        "",
        "--lenient",
        (
            vec![
                "--headless",
                "--steps",
                "1",
                "--data",
                "bad.jsonl",
                "--lenient",
            ],
            stderr_has("skipped"),
        ),
    );
    push(
        "",
        "--edits",
        (
            with(&["--edits", "missing.jsonl"]),
            Refused("missing.jsonl"),
        ),
    );
    push(
        "",
        "--backend",
        header(&["--backend", "ndarray"], "\"backend\":\"ndarray\""),
    );
    push("", "--seed", header(&["--seed", "5"], "\"seed\":5"));
    push("", "--lr", header(&["--lr", "0.05"], "\"lr\":0.05"));
    push(
        "",
        "--batch-size",
        header(&["--batch-size", "16"], "\"batch_size\":16"),
    );
    push(
        "",
        "--optimizer",
        header(&["--optimizer", "sgd"], "\"optimizer\":\"sgd\""),
    );
    push(
        "",
        "--eval-every",
        header(&["--eval-every", "3"], "\"eval_every\":3"),
    );
    push(
        "",
        "--dev-fraction",
        header(&["--dev-fraction", "0.5"], "\"dev_fraction\":0.5"),
    );
    push(
        "",
        "--loss",
        header(&["--loss", "huber"], "\"loss\":\"huber\""),
    );
    push("", "--headless", (h.to_vec(), stdout_has("{\"step\":1")));
    push(
        "",
        "--steps",
        (
            vec!["--headless", "--steps", "3", "--data", "d.jsonl"],
            stdout_lines(4),
        ),
    );
    push(
        "",
        "--out",
        (
            with(&["--out", "o2.jsonl"]),
            file_has("o2.jsonl", "\"step\":1"),
        ),
    );
    push(
        "",
        "--stream",
        (
            with(&["--stream", "s2.jsonl", "--out", "o.jsonl"]),
            file_has("s2.jsonl", "segscope.stream"),
        ),
    );
    push(
        "",
        "--report",
        (
            with(&["--report", "r2.csv"]),
            file_has("r2.csv", "label_score"),
        ),
    );
    push(
        "",
        "--save",
        (
            with(&["--save", "ck2", "--out", "o.jsonl"]),
            ok(|d, _| {
                d.join("ck2")
                    .read_dir()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        ),
    );
    push(
        "",
        "--crossfit",
        (with(&["--crossfit", "oof.csv"]), Refused("--crossfit")),
    );
    push("", "--audit", (with(&["--audit"]), Refused("--audit")));
    push(
        "",
        "--judge",
        (with(&["--judge", "j.jsonl"]), Refused("--judge")),
    );
    push(
        "",
        "--resume",
        (
            vec!["--headless", "--steps", "1", "--resume", "ck"],
            stdout_has("{\"step\":3"),
        ),
    );
    push(
        "",
        "--top-k",
        (
            with(&["--top-k", "1"]),
            ok(|_, o| {
                let t = text(&o.stdout);
                let v: serde_json::Value = serde_json::from_str(t.lines().next().unwrap_or(""))
                    .map_err(|e| e.to_string())?;
                (v["top"].as_array().map(Vec::len) == Some(1))
                    .then_some(())
                    .ok_or(t)
            }),
        ),
    );
    push(
        "",
        "--keep",
        (with(&["--keep", "last"]), stdout_has("\"keep\":\"last\"")),
    );
    push(
        "",
        "--early-stop",
        header(&["--early-stop", "7"], "\"early_stop\":7"),
    );

    // watch
    push(
        "watch",
        "--headless",
        (
            vec!["watch", "s.jsonl", "--headless"],
            stdout_has("\"stream\""),
        ),
    );
    push(
        "watch",
        "--report",
        (
            vec!["watch", "s.jsonl", "--headless", "--report", "w.csv"],
            file_has("w.csv", "doc-0000"),
        ),
    );
    push(
        "watch",
        "--config",
        (
            vec!["watch", "s.jsonl", "--headless", "--config", "badcfg.toml"],
            Refused("nonsense"),
        ),
    );
    // Without --wait a missing file is an error at once; with it, the file is waited for.
    push(
        "watch",
        "--wait",
        (
            vec!["watch", "late.jsonl", "--headless", "--wait"],
            Expect::Custom(Box::new(|d, _| {
                let mut child = Command::new(env!("CARGO_BIN_EXE_segscope"))
                    .args(["watch", "late.jsonl", "--headless", "--wait"])
                    .current_dir(d)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| e.to_string())?;
                std::thread::sleep(std::time::Duration::from_millis(400));
                if child.try_wait().map_err(|e| e.to_string())?.is_some() {
                    return Err("exited before the file appeared".into());
                }
                std::fs::copy(d.join("s.jsonl"), d.join("late.jsonl"))
                    .map_err(|e| e.to_string())?;
                for _ in 0..200 {
                    if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                        return status.success().then_some(()).ok_or(format!("{status}"));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let _ = child.kill();
                Err("still waiting 10 s after the file appeared".into())
            })),
        ),
    );

    // compare, headless
    let cmp = ["compare", "--headless", "--steps", "1", "--data", "d.jsonl"];
    let cmpw = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = cmp.to_vec();
        v.extend_from_slice(extra);
        v
    };
    push(
        "compare",
        "--losses",
        (cmpw(&["--losses", "mse,huber"]), stdout_has("\"huber\"")),
    );
    push(
        "compare",
        "--headless",
        (cmp.to_vec(), stdout_has("\"models\"")),
    );
    push(
        "compare",
        "--steps",
        (
            vec!["compare", "--headless", "--steps", "2", "--data", "d.jsonl"],
            stdout_lines(3),
        ),
    );
    push(
        "compare",
        "--report",
        (
            cmpw(&["--report", "cr.csv"]),
            file_has("cr.csv", "doc-0000"),
        ),
    );
    push(
        "compare",
        "--config",
        (
            vec![
                "compare",
                "--headless",
                "--config",
                "cfg.toml",
                "--data",
                "d.jsonl",
            ],
            stdout_lines(3),
        ),
    );
    push(
        "compare",
        "--data",
        (
            vec![
                "compare",
                "--headless",
                "--steps",
                "1",
                "--data",
                "nope.jsonl",
            ],
            Refused("nope.jsonl"),
        ),
    );
    push(
        "compare",
        "--format",
        (
            cmpw(&["--format", "math-shepherd"]),
            Refused("field `input`"),
        ),
    );
    push(
        "compare",
        "--lenient",
        (
            vec![
                "compare",
                "--headless",
                "--steps",
                "1",
                "--data",
                "bad.jsonl",
                "--lenient",
            ],
            stderr_has("skipped"),
        ),
    );
    push(
        "compare",
        "--backend",
        (cmpw(&["--backend", "bogus"]), Refused("invalid value")),
    );
    push(
        "compare",
        "--seed",
        (cmpw(&["--seed", "1"]), Differs(cmpw(&["--seed", "2"]))),
    );
    push(
        "compare",
        "--lr",
        (cmpw(&["--lr", "0.3"]), Differs(cmpw(&["--lr", "0.001"]))),
    );
    push(
        "compare",
        "--batch-size",
        (cmpw(&["--batch-size", "4"]), Refused("full batch")),
    );
    push(
        "compare",
        "--optimizer",
        (
            cmpw(&["--optimizer", "sgd"]),
            Differs(cmpw(&["--optimizer", "adam"])),
        ),
    );
    let cmp3 = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["compare", "--headless", "--steps", "3", "--data", "d.jsonl"];
        v.extend_from_slice(extra);
        v
    };
    push(
        "compare",
        "--eval-every",
        (
            cmp3(&["--eval-every", "3"]),
            Differs(cmp3(&["--eval-every", "1"])),
        ),
    );
    // On data without `split` fields: the generator's documents declare theirs.
    let nosplit = |f: &'static str| -> Vec<&'static str> {
        vec![
            "compare",
            "--headless",
            "--steps",
            "1",
            "--data",
            "nosplit.jsonl",
            "--dev-fraction",
            f,
        ]
    };
    push(
        "compare",
        "--dev-fraction",
        (nosplit("0.5"), Differs(nosplit("0.1"))),
    );

    // convert
    push(
        "convert",
        "--to",
        (
            vec!["convert", "pb.json", "--out", "-", "--to", "trl-stepwise"],
            stdout_has("\"completions\""),
        ),
    );
    push(
        "convert",
        "--threshold",
        (
            vec![
                "convert",
                "d.jsonl",
                "--out",
                "-",
                "--to",
                "trl-stepwise",
                "--threshold",
                "0.2",
            ],
            stdout_has("\"labels\":["),
        ),
    );
    push(
        "convert",
        "--out",
        (
            vec!["convert", "d.jsonl", "--out", "c.jsonl"],
            file_has("c.jsonl", "doc-0039"),
        ),
    );
    push(
        "convert",
        "--config",
        (
            vec![
                "convert",
                "d.jsonl",
                "--out",
                "c.jsonl",
                "--config",
                "badcfg.toml",
            ],
            Refused("nonsense"),
        ),
    );
    push(
        "convert",
        "--format",
        (
            vec![
                "convert",
                "d.jsonl",
                "--out",
                "c.jsonl",
                "--format",
                "math-shepherd",
            ],
            Refused("field `input`"),
        ),
    );
    push(
        "convert",
        "--lenient",
        (
            vec!["convert", "bad.jsonl", "--out", "c.jsonl", "--lenient"],
            stderr_has("skipped"),
        ),
    );
    push(
        "convert",
        "--edits",
        (
            vec![
                "convert",
                "d.jsonl",
                "--out",
                "c.jsonl",
                "--edits",
                "missing.jsonl",
            ],
            Refused("missing.jsonl"),
        ),
    );
    push(
        "convert",
        "--dev-fraction",
        (
            vec![
                "convert",
                "d.jsonl",
                "--out",
                "c.jsonl",
                "--dev-fraction",
                "2",
            ],
            Refused("dev_fraction"),
        ),
    );

    // A fold of N as a cluster job writes a part for `crossfit merge`.
    push(
        "crossfit",
        "--fold",
        (
            vec![
                "crossfit", "--data", "d.jsonl", "--fold", "1/3", "--out", "f.json",
            ],
            file_has("f.json", "segscope.crossfit-part"),
        ),
    );
    // crossfit and audit share their options.
    for sub in ["crossfit", "audit"] {
        let base: Vec<&'static str> = vec![sub, "--data", "d.jsonl"];
        let w = move |extra: &[&'static str]| -> Vec<&'static str> {
            let mut v = base.clone();
            v.extend_from_slice(extra);
            v
        };
        let mlp = "--learner mlp only";
        push(
            sub,
            "--folds",
            (
                w(&["--folds", "3", "--out", "x.csv"]),
                stderr_has("fold 3/3"),
            ),
        );
        push(
            sub,
            "--learner",
            (
                w(&["--learner", "mlp", "--steps", "2", "--out", "x.csv"]),
                stderr_has("; 2 steps, best"),
            ),
        );
        push(
            sub,
            "--repeats",
            (
                w(&["--repeats", "2", "--folds", "2", "--out", "x.csv"]),
                ok(|_, o| {
                    let n = text(&o.stderr).matches("segscope: fold ").count();
                    (n == 4).then_some(()).ok_or(format!("{n} fold lines"))
                }),
            ),
        );
        push(
            sub,
            "--steps",
            (w(&["--steps", "2", "--out", "x.csv"]), Refused(mlp)),
        );
        push(
            sub,
            "--out",
            (w(&["--out", "x2.csv"]), file_has("x2.csv", "label_score")),
        );
        // A judge gives P(step is right): continuous scores have no such thing (its effect on
        // binary labels: tests/labels.rs and tests/cli.rs).
        push(
            sub,
            "--judge",
            (
                w(&["--judge", "d.jsonl", "--out", "x.csv"]),
                Refused("--judge needs binary labels"),
            ),
        );
        push(
            sub,
            "--config",
            (
                w(&["--config", "badcfg.toml", "--out", "x.csv"]),
                Refused("nonsense"),
            ),
        );
        push(
            sub,
            "--data",
            (
                vec![sub, "--data", "nope.jsonl", "--out", "x.csv"],
                Refused("nope.jsonl"),
            ),
        );
        push(
            sub,
            "--format",
            (
                w(&["--format", "math-shepherd", "--out", "x.csv"]),
                Refused("field `input`"),
            ),
        );
        push(
            sub,
            "--lenient",
            (
                vec![sub, "--data", "bad.jsonl", "--lenient", "--out", "x.csv"],
                stderr_has("skipped"),
            ),
        );
        for (flag, value) in [
            ("--backend", "ndarray"),
            ("--lr", "0.1"),
            ("--batch-size", "8"),
            ("--optimizer", "sgd"),
            ("--eval-every", "2"),
        ] {
            push(
                sub,
                flag,
                (w(&[flag, value, "--out", "x.csv"]), Refused(mlp)),
            );
        }
        push(
            sub,
            "--seed",
            (
                w(&["--seed", "1", "--out", "-"]),
                Differs(w(&["--seed", "2", "--out", "-"])),
            ),
        );
        let nosplit = move |f: &'static str| -> Vec<&'static str> {
            vec![
                sub,
                "--data",
                "nosplit.jsonl",
                "--dev-fraction",
                f,
                "--out",
                "-",
            ]
        };
        push(
            sub,
            "--dev-fraction",
            (nosplit("0.5"), Differs(nosplit("0.1"))),
        );
    }
    push(
        "crossfit",
        "--audit",
        (
            vec!["crossfit", "--data", "d.jsonl", "--audit", "--out", "y.csv"],
            file_has("y.csv.audit.json", "canaries"),
        ),
    );

    // tour
    push(
        "tour",
        "--headless",
        (vec!["tour", "--headless"], stdout_lines(5)),
    );
    push(
        "tour",
        "--scene",
        (vec!["tour", "--headless", "--scene", "2"], stdout_lines(4)),
    );
    push(
        "tour",
        "--backend",
        (
            vec!["tour", "--headless", "--scene", "3", "--backend", "ndarray"],
            stdout_has("\"backend\":\"ndarray\""),
        ),
    );

    // gen-data
    push(
        "gen-data",
        "--docs",
        (vec!["gen-data", "--docs", "3"], stdout_lines(3)),
    );
    push(
        "gen-data",
        "--seed",
        (
            vec!["gen-data", "--docs", "2", "--seed", "1"],
            Differs(vec!["gen-data", "--docs", "2", "--seed", "2"]),
        ),
    );
    push(
        "gen-data",
        "--out",
        (
            vec!["gen-data", "--docs", "2", "--out", "g.jsonl"],
            file_has("g.jsonl", "doc-0001"),
        ),
    );
    c
}

#[test]
fn every_option_of_every_command_has_an_effect_or_a_refusal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let data = segscope::data::generate::generate(40, 3);
    std::fs::write(d.join("d.jsonl"), &data).expect("write");
    std::fs::write(d.join("bad.jsonl"), format!("{data}{{not json\n")).expect("write");
    let nosplit: String = data
        .lines()
        .map(|l| {
            l.replace("\"split\":\"train\",", "")
                .replace("\"split\":\"dev\",", "")
                + "\n"
        })
        .collect();
    assert_ne!(nosplit, data, "the generator's documents name their split");
    std::fs::write(d.join("nosplit.jsonl"), nosplit).expect("write");
    std::fs::write(d.join("cfg.toml"), "[train]\nsteps = 2\n").expect("write");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/processbench.jsonl"
        ),
        d.join("pb.json"),
    )
    .expect("copy");
    std::fs::write(d.join("badcfg.toml"), "nonsense = 1\n").expect("write");
    // A stream and a checkpoint for `watch` and `--resume`.
    let o = run(
        d,
        &[
            "--headless",
            "--steps",
            "2",
            "--keep",
            "last",
            "--data",
            "d.jsonl",
            "--stream",
            "s.jsonl",
            "--save",
            "ck",
            "--out",
            "o0.jsonl",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));

    let cases = cases();
    let have: BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.cmd.to_string(), c.flag.to_string()))
        .collect();
    let want = pairs();
    let missing: Vec<_> = want.difference(&have).collect();
    let stale: Vec<_> = have.difference(&want).collect();
    assert!(missing.is_empty(), "options without a case: {missing:?}");
    assert!(
        stale.is_empty(),
        "cases for options that are gone: {stale:?}"
    );

    let mut failures = Vec::new();
    for c in &cases {
        assert!(
            c.args.contains(&c.flag),
            "{} {}: the case must use its option",
            c.cmd,
            c.flag
        );
        if let Expect::Custom(f) = &c.expect {
            if let Err(e) = f(d, &run(d, &["formats"])) {
                failures.push(format!("{} {}: {e}", c.cmd, c.flag));
            }
            continue;
        }
        let o = run(d, &c.args);
        let what = format!("{} {} ({:?})", c.cmd, c.flag, c.args);
        let result = match &c.expect {
            Expect::Ok(check) => {
                if o.status.success() {
                    check(d, &o)
                } else {
                    Err(format!("exit {:?}: {}", o.status.code(), text(&o.stderr)))
                }
            }
            Expect::Refused(want) => {
                if o.status.code() == Some(2) && text(&o.stderr).contains(want) {
                    Ok(())
                } else {
                    Err(format!(
                        "want exit 2 saying `{want}`, got {:?}: {}",
                        o.status.code(),
                        text(&o.stderr)
                    ))
                }
            }
            Expect::Custom(_) => unreachable!("run above"),
            Expect::Differs(other) => {
                let o2 = run(d, other);
                if !o.status.success() || !o2.status.success() {
                    Err(format!("{}{}", text(&o.stderr), text(&o2.stderr)))
                } else if o.stdout == o2.stdout {
                    Err(format!("same output as {other:?}"))
                } else {
                    Ok(())
                }
            }
        };
        if let Err(e) = result {
            failures.push(format!("{what}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
