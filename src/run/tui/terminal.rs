//! The terminal itself: restoring it on every exit path, and noticing when it hangs up.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Restores the terminal when dropped, so an early return or `?` cannot leave it raw.
pub struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        // try_restore, not restore: restore reports failure with eprintln!, which panics when the
        // terminal is gone, and a panic in drop aborts.
        let _ = ratatui::try_restore();
    }
}

/// What waiting on the terminal found.
#[derive(Debug, PartialEq)]
pub enum Wait {
    /// Input may be ready (or stdin is not a terminal, so crossterm must be asked).
    Ready,
    Timeout,
    /// The terminal hung up: its window closed or its ssh session dropped.
    HungUp,
}

/// Waits up to `timeout` for input on the terminal.
///
/// crossterm's own poll, once the tty reads end-of-file after a hang-up, loops on `read` forever
/// without returning (seen here: 82,000 reads a second at full CPU, no SIGHUP delivered), so a
/// dashboard whose window closed would spin a core for nobody. Asking the kernel first lets the
/// dashboard notice the hang-up and exit; crossterm is only called when there is input to read.
pub fn wait_for_input(timeout: Duration, stdin_is_tty: bool) -> Wait {
    if !stdin_is_tty {
        return Wait::Ready;
    }
    #[cfg(unix)]
    {
        let mut fds = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd; poll only writes its `revents`.
        let n = unsafe { libc::poll(&mut fds, 1, ms) };
        if n > 0 && fds.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            Wait::HungUp
        } else if n > 0 {
            Wait::Ready
        } else {
            // 0 = timeout; < 0 = interrupted by a signal (a resize, Ctrl-C): the loop goes on.
            Wait::Timeout
        }
    }
    #[cfg(not(unix))]
    {
        let _ = timeout;
        Wait::Ready
    }
}

/// Keeps ratatui's panic hook (it restores the terminal) for the UI thread, but records a panic
/// of the thread named `source_thread` instead: that must not pull the screen from under a UI
/// that is still running, and the UI shows it. Returns where the panic message lands.
pub fn hook_source_panics(source_thread: &'static str) -> Arc<Mutex<Option<String>>> {
    let slot: Arc<Mutex<Option<String>>> = Arc::default();
    let recorded = slot.clone();
    let ratatui_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if thread::current().name() == Some(source_thread) {
            if let Ok(mut s) = recorded.lock() {
                *s = Some(info.to_string().replace('\n', " "));
            }
        } else {
            ratatui_hook(info);
        }
    }));
    slot
}
