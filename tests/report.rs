//! `report.html` of the demo case, read as text: self-contained, escaped, deterministic, and
//! its chart and timeline hold the attacker's events the answer key lists.

mod common;

use std::path::Path;

use common::{breachline, fixture};
use serde_json::Value;

fn analyze_into(out: &Path, evidence: &Path) -> String {
    let out_text = out.display().to_string();
    let ev = evidence.display().to_string();
    let run = breachline(&["analyze", "-q", &ev, "--out", &out_text]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(out.join("report.html")).expect("report.html written")
}

fn answer_key() -> toml::Value {
    let text = std::fs::read_to_string(fixture("demo/answer_key.toml")).expect("answer key");
    toml::from_str(&text).expect("answer key parses")
}

/// The JSON data block the page's script renders its tables from.
fn data_block(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"case-data\">";
    let start = html.find(open).expect("data block") + open.len();
    let end = start + html[start..].find("</script>").expect("data block ends");
    serde_json::from_str(&html[start..end]).expect("data block is JSON")
}

/// The `<svg>` element with this id.
fn svg<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("chart {id}"));
    let start = html[..at].rfind("<svg").expect("svg start");
    let end = at + html[at..].find("</svg>").expect("svg end");
    &html[start..end]
}

#[test]
fn demo_report_is_self_contained_and_charts_the_attacker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let html = analyze_into(dir.path(), &fixture("demo"));
    // Nothing is fetched: no remote URL in any src or href, no external stylesheet or script.
    for bad in [
        "src=\"http",
        "href=\"http",
        "<link",
        "url(http",
        "@import",
        "<script src",
    ] {
        assert!(
            !html.contains(bad),
            "report refers to something outside itself: {bad}"
        );
    }
    let key = answer_key();
    let victim = key["compromised"][0]["user"].as_str().expect("victim");
    let story = key["compromised"][0]["story"]
        .as_array()
        .expect("story")
        .len() as u64;
    assert!(html.contains(&format!(
        "{victim} <span class=\"tag bad\">compromised</span>"
    )));

    // The whole-period chart: attacker marks, and their counts add up to the attacker's events.
    let chart = svg(&html, "chart-0-all");
    let marks: Vec<u64> = chart
        .split("<rect class=\"ev atk\" data-n=\"")
        .skip(1)
        .filter_map(|m| m.split('"').next()?.parse().ok())
        .collect();
    assert!(!marks.is_empty(), "the chart has attacker marks");
    assert_eq!(
        marks.iter().sum::<u64>(),
        story,
        "every attacker event of the answer key is charted"
    );
    assert!(
        chart.contains("class=\"ev own\""),
        "and the user's own events"
    );

    // The timeline grid: one highlighted row per attacker event, at the answer key's times.
    let data = data_block(&html);
    let strings = data["S"].as_array().expect("strings");
    let t0 = data["T0"].as_i64().expect("origin");
    let grid = &data["grids"]["timeline-0"];
    let cols: Vec<&str> = grid["cols"]
        .as_array()
        .expect("cols")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let who = cols
        .iter()
        .position(|c| *c == "attacker")
        .expect("attacker column");
    let at = cols
        .iter()
        .position(|c| *c == "time (UTC)")
        .expect("time column");
    let unit = data["TU"].as_i64().expect("time unit");
    assert_eq!(
        grid["delta"].as_u64(),
        Some(at as u64),
        "timeline times are differences"
    );
    let mut offset = 0i64;
    let mut attacker_times = Vec::new();
    for r in grid["rows"].as_array().expect("rows") {
        offset += r[at].as_i64().expect("a time in every timeline row");
        if r[who].as_u64().and_then(|i| strings[i as usize].as_str()) != Some("") {
            attacker_times.push((t0 + offset * unit) / 1000);
        }
    }
    assert_eq!(attacker_times.len() as u64, story);
    let first = chrono::DateTime::parse_from_rfc3339(
        key["compromised"][0]["window_start"]
            .as_str()
            .expect("start"),
    )
    .expect("start parses");
    assert_eq!(attacker_times.first().copied(), Some(first.timestamp()));

    // Chain of custody: every input's SHA-256 is in the page.
    let ingest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("ingest.json")).expect("ingest.json"),
    )
    .expect("ingest JSON");
    for f in ingest["files"].as_array().expect("files") {
        let sha = f["sha256"].as_str().expect("sha256");
        assert!(
            strings.iter().any(|s| s == sha),
            "hash of {} in the report",
            f["path"]
        );
    }
}

