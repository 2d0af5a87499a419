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
pub mod parquet;
pub mod story;
pub mod table;
pub mod terminal;
pub mod verdict;

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

/// Evidence text made safe for one terminal line: control characters (escape sequences that
/// could clear the screen or retitle the window, line breaks) shown as `\x1b`, `\n`...
pub fn safe_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}
