//! Sigma rules (`--sigma`): every supported modifier and condition form fires on the events it
//! describes and not on others; rules breachline cannot evaluate are reported with the reason;
//! correlations work on per-user windows; the fixture rules fire on the demo's victim only.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use breachline::detect::sigma::{self, FieldMap};
use breachline::ruletest::run_rule_tests;
use common::*;

/// One Sigma rule written for the tests, with one event that must fire and one that must not
/// (both as maps of normalized fields, the way native rule tests write them).
struct Case {
    name: &'static str,
    logsource: &'static str,
    detection: &'static str,
    fire: &'static str,
    no_fire: &'static str,
}

fn rule_text(c: &Case) -> String {
    let (product, service) = c.logsource.split_once('/').expect("product/service");
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    format!(
        "title: {name}\nid: t-{name}\nlogsource:\n    product: {product}\n    service: {service}\ndetection:\n{det}level: medium\ntests:\n    - name: fires\n      expect: fire\n      events:\n          - {fire}\n    - name: does not fire\n      expect: no-fire\n      events:\n          - {no}\n",
        name = c.name,
        det = indent(c.detection),
        fire = c.fire,
        no = c.no_fire,
    )
}

const CASES: &[Case] = &[
    Case {
        name: "plain-equals-is-case-insensitive",
        logsource: "m365/audit",
        detection: "selection:\n    Operation: new-inboxrule\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: New-InboxRule}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Set-InboxRule}",
    },
    Case {
        name: "list-is-any-and-fields-are-all",
        logsource: "m365/audit",
        detection: "selection:\n    Operation: [Set-Mailbox, Set-InboxRule]\n    Workload: Exchange\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.workload: Exchange}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.workload: SharePoint}",
    },
    Case {
        name: "contains",
        logsource: "azure/signinlogs",
        detection: "selection:\n    UserAgent|contains: python-requests\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, user_agent: python-requests/2.31}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, user_agent: Mozilla/5.0}",
    },
    Case {
        name: "startswith",
        logsource: "m365/audit",
        detection: "selection:\n    Operation|startswith: Set-Mail\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Get-Mailbox}",
    },
    Case {
        name: "endswith",
        logsource: "azure/signinlogs",
        detection: "selection:\n    AppDisplayName|endswith: Home\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, application: OfficeHome}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, application: Home Office Portal}",
    },
    Case {
        name: "re",
        logsource: "m365/audit",
        detection: "selection:\n    Parameters|re: 'ForwardingSmtpAddress: smtp:[^@]+@proton'\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.param.ForwardingSmtpAddress: 'smtp:x@proton-mailbox.example'}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.param.ForwardingSmtpAddress: 'smtp:x@northwind.example'}",
    },
    Case {
        name: "cidr",
        logsource: "azure/signinlogs",
        detection: "selection:\n    IPAddress|cidr:\n        - 188.166.0.0/16\n        - 2001:db8::/32\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, ip: 188.166.14.77}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, ip: 73.185.204.110}",
    },
    Case {
        name: "contains-all",
        logsource: "m365/exchange",
        detection: "selection:\n    Parameters|contains|all: ['MarkAsRead: True', 'MoveToFolder']\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: New-InboxRule, attr.workload: Exchange, attr.param.MarkAsRead: 'True', attr.param.MoveToFolder: RSS}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: New-InboxRule, attr.workload: Exchange, attr.param.MarkAsRead: 'True'}",
    },
    Case {
        name: "windash",
        logsource: "azure/signinlogs",
        detection: "selection:\n    UserAgent|windash|contains: ' -enc '\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, user_agent: 'powershell /enc AAAA'}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, user_agent: 'powershell -nop'}",
    },
    Case {
        name: "numbers-compare-with-numbers-and-text",
        logsource: "azure/signinlogs",
        detection: "selection_code:\n    ResultType: [50126, '50053']\ncondition: selection_code",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, outcome: failure, error_code: '50053'}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, outcome: failure, error_code: '50074'}",
    },
    Case {
        name: "absent-error-code-is-zero",
        logsource: "azure/signinlogs",
        detection: "selection:\n    ResultType: 0\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, outcome: failure, error_code: '50126'}",
    },
    Case {
        name: "gt",
        logsource: "azure/signinlogs",
        detection: "selection:\n    AutonomousSystemNumber|gt: 20000\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, asn: 20473}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, asn: 7922}",
    },
    Case {
        name: "exists",
        logsource: "azure/signinlogs",
        detection: "selection:\n    RiskEventTypes|exists: true\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, attr.risk_event_types: anonymizedIPAddress}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin}",
    },
    Case {
        name: "bool-field",
        logsource: "azure/signinlogs",
        detection: "selection:\n    IsInteractive: false\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: noninteractive}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin}",
    },
    Case {
        name: "strip-suffix-of-entra-activities",
        logsource: "azure/auditlogs",
        detection: "selection:\n    OperationName: Add member to role\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Add member to role., attr.workload: AzureActiveDirectory}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Add member to role., attr.workload: Exchange}",
    },
    Case {
        name: "not",
        logsource: "m365/audit",
        detection: "selection:\n    Operation: Set-Mailbox\nfilter:\n    Parameters|contains: northwindtraders.example\ncondition: selection and not filter",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.param.ForwardingSmtpAddress: x@proton.example}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.param.ForwardingSmtpAddress: x@northwindtraders.example}",
    },
    Case {
        name: "parentheses-and-or",
        logsource: "azure/signinlogs",
        detection: "sel_ok:\n    ResultType: 0\nsel_do:\n    AutonomousSystemNumber: 14061\nsel_vultr:\n    AutonomousSystemNumber: 20473\ncondition: sel_ok and (sel_do or sel_vultr)",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, asn: 20473}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, asn: 20473, outcome: failure, error_code: '50126'}",
    },
    Case {
        name: "one-of-selection-star",
        logsource: "azure/signinlogs",
        detection: "selection_a:\n    ResultType: 50053\nselection_b:\n    ResultType: 50057\nfilter:\n    ResultType: 50053\ncondition: 1 of selection_*",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, outcome: failure, error_code: '50057'}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, outcome: failure, error_code: '50126'}",
    },
    Case {
        name: "all-of-selection-star",
        logsource: "azure/signinlogs",
        detection: "selection_app:\n    AppDisplayName: OfficeHome\nselection_nodevice:\n    DeviceDetail.deviceId: ''\ncondition: all of selection_*",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, application: OfficeHome}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, application: OfficeHome, device_id: d-1}",
    },
    Case {
        name: "all-of-them",
        logsource: "m365/audit",
        detection: "one:\n    Operation: Set-Mailbox\ntwo:\n    Workload: Exchange\ncondition: all of them",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.workload: Exchange}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.workload: AzureActiveDirectory}",
    },
    Case {
        name: "one-of-them",
        logsource: "m365/audit",
        detection: "one:\n    Operation: HardDelete\ntwo:\n    Operation: SoftDelete\ncondition: 1 of them",
        fire: "{time: 2024-05-13T14:00:00Z, operation: SoftDelete}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: MoveToDeletedItems}",
    },
    Case {
        name: "list-of-maps-is-any",
        logsource: "m365/audit",
        detection: "selection:\n    - Operation: Add-MailboxPermission\n    - Operation: Set-Mailbox\n      Parameters|contains: GrantSendOnBehalfTo\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.param.GrantSendOnBehalfTo: boss}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.param.Identity: boss}",
    },
    Case {
        name: "lte",
        logsource: "azure/signinlogs",
        detection: "selection:\n    AutonomousSystemNumber|lte: 1000\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, asn: 701}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, asn: 7922}",
    },
    Case {
        name: "cased",
        logsource: "azure/signinlogs",
        detection: "selection:\n    UserAgent|cased|contains: BAV2ROPC\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, user_agent: BAV2ROPC}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, user_agent: bav2ropc}",
    },
    Case {
        name: "fieldref",
        logsource: "m365/audit",
        detection: "selection:\n    Operation: MailItemsAccessed\n    UserId|fieldref: MailboxOwnerUPN\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, user: a@x.example, operation: MailItemsAccessed, attr.mailbox_owner: a@x.example}",
        no_fire: "{time: 2024-05-13T14:00:00Z, user: a@x.example, operation: MailItemsAccessed, attr.mailbox_owner: b@x.example}",
    },
    Case {
        name: "base64",
        logsource: "azure/signinlogs",
        detection: "selection:\n    UserAgent|base64|contains: admin\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, user_agent: 'x YWRtaW4= y'}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, user_agent: admin}",
    },
    Case {
        name: "keywords",
        logsource: "m365/audit",
        detection: "keywords:\n    - '*proton-mailbox*'\ncondition: keywords",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.param.ForwardingSmtpAddress: 'smtp:a@proton-mailbox.example'}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Set-Mailbox, attr.param.ForwardingSmtpAddress: 'smtp:a@fabrikam.example'}",
    },
    Case {
        name: "device-compliance-is-a-bool",
        logsource: "azure/signinlogs",
        detection: "selection:\n    DeviceDetail.isCompliant: false\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, source: signin, attr.device_compliant: 'false'}",
        no_fire: "{time: 2024-05-13T14:00:00Z, source: signin, attr.device_compliant: 'true'}",
    },
    Case {
        name: "url-click-action-is-a-number",
        logsource: "m365/audit",
        detection: "selection:\n    Operation: TIUrlClickData\n    UrlClickAction: [4, 5]\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: TIUrlClickData, attr.url_click_action: '4'}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: TIUrlClickData, attr.url_click_action: '2'}",
    },
    Case {
        name: "payload-is-the-cmdlet-and-its-parameters",
        logsource: "m365/threat_management",
        detection: "selection:\n    eventSource: SecurityComplianceCenter\n    Payload|contains|all: [New-ComplianceSearchAction, Export, pst]\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: New-ComplianceSearchAction, attr.workload: SecurityComplianceCenter, attr.param.Export: 'True', attr.param.ExchangeArchiveFormat: PerUserPst}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: New-ComplianceSearchAction, attr.workload: SecurityComplianceCenter, attr.param.Purge: 'True'}",
    },
    Case {
        name: "exchange-status-is-the-outcome",
        logsource: "m365/exchange",
        detection: "selection:\n    eventName: Add-FederatedDomain\n    status: success\ncondition: selection",
        fire: "{time: 2024-05-13T14:00:00Z, operation: Add-FederatedDomain, attr.workload: Exchange, outcome: success}",
        no_fire: "{time: 2024-05-13T14:00:00Z, operation: Add-FederatedDomain, attr.workload: Exchange, outcome: failure}",
    },
];

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write rule");
}

