//! The Spark job (`spark/breachline_spark.py`, docs/spark.md) against `analyze`: the same
//! evidence (the demo case, and a generated tenant of over a million events) gives the same
//! findings, verdicts, blast radius, recipients and timeline rows through Spark `local[2]` as
//! through one `analyze` process, and a changed rules folder reaches the Spark run.
//!
//! Needs Java 17 and PySpark 4 importable by `python3` (`.ci/run` installs both). Without them
//! the tests say so and pass, except under CI (`CI` set), where they fail: a test that skips in
//! CI tests nothing.
//!
//! `cases_agree` (ignored) compares two case folders named by `BREACHLINE_SPARK_CASES="A B"`;
//! `spark/bench.sh` runs it on larger generated tenants, with a release build, and times both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `spark-submit` of the PySpark that `python3` imports, or None (the test is skipped) when
/// there is none; under CI a missing PySpark or Java fails the test instead.
fn spark_submit() -> Option<PathBuf> {
    let found = Command::new("python3")
        .args([
            "-c",
            "import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), 'bin', 'spark-submit'))",
        ])
        .output();
    let java = Command::new("java").arg("-version").output();
    let problem = match (&found, &java) {
        (Err(e), _) => Some(format!("python3 does not run: {e}")),
        (Ok(o), _) if !o.status.success() => Some(format!(
            "python3 cannot import pyspark: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        (_, Err(e)) => Some(format!("java does not run: {e}")),
        (_, Ok(o)) if !o.status.success() => Some("java -version failed".to_string()),
        _ => None,
    };
    if let Some(problem) = problem {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{problem}. The Spark tests need PySpark 4 and Java 17 (`python3 -m pip install \
                 'pyspark==4.0.*'`, Debian's openjdk-17-jre-headless); .ci/run installs them"
            );
        }
        eprintln!("SKIPPED: {problem} (the Spark tests need PySpark 4 and Java 17; CI fails here)");
        return None;
    }
    let out = found.ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        path.is_file(),
        "spark-submit not found at {}",
        path.display()
    );
    Some(path)
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_breachline")
}

