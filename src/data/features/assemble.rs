//! The workers' parts merged into one [`Features`]: one word-type table with the ids a single
//! pass would give, and the padded per-segment rows the model's tensors are made from.

use super::part::{Part, Types};
use super::{DENSE, Features};

/// Merges the workers' parts into one [`Features`]: one type table, global type ids, padded rows.
pub(super) fn assemble(mut parts: Vec<Part>, n: usize) -> Features {
    let (types, remaps) = merge_types(&mut parts);
    let (n_types, type_width, type_ids, type_counts) = type_table(&types);
    let width = |off: &[usize]| off.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let tok_width = parts
        .iter()
        .map(|p| width(&p.tok_off))
        .max()
        .unwrap_or(0)
        .max(1);
    let big_width = parts
        .iter()
        .map(|p| width(&p.big_off))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut dense = Vec::with_capacity(n * DENSE);
    for part in &parts {
        dense.extend_from_slice(&part.dense);
    }
    let rows = fill_rows(parts, &remaps, n, tok_width, big_width);
    Features {
        embedding_dim: 0,
        embedding: Vec::new(),
        n,
        types: n_types,
        type_width,
        type_ids,
        type_counts,
        tok_width,
        tok_types: rows.tok_types,
        tok_weights: rows.tok_weights,
        big_width,
        big_ids: rows.big_ids,
        big_weights: rows.big_weights,
        dense,
    }
}

/// One type table from the parts' own (taken out of them), in first-appearance order, and per
/// part the map from its type ids to the table's.
fn merge_types(parts: &mut [Part]) -> (Types, Vec<Vec<u32>>) {
    let mut types = Types::default();
    let mut remaps: Vec<Vec<u32>> = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter_mut().enumerate() {
        if i == 0 {
            // The first part's ids are already global.
            remaps.push((0..part.types.words.len() as u32).collect());
            types = std::mem::take(&mut part.types);
            continue;
        }
        let t = std::mem::take(&mut part.types);
        let mut remap = Vec::with_capacity(t.words.len());
        for (((word, list), total), prefix) in t
            .words
            .into_iter()
            .zip(t.lists)
            .zip(t.totals)
            .zip(t.bigram_prefix)
        {
            let id = match types.get(&word) {
                Some(id) => id,
                None => {
                    let id = types.words.len() as u32;
                    types.index.insert(word.clone(), id);
                    types.words.push(word);
                    types.lists.push(list);
                    types.totals.push(total);
                    types.bigram_prefix.push(prefix);
                    id
                }
            };
            remap.push(id);
        }
        remaps.push(remap);
    }
    (types, remaps)
}

/// The type table padded: (types, width, [types, width] bucket ids, [types, width] counts).
fn type_table(types: &Types) -> (usize, usize, Vec<i32>, Vec<f32>) {
    let n_types = types.words.len().max(1);
    let type_width = types.lists.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut type_ids = vec![0i32; n_types * type_width];
    let mut type_counts = vec![0f32; n_types * type_width];
    for (t, list) in types.lists.iter().enumerate() {
        for (j, &(id, c)) in list.iter().enumerate() {
            type_ids[t * type_width + j] = id as i32;
            type_counts[t * type_width + j] = c as f32;
        }
    }
    (n_types, type_width, type_ids, type_counts)
}

/// The padded per-segment rows.
struct Rows {
    tok_types: Vec<i32>,
    tok_weights: Vec<f32>,
    big_ids: Vec<i32>,
    big_weights: Vec<f32>,
}

/// Writes every part's rows into padded arrays, with global type ids.
fn fill_rows(
    parts: Vec<Part>,
    remaps: &[Vec<u32>],
    n: usize,
    tok_width: usize,
    big_width: usize,
) -> Rows {
    let mut out = Rows {
        tok_types: vec![0i32; n * tok_width],
        tok_weights: vec![0f32; n * tok_width],
        big_ids: vec![0i32; n * big_width],
        big_weights: vec![0f32; n * big_width],
    };
    // One part at a time, each freed as soon as its rows are written, so that at a million
    // segments the parts (about 270 MB) do not all coexist with the padded arrays (425 MB) they
    // fill; within a part, runs of rows on their own threads: writing the padded arrays is most
    // of this function's time.
    let workers = parts.len().max(1);
    let (mut tt, mut tw) = (&mut out.tok_types[..], &mut out.tok_weights[..]);
    let (mut bi, mut bw) = (&mut out.big_ids[..], &mut out.big_weights[..]);
    for (part, remap) in parts.into_iter().zip(remaps) {
        let rows = part.totals.len();
        let chunk = rows.div_ceil(workers).max(1);
        std::thread::scope(|s| {
            let mut start = 0;
            while start < rows {
                let len = chunk.min(rows - start);
                let (t1, t2) = std::mem::take(&mut tt).split_at_mut(len * tok_width);
                let (w1, w2) = std::mem::take(&mut tw).split_at_mut(len * tok_width);
                let (b1, b2) = std::mem::take(&mut bi).split_at_mut(len * big_width);
                let (v1, v2) = std::mem::take(&mut bw).split_at_mut(len * big_width);
                (tt, tw, bi, bw) = (t2, w2, b2, v2);
                let part = &part;
                s.spawn(move || {
                    let mut pairs: Vec<(u32, u32)> = Vec::new();
                    for k in 0..len {
                        let r = start + k;
                        let total = part.totals[r].max(1) as f32;
                        pairs.clear();
                        pairs.extend(
                            part.tok[part.tok_off[r]..part.tok_off[r + 1]]
                                .iter()
                                .map(|&(t, c)| (remap[t as usize], c)),
                        );
                        // Rows list their types in ascending id; remapped ids may need re-sorting.
                        pairs.sort_unstable();
                        for (j, &(t, c)) in pairs.iter().enumerate() {
                            t1[k * tok_width + j] = t as i32;
                            w1[k * tok_width + j] = c as f32 / total;
                        }
                        let bigs = &part.big[part.big_off[r]..part.big_off[r + 1]];
                        for (j, &(b, c)) in bigs.iter().enumerate() {
                            b1[k * big_width + j] = b as i32;
                            v1[k * big_width + j] = c as f32 / total;
                        }
                    }
                });
                start += len;
            }
        });
        drop(part);
    }
    out
}
