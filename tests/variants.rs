//! Every export variant of the same logical records normalizes to the same events.
//! The records are described in fixtures/variants/README.md.

mod common;

use breachline::model::Event;
use common::*;

/// Checks every file in `files` holds the reference events on the fields `compare`, and that
/// every row was read.
fn assert_same(dir: &str, reference: &str, files: &[&str], compare: &[&str], expected_rows: usize) {
    let reference_ing = ingest_one(&fixture(&format!("{dir}/{reference}")));
    let want: Vec<&Event> = in_file_order(&reference_ing);
    assert_eq!(want.len(), expected_rows, "{reference}: events");
    for file in files {
        let ing = ingest_one(&fixture(&format!("{dir}/{file}")));
        let report = &ing.files[0];
        assert_eq!(report.error, None, "{file} should be read");
        assert!(
            ing.rejects.is_empty(),
            "{file}: unexpected rejects {:?}",
            ing.rejects
        );
        let got = in_file_order(&ing);
        assert_eq!(got.len(), want.len(), "{file}: event count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            for name in compare {
                assert_eq!(
                    field(g, name),
                    field(w, name),
                    "{file} record {} field {name}",
                    i + 1
                );
            }
        }
    }
}

const SIGNIN_FIELDS: &[&str] = &[
    "time",
    "source",
    "user",
    "operation",
    "outcome",
    "error_code",
    "ip",
    "country",
    "region",
    "city",
    "user_agent",
    "application",
    "client_app",
    "request_id",
    "correlation_id",
    "object",
];

#[test]
fn interactive_signin_variants_agree() {
    assert_same(
        "variants/signin",
        "graph_signins.jsonl",
        &[
            "InteractiveSignIns_2024-03-04_2024-03-05.csv",
            "InteractiveSignIns_2024-03-04_2024-03-05.json",
            "graph_signins_page.json",
            "mes_SignInLogs-interactiveUser-Combined.json",
            "SigninLogs_loganalytics.csv",
            "SigninLogs_loganalytics.json",
            "diagnostic_SignInLogs.jsonl",
        ],
        SIGNIN_FIELDS,
        4,
    );
    // Session, token and ASN are in every variant but the 71-column Log Analytics CSV.
    assert_same(
        "variants/signin",
        "graph_signins.jsonl",
        &[
            "InteractiveSignIns_2024-03-04_2024-03-05.csv",
            "InteractiveSignIns_2024-03-04_2024-03-05.json",
            "diagnostic_SignInLogs.jsonl",
            "SigninLogs_loganalytics.json",
        ],
        &["session_id", "token_id", "asn"],
        4,
    );
}

#[test]
fn interactive_signins_normalize_to_the_documented_values() {
    let ing = ingest_one(&fixture(
        "variants/signin/InteractiveSignIns_2024-03-04_2024-03-05.csv",
    ));
    let e = in_file_order(&ing);
    assert_eq!(field(e[0], "time"), "2024-03-04T08:15:22Z");
    assert_eq!(field(e[0], "user"), "alice.wong@contoso.example");
    assert_eq!(field(e[0], "outcome"), "success");
    assert_eq!(field(e[0], "country"), "US");
    assert_eq!(field(e[0], "city"), "Seattle");
    assert_eq!(field(e[0], "asn"), "7922");
    assert_eq!(field(e[0], "auth_method"), "Mobile app notification");
    assert_eq!(
        field(e[0], "session_id"),
        "3b9f2e1d-7c6a-4b5e-8d4c-2a1b0c9d8e01"
    );
    assert_eq!(field(e[1], "outcome"), "failure");
    assert_eq!(field(e[1], "error_code"), "50126");
    assert_eq!(field(e[1], "user_agent"), "python-requests/2.31.0");
    assert_eq!(field(e[2], "ip"), "2001:db8:85a3::8a2e:370:7334");
    assert_eq!(
        field(e[2], "token_id"),
        "-mFzZTY0VG9rZW4zAAAAAA",
        "the portal's apostrophe guard is removed"
    );
    assert_eq!(field(e[3], "outcome"), "interrupted");
    assert_eq!(field(e[3], "error_code"), "50074");
    assert!(e
        .iter()
        .all(|e| e.source == breachline::model::Source::Signin));
}

