//! Blast radius: what the attacker read, sent, deleted, changed and downloaded, from the events
//! attributed to it, and whose mail it exposed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::attribution::Footprint;
use super::recipients::{domain_of, SEND_OPERATIONS};
use super::Evidence;
use crate::model::{Event, Source};

/// Mail read in one folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FolderRead {
    pub folder: String,
    /// Items opened one by one (MailItemsAccessed `Bind`), counted by `OperationCount` /
    /// message ids.
    pub bind_items: u64,
    /// Times the whole folder was synchronised (`Sync`): every message in it is exposed.
    pub syncs: u64,
    pub whole_folder_exposed: bool,
    pub message_ids: Vec<String>,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// A message the attacker sent as (or on behalf of) the user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentMessage {
    pub time: DateTime<Utc>,
    pub operation: String,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    /// From message trace, joined on the message id.
    pub recipients: Vec<String>,
    pub evidence: Evidence,
}

/// A mailbox, identity or file action, listed with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub time: DateTime<Utc>,
    pub operation: String,
    pub object: Option<String>,
    /// The parameters that matter (`ForwardTo=...`, `MoveToFolder=RSS Subscriptions`).
    pub details: Vec<String>,
    pub evidence: Evidence,
}

/// Files touched on one site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteFiles {
    pub site: String,
    pub operations: BTreeMap<String, u64>,
    pub files: Vec<String>,
}

/// Someone whose mail the attacker saw: a sender or co-recipient of a message it read or deleted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExposedCorrespondent {
    pub address: String,
    pub domain: String,
    pub internal: bool,
    /// Messages of theirs the attacker read or deleted (by message id).
    pub messages: u64,
    pub subjects: Vec<String>,
}

/// Everything the attacker did in one account.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlastRadius {
    pub mail_read: Vec<FolderRead>,
    pub mail_sent: Vec<SentMessage>,
    pub mail_deleted_or_moved: Vec<Action>,
    pub rules_and_forwarding: Vec<Action>,
    /// Addresses mail was forwarded or redirected to.
    pub forwarding_targets: Vec<String>,
    pub files: Vec<SiteFiles>,
    pub identity_changes: Vec<Action>,
    /// Mailboxes the attacker reached by delegation (owner differs from the user).
    pub delegated_mailboxes: Vec<String>,
    pub exposed_correspondents: Vec<ExposedCorrespondent>,
    /// Folders synchronised whole: their correspondents cannot all be named from trace.
    pub synced_folders: Vec<String>,
}

const DELETE_OPERATIONS: &[&str] = &["SoftDelete", "HardDelete", "MoveToDeletedItems", "Move"];
const RULE_OPERATIONS: &[&str] = &[
    "New-InboxRule",
    "Set-InboxRule",
    "UpdateInboxRules",
    "Set-Mailbox",
    "New-TransportRule",
    "Set-TransportRule",
];
/// Parameters that send mail elsewhere.
const FORWARD_PARAMS: &[&str] = &[
    "param.ForwardTo",
    "param.RedirectTo",
    "param.ForwardAsAttachmentTo",
    "param.ForwardingSmtpAddress",
    "param.ForwardingAddress",
    "param.BlindCopyTo",
    "param.CopyTo",
];
const FILE_OPERATIONS: &[&str] = &[
    "FileAccessed",
    "FileDownloaded",
    "FileSyncDownloadedFull",
    "FileSyncDownloadedPartial",
    "FilePreviewed",
    "FileModified",
    "FileUploaded",
    "FileDeleted",
    "SharingSet",
    "SharingInvitationCreated",
    "AnonymousLinkCreated",
    "CompanyLinkCreated",
    "SecureLinkCreated",
    "AddedToSecureLink",
];
const IDENTITY_PREFIXES: &[&str] = &[
    "Update user.",
    "User registered security info",
    "User changed default security info",
    "User deleted security info",
    "Admin registered security info",
    "Consent to application.",
    "Add app role assignment",
    "Add delegated permission grant.",
    "Add service principal credentials.",
    "Update application",
    "Add member to role.",
    "Add-MailboxPermission",
    "Add-RecipientPermission",
    "Add-MailboxFolderPermission",
    "Set-MailboxFolderPermission",
    "Change user password.",
    "Reset user password.",
];

/// Whether `op` begins with the activity `prefix`, whichever copy of the log wrote it (a trailing
/// period on the prefix is dropped, ASCII case ignored): `Update user.` matches the Entra audit
/// log's `Update user`, `Update application` its `Update application – Certificates...`.
fn starts_like(op: &str, prefix: &str) -> bool {
    let p = prefix.trim_end_matches('.').as_bytes();
    let o = op.trim_start().as_bytes();
    o.len() >= p.len() && o[..p.len()].eq_ignore_ascii_case(p)
}

