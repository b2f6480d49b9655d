//! One worker's pass over a run of documents: the word types it meets (each with its own gram
//! list, computed once), each segment's (type, count) and (bigram, count) pairs, and the dense
//! features.

use std::collections::HashMap;

use super::{DENSE, FeatureSpec, grams};
use crate::data::hash::{FnvBuild, fnv1a, fnv1a_continue};
use crate::data::model::{Dataset, Document};

pub(super) fn type_grams(word: &str, spec: &FeatureSpec) -> Vec<u32> {
    let one = FeatureSpec {
        word_ngrams: 1,
        ..spec.clone()
    };
    grams(std::slice::from_ref(&word.to_string()), &one)
}

/// (value, count) of a list, in ascending value order.
pub(super) fn counted<T: Ord + Copy>(mut v: Vec<T>) -> Vec<(T, u32)> {
    v.sort_unstable();
    let mut out: Vec<(T, u32)> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some((last, c)) if *last == x => *c += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

/// Calls `f` with each lower-case word of `text`, as [`tokenize`] would return them, without
/// allocating for words that are already lower-case ASCII (most of them).
fn for_each_word(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        if w.is_empty() {
            continue;
        }
        if w.is_ascii() {
            if w.bytes().any(|b| b.is_ascii_uppercase()) {
                buf.clear();
                buf.push_str(w);
                buf.make_ascii_lowercase();
                f(buf);
            } else {
                f(w);
            }
        } else {
            f(&w.to_lowercase());
        }
    }
}

/// The word types seen so far, in first-appearance order.
#[derive(Default)]
pub(super) struct Types {
    pub(super) index: HashMap<Box<str>, u32, FnvBuild>,
    pub(super) words: Vec<Box<str>>,
    /// FNV-1a state after `w2\0`, the word and a space: a bigram's hash continues from it with the
    /// second word's bytes, so each bigram hashes only one word.
    pub(super) bigram_prefix: Vec<u64>,
    /// (bucket, count) of each type's own grams, by bucket.
    pub(super) lists: Vec<Vec<(u32, u32)>>,
    /// Total gram count of each type.
    pub(super) totals: Vec<u32>,
}

