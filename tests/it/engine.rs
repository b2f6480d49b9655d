//! Engine tests on the real code path: the three facts of DOMAIN.md, weight change, quality on the
//! default data, checkpoints, backends, divergence and determinism.

use std::sync::Arc;

use burn::module::Param;
use burn::prelude::*;
use segscope::cli::session;
use segscope::config::{BackendKind, Config, OptimizerName};
use segscope::data::{self, Dataset, Partition, ReadOptions, features::featurize};
use segscope::engine::checkpoint;
use segscope::engine::loss_tensor;
use segscope::engine::metrics::{LossKind, SplitMetrics};
use segscope::engine::{StepReport, TrainSettings, Trainer};

fn dataset(jsonl: &str) -> Dataset {
    data::parse_str(jsonl, "test", &ReadOptions::default())
        .expect("valid test data")
        .0
}

fn trainer(ds: Dataset, cfg: &Config) -> Trainer {
    let f = featurize(&ds, &cfg.features);
    let part = Arc::new(Partition::new(&ds, cfg.dev_fraction));
    Trainer::new(Arc::new(ds), part, f, TrainSettings::from_config(cfg)).expect("trainer")
}

fn sgd(lr: f64) -> Config {
    let mut cfg = Config::default();
    cfg.train.optimizer = OptimizerName::Sgd;
    cfg.train.momentum = 0.0;
    cfg.train.weight_decay = 0.0;
    cfg.train.lr = lr;
    cfg
}

/// A copy of `t`'s model whose prediction for segment 0 is exactly `want` (by moving the head's
/// bias), wrapped in a fresh trainer.
fn trainer_predicting(ds: Dataset, cfg: &Config, want: f32) -> Trainer {
    let f = featurize(&ds, &cfg.features);
    let part = Arc::new(Partition::new(&ds, cfg.dev_fraction));
    let ds = Arc::new(ds);
    let settings = TrainSettings::from_config(cfg);
    let t = Trainer::new(ds.clone(), part.clone(), f.clone(), settings.clone()).expect("trainer");
    let p0 = t.predict_all()[0];
    let mut model = t.model().clone();
    let bias = model.head.bias.take().expect("head has a bias");
    model.head.bias = Some(Param::from_tensor((bias.val() + (want - p0)).detach()));
    Trainer::with_model(ds, part, f, settings, model).expect("trainer")
}

const ONE: &str = r#"{"id": "d", "split": "train", "prompt": "How do I descale a kettle?", "segments": [{"text": "Fill it with equal parts water and white vinegar.", "score": 0.8}]}"#;

#[test]
fn fact_one_a_step_moves_the_prediction_toward_the_target_without_overshooting() {
    // The gradient of (s - r)^2 with respect to r at s = 0.8, r = 0.3, through the trainer's own
    // loss function: 2 (0.3 - 0.8) = -1.0.
    let device = Device::flex().autodiff();
    let pred =
        Tensor::<2>::from_data(TensorData::new(vec![0.3f32], [1, 1]), &device).require_grad();
    let target = Tensor::<2>::from_data(TensorData::new(vec![0.8f32], [1, 1]), &device);
    let loss = loss_tensor(pred.clone(), target, LossKind::Mse);
    let loss_value = loss.clone().into_scalar::<f32>();
    assert!((loss_value - 0.25).abs() < 1e-6, "loss {loss_value}");
    let grads = loss.backward();
    let g = pred.grad(&grads).expect("gradient of the prediction");
    let g = g.into_data().try_to_vec::<f32>().expect("f32");
    assert!((g[0] + 1.0).abs() < 1e-6, "dL/dpred = {}", g[0]);

    let mut t = trainer_predicting(dataset(ONE), &sgd(0.01), 0.3);
    let before = t.predict_all()[0];
    assert!((before - 0.3).abs() < 1e-5, "prediction before = {before}");
    let r = t.step();
    assert!(r.diverged.is_none());
    let after = r.segments[0].pred;
    assert!(after > before, "prediction must rise: {before} -> {after}");
    assert!(
        after < 0.8,
        "a small learning rate must not overshoot: {after}"
    );
    assert!(
        (r.batch_loss - 0.25).abs() < 1e-5,
        "batch loss {}",
        r.batch_loss
    );
    // Backpropagation reached every parameter tensor.
    for l in &r.layers {
        assert!(l.weight_change > 0.0, "{} did not move", l.name);
    }
    // The residual shrank, and the reported residual is target - prediction.
    assert!((r.segments[0].residual - (0.8 - after)).abs() < 1e-6);
}

