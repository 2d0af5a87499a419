//! Normalize: decode one framed record of a known export variant into [`Event`]s.
//!
//! One file per source format. Every decoder implements [`Decode`]; the ingest stage frames the
//! records, picks the decoder from the file's content, and runs decoders in parallel over batches.

pub mod audit_csv;
pub mod audit_data;
pub mod audit_json;
pub mod columns;
pub mod directory_audit;
pub mod directory_audit_csv;
pub mod directory_audit_json;
pub mod ip;
pub mod json;
pub mod message_trace;
pub mod message_trace_report;
pub mod office_activity;
pub mod risk;
pub mod risk_csv;
pub mod signin;
pub mod signin_json;
pub mod signin_log_analytics_csv;
pub mod signin_portal_csv;
pub mod text;
pub mod time;

use chrono::{DateTime, Utc};

use crate::model::{Event, Outcome, Text};
use time::{DateOrder, OrderEvidence, Parsed};

/// One framed record: a CSV row, or the text of one JSON object.
#[derive(Clone, Copy)]
pub enum Record<'a> {
    Csv(&'a columns::Row<'a>),
    Json(&'a str),
}

impl<'a> Record<'a> {
    /// The CSV row, for decoders of CSV variants.
    pub fn csv(self) -> Result<&'a columns::Row<'a>, RowError> {
        match self {
            Record::Csv(row) => Ok(row),
            Record::Json(_) => Err(RowError::new("expected a CSV row, found a JSON record")),
        }
    }

    /// The JSON text, for decoders of JSON variants.
    pub fn json(self) -> Result<&'a str, RowError> {
        match self {
            Record::Json(text) => Ok(text),
            Record::Csv(_) => Err(RowError::new("expected a JSON record, found a CSV row")),
        }
    }
}

/// One field's value, from a JSON record or a CSV cell; decoders that read both shapes of the
/// same export (Log Analytics CSV and JSON, say) take either.
#[derive(Clone, Copy, Debug)]
pub enum FieldValue<'a> {
    Json(json::Raw<'a>),
    Cell(&'a str),
}

impl<'a> FieldValue<'a> {
    /// The value as text; `None` when empty or null.
    pub fn text(self) -> Option<std::borrow::Cow<'a, str>> {
        match self {
            FieldValue::Json(raw) => json::text(raw),
            FieldValue::Cell(s) => (!s.trim().is_empty()).then_some(std::borrow::Cow::Borrowed(s)),
        }
    }

    /// JSON object or array text: the JSON value itself, or JSON text held in a string or cell.
    pub fn object_text(self) -> Option<std::borrow::Cow<'a, str>> {
        match self {
            FieldValue::Json(raw) => json::object_text(raw),
            FieldValue::Cell(s) => s
                .trim_start()
                .starts_with(['{', '['])
                .then_some(std::borrow::Cow::Borrowed(s)),
        }
    }
}

/// Why a row could not be used: the field (column or JSON key) and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub field: Option<String>,
    pub reason: String,
}

impl RowError {
    pub fn new(reason: impl Into<String>) -> RowError {
        RowError {
            field: None,
            reason: reason.into(),
        }
    }

    pub fn field(field: &str, reason: impl Into<String>) -> RowError {
        RowError {
            field: Some(field.to_string()),
            reason: reason.into(),
        }
    }

    /// A required field is absent or empty.
    pub fn missing(field: &str) -> RowError {
        RowError::field(
            field,
            format!("{field} is empty; every row of this export needs it"),
        )
    }

    /// JSON that does not parse, with serde_json's position inside the text.
    pub fn json(field: &str, err: &serde_json::Error) -> RowError {
        let hint = if err.is_eof() {
            " (the JSON stops early: the cell or record was cut off)"
        } else {
            ""
        };
        RowError::field(field, format!("{field} is not valid JSON: {err}{hint}"))
    }
}

/// Walks the top-level fields of a JSON record, keys in ASCII lower case; a record that does
/// not parse is rejected, naming `what` it was meant to be.
pub fn json_fields<'a>(
    text: &'a str,
    what: &str,
    mut f: impl FnMut(&str, FieldValue<'a>),
) -> Result<(), RowError> {
    json::for_each_field_ci(text, |k, v| f(k, FieldValue::Json(v)))
        .map_err(|e| RowError::json(what, &e))
}