impl Types {
    pub(super) fn get(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    pub(super) fn intern(&mut self, word: &str, spec: &FeatureSpec) -> u32 {
        if let Some(t) = self.get(word) {
            return t;
        }
        let t = self.words.len() as u32;
        let list = counted(type_grams(word, spec));
        self.totals.push(list.iter().map(|&(_, c)| c).sum());
        self.lists.push(list);
        self.bigram_prefix
            .push(fnv1a(&[b"w2\0", word.as_bytes(), b" "]));
        self.words.push(word.into());
        self.index.insert(word.into(), t);
        t
    }

    pub(super) fn bigram(&self, a: u32, b: u32, buckets: usize) -> u32 {
        let h = fnv1a_continue(
            self.bigram_prefix[a as usize],
            self.words[b as usize].as_bytes(),
        );
        (h % buckets as u64) as u32
    }
}

/// Segments featurised by one worker, in dataset order, with that worker's own type ids.
#[derive(Default)]
pub(super) struct Part {
    pub(super) types: Types,
    /// Row r's (type, count) pairs are `tok[tok_off[r]..tok_off[r + 1]]`, by type.
    pub(super) tok: Vec<(u32, u32)>,
    pub(super) tok_off: Vec<usize>,
    /// Row r's (bucket, count) bigram pairs, by bucket.
    pub(super) big: Vec<(u32, u32)>,
    pub(super) big_off: Vec<usize>,
    /// Row r's total n-gram count N.
    pub(super) totals: Vec<u32>,
    pub(super) dense: Vec<f32>,
}

/// |a ∩ b| of two ascending lists without repeats.
fn intersection(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Appends `v` (sorted in place) to `out` as (value, count) pairs in ascending value order.
fn push_counted(v: &mut [u32], out: &mut Vec<(u32, u32)>) {
    v.sort_unstable();
    let start = out.len();
    for &x in v.iter() {
        let len = out.len();
        match out.last_mut() {
            Some((last, c)) if len > start && *last == x => *c += 1,
            _ => out.push((x, 1)),
        }
    }
}

/// Featurises the documents `docs` of `ds`.
/// With `ids` false, only the dense features are kept (the rows' pairs are not).
pub(super) fn featurize_part(
    ds: &Dataset,
    docs: &[Document],
    spec: &FeatureSpec,
    ids: bool,
) -> Part {
    let n: usize = docs.iter().map(|d| d.segments.len()).sum();
    let mut p = Part {
        tok_off: Vec::with_capacity(n + 1),
        big_off: Vec::with_capacity(n + 1),
        totals: Vec::with_capacity(n),
        dense: Vec::with_capacity(n * DENSE),
        ..Part::default()
    };
    p.tok_off.push(0);
    p.big_off.push(0);
    let mut buf = String::new();
    // Per document: each segment's token types in order, and where each segment's begin.
    let mut doc_toks: Vec<u32> = Vec::new();
    let mut doc_off: Vec<usize> = Vec::new();
    let mut prompt_set: Vec<u32> = Vec::new();
    let (mut set, mut prev_set, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
    for doc in docs {
        let segs = &ds.segments[doc.segments.clone()];
        doc_toks.clear();
        doc_off.clear();
        doc_off.push(0);
        for s in segs {
            let start = doc_toks.len();
            let types = &mut p.types;
            for_each_word(&s.text, &mut buf, |w| {
                if doc_toks.len() - start < spec.max_words {
                    doc_toks.push(types.intern(w, spec));
                }
            });
            doc_off.push(doc_toks.len());
        }
        // Every word of this document's segments has a type now, so a prompt word without one
        // cannot overlap any of them.
        prompt_set.clear();
        for_each_word(&doc.prompt, &mut buf, |w| {
            if let Some(t) = p.types.get(w) {
                prompt_set.push(t);
            }
        });
        prompt_set.sort_unstable();
        prompt_set.dedup();
        let len = segs.len();
        prev_set.clear();
        for k in 0..len {
            let words = &doc_toks[doc_off[k]..doc_off[k + 1]];
            let mut total: u32 = words.iter().map(|&t| p.types.totals[t as usize]).sum();
            scratch.clear();
            scratch.extend_from_slice(words);
            let tok_start = p.tok.len();
            push_counted(&mut scratch, &mut p.tok);
            set.clear();
            set.extend(p.tok[tok_start..].iter().map(|x| x.0));
            if !ids {
                // Dense features only: the segment's pairs were needed for its word set alone.
                p.tok.truncate(tok_start);
            }
            p.tok_off.push(p.tok.len());
            scratch.clear();
            if spec.word_ngrams >= 2 {
                scratch.extend(
                    words
                        .windows(2)
                        .map(|pair| p.types.bigram(pair[0], pair[1], spec.buckets)),
                );
            }
            total += scratch.len() as u32;
            if ids {
                push_counted(&mut scratch, &mut p.big);
            }
            p.big_off.push(p.big.len());
            p.totals.push(total);
            let log_len = (1.0 + words.len() as f32).ln() / 64f32.ln();
            let position = if len > 1 {
                k as f32 / (len - 1) as f32
            } else {
                0.0
            };
            let prompt_overlap = if set.is_empty() {
                0.0
            } else {
                intersection(&set, &prompt_set) as f32 / set.len() as f32
            };
            let prev = if k > 0 {
                let both = intersection(&set, &prev_set);
                let union = set.len() + prev_set.len() - both;
                if union == 0 {
                    0.0
                } else {
                    both as f32 / union as f32
                }
            } else {
                0.0
            };
            p.dense
                .extend_from_slice(&[log_len, position, prompt_overlap, prev]);
            std::mem::swap(&mut set, &mut prev_set);
        }
    }
    p
}
