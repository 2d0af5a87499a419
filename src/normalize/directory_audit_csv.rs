//! Entra ID audit log as CSV: the admin center download (`Date (UTC)`, `Activity`, `ActorType`,
//! fixed `Target<N>...` and `AdditionalDetail<N>...` slots) and the Log Analytics `AuditLogs`
//! "Export to CSV" (` [UTC]` time columns, `InitiatedBy` / `TargetResources` /
//! `AdditionalDetails` as JSON text in their cells). See docs/formats.md, "Entra ID audit log".

use std::borrow::Cow;

use crate::model::Event;
use crate::normalize::columns::{cell, Header, NamedColumns, Row};
use crate::normalize::directory_audit::{DirectoryFields, Target};
use crate::normalize::{Decode, FieldValue, Record, RowCtx, RowError};

/// Log Analytics `AuditLogs` columns a decoder uses, lower-case (Microsoft's Azure Monitor
/// table reference, "AuditLogs").
const LOG_ANALYTICS_COLUMNS: &[&str] = &[
    "activitydatetime",
    "timegenerated",
    "id",
    "activitydisplayname",
    "operationname",
    "category",
    "loggedbyservice",
    "aadoperationtype",
    "operationtype",
    "result",
    "resulttype",
    "resultreason",
    "resultdescription",
    "correlationid",
    "initiatedby",
    "targetresources",
    "additionaldetails",
];

/// Log Analytics `AuditLogs` exported to CSV.
pub struct DirectoryAuditLogAnalyticsCsv {
    columns: NamedColumns,
}

impl DirectoryAuditLogAnalyticsCsv {
    pub fn new(h: &Header) -> DirectoryAuditLogAnalyticsCsv {
        fn base(name: &str) -> &str {
            name.trim_end_matches(" [utc]")
                .trim_end_matches("_dynamic")
                .trim_end_matches("_string")
        }
        DirectoryAuditLogAnalyticsCsv {
            columns: NamedColumns::by_field_name(h, LOG_ANALYTICS_COLUMNS, base),
        }
    }
}

impl Decode for DirectoryAuditLogAnalyticsCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        let mut f = DirectoryFields::default();
        self.columns.for_each(row, |key, v| {
            f.set(key, FieldValue::Cell(v));
        });
        out.push(f.into_event(cx)?);
        Ok(())
    }
}

/// Column positions of one target slot of the admin center CSV.
struct TargetSlot {
    kind: Option<usize>,
    name: Option<usize>,
    id: Option<usize>,
    upn: Option<usize>,
    /// (name, old value, new value) columns of each modified-property slot.
    modified: Vec<(usize, Option<usize>, Option<usize>)>,
}

/// The Entra admin center's audit log CSV download. Its header is English or localized; the
/// English names and the Spanish ones seen in public parsers are known.
pub struct DirectoryAuditPortalCsv {
    time: Option<usize>,
    correlation_id: Option<usize>,
    service: Option<usize>,
    category: Option<usize>,
    activity: Option<usize>,
    result: Option<usize>,
    result_reason: Option<usize>,
    user_agent: Option<usize>,
    actor_type: Option<usize>,
    actor_name: Option<usize>,
    actor_id: Option<usize>,
    actor_upn: Option<usize>,
    ip: Option<usize>,
    actor_sp_name: Option<usize>,
    targets: Vec<TargetSlot>,
    details: Vec<(usize, usize)>,
}

/// The time column's names: a header with one of these and an activity column is this export.
pub const PORTAL_TIME: &[&str] = &["date (utc)", "fecha (utc)"];
pub const PORTAL_ACTIVITY: &[&str] = &["activity", "actividad"];