#[test]
fn fact_two_loss_shares_on_the_real_path() {
    let text = r#"{"id": "d", "split": "train", "segments": [{"text": "alpha one", "score": 0.9}, {"text": "beta two", "score": 0.1}, {"text": "gamma three", "score": -0.6}]}"#;
    let mut t = trainer(dataset(text), &Config::default());
    let r = t.snapshot_report();
    let targets = [0.9f64, 0.1, -0.6];
    let sq: Vec<f64> = (0..3)
        .map(|i| (targets[i] - f64::from(r.segments[i].pred)).powi(2))
        .collect();
    let total: f64 = sq.iter().sum();
    for (e, sq) in r.segments.iter().zip(&sq) {
        assert!((f64::from(e.share) - sq / total).abs() < 1e-5);
        assert!((f64::from(e.loss) - sq).abs() < 1e-5);
    }
    let s: f32 = r.segments.iter().map(|e| e.share).sum();
    assert!((s - 1.0).abs() < 1e-5);
}

#[test]
fn fact_three_shifted_predictions_rank_perfectly_with_positive_mse() {
    let t = [0.9, 0.1, -0.6, 0.4];
    let p: Vec<f64> = t.iter().map(|x| x + 0.25).collect();
    let m = SplitMetrics::compute(&p, &t, &[vec![0, 1, 2, 3]], LossKind::Mse);
    assert!((m.spearman - 1.0).abs() < 1e-12);
    assert!((m.kendall_tau_b - 1.0).abs() < 1e-12);
    assert!((m.pairwise_acc - 1.0).abs() < 1e-12);
    assert!((m.mse - 0.0625).abs() < 1e-12 && (m.bias + 0.25).abs() < 1e-12);
}

/// Adam measures its norms inside its fused update; SGD's are reduced from the tensors. From the
/// same weights the first step's gradient is the same, so both report the same gradient norm, and
/// each reports the norms of the weights it left.
#[test]
fn the_fused_adam_and_sgd_report_the_same_gradient_and_true_weight_norms() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let mut sgd_cfg = Config::default();
    sgd_cfg.train.optimizer = OptimizerName::Sgd;
    let mut adam = trainer(ds.clone(), &Config::default());
    let mut sgd = trainer(ds, &sgd_cfg);
    let (a, b) = (adam.step(), sgd.step());
    assert!(a.grad_norm > 0.0);
    assert!(
        (a.grad_norm - b.grad_norm).abs() <= 1e-4 * b.grad_norm,
        "adam {} sgd {}",
        a.grad_norm,
        b.grad_norm
    );
    for (t, r) in [(&adam, &a), (&sgd, &b)] {
        for (name, w) in t.parameters_host() {
            let norm = w.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            let layer = r.layers.iter().find(|l| l.name == name).expect("layer");
            assert!(
                (layer.norm - norm).abs() <= 1e-4 * norm.max(1e-3),
                "{name}: reported {} actual {norm}",
                layer.norm
            );
        }
    }
}

#[test]
fn reported_weight_change_is_the_norm_of_the_parameter_difference() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let mut t = trainer(ds, &Config::default());
    t.step();
    let before = t.parameters_host();
    let r = t.step();
    let after = t.parameters_host();
    let mut total = 0f64;
    for ((name, b), (name2, a)) in before.iter().zip(&after) {
        assert_eq!(name, name2);
        let d2: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
        total += d2;
        let layer = r
            .layers
            .iter()
            .find(|l| &l.name == name)
            .expect("layer reported");
        assert!(
            (layer.weight_change - d2.sqrt()).abs() <= 1e-4 * d2.sqrt().max(1e-3),
            "{name}: reported {} actual {}",
            layer.weight_change,
            d2.sqrt()
        );
    }
    assert!((r.weight_change - total.sqrt()).abs() <= 1e-4 * total.sqrt());
    let names: Vec<&str> = r.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "emb.weight",
            "hidden.weight",
            "hidden.bias",
            "head.weight",
            "head.bias"
        ]
    );
}

