//! `analyze --out DIR` end to end on the demo case: the whole pipeline against the answer key.

mod common;

use std::path::Path;

use common::{breachline, fixture};
use serde_json::Value;

fn answer_key() -> toml::Value {
    let text = std::fs::read_to_string(fixture("demo/answer_key.toml")).expect("answer key");
    toml::from_str(&text).expect("answer key parses")
}

fn s(v: &toml::Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

fn analyze(paths: &[&Path], out: &Path, extra: &[&str]) {
    let mut args = vec!["analyze", "-q"];
    let texts: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(texts.iter().map(String::as_str));
    let out_text = out.display().to_string();
    args.extend(["--out", out_text.as_str()]);
    args.extend(extra);
    let run = breachline(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

fn json(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("case file");
    serde_json::from_str(&text).expect("case JSON")
}

#[test]
fn demo_verdicts_window_ips_and_recipients_match_the_answer_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    analyze(&[&fixture("demo")], dir.path(), &[]);
    for f in breachline::report::case::CASE_FILES {
        assert!(dir.path().join(f).is_file(), "{f} written");
    }
    let key = answer_key();
    let summary = json(dir.path(), "summary.json");
    let users = summary["users"].as_array().expect("users");
    let compromised: Vec<&str> = users
        .iter()
        .filter(|u| u["verdict"] == "compromised")
        .filter_map(|u| u["user"].as_str())
        .collect();
    let want: Vec<String> = key["compromised"]
        .as_array()
        .expect("compromised")
        .iter()
        .map(|c| s(&c["user"]))
        .collect();
    assert_eq!(compromised, want);
    // No clean user of the answer key is called compromised or suspicious (the traveller and
    // the user who rejected two stray MFA prompts included).
    for clean in key["clean"]["users"].as_array().expect("clean users") {
        let name = s(clean);
        let verdict = users
            .iter()
            .find(|u| u["user"] == name.as_str())
            .map(|u| u["verdict"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| "clean".to_string());
        assert_eq!(verdict, "clean", "{name}");
    }
    let c = &key["compromised"][0];
    let victim = users
        .iter()
        .find(|u| u["verdict"] == "compromised")
        .expect("victim");
    assert_eq!(victim["window"]["start"], s(&c["window_start"]).as_str());
    assert_eq!(victim["window"]["end"], s(&c["window_end"]).as_str());
    assert_eq!(
        victim["window"]["attacker_events_after_containment"],
        c["post_containment"].as_array().expect("times").len()
    );
    let mut ips: Vec<&str> = victim["attacker_ips"]
        .as_array()
        .expect("ips")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ips.sort();
    let mut want_ips: Vec<String> = c["attacker_ips"]
        .as_array()
        .expect("ips")
        .iter()
        .map(s)
        .collect();
    want_ips.sort();
    assert_eq!(ips, want_ips);
    assert_eq!(
        victim["forwarding_targets"][0],
        s(&c["forwarding_targets"][0]).as_str()
    );

    // recipients.csv: exactly the answer key's recipients, each with who sent its mail; the
    // rows to notify first, then the forwarding target, then the user's own mail apart.
    let text = std::fs::read_to_string(dir.path().join("recipients.csv")).expect("recipients.csv");
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rows
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, breachline::report::case::RECIPIENT_COLUMNS);
    let records: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    type Row = (String, String, String, String, String, String);
    let mut got: Vec<Row> = records
        .iter()
        .filter(|r| &r[1] == "recipient")
        .map(|r| {
            (
                r[2].to_string(),
                r[4].to_string(),
                r[5].to_string(),
                r[6].to_string(),
                r[7].to_string(),
                r[11].to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<Row> = key["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .map(|r| {
            (
                s(&r["recipient"]),
                s(&r["internal"]),
                s(&r["first"]),
                s(&r["last"]),
                s(&r["count"]),
                s(&r["sent_by"]),
            )
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert!(
        want.iter().any(|w| w.5 == "user"),
        "the demo victim sends her own mail in the window"
    );
    let kinds: Vec<(&str, &str)> = records.iter().map(|r| (&r[1], &r[11])).collect();
    let apart = kinds
        .iter()
        .position(|k| *k == ("recipient", "user"))
        .expect("a row of the user's own mail");
    assert!(
        kinds[apart..].iter().all(|k| *k == ("recipient", "user")),
        "the user's own mail comes last, apart: {kinds:?}"
    );
    assert!(records
        .iter()
        .all(|r| &r[1] != "recipient" || !r[12].is_empty()));
    let addresses = |pick: &dyn Fn(&str) -> bool| {
        want.iter()
            .filter(|w| pick(&w.5))
            .map(|w| w.0.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64
    };
    assert_eq!(
        victim["recipients_to_notify"].as_u64(),
        Some(addresses(&|by| by != "user")),
        "summary.json counts only the recipients to notify"
    );
    for by in ["attacker", "unknown", "user"] {
        assert_eq!(
            victim["recipients_sent_by"][by].as_u64(),
            Some(addresses(&|b| b == by)),
            "{by}"
        );
    }
    assert!(records
        .iter()
        .any(|r| &r[1] == "forwarding-target" && &r[2] == "ap.remit@proton-mailbox.example"));
}

#[test]
fn a_second_victim_reached_by_internal_phishing_is_found_and_tied_to_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    analyze(
        &[&fixture("demo"), &fixture("second_victim")],
        dir.path(),
        &[],
    );
    let summary = json(dir.path(), "summary.json");
    let users = summary["users"].as_array().expect("users");
    let verdict = |name: &str| {
        users
            .iter()
            .find(|u| u["user"] == name)
            .and_then(|u| u["verdict"].as_str())
            .unwrap_or("clean")
            .to_string()
    };
    assert_eq!(
        verdict("marcus.bell@northwindtraders.example"),
        "compromised"
    );
    assert_eq!(
        verdict("priya.natarajan@northwindtraders.example"),
        "compromised"
    );
    let priya = users
        .iter()
        .find(|u| u["user"] == "priya.natarajan@northwindtraders.example")
        .expect("priya");
    assert_eq!(
        priya["accounts_reached"][0],
        "marcus.bell@northwindtraders.example"
    );
    let br = json(dir.path(), "blast_radius.json");
    let pivots = br["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["user"] == "priya.natarajan@northwindtraders.example")
        .map(|u| u["pivots"].clone())
        .expect("priya's pivots");
    let shared: Vec<(&str, &str)> = pivots
        .as_array()
        .expect("pivots")
        .iter()
        .filter(|p| p["user"] == "marcus.bell@northwindtraders.example")
        .map(|p| {
            (
                p["shared"].as_str().unwrap_or(""),
                p["key"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(shared.contains(&("ip", "188.166.14.77")), "{shared:?}");
    assert!(
        shared.contains(&("forwarding_address", "ap.remit@proton-mailbox.example")),
        "{shared:?}"
    );
}

#[test]
fn overlapping_exports_are_counted_once() {
    let alone = tempfile::tempdir().expect("temp dir");
    analyze(&[&fixture("demo")], alone.path(), &[]);
    // The same audit export again, as a second download of the same search.
    let extra = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        fixture("demo/audit/Purview_AuditLog_export_1.csv"),
        extra.path().join("Purview_AuditLog_again.csv"),
    )
    .expect("copy");
    let twice = tempfile::tempdir().expect("temp dir");
    analyze(&[&fixture("demo"), extra.path()], twice.path(), &[]);
    for name in ["recipients.csv", "blast_radius.json", "findings.json"] {
        let a = std::fs::read(alone.path().join(name)).expect("file");
        let b = std::fs::read(twice.path().join(name)).expect("file");
        assert!(a == b, "{name} differs when an export is read twice");
    }
    let ingest = json(twice.path(), "ingest.json");
    let again = ingest["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("Purview_AuditLog_again.csv"))
        })
        .expect("the copy is accounted for");
    assert_eq!(again["duplicates"], again["rows"]);
}

#[test]
fn the_case_folder_is_identical_on_one_or_many_threads() {
    let one = tempfile::tempdir().expect("temp dir");
    let many = tempfile::tempdir().expect("temp dir");
    analyze(&[&fixture("demo")], one.path(), &["--threads", "1"]);
    analyze(&[&fixture("demo")], many.path(), &["--threads", "3"]);
    for name in breachline::report::case::CASE_FILES {
        let (a, b) = (one.path().join(name), many.path().join(name));
        if *name == "summary.json" {
            // The command line differs (--threads); everything else must not.
            let strip = |p: &Path| {
                let mut v = json(p.parent().expect("dir"), name);
                if let Some(m) = v.as_object_mut() {
                    m.remove("tool");
                }
                v
            };
            assert_eq!(strip(&a), strip(&b));
        } else {
            assert!(
                std::fs::read(&a).expect("file") == std::fs::read(&b).expect("file"),
                "{name} differs"
            );
        }
    }
}
