//! The engine: every rule over each user's events (users in parallel), bursts, thresholds,
//! sequences, temporal correlations, baselines and the peers' reference, with CPU timing.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{Map, Value as Json};

use super::field::{EventView, Field, Role};
use super::finding::Finding;
use super::matcher::{self, MatchContext};
use super::rule::{self, Logic, Rule, Severity};
use super::tenant::tenant_domains;
use super::{baseline, window};
use crate::enrich::Enrichment;
use crate::model::{Event, Source};

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

static RUN: AtomicU64 = AtomicU64::new(1);

/// The number of the latest run: every [`run`] takes a new one, so a condition that keeps
/// something per event (a plugged-in condition's converted event) can tell an event list freed
/// and another allocated at the same place from the old one.
pub fn run_number() -> u64 {
    RUN.load(Ordering::Relaxed)
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
    let accept = |u: &str| users.is_empty() || users.iter().any(|x| x == u);
    let (findings, peaks) = run_accounts(events, enrichment, rules, files, &accept, tenant);
    with_peers(rules, findings, &peaks)
}

/// Each user's daily peaks for the volume rules that compare an account with its peers
/// (`history_factor`): rule id -> (user, peaks), users in name order. Peaks of different
/// accounts merge ([`Peaks::merge`]), so a staged run (docs/stages.md) gathers them from every
/// group before it judges any account.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Peaks(pub BTreeMap<String, Vec<(String, Vec<f64>)>>);

impl Peaks {
    pub fn merge(&mut self, other: Peaks) {
        for (rule, mut users) in other.0 {
            let into = self.0.entry(rule).or_default();
            into.append(&mut users);
            into.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
}

/// Per accepted account, the addresses and provider networks it acts from every day
/// ([`baseline::Everyday`]): what `ip.everyday` tests on the account's own events.
fn everyday_of<'e>(
    events: &'e [Event],
    enrichment: &Enrichment,
    accept: &(dyn Fn(&str) -> bool + Sync),
) -> FxHashMap<Cow<'e, str>, baseline::Everyday> {
    type Uses<'e> = FxHashMap<Cow<'e, str>, Vec<(chrono::NaiveDate, std::net::IpAddr, bool)>>;
    let uses: Uses<'e> = events
        .par_iter()
        .fold(Uses::default, |mut acc, e| {
            // What the account did, not what was tried against it.
            if let Some(ip) = e.ip.filter(|_| e.outcome != crate::model::Outcome::Failure) {
                let day = e.time.date_naive();
                let user = if e.user.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(e.user.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(&*e.user)
                };
                let list = acc.entry(user).or_default();
                // Events come in time order: an account's repeats within a day mostly follow
                // one another.
                let sign_in = crate::detect::baseline::is_sign_in(e);
                if list.last() != Some(&(day, ip, sign_in)) {
                    list.push((day, ip, sign_in));
                }
            }
            acc
        })
        .reduce(Uses::default, |mut a, b| {
            for (u, mut l) in b {
                a.entry(u).or_default().append(&mut l);
            }
            a
        });
    uses.into_par_iter()
        .filter(|(user, _)| accept(user))
        .filter_map(|(user, list)| {
            let found = baseline::Everyday::of(
                list.into_iter()
                    .map(|(day, ip, sign_in)| (day, ip, enrichment.get(ip), sign_in)),
                baseline::EVERYDAY_MIN_DAYS,
                baseline::EVERYDAY_SHARE,
            );
            (!found.is_empty()).then_some((user, found))
        })
        .collect()
}

/// Detection for the users `accept` takes (lower-case names), before the peers' reference is
/// applied: every finding, and the users' daily peaks ([`Peaks`]). [`with_peers`] finishes.
pub fn run_accounts(
    events: &[Event],
    enrichment: &Enrichment,
    rules: &[Rule],
    files: &[String],
    accept: &(dyn Fn(&str) -> bool + Sync),
    tenant: &[String],
) -> (Vec<Finding>, Peaks) {
    let started = std::time::Instant::now();
    let cpu_started = cpu_seconds();
    RUN.fetch_add(1, Ordering::Relaxed);
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
    let t = std::time::Instant::now();
    let everyday = everyday_of(events, enrichment, accept);
    crate::timing::lap("detect: everyday addresses", t);
    let is_everyday = |e: &Event, user: &str, role: Role| {
        role == Role::Actor
            && e.ip.is_some_and(|ip| {
                everyday
                    .get(user)
                    .is_some_and(|d| d.find(ip, enrichment.for_event(e)).is_some())
            })
    };
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
                    if !accept(&user) {
                        continue;
                    }
                    let v = EventView {
                        event: e,
                        ip,
                        role,
                        everyday: is_everyday(e, &user, role),
                    };
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
                        everyday: is_everyday(event, &user, role),
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
    let mut findings = Vec::new();
    let mut peaks = Peaks::default();
    for (user, f, p) in per_user {
        for (ri, days) in p {
            if let Logic::Threshold {
                history: Some(_), ..
            } = rules[ri].logic
            {
                peaks
                    .0
                    .entry(rules[ri].id().to_string())
                    .or_default()
                    .push((user.clone(), days));
            }
        }
        findings.extend(f);
    }
    findings.sort_by(Finding::order);
    if crate::timing::enabled() {
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
    (findings, peaks)
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
pub fn with_peers(rules: &[Rule], mut findings: Vec<Finding>, peaks: &Peaks) -> Vec<Finding> {
    findings.retain_mut(|f| {
        let no_history = f.details.get("history_days").and_then(Json::as_u64) == Some(0);
        let factor = rules
            .iter()
            .find(|r| r.id() == f.rule_id)
            .and_then(|r| match r.logic {
                Logic::Threshold {
                    history: Some(factor),
                    ..
                } => Some(factor),
                _ => None,
            });
        let (Some(factor), Some(users), true) = (factor, peaks.0.get(&f.rule_id), no_history)
        else {
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
