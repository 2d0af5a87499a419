//! The case folder `analyze --out DIR` writes: machine-readable results for other tools and for
//! the report (schemas in README.md, "Output files").

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use super::csv::defuse;
use crate::impact::{Impact, NotificationList, Verdict};
use crate::normalize::time;

/// Writes `value` as pretty JSON into `dir/name`.
pub fn write_json<T: Serialize + ?Sized>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(dir.join(name))?);
    serde_json::to_writer_pretty(&mut out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// `summary.json`: per user verdict, score, window and attacker IPs; tenant-wide counts.
pub fn summary(impact: &Impact, findings_total: usize, users_in_evidence: usize) -> Value {
    let users: Vec<Value> = impact
        .users
        .iter()
        .map(|u| {
            json!({
                "user": u.user,
                "verdict": u.verdict,
                "score": u.score,
                "rules": u.rules,
                "window": u.window.as_ref().map(|w| json!({
                    "start": time::format(&w.start),
                    "end": time::format(&w.end),
                    "containment": w.containment.iter().map(|c| json!({
                        "time": time::format(&c.time), "action": c.action,
                        "operation": c.operation, "actor": c.actor,
                    })).collect::<Vec<_>>(),
                    "attacker_events_after_containment": w.after_containment.len(),
                })),
                "attacker_ips": u.footprint.ips.iter().map(|k| &k.key).collect::<Vec<_>>(),
                "attacker_sessions": u.footprint.sessions.iter().map(|k| &k.key).collect::<Vec<_>>(),
                "attacker_asns": u.footprint.asns,
                "recipients_to_notify": u.recipients.recipients.len(),
                "forwarding_targets": u.blast_radius.forwarding_targets,
                "accounts_reached": u.accounts_reached,
            })
        })
        .collect();
    let count = |v: Verdict| impact.users.iter().filter(|u| u.verdict == v).count();
    json!({
        "tenant_domains": impact.tenant_domains,
        "counts": {
            "users_in_evidence": users_in_evidence,
            "compromised": count(Verdict::Compromised),
            "suspicious": count(Verdict::Suspicious),
            "clean": users_in_evidence.saturating_sub(count(Verdict::Compromised) + count(Verdict::Suspicious)),
            "findings": findings_total,
        },
        "users": users,
    })
}

/// `blast_radius.json`: per compromised user the footprint (with why and how sure), window and
/// blast radius.
pub fn blast_radius(impact: &Impact) -> Value {
    let users: Vec<Value> = impact
        .users
        .iter()
        .filter(|u| u.verdict == Verdict::Compromised)
        .map(|u| {
            json!({
                "user": u.user,
                "window": u.window,
                "footprint": u.footprint,
                "blast_radius": u.blast_radius,
                "accounts_reached": u.accounts_reached,
                "pivots": u.pivots,
            })
        })
        .collect();
    json!({ "users": users })
}

/// Recipients CSV header: one row per recipient (and per forwarding target), for a mail merge.
pub const RECIPIENT_COLUMNS: &[&str] = &[
    "user",
    "kind",
    "recipient",
    "domain",
    "internal",
    "first",
    "last",
    "count",
    "subjects",
    "statuses",
    "message_ids",
];

/// Writes notification lists as CSV: recipients grouped by domain, then forwarding targets.
pub fn write_recipients(
    out: &mut dyn Write,
    lists: &[(&NotificationList, &[String])],
    tenant: &[String],
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(RECIPIENT_COLUMNS)?;
    for (list, forwards) in lists {
        for r in &list.recipients {
            let row = [
                list.user.clone(),
                "recipient".to_string(),
                r.recipient.clone(),
                r.domain.clone(),
                r.internal.to_string(),
                time::format(&r.first),
                time::format(&r.last),
                r.count.to_string(),
                r.subjects.join(" | "),
                r.statuses.join(" | "),
                r.message_ids.join(" "),
            ];
            w.write_record(row.iter().map(|c| defuse(c).into_owned()))?;
        }
        for f in forwards.iter() {
            let domain = crate::impact::recipients::domain_of(f);
            let row = [
                list.user.clone(),
                "forwarding-target".to_string(),
                f.clone(),
                domain.clone(),
                tenant.contains(&domain).to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ];
            w.write_record(row.iter().map(|c| defuse(c).into_owned()))?;
        }
    }
    w.flush()
}