/// Decodes the records of one export variant.
pub trait Decode: Send + Sync {
    /// Appends the record's events to `out` (usually one; a message-trace summary row yields
    /// one per recipient), or says why the record cannot be used.
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError>;
}

/// Conditions worth telling the investigator about a file, counted per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Note {
    /// `Search-UnifiedAuditLog` set ResultIndex to -1: the search hit an internal timeout.
    SearchTimeout,
    /// A nested value (AuditData `Parameters`, `Folders`..., sign-in `location`...) is not valid
    /// JSON: what parsed was used, the event's `parse_error` attr names the field.
    NestedJson,
    /// Invalid UTF-8 bytes were replaced with U+FFFD.
    InvalidUtf8,
}

impl Note {
    pub fn describe(self) -> &'static str {
        match self {
            Note::SearchTimeout => "rows with ResultIndex -1: Search-UnifiedAuditLog hit an internal timeout, so this search result is incomplete; run the search again",
            Note::InvalidUtf8 => "rows with bytes that are not valid UTF-8; they were replaced with U+FFFD",
            Note::NestedJson => "rows with a nested value that is not valid JSON (Parameters, Folders, location...); what parsed was used and the event's parse_error attr names the field",
        }
    }
}

/// Per-batch decoding state: the date order setting, and what culture-formatted dates showed.
#[derive(Debug, Default)]
pub struct RowCtx {
    /// Counted conditions (see [`Note`]).
    pub notes: std::collections::BTreeMap<Note, u64>,
    pub order: DateOrder,
    /// Values that proved day-first / month-first order.
    pub day_first: u64,
    pub month_first: u64,
    /// Day-first reading of the current row's time when its order was ambiguous; the ingest
    /// stage applies it to the row's events if the file turns out to be day-first.
    pub row_alternative: Option<DateTime<Utc>>,
}

impl RowCtx {
    pub fn new(order: DateOrder) -> RowCtx {
        RowCtx {
            order,
            ..RowCtx::default()
        }
    }

    pub fn note(&mut self, note: Note) {
        *self.notes.entry(note).or_insert(0) += 1;
    }

    /// Parses the timestamp the row's events will carry. Call it once per row, on the value used.
    pub fn time(&mut self, field: &str, value: &str) -> Result<DateTime<Utc>, RowError> {
        match time::parse(value, self.order) {
            None if value.trim().is_empty() => Err(RowError::missing(field)),
            None => Err(RowError::field(
                field,
                format!("{field} is not a timestamp: {:?}", truncate(value, 60)),
            )),
            Some((parsed, evidence)) => {
                match evidence {
                    OrderEvidence::DayFirst => self.day_first += 1,
                    OrderEvidence::MonthFirst => self.month_first += 1,
                    OrderEvidence::None => {}
                }
                Ok(match parsed {
                    Parsed::Exact(t) => t,
                    Parsed::Ambiguous { mdy, dmy } => {
                        self.row_alternative = Some(dmy);
                        mdy
                    }
                })
            }
        }
    }
}

/// Shortens evidence text quoted in messages.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}...")
    }
}

/// Interned text for a repeated value, `None` when empty.
pub fn opt(s: &str) -> Option<Text> {
    text::present(s).map(text::intern)
}

/// Unique-per-row text (ids), `None` when empty.
pub fn opt_id(s: &str) -> Option<Text> {
    text::present(s).map(text::unique)
}

/// Adds a named attribute when the value is not empty.
pub fn push_attr(event: &mut Event, name: &'static str, value: &str) {
    if let Some(v) = text::present(value) {
        event.attrs.push((text::intern_name(name), text::intern(v)));
    }
}

/// Adds `prefix` + `name` = value (for `param.`, `prop.`, `modified.` attributes). A modified
/// property's value is kept when it is an empty list or object: `StrongAuthenticationMethod`
/// set to `[]` is how a removal of every MFA method reads.
pub fn push_prefixed_attr(event: &mut Event, prefix: &str, name: &str, value: &str, unique: bool) {
    let kept = if prefix.starts_with("modified") {
        Some(value.trim()).filter(|v| !v.is_empty() && *v != "null")
    } else {
        text::present(value)
    };
    if let Some(v) = kept {
        let v = if unique {
            text::unique(v)
        } else {
            text::intern(v)
        };
        event.attrs.push((text::intern_joined(prefix, name), v));
    }
}

