//! The partitioned path of `analyze` (`--memory-budget`: events spilled to disk, the steps run a
//! group of accounts at a time) writes the case the in-memory path writes: every case file
//! byte for byte, but the command line that summary.json and report.html record.

mod common;
#[path = "scenarios/mod.rs"]
#[allow(dead_code)]
mod scenarios;

use std::path::{Path, PathBuf};

use common::breachline;

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// `analyze --out` on `evidence` with `extra` options: its exit code, whether it took the
/// partitioned path (it says so on stderr), and what it printed (the case folder's path as
/// `OUT`).
fn analyze(evidence: &[&Path], out: &Path, extra: &[&str]) -> (i32, bool, String) {
    let mut args = vec!["analyze"];
    args.extend(evidence.iter().map(|p| s(p)));
    args.extend(["--out", s(out)]);
    args.extend(extra);
    let run = breachline(&args);
    let code = run.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        matches!(code, 0 | 3),
        "breachline {}: {stderr}",
        args.join(" ")
    );
    (
        code,
        stderr.contains("a group of accounts at a time"),
        common::stdout(&run).replace(s(out), "OUT"),
    )
}

/// Bytes of the files under `paths`.
fn size_of(paths: &[&Path]) -> u64 {
    fn walk(p: &Path) -> u64 {
        if p.is_dir() {
            std::fs::read_dir(p)
                .map(|d| d.flatten().map(|e| walk(&e.path())).sum())
                .unwrap_or(0)
        } else {
            p.metadata().map(|m| m.len()).unwrap_or(0)
        }
    }
    paths.iter().map(|p| walk(p)).sum()
}

/// A case file with the command line left out (it differs by construction).
fn comparable(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match path.file_name().and_then(|n| n.to_str()) {
        Some("summary.json") => {
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
            v["tool"]
                .as_object_mut()
                .expect("summary.json has tool")
                .remove("command");
            serde_json::to_vec_pretty(&v).expect("JSON")
        }
        Some("report.html") => String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.contains("Command line:"))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
        _ => bytes,
    }
}

/// Runs analyze in memory and partitioned with a budget of one byte (every bucket of account
/// names a group of its own) and of half the evidence (a few buckets per group); every case
/// file must match.
fn same_case(evidence: &[&Path], extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let work = folder.path();
    let memory = work.join("memory");
    let (code, partitioned, printed) = analyze(evidence, &memory, extra);
    assert!(
        !partitioned,
        "the default budget is far above a test's evidence"
    );
    let half = (size_of(evidence) / 2).to_string();
    let budgets = ["1", half.as_str()];
    let mut names: Vec<String> = std::fs::read_dir(&memory)
        .expect("the case folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert!(names.contains(&"timeline.parquet".to_string()), "{names:?}");
    for budget in budgets {
        let spill = work.join(format!("spill-{budget}"));
        let out = work.join(format!("budget-{budget}"));
        let mut args = vec!["--memory-budget", budget, "--work-dir", s(&spill)];
        args.extend(extra);
        let (c, partitioned, p) = analyze(evidence, &out, &args);
        assert_eq!(
            (c, partitioned),
            (code, true),
            "exit code and path with a budget of {budget} bytes"
        );
        assert_eq!(p, printed, "the terminal output differs (budget {budget})");
        for name in &names {
            assert!(
                comparable(&memory.join(name)) == comparable(&out.join(name)),
                "{name} differs between the in-memory and the partitioned path (budget {budget}) on {evidence:?}"
            );
        }
        // The spill folder is gone once the run ends.
        let left: Vec<_> = std::fs::read_dir(&spill)
            .expect("the work folder exists")
            .collect();
        assert!(left.is_empty(), "spill files left behind: {left:?}");
    }
    (folder, memory)
}

#[test]
fn the_fixture_cases_come_out_the_same() {
    for dir in ["demo", "second_victim", "variants", "bad"] {
        same_case(&[&common::fixture(dir)], &[]);
    }
}

#[test]
fn options_that_narrow_or_name_come_out_the_same() {
    let demo = common::fixture("demo");
    same_case(
        &[&demo],
        &["--user", "Priya.Natarajan@northwindtraders.example"],
    );
    same_case(
        &[&demo],
        &[
            "--tenant-domain",
            "northwindtraders.example",
            "--timeline-csv",
            "all",
        ],
    );
}

#[test]
fn generated_tenants_come_out_the_same() {
    for scenario in [
        scenarios::Scenario::InternalPhishSecondAccount,
        scenarios::Scenario::SprayThenSuccess,
        scenarios::Scenario::AitmOfficeHome,
        scenarios::Scenario::AuditOnlySpray,
    ] {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let key = scenarios::generate(scenario, 2, dir.path()).expect("the scenario is written");
        let (_work, case) = same_case(&[dir.path()], &["--timeline-csv", "all"]);
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("summary.json")).expect("summary"))
                .expect("JSON");
        assert!(
            summary["counts"]["compromised"].as_u64().unwrap_or(0) >= key.compromised.len() as u64,
            "{scenario:?}: {summary}"
        );
    }
}

