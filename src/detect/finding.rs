//! A finding: one rule's judgement about one user over a time span, with the evidence rows a
//! report can cite and the values (distance, speed, count, window) that justify it.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value as Json};

use super::field::{EventView, Field};
use super::rule::{Rule, Severity};
use crate::model::{Event, Source};
use crate::normalize::time;

/// At most this many evidence rows are listed in one finding; `details.evidence_total` then says
/// how many there were (a token refreshed every 45 minutes for a month is one finding, not 1,000
/// citations).
pub const MAX_EVIDENCE: usize = 200;

/// One evidence row: where it is, so a report can cite it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub file: String,
    pub line: u64,
    pub record: u64,
    pub record_id: Option<String>,
    #[serde(serialize_with = "iso")]
    pub time: DateTime<Utc>,
    pub source: Source,
    pub operation: String,
}

/// Evidence sorts by time, then source, operation and place.
impl Ord for Evidence {
    fn cmp(&self, other: &Self) -> Ordering {
        fn key(e: &Evidence) -> (DateTime<Utc>, Source, &str, &str, u64, u64, Option<&str>) {
            (
                e.time,
                e.source,
                e.operation.as_str(),
                e.file.as_str(),
                e.line,
                e.record,
                e.record_id.as_deref(),
            )
        }
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for Evidence {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Evidence {
    /// Where an event is: its file (by the ingest's file list), line, record and record id.
    pub fn of(e: &Event, files: &[String]) -> Evidence {
        Evidence {
            file: files
                .get(e.origin.file as usize)
                .cloned()
                .unwrap_or_default(),
            line: e.origin.line,
            record: e.origin.record,
            record_id: e.record_id.as_deref().map(str::to_string),
            time: e.time,
            source: e.source,
            operation: e.operation.to_string(),
        }
    }
}

/// What a rule found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub user: String,
    #[serde(serialize_with = "iso")]
    pub first: DateTime<Utc>,
    #[serde(serialize_with = "iso")]
    pub last: DateTime<Utc>,
    /// One line a person can read.
    pub summary: String,
    /// Every address in the evidence, sorted.
    pub ips: Vec<String>,
    pub mitre: Vec<String>,
    pub evidence: Vec<Evidence>,
    /// Rule-specific values: count, window, distance_km, speed_kmh, precision...
    pub details: Map<String, Json>,
    /// The rule says its evidence does not seed the attacker's footprint (`seeds: false`).
    #[serde(skip)]
    pub no_seed: bool,
}

fn iso<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&time::format(t))
}

impl Finding {
    /// Builds a finding from its evidence (in time order) and details; the summary is the
    /// rule's template filled from the details, then from the first event's fields.
    pub fn new(
        rule: &Rule,
        user: &str,
        evidence: &[&EventView<'_>],
        mut details: Map<String, Json>,
        files: &[String],
    ) -> Finding {
        let first = evidence
            .iter()
            .map(|v| v.event.time)
            .min()
            .unwrap_or_default();
        let last = evidence
            .iter()
            .map(|v| v.event.time)
            .max()
            .unwrap_or_default();
        let mut ips: Vec<std::net::IpAddr> = evidence.iter().filter_map(|v| v.event.ip).collect();
        ips.sort();
        ips.dedup();
        if let Some(f) = &rule.meta.foreign {
            details.insert(f.0.key().into(), f.0.finding_details());
        }
        if evidence.len() > MAX_EVIDENCE {
            details.insert("evidence_total".into(), Json::from(evidence.len()));
        }
        let rows = evidence
            .iter()
            .take(MAX_EVIDENCE)
            .map(|v| Evidence::of(v.event, files))
            .collect();
        let summary = render(&rule.summary, &details, evidence.first().copied());
        Finding {
            rule_id: rule.meta.id.clone(),
            title: rule.meta.title.clone(),
            severity: rule.meta.severity,
            user: user.to_string(),
            first,
            last,
            summary,
            ips: ips.iter().map(|i| i.to_string()).collect(),
            mitre: rule.meta.mitre.clone(),
            evidence: rows,
            details,
            no_seed: rule.meta.no_seed,
        }
    }

    /// The total order findings are listed in: time, rule, user, then the rest.
    pub fn order(a: &Finding, b: &Finding) -> Ordering {
        a.first
            .cmp(&b.first)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.user.cmp(&b.user))
            .then_with(|| a.last.cmp(&b.last))
            .then_with(|| a.summary.cmp(&b.summary))
            .then_with(|| {
                let key = |f: &Finding| f.evidence.first().map(|e| (e.file.clone(), e.record));
                key(a).cmp(&key(b))
            })
    }
}

