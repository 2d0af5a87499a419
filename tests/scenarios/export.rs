//! The records a scenario produces and the writers that put them in the real export formats:
//! the Entra admin center sign-in CSV, Graph sign-in objects as JSON lines (non-interactive
//! sign-ins), the Purview audit search CSV with its AuditData JSON, and Get-MessageTraceV2 output
//! saved with Export-Csv. Formats: Microsoft Learn, "Download logs in Microsoft Entra ID",
//! "signIn resource type" (Graph), "Export, configure, and view audit log records", and
//! Get-MessageTraceV2.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{json, Value};

/// Where an IP is, as Entra writes it in the sign-in log.
#[derive(Clone, Debug)]
pub struct Place {
    pub ip: String,
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub asn: u32,
}

/// An application a user signs in to: (name, app id, resource, resource id).
pub type App = (&'static str, &'static str, &'static str, &'static str);

/// One Entra sign-in (interactive or not).
#[derive(Clone, Debug)]
pub struct SignIn {
    pub time: DateTime<Utc>,
    pub upn: String,
    pub name: String,
    pub user_id: String,
    pub request_id: String,
    pub correlation_id: String,
    pub session_id: String,
    pub token_id: String,
    pub app: App,
    pub place: Place,
    pub error_code: u32,
    pub failure_reason: &'static str,
    pub client_app: &'static str,
    pub user_agent: String,
    pub device_id: String,
    pub browser: &'static str,
    pub os: &'static str,
    pub mfa_method: &'static str,
    /// `none`, `deviceCode`, `ropc`.
    pub protocol: &'static str,
    pub interactive: bool,
    pub managed: bool,
}

/// One unified audit log record.
#[derive(Clone, Debug)]
pub struct Audit {
    pub time: DateTime<Utc>,
    pub id: String,
    pub record_type: u32,
    pub operation: String,
    pub user_id: String,
    pub data: Value,
}

/// One message-trace row (one recipient).
#[derive(Clone, Debug)]
pub struct Mail {
    pub time: DateTime<Utc>,
    pub sender: String,
    pub recipient: String,
    pub subject: String,
    pub status: &'static str,
    pub from_ip: String,
    pub to_ip: String,
    pub size: u32,
    pub message_id: String,
    pub trace_id: String,
    /// Ground truth, never written: the attacker sent this message.
    pub by_attacker: bool,
}

/// The Entra admin center sign-in CSV header: 57 columns, `Incoming token type` twice, trailing
/// spaces in two names and a double space in one, as the portal writes it.
pub const PORTAL_HEADER: &str = "Date (UTC),Request ID,User agent,Correlation ID,User ID,User,Username,User type,Cross tenant access type,Incoming token type,Authentication Protocol,Unique token identifier,Original transfer method,Client credential type,Token Protection - Sign In Session,Token Protection - Sign In Session StatusCode,Application,Application ID ,App owner tenant ID,Resource,Resource ID ,Resource tenant ID,Resource owner tenant ID,Home tenant ID,Home tenant name,IP address,Location,Status,Sign-in error code,Failure reason,Client app,Device ID,Browser,Operating System,Compliant,Managed,Join Type,Multifactor authentication result,Multifactor authentication auth method,Multifactor authentication auth detail,Authentication requirement,Sign-in identifier,Session ID,IP address (seen by resource),Through Global Secure Access,Global Secure Access IP address,Autonomous system  number,Flagged for review,Token issuer type,Incoming token type,Token issuer name,Latency,Conditional Access,Managed Identity type,Associated Resource Id,Federated Token Id,Federated Token Issuer";

pub fn iso(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `M/d/yyyy h:mm:ss AM`, as en-US PowerShell and the Purview portal write dates.
pub fn us_date(t: &DateTime<Utc>) -> String {
    let (pm, h) = t.hour12();
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        t.month(),
        t.day(),
        t.year(),
        h,
        t.minute(),
        t.second(),
        if pm { "PM" } else { "AM" }
    )
}

fn create(path: &Path) -> io::Result<BufWriter<File>> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

fn csv_writer(path: &Path) -> io::Result<csv::Writer<BufWriter<File>>> {
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(create(path)?))
}

