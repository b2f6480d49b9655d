//! End to end: the real binary in a pseudo-terminal, its screen read through a terminal emulator.

use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 48;
const COLS: u16 = 160;
/// Generous: CI machines are shared and a cold start featurises the data first.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The step number in the dashboard's header (its first line).
fn header_step(screen: &str) -> Option<u64> {
    let first = screen.lines().next()?;
    let at = first.find(" step ")?;
    first[at + 6..].split_whitespace().next()?.parse().ok()
}

struct Session {
    parser: vt100::Parser,
    bytes: Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    _dir: tempfile::TempDir,
}

impl Session {
    fn start() -> Session {
        let dir = tempfile::tempdir().expect("tempdir");
        Session::start_in(dir, &[])
    }

    /// segscope with `args`, in `dir`.
    fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Session {
        Session::start_sized(dir, args, ROWS, COLS)
    }

    /// segscope with `args`, in `dir`, on a terminal of `rows` x `cols`.
    fn start_sized(dir: tempfile::TempDir, args: &[&str], rows: u16, cols: u16) -> Session {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_segscope"));
        cmd.args(args);
        // An empty directory: no config.toml, so the defaults and the bundled data.
        cmd.cwd(dir.path());
        cmd.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(cmd).expect("spawn segscope");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let (tx, bytes) = mpsc::channel();
        // The pty must be drained continuously or the child blocks on a full buffer.
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Session {
            // Dropping the master would hang up the child: it lives as long as the session.
            _master: pair.master,
            parser: vt100::Parser::new(rows, cols, 0),
            bytes,
            writer,
            child,
            _dir: dir,
        }
    }

    fn pump(&mut self, wait: Duration) {
        if let Ok(b) = self.bytes.recv_timeout(wait) {
            self.parser.process(&b);
        }
        while let Ok(b) = self.bytes.try_recv() {
            self.parser.process(&b);
        }
    }

    fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// The step number in the header.
    fn step(&self) -> Option<u64> {
        header_step(&self.screen())
    }

    fn wait_for(&mut self, what: &str, cond: impl Fn(&Session) -> bool) {
        let t0 = Instant::now();
        while t0.elapsed() < TIMEOUT {
            if cond(self) {
                return;
            }
            self.pump(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; screen:\n{}", self.screen());
    }

    fn press(&mut self, keys: &[u8]) {
        self.writer.write_all(keys).expect("write keys");
        self.writer.flush().expect("flush");
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let t0 = Instant::now();
        loop {
            self.pump(Duration::from_millis(50));
            if let Ok(Some(status)) = self.child.try_wait() {
                // Read what the child wrote last (leaving the alternate screen).
                for _ in 0..10 {
                    self.pump(Duration::from_millis(20));
                }
                return status;
            }
            assert!(
                t0.elapsed() < TIMEOUT,
                "segscope did not exit; screen:\n{}",
                self.screen()
            );
        }
    }
}

#[test]
fn step_run_and_quit_in_a_real_terminal() {
    let mut s = Session::start();
    s.wait_for("the dashboard at step 0", |s| {
        s.step() == Some(0) && s.screen().contains("Segments")
    });
    assert!(
        s.parser.screen().alternate_screen(),
        "the dashboard uses the alternate screen"
    );
    for _ in 0..3 {
        s.press(b" ");
    }
    s.wait_for("step 3", |s| s.step() == Some(3));
    assert!(s.screen().contains("paused"));
    s.press(b"r");
    s.wait_for("running past step 3", |s| s.step().is_some_and(|n| n > 6));
    assert!(s.screen().contains("running"));
    s.press(b"q");
    let status = s.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        !s.parser.screen().alternate_screen(),
        "the alternate screen was left"
    );
}

/// Closing the terminal (its window, its ssh session) must end the program: no SIGHUP may arrive,
/// and crossterm alone would spin on the dead tty for nobody. portable-pty keeps a duplicate of the
/// master for its reader, so this test opens the pty itself and really closes it.
#[test]
fn a_closed_terminal_ends_the_dashboard() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::{Command, Stdio};