#[test]
fn noninteractive_signin_variants_agree() {
    assert_same(
        "variants/noninteractive",
        "graph_noninteractive.jsonl",
        &[
            "NonInteractiveSignIns_2024-03-05_2024-03-06.csv",
            "AADNonInteractiveUserSignInLogs_loganalytics.csv",
            "diagnostic_NonInteractiveUserSignInLogs.jsonl",
        ],
        &[SIGNIN_FIELDS, &["session_id", "token_id", "asn"]].concat(),
        2,
    );
    let ing = ingest_one(&fixture(
        "variants/noninteractive/graph_noninteractive.jsonl",
    ));
    assert!(ing
        .events
        .iter()
        .all(|e| e.source == breachline::model::Source::Noninteractive));
}

const AUDIT_FIELDS: &[&str] = &[
    "time",
    "source",
    "user",
    "operation",
    "outcome",
    "error_code",
    "ip",
    "user_agent",
    "application",
    "client_app",
    "device_id",
    "session_id",
    "correlation_id",
    "request_id",
    "token_id",
    "record_id",
    "object",
    "record_type",
    "workload",
    "param.Name",
    "param.MoveToFolder",
    "param.ForwardingSmtpAddress",
    "param.SubjectOrBodyContainsWords",
    "prop.MailAccessType",
    "folder",
    "message_id",
    "subject",
    "modified.ConsentAction.Permissions",
    "mailbox_owner",
    "logon_type",
    "site_url",
    "file_name",
    "target",
    "ext.RequestType",
    "device.SessionId",
];

#[test]
fn unified_audit_log_variants_agree() {
    assert_same(
        "variants/audit",
        "auditdata_only.jsonl",
        &[
            "purview_export_new.csv",
            "purview_export_old.csv",
            "search_unifiedauditlog_ps51.csv",
            "mes_UAL-Combined.csv",
            "mes_UAL-Combined.json",
            "mes_UAL-Combined.jsonl",
            "graph_ual.csv",
        ],
        AUDIT_FIELDS,
        7,
    );
    // OfficeActivity has no ApplicationId, DeviceProperties or AppAccessContext columns, so the
    // app, device, token and the STS logon's session are not in it.
    let not_in_office_activity = [
        "application",
        "device_id",
        "token_id",
        "session_id",
        "correlation_id",
        "device.SessionId",
    ];
    let office_fields: Vec<&str> = AUDIT_FIELDS
        .iter()
        .copied()
        .filter(|f| !not_in_office_activity.contains(f))
        .collect();
    assert_same(
        "variants/audit",
        "auditdata_only.jsonl",
        &[
            "OfficeActivity_loganalytics.csv",
            "OfficeActivity_loganalytics.jsonl",
        ],
        &office_fields,
        7,
    );
}

#[test]
fn audit_records_carry_what_later_stages_need() {
    let ing = ingest_one(&fixture("variants/audit/purview_export_new.csv"));
    let e = in_file_order(&ing);
    // UserLoggedIn: STS logon outcome from ErrorNumber, session from DeviceProperties.
    assert_eq!(field(e[0], "outcome"), "success");
    assert_eq!(
        field(e[0], "session_id"),
        "3b9f2e1d-7c6a-4b5e-8d4c-2a1b0c9d8e01"
    );
    // New-InboxRule: the rule name is the object; ClientIP had a port.
    assert_eq!(field(e[1], "operation"), "New-InboxRule");
    assert_eq!(field(e[1], "object"), ".");
    assert_eq!(field(e[1], "ip"), "198.51.100.77");
    assert_eq!(field(e[1], "param.MoveToFolder"), "RSS Subscriptions");
    assert_eq!(field(e[1], "token_id"), "QmFzZTY0VG9rZW4xAAAAAA");
    // Set-Mailbox forwarding.
    assert_eq!(
        field(e[2], "param.ForwardingSmtpAddress"),
        "smtp:payables@fabrikam-billing.example"
    );
    // MailItemsAccessed: folders and every message id.
    assert_eq!(field(e[3], "folder"), "\\Inbox|\\Finance");
    assert_eq!(e[3].attr_all("message_id").count(), 3);
    assert_eq!(field(e[3], "operation_count"), "3");
    assert_eq!(field(e[3], "client_app"), "Client=OWA;Action=ViaProxy");
    // Send: [v6]:port form.
    assert_eq!(field(e[4], "ip"), "2001:db8:85a3::8a2e:370:7334");
    assert_eq!(field(e[4], "subject"), "Updated remittance details");
    // FileDownloaded: lower-case UserId, no ResultStatus.
    assert_eq!(field(e[5], "user"), "bob.stone@contoso.example");
    assert_eq!(field(e[5], "file_name"), "Q1 forecast.xlsx");
    // Consent: permissions kept, no IP on Entra records.
    assert!(field(e[6], "modified.ConsentAction.Permissions").contains("Mail.Send"));
    assert_eq!(field(e[6], "ip"), "");
    assert_eq!(field(e[6], "user_agent"), "python-requests/2.31.0");
}

