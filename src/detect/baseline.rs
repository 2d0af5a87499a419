//! Per-user baselines and geography, from the user's own history in the evidence: values seen
//! for the first time ([`first_seen`]), [`impossible_travel`] between consecutive sign-ins, and
//! [`concurrent_sessions`] from distant places.
//!
//! Where a location is only a country's centre, distances are rough: findings say
//! `precision: country-centroid`, and the rules' minimum distances keep neighbouring countries
//! from being called travel.

use chrono::Duration;
use serde_json::{Map, Value as Json};

use super::field::{EventView, Field, Value};
use super::window::same_value;
use crate::enrich::{distance_km, IpInfo, NetworkKind, Precision};

/// A value of `field` new for the user: its first event and every later one with it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewValue {
    pub value: String,
    /// Positions in the hit list.
    pub events: Vec<usize>,
    /// Events in the learning period the baseline was built from.
    pub history: usize,
}

/// Values of `field` that the user had not shown in the first `learn` of their history (from
/// their first hit) nor earlier. A user whose hits all fall in the learning period has no
/// finding: there is nothing to compare with.
pub fn first_seen(hits: &[&EventView<'_>], field: &Field, learn: Duration) -> Vec<NewValue> {
    let Some(start) = hits.first().map(|v| v.event.time) else {
        return Vec::new();
    };
    // A user has a handful of countries or networks: a short list searched in order beats
    // hashing a lower-cased copy of every value.
    let mut known: Vec<Value<'_>> = Vec::new();
    let mut history = 0;
    let mut found: Vec<(Value<'_>, NewValue)> = Vec::new();
    for (k, v) in hits.iter().enumerate() {
        let Some(value) = field.first_value(v) else {
            continue;
        };
        if v.event.time - start <= learn {
            history += 1;
            if !known.iter().any(|x| same_value(*x, value)) {
                known.push(value);
            }
            continue;
        }
        if known.iter().any(|x| same_value(*x, value)) {
            continue;
        }
        match found.iter_mut().find(|(x, _)| same_value(*x, value)) {
            Some((_, nv)) => nv.events.push(k),
            None => found.push((
                value,
                NewValue {
                    value: value.to_text(),
                    events: vec![k],
                    history: 0,
                },
            )),
        }
    }
    found
        .into_iter()
        .map(|(_, mut nv)| {
            nv.history = history;
            nv
        })
        .collect()
}

/// An account's everyday addresses: those that carried its activity on its first active day in
/// the evidence, on at least `min_days` days and on at least `share` of its active days (UTC
/// dates with an event from an address). A person on a dedicated VPN address, a personal cloud
/// desktop or a fixed office line works from it every working day; their phone on weekends
/// and trips keep the share below one. A takeover's address arrives after the account's own
/// activity began. The only address the account acted from in the whole evidence is everyday
/// too when that covers [`SOLE_MIN_DAYS`] days: a cloud desktop is a user's one address from the
/// first event on, and evidence of a few days has no other to set it against. Each comes with
/// the days it was used on and the account's active days.
/// Takes the account's (UTC date, key) pairs in any order; `keep` has the last word on a key.
fn everyday_keys<K: Ord + Copy>(
    uses: impl IntoIterator<Item = (chrono::NaiveDate, K)>,
    min_days: usize,
    share: f64,
    keep: impl Fn(&K) -> bool,
) -> Vec<(K, usize, usize)> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut days_of: BTreeMap<K, BTreeSet<chrono::NaiveDate>> = BTreeMap::new();
    let mut active: BTreeSet<chrono::NaiveDate> = BTreeSet::new();
    for (day, key) in uses {
        active.insert(day);
        days_of.entry(key).or_default().insert(day);
    }
    let n = active.len();
    let Some(first) = active.first().copied() else {
        return Vec::new();
    };
    // The one address of all the evidence: nothing else to tell the account's own from.
    let alone = days_of.len() == 1;
    days_of
        .into_iter()
        .filter(|(key, days)| {
            (days.contains(&first)
                && days.len() >= min_days.max(1)
                && days.len() as f64 >= share * n as f64
                || alone && days.len() >= SOLE_MIN_DAYS)
                && keep(key)
        })
        .map(|(key, days)| (key, days.len(), n))
        .collect()
}

/// An account's everyday addresses ([`everyday_keys`]), and its everyday provider networks: the
/// /16 (/48 for IPv6) of a hosting or VPN network that meets the same test as a whole and in
/// which the account used [`EVERYDAY_EXITS`] addresses or more (a commercial VPN hands out a
/// new exit every day). One other address in the network of a dedicated address does not make
/// the network the account's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Everyday {
    /// (address, days used, the account's active days).
    pub ips: Vec<(std::net::IpAddr, usize, usize)>,
    /// (network's first address, days used, the account's active days).
    pub networks: Vec<(std::net::IpAddr, usize, usize)>,
}

