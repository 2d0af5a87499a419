//! The staged run (docs/stages.md) gives the case `analyze` gives: normalize in shards, split by
//! account into groups, profile, context, peaks, assess, pivots and combine, each a separate
//! `breachline` call, against one `analyze --out`. The verdict files must be byte-identical
//! (summary.json apart from the command line it records).

mod common;
#[path = "scenarios/mod.rs"]
#[allow(dead_code)]
mod scenarios;

use std::path::{Path, PathBuf};

use common::breachline;

fn run(args: &[&str]) {
    let out = breachline(args);
    assert!(
        out.status.success(),
        "breachline {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// Every step as its own process; returns the combined case folder.
fn staged(evidence: &Path, work: &Path, shards: usize, groups: usize, extra: &[&str]) -> PathBuf {
    let mut ingests = Vec::new();
    let mut events = Vec::new();
    for i in 0..shards {
        let dir = work.join(format!("norm{i}"));
        let shard = format!("{i}/{shards}");
        run(&[
            "-q",
            "normalize",
            s(evidence),
            "--shard",
            &shard,
            "--out",
            s(&dir),
        ]);
        ingests.push(dir.join("ingest.json"));
        events.push(dir.join("events.parquet"));
    }
    let gdir = work.join("groups");
    let n = groups.to_string();
    let mut args = vec!["stage", "group", "--groups", &n, "--out", s(&gdir)];
    args.extend(events.iter().map(|p| s(p)));
    run(&args);
    let mut group_files: Vec<PathBuf> = std::fs::read_dir(&gdir)
        .expect("groups written")
        .map(|e| e.expect("a group file").path())
        .collect();
    group_files.sort();
    assert!(!group_files.is_empty());
    let each = |step: &str, ctx: Option<&Path>, more: &[&str]| -> Vec<PathBuf> {
        group_files
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let out = work.join(format!("{step}-{i}.json"));
                let mut args = vec!["stage", step, s(g), "--out", s(&out)];
                if let Some(c) = ctx {
                    args.extend(["--context", s(c)]);
                }
                args.extend(more);
                run(&args);
                out
            })
            .collect()
    };
    let profiles = each("profile", None, &[]);
    let context = |name: &str, peaks: &[PathBuf]| -> PathBuf {
        let out = work.join(name);
        let mut args = vec!["stage", "context", "--out", s(&out)];
        args.extend(extra);
        args.extend(profiles.iter().map(|p| s(p)));
        if !peaks.is_empty() {
            args.push("--peaks");
            args.extend(peaks.iter().map(|p| s(p)));
        }
        run(&args);
        out
    };
    let first = context("context0.json", &[]);
    let peaks = each("peaks", Some(&first), &[]);
    let ctx = context("context.json", &peaks);
    let results = each("assess", Some(&ctx), &[]);
    // The pivots steps read the compromised accounts from one file, not every group's results.
    let attackers = work.join("attackers.json");
    let mut args = vec!["stage", "attackers", "--out", s(&attackers)];
    args.extend(results.iter().map(|p| s(p)));
    run(&args);
    let pivots = each("pivots", Some(&ctx), &["--results", s(&attackers)]);
    let case = work.join("case");
    let mut args = vec!["stage", "combine", "--context", s(&ctx), "--out", s(&case)];
    args.push("--results");
    args.extend(results.iter().map(|p| s(p)));
    args.push("--pivots");
    args.extend(pivots.iter().map(|p| s(p)));
    args.push("--ingest");
    args.extend(ingests.iter().map(|p| s(p)));
    run(&args);
    case
}

fn without_command(path: &Path) -> serde_json::Value {
    let text = std::fs::read(path).expect("summary.json written");
    let mut v: serde_json::Value = serde_json::from_slice(&text).expect("summary.json is JSON");
    // The command line differs by construction (analyze versus stage combine).
    v["tool"]
        .as_object_mut()
        .expect("summary.json has tool")
        .remove("command");
    v
}

fn same_case(evidence: &Path, shards: usize, groups: usize, extra: &[&str]) -> serde_json::Value {
    let work = tempfile::tempdir().expect("a temporary folder");
    let analyzed = work.path().join("analyze");
    let mut args = vec!["-q", "analyze", s(evidence), "--out", s(&analyzed)];
    args.extend(extra);
    let out = breachline(&args);
    assert!(
        matches!(out.status.code(), Some(0)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let staged = staged(evidence, work.path(), shards, groups, extra);
    for name in ["findings.json", "blast_radius.json", "recipients.csv"] {
        let a = std::fs::read(analyzed.join(name)).expect("analyze wrote it");
        let b = std::fs::read(staged.join(name)).expect("combine wrote it");
        assert!(
            a == b,
            "{name} differs between analyze and the staged run ({shards} shards, {groups} groups) on {}",
            evidence.display()
        );
    }
    let summary = without_command(&analyzed.join("summary.json"));
    assert_eq!(summary, without_command(&staged.join("summary.json")));
    summary
}

#[test]
fn staged_run_gives_the_demo_case() {
    let summary = same_case(&common::fixture("demo"), 2, 3, &[]);
    assert_eq!(summary["counts"]["compromised"], 1, "{summary}");
}

#[test]
fn staged_run_gives_the_same_verdicts_across_accounts() {
    // An internal phish that reaches a second account (accounts reached, pivots across
    // groups), a spray from one address at many accounts (the address profile merged from
    // every group), and a burst of inbox rules found in the audit log alone.
    for scenario in [
        scenarios::Scenario::InternalPhishSecondAccount,
        scenarios::Scenario::SprayThenSuccess,
        scenarios::Scenario::AuditOnlyRuleBurst,
    ] {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let key = scenarios::generate(scenario, 1, dir.path()).expect("the scenario is written");
        let summary = same_case(dir.path(), 3, 5, &[]);
        let compromised = summary["counts"]["compromised"].as_u64().unwrap_or(0);
        assert!(
            compromised >= key.compromised.len() as u64,
            "{scenario:?}: {summary}"
        );
    }
}

#[test]
fn staged_run_honours_given_tenant_domains() {
    let summary = same_case(
        &common::fixture("demo"),
        1,
        2,
        &["--tenant-domain", "northwindtraders.example"],
    );
    assert_eq!(
        summary["tenant_domains"],
        serde_json::json!(["northwindtraders.example"])
    );
}

#[test]
fn assess_refuses_a_context_without_peaks_when_a_rule_needs_them() {
    let work = tempfile::tempdir().expect("a temporary folder");
    let w = work.path();
    run(&[
        "-q",
        "normalize",
        s(&common::fixture("demo")),
        "--out",
        s(&w.join("n")),
    ]);
    run(&[
        "stage",
        "group",
        s(&w.join("n/events.parquet")),
        "--groups",
        "1",
        "--out",
        s(&w.join("g")),
    ]);
    let group = w.join("g/group-0000.parquet");
    run(&["stage", "profile", s(&group), "--out", s(&w.join("p.json"))]);
    run(&[
        "stage",
        "context",
        s(&w.join("p.json")),
        "--out",
        s(&w.join("c.json")),
    ]);
    let out = breachline(&[
        "stage",
        "assess",
        s(&group),
        "--context",
        s(&w.join("c.json")),
        "--out",
        s(&w.join("r.json")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stage peaks"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A file from another step is refused, naming the file.
    let out = breachline(&[
        "stage",
        "combine",
        "--context",
        s(&w.join("p.json")),
        "--results",
        s(&w.join("c.json")),
        "--ingest",
        s(&w.join("n/ingest.json")),
        "--out",
        s(&w.join("case")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("p.json"));
}
