//! Shared by the targets: read bytes as one evidence file and check the accounting invariant.
#![allow(dead_code)]

use breachline::ingest::read::{read_raw, FileRead};
use breachline::ingest::IngestOptions;

/// The first line of a fixture (a real export header), with its line end.
pub fn header(fixture: &[u8]) -> Vec<u8> {
    let end = fixture
        .iter()
        .position(|b| *b == b'\n')
        .map_or(fixture.len(), |i| i + 1);
    fixture[..end].to_vec()
}

/// Reads `bytes` as the file `name`; every framed row must be parsed or rejected.
pub fn read_checked(name: &str, bytes: Vec<u8>) -> FileRead {
    let read = read_raw(
        0,
        name,
        name,
        Box::new(std::io::Cursor::new(bytes)),
        &IngestOptions::default(),
    );
    if read.variant.is_some() {
        let mut records: Vec<u64> = read.events.iter().map(|e| e.origin.record).collect();
        records.dedup();
        assert_eq!(
            read.rows,
            records.len() as u64 + read.rejected,
            "rows = parsed + rejected"
        );
    } else {
        assert_eq!(read.rows, 0, "an unrecognised file accounts no rows");
    }
    read
}
