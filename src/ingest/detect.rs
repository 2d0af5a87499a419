//! Which export variant a file is, decided from its content (header row or the keys of its first
//! JSON record), never from its name; see the variant table in docs/formats.md.

use serde::Serialize;

use crate::model::Source;
use crate::normalize::audit_csv::AuditCsv;
use crate::normalize::audit_json::AuditJson;
use crate::normalize::columns::Header;
use crate::normalize::directory_audit_csv::{
    self, DirectoryAuditLogAnalyticsCsv, DirectoryAuditPortalCsv,
};
use crate::normalize::directory_audit_json::{DirectoryAuditDiagnostic, DirectoryAuditJson};
use crate::normalize::json;
use crate::normalize::message_trace::{MessageTraceCsv, MessageTraceJson};
use crate::normalize::message_trace_report::MessageTraceReport;
use crate::normalize::office_activity::OfficeActivityCsv;
use crate::normalize::risk::{RiskDiagnostic, RiskJson};
use crate::normalize::risk_csv::{self, RiskCsv};
use crate::normalize::signin_json::{SigninDiagnostic, SigninJson};
use crate::normalize::signin_log_analytics_csv::SigninLogAnalyticsCsv;
use crate::normalize::signin_portal_csv::{self, SigninPortalCsv};
use crate::normalize::Decode;

/// A recognised export variant. The `id` strings are stable: reports and tests use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Variant {
    SigninPortalCsv,
    SigninJson,
    SigninDiagnosticJson,
    SigninLogAnalyticsCsv,
    AuditPortalCsv,
    AuditPortalCsvOld,
    AuditPowerShellCsv,
    AuditGraphCsv,
    AuditJson,
    OfficeActivityCsv,
    OfficeActivityJson,
    MessageTraceCsv,
    MessageTraceJson,
    MessageTraceSummaryReport,
    MessageTraceDetailReport,
    DirectoryAuditJson,
    DirectoryAuditDiagnosticJson,
    DirectoryAuditPortalCsv,
    DirectoryAuditLogAnalyticsCsv,
    RiskJson,
    RiskDiagnosticJson,
    RiskCsv,
    /// breachline's own `timeline.parquet`, read back (events of every source).
    BreachlineParquet,
}