const MESSAGE_FIELDS: &[&str] = &[
    "user",
    "recipient",
    "subject",
    "outcome",
    "message_id",
    "ip",
];

#[test]
fn message_trace_variants_agree() {
    assert_same(
        "variants/messagetrace",
        "Get-MessageTrace_v1.csv",
        &["MessageTraceV2_mes.csv"],
        &[MESSAGE_FIELDS, &["time", "status", "size", "record_id"]].concat(),
        4,
    );
    let v1 = ingest_one(&fixture("variants/messagetrace/Get-MessageTrace_v1.csv"));
    let key = |e: &&Event| (field(e, "message_id"), field(e, "recipient"));
    let mut want: Vec<&Event> = v1.events.iter().collect();
    want.sort_by_key(key);

    let summary = ingest_one(&fixture(
        "variants/messagetrace/historical_summary_report.csv",
    ));
    assert_eq!(summary.files[0].rows, 3, "one summary row per message");
    let mut got: Vec<&Event> = summary.events.iter().collect();
    got.sort_by_key(key);
    assert_eq!(got.len(), 4, "one event per recipient");
    for (g, w) in got.iter().zip(&want) {
        for name in [MESSAGE_FIELDS, &["time"]].concat() {
            assert_eq!(field(g, name), field(w, name), "summary field {name}");
        }
    }

    let detail = ingest_one(&fixture(
        "variants/messagetrace/historical_extended_report.csv",
    ));
    assert!(detail.rejects.is_empty(), "{:?}", detail.rejects);
    let mut delivered: Vec<&Event> = detail
        .events
        .iter()
        .filter(|e| matches!(e.attr("event"), Some("DELIVER" | "SEND" | "FAIL")))
        .collect();
    delivered.sort_by_key(key);
    assert_eq!(delivered.len(), 4);
    for (g, w) in delivered.iter().zip(&want) {
        for name in MESSAGE_FIELDS.iter().filter(|n| **n != "ip") {
            assert_eq!(field(g, name), field(w, name), "detail field {name}");
        }
    }
}

#[test]
fn message_trace_rows_keep_subjects_with_commas_and_quotes() {
    let ing = ingest_one(&fixture("variants/messagetrace/MessageTraceV2_mes.csv"));
    let failed: Vec<&Event> = ing
        .events
        .iter()
        .filter(|e| field(e, "recipient") == "dave@fabrikam.example")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(field(failed[0], "subject"), "Re: Invoice 4471, \"urgent\"");
    assert_eq!(field(failed[0], "outcome"), "failure");
    assert_eq!(field(failed[0], "user"), "alice.wong@contoso.example");
}

/// Fields every Entra audit log variant carries.
const DIRECTORY_FIELDS: &[&str] = &[
    "time",
    "source",
    "user",
    "operation",
    "outcome",
    "ip",
    "object",
    "correlation_id",
    "application",
    "category",
    "logged_by_service",
    "result_reason",
    "initiator_type",
    "target",
    "target_type",
    "target_name",
    "modified.Role.DisplayName",
    "modified.StrongAuthenticationMethod",
    "modified_old.StrongAuthenticationMethod",
    "modified.ConsentAction.Permissions",
    "modified.KeyDescription",
    "modified_old.KeyDescription",
    "detail.invitedUserEmailAddress",
];

#[test]
fn entra_audit_log_variants_agree() {
    assert_same(
        "variants/directory",
        "graph_directoryAudits.jsonl",
        &[
            "graph_directoryAudits_page.json",
            "AuditLogs_2024-03-05.json",
            "AuditLogs_2024-03-05.csv",
            "AuditLogs_loganalytics.csv",
            "AuditLogs_loganalytics.json",
            "diagnostic_AuditLogs.jsonl",
            "eventhub_AuditLogs.json",
            "mes_AuditlogsGraph.json",
            "siem_lowercase_keys.jsonl",
        ],
        DIRECTORY_FIELDS,
        5,
    );
    // The admin center CSV has no record id and an operation type only in the JSON shapes.
    assert_same(
        "variants/directory",
        "graph_directoryAudits.jsonl",
        &[
            "graph_directoryAudits_page.json",
            "AuditLogs_2024-03-05.json",
            "AuditLogs_loganalytics.csv",
            "AuditLogs_loganalytics.json",
            "diagnostic_AuditLogs.jsonl",
            "mes_AuditlogsGraph.json",
        ],
        &["record_id", "operation_type", "target_id"],
        5,
    );
    // The downloads and diagnostic records carry the initiator's user agent.
    assert_same(
        "variants/directory",
        "AuditLogs_2024-03-05.json",
        &["AuditLogs_2024-03-05.csv", "diagnostic_AuditLogs.jsonl"],
        &["user_agent"],
        5,
    );
}

