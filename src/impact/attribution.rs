//! Attribution: which of a user's events are the attacker's. Strong signals (the evidence of
//! high-severity findings) seed an attacker footprint of IPs and sessions; it spreads to every
//! event that shares a session id, token id or (near the signals) an IP, until nothing new
//! joins. IPs the user signed in from well before any signal are the user's baseline and are
//! never attributed to the attacker, so the user's own activity stays apart.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::enrich::{Enrichment, NetworkKind};
use crate::model::{Event, Outcome, Source};

/// How sure an attribution is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Shares only an IP with the attacker's events, near them in time.
    Medium,
    /// Evidence of a high-severity finding, or shares a session or token with one.
    High,
}

/// A strong signal: events a finding holds as evidence against a user.
#[derive(Clone, Debug)]
pub struct Lead {
    pub rule_id: String,
    /// 0 informational .. 4 critical.
    pub severity: u8,
    pub user: String,
    /// Indexes into the evidence events.
    pub events: Vec<usize>,
    /// Every evidence event is an attempt that did not get in (a failed or interrupted sign-in):
    /// the account was targeted; such a lead seeds nothing and scores nothing.
    pub attempt: bool,
    /// The rule's evidence is the victim's own action (`seeds: false`): it scores, and dates
    /// the first signal, but its addresses and sessions do not seed the footprint.
    pub no_seed: bool,
}

/// Why one key (IP, session, token) belongs to the attacker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyAttribution {
    pub key: String,
    pub why: String,
    pub confidence: Confidence,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub events: u64,
}

/// The attacker's footprint in one account.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    pub ips: Vec<KeyAttribution>,
    pub sessions: Vec<KeyAttribution>,
    pub tokens: Vec<KeyAttribution>,
    pub asns: Vec<u32>,
    pub user_agents: Vec<String>,
    /// The user's own IPs, seen before any signal, and its everyday addresses and VPN exits
    /// (`crate::detect::baseline::Everyday`): never attributed.
    pub baseline_ips: Vec<IpAddr>,
    /// The tenant's shared egress (an office, the VPN, a VDI pool) as the user used it: the
    /// user's side, like `baseline_ips`.
    pub shared_ips: Vec<IpAddr>,
    /// Addresses on attacker events that were left out of the attacker's IPs, and why
    /// (Microsoft's own service front ends on service-side records, the tenant's shared egress).
    pub excluded_ips: Vec<ExcludedIp>,
    /// Indexes of the attacker's events, in time order, with why and how sure.
    #[serde(skip)]
    pub events: Vec<(usize, Confidence, String)>,
}

impl Footprint {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn ip_set(&self) -> BTreeSet<IpAddr> {
        self.ips.iter().filter_map(|k| k.key.parse().ok()).collect()
    }
}

/// An address seen on the attacker's events that is not the attacker's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExcludedIp {
    pub ip: IpAddr,
    pub why: String,
}

pub use crate::enrich::MICROSOFT_ASNS;

/// Why `ip` on event `e` cannot be an attacker's address, if it cannot: Microsoft's service
/// address on a record that is not a sign-in (on a sign-in it is the client: an attacker can
/// rent an Azure machine), or the tenant's shared egress.
pub fn not_attacker_ip(e: &Event, ip: IpAddr, ips: &Enrichment) -> Option<String> {
    let info = ips.get(ip)?;
    if info.shared {
        return Some(format!(
            "the tenant's shared egress ({} accounts on {} days)",
            info.accounts, info.days
        ));
    }
    let microsoft = info.asn.filter(|a| MICROSOFT_ASNS.contains(a))?;
    (!matches!(e.source, Source::Signin | Source::Noninteractive)).then(|| {
        format!(
            "a Microsoft service address (AS{microsoft}) on a service-side {} record",
            e.source
        )
    })
}