fn builtin_map() -> FieldMap {
    FieldMap::load(&[] as &[&str]).expect("built-in mapping")
}

#[test]
fn every_modifier_and_condition_form_fires_on_its_event_and_not_on_the_other() {
    let dir = tempfile::tempdir().expect("temp dir");
    for c in CASES {
        write(dir.path(), &format!("{}.yml", c.name), &rule_text(c));
    }
    let loaded = sigma::load(&[dir.path().to_path_buf()], &builtin_map()).expect("loads");
    assert!(loaded.skipped.is_empty(), "{:#?}", loaded.skipped);
    assert_eq!(loaded.rules.len(), CASES.len());
    let results = run_rule_tests(&loaded.rules);
    assert_eq!(
        results.len(),
        2 * CASES.len(),
        "a fire and a no-fire per rule"
    );
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.to_string())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn a_rule_without_its_logsource_field_or_modifier_is_skipped_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let head = |title: &str, logsource: &str| {
        format!("title: {title}\nid: s-{title}\nlogsource:\n{logsource}\ndetection:\n")
    };
    let signin = "    product: azure\n    service: signinlogs";
    write(
        dir.path(),
        "a_activity.yml",
        &format!(
            "{}    selection:\n        operationName: x\n    condition: selection\n",
            head("activity", "    product: azure\n    service: activitylogs")
        ),
    );
    write(dir.path(), "b_unmapped.yml", &format!("{}    selection:\n        NetworkLocationDetails: '[]'\n        ResultType: 0\n    condition: selection\n", head("unmapped", signin)));
    write(
        dir.path(),
        "c_expand.yml",
        &format!(
            "{}    selection:\n        UserAgent|expand: '%agents%'\n    condition: selection\n",
            head("expand", signin)
        ),
    );
    write(dir.path(), "d_aggregation.yml", &format!("{}    selection:\n        ResultType: 50126\n    condition: selection | count(UserPrincipalName) by IPAddress > 3\n", head("aggregation", signin)));
    write(
        dir.path(),
        "e_badyaml.yml",
        "title: bad\ndetection:\n  selection: [\n",
    );
    write(
        dir.path(),
        "f_badcondition.yml",
        &format!(
            "{}    selection:\n        ResultType: 0\n    condition: selection and missing_one\n",
            head("badcondition", signin)
        ),
    );
    write(
        dir.path(),
        "f2_reflag.yml",
        &format!(
            "{}    selection:\n        UserAgent|re|i: '^python'\n    condition: selection\n",
            head("reflag", signin)
        ),
    );
    write(
        dir.path(),
        "g_good.yml",
        &format!(
            "{}    selection:\n        ResultType: 50126\n    condition: selection\n",
            head("good", signin)
        ),
    );
    write(dir.path(), "h_corr_ip.yml", "title: spray\nid: s-spray\ncorrelation:\n    type: value_count\n    rules: [s-good]\n    group-by: [IPAddress]\n    timespan: 1h\n    condition: {field: UserPrincipalName, gte: 10}\n");
    write(dir.path(), "i_corr_lt.yml", "title: few\nid: s-few\ncorrelation:\n    type: event_count\n    rules: [s-good]\n    group-by: [UserPrincipalName]\n    timespan: 1h\n    condition: {lt: 2}\n");
    write(dir.path(), "j_corr_missing.yml", "title: orphan\nid: s-orphan\ncorrelation:\n    type: event_count\n    rules: [s-unmapped]\n    group-by: [UserPrincipalName]\n    timespan: 1h\n    condition: {gte: 2}\n");
    write(dir.path(), "k_notes.txt", "not a rule file, not read");
    let loaded = sigma::load(&[dir.path().to_path_buf()], &builtin_map()).expect("never aborts");
    let ids: Vec<&str> = loaded.rules.iter().map(|r| r.meta.id.as_str()).collect();
    assert_eq!(ids, ["s-good"], "the good rule loads beside the bad ones");
    let reason = |file: &str| -> String {
        let hits: Vec<&sigma::Skipped> = loaded
            .skipped
            .iter()
            .filter(|s| s.file.ends_with(file))
            .collect();
        assert_eq!(hits.len(), 1, "{file} reported once: {:#?}", loaded.skipped);
        hits[0].reason.clone()
    };
    assert!(reason("a_activity.yml")
        .contains("logsource azure/activitylogs is not one breachline reads"));
    assert!(reason("b_unmapped.yml").contains("`NetworkLocationDetails`"));
    assert!(
        !reason("b_unmapped.yml").contains("`ResultType`"),
        "mapped fields are not listed"
    );
    assert!(reason("c_expand.yml").contains("modifier `expand`"));
    assert!(reason("d_aggregation.yml").contains("deprecated aggregation"));
    assert!(reason("e_badyaml.yml").contains("not valid YAML"));
    assert!(reason("f_badcondition.yml").contains("sigma-rust cannot read the rule"));
    assert!(reason("h_corr_ip.yml").contains("has no user field"));
    assert!(reason("i_corr_lt.yml").contains("condition `lt` is not supported"));
    assert!(
        reason("j_corr_missing.yml").contains("references rule `s-unmapped`, which is not loaded")
    );
    assert!(reason("f2_reflag.yml").contains("write (?i)"));
    assert_eq!(loaded.skipped.len(), 10);
    // The base rule of the two skipped correlations still produces findings of its own.
    assert_eq!(loaded.rules[0].meta.kind, "sigma");
    // A path that does not exist is an error, not an empty rule set.
    let err = sigma::load(&[dir.path().join("nope")], &builtin_map()).expect_err("typo");
    assert!(err.contains("no such file or folder"), "{err}");
}

