//! Detect: takeover indicators as rules. The engine is generic; what to look for lives in the
//! YAML files of `rules/` (built in) and in the investigator's own rule folders.
//!
//! [`run`] evaluates every rule over each user's events, users in parallel, and returns the
//! findings in a total order, so 1 or N threads give the same output. A user's events are the
//! ones they did (`role: actor`), the messages they received (`recipient`) and what others did
//! to their account (`target`: an admin's password reset names them in `attr.target`).

pub mod baseline;
pub mod field;
pub mod finding;
pub mod matcher;
pub mod rule;
pub mod sigma;
pub mod test_runner;
pub mod window;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value as Yaml;

use crate::enrich::Enrichment;
use crate::model::{Event, Source};
use field::{EventView, Field, Role};
pub use finding::{Evidence, Finding};
use matcher::MatchContext;
pub use rule::{Logic, Rule, RuleError, Severity};

/// The built-in rules: every file of `rules/`, embedded. `tests/rules.rs` checks that this list
/// and the folder agree.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "rules/aitm-officehome-no-device.yaml",
        include_str!("../../rules/aitm-officehome-no-device.yaml"),
    ),
    (
        "rules/audit-tampering.yaml",
        include_str!("../../rules/audit-tampering.yaml"),
    ),
    (
        "rules/concurrent-sessions.yaml",
        include_str!("../../rules/concurrent-sessions.yaml"),
    ),
    (
        "rules/device-code-flow.yaml",
        include_str!("../../rules/device-code-flow.yaml"),
    ),
    (
        "rules/external-sharing-link.yaml",
        include_str!("../../rules/external-sharing-link.yaml"),
    ),
    (
        "rules/first-seen-asn.yaml",
        include_str!("../../rules/first-seen-asn.yaml"),
    ),
    (
        "rules/first-seen-country.yaml",
        include_str!("../../rules/first-seen-country.yaml"),
    ),
    (
        "rules/hosting-vpn-signin.yaml",
        include_str!("../../rules/hosting-vpn-signin.yaml"),
    ),
    (
        "rules/impossible-travel.yaml",
        include_str!("../../rules/impossible-travel.yaml"),
    ),
    (
        "rules/inbox-rule-suspicious.yaml",
        include_str!("../../rules/inbox-rule-suspicious.yaml"),
    ),
    (
        "rules/legacy-auth.yaml",
        include_str!("../../rules/legacy-auth.yaml"),
    ),
    (
        "rules/mailbox-forwarding-external.yaml",
        include_str!("../../rules/mailbox-forwarding-external.yaml"),
    ),
    (
        "rules/mailbox-permission-grant.yaml",
        include_str!("../../rules/mailbox-permission-grant.yaml"),
    ),
    (
        "rules/mass-deletion.yaml",
        include_str!("../../rules/mass-deletion.yaml"),
    ),
    (
        "rules/mass-file-download.yaml",
        include_str!("../../rules/mass-file-download.yaml"),
    ),
    (
        "rules/mass-mail-read.yaml",
        include_str!("../../rules/mass-mail-read.yaml"),
    ),
    (
        "rules/password-spray-source-success.yaml",
        include_str!("../../rules/password-spray-source-success.yaml"),
    ),
    (
        "rules/password-spray-target.yaml",
        include_str!("../../rules/password-spray-target.yaml"),
    ),
    (
        "rules/hiding-rule-then-sends.yaml",
        include_str!("../../rules/hiding-rule-then-sends.yaml"),
    ),
    (
        "rules/inbox-rule-hides-security-mail.yaml",
        include_str!("../../rules/inbox-rule-hides-security-mail.yaml"),
    ),
    (
        "rules/legacy-auth-from-hosting.yaml",
        include_str!("../../rules/legacy-auth-from-hosting.yaml"),
    ),
    (
        "rules/risky-signin-then-persistence.yaml",
        include_str!("../../rules/risky-signin-then-persistence.yaml"),
    ),
    (
        "rules/mfa-fatigue-then-approval.yaml",
        include_str!("../../rules/mfa-fatigue-then-approval.yaml"),
    ),
    (
        "rules/mass-send.yaml",
        include_str!("../../rules/mass-send.yaml"),
    ),
    (
        "rules/mail-sync-unusual.yaml",
        include_str!("../../rules/mail-sync-unusual.yaml"),
    ),
    (
        "rules/mfa-fatigue.yaml",
        include_str!("../../rules/mfa-fatigue.yaml"),
    ),
    (
        "rules/mfa-method-added-after-risky-signin.yaml",
        include_str!("../../rules/mfa-method-added-after-risky-signin.yaml"),
    ),
    (
        "rules/mfa-method-changed.yaml",
        include_str!("../../rules/mfa-method-changed.yaml"),
    ),
    (
        "rules/oauth-consent.yaml",
        include_str!("../../rules/oauth-consent.yaml"),
    ),
    (
        "rules/app-credentials-added.yaml",
        include_str!("../../rules/app-credentials-added.yaml"),
    ),
    (
        "rules/owa-via-proxy.yaml",
        include_str!("../../rules/owa-via-proxy.yaml"),
    ),
    (
        "rules/password-reset.yaml",
        include_str!("../../rules/password-reset.yaml"),
    ),
    (
        "rules/password-spray-success.yaml",
        include_str!("../../rules/password-spray-success.yaml"),
    ),
    (
        "rules/risky-signin.yaml",
        include_str!("../../rules/risky-signin.yaml"),
    ),
    (
        "rules/role-assignment.yaml",
        include_str!("../../rules/role-assignment.yaml"),
    ),
    (
        "rules/same-subject-many-messages.yaml",
        include_str!("../../rules/same-subject-many-messages.yaml"),
    ),
    (
        "rules/sent-items-deleted.yaml",
        include_str!("../../rules/sent-items-deleted.yaml"),
    ),
    (
        "rules/session-multiple-networks.yaml",
        include_str!("../../rules/session-multiple-networks.yaml"),
    ),
    (
        "rules/signin-after-containment.yaml",
        include_str!("../../rules/signin-after-containment.yaml"),
    ),
    (
        "rules/suspicious-user-agent.yaml",
        include_str!("../../rules/suspicious-user-agent.yaml"),
    ),
    (
        "rules/third-party-mail-client.yaml",
        include_str!("../../rules/third-party-mail-client.yaml"),
    ),
    (
        "rules/token-refresh-elsewhere.yaml",
        include_str!("../../rules/token-refresh-elsewhere.yaml"),
    ),
    (
        "rules/transport-rule.yaml",
        include_str!("../../rules/transport-rule.yaml"),
    ),
    (
        "rules/conditional-access-changed.yaml",
        include_str!("../../rules/conditional-access-changed.yaml"),
    ),
    (
        "rules/domain-federation-changed.yaml",
        include_str!("../../rules/domain-federation-changed.yaml"),
    ),
    (
        "rules/guest-invited.yaml",
        include_str!("../../rules/guest-invited.yaml"),
    ),
    (
        "rules/admin-password-reset.yaml",
        include_str!("../../rules/admin-password-reset.yaml"),
    ),
    (
        "rules/user-risk-dismissed.yaml",
        include_str!("../../rules/user-risk-dismissed.yaml"),
    ),
    (
        "rules/risk-detection.yaml",
        include_str!("../../rules/risk-detection.yaml"),
    ),
    (
        "rules/risk-detection-high-signal.yaml",
        include_str!("../../rules/risk-detection-high-signal.yaml"),
    ),
    (
        "rules/account-confirmed-compromised.yaml",
        include_str!("../../rules/account-confirmed-compromised.yaml"),
    ),
    (
        "rules/mfa-method-removed.yaml",
        include_str!("../../rules/mfa-method-removed.yaml"),
    ),
    (
        "rules/mailbox-legacy-protocol-enabled.yaml",
        include_str!("../../rules/mailbox-legacy-protocol-enabled.yaml"),
    ),
    (
        "rules/dlp-retention-policy-removed.yaml",
        include_str!("../../rules/dlp-retention-policy-removed.yaml"),
    ),
    (
        "rules/mass-account-deletion.yaml",
        include_str!("../../rules/mass-account-deletion.yaml"),
    ),
    (
        "rules/recon-tool.yaml",
        include_str!("../../rules/recon-tool.yaml"),
    ),
];