/// Tunable parameters of attribution, with the reasons for their defaults.
#[derive(Clone, Debug)]
pub struct AttributionOptions {
    /// Findings at or above this severity seed the footprint (3 = high): medium findings are
    /// leads for a person to weigh, not proof enough to call an IP the attacker's.
    pub seed_severity: u8,
    /// An IP counts as the user's own when a successful sign-in came from it this long before
    /// the first signal (2 days: before the phishing kit's first probe, which comes within a day
    /// of the flagged sign-in, and short enough that an export of a week or two still shows the
    /// user's own networks).
    pub baseline_lead: Duration,
    /// IP-only spread reaches events this long before the first signal (24 h: a proxy often
    /// probes before the sign-in that gets flagged). A hosting or VPN address of the attacker's
    /// reaches back over the whole evidence: nobody else in the account uses it.
    pub ip_reach_before: Duration,
    /// The account's everyday addresses and VPN networks (`crate::detect::baseline::Everyday`:
    /// on its first active day, on five days or more and half of its active days) are never
    /// the attacker's. The findings on them stay listed; without other proof the account is
    /// suspicious, not compromised.
    pub everyday_min_days: usize,
    pub everyday_share: f64,
}

impl Default for AttributionOptions {
    fn default() -> Self {
        AttributionOptions {
            seed_severity: 3,
            baseline_lead: Duration::days(2),
            ip_reach_before: Duration::hours(24),
            everyday_min_days: crate::detect::baseline::EVERYDAY_MIN_DAYS,
            everyday_share: crate::detect::baseline::EVERYDAY_SHARE,
        }
    }
}

