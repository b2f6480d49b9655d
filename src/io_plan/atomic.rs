//! The one way segscope writes an output file: under an advisory lock on the output (a second
//! writer is refused, naming the process that holds it), into a temporary file in the output's
//! own directory, renamed over the output only once complete. A full disk, an error or an
//! interrupt leaves the old file or none, never a cut one. A stream that watchers follow is
//! written in place instead ([`locked_in_place`]), still under the lock.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why an output could not be written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{path}: another process is writing it{holder}; segscope writes each output from one process at a time"
    )]
    Locked { path: PathBuf, holder: String },
    #[error("{path}: is a symbolic link; segscope never writes through a link: give the real path")]
    Link { path: PathBuf },
    #[error("{path}: not written: interrupted by signal {signal} (any earlier file is as it was)")]
    Interrupted { path: PathBuf, signal: i32 },
    #[error("{path}: cannot {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
}

impl WriteError {
    /// Exit status: 2 for what the user can change before running again (a file in use, a link),
    /// 1 for a failure while writing.
    pub fn exit_code(&self) -> u8 {
        match self {
            WriteError::Locked { .. } | WriteError::Link { .. } => 2,
            WriteError::Interrupted { signal, .. } => crate::signals::exit_code(*signal),
            WriteError::Io { .. } => 1,
        }
    }
}

fn io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> WriteError {
    let path = path.to_path_buf();
    move |source| WriteError::Io { path, what, source }
}

/// Opens `path` for its lock without following a link or truncating it, and takes the lock.
/// Returns the handle and whether the file was created here.
fn lock(path: &Path) -> Result<(File, bool), WriteError> {
    let existed = path.symlink_metadata().is_ok();
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                WriteError::Link {
                    path: path.to_path_buf(),
                }
            } else {
                io(path, "open")(e)
            }
        })?;
    match file.try_lock() {
        Ok(()) => Ok((file, !existed)),
        Err(std::fs::TryLockError::WouldBlock) => {
            // A placeholder this call made is the other writer's to keep.
            Err(WriteError::Locked {
                path: path.to_path_buf(),
                holder: holder(&file),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io(path, "lock")(e)),
    }
}

/// ` (pid N: command)` of the process holding a lock on `file`, from /proc/locks, or "".
fn holder(file: &File) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = file.metadata() else {
        return String::new();
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return String::new();
    };
    let me = std::process::id().to_string();
    for line in locks.lines() {
        // `1: FLOCK  ADVISORY  WRITE 12345 fd:01:1234567 0 EOF`
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(pid), Some(dev_ino)) = (f.get(4), f.get(5)) else {
            continue;
        };
        let same = dev_ino
            .rsplit(':')
            .next()
            .and_then(|i| i.parse::<u64>().ok())
            == Some(meta.ino());
        if same && *pid != me {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .split('\0')
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            return if cmd.is_empty() {
                format!(" (pid {pid})")
            } else {
                format!(" (pid {pid}: {cmd})")
            };
        }
    }
    String::new()
}

/// An output being written: bytes go to a temporary file beside it until [`AtomicFile::commit`]
/// renames it into place. Dropped without a commit, it leaves the output as it was (and removes
/// the empty placeholder it created for its lock).
pub struct AtomicFile {
    path: PathBuf,
    tmp: Option<BufWriter<tempfile::NamedTempFile>>,
    /// A device or a pipe (`/dev/null`, a FIFO): written straight to, never replaced.
    direct: Option<BufWriter<File>>,
    lock: Option<File>,
    placeholder: bool,
}

/// Whether `path` exists as something other than a regular file, a link or a directory: a
/// device or a pipe, which is written to as it is (renaming a file over `/dev/null` would
/// replace the device).
fn is_special(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|m| {
        let t = m.file_type();
        !t.is_file() && !t.is_symlink() && !t.is_dir()
    })
}

