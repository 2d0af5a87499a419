//! The command line as an investigator or a script uses it.

mod common;

use common::*;

#[test]
fn inspect_json_accounts_for_every_row() {
    let out = breachline(&["inspect", "--json", fixture("variants").to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("inspect --json prints JSON");
    let files = v["files"].as_array().unwrap();
    assert!(files.len() >= 26);
    for f in files {
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(
            n("rows"),
            n("parsed") + n("duplicates") + n("rejected"),
            "{}",
            f["path"]
        );
        assert_eq!(f["status"], "read", "{}", f["path"]);
        assert!(f["variant"].is_string());
        let source = f["source"].as_str().unwrap();
        let folder = f["path"].as_str().unwrap().rsplit('/').nth(1).unwrap();
        let expected = match folder {
            "signin" | "noninteractive" => "signin",
            other => other,
        };
        assert_eq!(source, expected, "{}", f["path"]);
    }
    assert!(v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["path"].as_str().unwrap().ends_with("README.md")));
    assert!(!v["coverage"]["sources"].as_array().unwrap().is_empty());
}

#[test]
fn strict_mode_fails_when_evidence_was_not_all_read() {
    let bad = fixture("bad");
    let out = breachline(&["inspect", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("NOT READ"));
    let out = breachline(&["inspect", "--strict", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn rejects_file_lists_every_rejected_row() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    let out = breachline(&[
        "inspect",
        fixture("bad").to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let mut r = csv::Reader::from_path(&rejects).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec!["path", "line", "record", "field", "reason"]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let ing = ingest_one(&fixture("bad"));
    assert_eq!(rows.len(), ing.rejects.len());
    assert!(rows
        .iter()
        .any(|row| row[0].ends_with("invalid_auditdata.csv") && &row[3] == "AuditData"));
}

#[test]
fn timeline_is_identical_with_one_or_many_threads() {
    let path = fixtures();
    let run = |threads: &str| {
        let out = breachline(&[
            "--threads",
            threads,
            "timeline",
            path.to_str().unwrap(),
            "--format",
            "csv",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let one = run("1");
    assert!(one.len() > 1000);
    assert_eq!(one, run("2"));
    assert_eq!(one, run("4"));
}

#[test]
fn timeline_filters_by_user_time_and_source() {
    let path = fixture("variants");
    let out = breachline(&[
        "timeline",
        path.to_str().unwrap(),
        "--user",
        "BOB.STONE@contoso.example",
        "--from",
        "2024-03-04T10:00:00Z",
        "--to",
        "2024-03-04T23:59:59Z",
        "--source",
        "signin",
        "--format",
        "jsonl",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!events.is_empty());
    for e in &events {
        assert_eq!(e["timeline_user"], "bob.stone@contoso.example");
        assert_eq!(e["source"], "signin");
        let t = e["time"].as_str().unwrap();
        assert!(
            ("2024-03-04T10:00:00Z"..="2024-03-04T23:59:59Z").contains(&t),
            "{t}"
        );
        assert!(e["origin"]["line"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn help_documents_exit_codes_and_bad_times_are_usage_errors() {
    let out = breachline(&["--help"]);
    assert!(stdout(&out).contains("Exit codes"));
    let out = breachline(&["timeline", "fixtures", "--from", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ISO 8601"));
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    let out = breachline(&["inspect", "/nonexistent/evidence"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/evidence"));
}