fn status(code: u32) -> &'static str {
    match code {
        0 => "Success",
        50074 | 50076 | 50140 | 50158 => "Interrupted",
        _ => "Failure",
    }
}

fn transfer_method(s: &SignIn) -> &'static str {
    if s.protocol == "deviceCode" {
        "deviceCodeFlow"
    } else {
        "none"
    }
}

fn portal_row(s: &SignIn, tenant: &str) -> Vec<String> {
    let mut row: Vec<String> = Vec::with_capacity(57);
    let mut incoming_seen = false;
    let mfa_done = !s.mfa_method.is_empty() && s.error_code == 0;
    for column in PORTAL_HEADER.split(',') {
        let v: String = match column {
            "Date (UTC)" => iso(&s.time),
            "Request ID" => s.request_id.clone(),
            "User agent" => s.user_agent.clone(),
            "Correlation ID" => s.correlation_id.clone(),
            "User ID" => s.user_id.clone(),
            "User" => s.name.clone(),
            "Username" | "Sign-in identifier" => s.upn.clone(),
            "User type" => "Member".into(),
            "Cross tenant access type" => "none".into(),
            "Incoming token type" => {
                let v = if incoming_seen {
                    ""
                } else if s.interactive {
                    "none"
                } else {
                    "refreshToken"
                };
                incoming_seen = true;
                v.into()
            }
            "Authentication Protocol" => s.protocol.into(),
            "Unique token identifier" => s.token_id.clone(),
            "Original transfer method" => transfer_method(s).into(),
            "Application" => s.app.0.into(),
            "Application ID " => s.app.1.into(),
            "Resource" => s.app.2.into(),
            "Resource ID " => s.app.3.into(),
            "Resource tenant ID" | "Home tenant ID" => tenant.into(),
            "IP address" => s.place.ip.clone(),
            "Location" => format!("{}, {}, {}", s.place.city, s.place.state, s.place.country),
            "Status" => status(s.error_code).into(),
            "Sign-in error code" => {
                if s.error_code == 0 {
                    String::new()
                } else {
                    s.error_code.to_string()
                }
            }
            "Failure reason" => s.failure_reason.into(),
            "Client app" => s.client_app.into(),
            "Device ID" => s.device_id.clone(),
            "Browser" => s.browser.into(),
            "Operating System" => s.os.into(),
            "Compliant" | "Managed" => (if s.managed { "true" } else { "false" }).into(),
            "Flagged for review" => "false".into(),
            "Join Type" => match (s.device_id.is_empty(), s.managed) {
                (true, _) => String::new(),
                (false, true) => "Microsoft Entra joined".into(),
                (false, false) => "Microsoft Entra registered".into(),
            },
            "Multifactor authentication result" => {
                if mfa_done {
                    "MFA completed in Microsoft Entra ID".into()
                } else if s.error_code == 500121 {
                    "MFA denied; user declined the authentication".into()
                } else {
                    String::new()
                }
            }
            "Multifactor authentication auth method" => s.mfa_method.into(),
            "Authentication requirement" => {
                if s.mfa_method.is_empty() {
                    "singleFactorAuthentication".into()
                } else {
                    "multiFactorAuthentication".into()
                }
            }
            "Session ID" => s.session_id.clone(),
            "Autonomous system  number" => s.place.asn.to_string(),
            "Token issuer type" => "AzureAD".into(),
            "Latency" => "112".into(),
            "Conditional Access" => "notApplied".into(),
            _ => String::new(),
        };
        row.push(v);
    }
    row
}

/// Interactive sign-ins as the Entra admin center downloads them.
pub fn write_portal_csv(path: &Path, signins: &[&SignIn], tenant: &str) -> io::Result<()> {
    let mut w = csv_writer(path)?;
    w.write_record(PORTAL_HEADER.split(','))?;
    for s in signins {
        w.write_record(portal_row(s, tenant))?;
    }
    w.flush()
}

