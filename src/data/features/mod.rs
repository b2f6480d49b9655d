//! Featurising segments without pretrained weights: hashed n-gram bags plus a few dense features.
//!
//! fastText-style: lower-cased word unigrams and bigrams, and character n-grams of each word with
//! `<` `>` boundary marks, are hashed with FNV-1a into a fixed number of buckets. A segment becomes a
//! weighted bag of bucket ids (weights = count / total, so the model mean-pools), plus four dense
//! features: log length, position in the document, overlap with the prompt and with the previous
//! segment. Features are computed once at load time, never per step.

mod assemble;
mod csr;
mod worker;

use super::hash::fnv1a;
use super::model::Dataset;
use assemble::assemble;
pub use csr::Csr;
use worker::{Part, featurize_part};
#[cfg(test)]
use worker::{counted, type_grams};

/// Names of the dense features, in column order.
pub const DENSE_NAMES: [&str; 4] = ["log_len", "position", "prompt_overlap", "prev_overlap"];
/// Number of dense features.
pub const DENSE: usize = DENSE_NAMES.len();

/// How text is turned into bucket ids: the config's `[features]` section, used as it is.
pub use crate::config::FeaturesConfig as FeatureSpec;

/// Splits text into lower-case alphanumeric words.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        // The same result as to_lowercase; ASCII words (most of them) skip its Unicode tables.
        .map(|w| {
            if w.is_ascii() {
                w.to_ascii_lowercase()
            } else {
                w.to_lowercase()
            }
        })
        .collect()
}

/// The bucket of one word unigram.
pub fn word_bucket(word: &str, buckets: usize) -> u32 {
    (fnv1a(&[b"w1\0", word.as_bytes()]) % buckets as u64) as u32
}

/// The bucket of one word bigram.
pub fn bigram_bucket(a: &str, b: &str, buckets: usize) -> u32 {
    (fnv1a(&[b"w2\0", a.as_bytes(), b" ", b.as_bytes()]) % buckets as u64) as u32
}

/// The bucket of one character n-gram (given as the n-gram's UTF-8 bytes, marks included).
pub fn char_bucket(gram: &str, buckets: usize) -> u32 {
    (fnv1a(&[b"c\0", gram.as_bytes()]) % buckets as u64) as u32
}

/// All bucket ids of a segment's text, with repetition (one entry per n-gram occurrence).
pub fn grams(words: &[String], spec: &FeatureSpec) -> Vec<u32> {
    let b = spec.buckets;
    let mut out = Vec::with_capacity(words.len() * 16);
    for w in words {
        out.push(word_bucket(w, b));
    }
    if spec.word_ngrams >= 2 {
        for pair in words.windows(2) {
            out.push(bigram_bucket(&pair[0], &pair[1], b));
        }
    }
    if spec.char_ngrams[0] > 0 {
        let mut marked = String::new();
        let mut bounds: Vec<usize> = Vec::new();
        for w in words {
            marked.clear();
            marked.push('<');
            marked.push_str(w);
            marked.push('>');
            bounds.clear();
            bounds.extend(marked.char_indices().map(|(i, _)| i));
            bounds.push(marked.len());
            let nchars = bounds.len() - 1;
            for n in spec.char_ngrams[0]..=spec.char_ngrams[1] {
                if n > nchars {
                    break;
                }
                for start in 0..=nchars - n {
                    out.push(char_bucket(&marked[bounds[start]..bounds[start + n]], b));
                }
            }
        }
    }
    out
}

/// Featurised segments in dataset order, as flat row-major arrays ready to become tensors.
///
/// Mean-pooling every n-gram of a segment equals (sum over its tokens of S(word type) + sum of its
/// bigram embeddings) / N, where S(type) is the sum of that word's own n-grams (the word unigram
/// and its character n-grams) and N the segment's total n-gram count. Character n-grams are most
/// of a segment's ids but depend only on the word, so they are gathered once per distinct word
/// type instead of once per occurrence: the same function at a fraction of the memory traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    pub n: usize,
    /// Distinct word types and the width of their gram lists.
    pub types: usize,
    pub type_width: usize,
    /// [types, type_width] bucket ids of each type's grams (unigram and char n-grams).
    pub type_ids: Vec<i32>,
    /// [types, type_width] occurrence counts of each gram in the type (0 on padding).
    pub type_counts: Vec<f32>,
    /// Per segment, (word-type index, token count / N) of each distinct token, by type index.
    pub tok: Csr,
    /// Per segment, (bucket id, bigram count / N) of each distinct bigram, by bucket.
    pub big: Csr,
    /// [n, DENSE] dense features.
    pub dense: Vec<f32>,
    /// The data's own per-segment embeddings, [n, embedding_dim]; width 0 when it has none.
    pub embedding_dim: usize,
    pub embedding: Vec<f32>,
}

