//! Checkpoints: model, optimiser state, config and counters, written atomically.
//!
//! Layout: `DIR/step-000300/{model.bpk, optim.bpk, config.toml, model.json, state.json}` (and
//! `edits.jsonl` when the run had what-if edits) and
//! `DIR/LATEST` naming the newest. Each step directory is written under a temporary name and
//! renamed into place, then `LATEST` is replaced by rename, so a crash at any moment leaves the
//! previous good checkpoint reachable and never a half-written one in its place.

use std::fs;
use std::path::{Path, PathBuf};

use burn::config::Config as _;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::trainer::{EngineError, TrainState, Trainer};
use crate::config::Config;
use crate::data::hash::fnv1a;
use crate::data::{Dataset, Partition};

/// How many step directories to keep; older ones are removed after a successful save.
const KEEP: usize = 3;

/// The fingerprint of a dataset's training-relevant content, to refuse resuming on other data.
pub fn fingerprint(ds: &Dataset, part: &Partition) -> String {
    let mut h: u64 = fnv1a(&[b"segscope-data-v1"]);
    for (k, d) in ds.docs.iter().enumerate() {
        let split = part.doc_split(k).name();
        for s in &ds.segments[d.segments.clone()] {
            // A target prints as it always did, so older checkpoints still match.
            let score = s.score.map_or("null".to_string(), |x| x.to_string());
            let line = format!("{}\u{1}{}\u{1}{}\u{1}{}\u{2}", d.id, split, s.text, score);
            h = fnv1a(&[&h.to_le_bytes(), line.as_bytes()]);
        }
    }
    format!("{h:016x}")
}

/// The checkpoint layout this build writes and reads; `state.json` records it.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    format: u32,
    state: TrainState,
    backend: String,
    data_fingerprint: String,
    data_source: String,
    segments: usize,
}

fn err(path: &Path, message: impl std::fmt::Display) -> EngineError {
    EngineError::Checkpoint {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Writes a checkpoint of `trainer` (trained with `config`) into `dir`; returns the step directory.
pub fn save(dir: &Path, trainer: &Trainer, config: &Config) -> Result<PathBuf, EngineError> {
    fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let step = trainer.step_count();
    let name = format!("step-{step:06}");
    let tmp = dir.join(format!(".tmp-{name}-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| err(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| err(&tmp, e))?;
    let write = || -> Result<(), EngineError> {
        trainer
            .model()
            .clone()
            .save_file(tmp.join("model.bpk"))
            .map_err(|e| err(&tmp, format!("saving the model: {e}")))?;
        trainer
            .optimizer()
            .save(tmp.join("optim.bpk"))
            .map_err(|e| err(&tmp, format!("saving the optimiser: {e}")))?;
        let cfg = toml::to_string(config).map_err(|e| err(&tmp, e))?;
        fs::write(tmp.join("config.toml"), cfg).map_err(|e| err(&tmp, e))?;
        trainer
            .settings()
            .model
            .save(tmp.join("model.json"))
            .map_err(|e| err(&tmp, e))?;
        let meta = Meta {
            format: FORMAT,
            state: trainer.state().clone(),
            backend: trainer.settings().backend.name().to_string(),
            data_fingerprint: fingerprint(trainer.base_dataset(), trainer.partition()),
            data_source: trainer.dataset().source.clone(),
            segments: trainer.dataset().segments.len(),
        };
        let json = serde_json::to_string_pretty(&meta).map_err(|e| err(&tmp, e))?;
        fs::write(tmp.join("state.json"), json).map_err(|e| err(&tmp, e))?;
        if !trainer.edits().is_empty() {
            fs::write(
                tmp.join("edits.jsonl"),
                trainer.edits().to_jsonl(trainer.base_dataset()),
            )
            .map_err(|e| err(&tmp, e))?;
        }
        Ok(())
    };
    if let Err(e) = write() {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let target = dir.join(&name);
    if target.exists() {
        // Same step saved twice: move the old one aside first so there is always one whole copy.
        let old = dir.join(format!(".old-{name}-{}", std::process::id()));
        fs::rename(&target, &old).map_err(|e| err(&target, e))?;
        fs::rename(&tmp, &target).map_err(|e| err(&target, e))?;
        let _ = fs::remove_dir_all(&old);
    } else {
        fs::rename(&tmp, &target).map_err(|e| err(&target, e))?;
    }
    let latest_tmp = dir.join(format!(".LATEST-{}", std::process::id()));
    fs::write(&latest_tmp, format!("{name}\n")).map_err(|e| err(&latest_tmp, e))?;
    fs::rename(&latest_tmp, dir.join("LATEST")).map_err(|e| err(dir, e))?;
    prune(dir);
    Ok(target)
}

/// Removes all but the newest `KEEP` step directories; failures are harmless and ignored.
fn prune(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut steps: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step-"))
        })
        .collect();
    steps.sort();
    if steps.len() > KEEP {
        for p in &steps[..steps.len() - KEEP] {
            let _ = fs::remove_dir_all(p);
        }
    }
}

/// Reads the config saved in the newest checkpoint of `dir` (to rebuild the same trainer).
pub fn saved_config(dir: &Path) -> Result<(Config, PathBuf), EngineError> {
    let latest = dir.join("LATEST");
    let name = fs::read_to_string(&latest).map_err(|e| {
        err(
            dir,
            format!("not a segscope checkpoint directory (cannot read LATEST: {e})"),
        )
    })?;
    let step_dir = dir.join(name.trim());
    let cfg_path = step_dir.join("config.toml");
    let cfg = Config::load(&cfg_path).map_err(|e| err(&cfg_path, e))?;
    Ok((cfg, step_dir))
}

/// The saved model sizes must be the trainer's: loading weights of other shapes would fail
/// deep inside burn, or worse, succeed on a different model.
fn check_model(step_dir: &Path, trainer: &Trainer) -> Result<(), EngineError> {
    let path = step_dir.join("model.json");
    let text = fs::read_to_string(&path).map_err(|e| err(&path, e))?;
    let saved: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(&path, e))?;
    let now = serde_json::to_value(&trainer.settings().model).map_err(|e| err(&path, e))?;
    let differ: Vec<String> = now
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let s = saved.get(k)?;
            (s != v).then(|| format!("{k} {s} in the checkpoint, {v} now"))
        })
        .collect();
    if differ.is_empty() {
        Ok(())
    } else {
        Err(err(
            &path,
            format!("the model config does not match: {}", differ.join("; ")),
        ))
    }
}