/// Parameter overrides per rule id: `--param RULE.NAME=VALUE`.
pub type Overrides = BTreeMap<String, BTreeMap<String, Yaml>>;

/// Parses `RULE.NAME=VALUE` (VALUE read as YAML: `25`, `2h`, `[a, b]`).
pub fn parse_override(s: &str) -> Result<(String, String, Yaml), String> {
    let shape = "expected RULE.NAME=VALUE, such as mass-send.min_messages=20";
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{shape}, found {s:?}"))?;
    let (rule, name) = key
        .trim()
        .split_once('.')
        .ok_or_else(|| format!("{shape}, found {s:?}"))?;
    let y: Yaml =
        serde_yaml_ng::from_str(value).map_err(|e| format!("{s}: value is not YAML: {e}"))?;
    Ok((rule.to_string(), name.to_string(), y))
}

/// The rules in force: built-ins, then each folder's rules (a rule with a built-in's id
/// replaces it), minus the disabled ones. Sorted by id.
#[derive(Clone, Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Sigma rules given that are not evaluated, with the reason.
    pub skipped: Vec<sigma::Skipped>,
}

impl RuleSet {
    /// The built-in rules with their defaults.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        RuleSet::load(&[], &[], &Overrides::new())
    }

    /// Built-ins plus folders; `disable` names rule ids to leave out (an unknown id is an error:
    /// a typo must not leave a rule running); `overrides` tune parameters.
    pub fn load(
        dirs: &[PathBuf],
        disable: &[String],
        overrides: &Overrides,
    ) -> Result<RuleSet, RuleError> {
        RuleSet::load_with_sigma(dirs, sigma::Loaded::default(), disable, overrides)
    }

    /// As [`RuleSet::load`], with Sigma rules (`--sigma`) joining the native ones; a Sigma rule
    /// can be disabled by its id like any other, and has no parameters to tune.
    pub fn load_with_sigma(
        dirs: &[PathBuf],
        sigma: sigma::Loaded,
        disable: &[String],
        overrides: &Overrides,
    ) -> Result<RuleSet, RuleError> {
        let empty = BTreeMap::new();
        let mut by_id: BTreeMap<String, Rule> = BTreeMap::new();
        for (name, text) in BUILTIN {
            let id = rule::rule_id_hint(text);
            let o = id
                .as_deref()
                .and_then(|i| overrides.get(i))
                .unwrap_or(&empty);
            let r = rule::parse(&format!("{name} (built in)"), text, o)?;
            by_id.insert(r.meta.id.clone(), r);
        }
        for dir in dirs {
            for r in rule::load_dir(dir, overrides)? {
                by_id.insert(r.meta.id.clone(), r);
            }
        }
        for r in sigma.rules {
            if let Some(id) = overrides.keys().find(|k| **k == r.meta.id) {
                return Err(RuleError::Invalid {
                    file: "--param".into(),
                    line: None,
                    field: id.clone(),
                    message: format!(
                        "`{id}` is a Sigma rule ({}); Sigma rules have no parameters",
                        r.meta.file
                    ),
                });
            }
            by_id.insert(r.meta.id.clone(), r);
        }
        for id in overrides.keys() {
            if !by_id.contains_key(id) {
                return Err(RuleError::Invalid {
                    file: "--param".into(),
                    line: None,
                    field: id.clone(),
                    message: format!("no rule `{id}` (see `breachline rules list`)"),
                });
            }
        }
        for id in disable {
            if by_id.remove(id).is_none() {
                return Err(RuleError::Invalid {
                    file: "--disable".into(),
                    line: None,
                    field: id.clone(),
                    message: format!("no rule `{id}` (see `breachline rules list`)"),
                });
            }
        }
        Ok(RuleSet {
            rules: by_id.into_values().collect(),
            skipped: sigma.skipped,
        })
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.meta.id == id)
    }
}

