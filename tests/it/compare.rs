//! Regression is not ranking: the pairwise objective against hand-computed values, its blindness
//! to a document's shift, and objectives compared side by side on the bundled data.

use std::sync::Arc;

use burn::prelude::*;
use segscope::config::{Config, LossName};
use segscope::data::{self, Partition, ReadOptions, features::featurize};
use segscope::engine::metrics::{pairwise_loss, softplus};
use segscope::engine::tensors::{Pairs, pairwise_tensor};
use segscope::source::compare::{Compare, affine, leaders};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn the_pairwise_loss_and_its_gradient_by_hand() {
    // The seed's second fact: targets (0.9, 0.1, -0.6), predictions (0.8, 0.5, -0.7), one
    // document. Pairs (hi, lo): (0, 1), (0, 2), (1, 2); differences 0.3, 1.5, 1.2.
    let t = [0.9, 0.1, -0.6];
    let p = [0.8, 0.5, -0.7];
    let want = (softplus(-0.3) + softplus(-1.5) + softplus(-1.2)) / 3.0;
    assert!((want - (0.5544 + 0.2014 + 0.2633) / 3.0).abs() < 1e-4);
    assert!((pairwise_loss(&p, &t, &[vec![0, 1, 2]]) - want).abs() < 1e-12);
    // d/dp_i of softplus(-(p_i - p_j)) is -sigmoid(-(p_i - p_j)); +that for p_j.
    let (s01, s02, s12) = (sigmoid(-0.3), sigmoid(-1.5), sigmoid(-1.2));
    let grad = [-(s01 + s02) / 3.0, (s01 - s12) / 3.0, (s02 + s12) / 3.0];

    let device = Device::flex().autodiff();
    let mut rng = data::hash::Rng::new(1);
    let pairs =
        Pairs::build(&[0.9, 0.1, -0.6], &[vec![0, 1, 2]], &mut rng, &device).expect("pairs");
    assert_eq!(pairs.len, 3);
    let pred: Tensor<2> =
        Tensor::from_data(TensorData::new(vec![0.8f32, 0.5, -0.7], [3, 1]), &device).require_grad();
    let loss = pairwise_tensor(pred.clone(), &pairs);
    let got = f64::from(loss.clone().into_scalar::<f32>());
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    let grads = loss.backward();
    let g = pred
        .grad(&grads)
        .expect("grad")
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    for (a, b) in g.iter().zip(grad) {
        assert!((f64::from(*a) - b).abs() < 1e-6, "{g:?} vs {grad:?}");
    }
    // The gradients sum to zero: the loss cannot move the document's mean.
    assert!(g.iter().map(|&x| f64::from(x)).sum::<f64>().abs() < 1e-6);
}

#[test]
fn a_shift_of_a_documents_predictions_costs_the_pairwise_loss_nothing() {
    let t = [0.9, 0.1, -0.6, 0.3, 0.2];
    let p = [0.8, 0.5, -0.7, 0.0, 0.4];
    let groups = [vec![0, 1, 2], vec![3, 4]];
    let base = pairwise_loss(&p, &t, &groups);
    let mut shifted = p;
    for x in &mut shifted[..3] {
        *x += 5.0;
    }
    for x in &mut shifted[3..] {
        *x -= 2.5;
    }
    assert!((pairwise_loss(&shifted, &t, &groups) - base).abs() < 1e-12);
    // While the squared error notices.
    let mse = |p: &[f64]| t.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
    assert!(mse(&shifted) > 10.0 * mse(&p));
}

fn bundled() -> (Arc<data::Dataset>, Arc<Partition>, data::Features, Config) {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled");
    let cfg = Config::default();
    let f = featurize(&ds, &cfg.features);
    let part = Arc::new(Partition::new(&ds, cfg.dev_fraction));
    (Arc::new(ds), part, f, cfg)
}

#[test]
fn every_model_starts_from_the_same_weights_and_runs_deterministically() {
    let (ds, part, f, cfg) = bundled();
    let losses = [LossName::Mse, LossName::Pairwise, LossName::Huber];
    let mut a = Compare::new(ds.clone(), part.clone(), &f, &cfg, &losses).expect("compare");
    let first = a.trainers[0].parameters_host();
    for t in &a.trainers[1..] {
        assert!(t.parameters_host() == first, "identical initial weights");
    }
    let mut b = Compare::new(ds, part, &f, &cfg, &losses).expect("compare");
    assert!(
        b.trainers[0].parameters_host() == first,
        "the same seed, the same weights"
    );
    // flex sums in parallel, in an order that can vary between runs, so the last bits of a
    // value may differ: runs agree to 1e-5, not bit for bit.
    for _ in 0..5 {
        let (ra, rb) = (a.step(), b.step());
        for (ma, mb) in ra.models.iter().zip(&rb.models) {
            assert_eq!(ma.name, mb.name);
            let worst = ma
                .segments
                .iter()
                .zip(mb.segments.iter())
                .map(|(x, y)| (x.pred - y.pred).abs())
                .fold(0f32, f32::max);
            assert!(worst <= 1e-5, "{} differs between runs by {worst}", ma.name);
            assert!((ma.dev.mse - mb.dev.mse).abs() <= 1e-6 * ma.dev.mse);
        }
    }
}

#[test]
fn pairwise_ranks_like_regression_while_missing_every_value() {
    let (ds, part, f, cfg) = bundled();
    let mut c = Compare::new(
        ds.clone(),
        part.clone(),
        &f,
        &cfg,
        &[LossName::Mse, LossName::Pairwise],
    )
    .expect("compare");
    let mut r = c.step();
    for _ in 1..300 {
        r = c.step();
    }
    let (mse, pw) = (&r.models[0], &r.models[1]);
    eprintln!(
        "after 300 steps, dev: mse model MSE {:.4} pair acc {:.4} spearman {:.4}; pairwise model MSE {:.4} pair acc {:.4} spearman {:.4} bias {:.3}; after its affine map MSE {:.4}",
        mse.dev.mse,
        mse.dev.pairwise_acc,
        mse.dev.spearman,
        pw.dev.mse,
        pw.dev.pairwise_acc,
        pw.dev.spearman,
        pw.dev.bias,
        pw.affine.map_or(f64::NAN, |a| a.dev_mse_after)
    );
    assert!((pw.dev.pairwise_acc - mse.dev.pairwise_acc).abs() < 0.05);
    assert!(pw.dev.mse > 10.0 * mse.dev.mse, "raw MSE far higher");
    let a = pw.affine.expect("the pairwise model's affine map");
    assert_eq!(a, affine(&ds, &part, &pw.segments));
    assert!(
        a.dev_mse_after < 2.0 * mse.dev.mse,
        "the map recovers the values"
    );
    let lead = leaders(&r.models);
    assert!(lead.contains(&("MSE", "mse".to_string())), "{lead:?}");
}
