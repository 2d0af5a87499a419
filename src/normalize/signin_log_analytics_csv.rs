//! Log Analytics (Sentinel) "Export to CSV" of `SigninLogs` and `AADNonInteractiveUserSignInLogs`:
//! datetime columns end in ` [UTC]` and hold `4/28/2021, 2:08:45.221 PM`; typed columns come as
//! `<Name>_dynamic` / `<Name>_string` pairs of JSON text (../shared/formats.md §1d).

use crate::model::{Event, Source};
use crate::normalize::columns::Header;
use crate::normalize::signin::{SigninFields, LOG_ANALYTICS_COLUMNS};
use crate::normalize::{Decode, FieldValue, Record, RowCtx, RowError};

pub struct SigninLogAnalyticsCsv {
    source: Source,
    /// (column index, Log Analytics field name) for every column the decoder uses.
    columns: Vec<(usize, &'static str)>,
}

impl SigninLogAnalyticsCsv {
    pub fn new(h: &Header, source: Source) -> SigninLogAnalyticsCsv {
        let columns = h
            .names()
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                let base = name
                    .trim_end_matches(" [utc]")
                    .trim_end_matches("_dynamic")
                    .trim_end_matches("_string");
                LOG_ANALYTICS_COLUMNS
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(base))
                    .map(|k| (i, *k))
            })
            .collect();
        SigninLogAnalyticsCsv { source, columns }
    }
}

impl Decode for SigninLogAnalyticsCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let Record::Csv(row) = record else {
            return Err(RowError::new("expected a CSV row"));
        };
        let mut f = SigninFields::default();
        for &(i, key) in &self.columns {
            match row.get(i) {
                Some(v) if !v.trim().is_empty() => {
                    f.set(key, FieldValue::Cell(v));
                }
                _ => {}
            }
        }
        out.push(f.into_event(cx, self.source)?);
        Ok(())
    }
}