impl Variant {
    pub fn id(self) -> &'static str {
        match self {
            Variant::SigninPortalCsv => "entra-signin-portal-csv",
            Variant::SigninJson => "entra-signin-json",
            Variant::SigninDiagnosticJson => "entra-signin-diagnostic-json",
            Variant::SigninLogAnalyticsCsv => "entra-signin-loganalytics-csv",
            Variant::AuditPortalCsv => "ual-purview-csv",
            Variant::AuditPortalCsvOld => "ual-purview-csv-old",
            Variant::AuditPowerShellCsv => "ual-powershell-csv",
            Variant::AuditGraphCsv => "ual-graph-csv",
            Variant::AuditJson => "ual-json",
            Variant::OfficeActivityCsv => "ual-officeactivity-csv",
            Variant::OfficeActivityJson => "ual-officeactivity-json",
            Variant::MessageTraceCsv => "messagetrace-csv",
            Variant::MessageTraceJson => "messagetrace-json",
            Variant::MessageTraceSummaryReport => "messagetrace-historical-summary",
            Variant::MessageTraceDetailReport => "messagetrace-historical-detail",
            Variant::DirectoryAuditJson => "entra-audit-json",
            Variant::DirectoryAuditDiagnosticJson => "entra-audit-diagnostic-json",
            Variant::DirectoryAuditPortalCsv => "entra-audit-portal-csv",
            Variant::DirectoryAuditLogAnalyticsCsv => "entra-audit-loganalytics-csv",
            Variant::RiskJson => "entra-risk-json",
            Variant::RiskDiagnosticJson => "entra-risk-diagnostic-json",
            Variant::RiskCsv => "entra-risk-csv",
            Variant::BreachlineParquet => "breachline-parquet",
        }
    }

    /// What a person calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Variant::SigninPortalCsv => "Entra admin center sign-in CSV download",
            Variant::SigninJson => "Entra sign-ins as JSON (Graph signIns, admin center JSON download, Log Analytics JSON)",
            Variant::SigninDiagnosticJson => "Entra sign-ins from Azure Monitor diagnostic settings (JSON lines)",
            Variant::SigninLogAnalyticsCsv => "Entra sign-ins exported from Log Analytics (SigninLogs / AADNonInteractiveUserSignInLogs CSV)",
            Variant::AuditPortalCsv => "Purview audit log export CSV (RecordId, CreationDate, RecordType, Operation, UserId, AuditData)",
            Variant::AuditPortalCsvOld => "Purview / Security & Compliance audit export CSV (CreationDate, UserIds, Operations, AuditData)",
            Variant::AuditPowerShellCsv => "Search-UnifiedAuditLog output saved with Export-Csv",
            Variant::AuditGraphCsv => "Graph audit log query CSV (Microsoft-Extractor-Suite Get-UALGraph)",
            Variant::AuditJson => "unified audit log records as JSON (AuditData, or objects holding it)",
            Variant::OfficeActivityCsv => "Log Analytics OfficeActivity export CSV",
            Variant::OfficeActivityJson => "Log Analytics OfficeActivity export JSON",
            Variant::MessageTraceCsv => "Get-MessageTrace / Get-MessageTraceV2 / admin center message trace CSV",
            Variant::MessageTraceJson => "message trace objects as JSON",
            Variant::MessageTraceSummaryReport => "historical search / admin center enhanced summary report",
            Variant::MessageTraceDetailReport => "historical search / admin center extended (detail) report",
            Variant::DirectoryAuditJson => "Entra audit log as JSON (Graph directoryAudits, admin center JSON download, Log Analytics AuditLogs JSON, PowerShell Graph SDK dumps)",
            Variant::DirectoryAuditDiagnosticJson => "Entra audit log from Azure Monitor diagnostic settings (category AuditLogs)",
            Variant::DirectoryAuditPortalCsv => "Entra admin center audit log CSV download",
            Variant::DirectoryAuditLogAnalyticsCsv => "Entra audit log exported from Log Analytics (AuditLogs CSV)",
            Variant::RiskJson => "Identity Protection risk detections or risky users as JSON (Graph, Log Analytics AADUserRiskEvents / AADRiskyUsers)",
            Variant::RiskDiagnosticJson => "Identity Protection risk from Azure Monitor diagnostic settings (UserRiskEvents, RiskyUsers)",
            Variant::RiskCsv => "Identity Protection risk detections or risky users as CSV (admin center download, Log Analytics, PowerShell Export-Csv)",
            Variant::BreachlineParquet => "breachline's own timeline.parquet (analyze --out), read back: the normalized events with their raw exports' origins",
        }
    }

    /// The kind of evidence, for coverage and caps. Sign-in files may also hold non-interactive
    /// records; each event's own `source` says which.
    pub fn family(self) -> Source {
        match self {
            Variant::SigninPortalCsv
            | Variant::SigninJson
            | Variant::SigninDiagnosticJson
            | Variant::SigninLogAnalyticsCsv => Source::Signin,
            Variant::AuditPortalCsv
            | Variant::AuditPortalCsvOld
            | Variant::AuditPowerShellCsv
            | Variant::AuditGraphCsv
            | Variant::AuditJson
            | Variant::OfficeActivityCsv
            | Variant::OfficeActivityJson => Source::Audit,
            Variant::MessageTraceCsv
            | Variant::MessageTraceJson
            | Variant::MessageTraceSummaryReport
            | Variant::MessageTraceDetailReport => Source::Messagetrace,
            Variant::DirectoryAuditJson
            | Variant::DirectoryAuditDiagnosticJson
            | Variant::DirectoryAuditPortalCsv
            | Variant::DirectoryAuditLogAnalyticsCsv => Source::Directory,
            Variant::RiskJson | Variant::RiskDiagnosticJson | Variant::RiskCsv => Source::Risk,
            // Every source; [`Variant::source`] says none.
            Variant::BreachlineParquet => Source::Audit,
        }
    }

    /// The kind of evidence for the file report: `None` for a file of every kind.
    pub fn source(self) -> Option<Source> {
        (self != Variant::BreachlineParquet).then(|| self.family())
    }

    /// Row counts at which this variant's export tool silently stops (docs/formats.md, "Silent caps"), so a file
    /// with exactly that many rows is probably truncated.
    pub fn row_caps(self) -> &'static [(u64, &'static str)] {
        if self == Variant::BreachlineParquet {
            return &[];
        }
        match self.family() {
            Source::Signin | Source::Noninteractive => &[
                (
                    100_000,
                    "the Entra admin center downloads at most 100,000 sign-ins per file",
                ),
                (250_000, "older Entra downloads stopped at 250,000 records"),
            ],
            Source::Audit => &[
                (
                    5_000,
                    "Search-UnifiedAuditLog returns at most 5,000 records per call",
                ),
                (
                    10_000,
                    "Search-UnifiedAuditLog stops at 10,000 when session commands are mixed",
                ),
                (
                    50_000,
                    "the Purview export and a ReturnLargeSet session stop at 50,000 records",
                ),
                (
                    100_000,
                    "Audit (Premium) exports may stop at 100,000 records",
                ),
            ],
            Source::Directory => &[(
                250_000,
                "the Entra admin center advises browser downloads of at most 250,000 audit records",
            )],
            Source::Risk => &[
                (
                    2_500,
                    "the Entra admin center downloads at most 2,500 risky users or risky sign-ins",
                ),
                (
                    5_000,
                    "the Entra admin center downloads at most 5,000 risk detections",
                ),
            ],
            Source::Messagetrace => &[
                (1_000, "Get-MessageTrace returns 1,000 results by default"),
                (
                    5_000,
                    "Get-MessageTraceV2 returns at most 5,000 results per query",
                ),
                (
                    50_000,
                    "the admin center enhanced summary report stops at 50,000 results",
                ),
                (
                    100_000,
                    "a historical search CSV holds at most 100,000 lines",
                ),
            ],
        }
    }
}

