//! The seeded generator of segscope's default dataset (`segscope gen-data`).
//!
//! Answers in five everyday domains are assembled from templated sentences, each scored by a
//! visible rubric on [-1, 1]: concrete numbers and units and mentioning the prompt's subject score
//! high; hedging, off-topic tangents and repeating the previous sentence score low. Three simulated
//! raters (lenient, harsh, noisy) rate every segment and the target is their mean, so rater
//! disagreement is real. Then recorded corruptions are applied (flipped scores, a batch on a 1-5
//! scale, duplicated sentences with conflicting scores), each listed in the document's
//! `meta.noise`. A sixth domain, arithmetic steps, has steps whose correctness a bag of n-grams
//! cannot see (`meta.hard`), so some residuals stay large for an honest reason.

use std::collections::BTreeMap;

use serde::Serialize;

use super::hash::Rng;
use super::model::Split;
use super::partition::split_for_id;

/// The dataset bundled in the binary: `gen-data --docs 600 --seed 7`.
pub const BUNDLED_DOCS: usize = 600;
pub const BUNDLED_SEED: u64 = 7;

struct Domain {
    prompts: &'static [(&'static str, &'static str)],
    /// Sentences with numbers and units; `{s}` is the subject, `{a}`..`{c}` numbers.
    concrete: &'static [(&'static str, [(u32, u32); 3])],
    /// On-topic sentences without numbers; they name the subject.
    general: &'static [&'static str],
}

const NO: (u32, u32) = (0, 0);

