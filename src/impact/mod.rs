//! Impact: after "was this account taken over?", the questions that decide notice, recovery
//! and the report. Which events are the attacker's ([`attribution`]), when they were in
//! ([`window`]), what they read, sent, deleted and changed ([`blast_radius`]), who must be told
//! ([`recipients`]) and which other accounts the same attacker reached ([`pivots`]).

pub mod attribution;
pub mod blast_radius;
pub mod pivots;
pub mod recipients;
pub mod window;

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enrich::Enrichment;
use crate::model::{Event, Source};
pub use attribution::{AttributionOptions, Confidence, Footprint, Lead};
pub use blast_radius::BlastRadius;
pub use pivots::Pivot;
pub use recipients::{NotificationList, Recipient, SentBy};
pub use window::CompromiseWindow;

/// Where an event is in the evidence, for citing it (the same record findings cite).
pub use crate::detect::Evidence;

/// One event attributed to the attacker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributedEvent {
    pub evidence: Evidence,
    pub ip: Option<String>,
    pub confidence: Confidence,
    pub why: String,
}

/// What the evidence says about one account.
///
/// - `compromised`: a score of at least [`VerdictOptions::compromised_score`] from findings on
///   activity that succeeded, *and* attacker activity attributed in the account;
/// - `suspicious`: a score of at least [`VerdictOptions::suspicious_score`] from such findings,
///   without the proof above;
/// - `targeted`: findings only on attempts that failed (a password spray, denied MFA prompts):
///   someone went after the account, nothing says they got in;
/// - `clean`: nothing above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Clean,
    Targeted,
    Suspicious,
    Compromised,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Targeted => "targeted",
            Verdict::Suspicious => "suspicious",
            Verdict::Compromised => "compromised",
        }
    }
}

/// Weights of findings in a user's score, by severity (informational .. critical). One finding
/// per rule counts, so a noisy rule cannot make a verdict alone.
pub const SEVERITY_WEIGHTS: [u32; 5] = [0, 2, 10, 25, 50];

/// An identity in the evidence that is not an account (a system identity, an app or service
/// principal, an anonymous user), with the rules that fired on its records. These get no verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActorFindings {
    pub actor: String,
    pub kind: crate::model::ActorKind,
    pub rules: Vec<String>,
    pub findings: usize,
}

/// Tunable thresholds of the verdict, with reasons.
#[derive(Clone, Debug)]
pub struct VerdictOptions {
    /// Compromised needs this score (50: one critical finding, or two high ones) *and* an
    /// attacker footprint: signals without attacker activity are suspicious, not proof.
    pub compromised_score: u32,
    /// Suspicious from this score (20: one high finding, or two medium ones of different
    /// rules). A single medium finding (a VPN sign-in, a third-party mail client, a delegate's
    /// permission) is an everyday event in a real tenant, not enough to put a person on a list.
    pub suspicious_score: u32,
}

impl Default for VerdictOptions {
    fn default() -> Self {
        VerdictOptions {
            compromised_score: 50,
            suspicious_score: 20,
        }
    }
}

/// Options for the whole impact stage.
#[derive(Clone, Debug, Default)]
pub struct ImpactOptions {
    pub attribution: AttributionOptions,
    pub verdict: VerdictOptions,
    /// Tenant domains; inferred from the evidence when empty.
    pub tenant_domains: Vec<String>,
}

/// One account's assessment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserImpact {
    pub user: String,
    pub verdict: Verdict,
    pub score: u32,
    /// The rules that fired for the user, by id.
    pub rules: Vec<String>,
    pub window: Option<CompromiseWindow>,
    pub footprint: Footprint,
    /// Every event attributed to the attacker, in time order, with why and how sure.
    pub attacker_events: Vec<AttributedEvent>,
    pub blast_radius: BlastRadius,
    pub recipients: NotificationList,
    /// Compromised or suspicious accounts that got internal mail from the attacker.
    pub accounts_reached: Vec<String>,
    pub pivots: Vec<Pivot>,
    /// User agents and hosting networks of the attacker's that too many other accounts share
    /// to list them one by one ([`pivots::split_common`]).
    #[serde(default)]
    pub common_pivot_keys: Vec<pivots::CommonKey>,
}

