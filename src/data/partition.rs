//! Which documents train and which evaluate: a [`Partition`] over document indices, computed from
//! the documents and the config, never parsed into them.

use super::hash::fnv1a;
use super::model::{Dataset, Split};

/// The deterministic split for a document without a declared split: by a stable hash of its id,
/// so a document never straddles splits and the split never changes between runs.
pub fn split_for_id(id: &str, dev_fraction: f64) -> Split {
    let h = fnv1a(&[b"split:", id.as_bytes()]) % 1_000_000;
    if (h as f64) < dev_fraction * 1_000_000.0 {
        Split::Dev
    } else {
        Split::Train
    }
}

/// The split of every document, and of every segment through its document. Only segments with a
/// target are trained on and measured: [`Partition::indices`] lists those, while
/// [`Partition::split_of`] also places context-only segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    docs: Vec<Split>,
    /// Per segment, cached: the table filters every segment by split on each keystroke.
    segments: Vec<Split>,
    labelled: Vec<bool>,
}

impl Partition {
    /// Each document's declared split, or else the hash of its id with `dev_fraction` to dev.
    pub fn new(ds: &Dataset, dev_fraction: f64) -> Partition {
        Self::from_doc_splits(
            ds,
            ds.docs
                .iter()
                .map(|d| d.split.unwrap_or_else(|| split_for_id(&d.id, dev_fraction)))
                .collect(),
        )
    }

    /// A partition that puts document `d` in `doc_splits[d]`.
    pub fn from_doc_splits(ds: &Dataset, doc_splits: Vec<Split>) -> Partition {
        let all = vec![true; doc_splits.len()];
        Self::with_held_out(ds, doc_splits, &all)
    }

    /// A partition of the documents with `active[d]` true; the others are held out: neither
    /// trained on nor measured (a cross-fitting fold).
    pub fn with_held_out(ds: &Dataset, doc_splits: Vec<Split>, active: &[bool]) -> Partition {
        let segments = ds.segments.iter().map(|s| doc_splits[s.doc]).collect();
        Partition {
            docs: doc_splits,
            segments,
            labelled: ds
                .segments
                .iter()
                .map(|s| s.score.is_some() && active[s.doc])
                .collect(),
        }
    }

    /// The split of segment `i`.
    pub fn split_of(&self, i: usize) -> Split {
        self.segments[i]
    }

    /// The split of document `d`.
    pub fn doc_split(&self, d: usize) -> Split {
        self.docs[d]
    }

    /// Indices of the segments with a target on one side, in dataset order.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        (0..self.segments.len())
            .filter(|&i| self.segments[i] == split && self.labelled[i])
            .collect()
    }

    /// Whether segment `i` has a target and is not held out (is trained on or measured).
    pub fn is_labelled(&self, i: usize) -> bool {
        self.labelled[i]
    }

    /// Segments with a target in each split: (train, dev).
    pub fn counts(&self) -> (usize, usize) {
        let (mut train, mut dev) = (0, 0);
        for (s, &l) in self.segments.iter().zip(&self.labelled) {
            match (s, l) {
                (Split::Train, true) => train += 1,
                (Split::Dev, true) => dev += 1,
                _ => {}
            }
        }
        (train, dev)
    }

    /// The number of documents.
    pub fn docs(&self) -> usize {
        self.docs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_by_id_is_deterministic_and_near_the_fraction() {
        let n = 5000;
        let dev = (0..n)
            .filter(|i| split_for_id(&format!("doc-{i}"), 0.2) == Split::Dev)
            .count();
        assert!((800..1200).contains(&dev), "dev = {dev}");
        assert_eq!(split_for_id("doc-7", 0.2), split_for_id("doc-7", 0.2));
        assert_eq!(split_for_id("doc-7", 0.0), Split::Train);
        assert_eq!(split_for_id("doc-7", 1.0), Split::Dev);
    }

    #[test]
    fn declared_splits_win_and_the_rest_go_by_hash() {
        let text = "{\"id\": \"a\", \"split\": \"dev\", \"segments\": [{\"text\": \"x\", \"score\": 1}, {\"text\": \"y\", \"score\": 0}]}\n{\"id\": \"doc-7\", \"segments\": [{\"text\": \"z\", \"score\": 1}]}";
        let (ds, _) = crate::data::parse_str(text, "t", &Default::default()).unwrap();
        let p = Partition::new(&ds, 0.0);
        assert_eq!(p.indices(Split::Dev), vec![0, 1]);
        assert_eq!(p.split_of(2), Split::Train);
        assert_eq!(Partition::new(&ds, 1.0).split_of(2), Split::Dev);
        assert_eq!(p.counts(), (1, 2));
    }
}
