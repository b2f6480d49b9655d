//! The workers' parts merged into one [`Features`]: one word-type table with the ids a single
//! pass would give, and the padded per-segment rows the model's tensors are made from.

use super::worker::{Part, Types};
use super::{Csr, DENSE, Features};

/// Merges the workers' parts into one [`Features`]: one type table, global type ids, padded rows.
pub(super) fn assemble(mut parts: Vec<Part>, n: usize) -> Features {
    let (types, remaps) = merge_types(&mut parts);
    let (n_types, type_width, type_ids, type_counts) = type_table(&types);
    let mut dense = Vec::with_capacity(n * DENSE);
    for part in &parts {
        dense.extend_from_slice(&part.dense);
    }
    let (tok, big) = fill_rows(parts, &remaps, n);
    Features {
        embedding_dim: 0,
        embedding: Vec::new(),
        n,
        types: n_types,
        type_width,
        type_ids,
        type_counts,
        tok,
        big,
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

/// Every part's rows as (id, weight) pairs with global type ids: one part at a time, each freed
/// as soon as its rows are written, so the parts and the rows they become never all coexist.
fn fill_rows(parts: Vec<Part>, remaps: &[Vec<u32>], n: usize) -> (Csr, Csr) {
    let total: (usize, usize) = parts
        .iter()
        .fold((0, 0), |(t, b), p| (t + p.tok.len(), b + p.big.len()));
    let mut tok = Csr::new();
    let mut big = Csr::new();
    tok.offsets.reserve(n);
    big.offsets.reserve(n);
    tok.ids.reserve_exact(total.0);
    tok.weights.reserve_exact(total.0);
    big.ids.reserve_exact(total.1);
    big.weights.reserve_exact(total.1);
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for (part, remap) in parts.into_iter().zip(remaps) {
        for r in 0..part.totals.len() {
            let sum = part.totals[r].max(1) as f32;
            pairs.clear();
            pairs.extend(
                part.tok[part.tok_off[r]..part.tok_off[r + 1]]
                    .iter()
                    .map(|&(t, c)| (remap[t as usize], c)),
            );
            // Rows list their types in ascending id; remapped ids may need re-sorting.
            pairs.sort_unstable();
            for &(t, c) in &pairs {
                tok.ids.push(t as i32);
                tok.weights.push(c as f32 / sum);
            }
            tok.end_row();
            for &(b, c) in &part.big[part.big_off[r]..part.big_off[r + 1]] {
                big.ids.push(b as i32);
                big.weights.push(c as f32 / sum);
            }
            big.end_row();
        }
        drop(part);
    }
    (tok, big)
}