/// A detected variant with the decoder for its records.
pub struct Detected {
    pub variant: Variant,
    pub decoder: Box<dyn Decode>,
    /// Something the investigator should know about how the file was read.
    pub note: Option<String>,
}

/// Detects a CSV export from its header. `file_name` only decides interactive versus
/// non-interactive for the Entra portal CSV, whose two files share one header.
pub fn detect_csv(h: &Header, file_name: &str) -> Option<Detected> {
    let found = |variant: Variant, decoder: Box<dyn Decode>| {
        Some(Detected {
            variant,
            decoder,
            note: None,
        })
    };
    if h.has("auditdata") {
        let decoder = Box::new(AuditCsv::new(h)?);
        let variant = if h.has("recordid") {
            Variant::AuditPortalCsv
        } else if h.has("auditlogrecordtype") || h.has("createddatetime") {
            Variant::AuditGraphCsv
        } else if h.has("resultindex")
            || h.has("identity")
            || h.has("pscomputername")
            || h.has("runspaceid")
        {
            Variant::AuditPowerShellCsv
        } else {
            Variant::AuditPortalCsvOld
        };
        return found(variant, decoder);
    }
    if h.find(directory_audit_csv::PORTAL_TIME).is_some()
        && h.find(directory_audit_csv::PORTAL_ACTIVITY).is_some()
        && (h.has("actortype") || h.has("target1type") || h.has("target1displayname"))
    {
        return found(
            Variant::DirectoryAuditPortalCsv,
            Box::new(DirectoryAuditPortalCsv::new(h)),
        );
    }
    let has_base = |name: &str| {
        h.names()
            .iter()
            .any(|n| n == name || n.strip_suffix(" [utc]") == Some(name))
    };
    if (has_base("initiatedby") || has_base("targetresources"))
        && (has_base("activitydisplayname") || has_base("operationname"))
        && (has_base("activitydatetime") || has_base("timegenerated"))
    {
        return found(
            Variant::DirectoryAuditLogAnalyticsCsv,
            Box::new(DirectoryAuditLogAnalyticsCsv::new(h)),
        );
    }
    if risk_csv::is_risk_header(h) {
        return found(Variant::RiskCsv, Box::new(RiskCsv::new(h)));
    }
    if h.has("officeworkload") || (h.has("officeid") && h.has("operation")) {
        return found(
            Variant::OfficeActivityCsv,
            Box::new(OfficeActivityCsv::new(h)),
        );
    }
    if h.find(signin_portal_csv::TIME).is_some() && h.find(signin_portal_csv::REQUEST_ID).is_some()
    {
        let lower = file_name.to_ascii_lowercase();
        let noninteractive = lower.contains("noninteractive") || lower.contains("non-interactive");
        let (source, note) = if noninteractive {
            (Source::Noninteractive, "non-interactive: the portal's interactive and non-interactive CSVs share one header, so the file name decided")
        } else {
            (Source::Signin, "interactive: the portal's interactive and non-interactive CSVs share one header, so the file name decided (it does not say NonInteractive)")
        };
        return Some(Detected {
            variant: Variant::SigninPortalCsv,
            decoder: Box::new(SigninPortalCsv::new(h, source)),
            note: Some(note.to_string()),
        });
    }
    let la_time =
        h.has("createddatetime [utc]") || h.has("timegenerated [utc]") || h.has("createddatetime");
    if la_time && h.has("userprincipalname") && (h.has("resulttype") || h.has("ipaddress")) {
        let noninteractive = h.has("processingtimeinms") || h.has("signineventtypes");
        let source = if noninteractive {
            Source::Noninteractive
        } else {
            Source::Signin
        };
        return found(
            Variant::SigninLogAnalyticsCsv,
            Box::new(SigninLogAnalyticsCsv::new(h, source)),
        );
    }
    if h.has("date_time_utc") || (h.has("event_id") && h.has("recipient_address")) {
        return found(
            Variant::MessageTraceDetailReport,
            Box::new(MessageTraceReport::new(h, true)),
        );
    }
    if (h.has("origin_timestamp_utc") || h.has("origin_timestamp")) && h.has("sender_address") {
        return found(
            Variant::MessageTraceSummaryReport,
            Box::new(MessageTraceReport::new(h, false)),
        );
    }
    let sender = h
        .find(&["senderaddress", "sender address", "sender"])
        .is_some();
    let recipient = h
        .find(&["recipientaddress", "recipient address", "recipient"])
        .is_some();
    let received = h
        .find(&["received", "date (utc)", "date", "received time"])
        .is_some();
    if sender && recipient && received {
        return found(Variant::MessageTraceCsv, Box::new(MessageTraceCsv::new(h)));
    }
    None
}

