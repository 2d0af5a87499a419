//! Terminal tables (comfy-table): the ingest report and a user's timeline.

use comfy_table::{Cell, CellAlignment};

use crate::enrich::{Enrichment, IpInfo};
use crate::ingest::{FileStatus, Ingested};
use crate::normalize::{time, truncate};
use crate::timeline::UserTimeline;

use super::terminal::{new_table, safe_cell};

fn num(n: u64) -> Cell {
    safe_cell(n).set_alignment(CellAlignment::Right)
}

fn date(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| time::format(&t)).unwrap_or_default()
}

/// The ingest report: one row per file, then coverage per source, then what needs attention.
pub fn inspect(ing: &Ingested) -> String {
    let mut files = new_table(&[
        "file", "variant", "rows", "parsed", "dup", "rejected", "first", "last", "users",
    ]);
    for f in &ing.files {
        let variant = match f.status {
            FileStatus::Read => f.variant.unwrap_or("").to_string(),
            FileStatus::Error => "NOT READ".to_string(),
            FileStatus::Cited => "cited (not read)".to_string(),
        };
        files.add_row(vec![
            safe_cell(&f.path),
            safe_cell(variant),
            num(f.rows),
            num(f.parsed),
            num(f.duplicates),
            num(f.rejected),
            safe_cell(date(f.first)),
            safe_cell(date(f.last)),
            num(f.users),
        ]);
    }
    let totals = |g: fn(&crate::ingest::FileReport) -> u64| ing.files.iter().map(g).sum::<u64>();
    files.add_row(vec![
        safe_cell(format!("total: {} files", ing.files.len())),
        safe_cell(""),
        num(totals(|f| f.rows)),
        num(totals(|f| f.parsed)),
        num(totals(|f| f.duplicates)),
        num(totals(|f| f.rejected)),
        safe_cell(date(ing.span.first)),
        safe_cell(date(ing.span.last)),
        num(ing.coverage.users.len() as u64),
    ]);
    let mut out = files.to_string();

    let mut cov = new_table(&["source", "events", "first", "last", "gaps over threshold"]);
    for s in &ing.coverage.sources {
        let gaps = if s.gaps.is_empty() {
            "none".to_string()
        } else {
            let shown: Vec<String> = s.gaps.iter().take(3).map(|g| g.to_string()).collect();
            let more = s.gaps.len().saturating_sub(3);
            format!(
                "{}{}",
                shown.join("; "),
                if more > 0 {
                    format!("; +{more} more")
                } else {
                    String::new()
                }
            )
        };
        cov.add_row(vec![
            safe_cell(s.source),
            num(s.events),
            safe_cell(time::format(&s.first)),
            safe_cell(time::format(&s.last)),
            safe_cell(gaps),
        ]);
    }
    out.push_str("\n\nCoverage by source\n");
    out.push_str(&cov.to_string());

    let mut notes = Vec::new();
    for f in &ing.files {
        if let Some(e) = &f.error {
            notes.push(format!("ERROR {}: {e}", f.path));
        }
        for w in &f.warnings {
            notes.push(format!("note {}: {w}", f.path));
        }
    }
    for s in &ing.skipped {
        notes.push(format!("skipped {}: {}", s.path, s.reason));
    }
    if !ing.rejects.is_empty() {
        notes.push(format!(
            "{} rows rejected; first ones below (--rejects FILE writes them all)",
            ing.rejects_total
        ));
        for r in ing.rejects.iter().take(10) {
            let field = r
                .field
                .as_deref()
                .map(|f| format!(" [{f}]"))
                .unwrap_or_default();
            notes.push(format!(
                "  {}:{} (record {}){field}: {}",
                r.path,
                r.line,
                r.record,
                truncate(&r.reason, 160)
            ));
        }
    }
    if !notes.is_empty() {
        out.push_str("\n\n");
        let notes: Vec<String> = notes
            .iter()
            .map(|n| super::terminal::terminal_safe(n).into_owned())
            .collect();
        out.push_str(&notes.join("\n"));
    }
    out.push('\n');
    out
}