fn graph_signin(s: &SignIn) -> Value {
    let mut details = vec![json!({
        "authenticationStepDateTime": iso(&s.time),
        "authenticationMethod": if s.interactive { "Password" } else { "Previously satisfied" },
        "succeeded": s.error_code == 0,
        "authenticationStepResultDetail": if s.interactive { "Correct password" } else { "First factor requirement satisfied by claim in the token" },
    })];
    if !s.mfa_method.is_empty() {
        details.push(json!({"authenticationStepDateTime": iso(&s.time), "authenticationMethod": s.mfa_method,
            "succeeded": s.error_code == 0, "authenticationStepResultDetail": "MFA requirement satisfied by claim in the token"}));
    }
    json!({
        "id": s.request_id, "createdDateTime": iso(&s.time), "userDisplayName": s.name, "userPrincipalName": s.upn,
        "userId": s.user_id, "appId": s.app.1, "appDisplayName": s.app.0, "ipAddress": s.place.ip,
        "clientAppUsed": s.client_app, "userAgent": s.user_agent, "correlationId": s.correlation_id,
        "conditionalAccessStatus": "notApplied", "isInteractive": s.interactive,
        "signInEventTypes": [if s.interactive { "interactiveUser" } else { "nonInteractiveUser" }],
        "riskLevelDuringSignIn": "none", "riskState": "none", "resourceDisplayName": s.app.2, "resourceId": s.app.3,
        "authenticationProtocol": s.protocol, "originalTransferMethod": transfer_method(s),
        "authenticationRequirement": if s.mfa_method.is_empty() { "singleFactorAuthentication" } else { "multiFactorAuthentication" },
        "incomingTokenType": if s.interactive { "none" } else { "refreshToken" },
        "autonomousSystemNumber": s.place.asn, "sessionId": s.session_id, "uniqueTokenIdentifier": s.token_id,
        "status": {"errorCode": s.error_code, "failureReason": if s.failure_reason.is_empty() { Value::Null } else { json!(s.failure_reason) }},
        "deviceDetail": {"deviceId": s.device_id, "displayName": "", "operatingSystem": s.os, "browser": s.browser,
            "isCompliant": s.managed, "isManaged": s.managed, "trustType": if s.device_id.is_empty() { "" } else if s.managed { "AzureAd" } else { "Workplace" }},
        "location": {"city": s.place.city, "state": s.place.state, "countryOrRegion": s.place.country},
        "authenticationDetails": details,
    })
}