/// A sign-in of the account's own client: the sign-in logs, or the unified audit log's own
/// sign-in records, whose address is the client's even in Microsoft's networks.
pub fn is_sign_in(e: &crate::model::Event) -> bool {
    use crate::model::Source;
    match e.source {
        Source::Signin | Source::Noninteractive => true,
        Source::Audit => matches!(&*e.operation, "UserLoggedIn" | "UserLoginFailed"),
        _ => false,
    }
}

/// Distinct addresses of one provider network that make it an everyday network.
pub const EVERYDAY_EXITS: usize = 3;

impl Everyday {
    /// From the account's (UTC date, address, what is known of the address, whether the event is
    /// a sign-in) uses. Microsoft's own addresses on records that are not sign-ins are left out:
    /// service-side records carry them (on a sign-in such an address is the client's, a cloud
    /// PC's say).
    pub fn of<'a>(
        uses: impl IntoIterator<
            Item = (
                chrono::NaiveDate,
                std::net::IpAddr,
                Option<&'a IpInfo>,
                bool,
            ),
        >,
        min_days: usize,
        share: f64,
    ) -> Everyday {
        use std::collections::{BTreeMap, BTreeSet};
        let mut by_ip = Vec::new();
        let mut by_net = Vec::new();
        let mut exits: BTreeMap<std::net::IpAddr, BTreeSet<std::net::IpAddr>> = BTreeMap::new();
        for (day, ip, info, sign_in) in uses {
            if !sign_in
                && info
                    .and_then(|i| i.asn)
                    .is_some_and(|a| crate::enrich::MICROSOFT_ASNS.contains(&a))
            {
                continue;
            }
            by_ip.push((day, ip));
            if let Some(i) = info.filter(|i| i.network.is_rented()) {
                let net = crate::enrich::pool_of(ip, i.network);
                by_net.push((day, net));
                exits.entry(net).or_default().insert(ip);
            }
        }
        Everyday {
            ips: everyday_keys(by_ip, min_days, share, |_| true),
            networks: everyday_keys(by_net, min_days, share, |net| {
                exits.get(net).is_some_and(|e| e.len() >= EVERYDAY_EXITS)
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.networks.is_empty()
    }

    /// Why the address is everyday, if it is: (days used, active days, the network when it is
    /// everyday as part of one).
    pub fn find(
        &self,
        ip: std::net::IpAddr,
        info: Option<&IpInfo>,
    ) -> Option<(usize, usize, Option<std::net::IpAddr>)> {
        if let Some((_, d, n)) = self.ips.iter().find(|(a, _, _)| *a == ip) {
            return Some((*d, *n, None));
        }
        let i = info.filter(|i| i.network.is_rented())?;
        let net = crate::enrich::pool_of(ip, i.network);
        self.networks
            .iter()
            .find(|(a, _, _)| *a == net)
            .map(|(_, d, n)| (*d, *n, Some(net)))
    }
}

/// Everyday addresses' defaults ([`Everyday`]): five days of use, and half of the
/// account's active days (a working week of seven days, or a fortnight's trip in a month).
pub const EVERYDAY_MIN_DAYS: usize = 5;
/// Days of use that make an account's only address everyday ([`everyday_keys`]).
pub const SOLE_MIN_DAYS: usize = 2;
pub const EVERYDAY_SHARE: f64 = 0.5;

/// How an address reads in a summary: `NL (AS14061 DigitalOcean, hosting)`.
pub fn describe_ip(info: Option<&IpInfo>) -> String {
    let Some(i) = info else {
        return "unknown network".into();
    };
    let mut net = Vec::new();
    if let Some(a) = i.asn {
        net.push(match &i.as_org {
            Some(o) => format!("AS{a} {o}"),
            None => format!("AS{a}"),
        });
    }
    net.push(i.network.as_str().to_string());
    format!(
        "{} ({})",
        i.country.as_deref().unwrap_or("??"),
        net.join(", ")
    )
}

/// Two events seen from two places: what the travel detectors report.
#[derive(Clone, Debug, PartialEq)]
pub struct Hop {
    /// Positions in the hit list, earlier first.
    pub from: usize,
    pub to: usize,
    pub km: f64,
    pub hours: f64,
    pub kmh: f64,
    /// Either end was only a country's centre.
    pub rough: bool,
}

/// The user moving between places on the same device over ordinary access networks (home,
/// hotel, mobile, office): travel, not an attacker, whatever the speed looks like.
fn same_device_on_isp(a: &EventView<'_>, b: &EventView<'_>) -> bool {
    let ordinary = |v: &EventView<'_>| {
        v.ip.is_some_and(|i| matches!(i.network, NetworkKind::Isp | NetworkKind::Corporate))
    };
    match (a.event.device_id.as_deref(), b.event.device_id.as_deref()) {
        (Some(x), Some(y)) if !x.is_empty() && x.eq_ignore_ascii_case(y) => {
            ordinary(a) && ordinary(b)
        }
        _ => false,
    }
}

/// Where the event is tells nothing of where the person is: the tenant's shared VPN or VDI
/// egress, or the account's own everyday VPN address or cloud desktop, on a hosting or VPN
/// network (the user in London reaches it in a US data centre).
fn placeless(v: &EventView<'_>) -> bool {
    v.ip.is_some_and(|i| (i.shared || v.everyday) && i.network.is_rented())
}

fn hop(hits: &[&EventView<'_>], i: usize, j: usize) -> Option<Hop> {
    let (a, b) = (hits[i], hits[j]);
    let (pa, pb) = (a.ip?.location?, b.ip?.location?);
    let km = distance_km(&pa, &pb);
    let secs = (b.event.time - a.event.time).num_seconds().max(0) as f64;
    // Under a minute apart the clock resolution dominates: count it as one minute.
    let hours = (secs / 3600.0).max(1.0 / 60.0);
    Some(Hop {
        from: i,
        to: j,
        km,
        hours: secs / 3600.0,
        kmh: km / hours,
        rough: pa.precision == Precision::CountryCentroid
            || pb.precision == Precision::CountryCentroid,
    })
}

/// Consecutive located events (time order) whose distance is at least `min_km` and whose speed
/// exceeds `max_kmh`; the tenant's shared VPN and VDI egress is no place and is skipped. With `exempt_same_device_isp`, a hop between two ordinary access
/// networks on the same device id is not reported.
pub fn impossible_travel(
    hits: &[&EventView<'_>],
    max_kmh: f64,
    min_km: f64,
    exempt_same_device_isp: bool,
) -> Vec<Hop> {
    let mut out = Vec::new();
    let mut prev: Option<usize> = None;
    for j in 0..hits.len() {
        if hits[j].ip.and_then(|i| i.location).is_none() || placeless(hits[j]) {
            continue;
        }
        if let Some(i) = prev {
            // The same address is the same place: no hop to measure.
            if hits[i].event.ip == hits[j].event.ip {
                prev = Some(j);
                continue;
            }
            if let Some(h) = hop(hits, i, j) {
                let exempt = exempt_same_device_isp && same_device_on_isp(hits[i], hits[j]);
                if h.km >= min_km && h.kmh > max_kmh && !exempt {
                    out.push(h);
                }
            }
        }
        prev = Some(j);
    }
    out
}

/// Pairs of events from two different sessions within `within` of each other, at least
/// `min_km` apart (same exemption as travel).
pub fn concurrent_sessions(
    hits: &[&EventView<'_>],
    within: Duration,
    min_km: f64,
    exempt_same_device_isp: bool,
) -> Vec<Hop> {
    let located: Vec<usize> = (0..hits.len())
        .filter(|&k| {
            hits[k].ip.and_then(|i| i.location).is_some()
                && !placeless(hits[k])
                && hits[k]
                    .event
                    .session_id
                    .as_deref()
                    .is_some_and(|s| !s.is_empty())
        })
        .collect();
    let mut out = Vec::new();
    let mut lo = 0;
    for (n, &j) in located.iter().enumerate() {
        while hits[j].event.time - hits[located[lo]].event.time > within {
            lo += 1;
        }
        // The closest earlier event of each other session is enough: one hop per session pair.
        let mut seen_sessions: Vec<&str> = Vec::new();
        for &i in located[lo..n].iter().rev() {
            let (si, sj) = (
                hits[i].event.session_id.as_deref(),
                hits[j].event.session_id.as_deref(),
            );
            let (Some(si), Some(sj)) = (si, sj) else {
                continue;
            };
            if si.eq_ignore_ascii_case(sj) || seen_sessions.contains(&si) {
                continue;
            }
            seen_sessions.push(si);
            if exempt_same_device_isp && same_device_on_isp(hits[i], hits[j]) {
                continue;
            }
            if let Some(h) = hop(hits, i, j) {
                if h.km >= min_km {
                    out.push(h);
                }
            }
        }
    }
    out
}

/// Time between two events for a person: `40 s`, `12 min`, `1.4 h`.
pub fn elapsed(hours: f64) -> String {
    let secs = (hours * 3600.0).round();
    if secs < 60.0 {
        format!("{secs} s")
    } else if secs < 3600.0 {
        format!("{} min", (secs / 60.0).round())
    } else {
        format!("{:.1} h", hours)
    }
}

/// Details shared by the travel detectors, for the finding.
pub fn hop_details(hits: &[&EventView<'_>], hops: &[&Hop]) -> Map<String, Json> {
    let mut d = Map::new();
    let Some(worst) = hops.iter().copied().max_by(|a, b| a.kmh.total_cmp(&b.kmh)) else {
        return d;
    };
    let (a, b) = (hits[worst.from], hits[worst.to]);
    let country = |v: &EventView<'_>| {
        v.ip.and_then(|i| i.country.as_deref())
            .unwrap_or("??")
            .to_string()
    };
    d.insert(
        "from_ip".into(),
        Json::from(a.event.ip.map(|i| i.to_string())),
    );
    d.insert(
        "to_ip".into(),
        Json::from(b.event.ip.map(|i| i.to_string())),
    );
    d.insert("from_country".into(), Json::from(country(a)));
    d.insert("to_country".into(), Json::from(country(b)));
    d.insert("from_place".into(), Json::from(describe_ip(a.ip)));
    d.insert("to_place".into(), Json::from(describe_ip(b.ip)));
    d.insert("distance_km".into(), Json::from(worst.km.round()));
    d.insert(
        "hours".into(),
        Json::from((worst.hours * 100.0).round() / 100.0),
    );
    d.insert("elapsed".into(), Json::from(elapsed(worst.hours)));
    d.insert("speed_kmh".into(), Json::from(worst.kmh.round()));
    d.insert("hops".into(), Json::from(hops.len()));
    d.insert(
        "precision".into(),
        Json::from(if hops.iter().any(|h| h.rough) {
            "country-centroid"
        } else {
            "city"
        }),
    );
    d
}

#[cfg(test)]
mod tests {
    use super::everyday_keys;

    #[test]
    fn everyday_addresses_start_on_the_first_day_and_cover_half_the_days() {
        let d = |n: u32| chrono::NaiveDate::from_ymd_opt(2024, 5, n).expect("a date");
        let ip = |s: &str| -> std::net::IpAddr { s.parse().expect("an address") };
        // A dedicated address on the five weekdays, the phone every day of the week, and an
        // address that arrives on day 3 and stays.
        let mut uses = Vec::new();
        for n in 1..=7 {
            if n <= 5 {
                uses.push((d(n), ip("52.10.1.4")));
            }
            uses.push((d(n), ip("172.56.1.9")));
            if n >= 3 {
                uses.push((d(n), ip("188.166.14.77")));
            }
        }
        let found: Vec<(String, usize, usize)> = everyday_keys(uses.clone(), 5, 0.5, |_| true)
            .into_iter()
            .map(|(a, days, n)| (a.to_string(), days, n))
            .collect();
        assert_eq!(
            found,
            vec![
                ("52.10.1.4".to_string(), 5, 7),
                ("172.56.1.9".to_string(), 7, 7)
            ]
        );
        // Four days of use are too few.
        uses.retain(|(day, _)| *day <= d(4));
        assert!(everyday_keys(uses, 5, 0.5, |_| true).is_empty());
    }

    #[test]
    fn the_only_address_of_two_days_of_evidence_is_everyday() {
        let d = |n: u32| chrono::NaiveDate::from_ymd_opt(2024, 5, n).expect("a date");
        let cloud_pc: std::net::IpAddr = "51.43.178.179".parse().expect("an address");
        let home: std::net::IpAddr = "81.2.69.160".parse().expect("an address");
        let sole = vec![(d(1), cloud_pc), (d(1), cloud_pc), (d(2), cloud_pc)];
        assert_eq!(
            everyday_keys(sole.clone(), 5, 0.5, |_| true),
            vec![(cloud_pc, 2, 2)]
        );
        // One day is not enough, and a second address means there is something to compare.
        assert!(everyday_keys(sole[..2].to_vec(), 5, 0.5, |_| true).is_empty());
        let mut two = sole;
        two.push((d(2), home));
        assert!(everyday_keys(two, 5, 0.5, |_| true).is_empty());
    }
}
