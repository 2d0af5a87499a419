//! The tables of `report.html`, as compact data the page renders, sorts, filters and pages in
//! the browser: a 100,000-row timeline stays one JSON array instead of 100,000 `<tr>`.
//!
//! Every text cell is an index into one string table shared by all grids, the most used strings
//! first so that most cells are one or two digits (the browser ranks the strings once to sort
//! by text). Times are offsets from one origin, in seconds when every time is a whole second;
//! a time column in order can be written as differences from the row before. Numbers are
//! numbers.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// What a column holds, and how the browser shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text, as an index into the string table.
    Text,
    /// A count or other integer, right-aligned.
    Number,
    /// A UTC time, shown as ISO 8601.
    Time,
}

impl Kind {
    fn code(self) -> char {
        match self {
            Kind::Text => 's',
            Kind::Number => 'n',
            Kind::Time => 't',
        }
    }
}

/// One cell before the string table is sorted.
#[derive(Clone, Copy, Debug)]
enum Cell {
    Text(u32),
    Number(i64),
    /// No value (a time or number the evidence does not have); shown blank, sorted first.
    Null,
}

/// Strings shared by every grid of a page, each stored once.
#[derive(Default)]
pub struct Strings {
    ids: HashMap<String, u32>,
    list: Vec<String>,
    uses: Vec<u64>,
}

impl Strings {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            self.uses[*id as usize] += 1;
            return *id;
        }
        let id = self.list.len() as u32;
        self.ids.insert(s.to_string(), id);
        self.list.push(s.to_string());
        self.uses.push(1);
        id
    }

    /// The table in the order it is written (most used first, then by text: deterministic)
    /// and, per first-seen id, its place in it.
    fn ordered(&self) -> (Vec<&str>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.list.len() as u32).collect();
        order.sort_by(|a, b| {
            let (a, b) = (*a as usize, *b as usize);
            self.uses[b]
                .cmp(&self.uses[a])
                .then_with(|| self.list[a].cmp(&self.list[b]))
        });
        let mut place = vec![0u32; self.list.len()];
        for (rank, id) in order.iter().enumerate() {
            place[*id as usize] = rank as u32;
        }
        (
            order
                .iter()
                .map(|i| self.list[*i as usize].as_str())
                .collect(),
            place,
        )
    }
}

