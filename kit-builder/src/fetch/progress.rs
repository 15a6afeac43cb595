//! Download progress: a bar on a terminal, `tracing` lines otherwise (cron logs).
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How download progress is reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressMode {
    /// A progress bar on stderr when it is a terminal, log lines otherwise (what the CLI uses).
    Auto,
    /// `tracing` events only: start, every quarter, end. The library default, since a library
    /// does not draw on the terminal unless asked to.
    #[default]
    Log,
    /// Nothing but the final `tracing` event.
    Hidden,
}

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: Option<u64>,
    done: u64,
    next_quarter: u64,
    log: bool,
}

impl Progress {
    pub(crate) fn start(
        mode: ProgressMode,
        label: &str,
        total: Option<u64>,
        already: u64,
    ) -> Progress {
        let bar = (mode == ProgressMode::Auto && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:40!} {bar:30} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_message(label.to_string());
            bar.set_position(already);
            bar
        });
        let log = bar.is_none() && mode != ProgressMode::Hidden;
        if log {
            tracing::info!(target: "stella_kit::fetch", url = label, total, resumed_at = already, "download started");
        }
        Progress {
            bar,
            label: label.to_string(),
            total,
            done: already,
            next_quarter: 1,
            log,
        }
    }

    pub(crate) fn inc(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        } else if self.log
            && let Some(total) = self.total.filter(|t| *t > 0)
            && self.next_quarter < 4
            && self.done.saturating_mul(4) >= total.saturating_mul(self.next_quarter)
        {
            tracing::info!(
                target: "stella_kit::fetch",
                url = %self.label,
                bytes = self.done,
                total,
                "download {}% done",
                self.next_quarter * 25
            );
            self.next_quarter += 1;
        }
    }

    pub(crate) fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        tracing::info!(target: "stella_kit::fetch", url = %self.label, bytes = self.done, "download finished");
    }
}
