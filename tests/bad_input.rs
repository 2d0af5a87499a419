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

// ---- Hostile evidence (issue 12): docs/reliability.md names the test holding each guarantee.

use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn graph_lines() -> Vec<String> {
    std::fs::read_to_string(fixture("variants/signin/graph_signins.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn assert_accounted(ing: &breachline::ingest::Ingested) {
    for f in &ing.files {
        assert_eq!(f.rows, f.parsed + f.duplicates + f.rejected, "{f:?}");
    }
}

#[test]
fn analyze_refuses_an_output_folder_that_holds_the_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("ev");
    std::fs::create_dir(&ev).unwrap();
    let evidence = std::fs::read(fixture("variants/audit/purview_export_new.csv")).unwrap();
    let file = write(&ev, "timeline.csv", &evidence);
    let o = breachline(&[
        "analyze",
        "-q",
        "--out",
        ev.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    let err = stderr_of(&o);
    assert!(
        err.contains("refusing to write")
            && err.contains(ev.to_str().unwrap())
            && err.contains("timeline.csv"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        evidence,
        "the evidence is untouched"
    );
    // An output folder inside the evidence folder is refused too.
    let inside = ev.join("case");
    let o = breachline(&[
        "analyze",
        "-q",
        "--out",
        inside.to_str().unwrap(),
        ev.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!inside.exists());
}

#[test]
fn inspect_and_timeline_refuse_an_output_file_that_is_the_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = std::fs::read(fixture("variants/audit/purview_export_new.csv")).unwrap();
    let file = write(dir.path(), "ual.csv", &evidence);
    let f = file.to_str().unwrap();
    // The same file by another name (a symbolic link) is caught too: paths are canonicalized.
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for args in [
        vec!["inspect", "-q", "--rejects", f, f],
        vec!["timeline", "-q", f, "--output", f],
        vec!["timeline", "-q", f, "--output", link.to_str().unwrap()],
        vec![
            "timeline",
            "-q",
            dir.path().to_str().unwrap(),
            "--output",
            dir.path().join("new.csv").to_str().unwrap(),
        ],
    ] {
        let o = breachline(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr_of(&o));
        assert!(stderr_of(&o).contains("refusing to write"), "{args:?}");
        assert_eq!(std::fs::read(&file).unwrap(), evidence, "{args:?}");
    }
    assert!(!dir.path().join("new.csv").exists());
}

#[test]
fn a_previous_case_is_replaced_whole_and_a_foreign_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("case");
    let ev = fixture("variants/audit/purview_export_new.csv");
    let run = || {
        breachline(&[
            "analyze",
            "-q",
            "--out",
            out.to_str().unwrap(),
            "--no-parquet",
            ev.to_str().unwrap(),
        ])
    };
    assert_eq!(run().status.code(), Some(0));
    // A stale parquet from an earlier run must not survive next to new files (--no-parquet).
    write(&out, "timeline.parquet", b"stale");
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert!(
        !out.join("timeline.parquet").exists(),
        "stale parquet removed"
    );
    assert!(out.join("summary.json").exists() && out.join("rejects.csv").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no staging folder left behind: {leftovers:?}"
    );
    // Anything that is not a case file: refused, and nothing is touched.
    write(&out, "my-notes.txt", b"mine");
    let o = run();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr_of(&o).contains("not a breachline case folder"),
        "{}",
        stderr_of(&o)
    );
    assert_eq!(std::fs::read(out.join("my-notes.txt")).unwrap(), b"mine");
}

#[test]
fn a_rejects_file_replaces_a_symlink_instead_of_writing_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let precious = write(dir.path(), "precious.txt", b"keep");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let link = out.join("rejects.csv");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let ev = fixture("bad/invalid_auditdata.csv");
    let o = breachline(&[
        "inspect",
        "-q",
        "--rejects",
        link.to_str().unwrap(),
        ev.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep");
    assert!(std::fs::read_to_string(&link)
        .unwrap()
        .starts_with("path,line"));
}

#[test]
fn symlinks_and_pipes_in_a_folder_are_read_or_listed_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("ev");
    std::fs::create_dir(&ev).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let target = write(
        &elsewhere,
        "ual.csv",
        std::fs::read(fixture("variants/audit/purview_export_new.csv")).unwrap(),
    );
    std::os::unix::fs::symlink(&target, ev.join("linked.csv")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, ev.join("linked_folder")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("missing.csv"), ev.join("broken.csv")).unwrap();
    let fifo = ev.join("pipe.csv");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let ing = ingest_one(&ev);
    assert_eq!(ing.files.len(), 1);
    assert_eq!(ing.files[0].parsed, 7);
    assert!(
        ing.files[0]
            .warnings
            .iter()
            .any(|w| w.contains("symbolic link")),
        "{:?}",
        ing.files[0].warnings
    );
    let skipped = |name: &str| {
        ing.skipped
            .iter()
            .find(|s| s.path.ends_with(name))
            .unwrap_or_else(|| panic!("{name}: {:?}", ing.skipped))
    };
    assert!(skipped("linked_folder").reason.contains("link to a folder"));
    assert!(skipped("broken.csv")
        .reason
        .contains("broken symbolic link"));
    assert!(skipped("pipe.csv").reason.contains("named pipe"));
    // --strict fails, and stderr says what was not read.
    let o = breachline(&["inspect", "-q", "--strict", ev.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr_of(&o).contains("were not read"), "{}", stderr_of(&o));
}

#[test]
fn a_named_pipe_on_the_command_line_is_read_as_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("signins");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let body = std::fs::read(fixture("variants/signin/graph_signins.jsonl")).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, body).unwrap())
    };
    let ing = ingest_one(&fifo);
    writer.join().unwrap();
    assert_eq!(ing.files.len(), 1);
    assert_eq!(
        (ing.files[0].rows, ing.files[0].parsed),
        (4, 4),
        "{:?}",
        ing.files[0]
    );
    assert!(
        ing.files[0].sha256.is_some(),
        "the stream is hashed as it is read"
    );
}

