//! The normalized event: the one contract between ingest and every later stage.
//!
//! Every export variant is decoded into [`Event`]s; nothing after `normalize/` knows which file
//! format an event came from, except through its [`Origin`], which points back to the raw row so
//! an investigator can cite it.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Shared, immutable text. Repeated values (users, operations, apps) are interned per thread so
/// a million events do not hold a million copies of the same UPN.
pub type Text = Arc<str>;

/// The kind of evidence an event came from.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Entra ID interactive sign-in.
    Signin,
    /// Entra ID non-interactive sign-in (token refresh by a client on the user's behalf).
    Noninteractive,
    /// Purview unified audit log record.
    Audit,
    /// Exchange Online message trace row (one per recipient).
    Messagetrace,
    /// Entra ID audit log record (directory audit): who changed what in the directory.
    Directory,
    /// Entra ID Protection risk detection or risky-user state.
    Risk,
}

impl Source {
    pub const ALL: [Source; 6] = [
        Source::Signin,
        Source::Noninteractive,
        Source::Audit,
        Source::Messagetrace,
        Source::Directory,
        Source::Risk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Signin => "signin",
            Source::Noninteractive => "noninteractive",
            Source::Audit => "audit",
            Source::Messagetrace => "messagetrace",
            Source::Directory => "directory",
            Source::Risk => "risk",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Source {
    type Err = String;

    /// A source by its [`Source::as_str`] name, in any case.
    fn from_str(s: &str) -> Result<Source, String> {
        Source::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Source::ALL.iter().map(|x| x.as_str()).collect();
                format!("unknown source `{s}` (expected {})", names.join(", "))
            })
    }
}

/// How an event belongs to an account's timeline.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The account did it (the event's `user`).
    Actor,
    /// The account received it (a message-trace row's recipient).
    Recipient,
    /// Someone else did it to the account (an admin's password reset, a role assigned to it:
    /// the account is named in `attr.target`).
    Target,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Actor => "actor",
            Role::Recipient => "recipient",
            Role::Target => "target",
        }
    }
}

/// Whether the logged action worked. Sign-ins that stopped for an MFA or consent prompt are
/// `Interrupted`, not failures: they are normal in a user's day and must not count as attacks.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Interrupted,
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Interrupted => "interrupted",
            Outcome::Unknown => "unknown",
        }
    }
}

/// What kind of identity a log's actor string names. Only accounts (people's and shared
/// mailboxes' UPNs) get verdicts; the rest are reported as actors with their findings.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A user principal name in one of the tenant's (or a guest's) domains.
    Account,
    /// A Windows or Exchange system identity (`NT AUTHORITY\SYSTEM (...)`, `S-1-5-18`).
    System,
    /// An application or service principal (`app@sharepoint`, an app id, a display name).
    App,
    /// An unauthenticated actor (`anonymous`, anonymous sharing links).
    Anonymous,
}

impl ActorKind {
    /// What the actor string `user` (as logged, any case) names.
    pub fn of(user: &str) -> ActorKind {
        let u = user.trim();
        let lower = u.to_ascii_lowercase();
        if lower.is_empty() || lower == "anonymous" || lower.starts_with("urn:spo:anon") {
            return ActorKind::Anonymous;
        }
        if lower.contains('\\')
            || lower.starts_with("s-1-5-")
            || lower.starts_with("nt authority")
            || lower.starts_with("system")
        {
            return ActorKind::System;
        }
        match lower.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.contains('@')
                    && is_mail_domain(domain)
                    && !lower.contains(char::is_whitespace) =>
            {
                ActorKind::Account
            }
            _ => ActorKind::App,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Account => "account",
            ActorKind::System => "system",
            ActorKind::App => "app",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

/// Whether a domain can be an account's mail domain: dotted, and not a Microsoft service host
/// (`app@sharepoint`, `...@namprd04.prod.outlook.com` name servers, not mailboxes).
pub fn is_mail_domain(domain: &str) -> bool {
    const SERVICE_HOSTS: &[&str] = &[
        ".prod.outlook.com",
        ".protection.outlook.com",
        ".outlook.office365.com",
        ".exchangelabs.com",
    ];
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    d.contains('.')
        && !d.starts_with('.')
        && !d.contains("..")
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b >= 0x80)
        && !SERVICE_HOSTS.iter().any(|h| d.ends_with(h) || d == h[1..])
}

/// An operation name as the bytes that identify the activity: trimmed, one final period
/// dropped (and the spaces before it).
#[inline]
fn operation_core(s: &str) -> &[u8] {
    let b = s.as_bytes().trim_ascii();
    let b = b.strip_suffix(b".").unwrap_or(b);
    b.trim_ascii_end()
}

/// Whether two operation names are the same activity across the copies of one log: the unified
/// audit log writes Entra activities with a trailing period (`Update user.`), the Entra audit
/// log without (`Update user`), and some Entra activities carry an en dash and a trailing space
/// (`Update application – Certificates and secrets management `). Compared trimmed, one final
/// period dropped, en dash as `-`, ASCII case ignored, without allocating: rules and the
/// containment list compare it for every event.
#[inline]
pub fn operation_eq(a: &str, b: &str) -> bool {
    const EN_DASH: &[u8] = "\u{2013}".as_bytes();
    let (a, b) = (operation_core(a), operation_core(b));
    if a.len() == b.len() && a.eq_ignore_ascii_case(b) {
        return true;
    }
    // Slow path only when an en dash is there to fold.
    let next = |s: &[u8], i: usize| -> (u8, usize) {
        if s[i..].starts_with(EN_DASH) {
            (b'-', i + EN_DASH.len())
        } else {
            (s[i].to_ascii_lowercase(), i + 1)
        }
    };
    if !(memchr::memchr(0xE2, a).is_some() || memchr::memchr(0xE2, b).is_some()) {
        return false;
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, ni) = next(a, i);
        let (y, nj) = next(b, j);
        if x != y {
            return false;
        }
        (i, j) = (ni, nj);
    }
    i == a.len() && j == b.len()
}

