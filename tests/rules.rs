//! The built-in rules: they all load, each has a positive and a negative test, every test
//! passes, `BUILTIN` lists exactly the files of `rules/`, and the demo case gives the findings
//! its answer key expects.

use std::path::Path;

use breachline::detect::{self, rule::Expect, RuleSet, BUILTIN};
use breachline::ruletest;

#[test]
fn builtin_list_matches_the_rules_folder() {
    let mut on_disk: Vec<String> = std::fs::read_dir("rules")
        .expect("rules/ exists")
        .filter_map(|e| e.ok())
        .map(|e| format!("rules/{}", e.file_name().to_string_lossy()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(
        listed, on_disk,
        "detect::BUILTIN must list every file of rules/"
    );
    for (name, text) in BUILTIN {
        let disk = std::fs::read_to_string(name).expect("listed file exists");
        assert_eq!(&disk, text, "{name}");
    }
}

#[test]
fn every_builtin_rule_loads_and_has_positive_and_negative_tests() {
    let set = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.rules.len(), BUILTIN.len());
    for r in &set.rules {
        let kinds: Vec<Expect> = r
            .tests
            .iter()
            .map(|t| t.expectation().expect("checked on load"))
            .collect();
        assert!(
            kinds
                .iter()
                .any(|k| matches!(k, Expect::Fire | Expect::Count(1..))),
            "{}: no test where the rule fires",
            r.meta.id
        );
        assert!(
            kinds
                .iter()
                .any(|k| matches!(k, Expect::NoFire | Expect::Count(0))),
            "{}: no test where the rule does not fire",
            r.meta.id
        );
        for (name, p) in &r.meta.params {
            assert!(
                !p.reason.trim().is_empty(),
                "{}: parameter {name} has no reason",
                r.meta.id
            );
        }
    }
}

#[test]
fn every_builtin_rule_test_passes() {
    let set = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let results = ruletest::run_rule_tests(&set.rules);
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} rule tests failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(results.len() >= 2 * BUILTIN.len());
}

#[test]
fn demo_case_matches_its_expected_findings() {
    let set = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let results = ruletest::run_case(Path::new("fixtures/demo"), &set.rules);
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| format!("{}: {}", r.name, r.failure.as_deref().unwrap_or("")))
        .collect();
    assert!(failed.is_empty(), "demo case:\n{}", failed.join("\n"));
    assert!(
        results.len() >= 10,
        "expected.toml has the answer key's signals"
    );
}

#[test]
fn findings_are_identical_with_one_or_many_threads() {
    let ing = breachline::ingest::ingest(
        &[Path::new("fixtures/demo").to_path_buf()],
        &Default::default(),
    )
    .expect("demo reads");
    let enrichment = breachline::enrich::enrich(
        &ing.events,
        &breachline::enrich::GeoIp::embedded(),
        &breachline::enrich::NetworkConfig::builtin(),
    );
    let set = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let run = |n| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("pool");
        pool.install(|| detect::run(&ing.events, &enrichment, &set.rules, &files, &[]))
    };
    let one = serde_json::to_string(&run(1)).expect("serializes");
    let four = serde_json::to_string(&run(4)).expect("serializes");
    assert_eq!(one, four);
    assert!(one.len() > 100);
}

#[test]
fn a_team_rule_folder_overrides_and_disables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = BUILTIN
        .iter()
        .find(|(n, _)| n.ends_with("mass-send.yaml"))
        .map(|(_, t)| t.replace("default: 6", "default: 3"))
        .expect("mass-send is built in");
    std::fs::write(dir.path().join("mass-send.yaml"), text).expect("write");
    let set = RuleSet::load(
        &[dir.path().to_path_buf()],
        &["impossible-travel".into()],
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(set.get("impossible-travel").is_none());
    let r = set.get("mass-send").expect("overridden rule present");
    assert!(r.meta.file.contains(&dir.path().display().to_string()));
    let err =
        RuleSet::load(&[], &["no-such-rule".into()], &Default::default()).expect_err("unknown id");
    assert!(err.to_string().contains("no-such-rule"));
    std::fs::write(dir.path().join("bad.yaml"), "id: bad\ntitle: t\nseverity: low\ndescription: d\nwhy: w\nmatch:\n  operation: x\n  ip.netwrk: hosting\nsummary: s\n").expect("write");
    let err =
        RuleSet::load(&[dir.path().to_path_buf()], &[], &Default::default()).expect_err("bad rule");
    let msg = err.to_string();
    assert!(
        msg.contains("bad.yaml") && msg.contains("line 8") && msg.contains("ip.netwrk"),
        "{msg}"
    );
}

