//! Log Analytics (Sentinel) `OfficeActivity` table exported to CSV: the unified audit log with
//! AuditData flattened into columns, some renamed (`OfficeWorkload`, `OfficeObjectId`,
//! `Client_IPAddress`, `Logon_Type`, `OfficeId`), arrays as JSON text in cells, `TimeGenerated [UTC]`
//! as `3/4/2024, 9:10:33.000 AM` (docs/formats.md, "Unified audit log"). The JSON export of the same
//! table is read by `audit_json`, which knows the renamed keys too.

use crate::model::Event;
use crate::normalize::audit_data::{AuditFields, AuditHints};
use crate::normalize::columns::{Header, NamedColumns};
use crate::normalize::{Decode, FieldValue, Record, RowCtx, RowError};

/// The OfficeActivity columns breachline reads, as `AuditFields::set` names them.
const COLUMNS: &[&str] = &[
    "TimeGenerated",
    "CreationTime",
    "Start_Time",
    "OfficeId",
    "Operation",
    "RecordType",
    "ResultStatus",
    "OfficeWorkload",
    "UserId",
    "UserType",
    "ClientIP",
    "Client_IPAddress",
    "ActorIpAddress",
    "OfficeObjectId",
    "UserAgent",
    "ClientInfoString",
    "SessionId",
    "AppAccessContext",
    "CorrelationId",
    "InterSystemsId",
    "IntraSystemId",
    "ApplicationId",
    "ApplicationDisplayName",
    "AppId",
    "ClientAppId",
    "ErrorNumber",
    "LogonError",
    "MailboxOwnerUPN",
    "Logon_Type",
    "OperationCount",
    "SendAsUserSmtp",
    "SendOnBehalfOfUserSmtp",
    "Site_Url",
    "SourceFileName",
    "SourceRelativeUrl",
    "TargetUserOrGroupName",
    "TargetUserOrGroupType",
    "ExternalAccess",
    "ExtendedProperties",
    "DeviceProperties",
    "Parameters",
    "OperationProperties",
    "ModifiedProperties",
    "Target",
    "Item",
    "Folders",
    "Folder",
    "DestFolder",
    "AffectedItems",
];

pub struct OfficeActivityCsv {
    columns: NamedColumns,
}

impl OfficeActivityCsv {
    pub fn new(h: &Header) -> OfficeActivityCsv {
        fn base(name: &str) -> &str {
            name.trim_end_matches(" [utc]")
        }
        OfficeActivityCsv {
            columns: NamedColumns::by_field_name(h, COLUMNS, base),
        }
    }
}

impl Decode for OfficeActivityCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        let mut f = AuditFields::default();
        self.columns.for_each(row, |key, v| {
            f.set(key, FieldValue::Cell(v));
        });
        out.push(f.into_event(cx, &AuditHints::default())?);
        Ok(())
    }
}