#[test]
fn a_broken_json_line_rejects_only_that_line() {
    let dir = tempfile::tempdir().unwrap();
    let lines = graph_lines();
    let text = format!(
        "{}\n{{\"createdDateTime\": \"2024-03-04T08:15:22Z\", \"broken\n{}\n",
        lines[0],
        lines[1..].join("\n")
    );
    let ing = ingest_one(&write(dir.path(), "s.jsonl", text));
    let f = &ing.files[0];
    assert_eq!((f.rows, f.parsed, f.rejected), (5, 4, 1), "{f:?}");
    assert_eq!(ing.rejects[0].line, 2);
    assert!(
        ing.rejects[0].reason.contains("line ends inside"),
        "{:?}",
        ing.rejects[0]
    );
    assert_accounted(&ing);
}

#[test]
fn a_bad_first_json_record_does_not_make_the_file_unrecognised() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{{\"foo\": 1}}\nnot json at all\n{}\n",
        graph_lines().join("\n")
    );
    let ing = ingest_one(&write(dir.path(), "s.jsonl", text));
    let f = &ing.files[0];
    assert_eq!(f.variant, Some("entra-signin-json"), "{f:?}");
    assert_eq!((f.rows, f.parsed, f.rejected), (6, 4, 2), "{f:?}");
    assert_eq!(
        ing.rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
        [1, 2]
    );
    // Nothing recognisable at all: an error, and no rows claimed.
    let ing = ingest_one(&write(dir.path(), "t.jsonl", "{\"foo\":1}\n{\"bar\":2}\n"));
    assert!(ing.files[0]
        .error
        .as_deref()
        .unwrap()
        .contains("none of the first 2 records"));
    assert_eq!(ing.files[0].rows, 0);
    assert_accounted(&ing);
}

#[test]
fn rejects_beyond_the_first_thousand_stream_to_the_rejects_file_and_blank_lines_are_not_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        std::fs::read_to_string(fixture("variants/audit/purview_export_new.csv")).unwrap();
    for i in 0..2500 {
        text.push_str(&format!("bad,row,{i}\n   \n"));
    }
    let ev = write(dir.path(), "ual.csv", &text);
    let ing = ingest_one(&ev);
    let f = &ing.files[0];
    assert_eq!((f.rows, f.parsed, f.rejected), (2507, 7, 2500), "{f:?}");
    assert_eq!(ing.rejects.len(), breachline::ingest::read::REJECTS_KEPT);
    assert_eq!(ing.rejects_total, 2500);
    assert!(
        f.warnings.iter().any(|w| w.contains("2500 blank lines")),
        "{:?}",
        f.warnings
    );
    let rejects = dir.path().join("rejects.csv");
    let o = breachline(&[
        "inspect",
        "-q",
        "--json",
        "--rejects",
        rejects.to_str().unwrap(),
        ev.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let listed = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(listed.lines().count(), 2501);
    let records: Vec<u64> = listed
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(records.windows(2).all(|w| w[0] < w[1]), "in record order");
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["rejected"], 2500);
    assert_eq!(json["rejects"].as_array().unwrap().len(), 1000);
}