    let (mut master, mut slave) = (0, 0);
    let ws = libc::winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds; null name and termios pointers are allowed.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: fcntl on the fds openpty just returned. Close-on-exec: other tests in this binary
    // spawn processes in parallel, and an inherited master would keep the pty open.
    unsafe {
        libc::fcntl(
            master,
            libc::F_SETFL,
            libc::fcntl(master, libc::F_GETFL) | libc::O_NONBLOCK,
        );
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    // SAFETY: `slave` is an open fd that nothing else owns.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_segscope"));
    cmd.current_dir(dir.path())
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave));
    let mut child = cmd.spawn().expect("spawn segscope");
    drop(cmd);
    let mut parser = vt100::Parser::new(ROWS, COLS, 0);
    let pump = |parser: &mut vt100::Parser| {
        let mut buf = [0u8; 65536];
        loop {
            // SAFETY: reading into our buffer from the open non-blocking master.
            let n = unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            parser.process(&buf[..n as usize]);
        }
    };
    let step = |parser: &vt100::Parser| header_step(&parser.screen().contents());
    let t0 = Instant::now();
    while step(&parser).is_none() {
        pump(&mut parser);
        assert!(
            t0.elapsed() < TIMEOUT,
            "no dashboard:\n{}",
            parser.screen().contents()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: writing one byte we own to the open master.
    unsafe { libc::write(master, b"r".as_ptr().cast(), 1) };
    while step(&parser).is_none_or(|n| n < 3) {
        pump(&mut parser);
        assert!(
            t0.elapsed() < TIMEOUT,
            "not running:\n{}",
            parser.screen().contents()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: closing the master we own; nothing uses it after this.
    unsafe { libc::close(master) };
    let t1 = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if t1.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("segscope kept running after its terminal closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "a closed terminal is a quit, not a crash: {status:?}"
    );
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let mut s = Session::start();
    s.wait_for("the dashboard", |s| s.step() == Some(0));
    s.press(b"?");
    s.wait_for("the help overlay", |s| {
        s.screen().contains("take one training step")
    });
    s.press(&[0x03]);
    let status = s.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    assert!(!s.parser.screen().alternate_screen());
}

/// Issue 4's key latency: time from a key press to the redrawn screen while training runs at full
/// speed. A measurement, not a test: run it with
/// `cargo test --release --test e2e -- --ignored --nocapture key_latency`.
#[test]
fn sigterm_restores_the_terminal_and_exits_143() {
    let mut s = Session::start();
    s.wait_for("the dashboard", |s| s.step() == Some(0));
    s.press(b"r");
    s.wait_for("running", |s| s.step().is_some_and(|n| n > 2));
    let pid = s.child.process_id().expect("pid");
    // SAFETY: a signal to our own child.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let status = s.wait_exit();
    assert_eq!(status.exit_code(), 143, "exit status {status:?}");
    assert!(!s.parser.screen().alternate_screen());
}

/// Presses `l` 60 times, each timed until the screen shows the change (it flips the loss chart
/// between linear and log y, and the title says which); then quits. The sorted times in ms, and
/// the step the run had reached.
fn time_keys(s: &mut Session) -> (Vec<f64>, u64) {
    let mut ms = Vec::new();
    for k in 0..60 {
        let want = if k % 2 == 0 { "log y" } else { "linear y" };
        let t0 = Instant::now();
        s.press(b"l");
        while !s.screen().contains(want) {
            s.pump(Duration::from_millis(2));
            assert!(t0.elapsed() < TIMEOUT, "no redraw; screen:\n{}", s.screen());
        }
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(30));
    }
    let steps = s.step().unwrap_or(0);
    s.press(b"q");
    s.wait_exit();
    ms.sort_by(f64::total_cmp);
    (ms, steps)
}

#[test]
#[ignore]
fn key_latency() {
    let mut s = Session::start();
    s.wait_for("the dashboard", |s| s.step() == Some(0));
    s.press(b"r");
    s.wait_for("running", |s| s.step().is_some_and(|n| n > 5));
    let (ms, steps) = time_keys(&mut s);
    let p = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "key -> redrawn screen while training ({} steps done): median {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} presses",
        steps,
        p(0.5),
        p(0.95),
        p(1.0),
        ms.len()
    );
}

/// Key to screen while `segscope watch` follows a 100,000-segment stream that gains a step every
/// 100 ms (every prediction each time): the keys must not wait for the stream.
#[test]
#[ignore]
fn key_latency_watching_a_stream() {
    use segscope::data::{Partition, ReadOptions, generate, parse_str};
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.jsonl");
    let (ds, _) = parse_str(
        &generate::generate(17_300, 5),
        "gen",
        &ReadOptions::default(),
    )
    .expect("data");
    let part = Partition::new(&ds, 0.2);
    let n = ds.segments.len();
    segscope::stream::Writer::create(&path, &ds, &part, "latency", None).expect("stream");
    let step_line = |k: u64| {
        let preds: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "{:.4}",
                    ((i as u64 * 7919 + k * 104_729) % 2000) as f64 / 1000.0 - 1.0
                )
            })
            .collect();
        format!("{{\"step\":{k},\"predictions\":[{}]}}\n", preds.join(","))
    };
    let append = |k: u64| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(step_line(k).as_bytes()).expect("append");
    };
    append(1);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, path) = (stop.clone(), path.clone());
        let lines: Vec<String> = (2..400).map(step_line).collect();
        std::thread::spawn(move || {
            for l in lines {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .expect("open");
                f.write_all(l.as_bytes()).expect("append");
                drop(f);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut s = Session::start_in(dir, &["watch", "s.jsonl"]);
    s.wait_for("the dashboard", |s| s.step().is_some_and(|k| k >= 3));
    let (ms, steps) = time_keys(&mut s);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = writer.join();
    let p = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "key -> redrawn screen watching a {n}-segment stream at 10 steps/s (reached step {steps}): median {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} presses",
        p(0.5),
        p(0.95),
        p(1.0),
        ms.len()
    );
    assert!(steps > 10, "the stream was followed");
}

/// Runs segscope headless in `dir` to write a stream of `docs` generated documents to `stream`.
fn write_stream(dir: &std::path::Path, docs: &str, stream: &str) {
    let bin = env!("CARGO_BIN_EXE_segscope");
    let data = format!("d{docs}.jsonl");
    let st = std::process::Command::new(bin)
        .current_dir(dir)
        .args(["gen-data", "--docs", docs, "--out", &data])
        .output()
        .expect("gen-data");
    assert!(st.status.success());
    let st = std::process::Command::new(bin)
        .current_dir(dir)
        .args([
            "--headless",
            "--data",
            &data,
            "--steps",
            "6",
            "--keep",
            "last",
            "--early-stop",
            "0",
            "--stream",
            stream,
            "--out",
            "/dev/null",
        ])
        .output()
        .expect("headless");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn watch_survives_its_file_rewritten_with_fewer_segments() {
    // A trainer's stream of 600 documents, then another run writing the same file anew with 20
    // (truncated in place and written as it goes): the watcher reloads and shows the new data.
    // It used to panic (index out of bounds) on a step of the old data.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    write_stream(&path, "600", "w.jsonl");
    let mut s = Session::start_in(dir, &["watch", "w.jsonl"]);
    s.wait_for("the first stream's steps", |s| s.step() == Some(6));
    write_stream(&path, "20", "w.jsonl");
    s.wait_for("the new stream", |s| {
        s.screen().contains("truncated") || s.screen().contains("replaced") || s.step() == Some(6)
    });
    std::thread::sleep(Duration::from_millis(500));
    s.pump(Duration::from_millis(100));
    s.press(b"q");
    let status = s.wait_exit();
    assert!(status.success(), "{status:?}\n{}", s.screen());
}

#[test]
fn watch_survives_its_file_replaced_truncated_and_shortened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    write_stream(&path, "60", "a.jsonl");
    write_stream(&path, "20", "b.jsonl");
    std::fs::copy(path.join("a.jsonl"), path.join("w.jsonl")).expect("copy");
    let mut s = Session::start_in(dir, &["watch", "w.jsonl"]);
    s.wait_for("the stream's steps", |s| s.step() == Some(6));
    // Replaced by a rename.
    std::fs::copy(path.join("b.jsonl"), path.join("w.tmp")).expect("copy");
    std::fs::rename(path.join("w.tmp"), path.join("w.jsonl")).expect("rename");
    std::thread::sleep(Duration::from_millis(400));
    s.pump(Duration::from_millis(100));
    // Truncated to nothing, then shortened to half of the other stream (a cut last line).
    std::fs::write(path.join("w.jsonl"), b"").expect("truncate");
    std::thread::sleep(Duration::from_millis(300));
    let a = std::fs::read(path.join("a.jsonl")).expect("read");
    std::fs::write(path.join("w.jsonl"), &a[..a.len() / 2]).expect("shorten");
    std::thread::sleep(Duration::from_millis(400));
    s.pump(Duration::from_millis(100));
    s.press(b"q");
    let status = s.wait_exit();
    assert!(status.success(), "{status:?}\n{}", s.screen());
}

/// The fix loop on real step data, at both sizes: the audit at start, one key (Enter) to the
/// first flagged step's whole document, a first error moved there, the export, and the exported
/// data read back with the document's new labels.
#[test]
fn from_a_flag_to_a_fix_on_processbench_at_both_sizes() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/processbench-gsm8k.json");
    assert!(data.exists(), "{} is the real data", data.display());
    let data = data.to_string_lossy().into_owned();
    for (rows, cols) in [(28, 100), (48, 160)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().to_path_buf();
        let mut s = Session::start_sized(
            dir,
            &["--data", &data, "--audit", "--report", "fixed.csv"],
            rows,
            cols,
        );
        s.wait_for("the audit to finish", |s| {
            s.screen().contains("sorted by label issue;")
        });
        // One key from the audit's end to the top flag's whole document.
        s.press(b"\r");
        s.wait_for("the document", |s| {
            let sc = s.screen();
            sc.contains("first error labelled") && sc.contains("⚑ flagged")
        });
        let screen = s.screen();
        let title = screen
            .lines()
            .find(|l| l.contains("first error labelled"))
            .unwrap_or_default();
        let doc = title
            .split('┌')
            .find(|t| t.contains("first error labelled"))
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        assert!(doc.starts_with("gsm8k-"), "{rows}x{cols}: {title}");
        assert!(screen.contains("⚑ flagged"), "{rows}x{cols}:\n{screen}");
        assert!(screen.contains("problem"), "{rows}x{cols}:\n{screen}");
        // The first step becomes the first error (or the second, if the first already is).
        s.press(b"\x1b[H");
        std::thread::sleep(Duration::from_millis(200));
        s.press(b"f");
        // The app says what it moved; the source then says the edits are in force.
        let edited = |s: &Session| {
            let sc = s.screen();
            sc.contains("first error moved to") || sc.contains("edits in force")
        };
        s.wait_for("the edit", |s| edited(s) || s.screen().contains("already"));
        let mut first = 0;
        if !edited(&s) {
            s.press(b"\x1b[B");
            std::thread::sleep(Duration::from_millis(200));
            s.press(b"f");
            s.wait_for("the edit", edited);
            first = 1;
        }
        s.press(b"\x1b");
        std::thread::sleep(Duration::from_millis(300));
        s.press(b"e");
        s.wait_for("the export", |s| s.screen().contains("exported"));
        // The status names every file written, whole.
        let status = s.screen().lines().nth(1).unwrap_or_default().to_string();
        for f in ["fixed.csv", "fixed.edits.jsonl", "fixed.data.jsonl"] {
            assert!(status.contains(f), "{rows}x{cols}: {status}");
        }
        s.press(b"q");
        s.wait_exit();
        let text = std::fs::read_to_string(out.join("fixed.data.jsonl")).expect("edited data");
        let line = text
            .lines()
            .find(|l| l.contains(&format!("\"id\":\"{doc}\"")))
            .expect("the document in the export");
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let scores: Vec<Option<f64>> = v["segments"]
            .as_array()
            .expect("segments")
            .iter()
            .map(|s| s["score"].as_f64())
            .collect();
        // Right before the new first error, wrong at it, context after it.
        for (k, sc) in scores.iter().enumerate() {
            let want = match k.cmp(&first) {
                std::cmp::Ordering::Less => Some(1.0),
                std::cmp::Ordering::Equal => Some(0.0),
                std::cmp::Ordering::Greater => None,
            };
            assert_eq!(*sc, want, "{rows}x{cols}: {doc} step {k}: {scores:?}");
        }
    }
}

/// The dashboard's `--judge` files are read before the screen opens: a bad one is refused with
/// its file and line (exit 2), and judges need binary labels.
#[test]
fn the_dashboards_judges_are_checked_before_the_screen_opens() {
    let pb = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/processbench.jsonl"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("j.jsonl"),
        "{\"id\": \"nope:0\", \"p_correct\": 0.5}\n",
    )
    .expect("write");
    let mut s = Session::start_in(dir, &["--data", pb, "--judge", "j.jsonl"]);
    let status = s.wait_exit();
    assert_eq!(status.exit_code(), 2, "{}", s.screen());
    assert!(s.screen().contains("j.jsonl:1"), "{}", s.screen());
    // Labels that are not binary take no judge (the bundled data's are continuous).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("j.jsonl"),
        "{\"id\": \"doc-0000:0\", \"p_correct\": 0.5}\n",
    )
    .expect("write");
    let mut s = Session::start_in(dir, &["--judge", "j.jsonl"]);
    let status = s.wait_exit();
    assert_eq!(status.exit_code(), 2, "{}", s.screen());
    assert!(s.screen().contains("binary labels"), "{}", s.screen());
}
