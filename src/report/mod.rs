//! Report: writing results for people (tables) and for programs (CSV, JSON). Evidence text is
//! escaped for each medium: CSV cells that a spreadsheet would run as formulas are defused.

pub mod case;
pub mod csv;
pub mod findings;
pub mod json;
pub mod table;

use std::io::{self, Write};

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

/// Opens `path` for writing, or standard output for `None` / `-`.
pub fn output(path: Option<&std::path::Path>) -> io::Result<Box<dyn Write>> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            Ok(Box::new(io::BufWriter::new(std::fs::File::create(p)?)))
        }
        _ => Ok(Box::new(stdout())),
    }
}
