//! What the evidence says about each address, as a summary that merges: the events from it, the
//! values the exports gave, the accounts and days it was used on, and the password failures
//! from it. [`enrich`](super::enrich) is one profile of every event, finished; a staged run
//! (docs/stages.md) profiles each group of accounts, merges the profiles and finishes once, with
//! the same table as the result.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::{
    lookup, most_in_an_hour, pool_of, Enrichment, Exported, GeoIp, IpInfo, NetworkConfig,
    PASSWORD_FAILURE_CODES, SHARED_MIN_ACCOUNTS, SHARED_MIN_DAYS, SHARED_MIN_HABITUAL,
    WIDELY_USED_ACCOUNTS, WIDELY_USED_DAYS,
};
use crate::model::{ActorKind, Event, Outcome, Source, Text};

/// One address's tally.
#[derive(Clone, Debug, Default, PartialEq)]
struct Tally {
    events: u64,
    country: BTreeMap<Text, u64>,
    place: BTreeMap<(Text, Option<Text>), u64>,
    asn: BTreeMap<u32, u64>,
    /// (account, UTC day) pairs of successful activity (every actor; accounts are picked when
    /// finishing).
    activity: FxHashSet<(Text, i64)>,
    /// (unix seconds, account) of password failures, sorted.
    failures: Vec<(i64, Text)>,
}

/// Per address, what the evidence shows of it. Merging two profiles of disjoint sets of events
/// gives the profile of their union.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IpProfile {
    ips: FxHashMap<IpAddr, Tally>,
}

/// Adds one value count table to another.
fn add_counts<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}

fn password_failure(e: &Event) -> bool {
    e.outcome == Outcome::Failure
        && match e.source {
            Source::Signin | Source::Noninteractive => e
                .error_code
                .as_deref()
                .is_some_and(|c| PASSWORD_FAILURE_CODES.contains(&c)),
            Source::Audit => {
                &*e.operation == "UserLoginFailed"
                    && e.error_code
                        .as_deref()
                        .is_none_or(|c| PASSWORD_FAILURE_CODES.contains(&c))
            }
            Source::Messagetrace | Source::Directory | Source::Risk => false,
        }
}

