//! Decoding quirks: encodings and BOMs, line endings, delimiters, archives, concatenated exports,
//! multi-line cells and culture-formatted dates. Variants are generated from a fixture here, so
//! each quirk is tested on records whose expected values are known.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use breachline::model::Event;
use common::*;

const PORTAL: &str = "variants/signin/InteractiveSignIns_2024-03-04_2024-03-05.csv";

fn reference() -> Vec<Vec<(&'static str, String)>> {
    let ing = ingest_one(&fixture(PORTAL));
    in_file_order(&ing).iter().map(|e| fields(e)).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn assert_reads_like_reference(path: &Path) {
    let ing = ingest_one(path);
    assert_eq!(ing.files[0].error, None, "{}", path.display());
    assert!(
        ing.rejects.is_empty(),
        "{}: {:?}",
        path.display(),
        ing.rejects
    );
    let got: Vec<_> = in_file_order(&ing).iter().map(|e| fields(e)).collect();
    assert_eq!(got, reference(), "{}", path.display());
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(if big_endian {
            &[0xFE, 0xFF]
        } else {
            &[0xFF, 0xFE]
        });
    }
    for unit in text.encode_utf16() {
        out.extend_from_slice(&if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

#[test]
fn every_encoding_reads_the_same_events() {
    let text = std::fs::read_to_string(fixture(PORTAL)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "utf8_bom.csv",
            [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        ),
        ("utf16le_bom.csv", utf16(&text, false, true)),
        ("utf16be_bom.csv", utf16(&text, true, true)),
        ("utf16le_nobom.csv", utf16(&text, false, false)),
        ("lf_only.csv", text.replace("\r\n", "\n").into_bytes()),
    ];
    for (name, bytes) in cases {
        let path = write(dir.path(), name, &bytes);
        assert_reads_like_reference(&path);
        let ing = ingest_one(&path);
        assert!(ing.files[0].encoding.is_some());
    }
    let ing = ingest_one(&dir.path().join("utf16le_nobom.csv"));
    assert_eq!(ing.files[0].encoding, Some("UTF-16LE without BOM"));
}

#[test]
fn semicolon_delimited_exports_are_read() {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(fixture(PORTAL))
        .unwrap();
    let mut out = Vec::new();
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        for r in rdr.records() {
            w.write_record(&r.unwrap()).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "excel_fr.csv", &out);
    assert_reads_like_reference(&path);
    let ing = ingest_one(&path);
    assert!(
        ing.files[0]
            .warnings
            .iter()
            .any(|w| w.contains("delimiter")),
        "{:?}",
        ing.files[0].warnings
    );
}

#[test]
fn zip_and_gzip_are_read_in_place_and_hashed() {
    let bytes = std::fs::read(fixture(PORTAL)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz_path = dir.path().join("signins.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&bytes).unwrap();
    gz.finish().unwrap();
    assert_reads_like_reference(&gz_path);

    let zip_path = dir.path().join("evidence.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("export/InteractiveSignIns_2024-03-04_2024-03-05.csv", opts)
        .unwrap();
    zip.write_all(&bytes).unwrap();
    zip.start_file("export/notes.md", opts).unwrap();
    zip.write_all(b"# analyst notes").unwrap();
    zip.finish().unwrap();
    assert_reads_like_reference(&zip_path);
    let ing = ingest_one(&zip_path);
    assert!(ing.files[0]
        .path
        .ends_with("evidence.zip!/export/InteractiveSignIns_2024-03-04_2024-03-05.csv"));
    assert_eq!(
        ing.skipped.len(),
        1,
        "the .md inside the archive is listed as skipped"
    );

    // The hash is of the file on disk, as `sha256sum` would print it.
    use sha2::Digest;
    let want = format!(
        "{:x}",
        sha2::Sha256::digest(std::fs::read(&zip_path).unwrap())
    );
    assert_eq!(ing.files[0].sha256.as_deref(), Some(want.as_str()));
    let gz_ing = ingest_one(&gz_path);
    let want = format!(
        "{:x}",
        sha2::Sha256::digest(std::fs::read(&gz_path).unwrap())
    );
    assert_eq!(gz_ing.files[0].sha256.as_deref(), Some(want.as_str()));
}

#[test]
fn exports_joined_end_to_end_count_the_repeats() {
    let bytes = std::fs::read(fixture(PORTAL)).unwrap();
    let mut joined = bytes.clone();
    joined.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
    joined.extend_from_slice(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "joined.csv", &joined);
    let ing = ingest_one(&path);
    let f = &ing.files[0];
    assert_eq!(f.rows, 9, "4 + repeated header + 4");
    assert_eq!(f.parsed, 4);
    assert_eq!(f.duplicates, 4);
    assert_eq!(f.rejected, 1);
    assert!(
        ing.rejects[0].reason.contains("repeated header"),
        "{:?}",
        ing.rejects
    );
    assert_eq!(ing.rejects[0].line, 6);
}

#[test]
fn overlapping_exports_are_counted_once() {
    let a = fixture("variants/audit/purview_export_new.csv");
    let b = fixture("variants/audit/mes_UAL-Combined.jsonl");
    let ing = ingest_paths(&[a, b]);
    assert_eq!(ing.events.len(), 7);
    assert_eq!(ing.files[0].parsed, 7);
    assert_eq!(ing.files[1].duplicates, 7);
    assert_eq!(ing.files[1].parsed, 0);
}

#[test]
fn multi_line_json_cells_are_parsed() {
    let ing = ingest_one(&fixture("variants/signin/SigninLogs_loganalytics.csv"));
    let first = in_file_order(&ing)[0];
    let methods: Vec<&str> = first.attr_all("auth_method").collect();
    assert_eq!(
        methods,
        ["Password", "Mobile app notification"],
        "from the pretty-printed AuthenticationDetails cell"
    );
    let graph = ingest_one(&fixture("variants/audit/graph_ual.csv"));
    assert_eq!(
        graph.events.len(),
        7,
        "pretty-printed auditData over many lines"
    );
}

fn trace_csv(dates: &[&str]) -> String {
    let mut s = String::from("\"Received\",\"SenderAddress\",\"RecipientAddress\",\"Subject\",\"Status\",\"MessageId\"\r\n");
    for (i, d) in dates.iter().enumerate() {
        s.push_str(&format!("\"{d}\",\"a@contoso.example\",\"b@contoso.example\",\"s{i}\",\"Delivered\",\"<m{i}@x>\"\r\n"));
    }
    s
}

fn times(ing: &breachline::ingest::Ingested) -> Vec<String> {
    in_file_order(ing)
        .iter()
        .map(|e: &&Event| field(e, "time"))
        .collect()
}

#[test]
fn day_first_files_are_recognised_from_their_own_dates() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "gb.csv",
        trace_csv(&["04/03/2024 09:25:10", "13/03/2024 10:00:00"]).as_bytes(),
    );
    let ing = ingest_one(&p);
    assert_eq!(
        times(&ing),
        ["2024-03-04T09:25:10Z", "2024-03-13T10:00:00Z"]
    );

    let p = write(
        dir.path(),
        "us.csv",
        trace_csv(&["3/4/2024 9:25:10 AM", "3/13/2024 10:00:00 AM"]).as_bytes(),
    );
    assert_eq!(
        times(&ingest_one(&p)),
        ["2024-03-04T09:25:10Z", "2024-03-13T10:00:00Z"]
    );

    let p = write(
        dir.path(),
        "ambiguous.csv",
        trace_csv(&["04/03/2024 09:25:10"]).as_bytes(),
    );
    let ing = ingest_one(&p);
    assert_eq!(times(&ing), ["2024-04-03T09:25:10Z"]);
    assert!(
        ing.files[0]
            .warnings
            .iter()
            .any(|w| w.contains("--date-order")),
        "{:?}",
        ing.files[0].warnings
    );
    let opts = breachline::ingest::IngestOptions {
        date_order: breachline::normalize::time::DateOrder::Dmy,
        ..Default::default()
    };
    let ing = breachline::ingest::ingest(&[p], &opts).unwrap();
    assert_eq!(times(&ing), ["2024-03-04T09:25:10Z"]);
}

#[test]
fn a_file_with_exactly_an_export_cap_of_rows_is_flagged_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let dates: Vec<String> = (0..5000)
        .map(|i| format!("3/{}/2024 {}:{:02}:00 PM", 1 + i % 28, 1 + i % 11, i % 60))
        .collect();
    let refs: Vec<&str> = dates.iter().map(String::as_str).collect();
    let capped = write(
        dir.path(),
        "MessageTraceV2.csv",
        trace_csv(&refs).as_bytes(),
    );
    let ing = ingest_one(&capped);
    assert_eq!(ing.files[0].rows, 5000);
    assert!(
        ing.files[0].warnings[0].starts_with("probably truncated: exactly 5000 rows"),
        "{:?}",
        ing.files[0].warnings
    );
    let fewer = write(dir.path(), "fewer.csv", trace_csv(&refs[..4999]).as_bytes());
    assert!(ingest_one(&fewer).files[0]
        .warnings
        .iter()
        .all(|w| !w.contains("truncated")));
}

#[test]
fn a_search_that_timed_out_is_reported() {
    let text = std::fs::read_to_string(fixture("variants/audit/mes_UAL-Combined.csv")).unwrap();
    // ResultIndex is the 6th column; Search-UnifiedAuditLog writes -1 after an internal timeout.
    let mut out = Vec::new();
    {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let mut w = csv::Writer::from_writer(&mut out);
        for (i, rec) in r.records().enumerate() {
            let mut rec: Vec<String> = rec.unwrap().iter().map(String::from).collect();
            if i > 0 {
                rec[5] = "-1".into();
            }
            w.write_record(&rec).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let ing = ingest_one(&write(dir.path(), "timeout.csv", &out));
    assert_eq!(ing.files[0].parsed, 7);
    assert!(
        ing.files[0]
            .warnings
            .iter()
            .any(|w| w.starts_with("7 rows with ResultIndex -1")),
        "{:?}",
        ing.files[0].warnings
    );
}
