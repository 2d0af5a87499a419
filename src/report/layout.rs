//! Text laid out line by line for a terminal or a pipe, without a table library: fixed columns,
//! one line per row, and values too long for their column shortened with an ellipsis (`…`).
//! Nothing is ever wrapped inside a value, so a user name, an address, a time or a path is
//! either whole on one line or visibly shortened; the case folder has every value whole.
//!
//! Widths count characters (`char`s): evidence text goes through [`super::safe_line`] first,
//! so no control character reaches the terminal.

use std::borrow::Cow;

/// The ellipsis that marks a shortened value.
pub const ELLIPSIS: char = '…';

/// Width of `s` in columns (one per character).
pub fn width(s: &str) -> usize {
    s.chars().count()
}

/// `s` in at most `w` columns: whole when it fits, else its start and `…`.
pub fn fit(s: &str, w: usize) -> Cow<'_, str> {
    if width(s) <= w {
        return Cow::Borrowed(s);
    }
    if w == 0 {
        return Cow::Borrowed("");
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// `s` in at most `w` columns: whole when it fits, else `…` and its end (for paths and
/// `file:line` citations, whose end says the most).
pub fn fit_end(s: &str, w: usize) -> Cow<'_, str> {
    let n = width(s);
    if n <= w {
        return Cow::Borrowed(s);
    }
    if w == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::with_capacity(w * 4);
    out.push(ELLIPSIS);
    out.extend(s.chars().skip(n - (w - 1)));
    Cow::Owned(out)
}

/// A token shortened to `w` columns the way that keeps most of its meaning: paths keep their end.
fn fit_token(s: &str, w: usize) -> Cow<'_, str> {
    if s.contains('/') || s.contains('\\') {
        fit_end(s, w)
    } else {
        fit(s, w)
    }
}

/// Pads `s` with spaces to `w` columns (left-aligned).
pub fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
    out
}

/// Pads `s` with spaces to `w` columns (right-aligned).
pub fn pad_left(s: &str, w: usize) -> String {
    let mut out: String = std::iter::repeat_n(' ', w.saturating_sub(width(s))).collect();
    out.push_str(s);
    out
}

/// Prose wrapped at spaces into lines of at most `w` columns: the first line starts with
/// `first`, the others with `rest` (a hanging indent). A word is never split: one longer than a
/// whole line is shortened with `…` (paths keep their end).
pub fn wrap(text: &str, w: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split(' ').filter(|s| !s.is_empty()) {
        let used = width(&line);
        let need = width(word) + usize::from(!empty);
        if !empty && used + need > w {
            lines.push(std::mem::replace(&mut line, rest.to_string()));
            empty = true;
        }
        let room = w.saturating_sub(width(&line) + usize::from(!empty));
        if !empty {
            line.push(' ');
        }
        line.push_str(&fit_token(word, room.max(1)));
        empty = false;
    }
    lines.push(line);
    lines
        .iter_mut()
        .for_each(|l| l.truncate(l.trim_end().len()));
    lines
}

/// [`wrap`], at most `max` lines: when the text needs more, the last line kept ends with `…`.
pub fn wrap_max(text: &str, w: usize, first: &str, rest: &str, max: usize) -> Vec<String> {
    let mut lines = wrap(text, w, first, rest);
    if lines.len() > max.max(1) {
        lines.truncate(max.max(1));
        if let Some(last) = lines.last_mut() {
            if width(last) < w {
                last.push(ELLIPSIS);
            } else {
                let keep: String = last.chars().take(width(last) - 1).collect();
                *last = format!("{keep}{ELLIPSIS}");
            }
        }
    }
    lines
}

