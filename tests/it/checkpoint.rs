//! Checkpoints that cannot be used say why (another format version, another model), and a save
//! that cannot complete leaves the previous checkpoint whole.

use std::sync::Arc;

use segscope::cli::session;
use segscope::config::Config;
use segscope::data::{self, Partition, ReadOptions, features::featurize};
use segscope::engine::{TrainSettings, Trainer, checkpoint};

const DATA: &str = "{\"id\": \"a\", \"split\": \"train\", \"segments\": [{\"text\": \"one two\", \"score\": 0.5}, {\"text\": \"three\", \"score\": -0.5}]}\n{\"id\": \"b\", \"split\": \"dev\", \"segments\": [{\"text\": \"four\", \"score\": 0.1}]}";

fn trained(cfg: &Config, steps: usize) -> (data::Dataset, Trainer) {
    let (ds, _) = data::parse_str(DATA, "t", &ReadOptions::default()).expect("data");
    let f = featurize(&ds, &cfg.features);
    let part = Arc::new(Partition::new(&ds, cfg.dev_fraction));
    let mut t = Trainer::new(
        Arc::new(ds.clone()),
        part,
        f,
        TrainSettings::from_config(cfg),
    )
    .expect("trainer");
    for _ in 0..steps {
        t.step();
    }
    (ds, t)
}

fn resume_error(dir: &std::path::Path, ds: data::Dataset, cfg: Config) -> String {
    let (_, step_dir) = checkpoint::saved_config(dir).expect("saved config");
    match session::from_dataset(cfg, "x".into(), ds, vec![], Some(step_dir)) {
        Ok(_) => panic!("resumed from an unusable checkpoint"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn another_format_version_is_refused_and_says_which() {
    let cfg = Config::default();
    let (ds, t) = trained(&cfg, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let step_dir = checkpoint::save(dir.path(), &t, &cfg).expect("save");
    let state = step_dir.join("state.json");
    let text = std::fs::read_to_string(&state).expect("state");
    let v2 = text.replacen("\"format\": 1", "\"format\": 2", 1);
    assert_ne!(text, v2, "state.json records the format");
    std::fs::write(&state, v2).expect("write");
    let e = resume_error(dir.path(), ds, cfg);
    assert!(
        e.contains("format 2") && e.contains("reads format 1"),
        "{e}"
    );
}

#[test]
fn another_model_config_is_refused_and_says_what_differs() {
    let cfg = Config::default();
    let (ds, t) = trained(&cfg, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    checkpoint::save(dir.path(), &t, &cfg).expect("save");
    let mut other = cfg.clone();
    other.model.hidden = 16;
    let e = resume_error(dir.path(), ds, other);
    assert!(
        e.contains("model config does not match") && e.contains("hidden 64"),
        "{e}"
    );
}

#[test]
fn a_save_that_cannot_complete_leaves_the_previous_checkpoint_whole() {
    let cfg = Config::default();
    let (_, mut t) = trained(&cfg, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let first = checkpoint::save(dir.path(), &t, &cfg).expect("save");
    let files = |p: &std::path::Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(p)
            .expect("dir")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = files(&first);
    let latest = std::fs::read_to_string(dir.path().join("LATEST")).expect("latest");
    t.step();
    // The spot the next save writes to first is taken by a file it cannot replace: the save
    // fails part-way, as on a full disk.
    let blocker = dir
        .path()
        .join(format!(".tmp-step-000002-{}", std::process::id()));
    std::fs::write(&blocker, b"in the way").expect("blocker");
    assert!(checkpoint::save(dir.path(), &t, &cfg).is_err());
    assert_eq!(
        files(&first),
        before,
        "the previous checkpoint is untouched"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("LATEST")).expect("latest"),
        latest
    );
    assert!(!dir.path().join("step-000002").exists());
    std::fs::remove_file(&blocker).expect("remove");
    // A read-only directory: refused to anyone but root (who may write anywhere).
    #[cfg(unix)]
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555))
            .expect("chmod");
        assert!(checkpoint::save(dir.path(), &t, &cfg).is_err());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        assert_eq!(files(&first), before);
    }
}