/// Like [`push_attr`] for values unique per row (message ids), which are not interned.
pub fn push_attr_id(event: &mut Event, name: &'static str, value: &str) {
    if let Some(v) = text::present(value) {
        event.attrs.push((text::intern_name(name), text::unique(v)));
    }
}

/// Entra error codes that interrupt a sign-in for a prompt rather than fail it
/// (MFA required, keep-me-signed-in, device auth, account picker...). Microsoft's sign-in
/// error code reference lists them as interrupts; counting them as failures would make every
/// MFA prompt look like a password-spray attempt.
const INTERRUPT_CODES: &[&str] = &[
    "16000", "16001", "16003", "50058", "50072", "50074", "50076", "50079", "50097", "50125",
    "50140", "50158", "50199", "81010", "81012",
];

/// Sign-in outcome from the error code when there is one, else from a status word.
pub fn signin_outcome(error_code: Option<&str>, status: Option<&str>) -> (Outcome, Option<Text>) {
    if let Some(code) = error_code.map(str::trim).filter(|c| !c.is_empty()) {
        if code == "0" {
            return (Outcome::Success, None);
        }
        let outcome = if INTERRUPT_CODES.contains(&code) {
            Outcome::Interrupted
        } else {
            Outcome::Failure
        };
        return (outcome, Some(text::intern(code)));
    }
    let outcome = match status.map(|s| s.trim().to_lowercase()).as_deref() {
        Some(
            "success" | "succeeded" | "true" | "opération réussie" | "correcto" | "erfolgreich",
        ) => Outcome::Success,
        Some("failure" | "failed" | "false" | "échec" | "error" | "fehler") => Outcome::Failure,
        Some("interrupted" | "interrompu" | "interrumpido" | "unterbrochen") => {
            Outcome::Interrupted
        }
        _ => Outcome::Unknown,
    };
    (outcome, None)
}

/// Splits the Entra portal's one-cell location `City, State, CC` (parts may be empty).
pub fn split_location(s: &str) -> (Option<Text>, Option<Text>, Option<Text>) {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [city, region, country] => (opt(city), opt(region), opt(country)),
        [region, country] => (None, opt(region), opt(country)),
        [country] => (None, None, opt(country)),
        _ => {
            let n = parts.len();
            (
                opt(&parts[..n - 2].join(", ")),
                opt(parts[n - 2]),
                opt(parts[n - 1]),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupts_are_not_failures() {
        assert_eq!(signin_outcome(Some("0"), None).0, Outcome::Success);
        assert_eq!(signin_outcome(Some("50126"), None).0, Outcome::Failure);
        assert_eq!(signin_outcome(Some("50074"), None).0, Outcome::Interrupted);
        assert_eq!(
            signin_outcome(None, Some("Interrupted")).0,
            Outcome::Interrupted
        );
        assert_eq!(
            signin_outcome(Some(""), Some("Success")).0,
            Outcome::Success
        );
        assert_eq!(
            signin_outcome(None, Some("Opération réussie")).0,
            Outcome::Success
        );
    }

    #[test]
    fn portal_location_cell_splits_into_parts() {
        let (c, r, k) = split_location("Melbourne, Victoria, AU");
        assert_eq!(
            (c.as_deref(), r.as_deref(), k.as_deref()),
            (Some("Melbourne"), Some("Victoria"), Some("AU"))
        );
        let (c, r, k) = split_location(", , NG");
        assert_eq!((c, r, k.as_deref()), (None, None, Some("NG")));
    }

    #[test]
    fn ambiguous_row_time_records_the_day_first_reading() {
        let mut cx = RowCtx::new(DateOrder::Auto);
        let t = cx.time("Received", "04/03/2024 09:10:33").unwrap();
        assert_eq!(time::format(&t), "2024-04-03T09:10:33Z");
        assert_eq!(
            cx.row_alternative.map(|t| time::format(&t)).as_deref(),
            Some("2024-03-04T09:10:33Z")
        );
        let err = cx.time("Received", "yesterday").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("Received"));
    }
}