/// Works out the attacker's footprint in `user`'s account from the leads against it.
pub fn attribute(
    events: &[Event],
    user_events: &[usize],
    leads: &[Lead],
    ips: &Enrichment,
    opts: &AttributionOptions,
) -> Footprint {
    let high: Vec<&Lead> = leads
        .iter()
        .filter(|l| l.severity >= opts.seed_severity && !l.attempt)
        .collect();
    let Some(first_signal) = high
        .iter()
        .flat_map(|l| l.events.iter())
        .filter_map(|i| events.get(*i))
        .map(|e| e.time)
        .min()
    else {
        return Footprint::default();
    };
    let mut baseline: BTreeSet<IpAddr> = user_events
        .iter()
        .map(|i| &events[*i])
        .filter(|e| {
            crate::detect::baseline::is_sign_in(e)
                && e.outcome == Outcome::Success
                && e.time + opts.baseline_lead <= first_signal
        })
        .filter_map(|e| e.ip)
        .collect();
    let everyday = crate::detect::baseline::Everyday::of(
        user_events
            .iter()
            .filter_map(|i| events.get(*i))
            .filter(|e| e.outcome != Outcome::Failure)
            .filter_map(|e| {
                let sign_in = crate::detect::baseline::is_sign_in(e);
                Some((e.time.date_naive(), e.ip?, ips.get(e.ip?), sign_in))
            }),
        opts.everyday_min_days,
        opts.everyday_share,
    );
    // The account's everyday addresses, and every exit it used of an everyday VPN network, are
    // its own like the baseline (its mail sent from them is its own).
    baseline.extend(
        user_events
            .iter()
            .filter_map(|i| events.get(*i)?.ip)
            .filter(|ip| everyday.find(*ip, ips.get(*ip)).is_some()),
    );
    let mut excluded: BTreeMap<IpAddr, String> = BTreeMap::new();
    let mut usable_ip = |e: &Event, ip: IpAddr| {
        if let Some(why) = not_attacker_ip(e, ip, ips) {
            excluded.entry(ip).or_insert(why);
            return false;
        }
        if let Some((days, active, network)) = everyday.find(ip, ips.get(ip)) {
            excluded.entry(ip).or_insert_with(|| {
                let what = match network {
                    None => "address".to_string(),
                    Some(net) => {
                        let bits = if net.is_ipv4() { 16 } else { 48 };
                        format!("VPN or hosting network ({net}/{bits}, a new exit most days)")
                    }
                };
                format!("the account's everyday {what}: its activity on {days} of its {active} active days, from the first")
            });
            return false;
        }
        !baseline.contains(&ip)
            && ips
                .get(ip)
                .is_none_or(|i| i.scope.is_public() && i.network != NetworkKind::Corporate)
    };
    // A finding whose evidence comes from one address names that address. One that compares
    // two places (impossible travel, concurrent sessions) holds the user's own side too: from
    // it, only hosting, VPN and unowned addresses are taken as the attacker's.
    let strong: Vec<&Lead> = high.iter().copied().filter(|l| !l.no_seed).collect();
    let mut seeds: BTreeMap<usize, String> = BTreeMap::new();
    for l in &strong {
        let lead_ips: BTreeSet<IpAddr> =
            l.events.iter().filter_map(|i| events.get(*i)?.ip).collect();
        let single = lead_ips.len() <= 1;
        for &i in &l.events {
            let Some(e) = events.get(i) else { continue };
            let take = match e.ip {
                None => single,
                Some(ip) => {
                    usable_ip(e, ip)
                        && (single
                            || ips.get(ip).is_none_or(|info| {
                                matches!(
                                    info.network,
                                    NetworkKind::Hosting | NetworkKind::Vpn | NetworkKind::Unknown
                                )
                            }))
                }
            };
            if take {
                seeds.entry(i).or_insert_with(|| l.rule_id.clone());
            }
        }
    }
    if seeds.is_empty() {
        // The strong leads name only the user's own addresses (the user consenting to an app
        // from home, then the app reading mail from a data centre): medium leads from rented
        // networks (hosting, VPN) seed the footprint instead.
        for l in leads.iter().filter(|l| {
            l.severity >= 2 && !l.attempt && (l.severity < opts.seed_severity || l.no_seed)
        }) {
            for &i in &l.events {
                let Some(e) = events.get(i) else { continue };
                let Some(ip) = e.ip else { continue };
                let rented = ips.get(ip).is_some_and(|info| info.network.is_rented());
                if rented && usable_ip(e, ip) {
                    seeds.entry(i).or_insert_with(|| l.rule_id.clone());
                }
            }
        }
    }
    let Some(first_signal) = seeds.keys().map(|i| events[*i].time).min() else {
        drop(usable_ip);
        return Footprint {
            excluded_ips: excluded
                .into_iter()
                .map(|(ip, why)| ExcludedIp { ip, why })
                .collect(),
            ..Footprint::default()
        };
    };

    // key -> (why, confidence)
    let mut ip_keys: BTreeMap<IpAddr, (String, Confidence)> = BTreeMap::new();
    let mut sessions: BTreeMap<String, (String, Confidence)> = BTreeMap::new();
    let mut tokens: BTreeMap<String, (String, Confidence)> = BTreeMap::new();
    for (i, rule) in &seeds {
        let e = &events[*i];
        if let Some(ip) = e.ip.filter(|ip| usable_ip(e, *ip)) {
            ip_keys
                .entry(ip)
                .or_insert((format!("source of {rule} evidence"), Confidence::High));
        }
        if let Some(s) = e.session_id.as_deref().filter(|s| !s.is_empty()) {
            sessions
                .entry(s.to_string())
                .or_insert((format!("session of {rule} evidence"), Confidence::High));
        }
        if let Some(t) = e.token_id.as_deref().filter(|t| !t.is_empty()) {
            tokens
                .entry(t.to_string())
                .or_insert((format!("token of {rule} evidence"), Confidence::High));
        }
    }

    let reach = first_signal - opts.ip_reach_before;
    let mut attributed: BTreeMap<usize, (Confidence, String)> = BTreeMap::new();
    loop {
        let before = (
            ip_keys.len(),
            sessions.len(),
            tokens.len(),
            attributed.len(),
        );
        for &i in user_events {
            let e = &events[i];
            let via_session = e
                .session_id
                .as_deref()
                .and_then(|s| sessions.get(s).map(|_| s));
            let via_token = e.token_id.as_deref().and_then(|t| tokens.get(t).map(|_| t));
            // A rented address (hosting, VPN) that is the attacker's was theirs before the
            // first signal too; an access network's address only from shortly before it.
            let rented = |ip: &IpAddr| ips.get(*ip).is_some_and(|i| i.network.is_rented());
            let via_ip =
                e.ip.filter(|ip| ip_keys.contains_key(ip) && (e.time >= reach || rented(ip)));
            let (conf, why) = if let Some(rule) = seeds.get(&i) {
                (Confidence::High, format!("evidence of {rule}"))
            } else if let Some(s) = via_session {
                (Confidence::High, format!("attacker session {s}"))
            } else if let Some(t) = via_token {
                (Confidence::High, format!("attacker token {t}"))
            } else if let Some(ip) = via_ip {
                (Confidence::Medium, format!("attacker IP {ip}"))
            } else {
                continue;
            };
            attributed.entry(i).or_insert((conf, why.clone()));
            if let Some(ip) = e.ip.filter(|ip| usable_ip(e, *ip)) {
                ip_keys
                    .entry(ip)
                    .or_insert((format!("used by {why}"), conf));
            }
            if let Some(s) = e.session_id.as_deref().filter(|s| !s.is_empty()) {
                if conf == Confidence::High {
                    sessions
                        .entry(s.to_string())
                        .or_insert((format!("used by {why}"), conf));
                }
            }
            if let Some(t) = e.token_id.as_deref().filter(|t| !t.is_empty()) {
                if conf == Confidence::High {
                    tokens
                        .entry(t.to_string())
                        .or_insert((format!("used by {why}"), conf));
                }
            }
        }
        if before
            == (
                ip_keys.len(),
                sessions.len(),
                tokens.len(),
                attributed.len(),
            )
        {
            break;
        }
    }

    let ip_set: BTreeSet<IpAddr> = ip_keys.keys().copied().collect();
    let mut fp = Footprint {
        excluded_ips: excluded
            .into_iter()
            .filter(|(ip, _)| !ip_set.contains(ip))
            .map(|(ip, why)| ExcludedIp { ip, why })
            .collect(),
        baseline_ips: baseline.iter().copied().collect(),
        shared_ips: user_events
            .iter()
            .filter_map(|i| events[*i].ip)
            .filter(|ip| ips.get(*ip).is_some_and(|info| info.shared))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        ..Footprint::default()
    };
    let mut ordered: Vec<(usize, Confidence, String)> = attributed
        .into_iter()
        .map(|(i, (c, w))| (i, c, w))
        .collect();
    ordered.sort_by(|a, b| {
        let (ea, eb) = (&events[a.0], &events[b.0]);
        (ea.time, ea.origin).cmp(&(eb.time, eb.origin))
    });
    let stats = |pick: &dyn Fn(&Event) -> Option<String>| {
        let mut m: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>, u64)> = BTreeMap::new();
        for (i, _, _) in &ordered {
            let e = &events[*i];
            if let Some(k) = pick(e) {
                let s = m.entry(k).or_insert((e.time, e.time, 0));
                s.0 = s.0.min(e.time);
                s.1 = s.1.max(e.time);
                s.2 += 1;
            }
        }
        m
    };
    let build = |keys: BTreeMap<String, (String, Confidence)>,
                 seen: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>, u64)>| {
        keys.into_iter()
            .filter_map(|(k, (why, confidence))| {
                let (first, last, n) = seen.get(&k).copied()?;
                Some(KeyAttribution {
                    key: k,
                    why,
                    confidence,
                    first,
                    last,
                    events: n,
                })
            })
            .collect::<Vec<_>>()
    };
    let ip_seen = stats(&|e| e.ip.map(|i| i.to_string()));
    fp.ips = build(
        ip_keys
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ip_seen,
    );
    fp.ips
        .sort_by(|a, b| a.first.cmp(&b.first).then_with(|| a.key.cmp(&b.key)));
    fp.sessions = build(
        sessions,
        stats(&|e| e.session_id.as_deref().map(str::to_string)),
    );
    fp.tokens = build(
        tokens,
        stats(&|e| e.token_id.as_deref().map(str::to_string)),
    );
    let mut asns = BTreeSet::new();
    let mut agents = BTreeSet::new();
    for (i, _, _) in &ordered {
        let e = &events[*i];
        if let Some(a) = ips.for_event(e).and_then(|i| i.asn) {
            asns.insert(a);
        }
        if let Some(ua) = e.user_agent.as_deref().filter(|u| !u.is_empty()) {
            agents.insert(ua.to_string());
        }
    }
    fp.asns = asns.into_iter().collect();
    fp.user_agents = agents.into_iter().collect();
    fp.events = ordered;
    fp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::IpInfo;
    use crate::model::Text;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2024, 5, day, hour, 0, 0)
            .single()
            .expect("a valid time")
    }

    fn event(time: DateTime<Utc>, source: Source, op: &str, ip: &str, session: &str) -> Event {
        let mut e = Event::new(
            time,
            source,
            Text::from("v@contoso.example"),
            Text::from(op),
        );
        e.outcome = Outcome::Success;
        e.ip = ip.parse().ok();
        e.session_id = Some(Text::from(session));
        e
    }

    fn info(ip: &str, asn: u32, network: NetworkKind, shared: bool) -> IpInfo {
        let mut i = IpInfo::bare(ip.parse().expect("an address"));
        i.asn = Some(asn);
        i.network = network;
        i.shared = shared;
        i
    }

    /// Home sign-ins for two weeks, a VPN pool everyone uses, then a sign-in from a VPS whose
    /// session reads mail through Exchange (a Microsoft address on the audit record).
    fn case() -> (Vec<Event>, Enrichment) {
        let events = vec![
            event(at(1, 8), Source::Signin, "Sign-in", "73.20.1.2", "s-home"),
            event(at(2, 8), Source::Signin, "Sign-in", "20.61.10.4", "s-vdi"),
            event(
                at(13, 14),
                Source::Signin,
                "Sign-in",
                "188.166.14.77",
                "s-evil",
            ),
            event(
                at(13, 15),
                Source::Audit,
                "MailItemsAccessed",
                "40.107.1.1",
                "s-evil",
            ),
            event(
                at(13, 16),
                Source::Audit,
                "New-InboxRule",
                "20.61.10.4",
                "s-vdi",
            ),
            event(
                at(13, 17),
                Source::Audit,
                "Send",
                "188.166.14.77",
                "s-other",
            ),
        ];
        let ips = Enrichment::from_infos(
            vec![
                info("73.20.1.2", 7922, NetworkKind::Isp, false),
                info("20.61.10.4", 8075, NetworkKind::Hosting, true),
                info("188.166.14.77", 14061, NetworkKind::Hosting, false),
                info("40.107.1.1", 8075, NetworkKind::Hosting, false),
            ],
            Vec::new(),
        );
        (events, ips)
    }

    fn lead(events: Vec<usize>, severity: u8, attempt: bool) -> Lead {
        Lead {
            rule_id: "t".into(),
            severity,
            user: "v@contoso.example".into(),
            events,
            attempt,
            no_seed: false,
        }
    }

    #[test]
    fn the_attacker_session_and_ip_spread_and_service_addresses_are_left_out() {
        let (events, ips) = case();
        let all: Vec<usize> = (0..events.len()).collect();
        let fp = attribute(
            &events,
            &all,
            &[lead(vec![2], 4, false)],
            &ips,
            &AttributionOptions::default(),
        );
        let attributed: Vec<usize> = fp.events.iter().map(|(i, _, _)| *i).collect();
        // The VPS sign-in, its session's mail access, and a send from the VPS address.
        assert_eq!(attributed, vec![2, 3, 5]);
        assert_eq!(
            fp.ips.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
            vec!["188.166.14.77"]
        );
        assert_eq!(fp.excluded_ips.len(), 1);
        assert_eq!(fp.excluded_ips[0].ip.to_string(), "40.107.1.1");
        assert!(
            fp.excluded_ips[0].why.contains("AS8075"),
            "{}",
            fp.excluded_ips[0].why
        );
        assert!(fp
            .baseline_ips
            .iter()
            .any(|ip| ip.to_string() == "73.20.1.2"));
    }

    #[test]
    fn shared_egress_is_never_the_attackers_and_attempts_seed_nothing() {
        let (events, ips) = case();
        let all: Vec<usize> = (0..events.len()).collect();
        // A high finding on the inbox rule made from the shared VPN pool.
        let fp = attribute(
            &events,
            &all,
            &[lead(vec![4], 3, false)],
            &ips,
            &AttributionOptions::default(),
        );
        assert!(fp.ips.is_empty(), "{:?}", fp.ips);
        assert!(fp
            .excluded_ips
            .iter()
            .any(|x| x.why.contains("shared egress")));
        let fp = attribute(
            &events,
            &all,
            &[lead(vec![2], 4, true)],
            &ips,
            &AttributionOptions::default(),
        );
        assert!(fp.is_empty(), "a failed attempt seeds no footprint");
    }

    /// A week of work from one address, a sign-in and a rule on the first day from it; a VPS
    /// that arrives on day 6.
    fn everyday_case(vps_days: &[u32]) -> (Vec<Event>, Enrichment) {
        let mut events = Vec::new();
        for day in 1..=7 {
            events.push(event(
                at(day, 8),
                Source::Signin,
                "Sign-in",
                "54.0.31.32",
                "s-own",
            ));
            events.push(event(
                at(day, 9),
                Source::Audit,
                "Send",
                "54.0.31.32",
                "s-own",
            ));
        }
        for &day in vps_days {
            events.push(event(
                at(day, 20),
                Source::Signin,
                "Sign-in",
                "188.166.14.77",
                "s-evil",
            ));
        }
        events.sort_by_key(|e| e.time);
        let ips = Enrichment::from_infos(
            vec![
                info("54.0.31.32", 16509, NetworkKind::Hosting, false),
                info("188.166.14.77", 14061, NetworkKind::Hosting, false),
            ],
            Vec::new(),
        );
        (events, ips)
    }

    #[test]
    fn the_accounts_everyday_address_is_never_the_attackers() {
        // A person on a dedicated cloud desktop: a critical finding on their first day's
        // sign-in from it names their own address, so no attacker is attributed.
        let (events, ips) = everyday_case(&[]);
        let all: Vec<usize> = (0..events.len()).collect();
        let fp = attribute(
            &events,
            &all,
            &[lead(vec![0], 4, false)],
            &ips,
            &AttributionOptions::default(),
        );
        assert!(fp.is_empty(), "{:?}", fp.ips);
        let why = &fp.excluded_ips.first().expect("the address is said").why;
        assert!(
            why.contains("everyday address") && why.contains("7 of its 7"),
            "{why}"
        );

        // A VPS that arrives on day 6 is the attacker's, and the everyday address stays apart.
        let (events, ips) = everyday_case(&[6, 7]);
        let all: Vec<usize> = (0..events.len()).collect();
        let vps = events
            .iter()
            .position(|e| e.session_id.as_deref() == Some("s-evil"))
            .expect("vps");
        let fp = attribute(
            &events,
            &all,
            &[lead(vec![vps], 4, false)],
            &ips,
            &AttributionOptions::default(),
        );
        assert_eq!(
            fp.ips.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
            vec!["188.166.14.77"]
        );

        // One day of evidence: nothing is everyday (not even the only address: that takes two
        // days), the finding's address seeds.
        let short: Vec<usize> = (0..2).collect();
        let (events, ips) = everyday_case(&[]);
        let fp = attribute(
            &events,
            &short,
            &[lead(vec![0], 4, false)],
            &ips,
            &AttributionOptions::default(),
        );
        assert_eq!(
            fp.ips.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
            vec!["54.0.31.32"]
        );
    }

    #[test]
    fn a_microsoft_address_on_a_sign_in_is_the_client() {
        let (events, ips) = case();
        let e = &events[1];
        let ms: IpAddr = "40.107.1.1".parse().expect("an address");
        assert!(
            not_attacker_ip(e, ms, &ips).is_none(),
            "an Azure VM can sign in"
        );
        assert!(not_attacker_ip(&events[3], ms, &ips).is_some());
    }

    #[test]
    fn medium_leads_from_rented_networks_seed_when_the_strong_ones_are_the_users_own() {
        let (events, ips) = case();
        let all: Vec<usize> = (0..events.len()).collect();
        // A high lead on the user's own home sign-in (a consent from home), and a medium one
        // on the VPS sign-in (a hosting network).
        let leads = [lead(vec![0], 3, false), lead(vec![2], 2, false)];
        let opts = AttributionOptions {
            baseline_lead: Duration::zero(),
            ..AttributionOptions::default()
        };
        let fp = attribute(&events, &all, &leads, &ips, &opts);
        assert_eq!(
            fp.ips.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
            vec!["188.166.14.77"]
        );
        // Without the medium lead, nothing is attributed.
        let fp = attribute(&events, &all, &leads[..1], &ips, &opts);
        assert!(fp.is_empty(), "{:?}", fp.ips);
    }
}