impl DirectoryAuditPortalCsv {
    pub fn new(h: &Header) -> DirectoryAuditPortalCsv {
        let mut targets = Vec::new();
        // The download has three target slots of five properties each; read more if present.
        for n in 1..=9 {
            let col = |suffix: &str| h.find(&[&format!("target{n}{suffix}")]);
            let mut modified = Vec::new();
            for m in 1..=20 {
                let Some(name) = col(&format!("modifiedproperty{m}name")) else {
                    continue;
                };
                modified.push((
                    name,
                    col(&format!("modifiedproperty{m}oldvalue")),
                    col(&format!("modifiedproperty{m}newvalue")),
                ));
            }
            let slot = TargetSlot {
                kind: col("type"),
                name: col("displayname"),
                id: col("objectid"),
                upn: col("userprincipalname"),
                modified,
            };
            if slot.kind.is_some() || slot.name.is_some() || slot.upn.is_some() {
                targets.push(slot);
            }
        }
        let details = (1..=30)
            .filter_map(|n| {
                Some((
                    h.find(&[&format!("additionaldetail{n}key")])?,
                    h.find(&[&format!("additionaldetail{n}value")])?,
                ))
            })
            .collect();
        DirectoryAuditPortalCsv {
            time: h.find(PORTAL_TIME),
            correlation_id: h.find(&["correlationid", "correlation id"]),
            service: h.find(&["service", "servicio"]),
            category: h.find(&["category", "categoría"]),
            activity: h.find(PORTAL_ACTIVITY),
            result: h.find(&["result", "resultado"]),
            result_reason: h.find(&["resultreason", "result reason"]),
            user_agent: h.find(&["user agent", "useragent", "agente de usuario"]),
            actor_type: h.find(&["actortype"]),
            actor_name: h.find(&["actordisplayname"]),
            actor_id: h.find(&["actorobjectid"]),
            actor_upn: h.find(&["actoruserprincipalname"]),
            ip: h.find(&["ipaddress", "ip address"]),
            actor_sp_name: h.find(&["actorserviceprincipalname"]),
            targets,
            details,
        }
    }
}

fn text<'a>(row: &Row<'a>, i: Option<usize>) -> Option<Cow<'a, str>> {
    let v = cell(row, i).trim();
    (!v.is_empty()).then_some(Cow::Borrowed(v))
}

impl Decode for DirectoryAuditPortalCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        let mut f = DirectoryFields {
            time: text(row, self.time).map(|t| ("Date (UTC)", t)),
            activity: text(row, self.activity),
            category: text(row, self.category),
            service: text(row, self.service),
            result: text(row, self.result),
            result_reason: text(row, self.result_reason),
            correlation_id: text(row, self.correlation_id),
            user_agent: text(row, self.user_agent),
            ..DirectoryFields::default()
        };
        let kind = text(row, self.actor_type);
        let is_app = kind
            .as_deref()
            .is_some_and(|k| k.to_ascii_lowercase().starts_with("ap"));
        f.initiator.kind = kind;
        f.initiator.ip = text(row, self.ip);
        f.initiator.user_id = text(row, self.actor_id);
        if is_app {
            f.initiator.app_name = text(row, self.actor_sp_name).or(text(row, self.actor_name));
        } else {
            f.initiator.upn = text(row, self.actor_upn);
            f.initiator.user_name = text(row, self.actor_name);
        }
        for slot in &self.targets {
            let target = Target {
                kind: text(row, slot.kind),
                name: text(row, slot.name),
                id: text(row, slot.id),
                upn: text(row, slot.upn),
                modified: slot
                    .modified
                    .iter()
                    .filter_map(|&(name, old, new)| {
                        Some((text(row, Some(name))?, text(row, old), text(row, new)))
                    })
                    .collect(),
            };
            let empty = target.kind.is_none()
                && target.name.is_none()
                && target.upn.is_none()
                && target.id.is_none();
            if !empty {
                f.targets.push(target);
            }
        }
        for &(k, v) in &self.details {
            if let (Some(k), Some(v)) = (text(row, Some(k)), text(row, Some(v))) {
                f.details.push((k, v));
            }
        }
        out.push(f.into_event(cx)?);
        Ok(())
    }
}