const DOMAINS: &[Domain] = &[
    Domain {
        prompts: &[
            ("How do I bake sourdough bread?", "sourdough bread"),
            ("How long should I roast a chicken?", "roast chicken"),
            ("How do I make a simple tomato sauce?", "tomato sauce"),
            ("How do I cook rice on the stove?", "rice"),
            ("How do I brew cold brew coffee?", "cold brew coffee"),
        ],
        concrete: &[
            (
                "Heat the oven to {a} °C before the {s} goes in.",
                [(180, 250), NO, NO],
            ),
            (
                "Cook the {s} for {a} minutes and stir every {b} minutes.",
                [(10, 45), (2, 6), NO],
            ),
            (
                "Use {a} grams of {s} for {b} people.",
                [(150, 600), (2, 6), NO],
            ),
            (
                "Let the {s} rest for {a} minutes before serving.",
                [(5, 20), NO, NO],
            ),
            (
                "Add {a} teaspoons of salt to every {b} litres of water.",
                [(1, 3), (1, 4), NO],
            ),
            (
                "Keep it in the fridge at {a} °C for up to {b} days.",
                [(2, 5), (2, 5), NO],
            ),
        ],
        general: &[
            "Good {s} depends on fresh ingredients.",
            "Taste the {s} as you go and adjust the seasoning.",
            "Keep an eye on the {s} so that it does not burn.",
            "The {s} should smell rich and look golden.",
        ],
    },
    Domain {
        prompts: &[
            ("How do I descale a kettle?", "kettle"),
            ("How do I fix a leaking tap?", "leaking tap"),
            ("How do I paint a bedroom wall?", "bedroom wall"),
            ("How do I unclog a kitchen drain?", "kitchen drain"),
            ("How do I hang a heavy shelf?", "heavy shelf"),
        ],
        concrete: &[
            (
                "Mix {a} parts vinegar with {b} parts water and leave it in the {s} for {c} minutes.",
                [(1, 2), (1, 3), (20, 60)],
            ),
            (
                "Turn the water off and replace the {a} mm washer of the {s}.",
                [(12, 20), NO, NO],
            ),
            (
                "Apply {a} thin coats to the {s} and wait {b} hours between them.",
                [(2, 3), (2, 6), NO],
            ),
            (
                "Pour {a} ml of boiling water down the {s} every {b} minutes.",
                [(500, 1500), (5, 15), NO],
            ),
            (
                "Drill {a} holes {b} mm wide and use screws at least {c} mm long.",
                [(2, 4), (6, 10), (40, 70)],
            ),
            (
                "A {a} litre bucket covers about {b} square metres.",
                [(5, 10), (30, 60), NO],
            ),
        ],
        general: &[
            "Clean the {s} carefully before you start.",
            "Check the {s} again once you have finished.",
            "The right tools make the {s} much easier to handle.",
            "Protect the area around the {s} from splashes.",
        ],
    },
    Domain {
        prompts: &[
            ("How should I pack for a week in Lisbon?", "week in Lisbon"),
            (
                "How do I plan a budget trip to Japan?",
                "budget trip to Japan",
            ),
            ("How do I get over jet lag?", "jet lag"),
            ("How do I choose a hiking backpack?", "hiking backpack"),
            (
                "What should I know before a long train journey?",
                "long train journey",
            ),
        ],
        concrete: &[
            (
                "Pack {a} shirts and {b} pairs of shoes for the {s}.",
                [(4, 7), (2, 3), NO],
            ),
            (
                "Budget about {a} euros a day for food on the {s}.",
                [(25, 80), NO, NO],
            ),
            (
                "Sleep {a} hours earlier for {b} nights before the {s}.",
                [(1, 2), (2, 4), NO],
            ),
            (
                "A {a} litre pack weighing under {b} kg suits most trips.",
                [(30, 50), (2, 3), NO],
            ),
            (
                "Book seats {a} weeks ahead to save up to {b} percent.",
                [(3, 10), (20, 50), NO],
            ),
            (
                "Carry {a} litres of water and a snack every {b} hours.",
                [(1, 3), (2, 4), NO],
            ),
        ],
        general: &[
            "Plan the {s} around what you enjoy most.",
            "Read the reviews before you commit to the {s}.",
            "A good plan makes the {s} far less stressful.",
            "Keep your documents for the {s} in one place.",
        ],
    },
    Domain {
        prompts: &[
            ("How do I start running?", "running"),
            ("How do I build muscle at home?", "muscle at home"),
            ("How should I stretch after a workout?", "stretching"),
            ("How can I improve my sleep?", "sleep"),
            ("How do I start swimming laps?", "swimming laps"),
        ],
        concrete: &[
            (
                "Start {s} with {a} sessions a week of {b} minutes each.",
                [(2, 4), (20, 40), NO],
            ),
            (
                "Do {a} sets of {b} repetitions with {c} seconds of rest.",
                [(3, 5), (8, 15), (45, 90)],
            ),
            (
                "Hold each stretch for {a} seconds and repeat it {b} times.",
                [(20, 40), (2, 4), NO],
            ),
            (
                "Aim for {a} hours of {s} and keep the room at {b} °C.",
                [(7, 9), (16, 19), NO],
            ),
            (
                "Increase the distance by no more than {a} percent a week.",
                [(5, 10), NO, NO],
            ),
            (
                "Drink {a} ml of water in the {b} minutes after {s}.",
                [(300, 700), (15, 45), NO],
            ),
        ],
        general: &[
            "Be patient with {s} because progress takes time.",
            "Listen to your body when it comes to {s}.",
            "Consistency matters more than intensity for {s}.",
            "Warm up properly before any {s}.",
        ],
    },
    Domain {
        prompts: &[
            ("How do I build an emergency fund?", "emergency fund"),
            ("How do I pay off credit card debt?", "credit card debt"),
            ("How do I start investing with little money?", "investing"),
            ("How should I budget a monthly salary?", "monthly budget"),
            ("How do I save for a house deposit?", "house deposit"),
        ],
        concrete: &[
            (
                "Put {a} percent of every salary into the {s}.",
                [(10, 25), NO, NO],
            ),
            (
                "Aim to cover {a} months of expenses, about {b} euros.",
                [(3, 6), (3000, 12000), NO],
            ),
            (
                "Pay the {s} with the highest rate first, often above {a} percent.",
                [(15, 25), NO, NO],
            ),
            (
                "An index fund with fees under {a} percent is a sound start for {s}.",
                [(1, 5), NO, NO],
            ),
            (
                "Split it {a} percent needs, {b} percent wants and {c} percent savings.",
                [(50, 60), (20, 30), (20, 30)],
            ),
            (
                "Set up a transfer of {a} euros on day {b} of each month.",
                [(50, 400), (1, 5), NO],
            ),
        ],
        general: &[
            "Review the {s} regularly to stay on track.",
            "Automating the {s} removes the temptation to skip it.",
            "Talk to an adviser if the {s} feels overwhelming.",
            "Track every expense while you work on the {s}.",
        ],
    },
];

