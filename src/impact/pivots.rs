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

/// A user agent or hosting network of the attacker's that so many other accounts share that
/// listing them tells nothing (the tenant's everyday browser, a cloud provider): its kind, the
/// key and how many other accounts share it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CommonKey {
    pub shared: Cow<'static, str>,
    pub key: String,
    pub accounts: u64,
}

/// Other accounts beyond which a user agent or hosting network is too common to pivot on: 25,
/// or 2% of the accounts in the evidence in a tenant of more than 1,250.
pub fn common_limit(accounts_in_evidence: u64) -> u64 {
    (accounts_in_evidence / 50).max(25)
}

/// One account's pivots (sorted) from every group of a staged run, with the keys each group
/// found too common: the user-agent and network keys shared with more than [`common_limit`]
/// other accounts in all are counted (groups hold disjoint accounts, so their counts add up),
/// the rest listed. Addresses and forwarding addresses are always listed.
pub fn split_common(
    list: Vec<Pivot>,
    partial: Vec<CommonKey>,
    accounts_in_evidence: u64,
) -> (Vec<Pivot>, Vec<CommonKey>) {
    let limit = common_limit(accounts_in_evidence);
    let mut sharing: BTreeMap<(Cow<'static, str>, String), u64> = BTreeMap::new();
    for c in partial {
        *sharing.entry((c.shared, c.key)).or_default() += c.accounts;
    }
    for p in list
        .iter()
        .filter(|p| p.shared == "user_agent" || p.shared == "asn")
    {
        *sharing
            .entry((p.shared.clone(), p.key.clone()))
            .or_default() += 1;
    }
    let common: Vec<CommonKey> = sharing
        .into_iter()
        .filter(|(_, n)| *n > limit)
        .map(|((shared, key), accounts)| CommonKey {
            shared,
            key,
            accounts,
        })
        .collect();
    if common.is_empty() {
        return (list, common);
    }
    let kept = list
        .into_iter()
        .filter(|p| {
            !common
                .iter()
                .any(|c| c.shared == p.shared && c.key == p.key)
        })
        .collect();
    (kept, common)
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
    limit: u64,
) -> (Vec<Pivot>, Vec<CommonKey>) {
    pivots_many(events, |_| true, ips, &[(user, footprint, blast)], limit)
        .pop()
        .unwrap_or_default()
}

/// [`pivots`] of several compromised accounts at once, in one pass over the events `counts`
/// keeps (in parallel): one list per account, in the order given. A user agent or network
/// shared with more than `limit` of these events' accounts is counted, not listed (a part of
/// the count, in a staged run: see [`split_common`]).
pub fn pivots_many(
    events: &[Event],
    counts: impl Fn(&Event) -> bool + Sync,
    ips: &Enrichment,
    accounts: &[(&str, &Footprint, &BlastRadius)],
    limit: u64,
) -> Vec<(Vec<Pivot>, Vec<CommonKey>)> {
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
    // Keys too common to list, per account.
    let mut sharing: FxHashMap<(usize, Key), u64> = FxHashMap::default();
    for &(n, _, key) in merged.keys() {
        if matches!(key, Key::Agent(_) | Key::Asn(_)) {
            *sharing.entry((n, key)).or_default() += 1;
        }
    }
    let mut out: Vec<(Vec<Pivot>, Vec<CommonKey>)> = vec![Default::default(); accounts.len()];
    for (&(n, key), &count) in &sharing {
        let (shared, key) = match key {
            Key::Asn(a) => ("asn", format!("AS{a}")),
            Key::Agent(ua) => ("user_agent", ua.to_string()),
            _ => continue,
        };
        if count > limit {
            out[n].1.push(CommonKey {
                shared: Cow::Borrowed(shared),
                key,
                accounts: count,
            });
        }
    }
    for ((n, user, key), (events, first, last)) in merged {
        if sharing.get(&(n, key)).is_some_and(|c| *c > limit) {
            continue;
        }
        let (shared, key) = match key {
            Key::Ip(ip) => ("ip", ip.to_string()),
            Key::Asn(a) => ("asn", format!("AS{a}")),
            Key::Agent(ua) => ("user_agent", ua.to_string()),
            Key::Forward(f) => ("forwarding_address", f.to_string()),
        };
        out[n].0.push(Pivot {
            user: user.to_string(),
            shared: Cow::Borrowed(shared),
            key,
            events,
            first,
            last,
        });
    }
    // In the order of the per-account lists of old: user, kind, key.
    for (list, common) in out.iter_mut() {
        list.sort_by(|a, b| (&a.user, &a.shared, &a.key).cmp(&(&b.user, &b.shared, &b.key)));
        common.sort();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pivot(user: &str, shared: &'static str, key: &str) -> Pivot {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        Pivot {
            user: user.to_string(),
            shared: Cow::Borrowed(shared),
            key: key.to_string(),
            events: 1,
            first: t,
            last: t,
        }
    }

    #[test]
    fn keys_shared_by_too_many_accounts_are_counted_not_listed() {
        let mut list = Vec::new();
        for i in 0..30 {
            let user = format!("u{i:02}@x.com");
            list.push(pivot(&user, "user_agent", "Chrome"));
            list.push(pivot(&user, "asn", "AS8075"));
            // The attacker's address itself is listed however many share it.
            list.push(pivot(&user, "ip", "203.0.113.7"));
        }
        for user in ["a@x.com", "b@x.com", "c@x.com"] {
            list.push(pivot(user, "user_agent", "python-requests/2.31"));
        }
        list.sort();
        // 1,000 accounts: the limit is 25 other accounts.
        let (kept, common) = split_common(list.clone(), Vec::new(), 1_000);
        assert_eq!(
            common,
            [
                CommonKey {
                    shared: "asn".into(),
                    key: "AS8075".into(),
                    accounts: 30
                },
                CommonKey {
                    shared: "user_agent".into(),
                    key: "Chrome".into(),
                    accounts: 30
                }
            ]
        );
        assert_eq!(kept.iter().filter(|p| p.shared == "ip").count(), 30);
        assert_eq!(
            kept.iter()
                .filter(|p| p.key == "python-requests/2.31")
                .count(),
            3
        );
        assert_eq!(kept.len(), 33);
        // In a tenant of 2,000 accounts the limit is 40: nothing is too common.
        let (kept, common) = split_common(list.clone(), Vec::new(), 2_000);
        assert!(common.is_empty());
        assert_eq!(kept, list);
    }
}
