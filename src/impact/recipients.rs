//! Who must be told: every recipient of mail from the compromised account in a window, from
//! message trace, with audit `Send` events where the trace has no row for the message.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Evidence;
use crate::model::{Event, Source};

/// One recipient to notify.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recipient {
    pub recipient: String,
    pub domain: String,
    /// The domain is one of the tenant's.
    pub internal: bool,
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
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UntracedSend {
    pub time: DateTime<Utc>,
    pub operation: String,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub evidence: Evidence,
}

/// The notification list for one user and window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NotificationList {
    pub user: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Sorted by domain, then recipient: ready for a mail merge, grouped by organisation.
    pub recipients: Vec<Recipient>,
    pub untraced_sends: Vec<UntracedSend>,
}

impl NotificationList {
    /// How many recipients are outside the tenant.
    pub fn external(&self) -> usize {
        self.recipients.iter().filter(|r| !r.internal).count()
    }
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

/// Every recipient of mail from `user` between `from` and `to` (inclusive; open ends allowed).
pub fn notification_list(
    events: &[Event],
    files: &[String],
    user: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    tenant: &[String],
) -> NotificationList {
    let user = user.trim().to_lowercase();
    let in_window = |e: &Event| from.is_none_or(|f| e.time >= f) && to.is_none_or(|t| e.time <= t);
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| *e.user == *user && in_window(e))
        .collect();

    #[derive(Default)]
    struct Acc {
        first: Option<DateTime<Utc>>,
        last: Option<DateTime<Utc>>,
        rows: u64,
        ids: BTreeSet<String>,
        subjects: BTreeSet<String>,
        statuses: BTreeSet<String>,
        evidence: Vec<Evidence>,
    }
    let mut by_recipient: BTreeMap<String, Acc> = BTreeMap::new();
    let mut traced_ids: BTreeSet<&str> = BTreeSet::new();
    for e in mine.iter().filter(|e| e.source == Source::Messagetrace) {
        let Some(rcpt) = e.attr("recipient") else {
            continue;
        };
        let rcpt = rcpt.trim().to_lowercase();
        if rcpt.is_empty() {
            continue;
        }
        let a = by_recipient.entry(rcpt).or_default();
        a.first = Some(a.first.map_or(e.time, |f| f.min(e.time)));
        a.last = Some(a.last.map_or(e.time, |l| l.max(e.time)));
        a.rows += 1;
        if let Some(id) = e.attr("message_id") {
            a.ids.insert(id.to_string());
            traced_ids.insert(id);
        }
        if let Some(s) = e.attr("subject").or(e.object.as_deref()) {
            a.subjects.insert(s.to_string());
        }
        if let Some(s) = e.attr("status") {
            a.statuses.insert(s.to_string());
        }
        a.evidence.push(Evidence::of(e, files));
    }
    let mut recipients: Vec<Recipient> = by_recipient
        .into_iter()
        .filter_map(|(recipient, a)| {
            let domain = domain_of(&recipient);
            Some(Recipient {
                internal: tenant.contains(&domain),
                domain,
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
    recipients.sort_by(|a, b| {
        a.domain
            .cmp(&b.domain)
            .then_with(|| a.recipient.cmp(&b.recipient))
    });

    let untraced_sends = mine
        .iter()
        .filter(|e| e.source == Source::Audit && SEND_OPERATIONS.contains(&&*e.operation))
        .filter(|e| {
            e.attr("message_id")
                .is_none_or(|id| !traced_ids.contains(id))
        })
        .map(|e| UntracedSend {
            time: e.time,
            operation: e.operation.to_string(),
            subject: e
                .attr("subject")
                .or(e.object.as_deref())
                .map(str::to_string),
            message_id: e.attr("message_id").map(str::to_string),
            evidence: Evidence::of(e, files),
        })
        .collect();
    NotificationList {
        user,
        from,
        to,
        recipients,
        untraced_sends,
    }
}
