//! Rows under a real header (messagetrace/Get-MessageTrace_v1.csv): CSV framing and the decoder.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = common::header(include_bytes!(
        "../../fixtures/variants/messagetrace/Get-MessageTrace_v1.csv"
    ));
    bytes.extend_from_slice(data);
    common::read_checked("trace.csv", bytes);
});