/// The dataset's embeddings as (width, values), width 0 when it has none.
fn embeddings_of(ds: &Dataset) -> (usize, Vec<f32>) {
    ds.embeddings
        .as_ref()
        .map_or((0, Vec::new()), |e| (e.dim, e.values.clone()))
}

/// Rows `rows` of a row-major array whose rows hold `width` values each.
pub fn take_rows<T: Copy>(src: &[T], width: usize, rows: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(rows.len() * width);
    for &r in rows {
        out.extend_from_slice(&src[r * width..(r + 1) * width]);
    }
    out
}

impl Features {
    /// Features of `n` rows with `dense` alone and no n-gram rows (width 1, all padding).
    fn dense_only(dense: Vec<f32>, n: usize) -> Features {
        Features {
            n,
            types: 1,
            type_width: 1,
            type_ids: vec![0],
            type_counts: vec![0.0],
            tok: Csr::empty(n),
            big: Csr::empty(n),
            dense,
            embedding_dim: 0,
            embedding: Vec::new(),
        }
    }

    /// The rows `rows` of this feature set, in that order (the word-type table is shared).
    pub fn rows(&self, rows: &[usize]) -> Features {
        Features {
            n: rows.len(),
            types: self.types,
            type_width: self.type_width,
            type_ids: self.type_ids.clone(),
            type_counts: self.type_counts.clone(),
            tok: self.tok.take(rows),
            big: self.big.take(rows),
            dense: take_rows(&self.dense, DENSE, rows),
            embedding_dim: self.embedding_dim,
            embedding: take_rows(&self.embedding, self.embedding_dim, rows),
        }
    }

    /// Segment `row`'s bag as (bucket id, weight) pairs summing to 1, expanded from the type
    /// table: the plain mean-pooling definition, for tests and inspection.
    pub fn bag(&self, row: usize) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = Vec::new();
        let (types, weights) = self.tok.row(row);
        for (&t, &w) in types.iter().zip(weights) {
            let t = t as usize;
            for g in 0..self.type_width {
                let c = self.type_counts[t * self.type_width + g];
                if c > 0.0 {
                    out.push((self.type_ids[t * self.type_width + g] as u32, w * c));
                }
            }
        }
        let (ids, weights) = self.big.row(row);
        for (&id, &w) in ids.iter().zip(weights) {
            out.push((id as u32, w));
        }
        out.sort_by_key(|a| a.0);
        let mut merged: Vec<(u32, f32)> = Vec::new();
        for (id, w) in out {
            match merged.last_mut() {
                Some((last, acc)) if *last == id => *acc += w,
                _ => merged.push((id, w)),
            }
        }
        merged
    }
}

/// The grams of one word type: its unigram, then its character n-grams (with repetition).
/// Featurises every segment of a dataset, on as many threads as the machine has cores (at most 8).
pub fn featurize(ds: &Dataset, spec: &FeatureSpec) -> Features {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    featurize_threads(ds, spec, threads)
}

/// Featurises every segment on `threads` threads. The result does not depend on `threads`: each
/// worker takes a contiguous run of documents and numbers its own word types, and the merge gives
/// them the ids a single pass would have given (first appearance in dataset order).
pub fn featurize_threads(ds: &Dataset, spec: &FeatureSpec, threads: usize) -> Features {
    featurize_with(ds, spec, threads, true)
}

