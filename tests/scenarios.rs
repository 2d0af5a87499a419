//! breachline's verdicts on the attack scenarios of `tests/scenarios/` (two seeds each), against
//! each case's answer key: every compromised account found, no clean or merely targeted account
//! called compromised, at most 2 clean accounts in 100 called suspicious. The same targets as
//! the table in docs/detection.md (`cargo run --release --example detection`).

#[path = "scenarios/mod.rs"]
mod scenarios;

use std::collections::BTreeSet;
use std::path::Path;

use scenarios::{measure, AnswerKey, Scenario};

/// The answer key is consistent with itself and with the files written.
fn check_answer_key(dir: &Path, key: &AnswerKey) {
    assert_eq!(
        &AnswerKey::read(dir).expect("answer_key.toml reads back"),
        key
    );
    for f in &key.files {
        assert!(dir.join(f).is_file(), "{f} was written");
    }
    let mut seen = BTreeSet::new();
    for account in key.accounts() {
        assert!(seen.insert(account), "{account} is in exactly one list");
        assert_eq!(account, &account.to_lowercase(), "UPNs are lower-case");
    }
    assert!(
        !key.compromised.is_empty(),
        "a scenario compromises someone"
    );
    assert!(!key.attacker_ips.is_empty(), "the attacker has an address");
    assert!(key.clean.len() >= 20, "a benign population");
    assert_eq!(key.victims.len(), key.compromised.len());
    for v in &key.victims {
        assert!(key.compromised.contains(&v.user));
        assert!(!v.notify.is_empty(), "{}: the attacker sent mail", v.user);
        assert!(
            !v.user_sent.is_empty(),
            "{}: the victim sent mail in the window",
            v.user
        );
        assert!(
            v.notify.iter().all(|r| !v.user_sent.contains(r)),
            "notify and user_sent are disjoint"
        );
        assert!(v.window_start <= v.window_end);
    }
}

/// Targets this version misses, each with the reason docs/detection.md gives. A listed case
/// still checks everything else (no clean or sprayed account compromised, suspicious rate,
/// targeted accounts, and the other victims), and fails if the miss goes away, so the list and
/// the table are updated together.
const KNOWN_MISSES: &[(Scenario, u64)] = &[(Scenario::SlowAttacker, 2)];

fn check(scenario: Scenario, seed: u64) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let key = scenarios::generate(scenario, seed, dir.path()).expect("the scenario is written");
    check_answer_key(dir.path(), &key);
    let outcome = measure::run(dir.path()).expect("breachline reads the case");
    let score = measure::score(&key, &outcome);
    let mut problems = Vec::new();
    let known_miss = KNOWN_MISSES
        .iter()
        .find(|(s, n)| *s == scenario && *n == seed)
        .map(|_| scenario.known_limit().expect("a known miss says why"));
    let victims_missed = score.compromised_expected - score.compromised_found;
    if let Some(why) = known_miss {
        assert!(
            victims_missed > 0,
            "{} seed {seed} is listed as a known miss ({why}) but every victim was found: update KNOWN_MISSES and docs/detection.md",
            scenario.name()
        );
    }
    for m in &score.misses {
        let wrong = match m.expected {
            "compromised" => known_miss.is_none(),
            _ => m.got == "compromised",
        };
        if wrong {
            problems.push(format!(
                "{} expected {} got {} (score {}, rules {:?})",
                m.user, m.expected, m.got, m.score, m.rules
            ));
        }
    }
    for user in &key.targeted {
        let got = outcome.verdict(user);
        if got == "compromised" {
            let rules = outcome
                .accounts
                .get(user)
                .map(|c| c.rules.clone())
                .unwrap_or_default();
            problems.push(format!("{user} expected targeted (sprayed, never signed in) got compromised (rules {rules:?})"));
        }
    }
    if score.targeted_called_targeted != score.targeted_total {
        problems.push(format!(
            "{} of {} sprayed accounts called targeted",
            score.targeted_called_targeted, score.targeted_total
        ));
    }
    if known_miss.is_none() && score.notify_hits != score.notify_truth {
        problems.push(format!(
            "notification recall: {} of the {} recipients of the attacker's mail listed",
            score.notify_hits, score.notify_truth
        ));
    }
    if known_miss.is_none() && (score.notify_hits as f64) < 0.95 * score.notify_listed as f64 {
        problems.push(format!(
            "notification precision: {} of the {} listed recipients got the attacker's mail ({} only the victim's own)",
            score.notify_hits, score.notify_listed, score.notify_user_sent
        ));
    }
    // The people on rented networks of their own are judged by what else they did, not
    // flagged for the network (a victim of the scenario is judged as one).
    for user in key
        .own_rented
        .iter()
        .filter(|u| !key.compromised.contains(u))
    {
        let got = outcome.verdict(user);
        if got == "suspicious" || got == "compromised" {
            let rules = outcome
                .accounts
                .get(user)
                .map(|c| c.rules.clone())
                .unwrap_or_default();
            problems.push(format!(
                "{user} works from a rented network of their own every day and was called {got} (rules {rules:?})"
            ));
        }
    }
    if score.suspicious_per_100_clean() > 2.0 {
        let who: Vec<String> = score
            .misses
            .iter()
            .filter(|m| m.expected == "clean" && m.got != "compromised")
            .map(|m| format!("{} (score {}, rules {:?})", m.user, m.score, m.rules))
            .collect();
        problems.push(format!(
            "{} of {} clean accounts called suspicious ({:.1} per 100, max 2): {}",
            score.clean_suspicious,
            score.clean_total,
            score.suspicious_per_100_clean(),
            who.join("; ")
        ));
    }
    assert!(
        problems.is_empty(),
        "{} seed {seed}:\n  {}",
        scenario.name(),
        problems.join("\n  ")
    );
}

