//! Log Analytics (Sentinel) "Export to CSV" of `SigninLogs` and `AADNonInteractiveUserSignInLogs`:
//! datetime columns end in ` [UTC]` and hold `4/28/2021, 2:08:45.221 PM`; typed columns come as
//! `<Name>_dynamic` / `<Name>_string` pairs of JSON text (docs/formats.md, "Log Analytics CSV").

use crate::model::{Event, Source};
use crate::normalize::columns::{Header, NamedColumns};
use crate::normalize::signin::{SigninFields, LOG_ANALYTICS_COLUMNS};
use crate::normalize::{Decode, FieldValue, Record, RowCtx, RowError};

pub struct SigninLogAnalyticsCsv {
    source: Source,
    columns: NamedColumns,
}

impl SigninLogAnalyticsCsv {
    pub fn new(h: &Header, source: Source) -> SigninLogAnalyticsCsv {
        fn base(name: &str) -> &str {
            name.trim_end_matches(" [utc]")
                .trim_end_matches("_dynamic")
                .trim_end_matches("_string")
        }
        SigninLogAnalyticsCsv {
            source,
            columns: NamedColumns::by_field_name(h, LOG_ANALYTICS_COLUMNS, base),
        }
    }
}

impl Decode for SigninLogAnalyticsCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        let mut f = SigninFields::default();
        self.columns.for_each(row, |key, v| {
            f.set(key, FieldValue::Cell(v));
        });
        out.push(f.into_event(cx, self.source)?);
        Ok(())
    }
}
