//! Entra ID audit log as JSON: Microsoft Graph `directoryAudits` (arrays, `{"value":[...]}`
//! pages, JSON lines), the admin center JSON download, Log Analytics `AuditLogs` JSON,
//! PowerShell Graph SDK dumps (PascalCase), and Azure Monitor diagnostic-settings records
//! (`category: AuditLogs`, the audit in `properties`; Event Hub bodies wrap them in `records`).

use crate::normalize::json_fields;
use crate::normalize::directory_audit::DirectoryFields;
use crate::normalize::json;
use crate::normalize::{Decode, Record, RowCtx, RowError};
use crate::model::Event;

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
        let text = record.json()?;
        let mut properties = None;
        let mut time = None;
        let mut operation = None;
        let mut caller_ip = None;
        let mut correlation = None;
        let mut result = None;
        json::for_each_field_ci(text, |k, v| match k {
            "properties" => properties = Some(v),
            "time" => time = json::text(v),
            "operationname" => operation = json::text(v),
            "calleripaddress" => caller_ip = json::text(v),
            "correlationid" => correlation = json::text(v),
            "resulttype" => result = json::text(v),
            _ => {}
        })
        .map_err(|e| RowError::json("diagnostic record", &e))?;
        let properties = properties.ok_or_else(|| RowError::missing("properties"))?;
        let mut f = DirectoryFields::default();
        json_fields(properties.get(), "properties", |k, v| {
            f.set(k, v);
        })?;
        if f.time.is_none() {
            f.time = time.map(|t| ("time", t));
        }
        f.activity = f.activity.or(operation);
        f.initiator.ip = f
            .initiator
            .ip
            .filter(|ip| !ip.trim().is_empty() && ip.trim() != "<null>")
            .or(caller_ip);
        f.correlation_id = f.correlation_id.or(correlation);
        f.result = f.result.or(result);
        out.push(f.into_event(cx)?);
        Ok(())
    }
}
