//! JSON framing (arrays, JSON lines, pages, garbage, truncation) and everything behind it:
//! the bytes are read as a whole file, whatever variant they turn out to be.
#![no_main]

#[path = "common.rs"]
mod common;

use breachline::ingest::framing::{JsonItem, JsonSplitter};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The splitter alone, with a small record limit and a tiny read buffer.
    let reader = std::io::BufReader::with_capacity(7, data);
    let mut s = JsonSplitter::new(reader).with_max_record(256);
    let mut out = Vec::new();
    let mut last_line = 0;
    while let Ok(Some(item)) = s.next_into(&mut out) {
        let line = match item {
            JsonItem::Record { start, end, line } => {
                assert!(start <= end && end <= out.len());
                line
            }
            JsonItem::Garbage { line, .. }
            | JsonItem::Broken { line, .. }
            | JsonItem::Oversized { line }
            | JsonItem::Truncated { line, .. } => line,
        };
        assert!(line >= 1);
        let _ = last_line.max(line);
        last_line = line;
    }
    common::read_checked("stream.json", data.to_vec());
});
