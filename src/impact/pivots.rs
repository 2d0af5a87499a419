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
    type Acc<'k> = FxHashMap<(usize, &'k str, Key<'k>), (u64, DateTime<Utc>, DateTime<Utc>)>;
    fn add<'k>(acc: &mut Acc<'k>, n: usize, who: &'k str, key: Key<'k>, t: DateTime<Utc>) {
        let s = acc.entry((n, who, key)).or_insert((0, t, t));
        s.0 += 1;
        s.1 = s.1.min(t);
        s.2 = s.2.max(t);
    }
    // Large pieces: each piece's map can hold a pivot for most accounts (a common user agent).
    let merged: Acc = events
        .par_iter()
        .with_min_len(1 << 16)
        .filter(|e| counts(e))
        .fold(Acc::default, |mut acc, e| {
            let other = |n: &usize| *e.user != *accounts[*n].0;
            if let Some(ip) = e.ip {
                let on_ip = by_ip.get(&ip);
                for n in on_ip.into_iter().flatten().filter(|n| other(n)) {
                    add(&mut acc, *n, &e.user, Key::Ip(ip), e.time);
                }
                if let Some(a) = ips.get(ip).and_then(|i| i.asn) {
                    for n in by_asn.get(&a).into_iter().flatten().filter(|n| other(n)) {
                        if !on_ip.is_some_and(|l| l.contains(n)) {
                            add(&mut acc, *n, &e.user, Key::Asn(a), e.time);
                        }
                    }
                }
            }
            if let Some((ua, list)) = e
                .user_agent
                .as_deref()
                .and_then(|ua| by_agent.get_key_value(ua))
            {
                for n in list.iter().filter(|n| other(n)) {
                    add(&mut acc, *n, &e.user, Key::Agent(ua), e.time);
                }
            }
            if !forwards.is_empty() {
                for (_, v) in e.attrs.iter().filter(|(k, _)| k.starts_with("param.")) {
                    let v = v.to_lowercase();
                    for (f, n) in forwards.iter().filter(|(_, n)| other(n)) {
                        if v.contains(f) {
                            add(&mut acc, *n, &e.user, Key::Forward(f), e.time);
                        }
                    }
                }
            }
            acc
        })
        .reduce(Acc::default, |mut a, b| {
            for (k, (c, first, last)) in b {
                let s = a.entry(k).or_insert((0, first, last));
                s.0 += c;
                s.1 = s.1.min(first);
                s.2 = s.2.max(last);
            }
            a
        });
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
