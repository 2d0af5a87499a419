//! Framing: cutting a decoded text stream into records, apart from decoding what is in them.
//!
//! JSON evidence comes as one array, `{"value":[...]}` pages, JSON lines, or several top-level
//! arrays and objects concatenated in one file (Microsoft-Extractor-Suite appends pages; see
//! docs/formats.md, "JSON framing"). [`JsonSplitter`] handles all of these in one streaming pass, without
//! loading the file, and reports the line each record starts on so findings can cite it.
//! CSV framing is the `csv` crate's; here we only skip a PowerShell `#TYPE` line and pick the
//! delimiter.

use std::io::{self, BufRead};

/// One JSON record cut from the stream: its text is appended to the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonItem {
    /// A record (array element or top-level object) at `buf[start..end]`, starting on `line`.
    Record { start: usize, end: usize, line: u64 },
    /// Something that is not JSON where a record should start; the splitter skipped to the next line.
    Garbage { line: u64, found: String },
    /// The input ended inside a record or an open array: the file is probably truncated.
    Truncated { line: u64, inside_record: bool },
    /// A top-level record of JSON lines that a line end cut short (a broken line): the splitter
    /// resumed at the next line, so the records after it are still read.
    Broken { line: u64, found: String },
    /// A record larger than the splitter's limit: skipped without being held in memory.
    Oversized { line: u64 },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// Between top-level values.
    Top,
    /// Inside a top-level array, between elements.
    Array,
}

/// Streams records out of a JSON or JSON-lines text.
pub struct JsonSplitter<R> {
    reader: R,
    buf: Vec<u8>,
    /// Next byte to look at in `buf`.
    pos: usize,
    /// Line number of `buf[pos]` (1-based).
    line: u64,
    level: Level,
    array_line: u64,
    eof: bool,
    /// Whether the input is JSON lines: known after the first top-level record (one line or not).
    json_lines: Option<bool>,
    /// The largest record kept, in bytes.
    max_record: usize,
}

const READ_CHUNK: usize = 1 << 20;

impl<R: BufRead> JsonSplitter<R> {
    pub fn new(reader: R) -> Self {
        JsonSplitter {
            reader,
            buf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
            line: 1,
            level: Level::Top,
            array_line: 0,
            eof: false,
            json_lines: None,
            max_record: crate::ingest::read::MAX_RECORD_BYTES as usize,
        }
    }

    /// Sets the largest record kept (bytes); larger ones become [`JsonItem::Oversized`].
    pub fn with_max_record(mut self, bytes: usize) -> Self {
        self.max_record = bytes.max(1);
        self
    }

    /// The line the splitter has reached (1-based).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Reads more input into `buf`, dropping what was consumed before `keep_from`.
    /// Returns false at end of input.
    fn refill(&mut self, keep_from: usize) -> io::Result<bool> {
        if keep_from > 0 {
            self.buf.drain(..keep_from);
            self.pos -= keep_from;
        }
        if self.eof {
            return Ok(false);
        }
        let chunk = self.reader.fill_buf()?;
        if chunk.is_empty() {
            self.eof = true;
            return Ok(false);
        }
        let n = chunk.len();
        self.buf.extend_from_slice(chunk);
        self.reader.consume(n);
        Ok(true)
    }

