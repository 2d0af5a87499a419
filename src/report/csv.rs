//! CSV output: the timeline (schema in docs/formats.md, "The normalized event") and the rejects file.

use std::io::{self, Write};

use crate::enrich::Enrichment;
use crate::ingest::Reject;
use crate::model::Event;
use crate::normalize::time;
use crate::timeline::UserTimeline;

/// Timeline CSV header, in column order.
pub const TIMELINE_COLUMNS: &[&str] = &[
    "timeline_user",
    "time",
    "source",
    "user",
    "operation",
    "outcome",
    "error_code",
    "ip",
    "country",
    "region",
    "city",
    "asn",
    "ip_scope",
    "ip_country",
    "ip_asn",
    "ip_as_org",
    "ip_network",
    "ip_provider",
    "user_agent",
    "application",
    "client_app",
    "device_id",
    "session_id",
    "correlation_id",
    "request_id",
    "token_id",
    "record_id",
    "object",
    "attrs",
    "origin_file",
    "origin_line",
    "origin_record",
];

/// Writes the timelines as CSV, one row per (timeline user, event).
pub fn write_timeline(
    out: &mut dyn Write,
    timelines: &[UserTimeline],
    files: &[String],
    ips: &Enrichment,
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TIMELINE_COLUMNS)?;
    for t in timelines {
        for e in &t.events {
            let row = timeline_row(&t.user, e, files, ips);
            w.write_record(
                row.iter()
                    .map(|c| defuse(c))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|c| c.as_bytes()),
            )?;
        }
    }
    w.flush()?;
    Ok(())
}

/// The cells of one timeline row, unescaped.
pub fn timeline_row(
    timeline_user: &str,
    e: &Event,
    files: &[String],
    ips: &Enrichment,
) -> Vec<String> {
    let o = |v: &Option<crate::model::Text>| v.as_deref().unwrap_or("").to_string();
    let info = ips.for_event(e);
    vec![
        timeline_user.to_string(),
        time::format(&e.time),
        e.source.as_str().to_string(),
        e.user.to_string(),
        e.operation.to_string(),
        e.outcome.as_str().to_string(),
        o(&e.error_code),
        e.ip.map(|i| i.to_string()).unwrap_or_default(),
        o(&e.country),
        o(&e.region),
        o(&e.city),
        e.asn.map(|a| a.to_string()).unwrap_or_default(),
        info.map(|i| i.scope.as_str().to_string())
            .unwrap_or_default(),
        info.map(|i| o(&i.country)).unwrap_or_default(),
        info.and_then(|i| i.asn)
            .map(|a| a.to_string())
            .unwrap_or_default(),
        info.map(|i| o(&i.as_org)).unwrap_or_default(),
        info.map(|i| i.network.as_str().to_string())
            .unwrap_or_default(),
        info.map(|i| o(&i.provider)).unwrap_or_default(),
        o(&e.user_agent),
        o(&e.application),
        o(&e.client_app),
        o(&e.device_id),
        o(&e.session_id),
        o(&e.correlation_id),
        o(&e.request_id),
        o(&e.token_id),
        o(&e.record_id),
        o(&e.object),
        if e.attrs.is_empty() {
            String::new()
        } else {
            super::json::attrs_value(e).to_string()
        },
        files
            .get(e.origin.file as usize)
            .cloned()
            .unwrap_or_default(),
        e.origin.line.to_string(),
        e.origin.record.to_string(),
    ]
}

/// Writes rejected rows: path, line, record, field, reason.
pub fn write_rejects(out: &mut dyn Write, rejects: &[Reject]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["path", "line", "record", "field", "reason"])?;
    for r in rejects {
        w.write_record([
            defuse(&r.path).as_ref(),
            &r.line.to_string(),
            &r.record.to_string(),
            r.field.as_deref().unwrap_or(""),
            defuse(&r.reason).as_ref(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Prefixes `'` to a cell a spreadsheet would evaluate as a formula (`=`, `+`, `@`, or `-`
/// not followed by a digit), since evidence text is attacker-controlled (subjects, rule names).
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = match cell.as_bytes() {
        [b'=' | b'+' | b'@' | b'\t' | b'\r', ..] => true,
        [b'-', next, ..] => !next.is_ascii_digit(),
        _ => false,
    };
    if risky {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn formulas_are_defused_and_numbers_are_not() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("-mFzZTY"), "'-mFzZTY");
        assert_eq!(defuse("-5"), "-5");
        assert_eq!(defuse("Invoice"), "Invoice");
    }
}