/// One table of the page.
pub struct Grid {
    pub id: String,
    columns: Vec<(&'static str, Kind)>,
    cells: Vec<Cell>,
    /// Rows whose cell in this column is not empty get the `atk` class (the attacker's).
    mark: Option<usize>,
    /// A time column in ascending order, written as differences from the row before.
    delta: Option<usize>,
    page: usize,
}

impl Grid {
    pub fn new(id: impl Into<String>, columns: &[(&'static str, Kind)]) -> Grid {
        Grid {
            id: id.into(),
            columns: columns.to_vec(),
            cells: Vec::new(),
            mark: None,
            delta: None,
            page: 25,
        }
    }

    /// Rows per page in the browser.
    pub fn page(mut self, rows: usize) -> Grid {
        self.page = rows.max(1);
        self
    }

    /// Highlights rows with a non-empty value in `column`.
    pub fn mark(mut self, column: &str) -> Grid {
        self.mark = self.columns.iter().position(|(n, _)| *n == column);
        self
    }

    /// Writes `column` (a time column whose rows are in ascending time order) as differences
    /// from the row before: a timeline's times become a few digits each.
    pub fn delta(mut self, column: &str) -> Grid {
        self.delta = self
            .columns
            .iter()
            .position(|(n, k)| *n == column && *k == Kind::Time);
        self
    }

    /// Every time cell is a whole second.
    fn whole_seconds(&self) -> bool {
        let width = self.columns.len().max(1);
        self.cells.iter().enumerate().all(|(i, c)| match c {
            Cell::Number(ms) if self.columns[i % width].1 == Kind::Time => ms % 1000 == 0,
            _ => true,
        })
    }

    pub fn rows(&self) -> usize {
        self.cells.len() / self.columns.len().max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Starts a row; the caller adds exactly one value per column, in order.
    pub fn row<'g>(&'g mut self, strings: &'g mut Strings, origin: DateTime<Utc>) -> RowWriter<'g> {
        RowWriter {
            grid: self,
            strings,
            origin,
            written: 0,
        }
    }

    /// The grid as JSON (`{"cols":[..],"kinds":"stn","page":25,"mark":-1,"delta":-1,
    /// "rows":[[..]]}`), text cells mapped to their places, times divided by `unit` ms.
    fn write_json(&self, out: &mut String, place: &[u32], unit: i64) {
        out.push_str("{\"cols\":");
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        out.push_str(&serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()));
        out.push_str(",\"kinds\":\"");
        out.extend(self.columns.iter().map(|(_, k)| k.code()));
        let mark = self.mark.map(|m| m as i64).unwrap_or(-1);
        let delta = self.delta.map(|m| m as i64).unwrap_or(-1);
        let _ = write!(
            out,
            "\",\"page\":{},\"mark\":{mark},\"delta\":{delta},\"rows\":[",
            self.page
        );
        let width = self.columns.len().max(1);
        let mut previous = 0i64;
        for (r, row) in self.cells.chunks(width).enumerate() {
            if r > 0 {
                out.push(',');
            }
            out.push('[');
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    out.push(',');
                }
                match cell {
                    Cell::Text(id) => {
                        let _ = write!(out, "{}", place[*id as usize]);
                    }
                    Cell::Number(n) if self.columns[c].1 == Kind::Time => {
                        let v = n / unit;
                        if self.delta == Some(c) {
                            let _ = write!(out, "{}", v - previous);
                            previous = v;
                        } else {
                            let _ = write!(out, "{v}");
                        }
                    }
                    Cell::Number(n) => {
                        let _ = write!(out, "{n}");
                    }
                    Cell::Null => out.push_str("null"),
                }
            }
            out.push(']');
        }
        out.push_str("]}");
    }
}

/// Adds one row's values to a grid.
pub struct RowWriter<'g> {
    grid: &'g mut Grid,
    strings: &'g mut Strings,
    origin: DateTime<Utc>,
    written: usize,
}

impl RowWriter<'_> {
    fn push(&mut self, cell: Cell) -> &mut Self {
        assert!(
            self.written < self.grid.columns.len(),
            "a grid row has one value per column"
        );
        self.grid.cells.push(cell);
        self.written += 1;
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        let id = self.strings.intern(s);
        self.push(Cell::Text(id))
    }

    pub fn opt(&mut self, s: Option<&str>) -> &mut Self {
        self.text(s.unwrap_or(""))
    }

    pub fn num(&mut self, n: u64) -> &mut Self {
        self.push(Cell::Number(i64::try_from(n).unwrap_or(i64::MAX)))
    }

    pub fn time(&mut self, t: &DateTime<Utc>) -> &mut Self {
        let ms = (*t - self.origin).num_milliseconds();
        self.push(Cell::Number(ms))
    }

    /// Leaves the row's remaining cells empty.
    pub fn rest_blank(&mut self) -> &mut Self {
        while self.written < self.grid.columns.len() {
            self.push(Cell::Null);
        }
        self
    }

    pub fn opt_time(&mut self, t: Option<&DateTime<Utc>>) -> &mut Self {
        match t {
            Some(t) => self.time(t),
            None => self.push(Cell::Null),
        }
    }
}

impl Drop for RowWriter<'_> {
    fn drop(&mut self) {
        debug_assert!(
            std::thread::panicking() || self.written == self.grid.columns.len(),
            "grid {}: a row has {} of {} values",
            self.grid.id,
            self.written,
            self.grid.columns.len()
        );
        // A short row would shift every later cell: fill it rather than corrupt the grid.
        while self.written < self.grid.columns.len() {
            self.grid.cells.push(Cell::Null);
            self.written += 1;
        }
    }
}