/// The regression data map after 300 steps: the recorded corruptions land mostly in `hard`, and
/// few clean segments do.
fn data_map_puts_corruptions_in_hard(
    window: &segscope::analysis::datamap::Window,
    ds: &Dataset,
    part: &Partition,
) {
    use segscope::analysis::datamap::Region;
    let map = window
        .map(part, &segscope::labels::classes(ds))
        .expect("a map over 20 steps");
    assert_eq!((map.first, map.last, map.steps), (281, 300, 20));
    let labelled: Vec<usize> = (0..ds.segments.len())
        .filter(|&i| part.is_labelled(i))
        .collect();
    let (noisy, clean): (Vec<usize>, Vec<usize>) = labelled
        .iter()
        .partition(|&&i| ds.segments[i].label("noise").is_some());
    let hard = |v: &[usize]| {
        v.iter()
            .filter(|&&i| map.points[i].region == Some(Region::Hard))
            .count()
    };
    let (nh, ch) = (hard(&noisy), hard(&clean));
    let ambiguous = labelled
        .iter()
        .filter(|&&i| map.points[i].region == Some(Region::Ambiguous))
        .count();
    println!(
        "data map over steps 281-300: {nh} of {} corruptions hard, {ch} of {} clean segments hard, {ambiguous} ambiguous (hard at |r| > {:?}, ambiguous at sd > {:?}, train and dev)",
        noisy.len(),
        clean.len(),
        map.hard_at,
        map.ambiguous_at
    );
    assert!(
        nh * 4 >= noisy.len() * 3,
        "{nh} of {} corruptions in hard",
        noisy.len()
    );
    let labelled_hard = clean
        .iter()
        .filter(|&&i| {
            map.points[i].region == Some(Region::Hard) && ds.segments[i].label("hard").is_some()
        })
        .count();
    println!("of the clean segments in hard, {labelled_hard} carry the data's `hard` label");
    assert!(
        ch * 100 <= clean.len() * 6,
        "{ch} of {} clean segments in hard",
        clean.len()
    );
}

/// Gradient share after 300 steps: the corruptions pull the output layer far harder than the
/// typical training segment.
fn corruptions_pull_hardest(r: &StepReport, ds: &Dataset, part: &Partition) {
    let train = part.indices(data::Split::Train);
    let (noisy, clean): (Vec<usize>, Vec<usize>) = train
        .iter()
        .partition(|&&i| ds.segments[i].label("noise").is_some());
    let mean = |v: &[usize]| {
        v.iter()
            .map(|&i| f64::from(r.grad_of(i).share))
            .sum::<f64>()
            / v.len() as f64
    };
    let noisy_total: f64 = noisy.iter().map(|&i| f64::from(r.grad_of(i).share)).sum();
    println!(
        "gradient share after 300 steps: {} corruptions hold {:.1}% of the pull, {:.1}x a clean segment's each",
        noisy.len(),
        100.0 * noisy_total,
        mean(&noisy) / mean(&clean)
    );
    assert!(mean(&noisy) > 3.0 * mean(&clean));
}

/// Share of the recorded corruptions in the training split that rank in its top 5% by loss share.
fn corruption_recall(r: &StepReport, ds: &Dataset) -> (usize, usize) {
    let mut train = Partition::new(ds, Config::default().dev_fraction).indices(data::Split::Train);
    train.sort_by(|&a, &b| r.segments[b].share.total_cmp(&r.segments[a].share));
    let top: std::collections::HashSet<usize> = train[..train.len() / 20].iter().copied().collect();
    let noisy: Vec<usize> = train
        .iter()
        .copied()
        .filter(|&i| ds.segments[i].label("noise").is_some())
        .collect();
    (
        noisy.iter().filter(|i| top.contains(i)).count(),
        noisy.len(),
    )
}