#[test]
fn correlation_base_rules_feed_the_correlation_unless_generate_is_true() {
    let loaded = sigma::load(&[fixture("sigma/rules")], &builtin_map()).expect("loads");
    assert!(loaded.skipped.is_empty(), "{:#?}", loaded.skipped);
    let got: BTreeSet<&str> = loaded
        .rules
        .iter()
        .map(|r| &r.meta.id[r.meta.id.len() - 2..])
        .collect();
    // 06 (send), 08 (sign-in success), 10 and 11 (rule, forwarding) only feed correlations;
    // 03 and 05 feed one with `generate: true`, so they keep their own findings.
    let want = BTreeSet::from(["01", "02", "03", "04", "05", "07", "09", "12", "13"]);
    assert_eq!(got, want);
    let kinds: BTreeSet<&str> = loaded.rules.iter().map(|r| r.meta.kind).collect();
    for k in [
        "sigma",
        "sigma event_count",
        "sigma value_count",
        "sigma temporal",
        "sigma temporal_ordered",
    ] {
        assert!(kinds.contains(k), "{k} in {kinds:?}");
    }
}

#[test]
fn fixture_sigma_rules_fire_on_the_demo_victim_only_and_carry_their_sigma_metadata() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().display().to_string();
    let sigma_dir = fixture("sigma/rules").display().to_string();
    let demo = fixture("demo").display().to_string();
    let run = breachline(&["analyze", "-q", &demo, "--out", &out, "--sigma", &sigma_dir]);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("sigma: 9 rules loaded, 0 skipped"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(dir.path().join("findings.json")).expect("findings");
    let findings: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let findings = findings
        .as_array()
        .or_else(|| findings["findings"].as_array())
        .expect("a list of findings");
    let sigma: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["details"]["sigma"].is_object())
        .collect();
    let victim = "priya.natarajan@northwindtraders.example";
    let users: BTreeSet<&str> = sigma.iter().filter_map(|f| f["user"].as_str()).collect();
    assert_eq!(users, BTreeSet::from([victim]));
    let fired: BTreeSet<String> = sigma
        .iter()
        .filter_map(|f| f["rule_id"].as_str())
        .map(|id| id[id.len() - 2..].to_string())
        .collect();
    let want: BTreeSet<String> = ["01", "02", "03", "04", "05", "07", "12", "13"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        fired, want,
        "value_count (09) needs three ASNs in an hour: the demo has none"
    );
    let hosting = sigma
        .iter()
        .find(|f| f["rule_id"] == "3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a03")
        .expect("hosting sign-in finding");
    assert_eq!(hosting["first"], "2024-05-13T14:19:37Z");
    assert_eq!(hosting["ips"], serde_json::json!(["188.166.14.77"]));
    assert_eq!(hosting["mitre"], serde_json::json!(["T1078.004"]));
    assert_eq!(hosting["details"]["sigma"]["level"], "medium");
    assert_eq!(hosting["details"]["sigma"]["logsource"], "azure/signinlogs");
    assert_eq!(
        hosting["details"]["sigma"]["tags"],
        serde_json::json!(["attack.initial-access", "attack.t1078.004"])
    );
    let ev = &hosting["evidence"][0];
    assert!(ev["file"]
        .as_str()
        .unwrap_or("")
        .ends_with("InteractiveSignIns_2024-05-06_2024-05-20.csv"));
    assert!(ev["line"].as_u64().unwrap_or(0) > 1);
    let burst = sigma
        .iter()
        .find(|f| f["rule_id"] == "3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a07")
        .expect("send burst");
    assert!(burst["evidence"].as_array().map_or(0, |e| e.len()) >= 8);
    assert!(burst["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| e["operation"] == "Send"));
    // Sigma findings join the verdicts; the clean users stay clean.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("summary"),
    )
    .expect("JSON");
    let compromised: Vec<&str> = summary["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["verdict"] == "compromised")
        .filter_map(|u| u["user"].as_str())
        .collect();
    assert_eq!(compromised, [victim]);
}

#[test]
fn rules_test_runs_sigma_tests_and_disable_takes_sigma_ids() {
    let sigma_dir = fixture("sigma/rules").display().to_string();
    let run = breachline(&["rules", "test", "--sigma", &sigma_dir]);
    let so = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(run.status.code(), Some(0), "{so}");
    for t in [
        "3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a12 / forwarding then rule does not",
        "3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a09 / three ASNs in forty minutes fire",
        "3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a01 / the same record from another workload does not",
    ] {
        assert!(so.contains(&format!("ok    {t}")), "{t}\n{so}");
    }
    // A Sigma rule whose test is wrong fails the run, like a native one.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text =
        std::fs::read_to_string(fixture("sigma/rules/signin_hosting_network.yml")).expect("rule");
    text = text.replace(
        "name: a failed sign-in does not\n      expect: no-fire",
        "name: a failed sign-in does not\n      expect: fire",
    );
    write(dir.path(), "broken.yml", &text);
    let run = breachline(&[
        "rules",
        "test",
        "--sigma",
        &dir.path().display().to_string(),
    ]);
    let so = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(run.status.code(), Some(1), "{so}");
    assert!(
        so.contains("FAIL  3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a03 / a failed sign-in does not"),
        "{so}"
    );
    // --disable names a Sigma rule by its id.
    let run = breachline(&[
        "rules",
        "list",
        "--json",
        "--sigma",
        &sigma_dir,
        "--disable",
        "3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a04",
    ]);
    let so = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{so}");
    assert!(so.contains("3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a03"));
    assert!(!so.contains("3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a04"));
    assert!(
        so.contains("\"logsource\": \"azure/signinlogs\""),
        "rules list --json shows the Sigma metadata"
    );
}

#[test]
fn timeline_evidence_only_takes_sigma_rules() {
    let sigma_dir = fixture("sigma/rules").display().to_string();
    let demo = fixture("demo").display().to_string();
    let plain = breachline(&[
        "timeline",
        &demo,
        "--evidence-only",
        "--user",
        "priya.natarajan@northwindtraders.example",
        "--format",
        "csv",
    ]);
    let with = breachline(&[
        "timeline",
        &demo,
        "--evidence-only",
        "--sigma",
        &sigma_dir,
        "--user",
        "priya.natarajan@northwindtraders.example",
        "--format",
        "csv",
    ]);
    let without = breachline(&["timeline", &demo, "--sigma", &sigma_dir]);
    assert!(
        !without.status.success(),
        "--sigma without --evidence-only is refused"
    );
    assert!(String::from_utf8_lossy(&without.stderr).contains("--evidence-only"));
    let (a, b) = (stdout(&plain), stdout(&with));
    assert!(
        b.lines().count() >= a.lines().count(),
        "Sigma evidence only adds rows"
    );
    assert!(b.contains("Set-Mailbox") && b.contains("New-InboxRule"));
}

#[test]
fn user_field_mappings_make_a_skipped_rule_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "r.yml",
        "title: named locations\nid: u-1\nlogsource:\n    product: azure\n    service: signinlogs\ndetection:\n    selection:\n        Browser: Edge\n    condition: selection\n",
    );
    let map = builtin_map();
    let loaded = sigma::load(&[dir.path().to_path_buf()], &map).expect("loads");
    assert_eq!(loaded.rules.len(), 0);
    assert!(loaded.skipped[0].reason.contains("`Browser`"));
    let extra = dir.path().join("fields.toml");
    std::fs::write(
        &extra,
        "[fields.\"azure/signinlogs\"]\nBrowser = \"attr.browser\"\n",
    )
    .expect("write");
    let map = FieldMap::load(&[&extra]).expect("extends");
    let loaded = sigma::load(&[dir.path().join("r.yml")], &map).expect("loads");
    assert_eq!(loaded.rules.len(), 1, "{:#?}", loaded.skipped);
}

