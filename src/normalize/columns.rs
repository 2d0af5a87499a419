//! CSV header handling: header names are matched after trimming, collapsing inner white space
//! and lower-casing (the Entra portal writes `Application ID ` and `Autonomous system  number`),
//! by position so a duplicated name (`Incoming token type` twice) loses nothing.

use csv::StringRecord;

/// One CSV row as borrowed cells (ingest keeps a batch of rows in one buffer).
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    cells: &'a [&'a str],
}

impl<'a> Row<'a> {
    pub fn new(cells: &'a [&'a str]) -> Row<'a> {
        Row { cells }
    }

    pub fn get(&self, index: usize) -> Option<&'a str> {
        self.cells.get(index).copied()
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.cells.iter().copied()
    }
}

/// A CSV header, names normalized for matching.
#[derive(Clone, Debug)]
pub struct Header {
    names: Vec<String>,
}

impl Header {
    pub fn new(record: &StringRecord) -> Header {
        Header {
            names: record.iter().map(normalize_name).collect(),
        }
    }

    /// Normalized names in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Index of the first column named like any of `aliases` (given normalized, lower-case).
    pub fn find(&self, aliases: &[&str]) -> Option<usize> {
        aliases
            .iter()
            .find_map(|a| self.names.iter().position(|n| n == a))
    }

    /// Every column with this name (duplicated headers).
    pub fn find_all(&self, name: &str) -> Vec<usize> {
        (0..self.names.len())
            .filter(|i| self.names[*i] == name)
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    pub fn has_all(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.has(n))
    }
}

/// Columns matched to the field names a decoder's `set` takes, for exports whose columns are
/// the source's own field names (Log Analytics tables) or a list of aliases.
#[derive(Clone, Debug, Default)]
pub struct NamedColumns {
    columns: Vec<(usize, &'static str)>,
}

impl NamedColumns {
    /// Columns whose name, after `base` strips export decorations (` [UTC]`, `_dynamic`), equals a
    /// known field name, ignoring case.
    pub fn by_field_name(
        h: &Header,
        known: &[&'static str],
        base: fn(&str) -> &str,
    ) -> NamedColumns {
        let columns = h
            .names()
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                let b = base(name);
                known
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(b))
                    .map(|k| (i, *k))
            })
            .collect();
        NamedColumns { columns }
    }

    /// The first column for each field among (normalized alias, field name) pairs.
    pub fn by_alias(h: &Header, aliases: &[(&str, &'static str)]) -> NamedColumns {
        let mut columns: Vec<(usize, &'static str)> = Vec::new();
        for (alias, field) in aliases {
            if columns.iter().any(|(_, f)| f == field) {
                continue;
            }
            if let Some(i) = h.find(&[alias]) {
                columns.push((i, field));
            }
        }
        NamedColumns { columns }
    }

    /// Columns given as (index, field) pairs, matched by the caller.
    pub fn from_pairs(columns: Vec<(usize, &'static str)>) -> NamedColumns {
        NamedColumns { columns }
    }

    /// Calls `f(field, cell)` for every matched column whose cell is not empty.
    pub fn for_each<'a>(&self, row: &Row<'a>, mut f: impl FnMut(&'static str, &'a str)) {
        for &(i, field) in &self.columns {
            if let Some(v) = row.get(i).filter(|v| !v.trim().is_empty()) {
                f(field, v);
            }
        }
    }
}

/// Header name as matched: BOM and quotes stripped, trimmed, inner runs of white space folded to
/// one space, lower-cased.
pub fn normalize_name(name: &str) -> String {
    let name = name.trim_start_matches('\u{feff}').trim().trim_matches('"');
    let mut out = String::with_capacity(name.len());
    let mut space = false;
    for c in name.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// The cell at `index`, or "" when the column is absent or the row is short.
pub fn cell<'a>(record: &Row<'a>, index: Option<usize>) -> &'a str {
    index.and_then(|i| record.get(i)).unwrap_or("")
}

/// The first non-empty cell among several columns (duplicated headers, `_dynamic`/`_string` pairs).
pub fn first_cell<'a>(record: &Row<'a>, indexes: &[usize]) -> &'a str {
    indexes
        .iter()
        .filter_map(|i| record.get(*i))
        .find(|c| !c.trim().is_empty())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_despite_spacing_case_and_bom() {
        let h = Header::new(&StringRecord::from(vec![
            "\u{feff}Date (UTC)",
            "Application ID ",
            "Autonomous system  number",
            "Incoming token type",
            "Incoming token type",
        ]));
        assert_eq!(h.find(&["date (utc)"]), Some(0));
        assert_eq!(h.find(&["application id"]), Some(1));
        assert_eq!(h.find(&["autonomous system number"]), Some(2));
        assert_eq!(h.find_all("incoming token type"), vec![3, 4]);
    }
}