    /// Cuts the next item; record text is appended to `out`. `Ok(None)` at the end.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> io::Result<Option<JsonItem>> {
        loop {
            // Skip separators between values.
            while self.pos < self.buf.len() {
                match self.buf[self.pos] {
                    b'\n' => {
                        self.line += 1;
                        self.pos += 1;
                    }
                    b' ' | b'\t' | b'\r' | b',' | 0xEF | 0xBB | 0xBF => self.pos += 1,
                    b'[' if self.level == Level::Top => {
                        self.level = Level::Array;
                        self.array_line = self.line;
                        self.pos += 1;
                    }
                    b']' if self.level == Level::Array => {
                        self.level = Level::Top;
                        self.pos += 1;
                    }
                    _ => break,
                }
            }
            if self.pos >= self.buf.len() {
                let pos = self.pos;
                if !self.refill(pos)? {
                    if self.level == Level::Array {
                        self.level = Level::Top;
                        return Ok(Some(JsonItem::Truncated {
                            line: self.array_line,
                            inside_record: false,
                        }));
                    }
                    return Ok(None);
                }
                continue;
            }
            let first = self.buf[self.pos];
            let starts_value = matches!(
                first,
                b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
            );
            if !starts_value || (self.level == Level::Top && first != b'{') {
                return self.skip_garbage().map(Some);
            }
            return self.cut_value(out).map(Some);
        }
    }

    /// Skips to the next line after text that cannot start a record.
    fn skip_garbage(&mut self) -> io::Result<JsonItem> {
        let line = self.line;
        let mut start = self.pos;
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[self.pos..]) {
                let end = self.pos + nl;
                let found = preview(&self.buf[start..end]);
                self.pos = end;
                return Ok(JsonItem::Garbage { line, found });
            }
            self.pos = self.buf.len();
            // `refill` drops what lies before `start`, so the garbage then starts at 0.
            let more = self.refill(start)?;
            start = 0;
            if !more {
                let found = preview(&self.buf[..]);
                self.pos = self.buf.len();
                return Ok(JsonItem::Garbage { line, found });
            }
        }
    }

    /// Cuts one complete JSON value starting at `pos` (an object, array or scalar element).
    ///
    /// A top-level record of JSON lines ends at its line end: when the line ends inside it (a
    /// broken line), it is reported as [`JsonItem::Broken`] and the next line starts afresh.
    /// The input counts as JSON lines once the first top-level record fits on one line; before
    /// that, a line starting with `{` in the first column ends a record cut short (pretty-printed
    /// records indent what they nest).
    fn cut_value(&mut self, out: &mut Vec<u8>) -> io::Result<JsonItem> {
        let line = self.line;
        let mut start = self.pos;
        let mut depth: u32 = 0;
        let mut in_string = false;
        let mut lines = 0u64;
        let scalar = !matches!(self.buf[self.pos], b'{' | b'[');
        let top = self.level == Level::Top;
        // Past the size limit the record's bytes are dropped as they are scanned.
        let mut oversized = false;
        loop {
            let mut i = self.pos;
            let buf = &self.buf;
            let mut done = None;
            let mut broken = None;
            while i < buf.len() {
                if in_string {
                    match memchr::memchr3(b'"', b'\\', b'\n', &buf[i..]) {
                        None => {
                            i = buf.len();
                            break;
                        }
                        Some(k) => {
                            i += k;
                            match buf[i] {
                                b'"' => {
                                    in_string = false;
                                    i += 1;
                                }
                                b'\\' => {
                                    if i + 1 >= buf.len() {
                                        break; // need the escaped byte
                                    }
                                    i += 2;
                                }
                                _ => {
                                    if top && self.line_ends_record(i) {
                                        broken = Some(i);
                                        break;
                                    }
                                    lines += 1;
                                    i += 1;
                                }
                            }
                        }
                    }
                    if scalar && !in_string && depth == 0 {
                        done = Some(i);
                        break;
                    }
                    continue;
                }
                let c = buf[i];
                match c {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        if depth == 0 {
                            // End of the enclosing array: a scalar element ends here.
                            done = Some(i);
                            break;
                        }
                        depth -= 1;
                        if depth == 0 {
                            done = Some(i + 1);
                            break;
                        }
                    }
                    b'\n' => {
                        if top && depth > 0 && self.line_ends_record(i) {
                            broken = Some(i);
                            break;
                        }
                        lines += 1;
                    }
                    b',' if depth == 0 => {
                        done = Some(i);
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            if let Some(at) = broken {
                let found = preview(&self.buf[start..at]);
                self.pos = at;
                self.line += lines;
                if oversized {
                    return Ok(JsonItem::Oversized { line });
                }
                return Ok(JsonItem::Broken { line, found });
            }
            if let Some(end) = done {
                self.pos = end;
                self.line += lines;
                if top && !scalar && self.json_lines.is_none() {
                    self.json_lines = Some(lines == 0);
                }
                if oversized || end - start > self.max_record {
                    return Ok(JsonItem::Oversized { line });
                }
                out.extend_from_slice(&self.buf[start..end]);
                let len = end - start;
                let at = out.len() - len;
                return Ok(JsonItem::Record {
                    start: at,
                    end: out.len(),
                    line,
                });
            }
            // Need more input: keep the record's bytes (unless it is already too large),
            // resume scanning where we stopped.
            self.pos = i;
            if !oversized && i - start > self.max_record {
                oversized = true;
            }
            let keep = if oversized { i } else { start };
            if !self.refill(keep)? {
                self.line += lines;
                self.pos = self.buf.len();
                if oversized {
                    return Ok(JsonItem::Oversized { line });
                }
                if scalar && depth == 0 && !in_string {
                    out.extend_from_slice(&self.buf[0..]);
                    let at = out.len() - self.buf.len();
                    return Ok(JsonItem::Record {
                        start: at,
                        end: out.len(),
                        line,
                    });
                }
                return Ok(JsonItem::Truncated {
                    line,
                    inside_record: true,
                });
            }
            start = 0;
        }
    }

    /// Whether the line end at `buf[i]` ends a top-level record cut short: always in JSON
    /// lines, else when the next line starts with `{` in its first column.
    fn line_ends_record(&self, i: usize) -> bool {
        match self.json_lines {
            Some(true) => true,
            _ => {
                let next = self.buf.get(i + 1).copied();
                let next = if next == Some(b'\r') {
                    self.buf.get(i + 2).copied()
                } else {
                    next
                };
                next == Some(b'{')
            }
        }
    }
}

fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]);
    s.trim().to_string()
}