#[test]
fn a_sigma_folder_given_as_native_rules_says_to_use_sigma() {
    let run = breachline(&[
        "rules",
        "list",
        "--rules",
        &fixture("sigma/rules").display().to_string(),
    ]);
    let se = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(!run.status.success());
    assert!(se.contains("pass it with --sigma PATH"), "{se}");
}

#[test]
fn sigma_findings_are_identical_on_one_or_many_threads() {
    let sigma_dir = fixture("sigma/rules").display().to_string();
    let demo = fixture("demo").display().to_string();
    let mut outputs = Vec::new();
    for threads in ["1", "3"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().display().to_string();
        let run = breachline(&[
            "analyze",
            "-q",
            &demo,
            "--out",
            &out,
            "--sigma",
            &sigma_dir,
            "--threads",
            threads,
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let findings = std::fs::read(dir.path().join("findings.json")).expect("findings");
        let timeline = std::fs::read(dir.path().join("timeline.csv")).expect("timeline");
        outputs.push((findings, timeline));
    }
    assert!(outputs[0].0.len() > 1000, "findings written");
    assert!(
        outputs[0] == outputs[1],
        "findings and timeline differ between 1 and 3 threads"
    );
}

#[test]
fn a_required_operation_becomes_the_prefilter_and_nothing_else_does() {
    let loaded = sigma::load(&[fixture("sigma/rules")], &builtin_map()).expect("loads");
    let ops = |id: &str| {
        loaded
            .rules
            .iter()
            .find(|r| r.meta.id.ends_with(id))
            .map(|r| r.prefilter.operations.clone())
            .expect("rule loaded")
    };
    assert_eq!(
        ops("a01"),
        Some(vec![
            "new-inboxrule".to_string(),
            "set-inboxrule".to_string()
        ])
    );
    // Entra activities are written with a final period in the unified audit log.
    assert_eq!(
        ops("a05"),
        Some(vec!["update user".to_string(), "update user.".to_string()])
    );
    // `startswith` and `and not` leave it to the matcher.
    assert_eq!(ops("a02"), None);
    assert_eq!(ops("a03"), None);
}

#[test]
fn a_test_case_folder_names_sigma_rules_by_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let case = dir.path().join("inbox-rule-case");
    std::fs::create_dir(&case).expect("mkdir");
    for entry in std::fs::read_dir(fixture("demo/audit")).expect("demo audit") {
        let p = entry.expect("entry").path();
        if let Some(name) = p.file_name() {
            std::fs::copy(&p, case.join(name)).expect("copy evidence");
        }
    }
    let expected = |user_rule: &str| {
        format!(
            "[[must_fire]]\nrule = \"3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a01\"\nuser = \"{user_rule}\"\n\n[[must_not_fire]]\nrule = \"3d6f8a52-7c41-4e0b-9a51-0c9e2f7b1a01\"\nuser = \"*\"\nexcept_users = [\"priya.natarajan@northwindtraders.example\"]\n"
        )
    };
    let sigma_dir = fixture("sigma/rules").display().to_string();
    let case_dir = dir.path().display().to_string();
    std::fs::write(
        case.join("expected.toml"),
        expected("priya.natarajan@northwindtraders.example"),
    )
    .expect("write");
    let run = breachline(&["rules", "test", &case_dir, "--sigma", &sigma_dir]);
    let so = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(run.status.code(), Some(0), "{so}");
    assert!(so.contains("inbox-rule-case"), "{so}");
    // The same expectation for another user fails.
    std::fs::write(
        case.join("expected.toml"),
        expected("adam.sato@northwindtraders.example"),
    )
    .expect("write");
    let run = breachline(&["rules", "test", &case_dir, "--sigma", &sigma_dir]);
    let so = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(run.status.code(), Some(1), "{so}");
}

#[test]
fn a_document_that_is_not_a_map_is_reported_not_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "two.yml",
        "title: good\nid: n-1\nlogsource:\n    product: azure\n    service: signinlogs\ndetection:\n    selection:\n        ResultType: 50126\n    condition: selection\n---\n- just\n- a list\n",
    );
    let loaded = sigma::load(&[dir.path().to_path_buf()], &builtin_map()).expect("loads");
    assert_eq!(loaded.rules.len(), 1);
    assert_eq!(loaded.documents, 2);
    assert_eq!(loaded.skipped.len(), 1, "{:#?}", loaded.skipped);
    assert_eq!(loaded.skipped[0].document, 2);
    assert!(
        loaded.skipped[0].reason.contains("not a map"),
        "{:#?}",
        loaded.skipped
    );
}

