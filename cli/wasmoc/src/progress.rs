//! The progress bar of a long compile: functions done, code bytes per
//! second and the time left, on stderr.
//!
//! Rule: nothing is drawn unless stderr is a terminal, and nothing before
//! the compile has run for [`DELAY`]: a quick compile, a pipe or a log file
//! sees no output at all. `--quiet` never starts a bar.

use std::io::IsTerminal as _;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use wasmo_compiler::Progress;

/// How long a compile runs before its bar appears.
const DELAY: Duration = Duration::from_secs(1);

/// A bar that shows itself after [`DELAY`] if the compile is still going.
pub struct Bar {
    bar: ProgressBar,
    /// Set when the compile ends; the thread waiting out the delay wakes on
    /// it and draws nothing.
    finished: Arc<(Mutex<bool>, Condvar)>,
    shower: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Bar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bar").finish_non_exhaustive()
    }
}

impl Bar {
    /// A hidden bar, and (on a terminal) a thread that shows it after
    /// [`DELAY`].
    pub fn start() -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {msg} {binary_bytes_per_sec} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let finished = Arc::new((Mutex::new(false), Condvar::new()));
        let shower = std::io::stderr().is_terminal().then(|| {
            let (bar, finished) = (bar.clone(), Arc::clone(&finished));
            std::thread::spawn(move || {
                let (lock, cvar) = &*finished;
                let Ok(done) = lock.lock() else { return };
                let Ok((done, _)) = cvar.wait_timeout_while(done, DELAY, |done| !*done) else {
                    return;
                };
                if !*done {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(200));
                }
            })
        });
        Bar {
            bar,
            finished,
            shower,
        }
    }

    /// Moves the bar to `p`.
    pub fn report(&self, p: Progress) {
        self.bar.set_length(p.code_bytes_total);
        self.bar.set_position(p.code_bytes_done);
        self.bar
            .set_message(format!("{}/{} functions", p.funcs_done, p.funcs_total));
    }

    /// Ends the bar and clears it from the terminal.
    pub fn finish(mut self) {
        {
            let (lock, cvar) = &*self.finished;
            if let Ok(mut done) = lock.lock() {
                *done = true;
            }
            cvar.notify_all();
        }
        if let Some(shower) = self.shower.take() {
            let _ = shower.join();
        }
        self.bar.finish_and_clear();
    }
}