#[test]
fn entra_audit_events_name_initiator_targets_and_removed_values() {
    let ing = ingest_one(&fixture("variants/directory/graph_directoryAudits.jsonl"));
    let events = in_file_order(&ing);
    // D1: an admin gives alice a role: the admin acts, alice is the target.
    let d1 = events[0];
    assert_eq!(&*d1.user, "adm.jones@contoso.example");
    let subjects: Vec<String> = d1.subjects().map(|(s, _)| s.into_owned()).collect();
    assert_eq!(
        subjects,
        ["adm.jones@contoso.example", "alice@contoso.example"]
    );
    // D2: every MFA method removed: the empty list survives.
    assert_eq!(
        field(events[1], "modified.StrongAuthenticationMethod"),
        "[]"
    );
    // D4: an app initiated: the actor is the app, and it is not an account.
    assert_eq!(&*events[3].user, "Contoso Automation");
    assert_eq!(
        breachline::model::ActorKind::of(&events[3].user),
        breachline::model::ActorKind::App
    );
    // D5: a failed guest invitation.
    assert_eq!(field(events[4], "outcome"), "failure");
    assert_eq!(
        field(events[4], "target"),
        "mallory_evil.example#ext#@contoso.example"
    );
}

const RISK_FIELDS: &[&str] = &[
    "time",
    "source",
    "user",
    "operation",
    "object",
    "ip",
    "country",
    "city",
    "region",
    "request_id",
    "record_id",
    "risk_event_type",
    "risk_level",
    "risk_detail",
    "risk_activity",
    "user_agent",
    "last_updated",
];

#[test]
fn identity_protection_variants_agree() {
    assert_same(
        "variants/risk",
        "graph_riskDetections.jsonl",
        &[
            "graph_riskDetections_page.json",
            "diagnostic_UserRiskEvents.jsonl",
            "AADUserRiskEvents_loganalytics.json",
            "AADUserRiskEvents_loganalytics.csv",
            "mes_RiskyDetections.csv",
        ],
        RISK_FIELDS,
        2,
    );
    // The PowerShell collection of detections has no risk state.
    assert_same(
        "variants/risk",
        "graph_riskDetections.jsonl",
        &[
            "graph_riskDetections_page.json",
            "diagnostic_UserRiskEvents.jsonl",
            "AADUserRiskEvents_loganalytics.json",
            "AADUserRiskEvents_loganalytics.csv",
        ],
        &["risk_state", "detection_timing"],
        2,
    );
    assert_same(
        "variants/risk",
        "graph_riskyUsers.json",
        &[
            "diagnostic_RiskyUsers.jsonl",
            "AADRiskyUsers_loganalytics.csv",
        ],
        &[
            "time",
            "source",
            "user",
            "operation",
            "object",
            "record_id",
            "risk_level",
            "risk_state",
            "risk_detail",
        ],
        2,
    );
    let ing = ingest_one(&fixture("variants/risk/graph_riskDetections.jsonl"));
    let first = in_file_order(&ing)[0];
    assert_eq!(field(first, "operation"), "Risk detection");
    assert_eq!(field(first, "user"), "alice@contoso.example");
    assert_eq!(field(first, "risk_event_type"), "anonymizedIPAddress");
    assert_eq!(field(first, "time"), "2024-03-05T09:58:00Z");
}

#[test]
fn one_risk_record_in_several_exports_is_read_once() {
    let ing = ingest_paths(&[fixture("variants/risk")]);
    // 2 detections and 2 risky-user states, each in several files.
    assert_eq!(ing.events.len(), 4, "{:?}", ing.files);
    let rows: u64 = ing.files.iter().map(|f| f.rows).sum();
    let parsed: u64 = ing.files.iter().map(|f| f.parsed).sum();
    let dup: u64 = ing.files.iter().map(|f| f.duplicates).sum();
    assert_eq!(rows, parsed + dup);
}
