//! Reading a file that is still being written, the way `tail -F` does: whole lines only (a
//! partial last line waits for its newline), a file that does not exist yet is waited for, and a
//! file that shrinks or is replaced is noticed and read again from its start.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What one poll of the file found.
#[derive(Debug, PartialEq)]
pub enum Polled {
    /// Complete new lines (without their newlines).
    Lines(Vec<String>),
    /// The file is not there (yet).
    Missing,
    /// The file shrank or was replaced: reading starts again from its beginning.
    Restarted(String),
}

/// Follows one file by name.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    /// Bytes consumed so far (complete lines).
    offset: u64,
    /// The bytes of a line whose newline has not been written yet.
    partial: Vec<u8>,
    /// The file's identity (device, inode) when it was opened.
    id: Option<(u64, u64)>,
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

impl Follower {
    pub fn new(path: &Path) -> Follower {
        Follower {
            path: path.to_path_buf(),
            file: None,
            offset: 0,
            partial: Vec::new(),
            id: None,
        }
    }

    /// Bytes of a last line whose newline has not come (yet).
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Reads whatever complete lines have been appended since the last poll.
    pub fn poll(&mut self) -> std::io::Result<Polled> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.file.is_some() {
                    // Removed: wait for it to come back, then read it from the start.
                    self.reset();
                }
                return Ok(Polled::Missing);
            }
            Err(e) => return Err(e),
        };
        let replaced = self.id.is_some() && identity(&meta) != self.id;
        let shrank = meta.len() < self.offset + self.partial.len() as u64;
        if self.file.is_some() && (replaced || shrank) {
            self.reset();
            let why = if replaced {
                "was replaced"
            } else {
                "was truncated"
            };
            return Ok(Polled::Restarted(format!(
                "{} {why}; reading it again from the start",
                self.path.display()
            )));
        }
        if self.file.is_none() {
            self.file = Some(File::open(&self.path)?);
            self.id = identity(&meta);
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(Polled::Missing);
        };
        f.seek(SeekFrom::Start(self.offset + self.partial.len() as u64))?;
        let mut buf = std::mem::take(&mut self.partial);
        f.read_to_end(&mut buf)?;
        Ok(Polled::Lines(self.split(buf)))
    }

    /// Complete lines of `buf`; the rest is kept for the next poll.
    fn split(&mut self, buf: Vec<u8>) -> Vec<String> {
        let Some(last_nl) = buf.iter().rposition(|&b| b == b'\n') else {
            self.partial = buf;
            return Vec::new();
        };
        self.offset += last_nl as u64 + 1;
        self.partial = buf[last_nl + 1..].to_vec();
        buf[..last_nl]
            .split(|&b| b == b'\n')
            .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
            .collect()
    }

    fn reset(&mut self) {
        self.file = None;
        self.offset = 0;
        self.partial.clear();
        self.id = None;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn partial_lines_wait_and_truncation_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        let mut f = Follower::new(&p);
        assert_eq!(f.poll().unwrap(), Polled::Missing);
        let mut w = File::create(&p).unwrap();
        w.write_all(b"one\ntw").unwrap();
        assert_eq!(f.poll().unwrap(), Polled::Lines(vec!["one".into()]));
        assert_eq!(f.poll().unwrap(), Polled::Lines(vec![]));
        w.write_all(b"o\r\nthree\n").unwrap();
        assert_eq!(
            f.poll().unwrap(),
            Polled::Lines(vec!["two".into(), "three".into()])
        );
        // Truncated and rewritten shorter.
        std::fs::write(&p, b"x\n").unwrap();
        assert!(matches!(f.poll().unwrap(), Polled::Restarted(_)));
        assert_eq!(f.poll().unwrap(), Polled::Lines(vec!["x".into()]));
        // Replaced by another file of the same length.
        let q = dir.path().join("t.jsonl");
        std::fs::write(&q, b"y\n").unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert!(matches!(f.poll().unwrap(), Polled::Restarted(_)));
        assert_eq!(f.poll().unwrap(), Polled::Lines(vec!["y".into()]));
    }
}
