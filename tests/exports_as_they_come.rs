//! Exports as they really come: keys in any case, outcomes only in `resultType`, other time
//! columns, removed values, record ids shared by different records, and evidence that could not
//! be read at all (never an all-clear from nothing).

mod common;

use std::path::PathBuf;

use common::*;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("temp file is writable");
    p
}

#[test]
fn audit_records_with_lower_case_keys_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "siem.jsonl",
        concat!(
            r#"{"creationtime":"2024-05-13T14:27:05","id":"a1","operation":"New-InboxRule","recordtype":1,"userid":"Victim@Contoso.example","clientip":"203.0.113.9","parameters":[{"name":"Name","value":"."},{"name":"DeleteMessage","value":"True"}]}"#,
            "\n"
        ),
    );
    let ing = ingest_one(&p);
    assert_eq!(ing.files[0].error, None);
    assert_eq!(ing.events.len(), 1);
    let e = &ing.events[0];
    assert_eq!(&*e.user, "victim@contoso.example");
    assert_eq!(&*e.operation, "New-InboxRule");
    assert_eq!(e.attr("param.DeleteMessage"), Some("True"));
    assert_eq!(e.ip.map(|i| i.to_string()).as_deref(), Some("203.0.113.9"));
}

#[test]
fn a_diagnostic_sign_in_with_its_result_only_in_the_envelope_has_an_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "diag.jsonl",
        concat!(
            r#"{"time":"2024-05-13T14:19:37Z","category":"SignInLogs","resultType":"50126","callerIpAddress":"203.0.113.9","properties":{"id":"r1","createdDateTime":"2024-05-13T14:19:37Z","userPrincipalName":"a@contoso.example","appDisplayName":"Office 365"}}"#,
            "\n",
            r#"{"time":"2024-05-13T14:20:37Z","category":"SignInLogs","resultType":"0","callerIpAddress":"203.0.113.9","properties":{"id":"r2","createdDateTime":"2024-05-13T14:20:37Z","userPrincipalName":"a@contoso.example","appDisplayName":"Office 365"}}"#,
            "\n"
        ),
    );
    let ing = ingest_one(&p);
    let outcomes: Vec<&str> = in_file_order(&ing)
        .iter()
        .map(|e| e.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["failure", "success"]);
}

#[test]
fn office_activity_with_only_a_start_time_column_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "OfficeActivity.csv",
        "\u{feff}Start_Time [UTC],OfficeWorkload,Operation,UserId,ClientIP,OfficeId\r\n\"5/13/2024, 2:27:05.000 PM\",Exchange,Set-Mailbox,a@contoso.example,203.0.113.9,o1\r\n",
    );
    let ing = ingest_one(&p);
    assert_eq!(ing.files[0].rejected, 0, "{:?}", ing.rejects);
    assert_eq!(field(&ing.events[0], "time"), "2024-05-13T14:27:05Z");
}

#[test]
fn mail_read_by_an_app_through_graph_names_the_app_that_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "ual.jsonl",
        concat!(
            r#"{"CreationTime":"2024-05-13T14:27:05","Id":"m1","Operation":"MailItemsAccessed","RecordType":50,"UserId":"a@contoso.example","AppId":"00000003-0000-0000-c000-000000000000","ClientAppId":"11111111-2222-3333-4444-555555555555","MailAccessType":"Bind"}"#,
            "\n"
        ),
    );
    let e = &ingest_one(&p).events[0];
    assert_eq!(
        e.attr("client_app_id"),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(
        e.attr("app_id"),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(
        e.attr("via_app_id"),
        Some("00000003-0000-0000-c000-000000000000")
    );
}

#[test]
fn mfa_methods_removed_in_the_unified_audit_log_keep_the_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "ual.jsonl",
        concat!(
            r#"{"CreationTime":"2024-05-13T14:27:05","Id":"u1","Operation":"Update user.","RecordType":8,"UserId":"a@contoso.example","ModifiedProperties":[{"Name":"StrongAuthenticationMethod","NewValue":"[]","OldValue":"[{\"MethodType\":6}]"}],"Target":[{"Type":5,"ID":"a@contoso.example"}]}"#,
            "\n"
        ),
    );
    let e = &ingest_one(&p).events[0];
    assert_eq!(e.attr("modified.StrongAuthenticationMethod"), Some("[]"));
}

#[test]
fn one_id_on_two_different_records_keeps_both_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let line = |op: &str, t: &str| {
        format!(
            r#"{{"CreationTime":"{t}","Id":"same-id","Operation":"{op}","RecordType":1,"UserId":"a@contoso.example"}}"#
        )
    };
    let p = write(
        &dir,
        "ual.jsonl",
        &[
            line("New-InboxRule", "2024-05-13T14:27:05"),
            line("New-InboxRule", "2024-05-13T14:27:05"),
            line("Set-Mailbox", "2024-05-13T15:00:00"),
        ]
        .join("\n"),
    );
    let ing = ingest_one(&p);
    let f = &ing.files[0];
    assert_eq!(
        (f.rows, f.parsed, f.duplicates, f.conflicts),
        (3, 2, 1, 1),
        "{f:?}"
    );
    assert_eq!(ing.events.len(), 2);
    assert!(
        f.warnings.iter().any(|w| w.contains("share")),
        "{:?}",
        f.warnings
    );
}

#[test]
fn analyze_on_evidence_it_cannot_read_says_so_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "notes.csv", "a,b\n1,2\n");
    let out = breachline(&["analyze", dir.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("No evidence was read"), "{text}");
    assert!(!text.contains("no account is compromised"), "{text}");
}

#[test]
fn analyze_names_the_files_it_did_not_read_before_any_verdict() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "notes.csv", "a,b\n1,2\n");
    std::fs::copy(
        fixture("variants/directory/graph_directoryAudits.jsonl"),
        dir.path().join("audit.jsonl"),
    )
    .unwrap();
    let case = dir.path().join("case");
    let out = breachline(&[
        "analyze",
        dir.path().join("notes.csv").to_str().unwrap(),
        dir.path().join("audit.jsonl").to_str().unwrap(),
        "--out",
        case.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let warning = text
        .find("1 of 2 files not read")
        .unwrap_or_else(|| panic!("{text}"));
    let verdicts = text.find("Verdicts").unwrap_or(text.len());
    assert!(warning < verdicts, "{text}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("summary.json")).unwrap()).unwrap();
    let evidence = &summary["evidence"];
    assert_eq!(evidence["files_read"], 1);
    assert!(evidence["files_not_read"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("notes.csv"));
    assert_eq!(evidence["sources_read"], serde_json::json!(["directory"]));
}