/// One table per user: time, source, operation, outcome, IP and place, app, what was acted on,
/// and where the row came from.
pub fn timeline(timelines: &[UserTimeline], files: &[String], ips: &Enrichment) -> String {
    let mut out = String::new();
    for t in timelines {
        let mut table = new_table(&[
            "time (UTC)",
            "source",
            "operation",
            "outcome",
            "ip",
            "location",
            "network",
            "app / client",
            "object",
            "origin",
        ]);
        for e in &t.events {
            let info = ips.for_event(e);
            let location = match info {
                Some(i) => place(i),
                None => [e.city.as_deref(), e.country.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let app = [e.application.as_deref(), e.client_app.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" / ");
            let mut operation = e.operation.to_string();
            if &*e.user != &*t.user {
                operation = format!("{operation} from {}", e.user);
            } else if let Some(r) = e.attr("recipient") {
                operation = format!("{operation} to {r}");
            }
            let file = files
                .get(e.origin.file as usize)
                .map(String::as_str)
                .unwrap_or("");
            let short = file.rsplit(['/', '\\']).next().unwrap_or(file);
            table.add_row(vec![
                safe_cell(time::format(&e.time)),
                safe_cell(e.source),
                safe_cell(truncate(&operation, 60)),
                safe_cell(e.outcome.as_str()),
                safe_cell(e.ip.map(|i| i.to_string()).unwrap_or_default()),
                safe_cell(location),
                safe_cell(info.map(network).unwrap_or_default()),
                safe_cell(truncate(&app, 40)),
                safe_cell(truncate(e.object.as_deref().unwrap_or(""), 50)),
                safe_cell(format!("{short}:{}", e.origin.line)),
            ]);
        }
        out.push_str(&format!("{} ({} events)\n", t.user, t.events.len()));
        out.push_str(&table.to_string());
        out.push_str("\n\n");
    }
    out
}

/// `Amsterdam, NL`, or the address's scope when it is not public.
fn place(i: &IpInfo) -> String {
    if !i.scope.is_public() {
        return i.scope.as_str().to_string();
    }
    [i.city.as_deref(), i.country.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
}

/// `AS14061 hosting`: the ASN and what kind of network it is, short enough for a column.
fn network(i: &IpInfo) -> String {
    let kind = match i.network {
        crate::enrich::NetworkKind::Isp => "isp",
        k => k.as_str(),
    };
    match i.asn {
        Some(a) => format!("AS{a} {kind}"),
        None => kind.to_string(),
    }
}

/// Every IP address in the evidence: where, whose network, how many events; most events first.
pub fn ips(ips: &Enrichment, limit: usize) -> String {
    let mut rows = ips.sorted();
    rows.sort_by(|a, b| b.events.cmp(&a.events).then(a.ip.cmp(&b.ip)));
    let mut t = new_table(&[
        "ip",
        "events",
        "country",
        "region / city",
        "asn",
        "owner",
        "network",
        "notes",
    ]);
    for i in rows.iter().take(limit) {
        let mut notes = Vec::new();
        if let Some(p) = &i.provider {
            notes.push(format!("listed: {p}"));
        }
        if i.trusted_country {
            notes.push("trusted country".to_string());
        }
        notes.extend(i.disagreements.iter().cloned());
        t.add_row(vec![
            safe_cell(i.ip),
            num(i.events),
            safe_cell(if i.scope.is_public() {
                i.country.as_deref().unwrap_or("?").to_string()
            } else {
                i.scope.as_str().to_string()
            }),
            safe_cell(i.region_city()),
            safe_cell(i.asn.map(|a| format!("AS{a}")).unwrap_or_default()),
            safe_cell(truncate(i.as_org.as_deref().unwrap_or(""), 40)),
            safe_cell(i.network.as_str()),
            safe_cell(truncate(&notes.join("; "), 60)),
        ]);
    }
    let mut out = t.to_string();
    if rows.len() > limit {
        out.push_str(&format!(
            "\n{} more addresses (--json lists them all)",
            rows.len() - limit
        ));
    }
    out
}

/// One line naming the GeoIP databases and their build dates, under every analysis.
pub fn databases_line(ips: &Enrichment) -> String {
    let dbs: Vec<String> = ips
        .databases
        .iter()
        .map(|d| format!("{} ({}, built {})", d.name, d.database_type, d.build_date))
        .collect();
    format!("GeoIP: {}\n", dbs.join("; "))
}

/// The GeoIP databases that answered, with their build dates: findings depend on them.
pub fn databases(ips: &Enrichment) -> String {
    let mut t = new_table(&["database", "type", "built", "source"]);
    for d in &ips.databases {
        t.add_row(vec![
            safe_cell(&d.name),
            safe_cell(&d.database_type),
            safe_cell(&d.build_date),
            safe_cell(&d.source),
        ]);
    }
    t.to_string()
}

/// A notification list: the recipients to notify grouped by domain, with who sent the mail,
/// counts, times and subjects; then apart the recipients of the user's own mail, with why.
pub fn recipients(list: &crate::impact::NotificationList) -> String {
    let mut t = new_table(&[
        "domain",
        "recipient",
        "internal",
        "sent by",
        "messages",
        "first",
        "last",
        "subjects",
        "status",
    ]);
    for r in &list.recipients {
        t.add_row(vec![
            safe_cell(&r.domain),
            safe_cell(&r.recipient),
            safe_cell(if r.internal { "yes" } else { "no" }),
            safe_cell(r.sent_by.as_str()),
            num(r.count),
            safe_cell(time::format(&r.first)),
            safe_cell(time::format(&r.last)),
            safe_cell(truncate(&r.subjects.join(" | "), 60)),
            safe_cell(r.statuses.join(", ")),
        ]);
    }
    let mut out = format!(
        "{}: {} recipients to notify ({} external, {} internal; {} got mail the attacker sent, {} mail of unknown origin)\n{t}\n",
        super::terminal::terminal_safe(&list.user),
        list.to_notify(),
        list.external(),
        list.internal(),
        list.sent_by(crate::impact::SentBy::Attacker),
        list.sent_by(crate::impact::SentBy::Unknown),
    );
    if !list.user_sent.is_empty() {
        let mut t = new_table(&[
            "domain",
            "recipient",
            "internal",
            "messages",
            "first",
            "last",
            "subjects",
            "why the user's own",
        ]);
        for r in &list.user_sent {
            t.add_row(vec![
                safe_cell(&r.domain),
                safe_cell(&r.recipient),
                safe_cell(if r.internal { "yes" } else { "no" }),
                num(r.count),
                safe_cell(time::format(&r.first)),
                safe_cell(time::format(&r.last)),
                safe_cell(truncate(&r.subjects.join(" | "), 40)),
                safe_cell(&r.sent_by_reason),
            ]);
        }
        out.push_str(&format!(
            "Mail the user sent themselves (not to notify): {} recipients\n{t}\n",
            list.sent_by(crate::impact::SentBy::User)
        ));
    }
    out
}