#[test]
fn default_data_and_config_learn_and_surface_the_corruptions() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let ds_ref = ds.clone();
    let mut t = trainer(ds, &Config::default());
    let first = t.step();
    let mut last = first.clone();
    let mut window = segscope::analysis::datamap::Window::default();
    for _ in 1..300 {
        last = t.step();
        assert!(last.diverged.is_none());
        window.push(last.eval_step, last.segments.clone());
    }
    assert_eq!(last.step, 300);
    data_map_puts_corruptions_in_hard(&window, &ds_ref, t.partition());
    corruptions_pull_hardest(&last, &ds_ref, t.partition());
    assert!(
        last.dev.r2 >= 0.5,
        "dev R^2 after 300 steps: {}",
        last.dev.r2
    );
    assert!(last.train.loss < first.train.loss);
    let (found, total) = corruption_recall(&last, &ds_ref);
    assert!(
        total >= 20,
        "the bundled data records corruptions in train: {total}"
    );
    assert!(
        found * 5 >= total * 4,
        "{found} of {total} recorded corruptions in the top 5% by loss share"
    );
}

#[test]
fn resuming_from_a_checkpoint_matches_an_uninterrupted_run() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    for batch in [0usize, 64] {
        let mut cfg = Config::default();
        cfg.train.batch_size = batch;
        let mut straight = trainer(ds.clone(), &cfg);
        for _ in 0..12 {
            straight.step();
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut first = trainer(ds.clone(), &cfg);
        for _ in 0..6 {
            first.step();
        }
        let step_dir = checkpoint::save(dir.path(), &first, &cfg).expect("save");
        assert!(step_dir.ends_with("step-000006"));
        drop(first);
        let (saved_cfg, step_dir) = checkpoint::saved_config(dir.path()).expect("saved config");
        assert_eq!(saved_cfg, cfg);
        let s = session::from_dataset(saved_cfg, "ckpt".into(), ds.clone(), vec![], Some(step_dir))
            .expect("resume");
        let mut resumed = s.trainer;
        assert_eq!(resumed.step_count(), 6);
        for _ in 0..6 {
            resumed.step();
        }
        let (a, b) = (straight.predict_all(), resumed.predict_all());
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            max < 1e-5,
            "batch {batch}: resumed predictions differ by {max}"
        );
    }
}

#[test]
fn resuming_on_other_data_is_refused() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let cfg = Config::default();
    let t = trainer(ds, &cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    let step_dir = checkpoint::save(dir.path(), &t, &cfg).expect("save");
    let other = dataset(ONE);
    let err = session::from_dataset(cfg, "x".into(), other, vec![], Some(step_dir))
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("different data"), "{err}");
}

#[test]
fn flex_and_ndarray_agree_from_the_same_weights() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let cfg = Config::default();
    let flex = trainer(ds.clone(), &cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    let step_dir = checkpoint::save(dir.path(), &flex, &cfg).expect("save");
    let mut flex = flex;
    let mut nd_cfg = cfg.clone();
    nd_cfg.backend = BackendKind::Ndarray;
    let mut nd = session::from_dataset(nd_cfg, "x".into(), ds, vec![], Some(step_dir))
        .expect("ndarray from the same weights")
        .trainer;
    let (a0, b0) = (flex.predict_all(), nd.predict_all());
    let d0 = a0
        .iter()
        .zip(&b0)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(d0 < 1e-5, "same weights, different predictions: {d0}");
    let (mut ra, mut rb) = (flex.step(), nd.step());
    for _ in 1..10 {
        ra = flex.step();
        rb = nd.step();
    }
    let d = ra
        .segments
        .iter()
        .zip(rb.segments.iter())
        .map(|(x, y)| (x.pred - y.pred).abs())
        .fold(0f32, f32::max);
    assert!(d < 1e-3, "after 10 steps the backends differ by {d}");
    assert!((ra.train.loss - rb.train.loss).abs() < 1e-4);
}

