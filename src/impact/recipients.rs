//! Who must be told: every recipient of mail from the compromised account in a window, from
//! message trace, with audit `Send` events where the trace has no row for the message.
//!
//! Each message is put down to the attacker, to the user, or to neither ([`SentBy`]), from the
//! attacker's footprint and the user's own IPs, devices and sessions. The recipients of the
//! attacker's mail and of mail of unknown origin are the list to notify; the recipients of the
//! user's own mail are listed apart, with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Evidence, Footprint};
use crate::model::{Event, Outcome, Source};

/// Who sent a message, as far as the evidence ties it to anyone.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SentBy {
    /// Tied to the attacker's session, token or IP.
    Attacker,
    /// Sent in the window, but nothing ties it to the attacker or to the user.
    #[default]
    Unknown,
    /// Tied to the user's own IP, session or device.
    User,
}

impl SentBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SentBy::Attacker => "attacker",
            SentBy::Unknown => "unknown",
            SentBy::User => "user",
        }
    }

    /// Whether the recipients of such mail are to be notified (everything but the user's own).
    pub fn notify(self) -> bool {
        self != SentBy::User
    }
}

/// One recipient of mail from the account, for one [`SentBy`]: a recipient who got mail of two
/// kinds has one row per kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    pub recipient: String,
    pub domain: String,
    /// The domain is one of the tenant's.
    pub internal: bool,
    /// Who sent the messages of this row.
    pub sent_by: SentBy,
    /// Why, in short (several reasons joined with `; `).
    pub sent_by_reason: String,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Messages (distinct message ids, else rows) sent to this recipient in the window.
    pub count: u64,
    pub subjects: Vec<String>,
    /// Delivery statuses seen (`Delivered`, `Failed`, `FilteredAsSpam`...).
    pub statuses: Vec<String>,
    pub message_ids: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// A message the audit log says was sent, but that no message-trace row covers: its
/// recipients are unknown from this evidence and must be found another way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UntracedSend {
    pub time: DateTime<Utc>,
    pub operation: String,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub sent_by: SentBy,
    pub sent_by_reason: String,
    pub evidence: Evidence,
}

/// The notification list for one user and window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationList {
    pub user: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The list to notify: recipients of the attacker's mail and of mail of unknown origin.
    /// Sorted by domain, recipient, then sent_by: ready for a mail merge, grouped by organisation.
    pub recipients: Vec<Recipient>,
    /// Recipients of mail the user sent themselves, listed apart (not to notify), same order.
    pub user_sent: Vec<Recipient>,
    pub untraced_sends: Vec<UntracedSend>,
}

impl NotificationList {
    /// How many addresses are to be notified.
    pub fn to_notify(&self) -> usize {
        distinct(self.recipients.iter())
    }

    /// How many addresses to notify are outside the tenant.
    pub fn external(&self) -> usize {
        distinct(self.recipients.iter().filter(|r| !r.internal))
    }

    /// How many addresses to notify are in the tenant.
    pub fn internal(&self) -> usize {
        distinct(self.recipients.iter().filter(|r| r.internal))
    }

    /// How many addresses got mail sent by `who` (in either list).
    pub fn sent_by(&self, who: SentBy) -> usize {
        distinct(
            self.recipients
                .iter()
                .chain(&self.user_sent)
                .filter(|r| r.sent_by == who),
        )
    }

    /// How many addresses got only the user's own mail (listed apart, not to notify).
    pub fn user_only(&self) -> usize {
        let notify: BTreeSet<&str> = self
            .recipients
            .iter()
            .map(|r| r.recipient.as_str())
            .collect();
        distinct(
            self.user_sent
                .iter()
                .filter(|r| !notify.contains(r.recipient.as_str())),
        )
    }
}

