//! The impact stage on the demo case, driven by leads made here from single strong events (as
//! a detection rule would hand them over), checked against the demo's answer key.

mod common;

use breachline::enrich::{self, GeoIp, NetworkConfig};
use breachline::impact::{self, ImpactOptions, Lead, Verdict};
use breachline::ingest::Ingested;
use breachline::model::Event;
use common::{fixture, ingest_paths};

const VICTIM: &str = "priya.natarajan@northwindtraders.example";

fn answer_key() -> toml::Value {
    let text = std::fs::read_to_string(fixture("demo/answer_key.toml")).expect("answer key");
    toml::from_str(&text).expect("answer key parses")
}

fn demo() -> (Ingested, enrich::Enrichment, Vec<String>) {
    let ing = ingest_paths(&[fixture("demo")]);
    let ips = enrich::enrich(&ing.events, &GeoIp::embedded(), &NetworkConfig::builtin());
    let files = ing.files.iter().map(|f| f.path.clone()).collect();
    (ing, ips, files)
}

fn index_of(events: &[Event], pred: impl Fn(&Event) -> bool) -> usize {
    events
        .iter()
        .position(pred)
        .expect("the demo has this event")
}

/// One lead: the inbox rule the attacker created (high), as an inbox-rule rule would report it.
fn inbox_rule_lead(events: &[Event]) -> Lead {
    let i = index_of(events, |e| {
        &*e.user == VICTIM && &*e.operation == "New-InboxRule"
    });
    Lead {
        rule_id: "test-inbox-rule".into(),
        severity: 3,
        user: VICTIM.into(),
        events: vec![i],
        attempt: false,
        no_seed: false,
    }
}

/// Another: the AiTM sign-in (critical).
fn sign_in_lead(events: &[Event]) -> Lead {
    let i = index_of(events, |e| {
        &*e.user == VICTIM
            && e.source == breachline::model::Source::Signin
            && e.ip.map(|i| i.to_string()).as_deref() == Some("188.166.14.77")
    });
    Lead {
        rule_id: "test-aitm".into(),
        severity: 4,
        user: VICTIM.into(),
        events: vec![i],
        attempt: false,
        no_seed: false,
    }
}