fn open_special(path: &Path) -> Result<File, WriteError> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(path, "open"))
}

impl AtomicFile {
    /// Locks `path` and opens a temporary file in its directory.
    pub fn create(path: &Path) -> Result<AtomicFile, WriteError> {
        if is_special(path) {
            return Ok(AtomicFile {
                path: path.to_path_buf(),
                tmp: None,
                direct: Some(BufWriter::new(open_special(path)?)),
                lock: None,
                placeholder: false,
            });
        }
        let (lock, placeholder) = lock(path)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        // The mode a plain create would give (0666 less the umask), or the replaced file's own.
        use std::os::unix::fs::PermissionsExt;
        let mode = if placeholder {
            std::fs::Permissions::from_mode(0o666)
        } else {
            lock.metadata()
                .map(|m| m.permissions())
                .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o666))
        };
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .permissions(mode)
            .tempfile_in(dir);
        let tmp = match tmp {
            Ok(t) => t,
            Err(e) => {
                let f = AtomicFile {
                    path: path.to_path_buf(),
                    tmp: None,
                    direct: None,
                    lock: Some(lock),
                    placeholder,
                };
                drop(f);
                return Err(io(path, "create a temporary file beside it")(e));
            }
        };
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp: Some(BufWriter::new(tmp)),
            direct: None,
            lock: Some(lock),
            placeholder,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs and renames the temporary file over the output.
    pub fn commit(mut self) -> Result<(), WriteError> {
        if let Some(mut d) = self.direct.take() {
            return d.flush().map_err(io(&self.path, "write"));
        }
        let Some(tmp) = self.tmp.take() else {
            return Ok(());
        };
        let path = self.path.clone();
        let tmp = tmp
            .into_inner()
            .map_err(|e| io(&path, "write")(e.into_error()))?;
        tmp.as_file().sync_all().map_err(io(&path, "write"))?;
        tmp.persist(&path)
            .map_err(|e| io(&path, "rename the finished file into place")(e.error))?;
        self.placeholder = false;
        Ok(())
    }
}

impl AtomicFile {
    /// For one-shot commands (convert, gen-data, crossfit): commits unless SIGINT, SIGTERM or
    /// SIGHUP came during the work, in which case the output stays as it was. (A training run
    /// commits what it has on a signal: that is its way to stop.)
    pub fn commit_unless_interrupted(self) -> Result<(), WriteError> {
        match crate::signals::received() {
            Some(signal) => Err(WriteError::Interrupted {
                path: self.path.clone(),
                signal,
            }),
            None => self.commit(),
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match (&mut self.tmp, &mut self.direct) {
            (Some(t), _) => t.write(buf),
            (None, Some(d)) => d.write(buf),
            (None, None) => Err(std::io::Error::other("output already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match (&mut self.tmp, &mut self.direct) {
            (Some(t), _) => t.flush(),
            (None, Some(d)) => d.flush(),
            (None, None) => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // The temporary file removes itself. The placeholder goes only while it is still the
        // file this process locked (nothing renamed over it meanwhile).
        if self.placeholder {
            let here = same_file::Handle::from_path(&self.path).ok();
            let locked = self
                .lock
                .as_ref()
                .and_then(|l| l.try_clone().ok())
                .and_then(|f| same_file::Handle::from_file(f).ok());
            if let (Some(a), Some(b)) = (here, locked)
                && a == b
            {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Writes `bytes` to `path` atomically; nothing if a signal came during the work.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(io(path, "write"))?;
    f.commit_unless_interrupted()
}

/// A file written in place (a stream that watchers follow as it grows), truncated once the lock
/// is held, so a second writer can never cut the first one's stream.
pub fn locked_in_place(path: &Path) -> Result<File, WriteError> {
    if is_special(path) {
        return open_special(path);
    }
    let (file, _) = lock(path)?;
    file.set_len(0).map_err(io(path, "truncate"))?;
    Ok(file)
}