/// What a CSV reader of each family needs in the header, for the "not recognised" message.
pub const CSV_EXPECTED: &str = "a header naming AuditData (unified audit log), Date (UTC) and Request ID \
    (Entra sign-in download), Date (UTC), Activity and ActorType (Entra audit log download), \
    InitiatedBy, TargetResources and OperationName (Log Analytics AuditLogs), RiskEventType or \
    RiskLastUpdatedDateTime (Identity Protection), CreatedDateTime [UTC] and UserPrincipalName (Log Analytics sign-ins), \
    OfficeWorkload (OfficeActivity), Received, SenderAddress and RecipientAddress (message trace), or \
    origin_timestamp_utc / date_time_utc (historical message trace reports)";

/// Detects a JSON export from the keys of its first record, compared without regard to case
/// (Graph writes camelCase, Log Analytics and PowerShell PascalCase, some SIEMs lower case).
pub fn detect_json(first_record: &str) -> Option<Detected> {
    let mut keys: Vec<String> = Vec::new();
    let mut category = String::new();
    let mut table_type = String::new();
    json::for_each_field_ci(first_record, |k, v| {
        if k == "category" {
            category = json::text(v).unwrap_or_default().to_ascii_lowercase();
        }
        if k == "type" {
            table_type = json::text(v).unwrap_or_default().to_ascii_lowercase();
        }
        keys.push(k.to_string());
    })
    .ok()?;
    let has = |k: &str| keys.iter().any(|x| x == k);
    let found = |variant: Variant, decoder: Box<dyn Decode>| {
        Some(Detected {
            variant,
            decoder,
            note: None,
        })
    };
    if has("properties") && has("category") {
        if category.contains("signin") {
            return found(Variant::SigninDiagnosticJson, Box::new(SigninDiagnostic));
        }
        // `AuditLogs`, and `Audit` in the 2018 preview schema.
        if category == "auditlogs" || category == "audit" {
            return found(
                Variant::DirectoryAuditDiagnosticJson,
                Box::new(DirectoryAuditDiagnostic),
            );
        }
        if category == "userriskevents" || category == "riskyusers" {
            return found(Variant::RiskDiagnosticJson, Box::new(RiskDiagnostic));
        }
    }
    if has("auditdata") {
        return found(Variant::AuditJson, Box::new(AuditJson));
    }
    if has("officeworkload") || table_type == "officeactivity" {
        return found(Variant::OfficeActivityJson, Box::new(AuditJson));
    }
    if has("creationtime") && has("operation") && (has("recordtype") || has("workload")) {
        return found(Variant::AuditJson, Box::new(AuditJson));
    }
    if (has("activitydisplayname") || table_type == "auditlogs")
        && (has("initiatedby") || has("targetresources") || has("loggedbyservice"))
    {
        return found(Variant::DirectoryAuditJson, Box::new(DirectoryAuditJson));
    }
    if has("riskeventtype")
        || (has("risklastupdateddatetime") && has("riskstate"))
        || table_type == "aaduserriskevents"
        || table_type == "aadriskyusers"
    {
        return found(Variant::RiskJson, Box::new(RiskJson));
    }
    let signin_time = has("createddatetime");
    let signin_body = has("userprincipalname") || has("ipaddress");
    if signin_time && signin_body {
        return found(
            Variant::SigninJson,
            Box::new(SigninJson {
                source: Source::Signin,
            }),
        );
    }
    if has("received") && has("senderaddress") && has("recipientaddress") {
        return found(Variant::MessageTraceJson, Box::new(MessageTraceJson));
    }
    None
}

pub const JSON_EXPECTED: &str = "records with createdDateTime and userPrincipalName (Entra sign-ins), \
    activityDisplayName and initiatedBy (Entra audit log), riskEventType or riskLastUpdatedDateTime \
    (Identity Protection), category and properties (diagnostic settings), CreationTime, Operation and RecordType (AuditData), \
    an AuditData field (audit export objects), OfficeWorkload (OfficeActivity), or Received, SenderAddress \
    and RecipientAddress (message trace)";