fn action(e: &Event, files: &[String], detail_keys: &[&str]) -> Action {
    let details = e
        .attrs
        .iter()
        .filter(|(k, _)| {
            detail_keys.is_empty() && (k.starts_with("param.") || k.starts_with("modified."))
                || detail_keys.contains(&&**k)
        })
        .map(|(k, v)| {
            let name = k.split_once('.').map_or(&**k, |(_, n)| n);
            format!("{name}={v}")
        })
        .collect();
    Action {
        time: e.time,
        operation: e.operation.to_string(),
        object: e.object.as_deref().map(str::to_string),
        details,
        evidence: Evidence::of(e, files),
    }
}

/// Counts items, not records: `OperationCount`, else the message ids listed, else one.
fn items(e: &Event) -> u64 {
    e.attr("operation_count")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| (e.attr_all("message_id").count() as u64).max(1))
}

/// The blast radius of one footprint. `trace_by_id` maps an InternetMessageId to its
/// message-trace events (built once for all users).
pub fn blast_radius(
    events: &[Event],
    files: &[String],
    user: &str,
    footprint: &Footprint,
    trace_by_id: &BTreeMap<&str, Vec<usize>>,
    tenant: &[String],
) -> BlastRadius {
    let mut br = BlastRadius::default();
    let mut folders: BTreeMap<String, FolderRead> = BTreeMap::new();
    let mut sites: BTreeMap<String, (BTreeMap<String, u64>, BTreeSet<String>)> = BTreeMap::new();
    let mut targets = BTreeSet::new();
    let mut delegated = BTreeSet::new();
    let mut exposed_ids: BTreeSet<&str> = BTreeSet::new();
    let mut sent_ids: BTreeSet<&str> = BTreeSet::new();
    for (i, _, _) in &footprint.events {
        let e = &events[*i];
        if let Some(owner) = e.attr("mailbox_owner") {
            if !owner.eq_ignore_ascii_case(user) {
                delegated.insert(owner.to_lowercase());
            }
        }
        let op = &*e.operation;
        if e.source == Source::Messagetrace {
            if let Some(id) = e.attr("message_id") {
                sent_ids.insert(id);
            }
            continue;
        }
        if op == "MailItemsAccessed" {
            let folder = e
                .attr("folder")
                .unwrap_or("(folder not recorded)")
                .to_string();
            let sync = e
                .attr("prop.MailAccessType")
                .is_some_and(|t| t.eq_ignore_ascii_case("sync"));
            let f = folders.entry(folder.clone()).or_insert_with(|| FolderRead {
                folder,
                bind_items: 0,
                syncs: 0,
                whole_folder_exposed: false,
                message_ids: Vec::new(),
                first: e.time,
                last: e.time,
            });
            f.first = f.first.min(e.time);
            f.last = f.last.max(e.time);
            if sync {
                f.syncs += 1;
                f.whole_folder_exposed = true;
            } else {
                f.bind_items += items(e);
                for id in e.attr_all("message_id") {
                    f.message_ids.push(id.to_string());
                    exposed_ids.insert(id);
                }
            }
        } else if SEND_OPERATIONS.contains(&op) {
            let id = e.attr("message_id");
            if let Some(id) = id {
                sent_ids.insert(id);
            }
            let recipients = trace_recipients(events, id.and_then(|id| trace_by_id.get(id)));
            br.mail_sent.push(SentMessage {
                time: e.time,
                operation: op.to_string(),
                subject: e
                    .attr("subject")
                    .or(e.object.as_deref())
                    .map(str::to_string),
                message_id: id.map(str::to_string),
                recipients,
                evidence: Evidence::of(e, files),
            });
        } else if DELETE_OPERATIONS.contains(&op) {
            for id in e.attr_all("message_id") {
                exposed_ids.insert(id);
            }
            br.mail_deleted_or_moved
                .push(action(e, files, &["folder", "dest_folder", "subject"]));
        } else if RULE_OPERATIONS.contains(&op) {
            for key in FORWARD_PARAMS {
                for v in e.attr_all(key) {
                    for t in v.split([';', ',']).map(str::trim).filter(|t| !t.is_empty()) {
                        targets.insert(
                            t.trim_start_matches("smtp:")
                                .trim_start_matches("SMTP:")
                                .to_lowercase(),
                        );
                    }
                }
            }
            br.rules_and_forwarding.push(action(e, files, &[]));
        } else if FILE_OPERATIONS.contains(&op) {
            let site = e
                .attr("site_url")
                .unwrap_or("(site not recorded)")
                .to_string();
            let s = sites.entry(site).or_default();
            *s.0.entry(op.to_string()).or_default() += items(e);
            if let Some(f) = e.attr("file_name").or(e.object.as_deref()) {
                s.1.insert(f.to_string());
            }
        } else if IDENTITY_PREFIXES.iter().any(|p| starts_like(op, p)) {
            br.identity_changes.push(action(e, files, &[]));
        }
    }
    // Messages the attacker sent that only message trace shows (no audit Send record).
    for id in &sent_ids {
        if br
            .mail_sent
            .iter()
            .any(|m| m.message_id.as_deref() == Some(*id))
        {
            continue;
        }
        let Some(rows) = trace_by_id.get(id) else {
            continue;
        };
        let Some(first) = rows.first().map(|j| &events[*j]) else {
            continue;
        };
        let recipients = trace_recipients(events, Some(rows));
        br.mail_sent.push(SentMessage {
            time: first.time,
            operation: "Message (trace)".to_string(),
            subject: first
                .attr("subject")
                .or(first.object.as_deref())
                .map(str::to_string),
            message_id: Some(id.to_string()),
            recipients,
            evidence: Evidence::of(first, files),
        });
    }
    br.mail_sent.sort_by(|a, b| {
        (a.time, &a.evidence.file, a.evidence.record).cmp(&(
            b.time,
            &b.evidence.file,
            b.evidence.record,
        ))
    });
    br.synced_folders = folders
        .values()
        .filter(|f| f.whole_folder_exposed)
        .map(|f| f.folder.clone())
        .collect();
    br.mail_read = folders.into_values().collect();
    br.files = sites
        .into_iter()
        .map(|(site, (operations, files))| SiteFiles {
            site,
            operations,
            files: files.into_iter().collect(),
        })
        .collect();
    br.forwarding_targets = targets.into_iter().collect();
    br.delegated_mailboxes = delegated.into_iter().collect();
    br.exposed_correspondents = exposed(events, user, &exposed_ids, trace_by_id, tenant);
    br
}

