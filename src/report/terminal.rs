//! How tables look on a terminal: as wide as the terminal (80 to 200 columns, `COLUMNS` first),
//! coloured only when standard output is a terminal and `NO_COLOR` is not set, so pipes, files
//! and golden tests get plain text.

use std::io::IsTerminal;

use comfy_table::{presets, Cell, Color, ContentArrangement, Table};

use crate::detect::Severity;
use crate::impact::Verdict;

/// Narrowest and widest table drawn: below 80 columns nothing fits; above 200 rows get too
/// long to read.
pub const WIDTH_RANGE: (u16, u16) = (80, 200);

/// Width of a table when standard output is not a terminal and `COLUMNS` is not set.
pub const PIPE_WIDTH: u16 = 160;

/// The width to draw tables at: `COLUMNS` if it is a number, else the terminal's width when
/// standard output is one, else [`PIPE_WIDTH`]; always within [`WIDTH_RANGE`].
pub fn width() -> u16 {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok());
    let detected = || {
        if std::io::stdout().is_terminal() {
            Table::new().width()
        } else {
            None
        }
    };
    clamp_width(columns.or_else(detected).unwrap_or(PIPE_WIDTH))
}

fn clamp_width(w: u16) -> u16 {
    w.clamp(WIDTH_RANGE.0, WIDTH_RANGE.1)
}

/// Colours on: standard output is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>).
pub fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// A table with the house preset, fitted to [`width`], styled only when [`colour`] says so.
pub fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied().map(Cell::new))
        .set_width(width());
    if !colour() {
        t.force_no_tty();
    }
    t
}

/// A verdict, red for compromised and yellow for suspicious (when colours are on).
pub fn verdict_cell(v: Verdict) -> Cell {
    let c = Cell::new(v.as_str());
    match v {
        Verdict::Compromised => c.fg(Color::Red),
        Verdict::Suspicious => c.fg(Color::Yellow),
        Verdict::Targeted | Verdict::Clean => c,
    }
}

/// A severity, red for critical and high, yellow for medium (when colours are on).
pub fn severity_cell(s: Severity) -> Cell {
    let c = Cell::new(s.as_str());
    match s {
        Severity::Critical | Severity::High => c.fg(Color::Red),
        Severity::Medium => c.fg(Color::Yellow),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_stay_in_range() {
        assert_eq!(clamp_width(20), 80);
        assert_eq!(clamp_width(120), 120);
        assert_eq!(clamp_width(500), 200);
    }

    #[test]
    fn tables_without_a_terminal_have_no_escape_codes() {
        // Tests run with standard output captured, never a terminal.
        let mut t = new_table(&["verdict", "severity"]);
        t.add_row(vec![
            verdict_cell(Verdict::Compromised),
            severity_cell(Severity::High),
        ]);
        let text = t.to_string();
        assert!(
            text.contains("compromised") && !text.contains('\u{1b}'),
            "{text}"
        );
    }
}