#[test]
fn divergence_is_reported_and_the_model_is_kept() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let mut t = trainer(ds, &sgd(1e38));
    let before = t.parameters_host();
    let mut diverged = None;
    for _ in 0..5 {
        let r = t.step();
        if r.diverged.is_some() {
            diverged = Some(r);
            break;
        }
    }
    let r = diverged.expect("an absurd learning rate must diverge");
    assert!(
        r.diverged.as_deref().unwrap_or("").contains("step"),
        "{:?}",
        r.diverged
    );
    let after = t.parameters_host();
    if r.step == 1 {
        assert_eq!(
            before, after,
            "a refused update must leave the weights as they were"
        );
    }
    assert!(after.iter().all(|(_, v)| v.iter().all(|x| x.is_finite())));
    assert!(r.segments.iter().all(|e| e.pred.is_finite()));
    // Later steps keep saying so rather than training on.
    let again = t.step();
    assert!(again.diverged.is_some());
    assert_eq!(t.step_count(), r.step - 1);
}

#[test]
fn same_seed_same_data_same_reports() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let mut cfg = Config::default();
    cfg.train.batch_size = 128;
    let run = || {
        let mut t = trainer(ds.clone(), &cfg);
        (0..5)
            .map(|_| {
                let r = t.step();
                (
                    r.step,
                    r.batch.clone(),
                    r.segments.clone(),
                    r.train,
                    r.dev,
                    r.weight_change,
                )
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.1, y.1, "same batches");
        assert_eq!(x.2, y.2, "same predictions");
        assert_eq!(x.5, y.5);
    }
    assert_ne!(a[0].1, a[1].1, "mini-batches move through the data");
    assert_eq!(a[0].1.len(), 128);
}

#[test]
fn eval_every_reuses_predictions_and_says_from_which_step() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let mut cfg = Config::default();
    cfg.train.eval_every = 3;
    let mut t = trainer(ds, &cfg);
    let steps: Vec<(u64, u64)> = (0..6)
        .map(|_| {
            let r = t.step();
            (r.step, r.eval_step)
        })
        .collect();
    assert_eq!(steps, vec![(1, 1), (2, 1), (3, 3), (4, 3), (5, 3), (6, 6)]);
}

#[test]
fn mini_batch_rows_carry_their_own_forward_pass_between_refreshes() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let mut cfg = Config::default();
    cfg.train.batch_size = 64;
    let mut t = trainer(ds.clone(), &cfg);
    let n_train = t.partition().counts().0;
    // Automatic: once an epoch with mini-batches.
    assert_eq!(t.eval_interval(), n_train.div_ceil(64) as u64);
    let mut prev = t.step();
    assert!(prev.pred_steps.is_empty(), "the first step refreshes");
    for _ in 0..4 {
        let before = t.predict_all();
        let r = t.step();
        assert_eq!(r.eval_step, 1, "no refresh yet at step {}", r.step);
        assert_eq!(r.train, prev.train, "the split metrics are the refresh's");
        let in_batch: std::collections::HashSet<usize> = r.batch.iter().copied().collect();
        assert_eq!(in_batch.len(), 64);
        for (i, &b) in before.iter().enumerate() {
            if in_batch.contains(&i) {
                let e = r.segments[i];
                assert!(
                    (e.pred - b).abs() < 1e-4,
                    "batch row {i}: {} against the pre-update model's {b}",
                    e.pred
                );
                assert!((e.residual - (ds.target(i) - e.pred)).abs() < 1e-6);
                assert_eq!(r.pred_step(i), r.step - 1, "dated before the update");
            } else {
                assert_eq!(r.segments[i], prev.segments[i], "row {i} kept");
                assert_eq!(r.pred_step(i), prev.pred_step(i));
            }
        }
        prev = r;
    }
    let k = t.eval_interval();
    let mut r = prev;
    while r.step < k {
        r = t.step();
    }
    assert_eq!((r.step, r.eval_step), (k, k), "refreshed once an epoch");
    assert!(r.pred_steps.is_empty(), "every row is the refresh's");
    assert!(!r.grad.is_empty(), "a refresh computes the gradient shares");
    let now = t.predict_all();
    for (i, p) in now.iter().enumerate() {
        if ds.segments[i].score.is_some() {
            assert!((r.segments[i].pred - p).abs() < 1e-4);
        }
    }
}

#[test]
fn eval_every_zero_means_every_step_with_full_batch() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let t = trainer(ds, &Config::default());
    assert_eq!(Config::default().train.eval_every, 0);
    assert_eq!(t.eval_interval(), 1);
}

