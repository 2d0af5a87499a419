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

/// Text from the evidence made safe to print on a terminal: control characters (C0, DEL, C1,
/// so `ESC ] 0; ... BEL` and `ESC [2J` too) and the Unicode line and paragraph separators are
/// shown as escapes (`\x1b`, `\n`, `\r`, `\t`, `\u{85}`) instead of being sent to the terminal.
/// Every line breachline prints on standard output or standard error goes through this.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Prints one line on standard error, control characters escaped: every message breachline
/// writes to standard error that can hold evidence text (paths, member names, user names,
/// error messages) goes through here.
pub fn eprint_line(line: &str) {
    eprintln!("{}", terminal_safe(line));
}

/// Like [`terminal_safe`], but keeps line breaks: for our own multi-line messages and tables
/// built from already escaped cells.
pub fn terminal_safe_lines(s: &str) -> String {
    s.split('\n')
        .map(|l| terminal_safe(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A table cell: its text with control characters escaped ([`terminal_safe`]). Every table
/// cell of breachline's terminal output is made with this (colours are added after, by style).
pub fn safe_cell<T: std::fmt::Display>(content: T) -> Cell {
    let text = content.to_string();
    Cell::new(terminal_safe(&text))
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

/// A progress bar on stderr in `template`'s style (indicatif's), when `wanted` and stderr is a
/// terminal: never in a pipe or a log.
pub fn progress_bar(wanted: bool, len: u64, template: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_evidence_are_escaped_for_the_terminal() {
        assert_eq!(
            terminal_safe("Mozilla\u{1b}]0;pwned\u{7}\u{1b}[2J\nx\r\u{9b}"),
            "Mozilla\\x1b]0;pwned\\x07\\x1b[2J\\nx\\r\\x9b"
        );
        assert_eq!(terminal_safe("plain text, é"), "plain text, é");
        assert_eq!(terminal_safe_lines("a\u{1b}\nb"), "a\\x1b\nb");
    }

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
