//! Loading a million segments: time and peak memory (`data`), and the importers (`import`).

use std::time::Instant;

use segscope::config::Config;
use segscope::data;
use segscope::data::ReadOptions;
use segscope::data::features::featurize;

use super::median;

/// The 1M-segment file, written by `segscope gen-data` in a child process so that this process
/// never holds it.
pub(crate) fn data_file() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join("bench-1m.jsonl");
    if !path.exists() {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_segscope"))
            .args(["gen-data", "--docs", "173000", "--seed", "13", "--out"])
            .arg(&path)
            .status()
            .expect("run segscope gen-data");
        assert!(status.success(), "gen-data failed: {status}");
    }
    path
}

/// This process's peak RSS so far, in MB (VmHWM).
fn own_peak_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Peak memory of a separate process that only loads, featurises and builds the trainer's
/// tensors. Run before this process allocates anything large: a child's ru_maxrss also counts the
/// parent's peak at the moment it was spawned (the spawn shares the parent's memory until exec),
/// and that peak is printed beside it.
pub(crate) fn data_peak(path: &std::path::Path) -> String {
    let parent_mb = own_peak_mb();
    let s = Instant::now();
    // Reaped below with wait4, which std cannot see.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args([
            "--headless",
            "--steps",
            "0",
            "--config",
            "/dev/null",
            "--data",
        ])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run segscope");
    // wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix in every earlier child).
    // SAFETY: wait4 writes only into the status and rusage it is given; the child is ours and is
    // reaped here exactly once (std's Child is not waited on afterwards).
    let (status, peak_kb) = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        let mut st = 0;
        libc::wait4(child.id() as libc::pid_t, &mut st, 0, &mut u);
        (st, u.ru_maxrss)
    };
    let exit = if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else {
        format!("wait status {status}")
    };
    format!(
        "`segscope --headless --steps 0 --data bench-1m.jsonl` (load, featurise, build the tensors): {:.2} s, peak RSS {} MB, {exit} (this process's own peak when it spawned the child: {parent_mb} MB)",
        s.elapsed().as_secs_f64(),
        peak_kb / 1024
    )
}

pub(crate) fn bench_data(path: &std::path::Path, peak: &str) {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!(
        "\n## data: loading and featurising ~1,000,000 generated segments ({} MB file)",
        bytes >> 20
    );
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..3 {
        let s = Instant::now();
        let (ds, _) = data::load(Some(path), &ReadOptions::default()).expect("load");
        let t_load = s.elapsed();
        let f = featurize(&ds, &Config::default().features);
        let t_all = s.elapsed();
        n = ds.segments.len();
        times.push((t_load, t_all, f.types));
    }
    let load = median(times.iter().map(|t| t.0.as_secs_f64()).collect());
    let all = median(times.iter().map(|t| t.1.as_secs_f64()).collect());
    println!("| segments | read + validate (s) | + featurise (s) | word types |");
    println!("|---|---|---|---|");
    println!("| {n} | {load:.2} | {all:.2} | {} |", times[0].2);
    println!("\n{peak}");
}

/// The 1M-segment file again in TRL's stepwise format (labels are the scores as numbers), so
/// both readers see the same documents.
pub(crate) fn trl_file(native: &std::path::Path) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-1m-trl.jsonl");
    if !path.exists() {
        let (ds, _) = data::load(Some(native), &ReadOptions::default()).expect("load");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        for d in &ds.docs {
            let segs = &ds.segments[d.segments.clone()];
            let rec = serde_json::json!({
                "id": d.id,
                "prompt": d.prompt,
                "completions": segs.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
                "labels": segs.iter().map(|s| s.score).collect::<Vec<_>>(),
            });
            serde_json::to_writer(&mut out, &rec).expect("write");
            std::io::Write::write_all(&mut out, b"\n").expect("write");
        }
    }
    path
}

/// Reading the same 1M segments as segscope's JSONL and as TRL stepwise, alternately.
pub(crate) fn bench_import(native: &std::path::Path) {
    let trl = trl_file(native);
    println!(
        "\n## import: reading ~1,000,000 segments, native JSONL vs TRL stepwise (read + validate, median of 3 alternating runs)"
    );
    println!("| format | file (MB) | segments | read + validate (s) |");
    println!("|---|---|---|---|");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut n = (0, 0);
    for _ in 0..3 {
        for (path, times, count) in [
            (native, &mut a, &mut n.0),
            (trl.as_path(), &mut b, &mut n.1),
        ] {
            let s = Instant::now();
            let (ds, _) = data::load(Some(path), &ReadOptions::default()).expect("load");
            times.push(s.elapsed().as_secs_f64());
            *count = ds.segments.len();
        }
    }
    let mb = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len() >> 20).unwrap_or(0);
    println!(
        "| segscope | {} | {} | {:.2} |",
        mb(native),
        n.0,
        median(a.clone())
    );
    println!(
        "| trl-stepwise | {} | {} | {:.2} |",
        mb(&trl),
        n.1,
        median(b.clone())
    );
    println!("\nratio trl / native: {:.2}", median(b) / median(a));
}
