//! Unified audit log CSV exports, all of which carry AuditData JSON in one column:
//! the Purview portal export (new `RecordId,CreationDate,RecordType,Operation,UserId,AuditData,...`
//! and old `CreationDate,UserIds,Operations,AuditData` headers), `Search-UnifiedAuditLog |
//! Export-Csv` (with or without `PSComputerName`/`RunspaceId`, any column subset), and
//! Microsoft-Extractor-Suite `Get-UALGraph` CSV (`auditData`, pretty-printed over many lines).

use std::borrow::Cow;

use crate::model::Event;
use crate::normalize::audit_data::{self, AuditHints};
use crate::normalize::columns::{cell, Header};
use crate::normalize::{Decode, Record, RowCtx, RowError};

pub struct AuditCsv {
    audit_data: usize,
    audit_data_name: &'static str,
    record_id: Option<usize>,
    creation_date: Option<usize>,
    user: Option<usize>,
    operation: Option<usize>,
    record_type: Option<usize>,
    result_index: Option<usize>,
}

impl AuditCsv {
    /// `None` when the header has no AuditData column.
    pub fn new(h: &Header) -> Option<AuditCsv> {
        let audit_data = h.find(&["auditdata"])?;
        Some(AuditCsv {
            audit_data,
            audit_data_name: "AuditData",
            record_id: h.find(&["recordid", "identity", "id"]),
            creation_date: h.find(&["creationdate", "createddatetime"]),
            user: h.find(&["userid", "userids", "userprincipalname"]),
            operation: h.find(&["operation", "operations"]),
            record_type: h.find(&["recordtype", "auditlogrecordtype"]),
            result_index: h.find(&["resultindex"]),
        })
    }
}

impl Decode for AuditCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        let data = cell(row, Some(self.audit_data)).trim();
        if data.is_empty() {
            return Err(RowError::field(
                self.audit_data_name,
                if row.len() <= self.audit_data {
                    format!(
                        "row has {} cells; AuditData is column {}",
                        row.len(),
                        self.audit_data + 1
                    )
                } else {
                    "AuditData is empty; the record's details are missing".to_string()
                },
            ));
        }
        let c = |i: Option<usize>| {
            Some(cell(row, i))
                .filter(|v| !v.trim().is_empty())
                .map(Cow::Borrowed)
        };
        let hints = AuditHints {
            time: c(self.creation_date).map(|v| ("CreationDate", v)),
            user: c(self.user),
            operation: c(self.operation),
            record_type: c(self.record_type),
            id: c(self.record_id),
        };
        if cell(row, self.result_index).trim() == "-1" {
            cx.note(crate::normalize::Note::SearchTimeout);
        }
        out.push(audit_data::decode(data, cx, &hints)?);
        Ok(())
    }
}
