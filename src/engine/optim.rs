//! Adam as one fused pass over each parameter on the host, measuring as it goes the gradient,
//! the weight change and the weights that the step report carries.
//!
//! burn's Adam is a chain of element-wise tensor operations, each one pass over the parameter: on
//! flex, about fifteen passes over the 1M-value embedding table, 2.7-3.0 ms a step of the 8-10 ms
//! full-batch step (`cargo bench -- profile`). Here the same arithmetic, in the same order and
//! precision, is one pass that reads the weights, the gradient and both moments and writes the new
//! ones, split over rayon's pool. The instrumentation's norms (||g||², ||ΔW||², ||W||² per tensor)
//! fall out of the same pass, where they were three more passes on the helper thread.
//!
//! It plugs into burn's `ModuleOptimizer` as an [`Optimizer`] with burn's own [`AdamState`], so
//! checkpoints, marks and the best step's copy keep their format and their cheap clones. It reads
//! its inputs in place (flex tensors are borrowed, not copied) and writes fresh buffers, so a
//! copy of the old model or optimiser held for a rollback or a mark costs nothing.

use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex, PoisonError};

use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

use super::stagger::{STAGGER_MIN, Staggered, page_offset, spread};

/// The squared norms of one parameter tensor's step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TensorNorms {
    /// ||g||² of the raw gradient (before weight decay).
    pub grad: f64,
    /// ||W_new - W_old||².
    pub change: f64,
    /// ||W_new||².
    pub weight: f64,
}

/// Where a measuring optimiser leaves each tensor's norms, in the order the module's parameters
/// are visited (the order `instrument::collect` lists them). Clones share the list.
#[derive(Debug, Clone, Default)]
pub struct NormSink(Arc<Mutex<Vec<TensorNorms>>>);

impl NormSink {
    fn push(&self, n: TensorNorms) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(n);
    }

    /// The norms recorded since the last call.
    pub fn take(&self) -> Vec<TensorNorms> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Adam with coupled L2 weight decay, as burn's `AdamConfig` with its defaults (beta 0.9 and
/// 0.999, epsilon 1e-5, no AMSGrad), fused.
#[derive(Debug, Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    penalty: Option<f32>,
    sink: Option<NormSink>,
}

impl FusedAdam {
    /// Measuring into `sink` when given; without one, no norm is computed.
    pub fn new(weight_decay: Option<f32>, sink: Option<NormSink>) -> Self {
        FusedAdam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            penalty: weight_decay,
            sink,
        }
    }

    /// This optimiser for a whole module.
    pub fn init(self) -> burn::optim::ModuleOptimizer {
        self.into()
    }
}

/// The per-step constants of the update, as burn computes them (f32).
#[derive(Clone, Copy)]
struct Consts {
    b1: f32,
    b2: f32,
    /// 1 - beta.
    f1: f32,
    f2: f32,
    /// Bias correction: the first moment's factor and epsilon scaled by the second's.
    cf: f32,
    eps: f32,
    lr: f32,
    /// The coupled L2 penalty.
    decay: Option<f32>,
    measure: bool,
}

