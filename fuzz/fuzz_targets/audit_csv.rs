//! Rows under a real header (audit/purview_export_new.csv): CSV framing and the decoder.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = common::header(include_bytes!(
        "../../fixtures/variants/audit/purview_export_new.csv"
    ));
    bytes.extend_from_slice(data);
    common::read_checked("audit.csv", bytes);
});
