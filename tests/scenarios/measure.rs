//! Runs breachline's pipeline on a generated case (as `breachline analyze DIR` does: built-in
//! rules, embedded GeoIP, built-in network list, tenant domains inferred) and compares the
//! verdicts and notification lists with the answer key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use breachline::cli::analyze::assess;
use breachline::detect::RuleSet;
use breachline::enrich::{self, GeoIp, NetworkConfig};
use breachline::impact::UserImpact;
use breachline::ingest::{self, IngestOptions};

use super::AnswerKey;

/// What breachline said about one account.
#[derive(Clone, Debug, Default)]
pub struct Called {
    /// `Verdict::as_str()`: clean, suspicious, compromised (and whatever variants come later).
    pub verdict: String,
    pub score: u32,
    pub rules: Vec<String>,
    /// Who breachline would notify for this account.
    pub notified: Vec<String>,
}

/// Breachline's answers for every account it assessed; accounts it never mentions are clean.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub accounts: BTreeMap<String, Called>,
}

impl Outcome {
    pub fn verdict(&self, user: &str) -> &str {
        self.accounts
            .get(user)
            .map(|c| c.verdict.as_str())
            .unwrap_or("clean")
    }
}

/// The recipients breachline says must be told about one account: its list to notify, the
/// recipients of mail whose `sent_by` is `attacker` or `unknown` (the user's own mail is listed
/// apart, in `user_sent`).
pub fn notified(u: &UserImpact) -> Vec<String> {
    let set: BTreeSet<String> = u
        .recipients
        .recipients
        .iter()
        .map(|r| r.recipient.to_lowercase())
        .collect();
    set.into_iter().collect()
}

/// Ingests, enriches and assesses the case folder.
pub fn run(dir: &Path) -> Result<Outcome, String> {
    let ing = ingest::ingest(&[dir.to_path_buf()], &IngestOptions::default())
        .map_err(|e| format!("cannot ingest {}: {e}", dir.display()))?;
    let ips = enrich::enrich(&ing.events, &GeoIp::embedded(), &NetworkConfig::builtin());
    let rules = RuleSet::builtin().map_err(|e| format!("built-in rules: {e}"))?;
    let (_findings, impact) = assess(&ing, &ips, &rules.rules, &[], &[]);
    let accounts = impact
        .users
        .iter()
        .map(|u| {
            (
                u.user.to_lowercase(),
                Called {
                    verdict: u.verdict.as_str().to_string(),
                    score: u.score,
                    rules: u.rules.clone(),
                    notified: notified(u),
                },
            )
        })
        .collect();
    Ok(Outcome { accounts })
}

/// One account whose verdict is not what the answer key expects, with the rules that fired.
#[derive(Clone, Debug)]
pub struct Miss {
    pub user: String,
    pub expected: &'static str,
    pub got: String,
    pub score: u32,
    pub rules: Vec<String>,
}

/// The comparison of one case with its answer key.
#[derive(Clone, Debug, Default)]
pub struct Score {
    pub compromised_expected: usize,
    pub compromised_found: usize,
    pub clean_total: usize,
    pub clean_compromised: usize,
    pub clean_suspicious: usize,
    pub targeted_total: usize,
    pub targeted_called_targeted: usize,
    /// Sprayed accounts (never signed in by the attacker) called compromised.
    pub targeted_compromised: usize,
    /// Notification: recipients breachline lists that the attacker wrote to, all it lists,
    /// and all the attacker wrote to.
    pub notify_hits: usize,
    pub notify_listed: usize,
    pub notify_truth: usize,
    /// Listed recipients who only got the victim's own mail.
    pub notify_user_sent: usize,
    pub misses: Vec<Miss>,
    /// Actors that are not accounts of the tenant (system actors, service principals,
    /// outside senders) called suspicious or compromised.
    pub others_flagged: Vec<Miss>,
}

impl Score {
    pub fn add(&mut self, other: &Score) {
        self.compromised_expected += other.compromised_expected;
        self.compromised_found += other.compromised_found;
        self.clean_total += other.clean_total;
        self.clean_compromised += other.clean_compromised;
        self.clean_suspicious += other.clean_suspicious;
        self.targeted_total += other.targeted_total;
        self.targeted_called_targeted += other.targeted_called_targeted;
        self.targeted_compromised += other.targeted_compromised;
        self.notify_hits += other.notify_hits;
        self.notify_listed += other.notify_listed;
        self.notify_truth += other.notify_truth;
        self.notify_user_sent += other.notify_user_sent;
        self.misses.extend(other.misses.iter().cloned());
        self.others_flagged
            .extend(other.others_flagged.iter().cloned());
    }