#[test]
fn zip_members_are_read_from_one_directory_pass() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    let lines = graph_lines();
    let members = 2000;
    for i in 0..members {
        zip.start_file(format!("part{i:05}.jsonl"), opts).unwrap();
        zip.write_all(lines[i % lines.len()].as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    let started = std::time::Instant::now();
    let ing = ingest_one(&path);
    let took = started.elapsed();
    assert_eq!(ing.files.len(), members);
    assert_eq!(
        ing.files.iter().map(|f| f.rows).sum::<u64>(),
        members as u64
    );
    assert_accounted(&ing);
    // Re-reading the directory per member took minutes for 8,000 members; one pass is linear.
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_damaged_zip_member_is_an_error_naming_it() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ev.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("signins.jsonl", opts).unwrap();
    zip.write_all(graph_lines().join("\n").as_bytes()).unwrap();
    zip.finish().unwrap();
    // Flip a byte of the stored member: the CRC-32 no longer matches.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(15)
        .position(|w| w == b"createdDateTime")
        .unwrap();
    bytes[at] = b'C';
    std::fs::write(&path, bytes).unwrap();
    let ing = ingest_one(&path);
    let f = &ing.files[0];
    assert!(f.path.ends_with("!/signins.jsonl"));
    assert!(f.error.as_deref().unwrap_or("").contains("CRC-32"), "{f:?}");
    assert_accounted(&ing);
}

#[test]
fn terminal_output_escapes_control_characters_from_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = graph_lines();
    lines[0] = lines[0].replacen(
        "\"userPrincipalName\":\"",
        "\"userAgent\":\"Evil\\u001b]0;owned\\u0007\\u001b[2J\",\"userPrincipalName\":\"",
        1,
    );
    let ev = dir.path().join("ev");
    std::fs::create_dir(&ev).unwrap();
    write(&ev, "s.jsonl", lines.join("\n"));
    // A file name with an escape sequence and a line break in it, and content that is no export.
    write(&ev, "x\u{1b}[2J\nfake.csv", "Name,Email\n");
    for args in [
        vec!["timeline", ev.to_str().unwrap()],
        vec!["inspect", ev.to_str().unwrap()],
    ] {
        let o = breachline(&args);
        let (out, err) = (stdout(&o), stderr_of(&o));
        assert!(
            !out.contains('\u{1b}') && !err.contains('\u{1b}') && !err.contains('\u{7}'),
            "{args:?}\n{out}\n{err}"
        );
        if args[0] == "inspect" {
            assert!(
                out.contains("x\\x1b[2J\\nfake.csv"),
                "{args:?}: shown escaped\n{out}"
            );
        }
        assert!(
            !out.lines()
                .chain(err.lines())
                .any(|l| l.starts_with("fake.csv")),
            "no forged line"
        );
    }
}

#[test]
fn an_unreadable_subfolder_is_listed_as_skipped() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    write(
        &locked,
        "ual.csv",
        std::fs::read(fixture("variants/audit/purview_export_new.csv")).unwrap(),
    );
    std::fs::copy(
        fixture("variants/signin/graph_signins.jsonl"),
        dir.path().join("s.jsonl"),
    )
    .unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let still_readable = std::fs::read_dir(&locked).is_ok();
    let (files, skipped) = if still_readable {
        // Running as root: permissions do not stop reading, so the listing fails on purpose.
        let lock = locked.clone();
        let fail = move |p: &Path| {
            if p == lock {
                Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
            } else {
                std::fs::read_dir(p)?.map(|e| e.map(|e| e.path())).collect()
            }
        };
        breachline::ingest::discover::discover_with(&[dir.path().to_path_buf()], &fail).unwrap()
    } else {
        let o = breachline(&["inspect", "-q", "--strict", dir.path().to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr_of(&o));
        assert_eq!(
            stderr_of(&o).matches("locked").count(),
            1,
            "said once: {}",
            stderr_of(&o)
        );
        breachline::ingest::discover::discover(&[dir.path().to_path_buf()]).unwrap()
    };
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(files.len(), 1, "the rest is still read");
    let s = skipped
        .iter()
        .find(|s| s.path.ends_with("locked"))
        .expect("listed");
    assert!(s.reason.contains("cannot be listed"), "{s:?}");
    assert_eq!(s.kind, breachline::ingest::discover::SkipKind::NotRead);
}

