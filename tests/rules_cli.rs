//! `breachline rules` and `breachline analyze` as a detection engineer's CI and an investigator
//! use them.

mod common;

use common::*;

fn text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn rules_test_passes_on_builtins_demo_and_a_team_folder_with_a_closing_count() {
    let junit = tempfile::NamedTempFile::new().expect("temp file");
    let out = breachline(&[
        "rules",
        "test",
        fixture("demo").to_str().expect("utf-8 path"),
        fixture("rules/contoso").to_str().expect("utf-8 path"),
        "--junit",
        junit.path().to_str().expect("utf-8 path"),
    ]);
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{so}\n{se}");
    let last = so.lines().last().unwrap_or_default();
    let (passed, failed) = last
        .split_once(" passed, ")
        .and_then(|(p, f)| {
            Some((
                p.parse::<usize>().ok()?,
                f.strip_suffix(" failed")?.parse::<usize>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("closing line is `N passed, N failed`: {last:?}"));
    assert_eq!(failed, 0);
    assert!(passed > 100, "{passed}");
    assert!(
        so.contains("contoso-bank-details-changed-mail"),
        "the team's rule ran its tests"
    );
    assert!(
        so.contains("spray-then-success"),
        "the team's case folder ran"
    );
    let xml = std::fs::read_to_string(junit.path()).expect("junit written");
    assert!(
        xml.contains(&format!("tests=\"{passed}\"")) && xml.contains("failures=\"0\""),
        "{xml}"
    );
}

#[test]
fn rules_test_fails_on_a_case_whose_expectation_is_not_met() {
    let dir = tempfile::tempdir().expect("temp dir");
    let case = dir.path().join("case");
    std::fs::create_dir(&case).expect("mkdir");
    std::fs::copy(
        fixture("rules/contoso/cases/bank-details-mail/auditdata.jsonl"),
        case.join("auditdata.jsonl"),
    )
    .expect("copy");
    std::fs::write(
        case.join("expected.toml"),
        "[[must_fire]]\nrule = \"inbox-rule-suspicious\"\n",
    )
    .expect("write");
    let junit = dir.path().join("junit.xml");
    let out = breachline(&[
        "rules",
        "test",
        dir.path().to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
    ]);
    let (so, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{so}");
    assert!(
        so.lines()
            .last()
            .is_some_and(|l| l.ends_with(" passed, 1 failed")),
        "{so}"
    );
    assert!(
        so.contains("FAIL") && so.contains("inbox-rule-suspicious"),
        "{so}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("<failure"), "{xml}");
}

#[test]
fn a_malformed_rule_is_an_error_naming_file_line_and_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("typo.yaml"),
        "id: typo\ntitle: T\nseverity: high\ndescription: d\nwhy: w\nmatch:\n  operation: Send\nsumary: s\n",
    )
    .expect("write");
    let out = breachline(&[
        "rules",
        "list",
        "--rules",
        dir.path().to_str().expect("utf-8"),
    ]);
    let (_, se) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(
        se.contains("typo.yaml, line 8") && se.contains("sumary") && se.contains("expected"),
        "{se}"
    );
}

#[test]
fn rules_list_json_and_show() {
    let out = breachline(&["rules", "list", "--json"]);
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{se}");
    let v: serde_json::Value = serde_json::from_str(&so).expect("JSON");
    let rules = v.as_array().expect("array");
    assert_eq!(rules.len(), breachline::detect::BUILTIN.len());
    assert!(rules
        .iter()
        .all(|r| r["id"].is_string() && r["severity"].is_string() && r["why"].is_string()));
    let out = breachline(&["rules", "show", "impossible-travel"]);
    let (so, _) = text(&out);
    assert!(
        so.contains("max_speed_kmh = 900") && so.contains("passenger jet"),
        "{so}"
    );
    let out = breachline(&["rules", "show", "nope"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn analyze_json_on_the_demo_cites_evidence_and_spares_clean_users() {
    let demo = fixture("demo");
    let out = breachline(&[
        "--quiet",
        "analyze",
        demo.to_str().expect("utf-8"),
        "--json",
        "--min-severity",
        "medium",
    ]);
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{se}");
    let v: serde_json::Value = serde_json::from_str(&so).expect("JSON");
    let findings = v.as_array().expect("array");
    assert!(findings.len() >= 15, "{}", findings.len());
    for f in findings {
        assert_eq!(f["user"], "priya.natarajan@northwindtraders.example", "{f}");
        let ev = f["evidence"].as_array().expect("evidence");
        assert!(!ev.is_empty());
        for e in ev {
            assert!(
                e["file"]
                    .as_str()
                    .is_some_and(|p| p.contains("fixtures/demo/")),
                "{e}"
            );
            assert!(e["line"].as_u64().is_some_and(|l| l > 0));
            assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        }
        assert!(["medium", "high", "critical"].contains(&f["severity"].as_str().unwrap_or("")));
    }
    let travel = findings
        .iter()
        .find(|f| f["rule_id"] == "impossible-travel")
        .expect("impossible travel found");
    assert!(travel["details"]["speed_kmh"]
        .as_f64()
        .is_some_and(|s| s > 900.0));
    assert!(travel["details"]["precision"].is_string());
    // Disabling a rule removes its findings; a parameter override changes a threshold.
    let out = breachline(&[
        "--quiet",
        "analyze",
        demo.to_str().expect("utf-8"),
        "--json",
        "--disable",
        "impossible-travel",
        "--param",
        "mass-send.min_messages=50",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ids: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["rule_id"].as_str())
        .collect();
    assert!(
        !ids.contains(&"impossible-travel") && !ids.contains(&"mass-send"),
        "{ids:?}"
    );
    assert!(ids.contains(&"inbox-rule-suspicious"));
}

#[test]
fn timeline_evidence_only_shows_the_cited_events() {
    let demo = fixture("demo");
    let out = breachline(&[
        "--quiet",
        "timeline",
        demo.to_str().expect("utf-8"),
        "--evidence-only",
        "--format",
        "jsonl",
        "--user",
        "priya.natarajan@northwindtraders.example",
    ]);
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{se}");
    let rows: Vec<serde_json::Value> = so
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let ops: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["operation"].as_str())
        .collect();
    assert!(
        ops.contains(&"New-InboxRule") && ops.contains(&"Set-Mailbox"),
        "{ops:?}"
    );
    assert!(ops.contains(&"MoveToDeletedItems"), "{ops:?}");
    // The deletion of the sent mail is cited by two rules; with both disabled it is not shown.
    let fewer = breachline(&[
        "--quiet",
        "timeline",
        demo.to_str().expect("utf-8"),
        "--evidence-only",
        "--format",
        "jsonl",
        "--user",
        "priya.natarajan@northwindtraders.example",
        "--disable",
        "sent-items-deleted",
        "--disable",
        "owa-via-proxy",
    ]);
    assert!(!text(&fewer).0.contains("MoveToDeletedItems"));
    // Far fewer rows than the whole timeline: only what the findings cite.
    let all = breachline(&[
        "--quiet",
        "timeline",
        demo.to_str().expect("utf-8"),
        "--format",
        "jsonl",
        "--user",
        "priya.natarajan@northwindtraders.example",
    ]);
    assert!(rows.len() < text(&all).0.lines().count());
    let bad = breachline(&[
        "--quiet",
        "timeline",
        demo.to_str().expect("utf-8"),
        "--disable",
        "mass-send",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "--disable without --evidence-only is refused"
    );
}

#[test]
fn tenant_domains_given_on_analyze_decide_the_rules_external_tests_too() {
    let demo = fixture("demo").display().to_string();
    let forwarding = |extra: &[&str]| -> bool {
        let mut args = vec!["analyze", "-q", demo.as_str(), "--json"];
        args.extend(extra);
        let out = breachline(&args);
        let (so, se) = text(&out);
        assert!(out.status.success(), "{se}");
        let v: serde_json::Value = serde_json::from_str(&so).expect("analyze --json");
        v.as_array()
            .expect("a list of findings")
            .iter()
            .any(|f| f["rule_id"] == "mailbox-forwarding-external")
    };
    assert!(
        forwarding(&[]),
        "forwarding to proton-mailbox.example is external"
    );
    assert!(
        !forwarding(&[
            "--tenant-domain",
            "northwindtraders.example",
            "--tenant-domain",
            "proton-mailbox.example",
        ]),
        "with proton-mailbox.example declared as the tenant's, it is internal"
    );
}