/// Values per rayon task: large enough that a task outweighs its scheduling, small enough that
/// the 1M-value table splits evenly over the cores.
const CHUNK: usize = 1 << 15;

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let shape = tensor.shape();
        let device = tensor.device();
        let n = shape.num_elements();
        let (old_m, old_v, time) = match state {
            Some(s) => (
                Some(s.momentum.moment_1),
                Some(s.momentum.moment_2),
                s.momentum.time + 1,
            ),
            None => (None, None, 1),
        };
        let t = time as i32;
        let bc2 = (1.0 - self.beta_2.powi(t)).sqrt();
        let k = Consts {
            b1: self.beta_1,
            b2: self.beta_2,
            f1: 1.0 - self.beta_1,
            f2: 1.0 - self.beta_2,
            cf: bc2 / (1.0 - self.beta_1.powi(t)),
            eps: self.epsilon * bc2,
            lr: lr as f32,
            decay: self.penalty,
            measure: self.sink.is_some(),
        };
        let (w, g) = (Host::of(tensor), Host::of(grad));
        let (m, v) = (old_m.map(Host::of), old_v.map(Host::of));
        let zeros;
        let (m, v) = match (&m, &v) {
            (Some(m), Some(v)) => (m.slice(), v.slice()),
            _ => {
                // The first step: burn starts the moments from the gradient alone, which equals
                // a step from zero moments exactly (0 * beta + x = x).
                zeros = vec![0.0; n];
                (&zeros[..], &zeros[..])
            }
        };
        // On flex, large outputs start away from the inputs within their 4 KiB pages (see
        // `stagger`); next step they are the inputs.
        let targets = (matches!(w, Host::Flex(..)) && n >= STAGGER_MIN).then(|| {
            let at = |s: &[f32]| page_offset(s.as_ptr());
            spread::<3>(&[at(w.slice()), at(g.slice()), at(m), at(v)])
        });
        let (w, g) = (w.slice(), g.slice());
        // Uninitialised: zeroing 12 MB first would be one more pass over the table.
        let [mut nw, mut nm, mut nv] = [0, 1, 2].map(|i| Staggered::new(n, targets.map(|t| t[i])));
        let parts: Vec<TensorNorms> = nw
            .out()
            .par_chunks_mut(CHUNK)
            .zip(nm.out().par_chunks_mut(CHUNK))
            .zip(nv.out().par_chunks_mut(CHUNK))
            .enumerate()
            .map(|(c, ((ow, om), ov))| {
                let r = c * CHUNK..c * CHUNK + ow.len();
                adam_chunk(
                    k,
                    (&w[r.clone()], &g[r.clone()], &m[r.clone()], &v[r]),
                    (ow, om, ov),
                )
            })
            .collect();
        if let Some(sink) = &self.sink {
            // Summed in chunk order: the same value whatever the number of threads.
            sink.push(
                parts
                    .iter()
                    .fold(TensorNorms::default(), |a, p| TensorNorms {
                        grad: a.grad + p.grad,
                        change: a.change + p.change,
                        weight: a.weight + p.weight,
                    }),
            );
        }
        // SAFETY: the chunks above cover all n values of each output, and `adam_lanes` writes
        // every value of its chunk (the groups, then the tail).
        let make = |values: Staggered| {
            Tensor::<D>::from_data(unsafe { values.into_data(shape.clone()) }, &device)
        };
        let momentum = AdaptiveMomentumState::new(time, make(nm), make(nv));
        (make(nw), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

/// One chunk of the update: inputs (weights, gradient, moments) and outputs (the same, new).
/// Each operation is burn's, in burn's order, so the values match its Adam bit for bit.
fn adam_chunk(
    k: Consts,
    ins: (&[f32], &[f32], &[f32], &[f32]),
    outs: (Out, Out, Out),
) -> TensorNorms {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { adam_chunk_avx2(k, ins, outs) };
    }
    adam_cases(k, ins, outs)
}

/// The same loop compiled for AVX2's 8-wide registers, where the default target has SSE's 4:
/// about half the update's time (`cargo bench -- adam`). No FMA: a fused multiply-add rounds
/// differently from burn's separate multiply and add.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn adam_chunk_avx2(
    k: Consts,
    ins: (&[f32], &[f32], &[f32], &[f32]),
    outs: (Out, Out, Out),
) -> TensorNorms {
    adam_cases(k, ins, outs)
}

/// The loop monomorphised per case, so that it holds no branch; inlined into its caller, so that
/// it is compiled for the caller's target features.
#[inline(always)]
fn adam_cases(
    k: Consts,
    ins: (&[f32], &[f32], &[f32], &[f32]),
    outs: (Out, Out, Out),
) -> TensorNorms {
    let p = k.decay.unwrap_or(0.0);
    match (k.decay.is_some(), k.measure) {
        (true, true) => adam_lanes::<true, true>(k, p, ins, outs),
        (true, false) => adam_lanes::<true, false>(k, p, ins, outs),
        (false, true) => adam_lanes::<false, true>(k, p, ins, outs),
        (false, false) => adam_lanes::<false, false>(k, p, ins, outs),
    }
}