/// Skips a leading `#TYPE ...` line (Windows PowerShell `Export-Csv` without
/// `-NoTypeInformation`). Returns how many lines were skipped.
pub fn skip_type_line<R: BufRead>(reader: &mut R) -> io::Result<u64> {
    let head = reader.fill_buf()?;
    if head.starts_with(b"#TYPE") {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line)?;
        return Ok(1);
    }
    Ok(0)
}

/// The delimiter of a CSV header line: `,`, `;` (Excel in continental locales) or tab,
/// whichever appears most outside quotes.
pub fn sniff_delimiter(header: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &c in header.iter().take_while(|c| **c != b'\n') {
        match c {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3)
        .max_by_key(|i| (counts[*i], usize::from(*i == 0)))
        .unwrap_or(0);
    [b',', b';', b'\t'][best]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<(String, u64)> {
        let mut s = JsonSplitter::new(io::BufReader::with_capacity(7, text.as_bytes()));
        let mut out = Vec::new();
        let mut items = Vec::new();
        while let Some(item) = s.next_into(&mut out).unwrap() {
            match item {
                JsonItem::Record { start, end, line } => {
                    items.push((String::from_utf8(out[start..end].to_vec()).unwrap(), line))
                }
                other => items.push((format!("{other:?}"), 0)),
            }
        }
        items
    }

    #[test]
    fn arrays_objects_and_json_lines_give_records_with_lines() {
        let got = split("\u{feff}[\r\n {\"a\":\"x,]}\\\"\"},\r\n {\"b\":[1,2]}\r\n]\r\n{\"c\":1}\n{\"d\":\"e\\nf\"}\n");
        assert_eq!(
            got,
            vec![
                ("{\"a\":\"x,]}\\\"\"}".to_string(), 2),
                ("{\"b\":[1,2]}".to_string(), 3),
                ("{\"c\":1}".to_string(), 5),
                ("{\"d\":\"e\\nf\"}".to_string(), 6),
            ]
        );
    }

    #[test]
    fn concatenated_arrays_and_bare_objects() {
        let got = split("[{\"a\":1}]\r\n[ {\"b\":2},{\"c\":3}]{\"d\":4}");
        let texts: Vec<_> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(texts, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "{\"d\":4}"]);
    }

    #[test]
    fn records_spanning_lines_report_their_first_line() {
        let got = split("[\n{\n\"a\": \"multi\",\n\"b\": 2\n},\n{\"c\":3}\n]");
        assert_eq!(got[0].1, 2);
        assert_eq!(got[1].1, 6);
    }

    #[test]
    fn garbage_and_truncation_are_reported() {
        let got = split("{\"a\":1}\noops not json\n{\"b\":2}\n[{\"c\":");
        assert_eq!(got[0].0, "{\"a\":1}");
        assert!(got[1].0.contains("Garbage { line: 2"), "{:?}", got[1]);
        assert_eq!(got[2].0, "{\"b\":2}");
        assert!(
            got[3]
                .0
                .contains("Truncated { line: 4, inside_record: true }"),
            "{:?}",
            got[3]
        );
    }

    #[test]
    fn json_lines_resume_after_a_broken_line() {
        let got = split("{\"a\":1}\n{\"b\": \"cut\n{\"c\":[1,\n{\"d\":4}\n");
        assert_eq!(got[0].0, "{\"a\":1}");
        assert!(got[1].0.contains("Broken { line: 2"), "{:?}", got[1]);
        assert!(got[2].0.contains("Broken { line: 3"), "{:?}", got[2]);
        assert_eq!(got[3], ("{\"d\":4}".to_string(), 4));
    }

    #[test]
    fn pretty_printed_records_are_not_cut_at_line_ends() {
        let got = split("{\n  \"a\": {\n    \"b\": 1\n  }\n}\n{\n  \"c\": 2\n}\n");
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1].1, 6);
    }

    #[test]
    fn a_record_larger_than_the_limit_is_skipped_not_held() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(1000));
        let text = format!("{{\"a\":1}}\n{big}\n{{\"b\":2}}\n");
        let mut s = JsonSplitter::new(io::BufReader::with_capacity(16, text.as_bytes()))
            .with_max_record(100);
        let mut out = Vec::new();
        let mut items = Vec::new();
        while let Some(item) = s.next_into(&mut out).unwrap() {
            items.push(item);
        }
        assert!(
            matches!(items[1], JsonItem::Oversized { line: 2 }),
            "{items:?}"
        );
        assert!(
            matches!(items[2], JsonItem::Record { line: 3, .. }),
            "{items:?}"
        );
        assert!(
            out.len() < 100,
            "the big record was not kept: {}",
            out.len()
        );
    }

    #[test]
    fn delimiter_is_sniffed_outside_quotes() {
        assert_eq!(sniff_delimiter(b"a,b,c\n"), b',');
        assert_eq!(sniff_delimiter(b"\"x,y\";b;c\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
    }
}