#[test]
fn report_is_identical_for_one_thread_and_many() {
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    let demo = fixture("demo").display().to_string();
    for (dir, threads) in [(&a, "1"), (&b, "4")] {
        let out = dir.path().display().to_string();
        let run = breachline(&["analyze", "-q", "--threads", threads, &demo, "--out", &out]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let read = |d: &tempfile::TempDir| {
        let html = std::fs::read_to_string(d.path().join("report.html")).expect("report");
        // The command line differs (the output folder, the thread count); nothing else may.
        let cmd = html.find("<pre class=\"cmd\">").expect("command line");
        let end = cmd + html[cmd..].find("</pre>").expect("end of command line");
        format!("{}{}", &html[..cmd], &html[end..])
    };
    assert!(read(&a) == read(&b), "report.html differs between runs");
    let md = |d: &tempfile::TempDir| std::fs::read(d.path().join("report.md")).expect("report.md");
    assert!(md(&a) == md(&b), "report.md differs between runs");
    for f in breachline::report::case::REPORT_FILES {
        assert!(a.path().join(f).is_file(), "{f} written");
    }
}

#[test]
fn attacker_controlled_text_is_escaped() {
    // An inbox rule name and a subject chosen to break out of HTML and of the data block.
    let dir = tempfile::tempdir().expect("temp dir");
    let evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>";
    let csv = format!(
        "RecordId,CreationDate,RecordType,Operation,UserId,AuditData\n\
         1,2024-05-13T10:00:00Z,ExchangeAdmin,New-InboxRule,mallory@contoso.example,\"{{\"\"Id\"\":\"\"1\"\",\"\"CreationTime\"\":\"\"2024-05-13T10:00:00\"\",\"\"Operation\"\":\"\"New-InboxRule\"\",\"\"UserId\"\":\"\"mallory@contoso.example\"\",\"\"ClientIP\"\":\"\"203.0.113.9\"\",\"\"Parameters\"\":[{{\"\"Name\"\":\"\"Name\"\",\"\"Value\"\":\"\"{evil}\"\"}},{{\"\"Name\"\":\"\"DeleteMessage\"\",\"\"Value\"\":\"\"True\"\"}},{{\"\"Name\"\":\"\"MarkAsRead\"\",\"\"Value\"\":\"\"True\"\"}}],\"\"ObjectId\"\":\"\"{evil}\"\"}}\"\n"
    );
    let evidence = dir.path().join("evidence");
    std::fs::create_dir_all(&evidence).expect("evidence folder");
    std::fs::write(evidence.join("audit.csv"), csv).expect("write evidence");
    let html = analyze_into(&dir.path().join("case"), &evidence);
    // The rule name did reach the page (in the findings' summaries), only escaped.
    let data = data_block(&html);
    let strings = data["S"].as_array().expect("strings");
    assert!(
        strings
            .iter()
            .filter_map(Value::as_str)
            .any(|s| s.contains(evil)),
        "the rule name is in the report's data"
    );
    assert!(
        !html.contains(evil),
        "raw markup from the evidence reached the page"
    );
    assert!(!html.contains("<img"), "no element from the evidence");
    // Exactly the report's own two script elements (data and code).
    assert_eq!(html.matches("<script").count(), 2);
    assert_eq!(html.matches("</script>").count(), 2);
}

#[test]
fn demo_markdown_summary_has_verdict_window_ips_and_hashes() {
    let dir = tempfile::tempdir().expect("temp dir");
    analyze_into(dir.path(), &fixture("demo"));
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md written");
    let key = answer_key();
    let c = &key["compromised"][0];
    let victim = c["user"].as_str().expect("victim");
    assert!(
        md.contains(&format!("| {victim} | compromised |")),
        "verdict row"
    );
    let start = c["window_start"].as_str().expect("start");
    let end = c["window_end"].as_str().expect("end");
    assert!(md.contains(&format!("**{start}** to **{end}**")), "window");
    for ip in c["attacker_ips"].as_array().expect("ips") {
        let ip = ip.as_str().expect("ip");
        assert!(md.contains(&format!("| {ip} |")), "attacker IP {ip} listed");
    }
    let ingest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("ingest.json")).expect("ingest.json"),
    )
    .expect("ingest JSON");
    for f in ingest["files"].as_array().expect("files") {
        assert!(
            md.contains(f["sha256"].as_str().expect("sha256")),
            "hash of {}",
            f["path"]
        );
    }
    // Every row of a table has as many cell breaks as its header (escaped bars do not count).
    let mut width = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            width = None;
            continue;
        }
        let bars = line.replace("\\|", "").matches('|').count();
        match width {
            None => width = Some(bars),
            Some(w) => assert_eq!(bars, w, "table row with a broken cell: {line}"),
        }
    }
}