/// A tally while counting: users borrowed from the events, owned once per distinct pair.
#[derive(Default)]
struct Counting<'a> {
    events: u64,
    country: BTreeMap<&'a Text, u64>,
    place: BTreeMap<(&'a Text, Option<&'a Text>), u64>,
    asn: BTreeMap<u32, u64>,
    activity: FxHashSet<(&'a Text, i64)>,
    failures: Vec<(i64, &'a Text)>,
}

impl<'a> Counting<'a> {
    fn add(&mut self, e: &'a Event) {
        self.events += 1;
        if let Some(c) = e.country.as_ref().filter(|c| !c.is_empty()) {
            *self.country.entry(c).or_default() += 1;
        }
        if let Some(city) = e.city.as_ref().filter(|c| !c.is_empty()) {
            *self.place.entry((city, e.region.as_ref())).or_default() += 1;
        }
        if let Some(a) = e.asn.filter(|a| *a != 0) {
            *self.asn.entry(a).or_default() += 1;
        }
        if e.source == Source::Messagetrace {
            return;
        }
        if matches!(e.outcome, Outcome::Success | Outcome::Unknown) {
            self.activity
                .insert((&e.user, e.time.timestamp().div_euclid(86_400)));
        } else if password_failure(e) {
            self.failures.push((e.time.timestamp(), &e.user));
        }
    }

    fn merge(&mut self, other: Counting<'a>) {
        self.events += other.events;
        add_counts(&mut self.country, other.country);
        add_counts(&mut self.place, other.place);
        add_counts(&mut self.asn, other.asn);
        self.activity.extend(other.activity);
        self.failures.extend(other.failures);
    }

    fn owned(self) -> Tally {
        Tally {
            events: self.events,
            country: self
                .country
                .into_iter()
                .map(|(k, n)| (k.clone(), n))
                .collect(),
            place: self
                .place
                .into_iter()
                .map(|((c, r), n)| ((c.clone(), r.cloned()), n))
                .collect(),
            asn: self.asn,
            activity: self
                .activity
                .into_iter()
                .map(|(u, d)| (u.clone(), d))
                .collect(),
            failures: {
                let mut f: Vec<(i64, Text)> = self
                    .failures
                    .into_iter()
                    .map(|(t, u)| (t, u.clone()))
                    .collect();
                f.sort_unstable();
                f
            },
        }
    }
}

impl IpProfile {
    /// The profile of the events `counts` keeps (in a staged run, those whose actor belongs to
    /// the group, so that each event counts in one group only).
    pub fn of(events: &[Event], counts: impl Fn(&Event) -> bool + Sync) -> IpProfile {
        let tallies: FxHashMap<IpAddr, Counting> = events
            .par_iter()
            .filter(|e| e.ip.is_some() && counts(e))
            .fold(
                FxHashMap::default,
                |mut acc: FxHashMap<IpAddr, Counting>, e| {
                    if let Some(ip) = e.ip {
                        acc.entry(ip).or_default().add(e);
                    }
                    acc
                },
            )
            .reduce(FxHashMap::default, |mut a, b| {
                for (ip, t) in b {
                    a.entry(ip).or_default().merge(t);
                }
                a
            });
        IpProfile {
            ips: tallies.into_iter().map(|(ip, t)| (ip, t.owned())).collect(),
        }
    }

    /// Adds another profile (of other events) to this one.
    pub fn merge(&mut self, other: IpProfile) {
        for (ip, t) in other.ips {
            let into = self.ips.entry(ip).or_default();
            into.events += t.events;
            add_counts(&mut into.country, t.country);
            add_counts(&mut into.place, t.place);
            add_counts(&mut into.asn, t.asn);
            into.activity.extend(t.activity);
            into.failures.extend(t.failures);
            into.failures.sort_unstable();
        }
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// Looks every address up (in parallel) and judges shared egress and spray sources: the
    /// table later stages read.
    pub fn finish(self, geo: &GeoIp, nets: &NetworkConfig) -> Enrichment {
        let infos = self
            .finished(geo, nets)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        Enrichment::from_infos(infos, geo.databases())
    }

    /// What finishing needs of the whole tenant, without the accounts and days behind it: a
    /// table that grows with the addresses only (`context.json`), finished again by every later
    /// step of a staged run into the same entries as [`finish`](Self::finish).
    pub fn digest(self, geo: &GeoIp, nets: &NetworkConfig) -> IpDigest {
        IpDigest {
            ips: self
                .finished(geo, nets)
                .into_iter()
                .map(|(i, ex)| DigestIp {
                    ip: i.ip,
                    events: i.events,
                    country: ex.country,
                    city: ex.city,
                    region: ex.region,
                    asn: ex.asn,
                    spray_accounts: i.spray_accounts,
                    accounts: i.accounts,
                    days: i.days,
                    shared: i.shared,
                })
                .collect(),
        }
    }

    /// Every address's entry, by address, with the exported values it was looked up with.
    fn finished(self, geo: &GeoIp, nets: &NetworkConfig) -> Vec<(IpInfo, Exported)> {
        fn most_common<K: Clone + Ord>(m: &BTreeMap<K, u64>) -> Option<K> {
            // max_by_key returns the last maximum; iterate in reverse so ties go to the smallest key.
            m.iter()
                .rev()
                .max_by_key(|(_, n)| **n)
                .map(|(k, _)| k.clone())
        }
        let mut tallies: Vec<(IpAddr, Tally)> = self.ips.into_iter().collect();
        tallies.sort_by_key(|(ip, _)| *ip);
        let mut infos: Vec<(IpInfo, Exported)> = tallies
            .par_iter()
            .map(|(ip, t)| {
                let place = most_common(&t.place);
                let ex = Exported {
                    country: most_common(&t.country),
                    city: place.as_ref().map(|(c, _)| c.clone()),
                    region: place.and_then(|(_, r)| r),
                    asn: most_common(&t.asn),
                };
                let mut info = lookup(*ip, &ex, geo, nets);
                info.events = t.events;
                let failures: Vec<(i64, &str)> =
                    t.failures.iter().map(|(s, u)| (*s, &**u)).collect();
                info.spray_accounts = most_in_an_hour(&failures);
                (info, ex)
            })
            .collect();
        // Shared egress is judged on the address's network: a VPN or VDI pool in a data centre
        // hands out addresses across a /16, an office or home ISP's are judged on their /24.
        // Per network: (account, day) activity, and the accounts that use one of its addresses
        // together with another account.
        type Pool<'a> = (FxHashSet<(&'a str, i64)>, FxHashSet<&'a str>);
        let mut pools: FxHashMap<IpAddr, Pool> = FxHashMap::default();
        let mut active: FxHashMap<&str, FxHashSet<i64>> = FxHashMap::default();
        for ((info, _), (_, t)) in infos.iter().zip(&tallies) {
            let (activity, in_common) = pools.entry(pool_of(info.ip, info.network)).or_default();
            let mut accounts: FxHashSet<&str> = FxHashSet::default();
            for (u, d) in t
                .activity
                .iter()
                .filter(|(u, _)| ActorKind::of(u) == ActorKind::Account)
            {
                activity.insert((&**u, *d));
                active.entry(&**u).or_default().insert(*d);
                accounts.insert(&**u);
            }
            if accounts.len() >= 2 {
                in_common.extend(accounts);
            }
        }
        let summary: FxHashMap<IpAddr, (u32, u32, u32, u32)> = pools
            .into_iter()
            .filter(|(_, (activity, _))| !activity.is_empty())
            .map(|(pool, (activity, in_common))| {
                let mut per_account: FxHashMap<&str, FxHashSet<i64>> = FxHashMap::default();
                let mut days: FxHashSet<i64> = FxHashSet::default();
                for (account, day) in activity {
                    per_account.entry(account).or_default().insert(day);
                    days.insert(day);
                }
                // In a network where no two accounts meet on an address, an account for which
                // it is where it works every day (a dedicated server, a VPN of its own) is no
                // sign of a pool the tenant shares: an attacker renting in the same provider's
                // network as such people must not pass as one.
                let own = |account: &str, used: &FxHashSet<i64>| {
                    let Some(all) = active.get(account) else {
                        return false;
                    };
                    !in_common.contains(account)
                        && all.iter().min().is_some_and(|first| used.contains(first))
                        && used.len() >= crate::detect::baseline::EVERYDAY_MIN_DAYS
                        && used.len() as f64
                            >= crate::detect::baseline::EVERYDAY_SHARE * all.len() as f64
                };
                // Where some accounts meet on an address, the network is a pool the tenant runs
                // (virtual desktops, some with an address each) and everyone in it counts.
                let counted: Vec<u32> = per_account
                    .iter()
                    .filter(|(a, used)| !in_common.is_empty() || !own(a, used))
                    .map(|(_, used)| used.len() as u32)
                    .collect();
                let habitual = counted.iter().filter(|d| **d >= SHARED_MIN_DAYS).count();
                (
                    pool,
                    (
                        per_account.len() as u32,
                        days.len() as u32,
                        counted.len() as u32,
                        habitual as u32,
                    ),
                )
            })
            .collect();
        for (info, _) in infos.iter_mut() {
            if let Some(&(accounts, days, counted, habitual)) =
                summary.get(&pool_of(info.ip, info.network))
            {
                info.accounts = accounts;
                info.days = days;
                info.shared = info.scope.is_public()
                    && ((counted >= SHARED_MIN_ACCOUNTS && habitual >= SHARED_MIN_HABITUAL)
                        || (counted >= WIDELY_USED_ACCOUNTS && days >= WIDELY_USED_DAYS));
            }
        }
        infos
    }
}

/// One address of an [`IpDigest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct DigestIp {
    ip: IpAddr,
    events: u64,
    /// The exported values the address is looked up with (the most common of each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    city: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    asn: Option<u32>,
    spray_accounts: u32,
    /// Of the address's network, judged on the whole tenant.
    accounts: u32,
    days: u32,
    shared: bool,
}

