//! SIGINT, SIGTERM and SIGHUP: noted, so that both modes stop through their normal path (the
//! terminal restored, output flushed) and exit by convention with 128 + the signal: 130 for
//! SIGINT, 143 for SIGTERM. A hang-up is a quiet quit. A second signal of the same kind ends the
//! process at once, as it would have without segscope's handler.

use std::sync::atomic::{AtomicI32, Ordering};

static RECEIVED: AtomicI32 = AtomicI32::new(0);

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    RECEIVED.store(sig, Ordering::SeqCst);
    // SAFETY: signal() is async-signal-safe; the next such signal takes its default action.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

/// Installs the handlers (once is enough; again is harmless).
pub fn install() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a handler that only stores an atomic and resets its own
        // disposition; no SA_RESTART, so a blocking poll returns EINTR and the loop looks.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The exit status for a received signal: 128 + its number, except a hang-up (0: the user is
/// gone, nothing failed).
pub fn exit_code(sig: i32) -> u8 {
    #[cfg(unix)]
    if sig == libc::SIGHUP {
        return 0;
    }
    (128 + sig).clamp(0, 255) as u8
}

/// The signal's name, for messages.
pub fn name(sig: i32) -> &'static str {
    match sig {
        #[cfg(unix)]
        libc::SIGINT => "SIGINT",
        #[cfg(unix)]
        libc::SIGTERM => "SIGTERM",
        #[cfg(unix)]
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
