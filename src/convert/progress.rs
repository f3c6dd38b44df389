//! A progress bar on stderr that only appears once a stage has run for more than a moment.
//!
//! Owns: user feedback during long imports. Must not: print anything when disabled, or on
//! stdout ever (stdout belongs to the CLI's output).

use std::borrow::Cow;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a stage may run before its bar is drawn; small models finish without a flicker.
const SHOW_AFTER: Duration = Duration::from_millis(400);

/// One stage's progress (`reading`, `converting`). Hidden until [`SHOW_AFTER`] has passed.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    shown: bool,
}

impl Progress {
    /// A stage of `len` units (`bytes` formats the counter as sizes). Draws nothing when
    /// `enabled` is false.
    pub(crate) fn new(enabled: bool, len: u64, what: impl Into<Cow<'static, str>>, bytes: bool) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
            let template = if bytes {
                "{msg:>10} [{bar:40}] {bytes}/{total_bytes} ({eta})"
            } else {
                "{msg:>10} [{bar:40}] {pos}/{len} tensors ({eta})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what);
            bar
        });
        Progress { bar, start: Instant::now(), shown: false }
    }

    /// Advances by `n` units.
    pub(crate) fn inc(&mut self, n: u64) {
        if let Some(bar) = &self.bar {
            if !self.shown && self.start.elapsed() >= SHOW_AFTER {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                self.shown = true;
            }
            bar.inc(n);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