/// [`featurize_threads`], with the n-gram rows (`ids`) or the dense features alone.
fn featurize_with(ds: &Dataset, spec: &FeatureSpec, threads: usize, ids: bool) -> Features {
    let n = ds.segments.len();
    // Contiguous runs of documents with about equal segment counts.
    let threads = threads.clamp(1, ds.docs.len().max(1));
    let mut bounds = vec![0usize];
    let mut acc = 0usize;
    for (d, doc) in ds.docs.iter().enumerate() {
        acc += doc.segments.len();
        if bounds.len() < threads && acc * threads >= n * bounds.len() {
            bounds.push(d + 1);
        }
    }
    if *bounds.last().unwrap_or(&0) != ds.docs.len() {
        bounds.push(ds.docs.len());
    }
    let parts: Vec<Part> = std::thread::scope(|s| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| s.spawn(move || featurize_part(ds, &ds.docs[w[0]..w[1]], spec, ids)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut f = if ids {
        assemble(parts, n)
    } else {
        Features::dense_only(
            parts.iter().flat_map(|p| p.dense.iter().copied()).collect(),
            n,
        )
    };
    (f.embedding_dim, f.embedding) = embeddings_of(ds);
    f
}

/// The dense features and the data's own embeddings only, with no n-gram rows: what the
/// cross-fit's linear learner reads besides its own TF-IDF rows. At a million ProcessBench-length
/// steps the padded n-gram rows alone would be about 1.7 GB.
pub fn featurize_dense(ds: &Dataset, spec: &FeatureSpec) -> Features {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    featurize_with(ds, spec, threads, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::hash::FnvBuild;
    use std::collections::{HashMap, HashSet};

    type WordSet<'a> = HashSet<&'a str, FnvBuild>;

    fn overlap(a: &WordSet, b: &WordSet) -> f32 {
        if a.is_empty() {
            return 0.0;
        }
        a.iter().filter(|w| b.contains(*w)).count() as f32 / a.len() as f32
    }

    fn jaccard(a: &WordSet, b: &WordSet) -> f32 {
        let union = a.union(b).count();
        if union == 0 {
            return 0.0;
        }
        a.intersection(b).count() as f32 / union as f32
    }

    /// The featuriser written plainly (strings, hash sets), as the definition the fast one must
    /// match.
    pub fn reference_featurize(ds: &Dataset, spec: &FeatureSpec) -> Features {
        let n = ds.segments.len();
        let mut type_index: HashMap<String, u32, FnvBuild> = HashMap::default();
        let mut type_lists: Vec<Vec<(u32, u32)>> = Vec::new();
        let mut type_totals: Vec<u32> = Vec::new();
        // Per segment: (type, count) of tokens, (bucket, count) of bigrams, and N.
        let mut seg_toks: Vec<Vec<(u32, u32)>> = Vec::with_capacity(n);
        let mut seg_bigs: Vec<Vec<(u32, u32)>> = Vec::with_capacity(n);
        let mut totals: Vec<u32> = Vec::with_capacity(n);
        let mut dense = Vec::with_capacity(n * DENSE);
        for doc in &ds.docs {
            let prompt_words = tokenize(&doc.prompt);
            let prompt_set: WordSet = prompt_words.iter().map(String::as_str).collect();
            let seg_words: Vec<Vec<String>> = ds.segments[doc.segments.clone()]
                .iter()
                .map(|s| {
                    let mut w = tokenize(&s.text);
                    w.truncate(spec.max_words);
                    w
                })
                .collect();
            let sets: Vec<WordSet> = seg_words
                .iter()
                .map(|ws| ws.iter().map(String::as_str).collect())
                .collect();
            let len = seg_words.len();
            for (k, words) in seg_words.iter().enumerate() {
                let mut total = 0u32;
                let mut toks = Vec::with_capacity(words.len());
                for w in words {
                    let t = match type_index.get(w.as_str()) {
                        Some(&t) => t,
                        None => {
                            let t = type_lists.len() as u32;
                            let list = counted(type_grams(w, spec));
                            type_totals.push(list.iter().map(|&(_, c)| c).sum());
                            type_lists.push(list);
                            type_index.insert(w.clone(), t);
                            t
                        }
                    };
                    total += type_totals[t as usize];
                    toks.push(t);
                }
                let mut bigs = Vec::new();
                if spec.word_ngrams >= 2 {
                    for pair in words.windows(2) {
                        bigs.push(bigram_bucket(&pair[0], &pair[1], spec.buckets));
                    }
                }
                total += bigs.len() as u32;
                seg_toks.push(counted(toks));
                seg_bigs.push(counted(bigs));
                totals.push(total);
                let log_len = (1.0 + words.len() as f32).ln() / 64f32.ln();
                let position = if len > 1 {
                    k as f32 / (len - 1) as f32
                } else {
                    0.0
                };
                let prev = if k > 0 {
                    jaccard(&sets[k], &sets[k - 1])
                } else {
                    0.0
                };
                dense.extend_from_slice(&[log_len, position, overlap(&sets[k], &prompt_set), prev]);
            }
        }
        let types = type_lists.len().max(1);
        let type_width = type_lists.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut type_ids = vec![0i32; types * type_width];
        let mut type_counts = vec![0f32; types * type_width];
        for (t, list) in type_lists.iter().enumerate() {
            for (j, &(id, c)) in list.iter().enumerate() {
                type_ids[t * type_width + j] = id as i32;
                type_counts[t * type_width + j] = c as f32;
            }
        }
        let pack = |lists: &[Vec<(u32, u32)>]| -> Csr {
            let mut out = Csr::new();
            for (r, list) in lists.iter().enumerate() {
                let total = totals[r].max(1) as f32;
                for &(id, c) in list {
                    out.ids.push(id as i32);
                    out.weights.push(c as f32 / total);
                }
                out.end_row();
            }
            out
        };
        let (tok, big) = (pack(&seg_toks), pack(&seg_bigs));
        Features {
            n,
            types,
            type_width,
            type_ids,
            type_counts,
            tok,
            big,
            dense,
            embedding_dim: ds.embeddings.as_ref().map_or(0, |e| e.dim),
            embedding: ds
                .embeddings
                .as_ref()
                .map_or(Vec::new(), |e| e.values.clone()),
        }
    }

    use crate::data::{ReadOptions, parse_str};

    #[test]
    fn hashes_are_pinned() {
        // If any of these change, every saved checkpoint silently stops meaning anything.
        let b = 1 << 15;
        assert_eq!(word_bucket("kettle", b), 13792);
        assert_eq!(bigram_bucket("white", "vinegar", b), 16863);
        assert_eq!(char_bucket("<ke", b), 23742);
        assert_eq!(word_bucket("kettle", 1 << 20), 669_152);
    }

    #[test]
    fn tokenize_lowercases_and_splits_on_punctuation() {
        assert_eq!(
            tokenize("Fill it, then WAIT 20 min."),
            vec!["fill", "it", "then", "wait", "20", "min"]
        );
        assert!(tokenize(" ... ").is_empty());
    }

    #[test]
    fn grams_counts_match_the_definition() {
        let spec = FeatureSpec::default();
        // "ab cd": 2 unigrams + 1 bigram; "<ab>" and "<cd>" have 4 chars: two 3-grams and one
        // 4-gram each, no 5-gram.
        let g = grams(&tokenize("ab cd"), &spec);
        assert_eq!(g.len(), 2 + 1 + 2 * (2 + 1));
        let no_chars = FeatureSpec {
            char_ngrams: [0, 0],
            word_ngrams: 1,
            ..spec
        };
        assert_eq!(grams(&tokenize("ab cd ab"), &no_chars).len(), 3);
    }

    #[test]
    fn bags_are_the_mean_over_all_grams() {
        // The factored form (word types + bigrams) must expand to exactly the plain definition:
        // every n-gram occurrence counted once, weights summing to 1.
        let spec = FeatureSpec::default();
        let text = r#"{"segments": [{"text": "the kettle and the banana kettle", "score": 1}, {"text": "...", "score": 0}]}"#;
        let (ds, _) = parse_str(text, "t", &ReadOptions::default()).unwrap();
        let f = featurize(&ds, &spec);
        let words = tokenize(&ds.segments[0].text);
        let all = grams(&words, &spec);
        let total = all.len() as f32;
        let mut expect: Vec<(u32, f32)> = counted(all)
            .into_iter()
            .map(|(id, c)| (id, c as f32 / total))
            .collect();
        expect.sort_by_key(|a| a.0);
        let got = f.bag(0);
        assert_eq!(got.len(), expect.len());
        for (g, e) in got.iter().zip(&expect) {
            assert_eq!(g.0, e.0);
            assert!((g.1 - e.1).abs() < 1e-6);
        }
        assert!(
            f.bag(1).is_empty(),
            "a segment with no words has an empty bag"
        );
        // "the" and "kettle" appear twice but are one type each.
        assert_eq!(f.types, 4);
    }

    #[test]
    fn dense_only_features_are_the_full_ones_dense_features() {
        // The dense-only pass (the cross-fit's) must not change a dense feature: its word sets
        // come from the same pairs, dropped once read.
        let ds = crate::data::load(None, &ReadOptions::default()).unwrap().0;
        let spec = FeatureSpec::default();
        let full = featurize_threads(&ds, &spec, 2);
        let dense = featurize_with(&ds, &spec, 2, false);
        assert_eq!(dense.n, full.n);
        assert_eq!(dense.dense, full.dense);
        assert_eq!(dense.tok.rows(), full.n, "every row there, empty");
        assert!(dense.tok.ids.is_empty() && dense.big.ids.is_empty());
    }

    #[test]
    fn dense_features_follow_the_document() {
        let text = r#"{"prompt": "descale a kettle", "segments": [{"text": "Descale the kettle", "score": 1}, {"text": "descale the kettle", "score": 1}, {"text": "bananas", "score": 0}]}"#;
        let (ds, _) = parse_str(text, "t", &ReadOptions::default()).unwrap();
        let f = featurize(&ds, &FeatureSpec::default());
        let d = |r: usize, c: usize| f.dense[r * DENSE + c];
        assert_eq!(d(0, 1), 0.0);
        assert_eq!(d(1, 1), 0.5);
        assert_eq!(d(2, 1), 1.0);
        assert!(
            (d(0, 2) - 2.0 / 3.0).abs() < 1e-6,
            "descale+kettle of 3 words"
        );
        assert_eq!(d(0, 3), 0.0);
        assert_eq!(d(1, 3), 1.0);
        assert_eq!(d(2, 3), 0.0);
        assert!((d(2, 0) - 2f32.ln() / 64f32.ln()).abs() < 1e-6);
        let sub = f.rows(&[2, 0]);
        assert_eq!(sub.dense[..DENSE], f.dense[2 * DENSE..3 * DENSE]);
    }

    #[test]
    fn the_fast_featuriser_equals_the_plain_definition_on_any_thread_count() {
        // Edge cases: mixed case and non-ASCII words (É lower-cases to é), a segment longer than
        // max_words, one with no words, repeated words and bigrams, prompt words found in no
        // segment, and a word type first seen in a later document.
        let edge = r#"{"id": "e1", "prompt": "Descale the KETTLE, Zoë!", "segments": [{"text": "ÉTÉ été Été, kettle kettle kettle.", "score": 1}, {"text": "...", "score": 0}, {"text": "a b a b a b c", "score": 0.5}]}
{"id": "e2", "prompt": "", "segments": [{"text": "zoë descale new words here", "score": 0}]}"#;
        let long: String = (0..300).map(|i| format!("w{} ", i % 37)).collect();
        let edge = format!(
            "{edge}\n{{\"id\": \"e3\", \"prompt\": \"w1 w2\", \"segments\": [{{\"text\": \"{long}\", \"score\": 0}}]}}"
        );
        let spec = FeatureSpec {
            max_words: 64,
            ..FeatureSpec::default()
        };
        let (edge_ds, _) = parse_str(&edge, "t", &ReadOptions::default()).unwrap();
        let (bundled, _) = crate::data::load(None, &ReadOptions::default()).unwrap();
        for (ds, spec) in [(&edge_ds, &spec), (&bundled, &FeatureSpec::default())] {
            let want = reference_featurize(ds, spec);
            for threads in [1, 2, 3, 7] {
                assert_eq!(
                    featurize_threads(ds, spec, threads),
                    want,
                    "{threads} threads"
                );
            }
        }
        let f = reference_featurize(&edge_ds, &spec);
        assert_eq!(
            f.tok.width(),
            37,
            "the long segment is cut at max_words, with 37 distinct words"
        );
    }
}