const FILLERS: &[&str] = &[
    "There are a few things to keep in mind.",
    "This is a common question.",
    "Here is what I would suggest.",
    "It depends on your situation.",
    "Let me walk you through it.",
];

const HEDGES: &[&str] = &[
    "I think",
    "Maybe",
    "It might be that",
    "Honestly I am not sure, but",
    "Probably",
    "I guess",
];

const TANGENTS: &[&str] = &[
    "By the way, my cousin loves football.",
    "Unrelated, but I just bought a new phone.",
    "Speaking of which, the weather was lovely last weekend.",
    "My favourite film is still the one about the space station.",
    "Anyway, cats are funnier than dogs.",
    "Random thought: purple is an underrated colour.",
];

#[derive(Serialize)]
struct OutSegment {
    text: String,
    score: f32,
    ratings: [f32; 3],
    tags: Vec<&'static str>,
}

#[derive(Serialize)]
struct OutMeta {
    generator: &'static str,
    seed: u64,
    domain: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    noise: BTreeMap<String, &'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    hard: BTreeMap<String, &'static str>,
}

#[derive(Serialize)]
struct OutDoc {
    id: String,
    prompt: String,
    split: Split,
    segments: Vec<OutSegment>,
    meta: OutMeta,
}

const DOMAIN_NAMES: [&str; 6] = [
    "cooking",
    "home",
    "travel",
    "fitness",
    "finance",
    "arithmetic",
];

fn round_to(x: f64, places: i32) -> f32 {
    let m = 10f64.powi(places);
    ((x * m).round() / m) as f32
}