/// The tenant's mail domains: the domains of the accounts that signed in or acted in the audit
/// log (message-trace senders are anyone on the internet, so they do not count). Only account
/// UPNs count ([`crate::model::ActorKind`]): never `app@sharepoint` or a server's host name.
pub fn tenant_domains(events: &[Event]) -> FxHashSet<String> {
    // Users are interned, so consecutive events of one user share the text's address: skip
    // those without hashing, and hash each distinct user once per thread.
    let users: FxHashSet<&str> = events
        .par_iter()
        .filter(|e| e.source != Source::Messagetrace)
        .fold(
            || (FxHashSet::default(), 0usize),
            |(mut set, last): (FxHashSet<&str>, usize), e| {
                let p = e.user.as_ptr() as usize;
                if p != last {
                    set.insert(&*e.user);
                }
                (set, p)
            },
        )
        .map(|(set, _)| set)
        .reduce(FxHashSet::default, |mut a, b| {
            a.extend(b);
            a
        });
    let mut out = FxHashSet::default();
    for u in users {
        if u.contains("#ext#") || crate::model::ActorKind::of(u) != crate::model::ActorKind::Account
        {
            continue;
        }
        if let Some((_, d)) = u.rsplit_once('@') {
            out.insert(d.trim().to_ascii_lowercase());
        }
    }
    out
}

/// Which events the findings cite as evidence (by file, record and line), in event order.
pub fn cited(events: &[Event], findings: &[Finding], files: &[String]) -> Vec<bool> {
    let by_path: FxHashMap<&str, u32> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i as u32))
        .collect();
    let keys: FxHashSet<(u32, u64, u64)> = findings
        .iter()
        .flat_map(|f| f.evidence.iter())
        .filter_map(|e| by_path.get(e.file.as_str()).map(|&i| (i, e.record, e.line)))
        .collect();
    events
        .iter()
        .map(|e| keys.contains(&(e.origin.file, e.origin.record, e.origin.line)))
        .collect()
}

