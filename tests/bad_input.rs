//! Bad input never panics and never silently drops data: every file and row is accounted for
//! with a reason (fixtures/bad/).

mod common;

use breachline::ingest::FileStatus;
use common::*;

fn read(name: &str) -> breachline::ingest::Ingested {
    ingest_one(&fixture(&format!("bad/{name}")))
}

#[test]
fn unreadable_files_are_errors_that_say_why() {
    for (name, says) in [
        ("empty.csv", "empty"),
        (
            "unknown_header.csv",
            "found the columns Name, Email, Department",
        ),
        ("garbage.bin", "binary data"),
    ] {
        let ing = read(name);
        let f = &ing.files[0];
        assert_eq!(f.status, FileStatus::Error, "{name}");
        let err = f.error.as_deref().unwrap_or("");
        assert!(err.contains(says), "{name}: {err}");
        assert!(f.sha256.is_some(), "{name}: unread files are hashed too");
    }
    let unknown = read("unknown_header.csv");
    assert!(
        unknown.files[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("expected"),
        "names what it expected"
    );
}

#[test]
fn a_header_without_rows_is_an_empty_export_not_an_error() {
    let ing = read("header_only.csv");
    assert_eq!(ing.files[0].status, FileStatus::Read);
    assert_eq!(ing.files[0].rows, 0);
    assert_eq!(ing.files[0].variant, Some("ual-purview-csv"));
}

#[test]
fn a_truncated_export_keeps_the_complete_rows_and_rejects_the_cut_one() {
    let ing = read("truncated_export.csv");
    let f = &ing.files[0];
    assert_eq!((f.rows, f.parsed, f.rejected), (3, 2, 1));
    let r = &ing.rejects[0];
    assert_eq!(r.record, 3);
    assert_eq!(r.line, 4);
    assert_eq!(r.field.as_deref(), Some("AuditData"));
    assert!(r.reason.contains("cut off"), "{}", r.reason);
}

#[test]
fn invalid_and_empty_auditdata_cells_are_rejected_with_the_field() {
    let ing = read("invalid_auditdata.csv");
    let f = &ing.files[0];
    assert_eq!((f.rows, f.parsed, f.rejected), (4, 2, 2));
    assert_eq!(ing.rejects.len(), 2);
    assert!(ing
        .rejects
        .iter()
        .all(|r| r.field.as_deref() == Some("AuditData")));
    assert!(
        ing.rejects[0].reason.contains("not valid JSON"),
        "{:?}",
        ing.rejects[0]
    );
    assert!(
        ing.rejects[1].reason.contains("empty"),
        "{:?}",
        ing.rejects[1]
    );
    assert_eq!((ing.rejects[0].line, ing.rejects[1].line), (3, 5));
}

#[test]
fn bad_sign_in_rows_name_the_column() {
    let ing = read("bad_rows_signin.csv");
    let f = &ing.files[0];
    assert_eq!((f.rows, f.parsed, f.rejected), (4, 2, 2));
    assert_eq!(ing.rejects[0].field.as_deref(), Some("Date (UTC)"));
    assert!(
        ing.rejects[0].reason.contains("not a date"),
        "{:?}",
        ing.rejects[0]
    );
    assert!(
        ing.rejects[1].reason.contains("5 cells"),
        "{:?}",
        ing.rejects[1]
    );
}

#[test]
fn broken_json_keeps_what_came_before() {
    let ing = read("not_json.json");
    let f = &ing.files[0];
    assert_eq!(f.parsed, 1);
    assert_eq!(f.rows, f.parsed + f.rejected);
    assert!(f.rejected >= 1);
    assert!(
        ing.rejects.iter().any(|r| r.reason.contains("truncated")),
        "{:?}",
        ing.rejects
    );
}

#[test]
fn every_row_of_every_fixture_is_accounted_for() {
    let ing = ingest_paths(&[fixtures()]);
    assert!(ing.files.len() >= 30, "{} files", ing.files.len());
    for f in &ing.files {
        assert_eq!(f.rows, f.parsed + f.duplicates + f.rejected, "{}", f.path);
        if f.status == FileStatus::Read {
            assert!(
                f.sha256.as_deref().is_some_and(|h| h.len() == 64),
                "{}",
                f.path
            );
        }
    }
    let rows: u64 = ing.files.iter().map(|f| f.rows).sum();
    let rejected: u64 = ing.files.iter().map(|f| f.rejected).sum();
    assert_eq!(rejected as usize, ing.rejects.len());
    assert!(rows > 0);
}