/// Fills `{name}` placeholders: a detail of that name, else the first evidence event's field
/// (`{ip}`, `{ip.as_org}`, `{attr.param.ForwardingSmtpAddress}`), or `{inbox_rule}` (what the
/// first event's inbox rule does, [`describe_inbox_rule`]), else `?`. A plural form
/// `{name|one|many}` gives `one` when the value of `name` is 1 and `many` otherwise (`{name|one}`:
/// `one` and `one` + `s`), so `{count} {count|file|files}` reads "1 file", "3 files".
pub fn render(
    template: &str,
    details: &Map<String, Json>,
    first: Option<&EventView<'_>>,
) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        if let Some((var, forms)) = name.split_once('|') {
            let (one, many) = match forms.split_once('|') {
                Some((one, many)) => (one.to_string(), many.to_string()),
                None => (forms.to_string(), format!("{forms}s")),
            };
            let value = match details.get(var) {
                Some(Json::Number(n)) => n.as_f64(),
                Some(Json::String(t)) => t.trim().parse::<f64>().ok(),
                Some(_) => None,
                None => first
                    .and_then(|v| Field::parse(var).ok().and_then(|f| f.first(v)))
                    .and_then(|t| t.trim().parse::<f64>().ok()),
            };
            out.push_str(if value == Some(1.0) { &one } else { &many });
            rest = &after[close + 1..];
            continue;
        }
        let value = match details.get(name) {
            Some(Json::String(s)) => Some(s.clone()),
            Some(Json::Number(n)) => Some(format_number(n)),
            Some(Json::Array(a)) => Some(
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Some(other) => Some(other.to_string()),
            None if name == "inbox_rule" => first.map(|v| describe_inbox_rule(v.event)),
            None => first.and_then(|v| Field::parse(name).ok().and_then(|f| f.first(v))),
        };
        out.push_str(value.as_deref().unwrap_or("?"));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// What an inbox rule does and on what condition, in words, from the parameters of
/// `New-InboxRule` / `Set-InboxRule` or the properties of an OWA `UpdateInboxRules` record:
/// `'.' (New-InboxRule): if the subject or body has "invoice", moves to 'RSS Feeds', marks as
/// read`. Only what the record says is written: no placeholder for what it does not.
pub fn describe_inbox_rule(e: &Event) -> String {
    let param = |name: &str| {
        e.attr(&format!("param.{name}"))
            .or_else(|| e.attr(&format!("prop.{name}")))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let yes = |name: &str| {
        param(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("$true"))
    };
    let mut conditions = Vec::new();
    for (name, what) in [
        ("From", "from"),
        ("FromAddressContainsWords", "the sender has"),
        ("SentTo", "sent to"),
        ("SubjectContainsWords", "the subject has"),
        ("BodyContainsWords", "the body has"),
        ("SubjectOrBodyContainsWords", "the subject or body has"),
        ("HeaderContainsWords", "a header has"),
        ("RuleCondition", "when"),
    ] {
        if let Some(v) = param(name) {
            conditions.push(format!("{what} {v:?}"));
        }
    }
    let mut actions = Vec::new();
    for (name, what) in [
        ("ForwardTo", "forwards to"),
        ("ForwardAsAttachmentTo", "forwards as attachment to"),
        ("RedirectTo", "redirects to"),
        ("MoveToFolder", "moves to"),
        ("CopyToFolder", "copies to"),
        ("RuleActions", "does"),
    ] {
        if let Some(v) = param(name) {
            actions.push(format!("{what} {v:?}"));
        }
    }
    if yes("DeleteMessage") {
        actions.push("deletes the message".into());
    }
    if yes("MarkAsRead") {
        actions.push("marks it read".into());
    }
    if yes("StopProcessingRules") {
        actions.push("stops other rules".into());
    }
    let name = param("Name")
        .or_else(|| param("RuleName"))
        .or(e.object.as_deref())
        .unwrap_or("");
    let mut out = format!("inbox rule {name:?} ({})", e.operation);
    out.push_str(": ");
    if conditions.is_empty() {
        out.push_str("on every message");
    } else {
        out.push_str("if ");
        out.push_str(&conditions.join(" and "));
    }
    if !actions.is_empty() {
        out.push_str(", ");
        out.push_str(&actions.join(", "));
    }
    out
}

/// Numbers in summaries: thousands separated, at most one decimal.
pub fn format_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return group_thousands(i);
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.abs() >= 100.0 {
        group_thousands(f.round() as i64)
    } else {
        format!("{f:.1}")
    }
}

fn group_thousands(i: i64) -> String {
    let digits = i.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if i < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_placeholders() {
        let mut d = Map::new();
        d.insert("distance_km".into(), Json::from(6100.4));
        d.insert("count".into(), Json::from(12));
        assert_eq!(
            render("{count} items, {distance_km} km, {nope}", &d, None),
            "12 items, 6,100 km, ?"
        );
        assert_eq!(render("unclosed {x", &d, None), "unclosed {x");
        assert_eq!(
            render(
                "{count} {count|file|files}, {one} {one|file|files}",
                &d,
                None
            ),
            "12 files, ? files"
        );
        d.insert("one".into(), Json::from(1));
        d.insert("text_one".into(), Json::from("1"));
        d.insert("zero".into(), Json::from(0));
        assert_eq!(
            render(
                "{one} {one|file|files}; {text_one} {text_one|try|tries}; {zero} {zero|message}; {count} {count|message}",
                &d,
                None
            ),
            "1 file; 1 try; 0 messages; 12 messages"
        );
        assert_eq!(group_thousands(1234567), "1,234,567");
    }
}