/// Values per group: the norms are summed in this many independent lanes, so the sums do not
/// chain one addition on the last and the loop vectorises (summed in a fixed order: the same
/// value on every run). 16 rather than 8 or 32: on one thread over 1M values, 8 took 1.65 ms
/// (2.1 measuring) with SSE and 32 was slower than 16 with either; 16 took 1.2 (1.4) with SSE,
/// 0.8-0.9 (1.0-1.2) with AVX2, in a probe of the three sizes.
const LANES: usize = 16;

/// An output chunk, written once per value before it is read.
type Out<'a> = &'a mut [MaybeUninit<f32>];

#[inline(always)]
fn adam_one<const DECAY: bool>(
    k: &Consts,
    decay: f32,
    (w, g, m, v): (f32, f32, f32, f32),
) -> (f32, f32, f32) {
    let gd = if DECAY { w * decay + g } else { g };
    let m1 = m * k.b1 + gd * k.f1;
    let m2 = v * k.b2 + (gd * gd) * k.f2;
    let update = (m1 * k.cf) / (m2.sqrt() + k.eps);
    (w - update * k.lr, m1, m2)
}

#[inline(always)]
fn adam_lanes<const DECAY: bool, const MEASURE: bool>(
    k: Consts,
    decay: f32,
    (w, g, m, v): (&[f32], &[f32], &[f32], &[f32]),
    (ow, om, ov): (Out, Out, Out),
) -> TensorNorms {
    // Fixed-size groups (`as_chunks`) with the results held in arrays before they are stored:
    // in a standalone probe that shape vectorised, its sums included, where the same loop over
    // `chunks_exact` slices with the sums in a 2-D array did not.
    let (wa, wt) = w.as_chunks::<LANES>();
    let (ga, gt) = g.as_chunks::<LANES>();
    let (ma, mt) = m.as_chunks::<LANES>();
    let (va, vt) = v.as_chunks::<LANES>();
    let (owa, owt) = ow.as_chunks_mut::<LANES>();
    let (oma, omt) = om.as_chunks_mut::<LANES>();
    let (ova, ovt) = ov.as_chunks_mut::<LANES>();
    let mut sums = [[0.0f32; LANES]; 3];
    let mut acc = [0.0f64; 3];
    let groups = owa
        .iter_mut()
        .zip(oma.iter_mut())
        .zip(ova.iter_mut())
        .zip(wa.iter().zip(ga))
        .zip(ma.iter().zip(va));
    for (i, ((((ow, om), ov), (w, g)), (m, v))) in groups.enumerate() {
        let (mut nw, mut nm, mut nv) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
        for j in 0..LANES {
            (nw[j], nm[j], nv[j]) = adam_one::<DECAY>(&k, decay, (w[j], g[j], m[j], v[j]));
        }
        if MEASURE {
            for j in 0..LANES {
                let d = nw[j] - w[j];
                sums[0][j] += g[j] * g[j];
                sums[1][j] += d * d;
                sums[2][j] += nw[j] * nw[j];
            }
            // f32 lanes for a block, then f64: a long f32 sum would lose the small terms.
            if i % 256 == 255 {
                flush(&mut sums, &mut acc);
            }
        }
        *ow = nw.map(MaybeUninit::new);
        *om = nm.map(MaybeUninit::new);
        *ov = nv.map(MaybeUninit::new);
    }
    for (i, (((w, g), m), v)) in wt.iter().zip(gt).zip(mt).zip(vt).enumerate() {
        let (nw, nm, nv) = adam_one::<DECAY>(&k, decay, (*w, *g, *m, *v));
        if MEASURE {
            let d = nw - *w;
            sums[0][0] += *g * *g;
            sums[1][0] += d * d;
            sums[2][0] += nw * nw;
        }
        owt[i] = MaybeUninit::new(nw);
        omt[i] = MaybeUninit::new(nm);
        ovt[i] = MaybeUninit::new(nv);
    }
    flush(&mut sums, &mut acc);
    TensorNorms {
        grad: acc[0],
        change: acc[1],
        weight: acc[2],
    }
}

