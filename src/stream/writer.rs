//! segscope's own stream writer (`--headless --stream FILE`): the header and every segment at the
//! start, then one step record per evaluated step with every segment's prediction.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::record::{FORMAT, Header, Losses, SegmentRecord, StepRecord, VERSION};
use crate::data::{Dataset, Partition};
use crate::engine::StepReport;

/// Writes a stream to a file.
pub struct Writer {
    /// None once a write failed: the stream was cut back to its last whole record and ends.
    out: Option<BufWriter<std::fs::File>>,
    /// Bytes of whole records on disk: where a failed write cuts the file back to.
    whole: u64,
    /// Segment ids, for the batch of mini-batch steps.
    ids: Vec<String>,
    /// Segments in the training split (a batch of all of them is not written out).
    train: usize,
}

/// Seconds since the epoch as an RFC 3339 UTC time.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Writer {
    /// Creates `path` and writes the header and every segment of `ds`.
    pub fn create(
        path: &Path,
        ds: &Dataset,
        part: &Partition,
        run: &str,
        config: Option<serde_json::Value>,
    ) -> std::io::Result<Writer> {
        // In place, not renamed at the end: watchers follow the file as it grows. Under the
        // lock, so a second writer is refused instead of cutting this one's stream.
        let file = crate::io_plan::locked_in_place(path).map_err(std::io::Error::other)?;
        let mut out = BufWriter::new(file);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // segscope's model regresses: its predictions are values, under the config's loss.
        let objective = config
            .as_ref()
            .and_then(|c| c["train"]["loss"].as_str())
            .map(str::to_string);
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            run: run.into(),
            created: rfc3339(now),
            config,
            control: None,
            objective,
            probabilities: false,
        };
        let mut ids = Vec::with_capacity(ds.segments.len());
        let written = (|| -> std::io::Result<()> {
            serde_json::to_writer(&mut out, &header)?;
            out.write_all(b"\n")?;
            for (i, s) in ds.segments.iter().enumerate() {
                let doc = &ds.docs[s.doc];
                let rec = SegmentRecord {
                    id: ds.segment_id(i),
                    doc: doc.id.clone(),
                    index: s.index,
                    split: part.split_of(i).name().into(),
                    text: s.text.clone(),
                    target: s.score,
                    prompt: (s.index == 0 && !doc.prompt.is_empty()).then(|| doc.prompt.clone()),
                    tags: s.tags.clone(),
                    ratings: s.ratings.clone(),
                    labels: s.labels.iter().cloned().collect(),
                };
                serde_json::to_writer(&mut out, &rec)?;
                out.write_all(b"\n")?;
                ids.push(rec.id);
            }
            out.flush()
        })();
        if let Err(e) = written {
            // Nothing a watcher could use: an empty stream, not a cut one.
            let (file, _) = out.into_parts();
            let _ = file.set_len(0);
            return Err(e);
        }
        let whole = out.get_ref().metadata()?.len();
        Ok(Writer {
            out: Some(out),
            whole,
            ids,
            train: part.counts().0,
        })
    }

    /// Writes a step record of `r`, with every segment's prediction, and flushes it so that a
    /// watcher sees it at once.
    pub fn step(&mut self, r: &StepReport) -> std::io::Result<()> {
        let batch = (r.batch.len() != self.train && !r.batch.is_empty())
            .then(|| r.batch.iter().map(|&i| self.ids[i].clone()).collect());
        let rec = StepRecord {
            step: r.step,
            loss: Some(Losses {
                train: Some(r.train.loss),
                dev: (r.dev.n > 0).then_some(r.dev.loss),
                batch: Some(r.batch_loss),
            }),
            lr: Some(r.lr),
            grad_norm: r.grad_norm.is_finite().then_some(r.grad_norm),
            weight_change: Some(r.weight_change),
            weight_change_rel: Some(r.weight_change_rel),
            layers: r.layers.clone(),
            predictions: r
                .segments
                .iter()
                .map(|e| e.pred.is_finite().then_some(e.pred))
                .collect(),
            ids: None,
            batch,
        };
        let mut line = serde_json::to_vec(&rec)?;
        line.push(b'\n');
        self.record(&line)
    }

    /// Writes the end record: the run is over, in the writer's own words (`finished`).
    pub fn end(&mut self, reason: &str) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&serde_json::json!({ "end": reason }))?;
        line.push(b'\n');
        self.record(&line)
    }

    /// Writes one whole record line and flushes it.
    fn record(&mut self, line: &[u8]) -> std::io::Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Err(std::io::Error::other(
                "the stream ended after a failed write",
            ));
        };
        match out.write_all(line).and_then(|_| out.flush()) {
            Ok(()) => {
                self.whole += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                // A full disk or a failing device: the stream ends at its last whole record,
                // so a watcher never reads a cut line. The buffer is dropped unwritten.
                if let Some(out) = self.out.take() {
                    let (file, _) = out.into_parts();
                    let _ = file.set_len(self.whole);
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