#[test]
#[ignore = "prints the demo findings for a person to read"]
fn print_demo_findings() {
    let ing = breachline::ingest::ingest(
        &[Path::new("fixtures/demo").to_path_buf()],
        &Default::default(),
    )
    .expect("demo reads");
    let enrichment = breachline::enrich::enrich(
        &ing.events,
        &breachline::enrich::GeoIp::embedded(),
        &breachline::enrich::NetworkConfig::builtin(),
    );
    let set = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    for f in detect::run(&ing.events, &enrichment, &set.rules, &files, &[]) {
        println!(
            "{} {} {:?} {} | {} | ev {} {:?}",
            f.first,
            f.rule_id,
            f.severity,
            f.user,
            f.summary,
            f.evidence.len(),
            f.ips
        );
    }
}

/// The findings one of a built-in rule's own test cases gives.
fn findings_of_test(rule_id: &str, test_name: &str) -> Vec<detect::Finding> {
    let set = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let rule = set.get(rule_id).expect("built-in rule");
    let test = rule
        .tests
        .iter()
        .find(|t| t.name == test_name)
        .expect("the rule has this test");
    let (events, ips) = ruletest::synthetic_events(
        rule,
        test,
        &breachline::enrich::GeoIp::embedded(),
        &breachline::enrich::NetworkConfig::builtin(),
    )
    .expect("test events build");
    detect::run(&events, &ips, std::slice::from_ref(rule), &[], &[])
}

#[test]
fn a_burst_of_hiding_inbox_rules_is_one_critical_finding_that_says_what_they_do() {
    let f = findings_of_test(
        "inbox-rule-suspicious",
        "three hiding rules within minutes are one critical finding",
    );
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.severity, detect::Severity::Critical);
    assert_eq!(f.evidence.len(), 3);
    assert_eq!(f.details["count"], 3);
    assert!(f.details.contains_key("escalated"));
    assert!(
        f.summary
            .starts_with("inbox rule \".\" (New-InboxRule): if from \"ceo@contoso.example\", moves to \"RSS Feeds\", marks it read"),
        "{}",
        f.summary
    );
    assert!(
        f.summary
            .contains("and 2 more like it until 2024-05-13T14:36:00Z"),
        "{}",
        f.summary
    );
    assert!(!f.summary.contains('?'), "{}", f.summary);
    // One rule alone stays high.
    let one = findings_of_test(
        "inbox-rule-suspicious",
        "a '..' rule moving payment mail to RSS fires",
    );
    assert_eq!(one[0].severity, detect::Severity::High);
    assert!(
        one[0]
            .summary
            .contains("if the subject or body has \"invoice;payment\""),
        "{}",
        one[0].summary
    );
}