/// The recipients message trace lists for one message's rows, sorted, once each.
fn trace_recipients(events: &[Event], rows: Option<&Vec<usize>>) -> Vec<String> {
    let mut recipients: Vec<String> = rows
        .into_iter()
        .flatten()
        .filter_map(|j| events[*j].attr("recipient").map(str::to_lowercase))
        .collect();
    recipients.sort();
    recipients.dedup();
    recipients
}

/// Senders and other recipients of the messages the attacker read or deleted, from trace.
fn exposed(
    events: &[Event],
    user: &str,
    ids: &BTreeSet<&str>,
    trace_by_id: &BTreeMap<&str, Vec<usize>>,
    tenant: &[String],
) -> Vec<ExposedCorrespondent> {
    let rows = ids
        .iter()
        .flat_map(|id| trace_by_id.get(id).into_iter().flatten())
        .map(|j| TraceRow::of(&events[*j]));
    correspondents(rows, user, tenant)
}

/// What exposure needs of one message-trace row: the message, sender, recipient and subject.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TraceRow {
    pub message_id: String,
    pub sender: String,
    pub recipient: Option<String>,
    pub subject: String,
}

impl TraceRow {
    pub fn of(e: &Event) -> TraceRow {
        TraceRow {
            message_id: e.attr("message_id").unwrap_or_default().to_string(),
            sender: e.user.to_string(),
            recipient: e.attr("recipient").map(str::to_string),
            subject: e
                .attr("subject")
                .or(e.object.as_deref())
                .unwrap_or("")
                .to_string(),
        }
    }
}

/// The message ids the attacker read or deleted (those whose trace rows name the exposed
/// correspondents).
pub fn exposed_ids<'a>(events: &'a [Event], footprint: &Footprint) -> BTreeSet<&'a str> {
    let mut ids = BTreeSet::new();
    for (i, _, _) in &footprint.events {
        let e = &events[*i];
        let op = &*e.operation;
        if e.source == Source::Messagetrace {
            continue;
        }
        let read = op == "MailItemsAccessed"
            && !e
                .attr("prop.MailAccessType")
                .is_some_and(|t| t.eq_ignore_ascii_case("sync"));
        if read || DELETE_OPERATIONS.contains(&op) {
            ids.extend(e.attr_all("message_id"));
        }
    }
    ids
}

/// Correspondents from the trace rows of the exposed messages: each sender and recipient other
/// than the user, with how many of the messages and which subjects.
pub fn correspondents(
    rows: impl Iterator<Item = TraceRow>,
    user: &str,
    tenant: &[String],
) -> Vec<ExposedCorrespondent> {
    let mut people: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for row in rows {
        for who in [Some(row.sender.as_str()), row.recipient.as_deref()]
            .into_iter()
            .flatten()
        {
            let who = who.to_lowercase();
            if who == user || who.is_empty() {
                continue;
            }
            let p = people.entry(who).or_default();
            p.0.insert(row.message_id.clone());
            if !row.subject.is_empty() {
                p.1.insert(row.subject.clone());
            }
        }
    }
    people
        .into_iter()
        .map(|(address, (ids, subjects))| {
            let domain = domain_of(&address);
            ExposedCorrespondent {
                internal: tenant.contains(&domain),
                domain,
                address,
                messages: ids.len() as u64,
                subjects: subjects.into_iter().collect(),
            }
        })
        .collect()
}
