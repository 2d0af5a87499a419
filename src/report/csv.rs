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
    let mut w = timeline_writer(out)?;
    write_timeline_rows(&mut w, timelines, files, ips)?;
    w.flush()?;
    Ok(())
}

/// A timeline CSV writer, its header written.
pub fn timeline_writer<W: Write>(out: W) -> io::Result<csv::Writer<W>> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TIMELINE_COLUMNS)?;
    Ok(w)
}

/// Writes the timelines' rows (after the header, or after other timelines' rows).
pub fn write_timeline_rows<W: Write>(
    w: &mut csv::Writer<W>,
    timelines: &[UserTimeline],
    files: &[String],
    ips: &Enrichment,
) -> io::Result<()> {
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

/// The rejects CSV header.
pub const REJECT_COLUMNS: &[&str] = &["path", "line", "record", "field", "reason"];

/// The cells of one rejects CSV row, escaped for spreadsheets.
pub fn reject_cells(r: &Reject) -> [String; 5] {
    [
        defuse(&r.path).into_owned(),
        r.line.to_string(),
        r.record.to_string(),
        defuse(r.field.as_deref().unwrap_or("")).into_owned(),
        defuse(&r.reason).into_owned(),
    ]
}

/// Writes rejected rows: path, line, record, field, reason.
pub fn write_rejects(out: &mut dyn Write, rejects: &[Reject]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(REJECT_COLUMNS)?;
    for r in rejects {
        w.write_record(reject_cells(r))?;
    }
    w.flush()?;
    Ok(())
}

/// Writes every rejected row of the run: per file, the rows kept in memory then those that
/// streamed to the file's temporary spill (beyond `REJECTS_KEPT`), in file and record order.
pub fn write_all_rejects(out: &mut dyn Write, ing: &crate::ingest::Ingested) -> io::Result<()> {
    use std::io::Seek;
    let rows = |out: &mut dyn Write, rejects: &[&Reject], header: bool| -> io::Result<()> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        if header {
            w.write_record(REJECT_COLUMNS)?;
        }
        for r in rejects {
            w.write_record(reject_cells(r))?;
        }
        w.flush()
    };
    rows(out, &[], true)?;
    let mut kept = ing.rejects.iter().peekable();
    for (id, _) in ing.files.iter().enumerate() {
        let mut mine = Vec::new();
        while let Some(r) = kept.next_if(|r| r.file as usize == id) {
            mine.push(r);
        }
        rows(out, &mine, false)?;
        if let Some(mut spill) = ing.spills.get(&(id as u32)) {
            spill.seek(io::SeekFrom::Start(0))?;
            io::copy(&mut spill, out)?;
        }
    }
    let rest: Vec<&Reject> = kept.collect();
    rows(out, &rest, false)
}

/// Prefixes `'` to a cell a spreadsheet would evaluate as a formula, since evidence text is
/// attacker-controlled (subjects, rule names, user agents). The OWASP rule, applied to every
/// cell: a cell starting with `=`, `+`, `-`, `@`, tab or carriage return is defused, except a
/// cell that is a plain number (`-5`, `-0.25`), which a spreadsheet reads as that number.
/// breachline's own cells (ISO times, counts, line numbers) never start with those characters.
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = match cell.as_bytes() {
        [b'=' | b'+' | b'@' | b'\t' | b'\r' | b'\n', ..] => true,
        [b'-', rest @ ..] => !is_plain_number(rest),
        _ => false,
    };
    if risky {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Digits with at most one decimal point and no sign, exponent or other text.
fn is_plain_number(b: &[u8]) -> bool {
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let dots = b.iter().filter(|c| **c == b'.').count();
    digits > 0 && dots <= 1 && digits + dots == b.len()
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn a_leading_minus_is_defused_unless_the_cell_is_a_plain_number() {
        assert_eq!(defuse("-2+3"), "'-2+3");
        assert_eq!(defuse("-1+cmd|' /C calc'!A0"), "'-1+cmd|' /C calc'!A0");
        assert_eq!(defuse("-"), "'-");
        assert_eq!(defuse("-0.25"), "-0.25");
        assert_eq!(defuse("\nx"), "'\nx");
    }

    #[test]
    fn formulas_are_defused_and_numbers_are_not() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("-mFzZTY"), "'-mFzZTY");
        assert_eq!(defuse("-5"), "-5");
        assert_eq!(defuse("Invoice"), "Invoice");
    }
}