/// Index of an evidence file in the ingest report (`files[file]`).
pub type FileId = u32;

/// Where an event came from: file, the line its record starts on (1-based, in the decoded text),
/// the record's position among the file's records (1-based), and which event of that record it
/// is (a message-trace summary row lists several recipients and yields one event each).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, serde::Deserialize,
)]
pub struct Origin {
    pub file: FileId,
    pub record: u64,
    pub part: u32,
    pub line: u64,
}

/// One normalized event. Optional fields are `None` where the source does not carry them.
///
/// Fields that only some later stages need (inbox-rule parameters, forwarding address, MFA method,
/// consented permissions, message ids, folders, message status...) live in `attrs`, a small
/// list of named values documented in docs/formats.md, rather than as one column per AuditData key.
///
/// Events serialize (`serde`) only for breachline's own spill files (`ingest::spill`): the
/// wire form is not an output schema.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Event {
    /// When it happened, UTC.
    #[serde(with = "exact_time")]
    pub time: DateTime<Utc>,
    pub source: Source,
    /// Lower-cased user principal name (or the actor string the log carries, lower-cased).
    #[serde(deserialize_with = "interned::text")]
    pub user: Text,
    /// Audit operation as exported (`New-InboxRule`, `Consent to application.`), `Sign-in`, or `Message`.
    #[serde(deserialize_with = "interned::text")]
    pub operation: Text,
    pub outcome: Outcome,
    /// Sign-in error code (AADSTS number) or other failure code, as text.
    pub error_code: Option<Text>,
    pub ip: Option<IpAddr>,
    /// Country as exported by the source (ISO 3166 alpha-2 for Entra), not from a GeoIP database.
    #[serde(deserialize_with = "interned::option")]
    pub country: Option<Text>,
    #[serde(deserialize_with = "interned::option")]
    pub region: Option<Text>,
    #[serde(deserialize_with = "interned::option")]
    pub city: Option<Text>,
    /// Autonomous system number as exported (Entra sign-ins carry it).
    pub asn: Option<u32>,
    #[serde(deserialize_with = "interned::option")]
    pub user_agent: Option<Text>,
    /// Application the user signed in to or acted through (display name, else id).
    #[serde(deserialize_with = "interned::option")]
    pub application: Option<Text>,
    /// Client app / protocol (`Browser`, `IMAP4`, `Client=OWA;Action=ViaProxy`).
    #[serde(deserialize_with = "interned::option")]
    pub client_app: Option<Text>,
    pub device_id: Option<Text>,
    pub session_id: Option<Text>,
    pub correlation_id: Option<Text>,
    pub request_id: Option<Text>,
    /// Unique token identifier (Entra `uniqueTokenIdentifier`, audit `AppAccessContext.UniqueTokenId`).
    pub token_id: Option<Text>,
    /// Record id: audit `Id`, sign-in request id, message trace id.
    pub record_id: Option<Text>,
    /// What the action was done to: rule name, file URL, message subject, target user...
    pub object: Option<Text>,
    /// Further named values; a name may repeat (one `message_id` per message read).
    #[serde(deserialize_with = "interned::attrs")]
    pub attrs: Vec<(Text, Text)>,
    pub origin: Origin,
}