/// A message-trace export with `n` ambiguous day/month dates, then one that is day-first only.
fn day_first_trace(n: usize) -> String {
    let mut s = String::from(
        "\"Received\",\"SenderAddress\",\"RecipientAddress\",\"Subject\",\"Status\",\"MessageId\"\r\n",
    );
    for i in 0..n {
        let day = 1 + i % 12;
        let sender = ["ann", "bob", "kim", "zed"][i % 4];
        s.push_str(&format!(
            "\"{day:02}/03/2024 09:{:02}:{:02}\",\"{sender}@contoso.example\",\"r{}@fabrikam.example\",\"s{i}\",\"Delivered\",\"<m{i}@x>\"\r\n",
            i / 60 % 60,
            i % 60,
            i % 50
        ));
    }
    s.push_str("\"25/03/2024 10:00:00\",\"ann@contoso.example\",\"x@fabrikam.example\",\"last\",\"Delivered\",\"<last@x>\"\r\n");
    s
}

#[test]
fn a_large_file_is_settled_day_first_after_its_events_spilled_and_copies_count_as_duplicates() {
    // More rows than a file holds before spilling, so most events reach the disk before the
    // last row shows the dates are day-first; the same export twice under another name.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let text = day_first_trace(20_000);
    std::fs::write(dir.path().join("trace.csv"), &text).expect("written");
    std::fs::write(dir.path().join("trace_again.csv"), &text).expect("written");
    let (_work, case) = same_case(&[dir.path()], &["--timeline-csv", "all"]);
    let ingest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("ingest.json")).expect("ingest.json"))
            .expect("JSON");
    let files = ingest["files"].as_array().expect("files");
    assert_eq!(files[0]["parsed"], 20_001, "{}", files[0]);
    assert_eq!(files[1]["duplicates"], 20_001, "{}", files[1]);
    let timeline = std::fs::read_to_string(case.join("timeline.csv")).expect("timeline.csv");
    // 12/03 read day-first is 12 March; month-first it would be 3 December.
    assert!(
        timeline.contains("2024-03-12T09:"),
        "dates not read day-first"
    );
    assert!(!timeline.contains("2024-12-03T"), "a date read month-first");
}

#[test]
fn a_timeline_parquet_read_back_comes_out_the_same() {
    // The demo's timeline.parquet as evidence: its events cite the raw exports, which become
    // files of the run in both paths alike.
    let first = tempfile::tempdir().expect("a temporary folder");
    let out = first.path().join("case");
    analyze(&[&common::fixture("demo")], &out, &[]);
    let parquet = first.path().join("events.parquet");
    std::fs::copy(out.join("timeline.parquet"), &parquet).expect("copied");
    same_case(&[&parquet], &[]);
}

#[test]
fn one_thread_or_many_give_the_same_partitioned_case() {
    let work = tempfile::tempdir().expect("a temporary folder");
    let demo = common::fixture("demo");
    let one = work.path().join("one");
    let many = work.path().join("many");
    let budget = ["--memory-budget", "1", "--work-dir", s(work.path())];
    let mut args = vec![
        "-q",
        "--threads",
        "1",
        "analyze",
        s(&demo),
        "--out",
        s(&one),
    ];
    args.extend(budget);
    assert!(breachline(&args).status.success());
    let mut args = vec![
        "-q",
        "--threads",
        "4",
        "analyze",
        s(&demo),
        "--out",
        s(&many),
    ];
    args.extend(budget);
    assert!(breachline(&args).status.success());
    for name in [
        "findings.json",
        "blast_radius.json",
        "timeline.csv",
        "timeline.parquet",
        "ingest.json",
        "report.md",
    ] {
        assert!(
            std::fs::read(one.join(name)).ok() == std::fs::read(many.join(name)).ok(),
            "{name} differs between 1 and 4 threads"
        );
    }
}

#[test]
fn a_work_folder_that_cannot_be_made_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").expect("written");
    let demo = common::fixture("demo");
    let run = breachline(&[
        "-q",
        "analyze",
        s(&demo),
        "--memory-budget",
        "1",
        "--work-dir",
        s(&file.join("spill")),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("cannot make a spill folder in"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("still there"),
        "not a folder"
    );
}

#[test]
fn the_spill_folder_never_goes_into_the_evidence() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let evidence = dir.path().join("evidence");
    std::fs::create_dir(&evidence).expect("made");
    std::fs::write(evidence.join("trace.csv"), day_first_trace(10)).expect("written");
    let run = breachline(&[
        "-q",
        "analyze",
        s(&evidence),
        "--memory-budget",
        "1",
        "--work-dir",
        s(&evidence.join("tmp")),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("inside the evidence"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&evidence).expect("listed").collect();
    assert_eq!(left.len(), 1, "nothing written into the evidence: {left:?}");
}