macro_rules! scenario_tests {
    ($($name:ident => $scenario:expr,)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn seed_1() {
                check($scenario, 1);
            }
            #[test]
            fn seed_2() {
                check($scenario, 2);
            }
        }
    )*};
}

scenario_tests! {
    aitm_officehome => Scenario::AitmOfficeHome,
    token_replay => Scenario::TokenReplay,
    spray_then_success => Scenario::SprayThenSuccess,
    mfa_fatigue => Scenario::MfaFatigue,
    device_code_phish => Scenario::DeviceCodePhish,
    illicit_consent => Scenario::IllicitConsent,
    legacy_protocol_exfil => Scenario::LegacyProtocolExfil,
    audit_only_rule_burst => Scenario::AuditOnlyRuleBurst,
    internal_phish_second_account => Scenario::InternalPhishSecondAccount,
    residential_proxy => Scenario::ResidentialProxy,
    slow_attacker => Scenario::SlowAttacker,
    audit_only_spray => Scenario::AuditOnlySpray,
}

#[test]
fn every_scenario_has_a_test_and_a_unique_name() {
    let names: BTreeSet<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names.len(), Scenario::ALL.len());
    for s in Scenario::ALL {
        assert_eq!(Scenario::from_name(s.name()), Some(s));
        assert!(!s.description().is_empty() && !s.not_covered().is_empty());
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_tenant() {
    let (a, b, c) = (
        tempfile::tempdir().expect("temp"),
        tempfile::tempdir().expect("temp"),
        tempfile::tempdir().expect("temp"),
    );
    let ka = scenarios::generate(Scenario::SlowAttacker, 7, a.path()).expect("written");
    let kb = scenarios::generate(Scenario::SlowAttacker, 7, b.path()).expect("written");
    let kc = scenarios::generate(Scenario::SlowAttacker, 8, c.path()).expect("written");
    assert_eq!(ka, kb);
    for f in ka
        .files
        .iter()
        .chain(["answer_key.toml".to_string()].iter())
    {
        let x = std::fs::read(a.path().join(f)).expect("file");
        let y = std::fs::read(b.path().join(f)).expect("file");
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    assert!(
        ka.compromised != kc.compromised
            || ka.tenant_domain != kc.tenant_domain
            || ka.attacker_ips != kc.attacker_ips
    );
}