fn fill(template: &str, subject: &str, ranges: &[(u32, u32); 3], rng: &mut Rng) -> String {
    let mut s = template.replace("{s}", subject);
    for (key, &(lo, hi)) in ["{a}", "{b}", "{c}"].iter().zip(ranges) {
        if s.contains(key) {
            let v = lo + rng.below((hi - lo + 1) as usize) as u32;
            s = s.replace(key, &v.to_string());
        }
    }
    s
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A sentence and its rubric score before raters.
struct Draft {
    text: String,
    true_score: f64,
    tags: Vec<&'static str>,
    hard: Option<&'static str>,
}

fn everyday_answer(domain: &Domain, rng: &mut Rng) -> (String, Vec<Draft>) {
    let &(prompt, subject) = rng.pick(domain.prompts);
    let len = 4 + rng.below(5);
    let mut out: Vec<Draft> = Vec::with_capacity(len);
    for k in 0..len {
        let roll = rng.unit();
        let mut d = if k == 0 && rng.chance(0.35) {
            Draft {
                text: rng.pick(FILLERS).to_string(),
                true_score: -0.05,
                tags: vec!["filler"],
                hard: None,
            }
        } else if roll < 0.08 && k > 0 {
            Draft {
                text: rng.pick(TANGENTS).to_string(),
                true_score: -0.7,
                tags: vec!["off_topic"],
                hard: None,
            }
        } else if roll < 0.16 && k > 0 {
            let prev = &out[k - 1].text;
            let text = if rng.chance(0.5) {
                prev.clone()
            } else {
                format!("As I said, {}", lower_first(prev))
            };
            Draft {
                text,
                true_score: -0.6,
                tags: vec!["repetition"],
                hard: None,
            }
        } else if roll < 0.62 {
            let (t, ranges) = rng.pick(domain.concrete);
            let text = fill(t, subject, ranges, rng);
            let names_subject = t.contains("{s}");
            let mut tags = vec!["concrete"];
            if names_subject {
                tags.push("on_topic");
            }
            Draft {
                text,
                true_score: if names_subject { 0.85 } else { 0.55 },
                tags,
                hard: None,
            }
        } else if roll < 0.9 {
            let template: &&str = rng.pick(domain.general);
            Draft {
                text: fill(template, subject, &[NO; 3], rng),
                true_score: 0.35,
                tags: vec!["on_topic"],
                hard: None,
            }
        } else {
            Draft {
                text: rng.pick(FILLERS).to_string(),
                true_score: -0.05,
                tags: vec!["filler"],
                hard: None,
            }
        };
        let hedgeable = d.tags.contains(&"concrete") || d.tags.contains(&"on_topic");
        if hedgeable && rng.chance(0.2) {
            d.text = format!("{} {}", rng.pick(HEDGES), lower_first(&d.text));
            d.true_score -= 0.6;
            d.tags.push("hedged");
        }
        out.push(d);
    }
    (prompt.to_string(), out)
}

fn arithmetic_answer(rng: &mut Rng) -> (String, Vec<Draft>) {
    let (a, b, c) = (10 + rng.below(90), 10 + rng.below(90), 2 + rng.below(40));
    let prompt = format!("What is {a} + {b} + {c}?");
    let wrong = |rng: &mut Rng, v: usize| -> usize {
        let off = 1 + rng.below(9);
        if rng.chance(0.5) {
            v + off
        } else {
            v.saturating_sub(off).max(1)
        }
    };
    let step = |text: String, ok: bool| Draft {
        text,
        true_score: if ok { 0.7 } else { -0.7 },
        tags: vec!["step"],
        hard: if ok { None } else { Some("wrong_arithmetic") },
    };
    let s1_ok = !rng.chance(0.25);
    let s1 = if s1_ok { a + b } else { wrong(rng, a + b) };
    let s2_ok = !rng.chance(0.25);
    let s2 = if s2_ok { s1 + c } else { wrong(rng, s1 + c) };
    let answer_ok = s2 == a + b + c;
    let out = vec![
        step(
            format!("First add {a} and {b} to get {a} + {b} = {s1}."),
            s1_ok,
        ),
        step(format!("Then add {c} to get {s1} + {c} = {s2}."), s2_ok),
        step(format!("So the answer is {s2}."), answer_ok),
    ];
    (prompt, out)
}

/// Generates `n_docs` documents with seed `seed`, as JSONL text (one document per line).
pub fn generate(n_docs: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut docs: Vec<OutDoc> = Vec::with_capacity(n_docs);
    // Raters: (name, bias, spread). Their mean is the target.
    let raters = [(0.2, 0.05), (-0.2, 0.05), (0.0, 0.3)];
    for i in 0..n_docs {
        let id = format!("doc-{i:04}");
        let domain_ix = if rng.chance(0.08) { 5 } else { rng.below(5) };
        let (prompt, drafts) = if domain_ix == 5 {
            arithmetic_answer(&mut rng)
        } else {
            everyday_answer(&DOMAINS[domain_ix], &mut rng)
        };
        let mut hard = BTreeMap::new();
        let segments = drafts
            .into_iter()
            .enumerate()
            .map(|(k, d)| {
                let s = (d.true_score + 0.05 * rng.normal()).clamp(-1.0, 1.0);
                let ratings = raters.map(|(bias, spread)| {
                    round_to((s + bias + spread * rng.normal()).clamp(-1.0, 1.0), 2)
                });
                let mean = ratings.iter().map(|&r| f64::from(r)).sum::<f64>() / 3.0;
                if let Some(h) = d.hard {
                    hard.insert(k.to_string(), h);
                }
                OutSegment {
                    text: d.text,
                    score: round_to(mean, 3),
                    ratings,
                    tags: d.tags,
                }
            })
            .collect();
        docs.push(OutDoc {
            split: split_for_id(&id, 0.2),
            id,
            prompt,
            segments,
            meta: OutMeta {
                generator: "segscope-gen-v1",
                seed,
                domain: DOMAIN_NAMES[domain_ix],
                noise: BTreeMap::new(),
                hard,
            },
        });
    }
    corrupt(&mut docs, &mut rng);
    let mut text = String::new();
    for d in &docs {
        // Serialising plain structs of strings and finite numbers cannot fail.
        text.push_str(&serde_json::to_string(d).expect("serialisable document"));
        text.push('\n');
    }
    text
}

/// Applies the recorded corruptions, about 2% of segments in all.
fn corrupt(docs: &mut [OutDoc], rng: &mut Rng) {
    let total: usize = docs.iter().map(|d| d.segments.len()).sum();
    let everyday: Vec<usize> = (0..docs.len())
        .filter(|&i| docs[i].meta.domain != "arithmetic")
        .collect();
    if everyday.is_empty() {
        return;
    }
    // 1. A batch of training documents scored on a 1-5 scale instead of [-1, 1].
    let batch = (docs.len() / 200).max(1);
    let mut train_docs: Vec<usize> = everyday
        .iter()
        .copied()
        .filter(|&i| docs[i].split == Split::Train)
        .collect();
    rng.shuffle(&mut train_docs);
    for &i in train_docs.iter().take(batch) {
        let d = &mut docs[i];
        for (k, s) in d.segments.iter_mut().enumerate() {
            s.score = round_to(3.0 + 2.0 * f64::from(s.score), 3);
            d.meta.noise.insert(k.to_string(), "wrong_scale");
        }
    }
    // 2. Flipped signs on clearly scored segments.
    let n_flip = (total / 100).max(1);
    let mut flipped = 0;
    let mut guard = 0;
    while flipped < n_flip && guard < 100 * n_flip {
        guard += 1;
        let i = *rng.pick(&everyday);
        let k = rng.below(docs[i].segments.len());
        let key = k.to_string();
        let s = &mut docs[i].segments[k];
        if s.score.abs() < 0.6 || docs[i].meta.noise.contains_key(&key) {
            continue;
        }
        s.score = -s.score;
        docs[i].meta.noise.insert(key, "flipped");
        flipped += 1;
    }
    // 3. A sentence copied into another answer with a conflicting score.
    let n_dup = (total / 300).max(1);
    let mut added = 0;
    guard = 0;
    while added < n_dup && guard < 100 * n_dup {
        guard += 1;
        let (src, dst) = (*rng.pick(&everyday), *rng.pick(&everyday));
        if src == dst {
            continue;
        }
        let k = rng.below(docs[src].segments.len());
        let s = &docs[src].segments[k];
        if s.score.abs() < 0.6 || docs[src].meta.noise.contains_key(&k.to_string()) {
            continue;
        }
        let copy = OutSegment {
            text: s.text.clone(),
            score: -s.score,
            ratings: s.ratings,
            tags: s.tags.clone(),
        };
        let d = &mut docs[dst];
        let k_new = d.segments.len();
        d.segments.push(copy);
        d.meta.noise.insert(k_new.to_string(), "duplicate_conflict");
        added += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ReadOptions, parse_str};

    #[test]
    fn generation_is_deterministic_and_valid() {
        let a = generate(80, 3);
        assert_eq!(a, generate(80, 3));
        assert_ne!(a, generate(80, 4));
        let (ds, skipped) = parse_str(&a, "gen", &ReadOptions::default()).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(ds.docs.len(), 80);
        assert!(ds.segments.iter().any(|s| s.label("noise").is_some()));
    }

    #[test]
    fn targets_are_the_raters_mean_except_where_corrupted() {
        let (ds, _) = parse_str(&generate(100, 1), "gen", &ReadOptions::default()).unwrap();
        let mut spread = 0f32;
        for s in ds.segments.iter().filter(|s| s.label("noise").is_none()) {
            let score = s.score.unwrap_or(f32::NAN);
            let mean = s.ratings.iter().sum::<f32>() / s.ratings.len() as f32;
            assert!((mean - score).abs() < 2e-3, "{} vs {}", mean, score);
            assert!((-1.0..=1.0).contains(&score));
            spread = spread.max(s.rater_spread());
        }
        assert!(spread > 0.4, "the noisy rater must disagree somewhere");
        for s in ds
            .segments
            .iter()
            .filter(|s| s.label("noise") == Some("wrong_scale"))
        {
            assert!(s.score.is_some_and(|x| (1.0..=5.0).contains(&x)));
        }
    }

    #[test]
    fn the_hard_slice_is_recorded() {
        let (ds, _) = parse_str(&generate(300, 2), "gen", &ReadOptions::default()).unwrap();
        let hard = ds
            .segments
            .iter()
            .filter(|s| s.label("hard").is_some())
            .count();
        assert!(hard > 5, "hard = {hard}");
    }
}
