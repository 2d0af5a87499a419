//! Rows under a real header (signin/InteractiveSignIns_2024-03-04_2024-03-05.csv): CSV framing and the decoder.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = common::header(include_bytes!(
        "../../fixtures/variants/signin/InteractiveSignIns_2024-03-04_2024-03-05.csv"
    ));
    bytes.extend_from_slice(data);
    common::read_checked("InteractiveSignIns.csv", bytes);
});
