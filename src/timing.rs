//! `BREACHLINE_TIMING=1`: each stage's wall time on standard error, for profiling
//! (docs/development.md). Off by default; never changes an output.

use std::time::Instant;

/// Whether `BREACHLINE_TIMING` is set.
pub fn enabled() -> bool {
    std::env::var_os("BREACHLINE_TIMING").is_some()
}

/// Prints `timing: WHAT TIME` when enabled, timed from `since`; returns now, for the next lap.
pub fn lap(what: &str, since: Instant) -> Instant {
    if enabled() {
        eprintln!("timing: {what} {:.2?}", since.elapsed());
    }
    Instant::now()
}