fn s(v: &toml::Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

#[test]
fn window_attacker_ips_and_session_match_the_answer_key() {
    let (ing, ips, files) = demo();
    let leads = vec![inbox_rule_lead(&ing.events), sign_in_lead(&ing.events)];
    let out = impact::assess(&ing.events, &files, &ips, &leads, &ImpactOptions::default());
    let key = answer_key();
    let c = &key["compromised"][0];
    let u = out
        .users
        .iter()
        .find(|u| u.user == VICTIM)
        .expect("victim assessed");
    assert_eq!(u.verdict, Verdict::Compromised);
    let w = u.window.as_ref().expect("a window");
    assert_eq!(
        breachline::normalize::time::format(&w.start),
        s(&c["window_start"])
    );
    assert_eq!(
        breachline::normalize::time::format(&w.end),
        s(&c["window_end"])
    );
    let mut got_ips: Vec<String> = u.footprint.ips.iter().map(|k| k.key.clone()).collect();
    got_ips.sort();
    let mut want_ips: Vec<String> = c["attacker_ips"]
        .as_array()
        .expect("ips")
        .iter()
        .map(s)
        .collect();
    want_ips.sort();
    assert_eq!(got_ips, want_ips);
    let sessions: Vec<&str> = u
        .footprint
        .sessions
        .iter()
        .map(|k| k.key.as_str())
        .collect();
    for want in c["attacker_session_ids"].as_array().expect("sessions") {
        assert!(
            sessions.contains(&want.as_str().expect("text")),
            "{sessions:?}"
        );
    }
    // The Vultr refreshes were reached through the stolen session, not seeded.
    let vultr = u
        .footprint
        .ips
        .iter()
        .find(|k| k.key == "45.77.62.19")
        .expect("Vultr IP");
    assert!(vultr.why.contains("session"), "{}", vultr.why);
    // The user's own office and home IPs are baseline, never the attacker's.
    assert!(u
        .footprint
        .baseline_ips
        .iter()
        .any(|ip| ip.to_string() == "12.145.60.10"));
}

#[test]
fn containment_and_activity_after_it_are_called_out() {
    let (ing, ips, files) = demo();
    let leads = vec![inbox_rule_lead(&ing.events)];
    let out = impact::assess(&ing.events, &files, &ips, &leads, &ImpactOptions::default());
    let key = answer_key();
    let c = &key["compromised"][0];
    let u = &out.users[0];
    let w = u.window.as_ref().expect("a window");
    let ops: Vec<&str> = w.containment.iter().map(|c| c.operation.as_str()).collect();
    for want in c["containment"].as_array().expect("containment") {
        assert!(
            ops.contains(&want["operation"].as_str().expect("op")),
            "{ops:?}"
        );
    }
    assert!(w
        .containment
        .iter()
        .all(|c| c.actor == "it.admin@northwindtraders.example"));
    let after: Vec<String> = w
        .after_containment
        .iter()
        .map(|e| breachline::normalize::time::format(&e.time))
        .collect();
    let want: Vec<String> = c["post_containment"]
        .as_array()
        .expect("times")
        .iter()
        .map(s)
        .collect();
    assert_eq!(after, want);
}

#[test]
fn recipients_match_the_answer_key() {
    let (ing, ips, files) = demo();
    let leads = vec![inbox_rule_lead(&ing.events), sign_in_lead(&ing.events)];
    let out = impact::assess(&ing.events, &files, &ips, &leads, &ImpactOptions::default());
    let u = out.users.iter().find(|u| u.user == VICTIM).expect("victim");
    let key = answer_key();
    let want = key["recipients"].as_array().expect("recipients");
    // The list to notify holds the attacker's mail (and mail of unknown origin); the victim's
    // own mail in the window is listed apart.
    let notify = want.iter().filter(|w| s(&w["sent_by"]) != "user").count();
    assert_eq!(u.recipients.recipients.len(), notify);
    assert_eq!(u.recipients.user_sent.len(), want.len() - notify);
    assert!(u.recipients.recipients.iter().all(|r| r.sent_by.notify()));
    assert!(u
        .recipients
        .user_sent
        .iter()
        .all(|r| r.sent_by == impact::SentBy::User && !r.sent_by_reason.is_empty()));
    for w in want {
        let r = u
            .recipients
            .recipients
            .iter()
            .chain(&u.recipients.user_sent)
            .find(|r| r.recipient == s(&w["recipient"]) && r.sent_by.as_str() == s(&w["sent_by"]))
            .unwrap_or_else(|| {
                panic!(
                    "missing recipient {} sent by {}",
                    w["recipient"], w["sent_by"]
                )
            });
        assert_eq!(
            r.internal,
            w["internal"].as_bool().expect("bool"),
            "{}",
            r.recipient
        );
        assert_eq!(
            breachline::normalize::time::format(&r.first),
            s(&w["first"])
        );
        assert_eq!(breachline::normalize::time::format(&r.last), s(&w["last"]));
        assert_eq!(r.count as i64, w["count"].as_integer().expect("count"));
        let subjects: Vec<String> = w["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .map(s)
            .collect();
        assert_eq!(r.subjects, subjects);
        assert!(r.statuses.contains(&s(&w["status"])));
        assert!(!r.evidence.is_empty());
        // The fraud mail is tied to the attacker's session; the victim's own mail to her
        // office address, which she signed in from a week before the attack.
        let c = &key["compromised"][0];
        match r.sent_by {
            impact::SentBy::Attacker => assert!(
                r.sent_by_reason.contains(&s(&c["attacker_session_ids"][0])),
                "{}: {}",
                r.recipient,
                r.sent_by_reason
            ),
            impact::SentBy::User => assert!(
                u.footprint
                    .baseline_ips
                    .iter()
                    .any(|ip| r.sent_by_reason.contains(&format!("IP {ip},"))),
                "{}: {}",
                r.recipient,
                r.sent_by_reason
            ),
            impact::SentBy::Unknown => panic!("{} of unknown origin", r.recipient),
        }
    }
    assert_eq!(
        out.tenant_domains,
        vec!["northwindtraders.example".to_string()]
    );
}

#[test]
fn blast_radius_names_reads_sync_sends_rules_and_forwarding() {
    let (ing, ips, files) = demo();
    let leads = vec![inbox_rule_lead(&ing.events), sign_in_lead(&ing.events)];
    let out = impact::assess(&ing.events, &files, &ips, &leads, &ImpactOptions::default());
    let u = out.users.iter().find(|u| u.user == VICTIM).expect("victim");
    let b = &u.blast_radius;
    let key = answer_key();
    let c = &key["compromised"][0];
    let targets: Vec<String> = c["forwarding_targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(s)
        .collect();
    assert_eq!(b.forwarding_targets, targets);
    assert!(
        b.synced_folders
            .iter()
            .any(|f| f.to_lowercase().contains("inbox")),
        "{:?}",
        b.synced_folders
    );
    let bind: u64 = b.mail_read.iter().map(|f| f.bind_items).sum();
    assert!(bind >= 4 + 5 + 6 + 7, "{bind}");
    let fraud = b
        .mail_sent
        .iter()
        .filter(|m| m.subject.as_deref() == Some("Updated banking details for Q2 payments"))
        .count();
    assert_eq!(fraud, 8, "eight fraud messages");
    let fraud_recipients: usize = b
        .mail_sent
        .iter()
        .filter(|m| m.subject.as_deref() == Some("Updated banking details for Q2 payments"))
        .map(|m| m.recipients.len())
        .sum();
    assert_eq!(fraud_recipients, 24);
    assert!(b
        .rules_and_forwarding
        .iter()
        .any(|a| a.operation == "New-InboxRule"));
    assert!(b
        .mail_deleted_or_moved
        .iter()
        .any(|a| a.operation == "HardDelete"));
    assert!(b
        .identity_changes
        .iter()
        .any(|a| a.operation == "Update user."));
    assert!(!b.exposed_correspondents.is_empty());
}

#[test]
fn two_medium_leads_are_suspicious_one_is_not_and_failed_attempts_are_targeted() {
    let (ing, ips, files) = demo();
    let grace = "grace.kim@northwindtraders.example";
    let i = index_of(&ing.events, |e| &*e.user == grace && !e.is_attempt());
    let lead = |rule: &str, events: Vec<usize>, attempt: bool| Lead {
        rule_id: rule.into(),
        severity: 2,
        user: grace.into(),
        events,
        attempt,
        no_seed: false,
    };
    let assess = |leads: &[Lead]| {
        impact::assess(&ing.events, &files, &ips, leads, &ImpactOptions::default())
            .users
            .remove(0)
    };
    let one = assess(&[lead("test-a", vec![i], false)]);
    assert_eq!(
        one.verdict,
        Verdict::Clean,
        "one medium finding is not enough"
    );
    let two = assess(&[
        lead("test-a", vec![i], false),
        lead("test-b", vec![i], false),
    ]);
    assert_eq!(two.verdict, Verdict::Suspicious);
    assert!(two.footprint.is_empty() && two.window.is_none());
    assert!(two.recipients.recipients.is_empty());
    let tried = assess(&[
        lead("test-spray", vec![i], true),
        lead("test-b", vec![i], true),
    ]);
    assert_eq!(tried.verdict, Verdict::Targeted);
    assert_eq!(
        tried.rules,
        vec!["test-b", "test-spray"],
        "attempts are still listed"
    );
}

#[test]
fn system_actors_and_apps_get_no_verdict() {
    let (ing, ips, files) = demo();
    let i = index_of(&ing.events, |e| &*e.user == VICTIM);
    let leads: Vec<Lead> = [
        "nt authority\\system (microsoft.exchange.servicehost)",
        "app@sharepoint",
        "anonymous",
    ]
    .iter()
    .map(|actor| Lead {
        rule_id: "test-critical".into(),
        severity: 4,
        user: actor.to_string(),
        events: vec![i],
        attempt: false,
        no_seed: false,
    })
    .collect();
    let out = impact::assess(&ing.events, &files, &ips, &leads, &ImpactOptions::default());
    assert!(
        out.users.is_empty(),
        "{:?}",
        out.users.iter().map(|u| &u.user).collect::<Vec<_>>()
    );
    let kinds: Vec<&str> = out.actors.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, vec!["anonymous", "app", "system"]);
}

#[test]
fn results_are_identical_on_one_or_many_threads() {
    let (ing, ips, files) = demo();
    let leads = vec![inbox_rule_lead(&ing.events), sign_in_lead(&ing.events)];
    let run = |n: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("pool");
        pool.install(|| {
            let out = impact::assess(&ing.events, &files, &ips, &leads, &ImpactOptions::default());
            serde_json::to_string(&out).expect("serialise")
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn footprint_is_exactly_the_attackers_story() {
    let (ing, ips, files) = demo();
    let leads = vec![inbox_rule_lead(&ing.events)];
    let out = impact::assess(&ing.events, &files, &ips, &leads, &ImpactOptions::default());
    let u = out.users.iter().find(|u| u.user == VICTIM).expect("victim");
    let key = answer_key();
    let c = &key["compromised"][0];
    let attacker_ips: Vec<String> = c["attacker_ips"]
        .as_array()
        .expect("ips")
        .iter()
        .map(s)
        .collect();
    // The story's attacker events (by time, source and operation), in order.
    let want: Vec<(String, String, String)> = c["story"]
        .as_array()
        .expect("story")
        .iter()
        .filter(|st| st.get("ip").is_some_and(|ip| attacker_ips.contains(&s(ip))))
        .map(|st| (s(&st["time"]), s(&st["source"]), s(&st["operation"])))
        .collect();
    let got: Vec<(String, String, String)> = u
        .footprint
        .events
        .iter()
        .map(|(i, _, _)| &ing.events[*i])
        .map(|e| {
            (
                breachline::normalize::time::format(&e.time),
                e.source.as_str().to_string(),
                e.operation.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn recipients_command_writes_the_mail_merge_csv() {
    let out = common::breachline(&[
        "recipients",
        "-q",
        fixture("demo").to_str().expect("utf-8 path"),
        "--user",
        "Priya.Natarajan@NorthwindTraders.example",
        "--from",
        "2024-05-13T14:19:37Z",
        "--to",
        "2024-05-15T03:07:00Z",
        "--format",
        "csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = common::stdout(&out);
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rows
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, breachline::report::case::RECIPIENT_COLUMNS);
    let records: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    let key = answer_key();
    assert_eq!(
        records.len(),
        key["recipients"].as_array().expect("list").len()
    );
    // With --from / --to the footprint is still worked out: who sent each message is as in the
    // answer key.
    let mut got: Vec<(&str, &str)> = records.iter().map(|r| (&r[2], &r[11])).collect();
    got.sort();
    let mut want: Vec<(String, String)> = key["recipients"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| (s(&r["recipient"]), s(&r["sent_by"])))
        .collect();
    want.sort();
    let want: Vec<(&str, &str)> = want.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(got, want);
    // The recipients to notify first, grouped by domain (the domain column never goes back to an
    // earlier value), then the user's own mail apart, grouped the same way.
    let (notify, own): (Vec<&csv::StringRecord>, Vec<&csv::StringRecord>) =
        records.iter().partition(|r| &r[11] != "user");
    assert_eq!(
        records.iter().collect::<Vec<_>>(),
        notify.iter().chain(&own).copied().collect::<Vec<_>>()
    );
    for part in [&notify, &own] {
        let domains: Vec<&str> = part.iter().map(|r| &r[3]).collect();
        let mut sorted = domains.clone();
        sorted.sort();
        assert_eq!(domains, sorted);
    }
    let internal = records.iter().filter(|r| &r[4] == "true").count();
    let want_internal = key["recipients"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["internal"].as_bool() == Some(true))
        .count();
    assert_eq!(internal, want_internal);
}

#[test]
fn recipients_command_defaults_to_the_worked_out_window() {
    let out = common::breachline(&[
        "recipients",
        "-q",
        fixture("demo").to_str().expect("utf-8 path"),
        "--user",
        VICTIM,
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&common::stdout(&out)).expect("JSON");
    let key = answer_key();
    let c = &key["compromised"][0];
    assert_eq!(v["from"], s(&c["window_start"]).as_str());
    assert_eq!(v["to"], s(&c["window_end"]).as_str());
    let want = key["recipients"].as_array().expect("list");
    let own = want.iter().filter(|r| s(&r["sent_by"]) == "user").count();
    assert_eq!(
        v["recipients"].as_array().expect("list").len(),
        want.len() - own
    );
    assert_eq!(v["user_sent"].as_array().expect("list").len(), own);
}