#[test]
fn huber_and_mae_train_too() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    for loss in [
        segscope::config::LossName::Huber,
        segscope::config::LossName::Mae,
    ] {
        let mut cfg = Config::default();
        cfg.train.loss = loss;
        let mut t = trainer(ds.clone(), &cfg);
        let first = t.step();
        let mut last = first.clone();
        for _ in 0..30 {
            last = t.step();
        }
        assert!(
            last.train.loss < first.train.loss,
            "{loss:?} did not reduce its loss"
        );
    }
}

/// Sum of squared gradients of `model`'s parameters for the full-batch loss on the training rows,
/// computed here from scratch, independently of the trainer's instrumentation.
fn grad_norm_from_scratch(t: &Trainer, cfg: &Config) -> f64 {
    use burn::module::ModuleVisitor;
    use burn::optim::GradientsParams;
    use segscope::data::Split;
    use segscope::engine::{plain_device, split_inputs};
    struct Sq<'a>(&'a GradientsParams, f64);
    impl ModuleVisitor for Sq<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let Some(g) = self.0.get::<D>(p.id) {
                let v = g.into_data().try_into_vec::<f32>().expect("f32 gradient");
                self.1 += v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
            }
        }
    }
    let ds = t.dataset();
    let f = featurize(ds, &cfg.features);
    let plain = plain_device(cfg.backend);
    let rows = t.partition().indices(Split::Train);
    let (x, _) = split_inputs(f, &rows, &[], cfg.train.batch_size == 0, &plain);
    let y: Vec<f32> = rows.iter().map(|&i| ds.target(i)).collect();
    let y = Tensor::from_data(TensorData::new(y, [rows.len(), 1]), &plain);
    let model = t.model().clone();
    let loss = loss_tensor(model.forward(&x), y, LossKind::Mse);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut sq = Sq(&grads, 0.0);
    model.visit(&mut sq);
    sq.1.sqrt()
}

#[test]
fn a_full_batch_report_matches_a_fresh_evaluation_of_the_updated_model() {
    // With full batch the report's predictions come from the forward pass the next step trains on
    // and the dev rows' pass on a helper thread; they must be exactly what a separate evaluation
    // of the updated model gives, each on its own segment, and so must the metrics and the norm.
    use segscope::data::Split;
    use segscope::engine::SegmentEval;
    use segscope::engine::report::evaluate_split;
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let cfg = Config::default();
    let mut t = trainer(ds.clone(), &cfg);
    t.step();
    t.step();
    let expect_grad = grad_norm_from_scratch(&t, &cfg);
    let r = t.step();
    assert!(
        (r.grad_norm - expect_grad).abs() <= 1e-4 * expect_grad,
        "reported {} from scratch {expect_grad}",
        r.grad_norm
    );
    let preds = t.predict_all();
    for (i, (e, p)) in r.segments.iter().zip(&preds).enumerate() {
        assert!((e.pred - p).abs() <= 1e-5, "segment {i}: {} vs {p}", e.pred);
    }
    let mut segs = vec![SegmentEval::default(); preds.len()];
    let train = evaluate_split(
        &ds,
        &preds,
        &t.partition().indices(Split::Train),
        LossKind::from_config(&cfg.train),
        &mut segs,
    );
    let dev = evaluate_split(
        &ds,
        &preds,
        &t.partition().indices(Split::Dev),
        LossKind::from_config(&cfg.train),
        &mut segs,
    );
    for (got, want) in [(&r.train, &train), (&r.dev, &dev)] {
        assert_eq!(got.n, want.n);
        for (a, b) in [
            (got.loss, want.loss),
            (got.r2, want.r2),
            (got.spearman, want.spearman),
            (got.kendall_tau_b, want.kendall_tau_b),
            (got.pairwise_acc, want.pairwise_acc),
        ] {
            assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
        }
    }
    for (a, b) in r.segments.iter().zip(&segs) {
        assert!((a.share - b.share).abs() <= 1e-6);
    }
}

