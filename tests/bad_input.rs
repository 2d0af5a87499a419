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

#[test]
fn a_corrupt_archive_or_a_workbook_is_reported_and_the_rest_is_still_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.zip"),
        b"PK\x03\x04 this is not really a zip",
    )
    .unwrap();
    let mut book =
        zip::ZipWriter::new(std::fs::File::create(dir.path().join("signins.xlsx")).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    book.start_file("[Content_Types].xml", opts).unwrap();
    book.write_all(b"<Types/>").unwrap();
    book.start_file("xl/workbook.xml", opts).unwrap();
    book.write_all(b"<workbook/>").unwrap();
    book.finish().unwrap();
    std::fs::copy(
        fixture("variants/audit/purview_export_new.csv"),
        dir.path().join("ual.csv"),
    )
    .unwrap();
    let ing = ingest_paths(&[dir.path().to_path_buf()]);
    assert_eq!(ing.files.len(), 3);
    let by_name = |n: &str| ing.files.iter().find(|f| f.path.ends_with(n)).unwrap();
    assert!(by_name("broken.zip")
        .error
        .as_deref()
        .unwrap()
        .contains("zip archive that cannot be opened"));
    assert!(by_name("broken.zip").sha256.is_some());
    assert!(by_name("signins.xlsx")
        .error
        .as_deref()
        .unwrap()
        .contains("Excel workbook"));
    assert_eq!(by_name("ual.csv").parsed, 7);
}
