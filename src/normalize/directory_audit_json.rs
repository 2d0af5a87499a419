//! Entra ID audit log as JSON: Microsoft Graph `directoryAudits` (arrays, `{"value":[...]}`
//! pages, JSON lines), the admin center JSON download, Log Analytics `AuditLogs` JSON,
//! PowerShell Graph SDK dumps (PascalCase), and Azure Monitor diagnostic-settings records
//! (`category: AuditLogs`, the audit in `properties`; Event Hub bodies wrap them in `records`).

use crate::model::Event;
use crate::normalize::directory_audit::DirectoryFields;
use crate::normalize::json;
use crate::normalize::json_fields;
use crate::normalize::{Decode, Record, RowCtx, RowError};

/// Graph-shaped directory audit objects, any key case.
pub struct DirectoryAuditJson;

impl Decode for DirectoryAuditJson {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let text = record.json()?;
        let mut f = DirectoryFields::default();
        json_fields(text, "audit record", |k, v| {
            f.set(k, v);
        })?;
        out.push(f.into_event(cx)?);
        Ok(())
    }
}

/// Diagnostic-settings records: the audit is in `properties`; the envelope's `time`,
/// `operationName`, `callerIpAddress`, `correlationId` and `resultType` stand in where
/// `properties` lacks them (the 2018 preview schema keeps little else in `properties`).
pub struct DirectoryAuditDiagnostic;

impl Decode for DirectoryAuditDiagnostic {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let d = json::Diagnostic::parse(record.json()?)?;
        let mut f = DirectoryFields::default();
        json_fields(d.properties.get(), "properties", |k, v| {
            f.set(k, v);
        })?;
        if f.time.is_none() {
            f.time = d.time.map(|t| ("time", t));
        }
        f.activity = f.activity.or(d.operation);
        f.initiator.ip = f
            .initiator
            .ip
            .filter(|ip| !ip.trim().is_empty() && ip.trim() != "<null>")
            .or(d.caller_ip);
        f.correlation_id = f.correlation_id.or(d.correlation_id);
        f.result = f.result.or(d.result_type);
        out.push(f.into_event(cx)?);
        Ok(())
    }
}