/// [`wrap`] joined: every line ends with a newline.
pub fn wrapped(text: &str, w: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    for l in wrap(text, w, first, rest) {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// How a column is laid out.
#[derive(Clone, Debug)]
pub struct Column {
    pub header: &'static str,
    /// Narrowest the column may get (shorter values are shortened with `…`).
    pub min: usize,
    /// Widest it gets, however long its values.
    pub max: usize,
    /// Right-aligned (counts).
    pub right: bool,
    /// Shortened from the start, keeping the end (paths, citations).
    pub keep_end: bool,
    /// Left out when the line is too narrow for every column's `min`; columns are dropped
    /// from the highest `drop` first. 0: never dropped.
    pub drop: u8,
}

impl Column {
    pub fn new(header: &'static str, min: usize, max: usize) -> Column {
        Column {
            header,
            min,
            max,
            right: false,
            keep_end: false,
            drop: 0,
        }
    }

    /// A column that never shrinks: every value fits (times, severities, counts).
    pub fn fixed(header: &'static str, w: usize) -> Column {
        Column::new(header, w, w)
    }

    pub fn right(mut self) -> Column {
        self.right = true;
        self
    }

    pub fn keep_end(mut self) -> Column {
        self.keep_end = true;
        self
    }

    pub fn droppable(mut self, order: u8) -> Column {
        self.drop = order;
        self
    }
}

/// Space between columns.
const GAP: usize = 2;

/// Rows laid out in columns fitted to `width`: every row one line, no line wider than `width`.
/// `indent` starts every line. Returns the lines (header first when `header` is set).
pub fn columns(
    cols: &[Column],
    rows: &[Vec<String>],
    width: usize,
    indent: &str,
    header: bool,
) -> Vec<String> {
    let avail = width.saturating_sub(self::width(indent));
    // Drop optional columns, highest order first, until every remaining minimum fits.
    let mut keep: Vec<bool> = vec![true; cols.len()];
    let need = |keep: &[bool]| -> usize {
        let kept: Vec<&Column> = cols
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .collect();
        kept.iter().map(|c| c.min).sum::<usize>() + GAP * kept.len().saturating_sub(1)
    };
    let mut order: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].drop > 0).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cols[i].drop));
    for i in order {
        if need(&keep) <= avail {
            break;
        }
        keep[i] = false;
    }
    // Each column as wide as its widest value (header included), within min and max.
    let mut w: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let longest = rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| self::width(s))
                .chain(header.then(|| self::width(c.header)))
                .max()
                .unwrap_or(0);
            longest.clamp(c.min, c.max.max(c.min))
        })
        .collect();
    // Too wide: narrow the widest shrinkable column, one column at a time.
    loop {
        let total: usize = (0..cols.len())
            .filter(|&i| keep[i])
            .map(|i| w[i])
            .sum::<usize>()
            + GAP * keep.iter().filter(|k| **k).count().saturating_sub(1);
        if total <= avail {
            break;
        }
        let widest = (0..cols.len())
            .filter(|&i| keep[i] && w[i] > cols[i].min)
            .max_by_key(|&i| (w[i] - cols[i].min, std::cmp::Reverse(i)));
        match widest {
            Some(i) => w[i] -= 1,
            None => break,
        }
    }
    let line = |cells: &mut dyn Iterator<Item = (usize, &str)>| -> String {
        let mut out = indent.to_string();
        let mut first = true;
        for (i, s) in cells {
            if !keep[i] {
                continue;
            }
            if !first {
                out.push_str(&" ".repeat(GAP));
            }
            first = false;
            let c = &cols[i];
            let s = if c.keep_end {
                fit_end(s, w[i])
            } else {
                fit(s, w[i])
            };
            out.push_str(&if c.right {
                pad_left(&s, w[i])
            } else {
                pad(&s, w[i])
            });
        }
        out.truncate(out.trim_end().len());
        out
    };
    let mut out = Vec::with_capacity(rows.len() + 1);
    if header {
        out.push(line(&mut cols.iter().map(|c| c.header).enumerate()));
    }
    for r in rows {
        out.push(line(&mut r.iter().map(String::as_str).enumerate()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_or_marks() {
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit_end("dir/file.csv:12", 9), "…e.csv:12");
        assert_eq!(fit_end("a/b/c.csv", 6), "…c.csv");
    }

    #[test]
    fn wrap_never_splits_a_word_and_stays_in_width() {
        let text = "priya.natarajan@northwindtraders.example signed in from 188.166.14.77 at 2024-05-13T14:19:37Z";
        for w in [20, 30, 45, 80] {
            let lines = wrap(text, w, "  ", "    ");
            for l in &lines {
                assert!(width(l) <= w, "{w}: {l:?}");
            }
            for word in text.split(' ') {
                let whole = lines.iter().any(|l| l.split(' ').any(|t| t == word));
                let cut = lines.iter().any(|l| {
                    l.split(' ')
                        .any(|t| t.ends_with('…') && word.starts_with(t.trim_end_matches('…')))
                });
                assert!(whole || cut, "{w}: {word} in {lines:?}");
            }
        }
    }

    #[test]
    fn columns_fit_the_width_and_drop_optional_ones() {
        let cols = [
            Column::fixed("time", 20),
            Column::new("what", 10, 60),
            Column::new("evidence", 30, 60).keep_end().droppable(1),
        ];
        let rows = vec![vec![
            "2024-05-13T14:19:37Z".to_string(),
            "a long description of what happened in this session".to_string(),
            "fixtures/demo/audit/Purview_AuditLog_export_1.csv:37".to_string(),
        ]];
        let narrow = columns(&cols, &rows, 60, "", true);
        assert!(narrow.iter().all(|l| width(l) <= 60), "{narrow:?}");
        assert!(!narrow[0].contains("evidence"), "{narrow:?}");
        let wide = columns(&cols, &rows, 200, "", true);
        assert!(wide[1].contains("fixtures/demo/audit/Purview_AuditLog_export_1.csv:37"));
        let mid = columns(&cols, &rows, 90, "", false);
        assert!(
            mid[0].contains("2024-05-13T14:19:37Z") && mid[0].contains('…'),
            "{mid:?}"
        );
        assert!(width(&mid[0]) <= 90);
    }
}
