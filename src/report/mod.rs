//! Report: writing results for people (tables) and for programs (CSV, JSON). Evidence text is
//! escaped for each medium: CSV cells that a spreadsheet would run as formulas are defused.

pub mod case;
pub mod csv;
pub mod findings;
pub mod grid;
pub mod html;
pub mod json;
pub mod layout;
pub mod markdown;
pub mod outputs;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod story;
pub mod table;
pub mod terminal;
pub mod verdict;

use std::io;

/// Runs a writer, treating a closed pipe (`breachline ... | head`) as success.
pub fn ignore_broken_pipe(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Standard output, buffered.
pub fn stdout() -> io::BufWriter<io::Stdout> {
    io::BufWriter::with_capacity(1 << 16, io::stdout())
}

/// Opens `path` for writing (a temporary name in its folder, renamed into place by
/// [`outputs::Output::finish`]), or standard output for `None` / `-`.
pub fn output(path: Option<&std::path::Path>) -> io::Result<outputs::Output> {
    outputs::Output::open(path)
}

/// Evidence text made safe for one terminal line ([`terminal::terminal_safe`]).
pub use terminal::terminal_safe as safe_line;
