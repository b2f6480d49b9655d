//! Tags and `meta` labels that contradict a segment's target: a tag that nearly every segment
//! carrying it has with one class (binary labels), or with targets near one value (other kinds),
//! and this segment is the exception. A sentence tagged `Irrelevant` with a positive score.

use std::collections::BTreeMap;

use crate::data::Dataset;

/// A tag or label value needs this many labelled segments before it says anything.
pub const MIN_GROUP: usize = 10;
/// Binary labels: the share of the group in one class that makes the other class a contradiction.
pub const MAJORITY: f64 = 0.9;
/// Binary labels: and the other class must be this much rarer in the group than in the data, so
/// that a tag is judged against the base rate (on data that is 85% one class, most groups are
/// 90% that class without saying anything).
pub const LIFT: f64 = 0.25;
/// Other kinds: a target this many robust standard deviations from the group's median.
pub const FAR: f64 = 3.0;

/// Per segment (dataset order): why its tags or labels contradict its target, or `None`. Only
/// labelled segments are judged; `classes` is `labels::classes(ds)` (empty unless binary).
pub fn contradictions(ds: &Dataset, classes: &[u8]) -> Vec<Option<String>> {
    // Each tag and each `key=value` label, with the labelled segments that carry it.
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in ds.segments.iter().enumerate() {
        if s.score.is_none() {
            continue;
        }
        for t in &s.tags {
            groups.entry(format!("tag {t}")).or_default().push(i);
        }
        for (k, v) in s.labels.iter() {
            groups.entry(format!("{k}={v}")).or_default().push(i);
        }
    }
    let mut why: Vec<Vec<String>> = vec![Vec::new(); ds.segments.len()];
    // Binary labels: each class's share of every labelled segment.
    let labelled = ds
        .segments
        .iter()
        .filter(|s| s.score.is_some())
        .count()
        .max(1);
    let high_overall = (0..ds.segments.len())
        .filter(|&i| ds.segments[i].score.is_some() && classes.get(i) == Some(&1))
        .count() as f64
        / labelled as f64;
    let base = [1.0 - high_overall, high_overall];
    for (name, rows) in groups.into_iter().filter(|(_, r)| r.len() >= MIN_GROUP) {
        let n = rows.len();
        if !classes.is_empty() {
            let high = rows.iter().filter(|&&i| classes[i] == 1).count();
            for (class, count) in [(1u8, high), (0u8, n - high)] {
                let others_here = (n - count) as f64 / n as f64;
                let others_overall = 1.0 - base[usize::from(class)];
                if count as f64 >= MAJORITY * n as f64
                    && count < n
                    && others_here <= LIFT * others_overall
                {
                    let (lo, hi) = class_values(ds, classes);
                    let (usual, other) = if class == 1 { (hi, lo) } else { (lo, hi) };
                    for &i in rows.iter().filter(|&&i| classes[i] != class) {
                        why[i].push(format!(
                            "`{name}`: {count} of its {n} labelled segments are {usual}; this one is {other}"
                        ));
                    }
                }
            }
        } else {
            let mut t: Vec<f64> = rows.iter().map(|&i| f64::from(ds.target(i))).collect();
            let median = median_of(&mut t);
            let mut dev: Vec<f64> = t.iter().map(|x| (x - median).abs()).collect();
            let sd = 1.4826 * median_of(&mut dev);
            if sd <= 0.0 || !sd.is_finite() {
                continue;
            }
            for &i in &rows {
                let y = f64::from(ds.target(i));
                if (y - median).abs() > FAR * sd {
                    why[i].push(format!(
                        "`{name}`: its {n} segments' median target is {median:.3} (robust sd {sd:.3}); this one is {y:.3}"
                    ));
                }
            }
        }
    }
    why.into_iter()
        .map(|w| (!w.is_empty()).then(|| w.join("; ")))
        .collect()
}

/// The two target values of binary labels, as the data writes them (low, high).
fn class_values(ds: &Dataset, classes: &[u8]) -> (String, String) {
    let find = |c: u8| {
        ds.segments
            .iter()
            .zip(classes)
            .find_map(|(s, &k)| (k == c).then_some(s.score).flatten())
            .map_or_else(|| "—".to_string(), |v| format!("{v}"))
    };
    (find(0), find(1))
}

fn median_of(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(rows: &[(f32, &str)]) -> Dataset {
        let text: String = rows
            .iter()
            .enumerate()
            .map(|(k, (y, tag))| {
                format!(
                    "{{\"id\": \"d{k}\", \"segments\": [{{\"text\": \"s {k}\", \"score\": {y}, \"tags\": [\"{tag}\"]}}]}}\n"
                )
            })
            .collect();
        crate::data::parse_str(&text, "t", &Default::default())
            .expect("data")
            .0
    }

    #[test]
    fn a_positive_sentence_tagged_irrelevant_contradicts_its_tag() {
        // Twelve `Irrelevant` sentences, eleven labelled 0; twenty `Good` ones, fifteen labelled
        // 1. Half the data is 1, so one positive in twelve is far below the base rate.
        let mut rows: Vec<(f32, &str)> = vec![(0.0, "Irrelevant"); 11];
        rows.push((1.0, "Irrelevant"));
        rows.extend(vec![(1.0, "Good"); 15]);
        rows.extend(vec![(0.0, "Good"); 5]);
        let ds = data(&rows);
        let c = contradictions(&ds, &crate::labels::classes(&ds));
        let flagged: Vec<usize> = (0..c.len()).filter(|&i| c[i].is_some()).collect();
        assert_eq!(flagged, vec![11], "{c:?}");
        let why = c[11].as_deref().unwrap_or("");
        assert!(
            why.contains("tag Irrelevant") && why.contains("11 of its 12"),
            "{why}"
        );
        // At the base rate a 90% group says nothing: 11 of 12 where the data is 11 of 12.
        let ds = data(
            &[(0.0, "Same"); 11]
                .iter()
                .copied()
                .chain([(1.0, "Same")])
                .collect::<Vec<_>>(),
        );
        assert!(
            contradictions(&ds, &crate::labels::classes(&ds))
                .iter()
                .all(Option::is_none)
        );
    }

    #[test]
    fn continuous_targets_far_from_their_tags_median_contradict_it() {
        let mut rows: Vec<(f32, &str)> = (0..11)
            .map(|k| (0.8 + 0.01 * k as f32, "concrete"))
            .collect();
        rows.push((-0.9, "concrete"));
        let ds = data(&rows);
        let c = contradictions(&ds, &[]);
        assert!(
            c[11].is_some() && c[..11].iter().all(Option::is_none),
            "{c:?}"
        );
        // A small group says nothing.
        let ds = data(&rows[5..]);
        assert!(contradictions(&ds, &[]).iter().all(Option::is_none));
    }
}
