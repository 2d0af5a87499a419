//! Campaign pivots: other accounts in the evidence reached from the attacker's IPs, hosting or
//! VPN network (ASN), user agent, or forwarding address. One attacker rarely stops at one mailbox.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

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
pub fn pivots<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    ips: &Enrichment,
    user: &str,
    footprint: &Footprint,
    blast: &BlastRadius,
) -> Vec<Pivot> {
    // Compared as addresses, so no event's address is formatted unless it matches.
    let attacker_ips: BTreeSet<std::net::IpAddr> = footprint
        .ips
        .iter()
        .filter_map(|k| k.key.parse().ok())
        .collect();
    let attacker_asns: BTreeSet<u32> = footprint
        .asns
        .iter()
        .copied()
        .filter(|a| {
            footprint.ips.iter().any(|k| {
                k.key
                    .parse()
                    .ok()
                    .and_then(|ip| ips.get(ip))
                    .is_some_and(|i| i.asn == Some(*a) && i.network.is_rented())
            })
        })
        .collect();
    let agents: BTreeSet<&str> = footprint.user_agents.iter().map(String::as_str).collect();
    let forwards: BTreeSet<&str> = blast
        .forwarding_targets
        .iter()
        .map(String::as_str)
        .collect();
    let mut acc: BTreeMap<(String, &'static str, String), (u64, DateTime<Utc>, DateTime<Utc>)> =
        BTreeMap::new();
    let mut add = |who: &str, shared: &'static str, key: String, t: DateTime<Utc>| {
        let s = acc
            .entry((who.to_string(), shared, key))
            .or_insert((0, t, t));
        s.0 += 1;
        s.1 = s.1.min(t);
        s.2 = s.2.max(t);
    };
    for e in events.into_iter().filter(|e| *e.user != *user) {
        if let Some(ip) = e.ip {
            if attacker_ips.contains(&ip) {
                add(&e.user, "ip", ip.to_string(), e.time);
            } else if let Some(a) = ips
                .get(ip)
                .and_then(|i| i.asn)
                .filter(|a| attacker_asns.contains(a))
            {
                add(&e.user, "asn", format!("AS{a}"), e.time);
            }
        }
        if let Some(ua) = e.user_agent.as_deref().filter(|u| agents.contains(u)) {
            add(&e.user, "user_agent", ua.to_string(), e.time);
        }
        for (k, v) in e.attrs.iter().filter(|_| !forwards.is_empty()) {
            if k.starts_with("param.") {
                for f in &forwards {
                    if v.to_lowercase().contains(f) {
                        add(&e.user, "forwarding_address", f.to_string(), e.time);
                    }
                }
            }
        }
    }
    acc.into_iter()
        .map(|((user, shared, key), (events, first, last))| Pivot {
            user,
            shared: Cow::Borrowed(shared),
            key,
            events,
            first,
            last,
        })
        .collect()
}