/// The page's data block: `{"T0": ms, "TU": ms per time unit, "S": [strings], "grids": {id:
/// grid}}`, safe to place inside `<script type="application/json">` (no `<`, `>` or `&`
/// appears literally).
pub fn page_json(strings: &Strings, grids: &[&Grid], origin: DateTime<Utc>) -> String {
    let (ordered, place) = strings.ordered();
    let unit = if grids.iter().all(|g| g.whole_seconds()) {
        1000
    } else {
        1
    };
    let mut out = String::with_capacity(1 << 16);
    let _ = write!(
        out,
        "{{\"T0\":{},\"TU\":{unit},\"S\":",
        origin.timestamp_millis()
    );
    out.push_str(&serde_json::to_string(&ordered).unwrap_or_else(|_| "[]".into()));
    out.push_str(",\"grids\":{");
    for (i, g) in grids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&g.id).unwrap_or_else(|_| "\"\"".into()));
        out.push(':');
        g.write_json(&mut out, &place, unit);
    }
    out.push_str("}}");
    script_safe(&out)
}

/// Escapes the characters that could end a `<script>` element or open a comment inside it.
/// Only ever applied to JSON, where `\u003c` means the same as `<` inside a string.
pub fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_are_indexes_most_used_first_and_times_are_offsets() {
        let origin = DateTime::parse_from_rfc3339("2024-05-13T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("valid time");
        let at = |s: i64| origin + chrono::Duration::seconds(s);
        let mut s = Strings::default();
        let mut g = Grid::new(
            "g",
            &[
                ("name", Kind::Text),
                ("n", Kind::Number),
                ("at", Kind::Time),
            ],
        );
        g.row(&mut s, origin).text("zulu").num(3).time(&at(2));
        g.row(&mut s, origin).text("alpha").num(1).rest_blank();
        g.row(&mut s, origin).text("zulu").num(5).time(&at(9));
        let json = page_json(&s, &[&g], origin);
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["S"], serde_json::json!(["zulu", "alpha"]));
        assert_eq!(v["TU"], 1000, "whole seconds");
        assert_eq!(
            v["grids"]["g"]["rows"],
            serde_json::json!([[0, 3, 2], [1, 1, null], [0, 5, 9]])
        );
        assert_eq!(v["grids"]["g"]["kinds"], "snt");
        assert_eq!(g.rows(), 3);
    }

    #[test]
    fn a_delta_column_holds_differences_and_milliseconds_stay_exact() {
        let origin = DateTime::parse_from_rfc3339("2024-05-13T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("valid time");
        let mut s = Strings::default();
        let mut g = Grid::new("t", &[("at", Kind::Time)]).delta("at");
        for ms in [1500, 4000, 4000, 10_250] {
            g.row(&mut s, origin)
                .time(&(origin + chrono::Duration::milliseconds(ms)));
        }
        let json = page_json(&s, &[&g], origin);
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["TU"], 1, "not whole seconds: milliseconds");
        assert_eq!(v["grids"]["t"]["delta"], 0);
        assert_eq!(
            v["grids"]["t"]["rows"],
            serde_json::json!([[1500], [2500], [0], [6250]])
        );
    }

    #[test]
    fn embedded_json_cannot_close_the_script_element() {
        let origin = Utc::now();
        let mut s = Strings::default();
        let mut g = Grid::new("g", &[("subject", Kind::Text)]);
        g.row(&mut s, origin)
            .text("</script><script>alert(1)</script> & <!--");
        let json = page_json(&s, &[&g], origin);
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        let v: serde_json::Value = serde_json::from_str(&json).expect("still valid JSON");
        assert_eq!(v["S"][0], "</script><script>alert(1)</script> & <!--");
    }
}
