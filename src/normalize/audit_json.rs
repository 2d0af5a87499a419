//! Unified audit log records as JSON: bare AuditData objects (Management Activity API content,
//! SOF-ELK lines), Microsoft-Extractor-Suite / `Search-UnifiedAuditLog` objects with an
//! `AuditData` field (an object, or a JSON string holding it), Graph audit-log query records
//! (`auditData`), and Log Analytics `OfficeActivity` rows exported as JSON.

use std::borrow::Cow;

use crate::model::Event;
use crate::normalize::audit_data::{AuditFields, AuditHints};
use crate::normalize::json;
use crate::normalize::{Decode, FieldValue, Record, RowCtx, RowError};

pub struct AuditJson;

impl Decode for AuditJson {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let text = record.json()?;
        // One pass: the record is either AuditData itself, or a wrapper holding it.
        let mut fields = AuditFields::default();
        let mut inner: Option<Cow<str>> = None;
        let mut inner_present = false;
        let mut hints = AuditHints::default();
        json::for_each_field(text, |k, v| {
            let value = FieldValue::Json(v);
            match k {
                _ if k.eq_ignore_ascii_case("auditdata") => {
                    inner_present = true;
                    inner = value.object_text();
                }
                "CreationDate" | "createdDateTime" => {
                    hints.time = value.text().map(|t| ("CreationDate", t))
                }
                "UserIds" | "userPrincipalName" | "userId" => {
                    if hints.user.is_none() || k == "userPrincipalName" {
                        hints.user = value.text()
                    }
                }
                "Operations" | "operation" => hints.operation = value.text(),
                "auditLogRecordType" => hints.record_type = value.text(),
                "Identity" | "id" => hints.id = value.text(),
                _ => {
                    fields.set(k, value);
                }
            }
        })
        .map_err(|e| RowError::json("audit record", &e))?;
        if !inner_present {
            out.push(fields.into_event(cx, &hints)?);
            return Ok(());
        }
        let inner = inner.ok_or_else(|| {
            RowError::field("AuditData", "AuditData is empty or not a JSON object")
        })?;
        if hints.record_type.is_none() {
            hints.record_type = fields.record_type.take();
        }
        let mut fields = AuditFields::default();
        json::for_each_field_ci(&inner, |k, v| {
            fields.set_lower(k, FieldValue::Json(v));
        })
        .map_err(|e| RowError::json("AuditData", &e))?;
        out.push(fields.into_event(cx, &hints)?);
        Ok(())
    }
}