/// The impact of every account with leads against it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Impact {
    pub tenant_domains: Vec<String>,
    pub users: Vec<UserImpact>,
    /// Identities that are not accounts, with their findings (no verdict), by name.
    pub actors: Vec<ActorFindings>,
}

impl Impact {
    /// The compromised, suspicious and targeted accounts, most serious first (verdict, score,
    /// then name).
    pub fn flagged(&self) -> Vec<&UserImpact> {
        let mut users: Vec<&UserImpact> = self
            .users
            .iter()
            .filter(|u| u.verdict != Verdict::Clean)
            .collect();
        users.sort_by(|a, b| {
            b.verdict
                .cmp(&a.verdict)
                .then(b.score.cmp(&a.score))
                .then(a.user.cmp(&b.user))
        });
        users
    }
}

/// Assesses every user that has leads, in parallel; users in name order. Then links the
/// accounts: which flagged accounts the attacker's mail reached ([`reach`]), and which other
/// accounts share the attacker's keys (pivots).
pub fn assess(
    events: &[Event],
    files: &[String],
    ips: &Enrichment,
    leads: &[Lead],
    opts: &ImpactOptions,
) -> Impact {
    let mut impact = assess_accounts(events, files, ips, leads, opts);
    reach(&mut impact.users);
    let accounts = events
        .iter()
        .map(|e| &*e.user)
        .collect::<std::collections::HashSet<&str>>()
        .len() as u64;
    for u in impact
        .users
        .iter_mut()
        .filter(|u| u.verdict == Verdict::Compromised)
    {
        let limit = pivots::common_limit(accounts);
        let (list, common) =
            pivots::pivots(events, ips, &u.user, &u.footprint, &u.blast_radius, limit);
        (u.pivots, u.common_pivot_keys) = pivots::split_common(list, common, accounts);
    }
    impact
}

/// Each account with leads on its own: verdict, window, footprint, blast radius and
/// notification list, without what needs every verdict ([`reach`]) or every other account's
/// events (pivots). Users in name order.
pub fn assess_accounts(
    events: &[Event],
    files: &[String],
    ips: &Enrichment,
    leads: &[Lead],
    opts: &ImpactOptions,
) -> Impact {
    let tenant = if opts.tenant_domains.is_empty() {
        recipients::tenant_domains(events)
    } else {
        opts.tenant_domains
            .iter()
            .map(|d| d.trim().to_lowercase())
            .collect()
    };
    let mut by_user: BTreeMap<String, Vec<&Lead>> = BTreeMap::new();
    let mut actors: BTreeMap<String, Vec<&Lead>> = BTreeMap::new();
    for l in leads {
        let user = l.user.to_lowercase();
        if crate::model::ActorKind::of(&user) == crate::model::ActorKind::Account {
            by_user.entry(user).or_default().push(l);
        } else {
            actors.entry(user).or_default().push(l);
        }
    }
    let actors: Vec<ActorFindings> = actors
        .into_iter()
        .map(|(actor, ls)| {
            let rules: std::collections::BTreeSet<String> =
                ls.iter().map(|l| l.rule_id.clone()).collect();
            ActorFindings {
                kind: crate::model::ActorKind::of(&actor),
                actor,
                rules: rules.into_iter().collect(),
                findings: ls.len(),
            }
        })
        .collect();
    let mut events_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut trace_by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if by_user.contains_key(&*e.user) {
            events_of.entry(&e.user).or_default().push(i);
        }
        if e.source == Source::Messagetrace {
            if let Some(id) = e.attr("message_id") {
                trace_by_id.entry(id).or_default().push(i);
            }
        }
    }
    let empty = Vec::new();
    let actions = window::containment_actions(events);
    let mut users: Vec<UserImpact> = by_user
        .par_iter()
        .map(|(user, user_leads)| {
            let mine = events_of.get(user.as_str()).unwrap_or(&empty);
            let owned: Vec<Lead> = user_leads.iter().map(|l| (*l).clone()).collect();
            let footprint = attribution::attribute(events, mine, &owned, ips, &opts.attribution);
            let mut rules: BTreeMap<&str, u8> = BTreeMap::new();
            let mut attempted = false;
            for l in user_leads {
                if l.attempt {
                    attempted |= l.severity >= 2;
                    continue;
                }
                let s = rules.entry(l.rule_id.as_str()).or_insert(0);
                *s = (*s).max(l.severity.min(4));
            }
            let score: u32 = rules.values().map(|s| SEVERITY_WEIGHTS[*s as usize]).sum();
            let verdict = if score >= opts.verdict.compromised_score && !footprint.is_empty() {
                Verdict::Compromised
            } else if score >= opts.verdict.suspicious_score {
                Verdict::Suspicious
            } else if attempted {
                Verdict::Targeted
            } else {
                Verdict::Clean
            };
            // Every rule that fired is listed, attempts included.
            for l in user_leads.iter().filter(|l| l.attempt) {
                rules.entry(l.rule_id.as_str()).or_insert(0);
            }
            let window = window::window(events, &actions, files, user, &footprint);
            let blast_radius = if verdict == Verdict::Compromised {
                blast_radius::blast_radius(events, files, user, &footprint, &trace_by_id, &tenant)
            } else {
                BlastRadius::default()
            };
            let recipients = match (&window, verdict) {
                (Some(w), Verdict::Compromised) => recipients::notification_list(
                    events,
                    files,
                    user,
                    Some(w.start),
                    Some(w.end),
                    &tenant,
                    Some(&footprint),
                ),
                _ => NotificationList {
                    user: user.clone(),
                    ..NotificationList::default()
                },
            };
            let attacker_events = footprint
                .events
                .iter()
                .map(|(i, confidence, why)| AttributedEvent {
                    evidence: Evidence::of(&events[*i], files),
                    ip: events[*i].ip.map(|ip| ip.to_string()),
                    confidence: *confidence,
                    why: why.clone(),
                })
                .collect();
            UserImpact {
                user: user.clone(),
                verdict,
                score,
                attacker_events,
                rules: rules.keys().map(|r| r.to_string()).collect(),
                window,
                footprint,
                blast_radius,
                recipients,
                accounts_reached: Vec::new(),
                pivots: Vec::new(),
                common_pivot_keys: Vec::new(),
            }
        })
        .collect();
    users.sort_by(|a, b| a.user.cmp(&b.user));
    Impact {
        tenant_domains: tenant,
        users,
        actors,
    }
}

