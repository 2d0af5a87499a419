//! One AuditData JSON text through the audit decoder.
#![no_main]

use breachline::normalize::audit_data::{decode, AuditHints};
use breachline::normalize::time::DateOrder;
use breachline::normalize::RowCtx;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut cx = RowCtx::new(DateOrder::Auto);
    let _ = decode(&text, &mut cx, &AuditHints::default());
});
