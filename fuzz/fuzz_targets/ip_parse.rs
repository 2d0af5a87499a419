//! IP addresses as exports write them (with ports, brackets, zone ids, mapped IPv4).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = breachline::normalize::ip::parse(&text);
});