/// Adds the f32 lane sums into the f64 totals, in a fixed order, and clears them.
#[inline(always)]
fn flush(sums: &mut [[f32; LANES]; 3], acc: &mut [f64; 3]) {
    for (a, s) in acc.iter_mut().zip(sums.iter_mut()) {
        *a += s.iter().map(|&x| f64::from(x)).sum::<f64>();
        *s = [0.0; LANES];
    }
}

/// For `cargo bench -- adam`: the update's loop alone on this thread over `n` values, with its
/// seven arrays (weights, gradient, moments; then the three outputs) starting at
/// `page_offsets` within their 4 KiB pages. Median ms over `reps` passes.
#[doc(hidden)]
pub fn loop_ms_at(n: usize, page_offsets: [usize; 7], measure: bool, reps: usize) -> f64 {
    let mut arrays = page_offsets.map(|o| super::stagger::Staggered::new(n, Some(o)));
    for (a, out) in arrays.iter_mut().enumerate() {
        for (i, v) in out.out().iter_mut().enumerate() {
            v.write(((i * 7 + a) % 977) as f32 * 1e-3 + 1e-3);
        }
    }
    let [w, g, m, v, ow, om, ov] = arrays.each_mut().map(|a| a.out());
    // SAFETY: every value of the inputs was written above; the outputs are only written.
    let read = |s: &[MaybeUninit<f32>]| unsafe { &*(std::ptr::from_ref(s) as *const [f32]) };
    let (w, g, m, v) = (read(w), read(g), read(m), read(v));
    let k = Consts {
        b1: 0.9,
        b2: 0.999,
        f1: 0.1,
        f2: 0.001,
        cf: 1.0,
        eps: 1e-8,
        lr: 1e-3,
        decay: Some(1e-3),
        measure,
    };
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = std::time::Instant::now();
            for c in 0..n.div_ceil(CHUNK) {
                let r = c * CHUNK..((c + 1) * CHUNK).min(n);
                let o = (&mut ow[r.clone()], &mut om[r.clone()], &mut ov[r.clone()]);
                std::hint::black_box(adam_chunk(
                    k,
                    (&w[r.clone()], &g[r.clone()], &m[r.clone()], &v[r]),
                    o,
                ));
            }
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A tensor's values on the host: borrowed from a contiguous f32 flex tensor, copied otherwise
/// (ndarray, or a view).
#[derive(Clone)]
pub(crate) enum Host {
    Flex(burn_flex::FlexTensor, usize),
    Owned(Vec<f32>),
}

impl Host {
    pub(crate) fn of<const D: usize>(t: Tensor<D>) -> Host {
        let n = t.shape().num_elements();
        match t.clone().try_into_primitive::<burn_flex::Flex>() {
            Ok(p)
                if p.dtype() == DType::F32
                    && p.is_contiguous()
                    && p.layout().start_offset() == 0
                    && p.bytes().len() >= n * 4
                    && bytemuck::try_cast_slice::<u8, f32>(&p.bytes()[..n * 4]).is_ok() =>
            {
                Host::Flex(p, n)
            }
            _ => Host::Owned(
                t.into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    // A float tensor converted to f32 always reads back as f32.
                    .unwrap_or_else(|e| panic!("optimiser: reading a parameter: {e:?}")),
            ),
        }
    }

    pub(crate) fn slice(&self) -> &[f32] {
        match self {
            // Checked castable when built.
            Host::Flex(p, n) => bytemuck::cast_slice(&p.bytes()[..n * 4]),
            Host::Owned(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackendKind;
    use crate::engine::model::SegmentModelConfig;
    use crate::engine::tensors::plain_device;
    use burn::optim::{AdamConfig, GradientsParams, decay::WeightDecayConfig};

    fn params(m: &crate::engine::model::SegmentModel) -> Vec<Vec<f32>> {
        let c = crate::engine::instrument::collect(m);
        c.tensors
            .into_iter()
            .map(|t| t.into_data().try_into_vec::<f32>().expect("f32"))
            .collect()
    }

    /// Five steps of a small model with burn's Adam and with the fused one, from the same
    /// weights and on the same loss: the same weights after each step, on both backends.
    #[test]
    fn the_fused_adam_takes_burns_steps_exactly() {
        for backend in [BackendKind::Flex, BackendKind::Ndarray] {
            let device = plain_device(backend).autodiff();
            let cfg = SegmentModelConfig::new(40_000, 4, 8, 6);
            let start = cfg.init(&device);
            let x = Tensor::<2>::random([5, 8], burn::tensor::Distribution::Default, &device);
            let loss = |m: &crate::engine::model::SegmentModel| {
                // Every parameter gets a gradient: the table through a sum of its rows.
                let e = m.emb.weight.val().slice(0..5).sum_dim(1);
                let h = m
                    .hidden
                    .forward(Tensor::cat(vec![x.clone(), x.clone(), e], 1).slice([0..5, 0..12]));
                (m.head.forward(h).powi_scalar(2).sum() + m.emb.weight.val().powi_scalar(2).sum())
                    .reshape([1])
            };
            let mut ours = FusedAdam::new(Some(0.001), None).init();
            let mut theirs = AdamConfig::new()
                .with_weight_decay(Some(WeightDecayConfig::new(0.001)))
                .init();
            let (mut a, mut b) = (start.clone(), start);
            for step in 0..5 {
                let ga = GradientsParams::from_grads(loss(&a).backward(), &a);
                let gb = GradientsParams::from_grads(loss(&b).backward(), &b);
                a = ours.step(0.02, a, ga);
                b = theirs.step(0.02, b, gb);
                assert_eq!(params(&a), params(&b), "{backend:?}, step {step}");
            }
            assert_ne!(params(&a), params(&cfg.init(&device)));
        }
    }

    /// The AVX2 build of the loop (taken wherever the CPU has it) against the portable one, which
    /// the tests above then do not run: the same values and norms, bit for bit, in every case,
    /// over whole groups and a tail.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_loop_is_the_portable_one() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let n = 40 * LANES + 7;
        let wave = |a: f32, b: f32| (0..n).map(|i| (i as f32 * a).sin() * b).collect::<Vec<_>>();
        let (w, g, m, v) = (
            wave(0.7, 1.0),
            wave(1.3, 0.1),
            wave(0.3, 0.01),
            wave(0.9, 1e-3),
        );
        let v: Vec<f32> = v.iter().map(|x| x.abs()).collect();
        for (decay, measure) in [
            (None, false),
            (None, true),
            (Some(0.01), false),
            (Some(0.01), true),
        ] {
            let k = Consts {
                b1: 0.9,
                b2: 0.999,
                f1: 0.1,
                f2: 0.001,
                cf: 0.7,
                eps: 1e-5,
                lr: 0.01,
                decay,
                measure,
            };
            let run = |avx2: bool| {
                let mut out = vec![vec![MaybeUninit::<f32>::uninit(); n]; 3];
                let [ow, om, ov] = &mut out[..] else {
                    unreachable!()
                };
                let ins = (&w[..], &g[..], &m[..], &v[..]);
                let norms = if avx2 {
                    // SAFETY: the CPU has AVX2 (checked above).
                    unsafe { adam_chunk_avx2(k, ins, (ow, om, ov)) }
                } else {
                    adam_cases(k, ins, (ow, om, ov))
                };
                // SAFETY: the loop writes every value of its outputs.
                let out: Vec<Vec<u32>> = out
                    .iter()
                    .map(|o| {
                        o.iter()
                            .map(|x| unsafe { x.assume_init() }.to_bits())
                            .collect()
                    })
                    .collect();
                (out, norms)
            };
            assert_eq!(
                run(true),
                run(false),
                "decay {decay:?}, measuring {measure}"
            );
        }
    }

    #[test]
    fn the_norms_are_those_of_the_gradient_and_the_change() {
        let device = plain_device(BackendKind::Flex).autodiff();
        let w = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 3.0], [1, 3]), &device);
        let g = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, 0.0, -1.0], [1, 3]), &device);
        let sink = NormSink::default();
        let adam = FusedAdam::new(None, Some(sink.clone()));
        let (new, _) = adam.step(0.1, w.clone().inner(), g.inner(), None);
        let new = new.into_data().try_into_vec::<f32>().expect("f32");
        let norms = sink.take();
        assert_eq!(norms.len(), 1);
        assert!((norms[0].grad - 1.25).abs() < 1e-9);
        // The first step moves each weight with a gradient by lr * sign(g) (up to epsilon).
        assert!((new[0] - 0.9).abs() < 1e-4 && new[1] == -2.0 && (new[2] - 3.1).abs() < 1e-4);
        let change: f64 = [new[0] - 1.0, 0.0, new[2] - 3.0]
            .iter()
            .map(|d| f64::from(*d).powi(2))
            .sum();
        let weight: f64 = new.iter().map(|x| f64::from(*x).powi(2)).sum();
        // Summed in f32 lanes: equal to a few ulps.
        assert!((norms[0].change - change).abs() < 1e-6 * change);
        assert!((norms[0].weight - weight).abs() < 1e-6 * weight);
        assert!(sink.take().is_empty(), "taken once");
    }

    /// A large parameter's new weights and moments start away from its inputs and from each
    /// other within their 4 KiB pages, step after step (they are the next step's inputs); and
    /// the values are those of unplaced buffers.
    #[test]
    fn large_outputs_start_apart_from_the_inputs_in_their_pages() {
        use crate::engine::stagger::page_offset;
        let device = plain_device(BackendKind::Flex);
        let n = 1 << 17;
        let data = |f: fn(usize) -> f32| TensorData::new((0..n).map(f).collect::<Vec<f32>>(), [n]);
        let g = Tensor::<1>::from_data(data(|i| (i as f32 * 1e-3).cos() * 1e-2), &device);
        let mut w = Tensor::<1>::from_data(data(|i| (i as f32 * 1e-3).sin()), &device);
        let adam = FusedAdam::new(Some(1e-3), None);
        let mut state = None;
        let at = |t: &Tensor<1>| page_offset(Host::of(t.clone()).slice().as_ptr());
        let apart = |a: usize, b: usize| {
            let d = a.abs_diff(b);
            d.min(4096 - d)
        };
        for _ in 0..3 {
            let (m, v) = state.as_ref().map_or((None, None), |s: &AdamState<1>| {
                (
                    Some(at(&s.momentum.moment_1)),
                    Some(at(&s.momentum.moment_2)),
                )
            });
            let inputs: Vec<usize> = [Some(at(&w)), Some(at(&g)), m, v]
                .into_iter()
                .flatten()
                .collect();
            let (nw, st) = adam.step(1e-3, w, g.clone(), state);
            let st = st.expect("a state");
            let outs = [
                at(&nw),
                at(&st.momentum.moment_1),
                at(&st.momentum.moment_2),
            ];
            for (i, &o) in outs.iter().enumerate() {
                assert!(
                    inputs.iter().all(|&x| apart(o, x) >= 256),
                    "{outs:?} against {inputs:?}"
                );
                assert!(outs[..i].iter().all(|&x| apart(o, x) >= 256), "{outs:?}");
            }
            (w, state) = (nw, Some(st));
        }
        // The same arithmetic as before the placement: burn's Adam, bit for bit, is checked by
        // `the_fused_adam_takes_burns_steps_exactly`; here the values read back in full.
        let values = w.into_data().try_into_vec::<f32>().expect("f32");
        assert_eq!(values.len(), n);
        assert!(values.iter().all(|x| x.is_finite()));
    }
}