fn distinct<'a>(rows: impl Iterator<Item = &'a Recipient>) -> usize {
    rows.map(|r| r.recipient.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

/// Audit operations that send mail as or for a mailbox.
pub const SEND_OPERATIONS: &[&str] = &["Send", "SendAs", "SendOnBehalf"];

/// The domain of an address, lower-cased (`""` when it has none).
pub fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The tenant's domains, inferred from the evidence, sorted: the same inference the rules use
/// ([`crate::detect::tenant_domains`]: the domains of the accounts that sign in or act in the
/// audit log, guest `#ext#` accounts excepted).
pub fn tenant_domains(events: &[Event]) -> Vec<String> {
    let mut out: Vec<String> = crate::detect::tenant_domains(events).into_iter().collect();
    out.sort();
    out
}

fn is_send(e: &Event) -> bool {
    e.source == Source::Audit && SEND_OPERATIONS.contains(&&*e.operation)
}

fn day(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// What ties a send to the attacker or to the user: the footprint's events and keys, and the
/// user's own IPs (the footprint's baseline), devices and sessions.
pub struct Origins<'a> {
    footprint: bool,
    attacker_events: BTreeMap<usize, &'a str>,
    attacker_ips: BTreeSet<IpAddr>,
    attacker_sessions: BTreeSet<&'a str>,
    attacker_tokens: BTreeSet<&'a str>,
    /// The user's own IPs, with the first successful sign-in from each.
    own_ips: BTreeMap<IpAddr, Option<DateTime<Utc>>>,
    /// The user's sessions the footprint did not take, that began with a sign-in from one of the
    /// user's IPs or devices, with how.
    own_sessions: BTreeMap<&'a str, String>,
}

impl<'a> Origins<'a> {
    /// The origins of `user`'s mail from `footprint` (none: every message is of unknown origin).
    /// `footprint.events` are indexes into `events`.
    pub fn new(events: &'a [Event], user: &str, footprint: Option<&'a Footprint>) -> Origins<'a> {
        let Some(fp) = footprint.filter(|f| !f.is_empty() || !f.baseline_ips.is_empty()) else {
            return Origins {
                footprint: false,
                attacker_events: BTreeMap::new(),
                attacker_ips: BTreeSet::new(),
                attacker_sessions: BTreeSet::new(),
                attacker_tokens: BTreeSet::new(),
                own_ips: BTreeMap::new(),
                own_sessions: BTreeMap::new(),
            };
        };
        let attacker_events: BTreeMap<usize, &str> = fp
            .events
            .iter()
            .map(|(i, _, why)| (*i, why.as_str()))
            .collect();
        let mut own_ips: BTreeMap<IpAddr, Option<DateTime<Utc>>> = fp
            .baseline_ips
            .iter()
            .chain(fp.shared_ips.iter().filter(|ip| !fp.ip_set().contains(ip)))
            .map(|ip| (*ip, None))
            .collect();
        // The user's successful sign-ins, oldest first.
        let mut sign_ins: Vec<(usize, &Event)> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                *e.user == *user
                    && matches!(e.source, Source::Signin | Source::Noninteractive)
                    && e.outcome == Outcome::Success
            })
            .collect();
        sign_ins.sort_by_key(|(i, e)| (e.time, e.origin, *i));
        let mut own_devices: BTreeMap<&str, IpAddr> = BTreeMap::new();
        for (i, e) in &sign_ins {
            let Some(ip) = e.ip else { continue };
            if let Some(seen) = own_ips.get_mut(&ip) {
                seen.get_or_insert(e.time);
                if let Some(d) = e.device_id.as_deref().filter(|d| !d.is_empty()) {
                    if !attacker_events.contains_key(i) {
                        own_devices.entry(d).or_insert(ip);
                    }
                }
            }
        }
        // Addresses the user signed in from on two or more days, none of it the attacker's, are
        // the user's habitual networks (home, office, phone).
        let mut days_of: BTreeMap<IpAddr, BTreeSet<String>> = BTreeMap::new();
        let mut tainted: BTreeSet<IpAddr> = fp.ip_set();
        for (i, e) in &sign_ins {
            let Some(ip) = e.ip else { continue };
            if attacker_events.contains_key(i) {
                tainted.insert(ip);
            } else {
                days_of.entry(ip).or_default().insert(day(&e.time));
            }
        }
        for (ip, days) in &days_of {
            if days.len() >= 2 && !tainted.contains(ip) {
                let first = sign_ins
                    .iter()
                    .find(|(_, e)| e.ip == Some(*ip))
                    .map(|(_, e)| e.time);
                own_ips.entry(*ip).or_insert(first);
            }
        }
        // The user's own devices make the addresses they sign in from the user's too.
        let attacker_ip_set = fp.ip_set();
        for (i, e) in &sign_ins {
            let (Some(ip), Some(d)) = (e.ip, e.device_id.as_deref()) else {
                continue;
            };
            if own_devices.contains_key(d)
                && !attacker_events.contains_key(i)
                && !attacker_ip_set.contains(&ip)
            {
                own_ips.entry(ip).or_insert(Some(e.time));
            }
        }
        let attacker_sessions: BTreeSet<&str> =
            fp.sessions.iter().map(|k| k.key.as_str()).collect();
        let mut begun: BTreeSet<&str> = BTreeSet::new();
        let mut own_sessions: BTreeMap<&str, String> = BTreeMap::new();
        for (i, e) in &sign_ins {
            let Some(s) = e.session_id.as_deref().filter(|s| !s.is_empty()) else {
                continue;
            };
            if !begun.insert(s) || attacker_sessions.contains(s) || attacker_events.contains_key(i)
            {
                continue;
            }
            let how = match (e.ip, e.device_id.as_deref()) {
                (Some(ip), _) if own_ips.contains_key(&ip) => {
                    format!("began with a sign-in from the user's own IP {ip}")
                }
                (_, Some(d)) if own_devices.contains_key(d) => {
                    format!("began with a sign-in on the user's own device {d}")
                }
                _ => continue,
            };
            own_sessions.insert(s, format!("{how} ({})", day(&e.time)));
        }
        Origins {
            footprint: true,
            attacker_events,
            attacker_ips: fp.ip_set(),
            attacker_sessions,
            attacker_tokens: fp.tokens.iter().map(|k| k.key.as_str()).collect(),
            own_ips,
            own_sessions,
        }
    }

    fn own_ip(&self, ip: &IpAddr) -> Option<String> {
        let seen = self.own_ips.get(ip)?;
        Some(match seen {
            Some(t) => format!("the user's own (seen {})", day(t)),
            None => "the user's own".to_string(),
        })
    }

    /// Who sent one message: `sends` are its audit send events, `trace` its message-trace rows
    /// (indexes into `events`). The attacker's ties are weighed first, so a message with ties to
    /// both is the attacker's.
    pub fn classify(&self, events: &[Event], sends: &[usize], trace: &[usize]) -> (SentBy, String) {
        if !self.footprint {
            return (
                SentBy::Unknown,
                "no attacker footprint for the account to compare with".to_string(),
            );
        }
        let sends: Vec<(usize, &Event)> = sends
            .iter()
            .filter_map(|i| events.get(*i).map(|e| (*i, e)))
            .collect();
        let trace: Vec<(usize, &Event)> = trace
            .iter()
            .filter_map(|i| events.get(*i).map(|e| (*i, e)))
            .collect();
        for (i, e) in &sends {
            let op = &*e.operation;
            if let Some(why) = self.attacker_events.get(i) {
                return (
                    SentBy::Attacker,
                    format!("audit {op} attributed to the attacker ({why})"),
                );
            }
            if let Some(s) = e
                .session_id
                .as_deref()
                .filter(|s| self.attacker_sessions.contains(s))
            {
                return (
                    SentBy::Attacker,
                    format!("audit {op} from attacker session {s}"),
                );
            }
            if let Some(t) = e
                .token_id
                .as_deref()
                .filter(|t| self.attacker_tokens.contains(t))
            {
                return (
                    SentBy::Attacker,
                    format!("audit {op} with attacker token {t}"),
                );
            }
            if let Some(ip) = e.ip.filter(|ip| self.attacker_ips.contains(ip)) {
                return (
                    SentBy::Attacker,
                    format!("audit {op} from attacker IP {ip}"),
                );
            }
        }
        for (i, e) in &trace {
            if let Some(why) = self.attacker_events.get(i) {
                return (
                    SentBy::Attacker,
                    format!("message trace row attributed to the attacker ({why})"),
                );
            }
            if let Some(ip) = e.ip.filter(|ip| self.attacker_ips.contains(ip)) {
                return (
                    SentBy::Attacker,
                    format!("client IP {ip} is the attacker's"),
                );
            }
        }
        for (_, e) in &sends {
            let op = &*e.operation;
            if let Some((ip, own)) = e.ip.and_then(|ip| Some((ip, self.own_ip(&ip)?))) {
                return (SentBy::User, format!("audit {op} from IP {ip}, {own}"));
            }
            if let Some((s, how)) = e
                .session_id
                .as_deref()
                .and_then(|s| self.own_sessions.get_key_value(s))
            {
                return (
                    SentBy::User,
                    format!("audit {op} in session {s}, which {how}"),
                );
            }
        }
        for (_, e) in &trace {
            if let Some((ip, own)) = e.ip.and_then(|ip| Some((ip, self.own_ip(&ip)?))) {
                return (SentBy::User, format!("client IP {ip} is {own}"));
            }
        }
        let ips: BTreeSet<IpAddr> = sends
            .iter()
            .chain(&trace)
            .filter_map(|(_, e)| e.ip)
            .collect();
        let why = if ips.is_empty() {
            "no client IP or session ties it to the attacker or the user".to_string()
        } else {
            let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
            format!(
                "client IP {} is neither the attacker's nor the user's own",
                ips.join(", ")
            )
        };
        (SentBy::Unknown, why)
    }
}

