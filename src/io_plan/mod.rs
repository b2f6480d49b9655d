//! One place that checks a command's inputs and outputs before any work: every output's
//! directory exists and takes a new file, no output is an input or another output (as canonical
//! paths, links resolved, and as files: a hard link is the same file under another name), and
//! `-` (standard output) only where an output can stream. [`atomic`] is how outputs are then
//! written.

pub mod atomic;

pub use atomic::{AtomicFile, WriteError, locked_in_place, write_file};

use std::path::{Path, PathBuf};

/// One output of a command.
#[derive(Debug, Clone)]
pub struct Output<'a> {
    /// The flag that names it, for messages (`--report`).
    pub flag: &'a str,
    pub path: &'a Path,
    /// Whether `-` (standard output) can take it.
    pub streams: bool,
    /// A directory the command creates or fills (`--save`), not a file.
    pub dir: bool,
}

impl<'a> Output<'a> {
    pub fn file(flag: &'a str, path: &'a Path, streams: bool) -> Output<'a> {
        Output {
            flag,
            path,
            streams,
            dir: false,
        }
    }

    pub fn dir(flag: &'a str, path: &'a Path) -> Output<'a> {
        Output {
            flag,
            path,
            streams: false,
            dir: true,
        }
    }
}

/// Whether `p` names standard output.
pub fn is_stdout(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// The path `p` would have once it exists: canonical (links resolved) where it exists, else its
/// canonical parent joined with its name.
fn canonical(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), p.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => p.to_path_buf(),
    }
}

/// Whether `a` and `b` are one existing file (device and inode): a hard link has a name of its
/// own, and only its identity says it is the input.
fn same_file(a: &Path, b: &Path) -> bool {
    !is_stdout(a) && !is_stdout(b) && same_file::is_same_file(a, b).unwrap_or(false)
}

/// Why an output is refused before any work: each names the flag and the path.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{flag} cannot be standard output (`-`): give a {give}")]
    NotStdout { flag: String, give: &'static str },
    #[error("{first} and {second} would both write to standard output: give one of them a file")]
    StdoutTwice { first: String, second: String },
    #[error(
        "{flag} {} is inside {input_flag} {}, which this run reads: segscope never overwrites its input",
        path.display(),
        input.display()
    )]
    InsideInput {
        flag: String,
        path: PathBuf,
        input_flag: String,
        input: PathBuf,
    },
    #[error(
        "{flag} {} is also an input ({input_flag}): segscope never overwrites its input",
        path.display()
    )]
    IsInput {
        flag: String,
        path: PathBuf,
        input_flag: String,
    },
    #[error(
        "{flag} and {other} are the same file, {}: give each output its own",
        path.display()
    )]
    SameOutput {
        flag: String,
        other: String,
        path: PathBuf,
    },
    /// The path itself cannot take the output: its kind, its permissions, its directory.
    #[error("{flag} {}: {why}", path.display())]
    Unwritable {
        flag: String,
        path: PathBuf,
        why: String,
    },
}

impl Output<'_> {
    fn refused(&self, why: String) -> PlanError {
        PlanError::Unwritable {
            flag: self.flag.to_string(),
            path: self.path.to_path_buf(),
            why,
        }
    }
}

/// Checks `outputs` against `inputs` (flag, path) and each other. Nothing is written but a probe
/// file, created and removed at once, to learn that a directory takes new files.
pub fn check(inputs: &[(&str, &Path)], outputs: &[Output]) -> Result<(), PlanError> {
    let mut stdout_by: Option<&str> = None;
    let mut seen: Vec<(&str, PathBuf, &Path)> = Vec::new();
    for o in outputs {
        if is_stdout(o.path) {
            if !o.streams {
                return Err(PlanError::NotStdout {
                    flag: o.flag.to_string(),
                    give: if o.dir { "directory" } else { "file" },
                });
            }
            if let Some(other) = stdout_by {
                return Err(PlanError::StdoutTwice {
                    first: other.to_string(),
                    second: o.flag.to_string(),
                });
            }
            stdout_by = Some(o.flag);
            continue;
        }
        let c = canonical(o.path);
        for (flag, p) in inputs {
            if is_stdout(p) {
                continue;
            }
            // An input directory (the checkpoint being resumed) takes no output file inside it;
            // new checkpoints may go beside the ones it holds (`--save` the same directory).
            if o.dir && p.is_dir() {
                continue;
            }
            if p.is_dir() && c.starts_with(canonical(p)) {
                return Err(PlanError::InsideInput {
                    flag: o.flag.to_string(),
                    path: o.path.to_path_buf(),
                    input_flag: flag.to_string(),
                    input: p.to_path_buf(),
                });
            }
            if canonical(p) == c || same_file(p, o.path) {
                return Err(PlanError::IsInput {
                    flag: o.flag.to_string(),
                    path: o.path.to_path_buf(),
                    input_flag: flag.to_string(),
                });
            }
        }
        if let Some((flag, _, _)) = seen
            .iter()
            .find(|(_, p, path)| *p == c || same_file(path, o.path))
        {
            return Err(PlanError::SameOutput {
                flag: o.flag.to_string(),
                other: flag.to_string(),
                path: o.path.to_path_buf(),
            });
        }
        seen.push((o.flag, c, o.path));
        writable(o)?;
    }
    Ok(())
}

