//! Campaign pivots: other accounts in the evidence reached from the attacker's IPs, hosting or
//! VPN network (ASN), user agent, or forwarding address. One attacker rarely stops at one mailbox.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::attribution::Footprint;
use super::blast_radius::BlastRadius;
use crate::enrich::Enrichment;
use crate::model::Event;

/// Another account that shares a key with the attacker's footprint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pivot {
    pub user: String,
    /// `ip`, `asn`, `user_agent` or `forwarding_address` ([`SHARED_KINDS`]).
    pub shared: Cow<'static, str>,
    pub key: String,
    pub events: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// The kinds of key a pivot can share.
pub const SHARED_KINDS: [&str; 4] = ["ip", "asn", "user_agent", "forwarding_address"];

/// Other accounts that share the footprint's keys. An ASN counts only when it is a hosting or
/// VPN network: a residential ISP is shared by half the staff.
pub fn pivots(
    events: &[Event],
    ips: &Enrichment,
    user: &str,
    footprint: &Footprint,
    blast: &BlastRadius,
) -> Vec<Pivot> {
    pivots_many(events, |_| true, ips, &[(user, footprint, blast)])
        .pop()
        .unwrap_or_default()
}

/// [`pivots`] of several compromised accounts at once, in one pass over the events `counts`
/// keeps (in parallel): one list per account, in the order given.
pub fn pivots_many(
    events: &[Event],
    counts: impl Fn(&Event) -> bool + Sync,
    ips: &Enrichment,
    accounts: &[(&str, &Footprint, &BlastRadius)],
) -> Vec<Vec<Pivot>> {
    // Which accounts' attackers used each key. Addresses are compared as addresses, so no
    // event's address is formatted unless it matches.
    let mut by_ip: BTreeMap<IpAddr, Vec<usize>> = BTreeMap::new();
    let mut by_asn: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    let mut by_agent: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut forwards: Vec<(&str, usize)> = Vec::new();
    for (n, (_, footprint, blast)) in accounts.iter().enumerate() {
        let attacker_ips: BTreeSet<IpAddr> = footprint
            .ips
            .iter()
            .filter_map(|k| k.key.parse().ok())
            .collect();
        for ip in &attacker_ips {
            by_ip.entry(*ip).or_default().push(n);
        }
        for a in footprint.asns.iter().copied().filter(|a| {
            attacker_ips.iter().any(|ip| {
                ips.get(*ip)
                    .is_some_and(|i| i.asn == Some(*a) && i.network.is_rented())
            })
        }) {
            by_asn.entry(a).or_default().push(n);
        }
        for ua in &footprint.user_agents {
            by_agent.entry(ua.as_str()).or_default().push(n);
        }
        for f in &blast.forwarding_targets {
            forwards.push((f.as_str(), n));
        }
    }
    // Keys borrowed from the events and the footprints; text is made only for the pivots found.
    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    enum Key<'k> {
        Ip(IpAddr),
        Asn(u32),
        Agent(&'k str),
        Forward(&'k str),
    }
    /// Events, first and last time.
    type Stats = (u64, DateTime<Utc>, DateTime<Utc>);
    fn add_stats(into: &mut Stats, (c, first, last): Stats) {
        into.0 += c;
        into.1 = into.1.min(first);
        into.2 = into.2.max(last);
    }
    // First, per acting account and key seen (an address that is an attacker's or in an
    // attacker's hosting network, a user agent, a forwarding address), the events: one entry
    // per account and key, however many attackers share the key. Then those go to each
    // attacker's list: work in the distinct (account, key) pairs, not in events x attackers (a
    // cloud provider's network can be shared by a hundred attackers and seen in most events).
    type Seen<'k> = FxHashMap<(&'k str, Key<'k>), Stats>;
    fn see<'k>(acc: &mut Seen<'k>, who: &'k str, key: Key<'k>, t: DateTime<Utc>) {
        add_stats(acc.entry((who, key)).or_insert((0, t, t)), (1, t, t));
    }
    let mut forward_keys: Vec<&str> = forwards.iter().map(|(f, _)| *f).collect();
    forward_keys.sort_unstable();
    forward_keys.dedup();
    // Large pieces: each piece's map can hold most accounts' keys (a common user agent).
    let seen: Seen = events
        .par_iter()
        .with_min_len(1 << 16)
        .filter(|e| counts(e))
        .fold(Seen::default, |mut acc, e| {
            if let Some(ip) = e.ip {
                let rented = ips
                    .get(ip)
                    .and_then(|i| i.asn)
                    .is_some_and(|a| by_asn.contains_key(&a));
                if rented || by_ip.contains_key(&ip) {
                    see(&mut acc, &e.user, Key::Ip(ip), e.time);
                }
            }
            if let Some((ua, _)) = e
                .user_agent
                .as_deref()
                .and_then(|ua| by_agent.get_key_value(ua))
            {
                see(&mut acc, &e.user, Key::Agent(ua), e.time);
            }
            if !forward_keys.is_empty() {
                for (_, v) in e.attrs.iter().filter(|(k, _)| k.starts_with("param.")) {
                    let v = v.to_lowercase();
                    for f in forward_keys.iter().filter(|f| v.contains(**f)) {
                        see(&mut acc, &e.user, Key::Forward(f), e.time);
                    }
                }
            }
            acc
        })
        .reduce(Seen::default, |mut a, b| {
            for (k, st) in b {
                match a.entry(k) {
                    std::collections::hash_map::Entry::Occupied(mut o) => {
                        add_stats(o.get_mut(), st)
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(st);
                    }
                }
            }
            a
        });
    type Found<'k> = FxHashMap<(usize, &'k str, Key<'k>), Stats>;
    let mut merged: Found = FxHashMap::default();
    let victims: Vec<&str> = accounts.iter().map(|a| a.0).collect();
    // Another account than the attacker's victim.
    fn give<'k>(
        into: &mut Found<'k>,
        victims: &[&str],
        n: usize,
        who: &'k str,
        key: Key<'k>,
        st: Stats,
    ) {
        if who != victims[n] {
            add_stats(into.entry((n, who, key)).or_insert((0, st.1, st.2)), st);
        }
    }
    for (&(who, key), &st) in &seen {
        match key {
            Key::Ip(ip) => {
                let on_ip = by_ip.get(&ip);
                for n in on_ip.into_iter().flatten() {
                    give(&mut merged, &victims, *n, who, Key::Ip(ip), st);
                }
                // The network counts for the attackers that did not use this very address.
                if let Some(a) = ips.get(ip).and_then(|i| i.asn) {
                    for n in by_asn.get(&a).into_iter().flatten() {
                        if !on_ip.is_some_and(|l| l.contains(n)) {
                            give(&mut merged, &victims, *n, who, Key::Asn(a), st);
                        }
                    }
                }
            }
            Key::Agent(ua) => {
                for n in by_agent.get(ua).into_iter().flatten() {
                    give(&mut merged, &victims, *n, who, key, st);
                }
            }
            Key::Forward(f) => {
                for (_, n) in forwards.iter().filter(|(g, _)| *g == f) {
                    give(&mut merged, &victims, *n, who, key, st);
                }
            }
            Key::Asn(_) => {}
        }
    }
    let mut out: Vec<Vec<Pivot>> = vec![Vec::new(); accounts.len()];
    for ((n, user, key), (events, first, last)) in merged {
        let (shared, key) = match key {
            Key::Ip(ip) => ("ip", ip.to_string()),
            Key::Asn(a) => ("asn", format!("AS{a}")),
            Key::Agent(ua) => ("user_agent", ua.to_string()),
            Key::Forward(f) => ("forwarding_address", f.to_string()),
        };
        out[n].push(Pivot {
            user: user.to_string(),
            shared: Cow::Borrowed(shared),
            key,
            events,
            first,
            last,
        });
    }
    // In the order of the per-account lists of old: user, kind, key.
    for list in out.iter_mut() {
        list.sort_by(|a, b| (&a.user, &a.shared, &a.key).cmp(&(&b.user, &b.shared, &b.key)));
    }
    out
}