/// Every recipient of mail from `user` between `from` and `to` (inclusive; open ends allowed),
/// each message put down to the attacker, the user or neither from `footprint` (whose event
/// indexes are into `events`; none: every message is of unknown origin).
pub fn notification_list(
    events: &[Event],
    files: &[String],
    user: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    tenant: &[String],
    footprint: Option<&Footprint>,
) -> NotificationList {
    let user = user.trim().to_lowercase();
    let in_window = |e: &Event| from.is_none_or(|f| e.time >= f) && to.is_none_or(|t| e.time <= t);
    let origins = Origins::new(events, &user, footprint);
    // The user's audit sends by message id (in or out of the window: the audit record and the
    // trace row of one message may straddle an edge of it).
    let mut sends_by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    // The trace rows in the window, and the rows of each message.
    let mut trace: Vec<usize> = Vec::new();
    let mut rows_by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut sends: Vec<usize> = Vec::new();
    for (i, e) in events.iter().enumerate().filter(|(_, e)| *e.user == *user) {
        if is_send(e) {
            for id in e.attr_all("message_id") {
                sends_by_id.entry(id).or_default().push(i);
            }
            if in_window(e) {
                sends.push(i);
            }
        } else if e.source == Source::Messagetrace && in_window(e) {
            trace.push(i);
            if let Some(id) = e.attr("message_id") {
                rows_by_id.entry(id).or_default().push(i);
            }
        }
    }
    let no_sends: Vec<usize> = Vec::new();
    let by_id: BTreeMap<&str, (SentBy, String)> = rows_by_id
        .iter()
        .map(|(id, rows)| {
            let sends = sends_by_id.get(id).unwrap_or(&no_sends);
            (*id, origins.classify(events, sends, rows))
        })
        .collect();

    #[derive(Default)]
    struct Acc {
        first: Option<DateTime<Utc>>,
        last: Option<DateTime<Utc>>,
        rows: u64,
        ids: BTreeSet<String>,
        subjects: BTreeSet<String>,
        statuses: BTreeSet<String>,
        reasons: BTreeSet<String>,
        evidence: Vec<Evidence>,
    }
    let mut by_recipient: BTreeMap<(String, SentBy), Acc> = BTreeMap::new();
    for &i in &trace {
        let e = &events[i];
        let Some(rcpt) = e.attr("recipient") else {
            continue;
        };
        let rcpt = rcpt.trim().to_lowercase();
        if rcpt.is_empty() {
            continue;
        }
        let (sent_by, reason) = match e.attr("message_id").and_then(|id| by_id.get(id)) {
            Some((s, r)) => (*s, r.clone()),
            None => origins.classify(events, &[], &[i]),
        };
        let a = by_recipient.entry((rcpt, sent_by)).or_default();
        a.first = Some(a.first.map_or(e.time, |f| f.min(e.time)));
        a.last = Some(a.last.map_or(e.time, |l| l.max(e.time)));
        a.rows += 1;
        if let Some(id) = e.attr("message_id") {
            a.ids.insert(id.to_string());
        }
        if let Some(s) = e.attr("subject").or(e.object.as_deref()) {
            a.subjects.insert(s.to_string());
        }
        if let Some(s) = e.attr("status") {
            a.statuses.insert(s.to_string());
        }
        a.reasons.insert(reason);
        a.evidence.push(Evidence::of(e, files));
    }
    let mut rows: Vec<Recipient> = by_recipient
        .into_iter()
        .filter_map(|((recipient, sent_by), mut a)| {
            let domain = domain_of(&recipient);
            a.evidence.sort();
            Some(Recipient {
                internal: tenant.contains(&domain),
                domain,
                sent_by,
                sent_by_reason: a.reasons.into_iter().collect::<Vec<_>>().join("; "),
                first: a.first?,
                last: a.last?,
                count: if a.ids.is_empty() {
                    a.rows
                } else {
                    a.ids.len() as u64
                },
                subjects: a.subjects.into_iter().collect(),
                statuses: a.statuses.into_iter().collect(),
                message_ids: a.ids.into_iter().collect(),
                evidence: a.evidence,
                recipient,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        (&a.domain, &a.recipient, a.sent_by).cmp(&(&b.domain, &b.recipient, b.sent_by))
    });
    let (recipients, user_sent): (Vec<Recipient>, Vec<Recipient>) =
        rows.into_iter().partition(|r| r.sent_by.notify());

    let mut untraced_sends: Vec<UntracedSend> = sends
        .iter()
        .map(|&i| (i, &events[i]))
        .filter(|(_, e)| {
            e.attr("message_id")
                .is_none_or(|id| !rows_by_id.contains_key(id))
        })
        .map(|(i, e)| {
            let all = e
                .attr("message_id")
                .and_then(|id| sends_by_id.get(id))
                .map_or(vec![i], Vec::clone);
            let (sent_by, sent_by_reason) = origins.classify(events, &all, &[]);
            UntracedSend {
                time: e.time,
                operation: e.operation.to_string(),
                subject: e
                    .attr("subject")
                    .or(e.object.as_deref())
                    .map(str::to_string),
                message_id: e.attr("message_id").map(str::to_string),
                sent_by,
                sent_by_reason,
                evidence: Evidence::of(e, files),
            }
        })
        .collect();
    untraced_sends.sort_by(|a, b| a.evidence.cmp(&b.evidence));
    NotificationList {
        user,
        from,
        to,
        recipients,
        user_sent,
        untraced_sends,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::attribution::{Confidence, KeyAttribution};
    use chrono::{Duration, TimeZone};

    const USER: &str = "victim@contoso.example";
    const OWN_IP: &str = "198.51.100.7";
    const ATTACKER_IP: &str = "203.0.113.9";
    const TENANT: &[&str] = &["contoso.example"];

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0)
            .single()
            .expect("valid time")
            + Duration::hours(hours)
    }

    fn sign_in(hours: i64, ip: &str, session: &str, device: Option<&str>) -> Event {
        let mut e = Event::new(at(hours), Source::Signin, USER.into(), "Sign-in".into());
        e.outcome = Outcome::Success;
        e.ip = ip.parse().ok();
        e.session_id = Some(session.into());
        e.device_id = device.map(Into::into);
        e
    }

    fn send(hours: i64, ip: &str, session: &str, id: &str) -> Event {
        let mut e = Event::new(at(hours), Source::Audit, USER.into(), "Send".into());
        e.ip = ip.parse().ok();
        e.session_id = Some(session.into());
        e.attrs.push(("message_id".into(), id.into()));
        e.attrs
            .push(("subject".into(), format!("subject of {id}").into()));
        e
    }

    fn trace(hours: i64, ip: &str, id: Option<&str>, to: &str) -> Event {
        let mut e = Event::new(
            at(hours),
            Source::Messagetrace,
            USER.into(),
            "Message".into(),
        );
        e.ip = ip.parse().ok();
        e.attrs.push(("recipient".into(), to.into()));
        e.attrs.push(("status".into(), "Delivered".into()));
        if let Some(id) = id {
            e.attrs.push(("message_id".into(), id.into()));
        }
        e
    }

    fn key(k: &str, why: &str) -> KeyAttribution {
        KeyAttribution {
            key: k.into(),
            why: why.into(),
            confidence: Confidence::High,
            first: at(200),
            last: at(200),
            events: 1,
        }
    }

    /// The footprint attribution would give: the attacker's IP and session, the events at
    /// `attacker` (indexes), and the user's own IP as baseline.
    fn footprint(attacker: &[usize]) -> Footprint {
        Footprint {
            ips: vec![key(ATTACKER_IP, "source of test evidence")],
            sessions: vec![key("evil", "session of test evidence")],
            baseline_ips: vec![OWN_IP.parse().expect("ip")],
            events: attacker
                .iter()
                .map(|i| (*i, Confidence::High, "attacker session evil".to_string()))
                .collect(),
            ..Footprint::default()
        }
    }

    fn list(events: &[Event], fp: Option<&Footprint>) -> NotificationList {
        let tenant: Vec<String> = TENANT.iter().map(|d| d.to_string()).collect();
        notification_list(events, &[], USER, Some(at(190)), Some(at(300)), &tenant, fp)
    }

    fn row<'a>(rows: &'a [Recipient], to: &str) -> &'a Recipient {
        rows.iter()
            .find(|r| r.recipient == to)
            .unwrap_or_else(|| panic!("no row for {to}"))
    }

    /// The user's own sign-in a week before, the attacker's sign-in and send, the user's send,
    /// and a message nothing ties to either.
    fn case() -> Vec<Event> {
        vec![
            sign_in(0, OWN_IP, "own", Some("laptop")),
            sign_in(200, ATTACKER_IP, "evil", None),
            send(201, ATTACKER_IP, "evil", "<fraud@x>"),
            trace(
                201,
                ATTACKER_IP,
                Some("<fraud@x>"),
                "Accounts@Fabrikam.example",
            ),
            trace(
                201,
                ATTACKER_IP,
                Some("<fraud@x>"),
                "colleague@contoso.example",
            ),
            send(202, OWN_IP, "own", "<lunch@x>"),
            trace(202, OWN_IP, Some("<lunch@x>"), "friend@litware.example"),
            trace(202, OWN_IP, Some("<lunch@x>"), "accounts@fabrikam.example"),
            trace(
                203,
                "192.0.2.50",
                Some("<odd@x>"),
                "stranger@adatum.example",
            ),
        ]
    }

    #[test]
    fn each_message_is_the_attackers_the_users_or_unknown() {
        let events = case();
        let fp = footprint(&[1, 2]);
        let l = list(&events, Some(&fp));

        // To notify: the attacker's mail and the mail of unknown origin, by domain.
        let notify: Vec<(&str, SentBy)> = l
            .recipients
            .iter()
            .map(|r| (r.recipient.as_str(), r.sent_by))
            .collect();
        assert_eq!(
            notify,
            vec![
                ("stranger@adatum.example", SentBy::Unknown),
                ("colleague@contoso.example", SentBy::Attacker),
                ("accounts@fabrikam.example", SentBy::Attacker),
            ]
        );
        let fraud = row(&l.recipients, "accounts@fabrikam.example");
        assert_eq!(
            fraud.sent_by_reason,
            "audit Send attributed to the attacker (attacker session evil)"
        );
        assert_eq!(fraud.message_ids, vec!["<fraud@x>"]);
        assert!(row(&l.recipients, "colleague@contoso.example").internal);
        assert_eq!(
            row(&l.recipients, "stranger@adatum.example").sent_by_reason,
            "client IP 192.0.2.50 is neither the attacker's nor the user's own"
        );

        // Apart: the user's own mail, one row per recipient, with why. The vendor who got both
        // kinds has a row in each list, each with its own message.
        let own: Vec<&str> = l.user_sent.iter().map(|r| r.recipient.as_str()).collect();
        assert_eq!(
            own,
            vec!["accounts@fabrikam.example", "friend@litware.example"]
        );
        let lunch = row(&l.user_sent, "accounts@fabrikam.example");
        assert_eq!(lunch.sent_by, SentBy::User);
        assert_eq!(lunch.message_ids, vec!["<lunch@x>"]);
        assert_eq!(
            lunch.sent_by_reason,
            "audit Send from IP 198.51.100.7, the user's own (seen 2024-05-01)"
        );

        assert_eq!(l.to_notify(), 3);
        assert_eq!((l.external(), l.internal()), (2, 1));
        assert_eq!(l.sent_by(SentBy::Attacker), 2);
        assert_eq!(l.sent_by(SentBy::User), 2);
        assert_eq!(
            l.user_only(),
            1,
            "friend@litware.example got only the user's mail"
        );
        assert!(l.untraced_sends.is_empty());
    }

    #[test]
    fn message_trace_alone_ties_a_message_by_its_client_ip() {
        let events = vec![
            sign_in(0, OWN_IP, "own", None),
            trace(201, ATTACKER_IP, None, "a@fabrikam.example"),
            trace(202, OWN_IP, None, "b@fabrikam.example"),
            trace(203, "192.0.2.50", None, "c@fabrikam.example"),
        ];
        let fp = footprint(&[]);
        let l = list(&events, Some(&fp));
        let a = row(&l.recipients, "a@fabrikam.example");
        assert_eq!(a.sent_by, SentBy::Attacker);
        assert_eq!(a.sent_by_reason, "client IP 203.0.113.9 is the attacker's");
        let c = row(&l.recipients, "c@fabrikam.example");
        assert_eq!(c.sent_by, SentBy::Unknown);
        let b = row(&l.user_sent, "b@fabrikam.example");
        assert_eq!(
            b.sent_by_reason,
            "client IP 198.51.100.7 is the user's own (seen 2024-05-01)"
        );
        assert_eq!(b.count, 1, "a row without message id counts as one message");
    }

    #[test]
    fn a_send_in_the_users_own_session_or_device_is_the_users() {
        let events = vec![
            sign_in(0, OWN_IP, "own", Some("laptop")),
            // A session that began at the office, used later from a phone network.
            sign_in(195, OWN_IP, "desk", Some("laptop")),
            send(201, "192.0.2.60", "desk", "<a@x>"),
            trace(201, "192.0.2.60", Some("<a@x>"), "a@fabrikam.example"),
            // A session that began away from the office, on the user's own laptop.
            sign_in(196, "192.0.2.70", "travel", Some("laptop")),
            send(202, "192.0.2.70", "travel", "<b@x>"),
            trace(202, "192.0.2.70", Some("<b@x>"), "b@fabrikam.example"),
            // A session from an unknown network and device: not the user's.
            sign_in(197, "192.0.2.80", "other", Some("unknown-pc")),
            send(203, "192.0.2.80", "other", "<c@x>"),
            trace(203, "192.0.2.80", Some("<c@x>"), "c@fabrikam.example"),
        ];
        let fp = footprint(&[]);
        let l = list(&events, Some(&fp));
        let a = row(&l.user_sent, "a@fabrikam.example");
        assert_eq!(
            a.sent_by_reason,
            "audit Send in session desk, which began with a sign-in from the user's own IP 198.51.100.7 (2024-05-09)"
        );
        // The laptop signing in from 192.0.2.70 makes that address the user's too.
        let b = row(&l.user_sent, "b@fabrikam.example");
        assert_eq!(
            b.sent_by_reason,
            "audit Send from IP 192.0.2.70, the user's own (seen 2024-05-09)"
        );
        assert_eq!(
            row(&l.recipients, "c@fabrikam.example").sent_by,
            SentBy::Unknown
        );
    }

    #[test]
    fn the_attackers_ties_win_over_the_users() {
        // The attacker's session sends, but the trace shows the user's own address (a proxy
        // relaying through the office, say): the message is still the attacker's.
        let events = vec![
            sign_in(0, OWN_IP, "own", None),
            send(201, "192.0.2.90", "evil", "<a@x>"),
            trace(201, OWN_IP, Some("<a@x>"), "a@fabrikam.example"),
        ];
        let fp = footprint(&[]);
        let l = list(&events, Some(&fp));
        assert!(l.user_sent.is_empty());
        assert_eq!(
            row(&l.recipients, "a@fabrikam.example").sent_by_reason,
            "audit Send from attacker session evil"
        );
    }

    #[test]
    fn without_a_footprint_everything_is_unknown_and_to_notify() {
        let events = case();
        let l = list(&events, None);
        assert!(l.user_sent.is_empty());
        assert!(l.recipients.iter().all(|r| r.sent_by == SentBy::Unknown
            && r.sent_by_reason == "no attacker footprint for the account to compare with"));
        // accounts@fabrikam.example got two messages, both of unknown origin: one row.
        assert_eq!(row(&l.recipients, "accounts@fabrikam.example").count, 2);
        assert_eq!(l.to_notify(), 4);
        assert_eq!(list(&events, Some(&Footprint::default())), l);
    }

    #[test]
    fn a_send_without_trace_rows_is_untraced_and_still_classified() {
        let mut events = case();
        events.push(send(204, ATTACKER_IP, "evil", "<lost@x>"));
        events.push(send(205, OWN_IP, "own", "<lost2@x>"));
        let fp = footprint(&[1, 2]);
        let l = list(&events, Some(&fp));
        let untraced: Vec<(Option<&str>, SentBy)> = l
            .untraced_sends
            .iter()
            .map(|s| (s.message_id.as_deref(), s.sent_by))
            .collect();
        assert_eq!(
            untraced,
            vec![
                (Some("<lost@x>"), SentBy::Attacker),
                (Some("<lost2@x>"), SentBy::User)
            ]
        );
    }
}