/// Needing every verdict: per compromised account, the internal recipients of the attacker's
/// mail that are compromised or suspicious themselves.
pub fn reach(users: &mut [UserImpact]) {
    let flagged: BTreeMap<String, Verdict> = users
        .iter()
        .filter(|u| u.verdict >= Verdict::Suspicious)
        .map(|u| (u.user.clone(), u.verdict))
        .collect();
    for u in users
        .iter_mut()
        .filter(|u| u.verdict == Verdict::Compromised)
    {
        let mut reached: Vec<String> = u
            .recipients
            .recipients
            .iter()
            .filter(|r| r.internal && r.recipient != u.user && flagged.contains_key(&r.recipient))
            .map(|r| r.recipient.clone())
            .collect();
        reached.sort();
        reached.dedup();
        u.accounts_reached = reached;
    }
}

/// The leads the detect stage's findings give: each finding's evidence rows, found again among
/// the events by file and record.
pub fn leads_from_findings(
    events: &[Event],
    files: &[String],
    findings: &[crate::detect::Finding],
) -> Vec<Lead> {
    let file_ids: BTreeMap<&str, u32> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i as u32))
        .collect();
    let mut by_origin: BTreeMap<(u32, u64), Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        by_origin
            .entry((e.origin.file, e.origin.record))
            .or_default()
            .push(i);
    }
    findings
        .iter()
        .map(|f| {
            let mut idx: Vec<usize> = f
                .evidence
                .iter()
                .filter_map(|ev| file_ids.get(ev.file.as_str()).map(|id| (*id, ev.record)))
                .filter_map(|k| by_origin.get(&k))
                .flatten()
                .copied()
                .filter(|i| events[*i].user.eq_ignore_ascii_case(&f.user))
                .collect();
            idx.sort_unstable();
            idx.dedup();
            Lead {
                rule_id: f.rule_id.clone(),
                severity: f.severity as u8,
                user: f.user.to_lowercase(),
                attempt: !idx.is_empty() && idx.iter().all(|&i| events[i].is_attempt()),
                no_seed: f.no_seed,
                events: idx,
            }
        })
        .collect()
}