#[test]
fn an_entra_audit_sigma_rule_runs_on_the_directory_export_and_the_ual_copy() {
    let dir = fixture("sigma/directory");
    let loaded = sigma::load(&[dir.clone()], &builtin_map()).expect("loads");
    assert!(loaded.skipped.is_empty(), "{:#?}", loaded.skipped);
    assert_eq!(loaded.rules.len(), 2);
    // Their own tests: the Entra audit log's event (source directory) and a risk detection.
    let results = run_rule_tests(&loaded.rules);
    assert_eq!(results.len(), 6);
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.to_string())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    // The unified audit log's copy of the activity (trailing period, workload
    // AzureActiveDirectory) fires too, and another workload's record does not.
    let text = std::fs::read_to_string(dir.join("entra_admin_role_to_guest.yml")).expect("fixture");
    let (head, _) = text.split_once("tests:").expect("tests");
    let copy = format!(
        "{head}tests:\n    - name: the UAL copy fires\n      expect: fire\n      events:\n          - {{time: 2024-05-13T15:02:00Z, source: audit, user: admin@contoso.example, operation: Add member to role., attr.workload: AzureActiveDirectory, attr.target: \"x_evil.example#ext#@contoso.onmicrosoft.com\", attr.category: RoleManagement, attr.modified.Role.DisplayName: '\"Global Administrator\"'}}\n    - name: another workload does not\n      expect: no-fire\n      events:\n          - {{time: 2024-05-13T15:02:00Z, source: audit, user: admin@contoso.example, operation: Add member to role., attr.workload: Exchange, attr.target: \"x_evil.example#ext#@contoso.onmicrosoft.com\", attr.category: RoleManagement, attr.modified.Role.DisplayName: '\"Global Administrator\"'}}\n"
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    write(tmp.path(), "copy.yml", &copy);
    let loaded = sigma::load(&[tmp.path().to_path_buf()], &builtin_map()).expect("loads");
    let results = run_rule_tests(&loaded.rules);
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.passed()), "{results:#?}");
}