#[test]
fn nested_auditdata_values_that_are_not_json_are_noted_on_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"CreationTime":"2024-03-04T09:10:33","Id":"x-1","Operation":"New-InboxRule","RecordType":1,"ResultStatus":"True","Workload":"Exchange","UserId":"a@contoso.example","Parameters":"[{\"Name\":\"Forward","Folders":"[{oops"}"#;
    let ing = ingest_one(&write(dir.path(), "ual.jsonl", line));
    let f = &ing.files[0];
    assert_eq!(f.parsed, 1, "{f:?}");
    let e = &ing.events[0];
    let errs: Vec<&str> = e.attr_all("parse_error").collect();
    assert_eq!(errs, ["Parameters", "Folders"]);
    assert!(
        f.warnings
            .iter()
            .any(|w| w.starts_with("1 rows with a nested value")),
        "{:?}",
        f.warnings
    );
}

#[test]
fn implausible_times_are_warned_about_and_left_out_of_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = graph_lines();
    lines[0] = lines[0].replacen("2024-03-04T08:15:22Z", "1970-01-01T00:00:00Z", 1);
    let ing = ingest_one(&write(dir.path(), "s.jsonl", lines.join("\n")));
    let f = &ing.files[0];
    assert_eq!(f.parsed, 4, "kept: it is evidence");
    assert!(
        f.warnings
            .iter()
            .any(|w| w.starts_with("1 events have implausible times")),
        "{:?}",
        f.warnings
    );
    let s = &ing.coverage.sources[0];
    assert!(s.first.format("%Y").to_string() == "2024", "{s:?}");
    assert!(s.gaps.is_empty(), "no 54-year gap: {:?}", s.gaps);
}

#[test]
fn an_unclosed_quote_cannot_make_one_csv_record_larger_than_the_limit() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ual.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(&std::fs::read(fixture("variants/audit/purview_export_new.csv")).unwrap())
        .unwrap();
    f.write_all(b"x,2024-03-04T08:15:22,15,UserLoggedIn,a@contoso.example,\"{unclosed\n")
        .unwrap();
    let line = [b'a'; 1023];
    let limit = breachline::ingest::read::MAX_RECORD_BYTES as usize;
    for _ in 0..(limit / 1024 + 64) {
        f.write_all(&line).unwrap();
        f.write_all(b"\n").unwrap();
    }
    drop(f);
    let ing = ingest_one(&path);
    let file = &ing.files[0];
    assert_eq!(file.parsed, 7, "the rows before it are kept");
    assert!(
        file.error
            .as_deref()
            .unwrap_or("")
            .contains("larger than 64 MiB"),
        "{file:?}"
    );
    assert!(
        ing.rejects
            .iter()
            .any(|r| r.line == 9 && r.reason.contains("unclosed quote")),
        "{:?}",
        ing.rejects
    );
    assert_accounted(&ing);
}

#[test]
fn a_json_stream_that_stops_on_a_read_error_is_a_read_failure() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let lines = graph_lines();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..20_000 {
        let line = lines[i % lines.len()].replacen("8e2d1b4a", &format!("{i:08x}"), 1);
        gz.write_all(line.as_bytes()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    let bytes = gz.finish().unwrap();
    // Cut the compressed stream: the decoder fails part way through.
    let path = write(dir.path(), "signins.jsonl.gz", &bytes[..bytes.len() / 2]);
    let ing = ingest_one(&path);
    let f = &ing.files[0];
    assert!(
        f.parsed > 1000,
        "the records before the failure are kept: {f:?}"
    );
    assert!(
        f.error.as_deref().unwrap_or("").contains("reading stopped"),
        "{f:?}"
    );
    assert_accounted(&ing);
    let o = breachline(&["inspect", "-q", "--strict", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
}