/// A finished [`IpProfile`] without the accounts and days behind it (see
/// [`IpProfile::digest`]): addresses in order, so the same profile gives the same bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IpDigest {
    ips: Vec<DigestIp>,
}

impl IpDigest {
    pub fn len(&self) -> usize {
        self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// The table [`IpProfile::finish`] gives for the same profile: every address looked up
    /// again (in parallel), with the tenant-wide judgements the digest carries.
    pub fn finish(&self, geo: &GeoIp, nets: &NetworkConfig) -> Enrichment {
        let infos = self
            .ips
            .par_iter()
            .map(|d| {
                let ex = Exported {
                    country: d.country.clone(),
                    city: d.city.clone(),
                    region: d.region.clone(),
                    asn: d.asn,
                };
                let mut info = lookup(d.ip, &ex, geo, nets);
                info.events = d.events;
                info.spray_accounts = d.spray_accounts;
                info.accounts = d.accounts;
                info.days = d.days;
                info.shared = d.shared;
                info
            })
            .collect();
        Enrichment::from_infos(infos, geo.databases())
    }
}

/// [`IpProfile`] as JSON (`profile.json`, docs/stages.md): addresses in order, lists sorted, so
/// the same events give the same bytes.
#[derive(Serialize, Deserialize)]
struct WireIp {
    ip: IpAddr,
    events: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    country: Vec<(Text, u64)>,
    /// (city, region, count)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    place: Vec<(Text, Option<Text>, u64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    asn: Vec<(u32, u64)>,
    /// (account, UTC day number)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    activity: Vec<(Text, i64)>,
    /// (unix seconds, account)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    failures: Vec<(i64, Text)>,
}

impl Serialize for IpProfile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut ips: Vec<(&IpAddr, &Tally)> = self.ips.iter().collect();
        ips.sort_by_key(|(ip, _)| **ip);
        let wire: Vec<WireIp> = ips
            .into_iter()
            .map(|(ip, t)| {
                let mut activity: Vec<(Text, i64)> = t.activity.iter().cloned().collect();
                activity.sort();
                let failures = t.failures.clone();
                WireIp {
                    ip: *ip,
                    events: t.events,
                    country: t.country.iter().map(|(k, n)| (k.clone(), *n)).collect(),
                    place: t
                        .place
                        .iter()
                        .map(|((c, r), n)| (c.clone(), r.clone(), *n))
                        .collect(),
                    asn: t.asn.iter().map(|(k, n)| (*k, *n)).collect(),
                    activity,
                    failures,
                }
            })
            .collect();
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for IpProfile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire: Vec<WireIp> = Vec::deserialize(d)?;
        let mut out = IpProfile::default();
        for w in wire {
            let t = Tally {
                events: w.events,
                country: w.country.into_iter().collect(),
                place: w.place.into_iter().map(|(c, r, n)| ((c, r), n)).collect(),
                asn: w.asn.into_iter().collect(),
                activity: w.activity.into_iter().collect(),
                failures: w.failures,
            };
            let mut one = IpProfile::default();
            one.ips.insert(w.ip, t);
            out.merge(one);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: &str, ip: &str, day: i64, outcome: Outcome) -> Event {
        let t = chrono::DateTime::from_timestamp(day * 86_400 + 3600, 0).unwrap_or_default();
        let mut e = Event::new(t, Source::Signin, user.into(), "Sign-in".into());
        e.ip = ip.parse().ok();
        e.outcome = outcome;
        e.country = Some("NL".into());
        if outcome == Outcome::Failure {
            e.error_code = Some("50126".into());
        }
        e
    }