#[test]
fn fail_on_exits_4_exactly_when_a_finding_reaches_the_severity() {
    let dir = tempfile::tempdir().expect("temp dir");
    analyze_into(dir.path(), &fixture("demo"));
    let findings: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("findings.json")).expect("findings"),
    )
    .expect("findings JSON");
    let levels = ["informational", "low", "medium", "high", "critical"];
    let rank = |s: &str| levels.iter().position(|l| *l == s).expect("known severity");
    let worst = findings
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["severity"].as_str())
        .map(rank)
        .max()
        .expect("the demo has findings");
    let demo = fixture("demo").display().to_string();
    let mut seen = (false, false);
    for (i, level) in levels.iter().enumerate() {
        let run = breachline(&["analyze", "-q", &demo, "--fail-on", level]);
        let want = if i <= worst { 4 } else { 0 };
        assert_eq!(run.status.code(), Some(want), "--fail-on {level}");
        if want == 4 {
            seen.0 = true
        } else {
            seen.1 = true
        }
    }
    assert!(seen.0, "some level fails the run");
    // Errors stay 1, whatever --fail-on says.
    let run = breachline(&["analyze", "-q", "/nonexistent/evidence", "--fail-on", "low"]);
    assert_eq!(run.status.code(), Some(1));
}

#[test]
fn parquet_timeline_reads_back_with_the_csv_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().display().to_string();
    let demo = fixture("demo").display().to_string();
    // --parquet is accepted (and does nothing: the file is written by default).
    let run = breachline(&[
        "analyze",
        "-q",
        &demo,
        "--out",
        &out,
        "--parquet",
        "--timeline-csv",
        "all",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let path = dir.path().join("timeline.parquet");
    let (rows, cols) = breachline::report::parquet::read_columns(
        &path,
        &[
            "timeline_user",
            "time",
            "time_unix_ms",
            "source",
            "ip",
            "origin_line",
            "asn",
        ],
    )
    .expect("timeline.parquet reads back");
    // The same rows as timeline.csv, in the same order.
    let mut csv = csv::Reader::from_path(dir.path().join("timeline.csv")).expect("timeline.csv");
    let header = csv.headers().expect("header").clone();
    let at = |name: &str| header.iter().position(|h| h == name).expect("csv column");
    let records: Vec<csv::StringRecord> = csv.records().map(|r| r.expect("csv row")).collect();
    assert_eq!(rows, records.len());
    assert!(rows > 1000, "the demo timeline has thousands of rows");
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    for (i, r) in records.iter().enumerate().step_by(97) {
        assert_eq!(
            cols[0][i],
            opt(&r[at("timeline_user")]),
            "row {i} timeline_user"
        );
        assert_eq!(cols[1][i], opt(&r[at("time")]), "row {i} time");
        assert_eq!(cols[3][i], opt(&r[at("source")]), "row {i} source");
        assert_eq!(cols[4][i], opt(&r[at("ip")]), "row {i} ip");
        assert_eq!(
            cols[5][i],
            opt(&r[at("origin_line")]),
            "row {i} origin_line"
        );
        assert_eq!(cols[6][i], opt(&r[at("asn")]), "row {i} asn");
        let ms: i64 = cols[2][i]
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("time_unix_ms");
        let t = chrono::DateTime::parse_from_rfc3339(&r[at("time")]).expect("ISO time");
        assert_eq!(ms, t.timestamp_millis(), "row {i} time_unix_ms");
    }
    // Without --out there is nowhere to put it: a usage error.
    let run = breachline(&["analyze", "-q", &demo, "--parquet"]);
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn timeline_csv_holds_the_flagged_accounts_by_default() {
    let demo = fixture("demo").display().to_string();
    let users_in = |extra: &[&str]| {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("case").display().to_string();
        let mut args = vec!["analyze", "-q", &demo, "--out", &out];
        args.extend_from_slice(extra);
        let run = breachline(&args);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let case = dir.path().join("case");
        assert_eq!(
            case.join("timeline.parquet").exists(),
            !extra.contains(&"--no-parquet"),
            "timeline.parquet by default, not with --no-parquet"
        );
        let summary: serde_json::Value = serde_json::from_slice(
            &std::fs::read(case.join("summary.json")).expect("summary.json"),
        )
        .expect("json");
        let flagged: std::collections::BTreeSet<String> = summary["users"]
            .as_array()
            .expect("users")
            .iter()
            .filter(|u| u["verdict"] != "clean")
            .map(|u| u["user"].as_str().expect("user").to_string())
            .collect();
        let path = case.join("timeline.csv");
        if !path.exists() {
            return (flagged, None);
        }
        let mut csv = csv::Reader::from_path(path).expect("timeline.csv");
        let users: std::collections::BTreeSet<String> = csv
            .records()
            .map(|r| r.expect("row")[0].to_string())
            .collect();
        (flagged, Some(users))
    };
    let (flagged, users) = users_in(&[]);
    assert!(!flagged.is_empty(), "the demo has flagged accounts");
    assert_eq!(
        users.as_ref(),
        Some(&flagged),
        "only the flagged accounts' timelines"
    );
    let (_, all) = users_in(&["--timeline-csv", "all"]);
    assert!(all.expect("timeline.csv").len() > flagged.len());
    let (_, none) = users_in(&["--timeline-csv", "none", "--no-parquet"]);
    assert!(none.is_none(), "no timeline.csv with --timeline-csv none");
}

#[test]
fn a_case_folders_timeline_parquet_read_back_gives_the_same_findings_and_verdicts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let raw = dir.path().join("raw");
    let back = dir.path().join("back");
    let demo = fixture("demo").display().to_string();
    let run = breachline(&[
        "analyze",
        "-q",
        &demo,
        "--out",
        raw.to_str().expect("utf-8"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let parquet = raw.join("timeline.parquet");
    let run = breachline(&[
        "analyze",
        "-q",
        parquet.to_str().expect("utf-8"),
        "--out",
        back.to_str().expect("utf-8"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json = |d: &Path, name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(d.join(name)).expect(name)).expect("json")
    };
    // Findings: rule ids, users and evidence counts, and the evidence's citations of the raw
    // exports (file, line, record).
    let findings = |d: &Path| -> Vec<(String, String, usize, Vec<String>)> {
        json(d, "findings.json")
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                let ev = f["evidence"].as_array().expect("evidence");
                let cites = ev
                    .iter()
                    .map(|e| format!("{}:{}:{}", e["file"], e["line"], e["record"]))
                    .collect();
                (
                    f["rule_id"].as_str().expect("rule_id").to_string(),
                    f["user"].to_string(),
                    ev.len(),
                    cites,
                )
            })
            .collect()
    };
    let (a, b) = (findings(&raw), findings(&back));
    assert!(a.len() > 10, "the demo has findings");
    assert_eq!(a, b, "the same findings, citing the raw exports");
    assert!(b
        .iter()
        .flat_map(|f| &f.3)
        .all(|c| c.contains("fixtures/demo/")));
    let (sa, sb) = (json(&raw, "summary.json"), json(&back, "summary.json"));
    for key in ["users", "counts", "actors", "tenant_domains"] {
        assert_eq!(sa[key], sb[key], "summary.json {key}");
    }
    // The file report: the Parquet file's rows are its events, each read once; the raw exports
    // are listed as cited, not read.
    let ingest = json(&back, "ingest.json");
    let files = ingest["files"].as_array().expect("files");
    let pq = &files[0];
    assert_eq!(pq["variant"], "breachline-parquet");
    assert_eq!(pq["rows"], pq["parsed"]);
    assert_eq!(pq["duplicates"], 0);
    assert_eq!(pq["rejected"], 0);
    assert_eq!(pq["events"], sa["evidence"]["events"]);
    assert!(files[1..].iter().all(|f| f["status"] == "cited"));
    assert_eq!(sb["evidence"]["files"], 1);
    // `timeline` reads it too.
    let run = breachline(&[
        "timeline",
        "-q",
        parquet.to_str().expect("utf-8"),
        "--format",
        "csv",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let direct = breachline(&["timeline", "-q", &demo, "--format", "csv"]);
    assert_eq!(run.stdout, direct.stdout, "the same timeline");
}