/// The output's directory exists and takes a new file; an existing output of the wrong kind (a
/// file where a directory goes, or the reverse) is refused.
fn writable(o: &Output) -> Result<(), PlanError> {
    let p = o.path;
    if !o.dir
        && p.symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
    {
        // Written through, a link (even a dangling one) would put the output wherever it
        // points, an input included; outputs are renamed into place, never written through.
        return Err(o.refused(
            "is a symbolic link; segscope never writes through a link: give the real path".into(),
        ));
    }
    if o.dir {
        if p.is_file() {
            return Err(o.refused("is a file, not a directory".into()));
        }
        if p.is_dir() {
            return probe(o, p);
        }
    } else if p.is_dir() {
        return Err(o.refused("is a directory, not a file".into()));
    } else if p.is_file() {
        // An existing output must take writing too: an immutable (`chattr +i`) or read-only
        // file would otherwise be found only after the work.
        if let Err(e) = std::fs::OpenOptions::new().write(true).open(p) {
            return Err(o.refused(format!("cannot write it: {e}")));
        }
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(o.refused(format!("the directory {} does not exist", parent.display())));
    }
    probe(o, parent)
}

/// Creates and removes a file in `dir`: whether it takes new files, asked of the file system
/// itself (permissions, read-only mounts, /proc).
fn probe(o: &Output, dir: &Path) -> Result<(), PlanError> {
    let probe = dir.join(format!(".segscope-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(o.refused(format!("cannot write in {}: {e}", dir.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_never_hit_inputs_each_other_or_missing_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("d.jsonl");
        std::fs::write(&data, "x").expect("write");
        let out = dir.path().join("out.jsonl");
        let inputs = [("--data", data.as_path())];
        // The input as an output, directly and through a link.
        let e = check(&inputs, &[Output::file("--out", &data, true)])
            .expect_err("input")
            .to_string();
        assert!(e.contains("--out") && e.contains("--data"), "{e}");
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&data, &link).expect("symlink");
        assert!(check(&inputs, &[Output::file("--report", &link, true)]).is_err());
        // Through a relative path with `..`.
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let odd = sub.join("..").join("d.jsonl");
        assert!(check(&inputs, &[Output::file("--report", &odd, true)]).is_err());
        // Two outputs on one file.
        let e = check(
            &inputs,
            &[
                Output::file("--out", &out, true),
                Output::file("--report", &out, true),
            ],
        )
        .expect_err("same")
        .to_string();
        assert!(e.contains("--report") && e.contains("--out"), "{e}");
        // A missing directory, a directory where a file goes, a file where a directory goes.
        let missing = dir.path().join("nodir").join("x.csv");
        let e = check(&inputs, &[Output::file("--report", &missing, true)])
            .expect_err("nodir")
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        assert!(check(&inputs, &[Output::file("--report", &sub, true)]).is_err());
        assert!(check(&inputs, &[Output::dir("--save", &data)]).is_err());
        // Standard output: once, and only where it streams.
        let dash = Path::new("-");
        assert!(check(&inputs, &[Output::file("--out", dash, true)]).is_ok());
        assert!(check(&inputs, &[Output::dir("--save", dash)]).is_err());
        let e = check(
            &inputs,
            &[
                Output::file("--out", dash, true),
                Output::file("--report", dash, true),
            ],
        )
        .expect_err("two on stdout")
        .to_string();
        assert!(e.contains("standard output"), "{e}");
        // A plain new file beside the input is fine, and nothing is left behind.
        assert!(check(&inputs, &[Output::file("--out", &out, true)]).is_ok());
        assert!(!out.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }
}