/// Loads model weights, optimiser state and counters from `step_dir` into `trainer`, after
/// checking that the checkpoint was trained on the same data.
pub fn restore(step_dir: &Path, trainer: &mut Trainer) -> Result<(), EngineError> {
    let meta_path = step_dir.join("state.json");
    let text = fs::read_to_string(&meta_path).map_err(|e| err(&meta_path, e))?;
    let format = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format").and_then(serde_json::Value::as_u64));
    if format != Some(u64::from(FORMAT)) {
        return Err(err(
            &meta_path,
            format!(
                "checkpoint format {}, but this segscope reads format {FORMAT}",
                format.map_or("unknown".to_string(), |f| f.to_string())
            ),
        ));
    }
    let meta: Meta = serde_json::from_str(&text).map_err(|e| err(&meta_path, e))?;
    check_model(step_dir, trainer)?;
    let fp = fingerprint(trainer.base_dataset(), trainer.partition());
    if meta.data_fingerprint != fp {
        return Err(err(
            step_dir,
            format!(
                "it was trained on different data ({} with {} segments); pass the same --data to resume",
                meta.data_source, meta.segments
            ),
        ));
    }
    let model = trainer
        .fresh_model()
        .try_load_file(step_dir.join("model.bpk"))
        .map_err(|e| err(step_dir, format!("loading the model: {e}")))?;
    let optim = trainer
        .fresh_optimizer()
        .load(step_dir.join("optim.bpk"))
        .map_err(|e| err(step_dir, format!("loading the optimiser state: {e}")))?;
    // The what-if edits the run had, if any (checked like an edits file).
    let edits_path = step_dir.join("edits.jsonl");
    let edits = if edits_path.is_file() {
        Some(
            crate::data::edits::Edits::read(
                &edits_path,
                trainer.base_dataset(),
                trainer.partition(),
            )
            .map_err(|e| err(step_dir, e))?,
        )
    } else {
        None
    };
    if let Some(e) = edits {
        trainer.set_edits(e);
    }
    trainer.restore(model, optim, meta.state);
    Ok(())
}