/// Sign-ins as Graph objects, one per line (how a script paging `/auditLogs/signIns` saves them).
pub fn write_graph_jsonl(path: &Path, signins: &[&SignIn]) -> io::Result<()> {
    let mut w = create(path)?;
    for s in signins {
        serde_json::to_writer(&mut w, &graph_signin(s))?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// The Purview portal audit search export.
pub fn write_purview_csv(path: &Path, records: &[&Audit]) -> io::Result<()> {
    let mut w = csv_writer(path)?;
    w.write_record([
        "RecordId",
        "CreationDate",
        "RecordType",
        "Operation",
        "UserId",
        "AuditData",
        "AssociatedAdminUnits",
        "AssociatedAdminUnitsNames",
    ])?;
    for a in records {
        w.write_record([
            a.id.as_str(),
            &us_date(&a.time),
            &a.record_type.to_string(),
            &a.operation,
            &a.user_id,
            &a.data.to_string(),
            "",
            "",
        ])?;
    }
    w.flush()
}

/// Get-MessageTraceV2 output saved by Export-Csv under Windows PowerShell (UTF-8 with a BOM,
/// every field quoted).
pub fn write_trace_v2(path: &Path, mails: &[&Mail]) -> io::Result<()> {
    let mut file = create(path)?;
    file.write_all(&[0xEF, 0xBB, 0xBF])?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(file);
    w.write_record([
        "Received",
        "SenderAddress",
        "RecipientAddress",
        "Subject",
        "Status",
        "ToIP",
        "FromIP",
        "Size",
        "MessageId",
        "MessageTraceId",
    ])?;
    for m in mails {
        w.write_record([
            us_date(&m.time),
            m.sender.clone(),
            m.recipient.clone(),
            m.subject.clone(),
            m.status.into(),
            m.to_ip.clone(),
            m.from_ip.clone(),
            m.size.to_string(),
            m.message_id.clone(),
            m.trace_id.clone(),
        ])?;
    }
    w.flush()
}

/// An AuditData object: the common schema fields plus the record type's own.
pub fn audit_record(
    time: DateTime<Utc>,
    id: &str,
    tenant: &str,
    record_type: u32,
    operation: &str,
    user_id: &str,
    specific: Value,
) -> Value {
    let workload = match record_type {
        1..=3 | 50 => "Exchange",
        4 | 6 | 14 => "SharePoint",
        _ => "AzureActiveDirectory",
    };
    let user_type = if user_id.starts_with("NT AUTHORITY") || user_id == "app@sharepoint" {
        4
    } else if user_id.contains('@') || user_id == "anonymous" {
        0
    } else {
        5
    };
    let mut full = serde_json::Map::new();
    full.insert(
        "CreationTime".into(),
        json!(time.format("%Y-%m-%dT%H:%M:%S").to_string()),
    );
    full.insert("Id".into(), json!(id));
    full.insert("Operation".into(), json!(operation));
    full.insert("OrganizationId".into(), json!(tenant));
    full.insert("RecordType".into(), json!(record_type));
    full.insert("UserType".into(), json!(user_type));
    full.insert("Version".into(), json!(1));
    full.insert("Workload".into(), json!(workload));
    full.insert("UserId".into(), json!(user_id));
    if let Value::Object(mut own) = specific {
        full.append(&mut own);
    }
    Value::Object(full)
}

/// The Entra audit log's copy of the unified audit log's directory records (record type 8), as
/// the Graph `directoryAudits` JSON lines a collection script writes: the activity without the
/// trailing period, the initiator as a user (with the address) or an app, the targets and
/// their modified properties. Format: Microsoft Graph, "directoryAudit resource type".
pub fn write_directory_audits_jsonl(path: &Path, records: &[&Audit]) -> io::Result<()> {
    let mut w = create(path)?;
    for a in records {
        let d = &a.data;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let ip = d
            .get("ActorIpAddress")
            .or_else(|| d.get("ClientIP"))
            .map(text);
        let actors = d
            .get("Actor")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let by_user = actors
            .iter()
            .find(|x| x.get("Type").and_then(Value::as_u64) == Some(5))
            .map(|x| text(&x["ID"]));
        let initiated_by = match by_user {
            Some(upn) => {
                json!({"user": {"id": null, "displayName": null, "userPrincipalName": upn, "ipAddress": ip}, "app": null})
            }
            None => {
                let name = actors.first().map(|x| text(&x["ID"])).unwrap_or_default();
                json!({"user": null, "app": {"appId": null, "displayName": name, "servicePrincipalId": null, "servicePrincipalName": null}})
            }
        };
        let modified: Vec<Value> = d
            .get("ModifiedProperties")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|m| json!({"displayName": m["Name"], "oldValue": m["OldValue"], "newValue": m["NewValue"]}))
                    .collect()
            })
            .unwrap_or_default();
        let mut targets: Vec<Value> = d
            .get("Target")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter(|t| matches!(t.get("Type").and_then(Value::as_u64), Some(5) | Some(2) | Some(1)))
                    .map(|t| {
                        let id = text(&t["ID"]);
                        match t.get("Type").and_then(Value::as_u64) {
                            Some(5) => json!({"id": null, "displayName": null, "type": "User", "userPrincipalName": id, "modifiedProperties": []}),
                            Some(2) => json!({"id": id, "displayName": null, "type": "ServicePrincipal", "userPrincipalName": null, "modifiedProperties": []}),
                            _ => json!({"id": null, "displayName": id, "type": "ServicePrincipal", "userPrincipalName": null, "modifiedProperties": []}),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if targets.is_empty() {
            targets.push(json!({"id": d.get("ObjectId"), "displayName": null, "type": "Other", "userPrincipalName": null, "modifiedProperties": []}));
        }
        targets[0]["modifiedProperties"] = Value::Array(modified);
        let activity = a.operation.trim_end_matches('.');
        let record = json!({
            "id": format!("Directory_{}", a.id),
            "category": "UserManagement",
            "correlationId": a.id,
            "result": if text(&d["ResultStatus"]).eq_ignore_ascii_case("success") { "success" } else { "failure" },
            "resultReason": "",
            "activityDisplayName": activity,
            "activityDateTime": iso(&a.time),
            "loggedByService": "Core Directory",
            "operationType": "Update",
            "initiatedBy": initiated_by,
            "targetResources": targets,
            "additionalDetails": [],
        });
        serde_json::to_writer(&mut w, &record)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}
