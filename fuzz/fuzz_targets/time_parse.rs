//! Every time format breachline reads, in every date order.
#![no_main]

use breachline::normalize::time::{self, DateOrder};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = time::parse_iso(&text);
    for order in [DateOrder::Auto, DateOrder::Mdy, DateOrder::Dmy] {
        let _ = time::parse(&text, order);
    }
    if let Some(t) = time::parse_iso(&text) {
        let _ = time::format(&t);
    }
});