    pub fn suspicious_per_100_clean(&self) -> f64 {
        if self.clean_total == 0 {
            0.0
        } else {
            100.0 * self.clean_suspicious as f64 / self.clean_total as f64
        }
    }

    pub fn notify_recall(&self) -> f64 {
        if self.notify_truth == 0 {
            1.0
        } else {
            self.notify_hits as f64 / self.notify_truth as f64
        }
    }

    pub fn notify_precision(&self) -> f64 {
        if self.notify_listed == 0 {
            if self.notify_truth == 0 {
                1.0
            } else {
                0.0
            }
        } else {
            self.notify_hits as f64 / self.notify_listed as f64
        }
    }

    /// The targets not met, each with its reason; empty when all are met.
    pub fn missed_targets(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.compromised_found < self.compromised_expected {
            out.push(format!(
                "{} of {} compromised not found",
                self.compromised_expected - self.compromised_found,
                self.compromised_expected
            ));
        }
        if self.clean_compromised > 0 {
            out.push(format!(
                "{} clean called compromised",
                self.clean_compromised
            ));
        }
        if self.targeted_compromised > 0 {
            out.push(format!(
                "{} targeted called compromised",
                self.targeted_compromised
            ));
        }
        if self.suspicious_per_100_clean() > 2.0 {
            out.push(format!(
                "{:.1} clean suspicious per 100 (max 2)",
                self.suspicious_per_100_clean()
            ));
        }
        if self.notify_recall() < 1.0 {
            out.push(format!("notify recall {:.2} < 1.0", self.notify_recall()));
        }
        if self.notify_precision() < 0.95 {
            out.push(format!(
                "notify precision {:.2} < 0.95",
                self.notify_precision()
            ));
        }
        out
    }
}

/// Compares breachline's outcome with the answer key.
pub fn score(key: &AnswerKey, outcome: &Outcome) -> Score {
    let mut s = Score {
        compromised_expected: key.compromised.len(),
        clean_total: key.clean.len(),
        targeted_total: key.targeted.len(),
        ..Score::default()
    };
    let miss = |user: &str, expected: &'static str| {
        let called = outcome.accounts.get(user).cloned().unwrap_or_default();
        Miss {
            user: user.to_string(),
            expected,
            got: outcome.verdict(user).to_string(),
            score: called.score,
            rules: called.rules,
        }
    };
    for user in &key.compromised {
        if outcome.verdict(user) == "compromised" {
            s.compromised_found += 1;
        } else {
            s.misses.push(miss(user, "compromised"));
        }
    }
    for user in &key.clean {
        match outcome.verdict(user) {
            "compromised" => {
                s.clean_compromised += 1;
                s.misses.push(miss(user, "clean"));
            }
            "clean" => {}
            _ => {
                s.clean_suspicious += 1;
                s.misses.push(miss(user, "clean"));
            }
        }
    }
    for user in &key.targeted {
        match outcome.verdict(user) {
            "targeted" => s.targeted_called_targeted += 1,
            "compromised" => s.targeted_compromised += 1,
            _ => {}
        }
    }
    let known: BTreeSet<&String> = key.accounts().into_iter().collect();
    for (user, called) in &outcome.accounts {
        if !known.contains(user) && called.verdict != "clean" {
            s.others_flagged.push(Miss {
                user: user.clone(),
                expected: "not an account",
                got: called.verdict.clone(),
                score: called.score,
                rules: called.rules.clone(),
            });
        }
    }
    for v in &key.victims {
        let listed: BTreeSet<&String> = outcome
            .accounts
            .get(&v.user)
            .map(|c| c.notified.iter().collect())
            .unwrap_or_default();
        let truth: BTreeSet<&String> = v.notify.iter().collect();
        s.notify_truth += truth.len();
        s.notify_listed += listed.len();
        s.notify_hits += listed.intersection(&truth).count();
        s.notify_user_sent += v.user_sent.iter().filter(|r| listed.contains(r)).count();
    }
    s
}
