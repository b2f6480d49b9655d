//! Process-wide CPU tuning for the training loop: the allocator, and denormal floats.
//!
//! glibc serves blocks above its mmap threshold (at most 32 MiB) with a fresh mmap and returns
//! them on free, so every step paid page faults for its [n, W, d] intermediates: measured here,
//! 40 full-batch steps on the default data took 4.7 s of system time and 177 ms a step, against
//! 0.07 s and 106 ms with mmap disabled (GLIBC_TUNABLES=glibc.malloc.mmap_max=0). Keeping those
//! blocks on the heap lets the next step reuse them.
//!
//! Embedding rows that no training segment uses get no gradient but weight decay, so their Adam
//! moments shrink geometrically into denormal floats, and x86 arithmetic on denormals is about a
//! hundred times slower. A soak on a 20-document dataset slowed from 62 to 12 steps a second
//! within 2,000 steps that way. Flushing denormals to zero (what `torch.set_flush_denormal(True)`
//! does) changes only values below 1.2e-38.

use std::sync::Once;

static TUNE: Once = Once::new();
static POOL: Once = Once::new();

/// Keeps large allocations on the heap, stops trimming it, and flushes denormals to zero on this
/// thread and on rayon's global pool (when this call is the one that builds it). Idempotent; the
/// allocator part is a no-op off glibc. The trainer calls it when it is built: loading and
/// featurising before that keep glibc's defaults, so their large temporary arrays go back to
/// the system when freed instead of staying in the process's peak (the dashboard's load of a
/// million segments peaked at 1,552,396 KiB with the tuning made at start,
/// 1,376,688 KiB with it here, `/usr/bin/time -f %M`).
pub fn tune() {
    flush_denormals();
    pool();
    TUNE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes allocator parameters; called once, before the large
        // allocations it affects, and valid at any time per glibc's documentation.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        }
    });
}

/// Builds rayon's global pool with threads that flush denormals: to be called before anything
/// else builds it (flex runs its large kernels there; if something built it already, its
/// threads keep the default mode, which is what the ignored error means).
pub fn pool() {
    POOL.call_once(|| {
        let _ = rayon::ThreadPoolBuilder::new()
            .start_handler(|_| flush_denormals())
            .build_global();
    });
}

/// Sets flush-to-zero and denormals-are-zero for the calling thread (x86-64; elsewhere a no-op).
/// The mode is per thread: the trainer calls this at every step, wherever it runs.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads and writes the MXCSR control register of this thread only; bits 15 (FTZ) and
    // 6 (DAZ) change how denormal results and inputs are treated, nothing else.
    #[allow(deprecated)]
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr(_mm_getcsr() | 0x8040);
    }
}