/// `breachline analyze EVIDENCE... --out OUT EXTRA...`, run from the repository (evidence paths
/// are cited as given, so both runs name them alike).
fn analyze(evidence: &[&str], out: &Path, extra: &[&str]) {
    let started = Instant::now();
    let run = Command::new(bin())
        .current_dir(root())
        .args(["analyze", "-q"])
        .args(evidence)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("breachline runs");
    assert!(
        run.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!(
        "analyze {evidence:?}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The Spark job on EVIDENCE with `local[2]`, from the repository.
fn spark(submit: &Path, evidence: &[&str], out: &Path, extra: &[&str]) {
    let started = Instant::now();
    let run = spark_run(submit, evidence, out, extra);
    assert!(
        run.status.success(),
        "the Spark job failed ({}):\n{}",
        run.status,
        said(&run)
    );
    eprintln!(
        "Spark local[2] {evidence:?}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// What the job said: spark-submit passes the Python driver's standard error to its standard
/// output, and Spark's own log to standard error.
fn said(run: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    )
}

fn spark_run(submit: &Path, evidence: &[&str], out: &Path, extra: &[&str]) -> Output {
    Command::new(submit)
        .current_dir(root())
        .env("PYSPARK_PYTHON", "python3")
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .args([
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.shuffle.partitions=4",
        ])
        .arg(root().join("spark/breachline_spark.py"))
        .args(evidence)
        .arg("--breachline")
        .arg(bin())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("spark-submit runs")
}

fn json(dir: &Path, name: &str) -> Value {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A finding's full text, its sort key: serde_json's maps are ordered by key, so equal findings
/// serialize alike whatever order their fields came in.
fn key(v: &Value) -> String {
    v.to_string()
}

fn sorted_findings(dir: &Path) -> Vec<Value> {
    let mut all = match json(dir, "findings.json") {
        Value::Array(a) => a,
        other => panic!("findings.json is not an array: {other}"),
    };
    all.sort_by_key(key);
    all
}

/// summary.json without what legitimately differs between the two runs.
fn comparable_summary(dir: &Path) -> Value {
    let mut s = json(dir, "summary.json");
    // tool.command records the command line, which differs by construction (analyze against
    // the binary run by the Spark job's combine step).
    if let Some(tool) = s.get_mut("tool").and_then(Value::as_object_mut) {
        tool.remove("command");
    }
    s
}

/// Per account: verdict, score, window and attacker IPs.
fn verdicts(summary: &Value) -> BTreeMap<String, Value> {
    let users = summary["users"].as_array().expect("summary.json users[]");
    users
        .iter()
        .map(|u| {
            let name = u["user"].as_str().expect("users[].user").to_string();
            let v = serde_json::json!({
                "verdict": u["verdict"],
                "score": u["score"],
                "window": u["window"],
                "attacker_ips": u["attacker_ips"],
            });
            (name, v)
        })
        .collect()
}

/// recipients.csv: the header, then every row sorted.
fn recipients(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let path = dir.join("recipients.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = reader
        .headers()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect();
    rows.sort();
    (header, rows)
}

/// timeline.parquet (a file from analyze, a folder of parts from Spark) as one frame in a total
/// order: the rows of one event in several timelines differ by timeline_user, two exports'
/// copies of a record by origin_file.
fn timeline(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut parts: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        parts.sort();
        parts
    } else {
        vec![path.to_path_buf()]
    };
    assert!(!files.is_empty(), "no Parquet file in {}", path.display());
    let mut all: Option<DataFrame> = None;
    for f in files {
        let file = std::fs::File::open(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let df = ParquetReader::new(file)
            .finish()
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        match all.as_mut() {
            None => all = Some(df),
            Some(a) => {
                a.vstack_mut(&df)
                    .unwrap_or_else(|e| panic!("{}: another schema: {e}", f.display()));
            }
        }
    }
    let all = all.expect("at least one part");
    all.sort(
        [
            "timeline_user",
            "time_unix_ms",
            "origin_file",
            "origin_record",
            "origin_part",
        ],
        SortMultipleOptions::default(),
    )
    .expect("timeline sorts")
}

/// Everything the two case folders must agree on, compared after a total sort.
fn assert_cases_agree(a: &Path, b: &Path) {
    let (fa, fb) = (sorted_findings(a), sorted_findings(b));
    assert_eq!(fa.len(), fb.len(), "number of findings");
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x, y, "a finding differs");
    }
    // The documented order (time, rule, user) holds in both.
    let order = |dir: &Path| -> Vec<(String, String, String)> {
        let v = json(dir, "findings.json");
        v.as_array()
            .expect("findings array")
            .iter()
            .map(|f| {
                (
                    f["first"].as_str().unwrap_or("").to_string(),
                    f["rule_id"].as_str().unwrap_or("").to_string(),
                    f["user"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(order(a), order(b), "findings in the same order");

    let (sa, sb) = (comparable_summary(a), comparable_summary(b));
    assert_eq!(
        verdicts(&sa),
        verdicts(&sb),
        "verdicts, scores, windows, attacker IPs"
    );
    for field in [
        "counts",
        "users",
        "actors",
        "tenant_domains",
        "evidence",
        "geoip",
    ] {
        assert_eq!(sa[field], sb[field], "summary.json {field}");
    }
    assert_eq!(sa, sb, "summary.json (without tool.command)");

    assert_eq!(
        json(a, "blast_radius.json"),
        json(b, "blast_radius.json"),
        "blast_radius.json"
    );

    let (ha, ra) = recipients(a);
    let (hb, rb) = recipients(b);
    assert_eq!(ha, hb, "recipients.csv header");
    assert_eq!(ra.len(), rb.len(), "recipients.csv rows");
    assert_eq!(ra, rb, "recipients.csv rows (sorted)");

    let (ta, tb) = (
        timeline(&a.join("timeline.parquet")),
        timeline(&b.join("timeline.parquet")),
    );
    assert_eq!(
        ta.schema(),
        tb.schema(),
        "timeline.parquet columns and types"
    );
    assert!(ta.height() > 0, "timeline.parquet has rows");
    assert_eq!(ta.height(), tb.height(), "timeline.parquet rows");
    assert!(
        ta.equals_missing(&tb),
        "timeline.parquet rows differ (after a total sort)"
    );
}

#[test]
fn demo_through_spark_matches_analyze() {
    let Some(submit) = spark_submit() else { return };
    let tmp = tempfile::tempdir().expect("temp dir");
    let (a, b) = (tmp.path().join("analyze"), tmp.path().join("spark"));
    analyze(&["fixtures/demo"], &a, &[]);
    spark(&submit, &["fixtures/demo"], &b, &["--groups", "3"]);

    // The demo's story holds in both, so agreeing is not agreeing on nothing.
    let summary = json(&b, "summary.json");
    let compromised: Vec<&str> = summary["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["verdict"] == "compromised")
        .filter_map(|u| u["user"].as_str())
        .collect();
    assert_eq!(compromised, ["priya.natarajan@northwindtraders.example"]);
    assert!(sorted_findings(&b).len() > 10, "the demo has findings");
    assert_cases_agree(&a, &b);

    // The normalize step kept one ingest.json per evidence file under the work folder.
    let ingests = std::fs::read_dir(b.join("_work/normalized"))
        .expect("work folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().join("ingest.json").is_file())
        })
        .count();
    assert!(ingests >= 3, "one ingest.json per file, got {ingests}");
}

/// Copies the built-in rules and edits one rule's YAML text.
fn edit_rule(rules: &Path, id: &str, from: &str, to: &str) {
    let path = rules.join(format!("{id}.yaml"));
    let text = std::fs::read_to_string(&path).expect("rule file");
    assert!(text.contains(from), "{id}.yaml has {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("rule written");
}

fn findings_of<'a>(findings: &'a [Value], rule: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["rule_id"] == rule).collect()
}

fn score(summary: &Value, user: &str) -> i64 {
    summary["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["user"] == user)
        .and_then(|u| u["score"].as_i64())
        .unwrap_or_else(|| panic!("{user} has a score"))
}

#[test]
fn a_rules_folder_change_reaches_the_spark_run() {
    let Some(submit) = spark_submit() else { return };
    let tmp = tempfile::tempdir().expect("temp dir");
    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).expect("rules folder");
    for entry in std::fs::read_dir(root().join("rules")).expect("rules/") {
        let path = entry.expect("rules/ entry").path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, rules.join(name)).expect("rule copied");
        }
    }
    // A severity raised (medium, 10 points, to critical, 50) and a threshold no account reaches.
    edit_rule(
        &rules,
        "mass-send",
        "severity: medium",
        "severity: critical",
    );
    edit_rule(
        &rules,
        "mass-mail-read",
        "min_items:\n    default: 20",
        "min_items:\n    default: 100000",
    );
    let rules_arg = rules.display().to_string();
    let default = tmp.path().join("default");
    let (a, b) = (tmp.path().join("analyze"), tmp.path().join("spark"));
    analyze(&["fixtures/demo"], &default, &[]);
    analyze(&["fixtures/demo"], &a, &["--rules", &rules_arg]);
    // Another number of groups than the demo test: the answers do not depend on it.
    spark(
        &submit,
        &["fixtures/demo"],
        &b,
        &["--rules", &rules_arg, "--groups", "2"],
    );

    let victim = "priya.natarajan@northwindtraders.example";
    let (before, after) = (sorted_findings(&default), sorted_findings(&b));
    let sent_before = findings_of(&before, "mass-send");
    let sent_after = findings_of(&after, "mass-send");
    assert!(!sent_before.is_empty(), "mass-send fires on the demo");
    assert!(sent_before.iter().all(|f| f["severity"] == "medium"));
    assert_eq!(sent_before.len(), sent_after.len(), "mass-send still fires");
    assert!(
        sent_after.iter().all(|f| f["severity"] == "critical"),
        "the Spark run used the edited severity"
    );
    assert!(
        !findings_of(&before, "mass-mail-read").is_empty(),
        "mass-mail-read fires on the demo"
    );
    assert!(
        findings_of(&after, "mass-mail-read").is_empty(),
        "the Spark run used the edited threshold"
    );
    let (s_before, s_after) = (json(&default, "summary.json"), json(&b, "summary.json"));
    assert_ne!(
        score(&s_before, victim),
        score(&s_after, victim),
        "the victim's score moved"
    );
    assert_cases_agree(&a, &b);
}

#[test]
fn a_failing_breachline_call_fails_the_job_with_its_error() {
    let Some(submit) = spark_submit() else { return };
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("spark");
    // Every group step that takes rule options refuses a parameter of a rule that does not exist.
    let run = spark_run(
        &submit,
        &["fixtures/demo"],
        &out,
        &["--param", "no-such-rule.min=1", "--groups", "2"],
    );
    let stderr = said(&run);
    assert_eq!(run.status.code(), Some(1), "exit status; output:\n{stderr}");
    assert!(
        stderr.contains("stage peaks failed for 2 of 2 call(s)"),
        "names the step: {stderr}"
    );
    assert!(
        stderr.contains("no rule `no-such-rule`"),
        "shows breachline's error: {stderr}"
    );
    assert!(
        !out.join("findings.json").exists(),
        "no case file is written after a failed step"
    );
}

/// The generator (`benches/generate.rs`), which `cargo test` builds as an example beside the
/// binary.
fn generator() -> PathBuf {
    let path = Path::new(bin())
        .parent()
        .expect("the binary's folder")
        .join("examples")
        .join(format!("generate{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: `cargo test` builds it (or `cargo build --example generate`)",
        path.display()
    );
    path
}

/// A generated tenant of over a million events (sign-ins interactive and not, audit log, message
/// trace), with the demo case beside it so that there are findings, a compromised account and
/// recipients to agree on: Spark `local[2]` over four groups gives what `analyze` gives. The
/// generated accounts are ordinary users (the generator plants no attack), so this checks the
/// plumbing at scale (normalize shards, grouping, the merged address profile and peaks, the
/// combined timeline) more than detection, which the demo and tests/stages.rs cover.
#[test]
fn a_million_events_through_spark_match_analyze() {
    let Some(submit) = spark_submit() else { return };
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("tenant");
    let started = Instant::now();
    let made = Command::new(generator())
        .arg("synthetic")
        .arg(&data)
        .args(["--audit-rows", "250000", "--signin-rows", "350000"])
        .args(["--trace-rows", "450000", "--seed", "11"])
        .output()
        .expect("the generator runs");
    assert!(
        made.status.success(),
        "generate failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    eprintln!("generated: {:.1} s", started.elapsed().as_secs_f64());
    let data_arg = data.display().to_string();
    let evidence = [data_arg.as_str(), "fixtures/demo"];
    let (a, b) = (tmp.path().join("analyze"), tmp.path().join("spark"));
    analyze(&evidence, &a, &[]);
    spark(&submit, &evidence, &b, &["--groups", "4"]);

    let summary = json(&b, "summary.json");
    let events = summary["evidence"]["events"]
        .as_u64()
        .expect("evidence.events");
    assert!(
        events >= 1_000_000,
        "a million events or more, got {events}"
    );
    assert!(
        summary["users"]
            .as_array()
            .is_some_and(|u| u.iter().any(|u| u["verdict"] == "compromised")),
        "the demo's compromised account is found among the generated ones"
    );
    assert_cases_agree(&a, &b);
}

/// Compares two case folders given as `BREACHLINE_SPARK_CASES="ANALYZE_OUT SPARK_OUT"`
/// (spark/bench.sh, on a generated tenant).
#[test]
#[ignore = "compares two case folders named by BREACHLINE_SPARK_CASES (spark/bench.sh)"]
fn cases_agree() {
    let cases = std::env::var("BREACHLINE_SPARK_CASES")
        .expect("BREACHLINE_SPARK_CASES=\"ANALYZE_OUT SPARK_OUT\"");
    let dirs: Vec<&str> = cases.split_whitespace().collect();
    assert_eq!(dirs.len(), 2, "two case folders: {cases:?}");
    assert_cases_agree(Path::new(dirs[0]), Path::new(dirs[1]));
}
