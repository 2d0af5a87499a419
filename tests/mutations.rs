//! Property test: fixtures mutated at random (seeded, so every run checks the same inputs) never
//! make ingest panic, every row of every file is accounted for, and 1 or 4 threads give
//! byte-identical results (docs/reliability.md).

mod common;

use std::path::Path;

use breachline::ingest::{self, IngestOptions, Ingested};
use common::*;

const FIXTURES: &[&str] = &[
    "variants/signin/InteractiveSignIns_2024-03-04_2024-03-05.csv",
    "variants/signin/graph_signins.jsonl",
    "variants/signin/graph_signins_page.json",
    "variants/signin/SigninLogs_loganalytics.json",
    "variants/audit/purview_export_new.csv",
    "variants/audit/search_unifiedauditlog_ps51.csv",
    "variants/audit/auditdata_only.jsonl",
    "variants/audit/mes_UAL-Combined.json",
    "variants/messagetrace/Get-MessageTrace_v1.csv",
    "variants/messagetrace/historical_summary_report.csv",
];

const JUNK: &[&str] = &[
    "",
    "   ",
    "{",
    "}",
    "[",
    "]],,",
    "\"",
    "not json, not csv",
    "{\"a\":",
    "=cmd|' /C calc'!A0",
    "\u{1b}[2J\u{7}",
    "\u{feff}",
];

/// One random mutation of `bytes`.
fn mutate(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        bytes.extend_from_slice(b"{}\n");
        return;
    }
    match rng.u8(0..6) {
        // Flip a byte.
        0 => {
            let i = rng.usize(0..bytes.len());
            bytes[i] ^= 1 << rng.u8(0..8);
        }
        // Truncate.
        1 => {
            let at = rng.usize(0..bytes.len());
            bytes.truncate(at);
        }
        // Duplicate a line.
        2 | 3 => {
            let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
            let i = rng.usize(0..lines.len());
            let j = rng.usize(0..=lines.len());
            let mut out: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
            out.insert(j, lines[i].to_vec());
            *bytes = out.join(&b'\n');
        }
        // Insert a junk line.
        _ => {
            let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
            let j = rng.usize(0..=lines.len());
            let mut out: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
            out.insert(j, JUNK[rng.usize(0..JUNK.len())].as_bytes().to_vec());
            *bytes = out.join(&b'\n');
        }
    }
}

/// Everything ingest says, as text, for comparing runs.
fn render(ing: &Ingested) -> String {
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let timelines = breachline::timeline::build(&ing.events, &Default::default());
    let ips = breachline::enrich::Enrichment::default();
    let mut csv = Vec::new();
    breachline::report::csv::write_timeline(&mut csv, &timelines, &files, &ips).unwrap();
    let mut rejects = Vec::new();
    breachline::report::csv::write_all_rejects(&mut rejects, ing).unwrap();
    format!(
        "{}\n{}\n{}\n{}",
        serde_json::to_string(&ing.files).unwrap(),
        serde_json::to_string(&ing.coverage).unwrap(),
        String::from_utf8_lossy(&csv),
        String::from_utf8_lossy(&rejects)
    )
}

fn ingest_with(threads: usize, dir: &Path) -> Ingested {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| ingest::ingest(&[dir.to_path_buf()], &IngestOptions::default()).unwrap())
}

#[test]
fn mutated_fixtures_never_panic_account_every_row_and_do_not_depend_on_threads() {
    let started = std::time::Instant::now();
    let mut rng = fastrand::Rng::with_seed(12);
    let originals: Vec<(String, Vec<u8>)> = FIXTURES
        .iter()
        .map(|f| {
            let name = Path::new(f)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(fixture(f)).unwrap())
        })
        .collect();
    let mut files_checked = 0;
    // More rounds for a longer hunt: BREACHLINE_MUTATION_ROUNDS=500 cargo test --test mutations
    let rounds: usize = std::env::var("BREACHLINE_MUTATION_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    for round in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        for (i, (name, bytes)) in originals.iter().enumerate() {
            for copy in 0..3 {
                let mut b = bytes.clone();
                for _ in 0..rng.usize(1..=4) {
                    mutate(&mut rng, &mut b);
                }
                std::fs::write(dir.path().join(format!("{round}_{i}_{copy}_{name}")), &b).unwrap();
            }
        }
        let one = ingest_with(1, dir.path());
        let four = ingest_with(4, dir.path());
        for f in &one.files {
            assert_eq!(
                f.rows,
                f.parsed + f.duplicates + f.rejected,
                "round {round}: {}",
                f.path
            );
            if f.error.is_some() && f.variant.is_none() {
                assert_eq!(f.rows, 0, "{}", f.path);
            }
            files_checked += 1;
        }
        let total: u64 = one.files.iter().map(|f| f.rejected).sum();
        assert_eq!(total, one.rejects_total);
        assert!(
            render(&one) == render(&four),
            "round {round}: 1 and 4 threads differ"
        );
    }
    assert!(files_checked >= 150);
    eprintln!("{files_checked} mutated files in {:?}", started.elapsed());
}