#[test]
fn a_threat_management_rule_fires_on_the_alert_named_in_event_name() {
    // SigmaHQ's m365/threat_management rules name a Security & Compliance alert in `eventName`;
    // in the unified audit log that alert is an AlertTriggered record (type 40) whose AuditData
    // `Name` is the alert's name.
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    let evidence = dir.path().join("evidence");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::create_dir_all(&evidence).expect("evidence dir");
    write(
        &rules,
        "alert.yml",
        "title: Suspicious inbox forwarding alert\nid: 5c0e7d1a-2b3f-4a6e-9d8c-7f1e2a3b4c5d\nstatus: test\nlogsource:\n    product: m365\n    service: threat_management\ndetection:\n    selection:\n        eventSource: SecurityComplianceCenter\n        eventName: 'Suspicious inbox forwarding'\n        status: success\n    condition: selection\nlevel: medium\n",
    );
    let record = |id: &str, time: &str, rt: u32, op: &str, user: &str, name: &str| {
        let audit = format!(
            r#"{{"CreationTime":"{time}","Id":"{id}","Operation":"{op}","RecordType":{rt},"ResultStatus":"Succeeded","UserId":"{user}","UserKey":"{user}","Workload":"SecurityComplianceCenter","AlertId":"a-{id}","AlertType":"System","Category":"ThreatManagement","Name":"{name}","Severity":"Low","Source":"Cloud App Security","Status":"Active"}}"#
        );
        format!(
            "{id},5/14/2024 8:02:37 PM,{rt},{op},{user},\"{}\",,\n",
            audit.replace('"', "\"\"")
        )
    };
    let mut csv =
        String::from("RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\n");
    csv += &record(
        "11111111-1111-4111-8111-111111111111",
        "2024-05-14T20:02:37",
        40,
        "AlertTriggered",
        "SecurityComplianceAlerts",
        "Suspicious inbox forwarding",
    );
    csv += &record(
        "22222222-2222-4222-8222-222222222222",
        "2024-05-14T20:03:37",
        40,
        "AlertTriggered",
        "SecurityComplianceAlerts",
        "Impossible travel activity",
    );
    // A Security & Compliance record that is not an alert: its `Name` is not an alert name.
    csv += &record(
        "33333333-3333-4333-8333-333333333333",
        "2024-05-14T20:04:37",
        18,
        "New-ComplianceSearch",
        "admin@contoso.example",
        "Suspicious inbox forwarding",
    );
    std::fs::write(evidence.join("Purview_AuditLog_export.csv"), csv).expect("evidence");
    let out = dir.path().join("out");
    let run = breachline(&[
        "analyze",
        "-q",
        &evidence.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--sigma",
        &rules.display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("sigma: 1 rule loaded, 0 skipped"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(out.join("findings.json")).expect("findings");
    let findings: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let findings = findings
        .as_array()
        .or_else(|| findings["findings"].as_array())
        .expect("a list of findings");
    let fired: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["rule_id"] == "5c0e7d1a-2b3f-4a6e-9d8c-7f1e2a3b4c5d")
        .collect();
    assert_eq!(fired.len(), 1, "{findings:#?}");
    assert!(
        fired[0]
            .to_string()
            .contains("11111111-1111-4111-8111-111111111111"),
        "{:#}",
        fired[0]
    );
}