/// The output layer's gradient (weight then bias) of `loss` for `model`, from burn's autodiff.
fn head_grad(model: &segscope::engine::model::SegmentModel, loss: Tensor<1>) -> Vec<f64> {
    use burn::optim::GradientsParams;
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let w = grads
        .get::<2>(model.head.weight.id)
        .expect("head weight gradient");
    let b = grads
        .get::<1>(model.head.bias.as_ref().expect("head bias").id)
        .expect("head bias gradient");
    w.into_data()
        .iter::<f32>()
        .chain(b.into_data().iter::<f32>())
        .map(f64::from)
        .collect()
}

#[test]
fn gradient_shares_match_autodiff_per_segment() {
    use segscope::data::Split;
    use segscope::engine::{plain_device, split_inputs};
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let cfg = Config::default();
    let mut t = trainer(ds.clone(), &cfg);
    for _ in 0..5 {
        t.step();
    }
    let r = t.step();
    let rows = t.partition().indices(Split::Train);
    let total: f64 = rows.iter().map(|&i| f64::from(r.grad_of(i).share)).sum();
    assert!((total - 1.0).abs() < 1e-3, "training shares sum to {total}");
    for &i in t.partition().indices(Split::Dev).iter().take(5) {
        assert!(
            r.grad_of(i).share.is_nan(),
            "dev rows have no gradient share"
        );
    }

    let plain = plain_device(cfg.backend);
    // Padded: the check below selects one row at a time, as mini-batches do.
    let (x, _) = split_inputs(featurize(&ds, &cfg.features), &rows, &[], false, &plain);
    let y: Vec<f32> = rows.iter().map(|&i| ds.target(i)).collect();
    let y = Tensor::<2>::from_data(TensorData::new(y, [rows.len(), 1]), &plain);
    let model = t.model().clone();
    let pred = model.forward(&x);
    let y_ad = Tensor::<2>::from_inner(y.clone());
    let total_grad = head_grad(&model, (y_ad - pred).powi_scalar(2).sum());
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let sample: Vec<usize> = (0..rows.len()).step_by(rows.len() / 7).take(7).collect();
    let mut own = Vec::new();
    for &k in &sample {
        let idx = Tensor::<1, Int>::from_ints(TensorData::new(vec![k as i64], [1]), &plain);
        let p = model.forward(&x.select(idx.clone()));
        let yk = Tensor::<2>::from_inner(y.clone().select(0, idx));
        let g = head_grad(&model, (yk - p).powi_scalar(2).sum());
        let cos = g.iter().zip(&total_grad).map(|(a, b)| a * b).sum::<f64>()
            / (norm(&g) * norm(&total_grad));
        let got = r.grad_of(rows[k]);
        assert!(
            (f64::from(got.align) - cos).abs() < 2e-3,
            "segment {}: alignment {} against autodiff's {cos}",
            rows[k],
            got.align
        );
        own.push((norm(&g), f64::from(got.share)));
    }
    // Shares are norms over their sum: every ratio of two must match autodiff's.
    let (n0, s0) = own[0];
    for &(n, s) in &own[1..] {
        assert!(
            ((s / s0) - (n / n0)).abs() < 2e-3 * (n / n0).max(1.0),
            "share ratio {} against norm ratio {}",
            s / s0,
            n / n0
        );
    }
}

#[test]
fn rewinding_to_a_mark_reproduces_the_first_pass() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    for batch in [0usize, 64] {
        let mut cfg = Config::default();
        cfg.train.batch_size = batch;
        let mut t = trainer(ds.clone(), &cfg);
        for _ in 0..4 {
            t.step();
        }
        let info = t.mark();
        assert_eq!((info.step, info.kept), (4, 1));
        // Weights and Adam's two moments, 4 bytes each.
        let params: usize = t.parameters_host().iter().map(|(_, v)| v.len()).sum();
        assert_eq!(info.bytes, params * 4 * 3);
        let first: Vec<StepReport> = (0..6).map(|_| t.step()).collect();
        assert!(t.rewind());
        assert_eq!(t.step_count(), 4);
        let again: Vec<StepReport> = (0..6).map(|_| t.step()).collect();
        for (a, b) in first.iter().zip(&again) {
            assert_eq!(a.step, b.step);
            assert_eq!(a.eval_step, b.eval_step, "batch {batch}");
            assert_eq!(a.batch, b.batch, "the same batches");
            assert_eq!(a.segments, b.segments, "batch {batch}, step {}", a.step);
            assert_eq!(a.pred_steps, b.pred_steps);
            assert_eq!(a.train, b.train);
            assert_eq!(a.dev, b.dev);
            assert_eq!(a.batch_loss, b.batch_loss);
            assert_eq!(a.weight_change, b.weight_change);
        }
        // Marks beyond the limit drop the oldest.
        for _ in 0..segscope::engine::trainer::MAX_MARKS + 2 {
            t.step();
            t.mark();
        }
        assert_eq!(t.mark().kept, segscope::engine::trainer::MAX_MARKS);
    }
}