/// A copy of the contoso spray case with `expected` as its expected.toml, run against the
/// built-in rules plus `extra_rule` (a rule file's text), if given.
fn spray_case(expected: &str, extra_rule: Option<&str>) -> Vec<ruletest::TestResult> {
    let dir = tempfile::tempdir().expect("temp dir");
    let case = dir.path().join("case");
    std::fs::create_dir(&case).expect("mkdir");
    std::fs::copy(
        "fixtures/rules/contoso/cases/spray-then-success/graph_signins.jsonl",
        case.join("graph_signins.jsonl"),
    )
    .expect("copy");
    std::fs::write(case.join("expected.toml"), expected).expect("write");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    if let Some(text) = extra_rule {
        std::fs::write(rules.join("extra.yaml"), text).expect("write");
    }
    let set = RuleSet::load(&[rules], &[], &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    ruletest::run_case(&case, &set.rules)
}

fn failures(results: &[ruletest::TestResult]) -> Vec<String> {
    results.iter().filter_map(|r| r.failure.clone()).collect()
}

#[test]
fn a_case_checks_count_times_and_evidence_rows_of_a_finding() {
    let good = r#"
[[must_fire]]
rule = "hosting-vpn-signin"
user = "alice.wong@contoso.example"
count = 1
first = "2024-03-05T02:17:00Z"
last = "2024-03-05T04:17:00+02:00"
evidence = [{ file = "graph_signins.jsonl", line = 10 }]

[[must_fire]]
rule = "password-spray-success"
first = "2024-03-05T02:10:00Z"
evidence = [{ file = "graph_signins.jsonl", line = 4 }, { file = "graph_signins.jsonl", line = 9 }]
"#;
    let results = spray_case(good, None);
    assert_eq!(results.len(), 2);
    assert!(failures(&results).is_empty(), "{:?}", failures(&results));

    // Each check can fail, and the failure says how the rule's findings miss it.
    for (check, miss) in [
        ("count = 2", "count 1, not 2"),
        (
            "first = \"2024-03-05T02:10:00Z\"",
            "first 2024-03-05T02:17:00Z, not 2024-03-05T02:10:00Z",
        ),
        (
            "last = \"2024-03-05T02:18:00Z\"",
            "last 2024-03-05T02:17:00Z, not 2024-03-05T02:18:00Z",
        ),
        (
            "evidence = [{ file = \"graph_signins.jsonl\", line = 4 }]",
            "does not cite graph_signins.jsonl line 4",
        ),
        (
            "evidence = [{ file = \"other.jsonl\", line = 10 }]",
            "does not cite other.jsonl line 10",
        ),
    ] {
        let results = spray_case(
            &format!("[[must_fire]]\nrule = \"hosting-vpn-signin\"\n{check}\n"),
            None,
        );
        let f = failures(&results);
        assert_eq!(f.len(), 1, "{check}");
        assert!(f[0].contains(miss), "{check}: {}", f[0]);
    }

    // Under must_not_fire the checks narrow what may not fire.
    let results = spray_case(
        "[[must_not_fire]]\nrule = \"hosting-vpn-signin\"\ncount = 2\n",
        None,
    );
    assert!(failures(&results).is_empty());
    let results = spray_case(
        "[[must_not_fire]]\nrule = \"hosting-vpn-signin\"\ncount = 1\n",
        None,
    );
    assert_eq!(failures(&results).len(), 1);

    // A time that does not parse is an error in expected.toml, not a silent pass.
    let results = spray_case(
        "[[must_not_fire]]\nrule = \"hosting-vpn-signin\"\nfirst = \"yesterday\"\n",
        None,
    );
    let f = failures(&results);
    assert_eq!(f.len(), 1);
    assert!(f[0].contains("not an ISO 8601 time"), "{}", f[0]);
}

#[test]
fn must_not_fire_counts_findings_of_every_severity() {
    let info = "id: any-success\ntitle: Any successful sign-in\nseverity: informational\n\
                description: d\nwhy: w\nmatch:\n  source: signin\n  outcome: success\n\
                summary: \"{count} {count|sign-in|sign-ins}\"\n";
    for (severity, extra) in [
        ("informational", info.to_string()),
        ("low", info.replace("informational", "low")),
    ] {
        let results = spray_case("[[must_not_fire]]\nrule = \"any-success\"\n", Some(&extra));
        assert_eq!(failures(&results).len(), 1, "{severity}");
        assert!(
            failures(&results)[0].contains("1 sign-in"),
            "{:?}",
            failures(&results)
        );
        // Any rule, no severity given: the finding still counts.
        let results = spray_case("[[must_not_fire]]\nuser = \"*\"\n", Some(&extra));
        assert_eq!(failures(&results).len(), 1, "{severity}");
    }
    let results = spray_case(
        "[[must_not_fire]]\nrule = \"any-success\"\nmin_severity = \"medium\"\n",
        Some(info),
    );
    assert!(failures(&results).is_empty());
}

#[test]
fn builtin_summaries_read_counts_naturally() {
    let set = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let ing = breachline::ingest::ingest(
        &[Path::new("fixtures/rules/contoso/cases/spray-then-success").to_path_buf()],
        &Default::default(),
    )
    .expect("case reads");
    let enrichment = breachline::enrich::enrich(
        &ing.events,
        &breachline::enrich::GeoIp::embedded(),
        &breachline::enrich::NetworkConfig::builtin(),
    );
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let findings = detect::run(&ing.events, &enrichment, &set.rules, &files, &[]);
    let summary = |id: &str| {
        findings
            .iter()
            .find(|f| f.rule_id == id)
            .map(|f| f.summary.clone())
            .unwrap_or_else(|| panic!("{id} fires"))
    };
    assert!(
        summary("hosting-vpn-signin").starts_with("1 sign-in from 188.166.14.77 "),
        "{}",
        summary("hosting-vpn-signin")
    );
    assert!(
        summary("password-spray-success").starts_with("6 failed passwords then a success"),
        "{}",
        summary("password-spray-success")
    );
    for f in &findings {
        assert!(!f.summary.contains('|'), "{}: {}", f.rule_id, f.summary);
    }
}