    #[test]
    fn profiles_of_parts_merge_into_the_profile_of_the_whole() {
        let mut events = Vec::new();
        for (i, user) in ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]
            .iter()
            .enumerate()
        {
            for day in 0..4 {
                events.push(event(user, "81.2.69.142", day, Outcome::Success));
                events.push(event(
                    user,
                    "198.51.100.7",
                    day + i as i64,
                    Outcome::Failure,
                ));
            }
        }
        let whole = IpProfile::of(&events, |_| true);
        let mut parts = IpProfile::of(&events, |e| e.user.starts_with('a'));
        parts.merge(IpProfile::of(&events, |e| !e.user.starts_with('a')));
        assert_eq!(parts, whole);
        // Through JSON and back.
        let text = serde_json::to_string(&parts).expect("profile as JSON");
        let back: IpProfile = serde_json::from_str(&text).expect("profile from JSON");
        assert_eq!(back, whole);
        let geo = GeoIp::embedded();
        let nets = NetworkConfig::default();
        let digest = back.clone().digest(&geo, &nets);
        let (a, b) = (whole.finish(&geo, &nets), back.finish(&geo, &nets));
        assert_eq!(a.sorted(), b.sorted());
        // The digest, through JSON, finishes into the same table.
        let text = serde_json::to_string(&digest).expect("digest as JSON");
        let digest: IpDigest = serde_json::from_str(&text).expect("digest from JSON");
        assert_eq!(digest.len(), 2);
        assert_eq!(digest.finish(&geo, &nets).sorted(), a.sorted());
        let spray = a
            .get("198.51.100.7".parse().expect("address"))
            .map(|i| i.spray_accounts);
        assert_eq!(spray, Some(4));
        let shared = a
            .get("81.2.69.142".parse().expect("address"))
            .map(|i| (i.accounts, i.days, i.shared));
        assert_eq!(
            shared,
            Some((4, 4, true)),
            "four accounts' everyday address"
        );
    }

    #[test]
    fn people_on_their_own_servers_do_not_make_a_providers_network_shared() {
        // Two people each work from their own address at one hosting provider every day; an
        // attacker signs in to a third account from another address in the same /16 on day 5.
        let mut events = Vec::new();
        for day in 0..8 {
            events.push(event("a@x.com", "188.166.1.1", day, Outcome::Success));
            events.push(event("b@x.com", "188.166.2.2", day, Outcome::Success));
        }
        events.push(event("c@x.com", "188.166.3.3", 5, Outcome::Success));
        // As the sign-in logs export it: DigitalOcean's network.
        let hosted = |events: &mut Vec<Event>| {
            for e in events.iter_mut() {
                e.asn = Some(14061);
            }
        };
        hosted(&mut events);
        let geo = GeoIp::embedded();
        let nets = NetworkConfig::builtin();
        let table = IpProfile::of(&events, |_| true).finish(&geo, &nets);
        let attacker = table
            .get("188.166.3.3".parse().expect("address"))
            .expect("looked up");
        assert!(attacker.network.is_rented(), "{:?}", attacker.network);
        assert_eq!(attacker.accounts, 3);
        assert!(
            !attacker.shared,
            "the attacker's address is not shared egress"
        );

        // A fourth account that meets the first on its address: a pool the tenant runs.
        for day in 0..8 {
            events.push(event("d@x.com", "188.166.1.1", day, Outcome::Success));
        }
        hosted(&mut events);
        let table = IpProfile::of(&events, |_| true).finish(&geo, &nets);
        let pool = table
            .get("188.166.3.3".parse().expect("address"))
            .expect("looked up");
        assert!(pool.shared, "accounts meet on its addresses: shared");
    }
}