#[test]
fn excluding_the_recorded_corruptions_lowers_the_dev_loss() {
    use segscope::data::edits::{Action, Edit, Edits};
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let cfg = Config::default();
    let run = |edits: Option<Edits>| {
        let mut t = trainer(ds.clone(), &cfg);
        if let Some(e) = edits {
            t.set_edits(e);
        }
        let mut last = t.step();
        for _ in 1..300 {
            last = t.step();
        }
        (last.dev.loss, t)
    };
    let (plain, t) = run(None);
    let part = t.partition().clone();
    let list: Vec<Edit> = part
        .indices(data::Split::Train)
        .into_iter()
        .filter(|&i| ds.segments[i].label("noise").is_some())
        .map(|segment| Edit {
            segment,
            action: Action::Exclude,
            step: 0,
        })
        .collect();
    let n = list.len();
    let (edited, mut t) = run(Some(Edits { list }));
    println!(
        "dev loss after 300 steps: {plain:.4} with the corruptions, {edited:.4} without the {n} in train"
    );
    assert!(n >= 40, "{n} corruptions in the training split");
    assert!(edited < plain, "{edited} is not below {plain}");
    // The excluded rows pull nothing.
    let r = t.snapshot_report();
    for e in &t.edits().list {
        assert_eq!(r.grad_of(e.segment).share, 0.0);
    }
}

/// The trainer ranks each split's targets once; an edited target must be ranked anew: the
/// step's rank metrics are those of its predictions against the edited targets.
#[test]
fn the_rank_metrics_follow_an_edited_target() {
    use segscope::data::edits::{Action, Edit, Edits};
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled data");
    let mut t = trainer(ds.clone(), &Config::default());
    let part = t.partition().clone();
    for _ in 0..5 {
        t.step();
    }
    // Every training segment's target reversed: a ranking the old targets' ranks would get
    // badly wrong.
    let train = part.indices(data::Split::Train);
    let list: Vec<Edit> = train
        .iter()
        .map(|&segment| Edit {
            segment,
            action: Action::Target(-ds.target(segment)),
            step: 5,
        })
        .collect();
    let edited = t.set_edits(Edits { list });
    let groups = segscope::engine::report::SplitShape::of(&edited, &train).groups;
    for _ in 0..2 {
        let r = t.step();
        let p: Vec<f64> = train
            .iter()
            .map(|&i| f64::from(r.segments[i].pred))
            .collect();
        let y: Vec<f64> = train.iter().map(|&i| f64::from(edited.target(i))).collect();
        let want = SplitMetrics::compute(&p, &y, &groups, LossKind::Mse);
        assert_eq!(r.train, want, "step {}", r.step);
    }
}

#[test]
fn a_context_segment_is_scored_by_the_model_with_no_residual_or_share() {
    let text = r#"{"id": "d", "split": "train", "segments": [{"text": "a labelled step", "score": 1.0}, {"text": "a step after the first error", "score": null}]}"#;
    let mut t = trainer(dataset(text), &Config::default());
    // The same model scores it on the refresh path, the fused full-batch path and predict_all.
    let r0 = t.snapshot_report();
    let r1 = t.step();
    for r in [&r0, &r1] {
        let c = r.segments[1];
        assert!(c.pred.is_finite(), "{}", c.pred);
        assert!(c.residual.is_nan() && c.share == 0.0 && c.loss == 0.0);
    }
    assert_eq!(t.predict_all()[1], r1.segments[1].pred);
    assert_eq!(r1.train.n, 1, "it is not trained on or measured");
}