impl Event {
    /// An event with only the required fields set; decoders fill in the rest.
    pub fn new(time: DateTime<Utc>, source: Source, user: Text, operation: Text) -> Event {
        Event {
            time,
            source,
            user,
            operation,
            outcome: Outcome::Unknown,
            error_code: None,
            ip: None,
            country: None,
            region: None,
            city: None,
            asn: None,
            user_agent: None,
            application: None,
            client_app: None,
            device_id: None,
            session_id: None,
            correlation_id: None,
            request_id: None,
            token_id: None,
            record_id: None,
            object: None,
            attrs: Vec::with_capacity(12),
            origin: Origin::default(),
        }
    }

    /// First value of a named attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }

    /// All values of a named attribute, in the order the source listed them.
    pub fn attr_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attrs
            .iter()
            .filter(move |(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }

    /// An attempt that did not get in: a failed or interrupted sign-in (interactive,
    /// non-interactive, or an audit-log logon record).
    pub fn is_attempt(&self) -> bool {
        matches!(self.outcome, Outcome::Failure | Outcome::Interrupted)
            && (matches!(self.source, Source::Signin | Source::Noninteractive)
                || (self.source == Source::Audit
                    && matches!(&*self.operation, "UserLoginFailed" | "UserLoggedIn")))
    }

    /// The accounts this event belongs to, with how: the actor; a message's recipient (so an
    /// inbound phishing mail shows in the victim's timeline); every account an audit or
    /// directory record names as its target (an admin's reset, a role or MFA method given to
    /// someone). Names as logged: compare them case-insensitively, or use [`Event::subjects`].
    pub fn subjects_raw(&self) -> impl Iterator<Item = (&str, Role)> {
        let recipient = match self.source {
            Source::Messagetrace => self
                .attr("recipient")
                .filter(|r| !r.eq_ignore_ascii_case(&self.user))
                .map(|r| (r, Role::Recipient)),
            _ => None,
        };
        let targets = matches!(self.source, Source::Audit | Source::Directory)
            .then(|| {
                self.attr_all("target").enumerate().filter(move |&(i, t)| {
                    t.contains('@')
                        && !t.eq_ignore_ascii_case(&self.user)
                        && !self
                            .attr_all("target")
                            .take(i)
                            .any(|p| p.eq_ignore_ascii_case(t))
                })
            })
            .into_iter()
            .flatten()
            .map(|(_, t)| (t, Role::Target));
        std::iter::once((&*self.user, Role::Actor))
            .chain(recipient)
            .chain(targets)
    }

    /// [`Event::subjects_raw`] lower-cased (user identities compare case-insensitively). Only
    /// a recipient or target not already in lower case costs an allocation.
    pub fn subjects(&self) -> impl Iterator<Item = (std::borrow::Cow<'_, str>, Role)> {
        self.subjects_raw().map(|(s, role)| {
            let s = if s.bytes().any(|b| b.is_ascii_uppercase()) {
                std::borrow::Cow::Owned(s.to_ascii_lowercase())
            } else {
                std::borrow::Cow::Borrowed(s)
            };
            (s, role)
        })
    }
}

/// A time as (seconds, nanoseconds) since the Unix epoch: exact, and cheap to encode, unlike
/// chrono's text form.
pub mod exact_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        (t.timestamp(), t.timestamp_subsec_nanos()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let (secs, nanos) = <(i64, u32)>::deserialize(d)?;
        DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| serde::de::Error::custom("time out of range"))
    }
}

/// Reading events back from spill files: the values that repeat from event to event (users,
/// operations, apps, attribute names) shared as ingest shares them, borrowed from the file's
/// bytes until then, so that a group of events costs what it cost when first read.
mod interned {
    use serde::{Deserialize, Deserializer};

    use super::Text;
    use crate::normalize::text::intern;

    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        <&str>::deserialize(d).map(intern)
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Text>, D::Error> {
        <Option<&str>>::deserialize(d).map(|o| o.map(intern))
    }

    pub fn attrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Text, Text)>, D::Error> {
        let pairs = <Vec<(&str, &str)>>::deserialize(d)?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (intern(k), Text::from(v)))
            .collect())
    }
}