/// The users an event belongs to, with how ([`Event::subjects`]).
fn subjects(e: &Event) -> impl Iterator<Item = (Cow<'_, str>, Role)> + '_ {
    e.subjects()
}

/// Evaluates every rule over every user's events. `files` is the ingest's file list (evidence
/// rows cite files by path). `users`, when not empty, limits the run to those (lower-cased).
pub fn run(
    events: &[Event],
    enrichment: &Enrichment,
    rules: &[Rule],
    files: &[String],
    users: &[String],
) -> Vec<Finding> {
    run_in_tenant(events, enrichment, rules, files, users, &[])
}

/// As [`run`], with the tenant's mail domains given (`--tenant-domain`); empty infers them
/// ([`tenant_domains`]), so `external_domain` and the notification lists agree.
pub fn run_in_tenant(
    events: &[Event],
    enrichment: &Enrichment,
    rules: &[Rule],
    files: &[String],
    users: &[String],
    tenant: &[String],
) -> Vec<Finding> {
    let started = std::time::Instant::now();
    let cpu_started = cpu_seconds();
    sigma::detection::new_run();
    let ctx = MatchContext {
        tenant_domains: if tenant.is_empty() {
            tenant_domains(events)
        } else {
            tenant
                .iter()
                .map(|d| d.trim().to_ascii_lowercase())
                .collect()
        },
    };
    let (matchers, slots) = plan(rules);
    let words = matchers.len().div_ceil(64).max(1);
    // Pass 1, in memory order: every event against every condition, once per user it belongs
    // to. Only events some condition picked out are kept, with a bit per matching condition.
    // Which conditions an event can pass at all depends only on its operation, source, outcome
    // and role: worked out once per combination (operations are interned, so the text's
    // address stands for it) and kept per thread.
    type Candidates = FxHashMap<(usize, usize, Source, crate::model::Outcome, Role), Vec<u32>>;
    let groups: FxHashMap<Cow<str>, UserHits> = events
        .par_iter()
        .enumerate()
        .fold(
            || (FxHashMap::default(), Candidates::default()),
            |(mut acc, mut cache): (FxHashMap<Cow<str>, UserHits>, Candidates), (i, e)| {
                let ip = enrichment.for_event(e);
                for (user, role) in subjects(e) {
                    if !(users.is_empty() || users.iter().any(|u| *u == *user)) {
                        continue;
                    }
                    let v = EventView { event: e, ip, role };
                    let key = (
                        e.operation.as_ptr() as usize,
                        e.operation.len(),
                        e.source,
                        e.outcome,
                        role,
                    );
                    let candidates = cache.entry(key).or_insert_with(|| {
                        (0..matchers.len())
                            .filter(|&k| {
                                matchers[k].roles.contains(&role) && matchers[k].pre.passes(e)
                            })
                            .map(|k| k as u32)
                            .collect()
                    });
                    // Up to 512 conditions in a fixed buffer; more (a very large rule folder) on the heap.
                    let mut small = [0u64; 8];
                    let mut large = Vec::new();
                    let mask: &mut [u64] = if words <= small.len() {
                        &mut small[..words]
                    } else {
                        large.resize(words, 0);
                        &mut large
                    };
                    let mut any = false;
                    for &k in candidates.iter() {
                        let k = k as usize;
                        if matchers[k].cond.matches(&v, &ctx) {
                            any = true;
                            mask[k / 64] |= 1 << (k % 64);
                        }
                    }
                    if any {
                        let h = acc.entry(user).or_default();
                        h.events.push((i as u32, role));
                        h.masks.extend_from_slice(mask);
                    }
                }
                (acc, cache)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(FxHashMap::default, |mut a, b| {
            for (u, mut h) in b {
                let into = a.entry(u).or_default();
                into.events.append(&mut h.events);
                into.masks.append(&mut h.masks);
            }
            a
        });
    let grouped = std::time::Instant::now();
    let mut groups: Vec<(Cow<str>, UserHits)> = groups.into_iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let n_users = groups.len();
    // Pass 2, per user in parallel: thresholds, sequences and baselines over the hits.
    // Per user: the findings, and per volume rule that compares with history, the user's daily
    // peaks (the peers' reference for accounts with no history of their own).
    type PerUser = (String, Vec<Finding>, Vec<(usize, Vec<f64>)>);
    let per_user: Vec<PerUser> = groups
        .into_par_iter()
        .map(|(user, h)| {
            // Chunks are reduced in order, so events are in index (= time) order; sort if not.
            let mut order: Vec<usize> = (0..h.events.len()).collect();
            if !h.events.windows(2).all(|w| w[0].0 < w[1].0) {
                order.sort_by_key(|&k| h.events[k].0);
            }
            let views: Vec<EventView> = order
                .iter()
                .map(|&k| {
                    let (i, role) = h.events[k];
                    let event = &events[i as usize];
                    EventView {
                        event,
                        ip: enrichment.for_event(event),
                        role,
                    }
                })
                .collect();
            let mut hits: Vec<Vec<usize>> = vec![Vec::new(); matchers.len()];
            for (pos, &k) in order.iter().enumerate() {
                let mask = &h.masks[k * words..(k + 1) * words];
                for (m, list) in hits.iter_mut().enumerate() {
                    if mask[m / 64] & (1 << (m % 64)) != 0 {
                        list.push(pos);
                    }
                }
            }
            let mut out = Vec::new();
            let mut peaks = Vec::new();
            for (ri, (r, slot)) in rules.iter().zip(&slots).enumerate() {
                let (a, b) = match *slot {
                    Slots::One(k) => (&hits[k], &hits[k]),
                    Slots::Two { first, then } => (&hits[first], &hits[then]),
                    Slots::Many { start, len } => {
                        temporal(r, &user, &views, &hits[start..start + len], files, &mut out);
                        continue;
                    }
                };
                let mut days = Vec::new();
                evaluate(r, &user, &views, a, b, files, &mut out, &mut days);
                if !days.is_empty() {
                    peaks.push((ri, days));
                }
            }
            (user.to_string(), out, peaks)
        })
        .collect();
    let mut findings = compare_with_peers(rules, per_user);
    findings.sort_by(Finding::order);
    if std::env::var_os("BREACHLINE_TIMING").is_some() {
        let wall = started.elapsed().as_secs_f64();
        let cpu = match (cpu_started, cpu_seconds()) {
            (Some(a), Some(b)) => format!(", {:.2} s CPU", b - a),
            _ => String::new(),
        };
        eprintln!(
            "timing: detect {:.2} s{cpu} ({:.2} M events/s; conditions {:.2?}, windows and baselines {:.2?}): {} events, {} users, {} rules, {} findings",
            wall,
            events.len() as f64 / wall / 1e6,
            grouped - started,
            grouped.elapsed(),
            events.len(),
            n_users,
            rules.len(),
            findings.len()
        );
    }
    findings
}

/// A count as JSON: an integer when it is one (`22`, not `22.0`).
fn number(x: f64) -> Json {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Json::from(x as i64)
    } else {
        Json::from(x)
    }
}

/// One per-event condition of a rule (its `match`, or a sequence step's), with what an event
/// must be to be worth evaluating.
struct Matcher<'r> {
    pre: &'r matcher::Prefilter,
    cond: &'r matcher::Cond,
    roles: &'r [Role],
}

/// Where each rule's hit lists are among the matchers.
#[derive(Clone, Copy)]
enum Slots {
    One(usize),
    Two {
        first: usize,
        then: usize,
    },
    /// A temporal correlation's steps, `len` matchers from `start`.
    Many {
        start: usize,
        len: usize,
    },
}

/// Every condition of every rule, in one list, so each event is read from memory once and
/// tested against all of them while it is in cache.
fn plan(rules: &[Rule]) -> (Vec<Matcher<'_>>, Vec<Slots>) {
    let mut matchers = Vec::new();
    let mut slots = Vec::new();
    for r in rules {
        match &r.logic {
            Logic::Sequence { first, then, .. } => {
                matchers.push(Matcher {
                    pre: &first.prefilter,
                    cond: &first.when,
                    roles: &first.roles,
                });
                matchers.push(Matcher {
                    pre: &then.prefilter,
                    cond: &then.when,
                    roles: &then.roles,
                });
                slots.push(Slots::Two {
                    first: matchers.len() - 2,
                    then: matchers.len() - 1,
                });
            }
            Logic::Temporal { steps, .. } => {
                let start = matchers.len();
                for s in steps {
                    matchers.push(Matcher {
                        pre: &s.prefilter,
                        cond: &s.when,
                        roles: &s.roles,
                    });
                }
                slots.push(Slots::Many {
                    start,
                    len: steps.len(),
                });
            }
            _ => {
                matchers.push(Matcher {
                    pre: &r.prefilter,
                    cond: &r.when,
                    roles: &r.roles,
                });
                slots.push(Slots::One(matchers.len() - 1));
            }
        }
    }
    (matchers, slots)
}

/// One user's events that some condition picked out: (event index, role), and per event
/// `words` 64-bit masks of the conditions that matched.
#[derive(Default)]
struct UserHits {
    events: Vec<(u32, Role)>,
    masks: Vec<u64>,
}

/// Splits positions by the values of the `group_by` fields (in first-seen order of groups).
fn group(views: &[EventView<'_>], hits: &[usize], by: &[Field]) -> Vec<(Vec<String>, Vec<usize>)> {
    let mut order: Vec<Vec<String>> = Vec::new();
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for &h in hits {
        let key: Vec<String> = by
            .iter()
            .map(|f| {
                f.first(&views[h])
                    .map(|s| s.to_lowercase())
                    .unwrap_or_default()
            })
            .collect();
        let g = groups.entry(key.clone()).or_default();
        if g.is_empty() {
            order.push(key);
        }
        g.push(h);
    }
    order
        .into_iter()
        .map(|k| {
            let v = groups.remove(&k).unwrap_or_default();
            (k, v)
        })
        .collect()
}

/// A temporal correlation: every step within the window (per `group_by` group).
fn temporal(
    rule: &Rule,
    user: &str,
    views: &[EventView<'_>],
    step_hits: &[Vec<usize>],
    files: &[String],
    out: &mut Vec<Finding>,
) {
    let Logic::Temporal {
        within, ordered, ..
    } = &rule.logic
    else {
        return;
    };
    if step_hits.iter().any(|h| h.is_empty()) {
        return;
    }
    let mut union: Vec<usize> = step_hits.iter().flatten().copied().collect();
    union.sort_unstable();
    union.dedup();
    for (_, members) in group(views, &union, &rule.group_by) {
        let members: FxHashSet<usize> = members.into_iter().collect();
        let steps: Vec<Vec<usize>> = step_hits
            .iter()
            .map(|h| h.iter().copied().filter(|p| members.contains(p)).collect())
            .collect();
        for pos in window::together(views, &steps, *within, *ordered) {
            let mut d = Map::new();
            if let (Some(&a), Some(&b)) = (pos.first(), pos.last()) {
                for f in &rule.group_by {
                    d.insert(
                        f.to_string(),
                        Json::from(f.first(&views[a]).unwrap_or_default()),
                    );
                }
                d.insert("count".into(), Json::from(pos.len()));
                d.insert("window".into(), Json::from(rule::format_duration(*within)));
                d.insert(
                    "span".into(),
                    Json::from(rule::format_duration(
                        views[b].event.time - views[a].event.time,
                    )),
                );
            }
            let refs: Vec<&EventView> = pos.iter().map(|&p| &views[p]).collect();
            out.push(Finding::new(rule, user, &refs, d, files));
        }
    }
}

/// Volume findings of accounts with no history of their own (`details.history_days` 0) are
/// kept only when they also reach `history_factor` times the peers' reference: the 90th
/// percentile of the other accounts' daily peaks for that rule, once at least
/// [`PEERS_MIN_ACCOUNTS`] other accounts have some (a new employee who reads as much as the
/// tenant's heavy readers is not an intrusion).
fn compare_with_peers(
    rules: &[Rule],
    per_user: Vec<(String, Vec<Finding>, Vec<(usize, Vec<f64>)>)>,
) -> Vec<Finding> {
    // Only rules with `history_factor` report daily peaks: rule id -> (factor, each user's peaks).
    type Peers = (f64, Vec<(String, Vec<f64>)>);
    let mut peaks: FxHashMap<&str, Peers> = FxHashMap::default();
    let mut findings = Vec::new();
    for (user, f, p) in per_user {
        for (ri, days) in p {
            if let Logic::Threshold {
                history: Some(factor),
                ..
            } = rules[ri].logic
            {
                let entry = peaks.entry(rules[ri].id()).or_insert((factor, Vec::new()));
                entry.1.push((user.clone(), days));
            }
        }
        findings.extend(f);
    }
    findings.retain_mut(|f| {
        let no_history = f.details.get("history_days").and_then(Json::as_u64) == Some(0);
        let Some((factor, users)) = peaks.get(f.rule_id.as_str()).filter(|_| no_history) else {
            return true;
        };
        let others: Vec<&Vec<f64>> = users
            .iter()
            .filter(|(u, _)| *u != f.user)
            .map(|(_, d)| d)
            .collect();
        if others.len() < PEERS_MIN_ACCOUNTS {
            return true;
        }
        let mut days: Vec<f64> = others.iter().flat_map(|d| d.iter().copied()).collect();
        days.sort_by(f64::total_cmp);
        let Some(&p90) = days.get(days.len() * 9 / 10) else {
            return true;
        };
        let count = f.details.get("count").and_then(Json::as_f64).unwrap_or(0.0);
        if count < factor * p90 {
            return false;
        }
        f.details.insert("peer_peak".into(), number(p90));
        f.details
            .insert("peer_accounts".into(), Json::from(others.len()));
        true
    });
    findings
}

/// Other accounts with matching events needed before the peers' reference counts.
pub const PEERS_MIN_ACCOUNTS: usize = 5;

#[allow(clippy::too_many_arguments)]
fn evaluate(
    rule: &Rule,
    user: &str,
    views: &[EventView<'_>],
    hits: &[usize],
    then_hits: &[usize],
    files: &[String],
    out: &mut Vec<Finding>,
    daily_peaks: &mut Vec<f64>,
) {
    let refs = |pos: &[usize]| -> Vec<&EventView> { pos.iter().map(|&p| &views[p]).collect() };
    // Groups are keyed case-insensitively; the details show the first event's own spelling.
    let grouped_details = |pos: &[usize]| {
        let mut d = Map::new();
        for f in &rule.group_by {
            let v = pos
                .first()
                .and_then(|&p| f.first(&views[p]))
                .unwrap_or_default();
            d.insert(f.to_string(), Json::from(v));
        }
        d
    };
    match &rule.logic {
        Logic::Event => {
            if hits.is_empty() {
                return;
            }
            if rule.group_by.is_empty() {
                // Matches no further apart than the rule's gap are one burst, one finding.
                let mut start = 0;
                for k in 1..=hits.len() {
                    let split = k == hits.len()
                        || views[hits[k]].event.time - views[hits[k - 1]].event.time
                            > rule.burst.gap;
                    if !split {
                        continue;
                    }
                    let pos = &hits[start..k];
                    start = k;
                    let mut d = Map::new();
                    d.insert("count".into(), Json::from(pos.len()));
                    let mut f = Finding::new(rule, user, &refs(pos), d, files);
                    if let Some((min, severity)) = rule.burst.escalate {
                        if pos.len() as u64 >= min && severity > f.severity {
                            f.details.insert(
                                "escalated".into(),
                                Json::from(format!(
                                    "{} from {}: {} matches within one burst (at least {min})",
                                    severity.as_str(),
                                    f.severity.as_str(),
                                    pos.len()
                                )),
                            );
                            f.severity = severity;
                        }
                    }
                    if pos.len() > 1 {
                        f.summary = format!(
                            "{} (and {} more like it until {})",
                            f.summary,
                            pos.len() - 1,
                            crate::normalize::time::format(&f.last)
                        );
                    }
                    out.push(f);
                }
            } else {
                for (_, pos) in group(views, hits, &rule.group_by) {
                    let mut d = grouped_details(&pos);
                    d.insert("count".into(), Json::from(pos.len()));
                    out.push(Finding::new(rule, user, &refs(&pos), d, files));
                }
            }
        }
        Logic::Threshold {
            count,
            min,
            window,
            history,
        } => {
            if hits.is_empty() {
                return;
            }
            for (_, pos) in group(views, hits, &rule.group_by) {
                let list = refs(&pos);
                let days = history.map(|_| window::daily_peaks(&list, count, *window));
                if let Some(days) = &days {
                    daily_peaks.extend(days.iter().map(|(_, p)| *p));
                }
                for b in window::bursts(&list, count, *min, *window) {
                    let mut usual = None;
                    if let (Some(factor), Some(days)) = (history, &days) {
                        let (first, last) = (list[b.start].event.time, list[b.end].event.time);
                        if let Some(u) = window::usual_peak(days, first, last) {
                            if b.peak < factor * u.peak {
                                continue;
                            }
                            usual = Some(u);
                        }
                    }
                    let mut d = grouped_details(&pos[b.start..=b.end]);
                    d.insert("count".into(), number(b.peak));
                    d.insert("total".into(), number(b.total));
                    d.insert("min".into(), number(*min));
                    d.insert("window".into(), Json::from(rule::format_duration(*window)));
                    match usual {
                        Some(u) => {
                            d.insert("usual_peak".into(), number(u.peak));
                            d.insert("history_days".into(), Json::from(u.days));
                        }
                        None if history.is_some() => {
                            d.insert("history_days".into(), Json::from(0));
                        }
                        None => {}
                    }
                    d.insert(
                        "counted".into(),
                        Json::from(match count {
                            rule::Count::Events => "events".to_string(),
                            rule::Count::Items => "items".to_string(),
                            rule::Count::Distinct(f) => format!("distinct {f}"),
                        }),
                    );
                    if let rule::Count::Distinct(f) = count {
                        let vals: BTreeSet<String> = list[b.start..=b.end]
                            .iter()
                            .filter_map(|v| f.first(v))
                            .collect();
                        d.insert(
                            "values".into(),
                            Json::from(vals.into_iter().collect::<Vec<_>>()),
                        );
                    }
                    out.push(Finding::new(rule, user, &list[b.start..=b.end], d, files));
                }
            }
        }
        Logic::Sequence {
            first,
            then,
            within,
            same,
            differ_any,
        } => {
            if then_hits.is_empty() {
                return;
            }
            let first_hits = hits;
            // `then.min`: an occurrence needs at least that many `then` events.
            for occ in window::sequences(
                views, first_hits, then_hits, first, *within, same, differ_any,
            )
            .into_iter()
            .filter(|o| o.then.len() as u64 >= then.min)
            {
                let all: BTreeSet<usize> =
                    occ.first.iter().chain(occ.then.iter()).copied().collect();
                let pos: Vec<usize> = all.into_iter().collect();
                let mut d = Map::new();
                let (f0, t0) = (
                    occ.first.iter().next().copied(),
                    occ.then.iter().next().copied(),
                );
                for (prefix, p) in [("first", f0), ("then", t0)] {
                    if let Some(p) = p {
                        let v = &views[p];
                        d.insert(
                            format!("{prefix}_ip"),
                            Json::from(
                                v.event
                                    .ip
                                    .map(|i| i.to_string())
                                    .unwrap_or_else(|| "?".into()),
                            ),
                        );
                        d.insert(
                            format!("{prefix}_place"),
                            Json::from(baseline::describe_ip(v.ip)),
                        );
                        d.insert(
                            format!("{prefix}_operation"),
                            Json::from(v.event.operation.to_string()),
                        );
                        d.insert(
                            format!("{prefix}_time"),
                            Json::from(crate::normalize::time::format(&v.event.time)),
                        );
                    }
                }
                d.insert("first_count".into(), Json::from(occ.first.len()));
                d.insert("then_count".into(), Json::from(occ.then.len()));
                d.insert("count".into(), Json::from(occ.then.len()));
                d.insert("within".into(), Json::from(rule::format_duration(*within)));
                out.push(Finding::new(rule, user, &refs(&pos), d, files));
            }
        }
        Logic::Temporal { .. } => {}
        Logic::Baseline { detector, field } => {
            if hits.is_empty() {
                return;
            }
            let list = refs(hits);
            // compile() checked that the parameters are there with the right types.
            let num = |n: &str| rule.number(n).unwrap_or(f64::NAN);
            let flag = |n: &str| rule.flag(n).unwrap_or(true);
            match detector {
                rule::Detector::FirstSeen => {
                    let Some(field) = field else { return };
                    let learn = rule.duration("learn").unwrap_or_default();
                    for nv in baseline::first_seen(&list, field, learn) {
                        let ev: Vec<&EventView> = nv.events.iter().map(|&k| list[k]).collect();
                        let mut d = Map::new();
                        d.insert("field".into(), Json::from(field.to_string()));
                        d.insert("value".into(), Json::from(nv.value.clone()));
                        d.insert("place".into(), Json::from(baseline::describe_ip(ev[0].ip)));
                        d.insert("history_events".into(), Json::from(nv.history));
                        d.insert("learn".into(), Json::from(rule::format_duration(learn)));
                        d.insert("count".into(), Json::from(ev.len()));
                        out.push(Finding::new(rule, user, &ev, d, files));
                    }
                }
                rule::Detector::ImpossibleTravel | rule::Detector::ConcurrentSessions => {
                    let min_km = num("min_distance_km");
                    let exempt = flag("exempt_same_device_isp");
                    let hops = if *detector == rule::Detector::ImpossibleTravel {
                        baseline::impossible_travel(&list, num("max_speed_kmh"), min_km, exempt)
                    } else {
                        baseline::concurrent_sessions(
                            &list,
                            rule.duration("within").unwrap_or_default(),
                            min_km,
                            exempt,
                        )
                    };
                    // One finding per pair of addresses, however often the user went back and forth.
                    let mut pairs: BTreeMap<(String, String), Vec<&baseline::Hop>> =
                        BTreeMap::new();
                    let mut order = Vec::new();
                    for h in &hops {
                        let ip =
                            |k: usize| list[k].event.ip.map(|i| i.to_string()).unwrap_or_default();
                        let (a, b) = (ip(h.from), ip(h.to));
                        let key = if a <= b { (a, b) } else { (b, a) };
                        let e = pairs.entry(key.clone()).or_default();
                        if e.is_empty() {
                            order.push(key);
                        }
                        e.push(h);
                    }
                    for key in order {
                        let hs = &pairs[&key];
                        let pos: BTreeSet<usize> = hs.iter().flat_map(|h| [h.from, h.to]).collect();
                        let ev: Vec<&EventView> = pos.iter().map(|&k| list[k]).collect();
                        let d = baseline::hop_details(&list, hs);
                        let mut f = Finding::new(rule, user, &ev, d, files);
                        // Between two access networks (home, office, mobile carrier) a phone
                        // roaming on its home carrier abroad, or a country-level location, looks
                        // the same as travel: a lead, not proof. A hosting, VPN or unknown side
                        // keeps the rule's severity.
                        let access = |v: &&EventView| {
                            v.ip.is_some_and(|i| {
                                matches!(
                                    i.network,
                                    crate::enrich::NetworkKind::Isp
                                        | crate::enrich::NetworkKind::Corporate
                                )
                            })
                        };
                        if ev.iter().all(access) && f.severity > Severity::Low {
                            f.details.insert(
                                "downgraded".into(),
                                Json::from(format!(
                                    "low from {}: both places are access networks (home, office, mobile)",
                                    f.severity.as_str()
                                )),
                            );
                            f.severity = Severity::Low;
                        }
                        out.push(f);
                    }
                }
            }
        }
    }
}

/// CPU time of the process so far (user + system, all threads), where Linux says it: timing on a
/// busy machine is only fair in CPU seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (in parentheses, which may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux configuration in use.
    Some(ticks / 100.0)
}
