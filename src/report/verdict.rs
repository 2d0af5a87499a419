//! The answer first: what `analyze` prints before any finding. Each compromised account with
//! its window, the attacker's addresses and networks, what the attacker did, who to notify and
//! where the list is; then the suspicious and targeted accounts, one line each; then what the
//! evidence does not cover. Laid out line by line ([`super::layout`]): no value is ever split,
//! long ones are shortened with `…` and are whole in the case folder.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use crate::enrich::Enrichment;
use crate::impact::{BlastRadius, Impact, UserImpact, Verdict};
use crate::ingest::Ingested;
use crate::model::Source;
use crate::normalize::time;

use super::layout::{self, Column};
use super::safe_line;

/// Evidence text made safe for the terminal, owned.
pub(crate) fn safe(s: &str) -> String {
    safe_line(s).into_owned()
}

/// Width of the label column of an account's block (`  attacker   `).
const LABEL: usize = 13;

/// Everything the verdict block reads.
pub struct Context<'a> {
    pub ingested: &'a Ingested,
    pub ips: &'a Enrichment,
    pub impact: &'a Impact,
    /// The case folder, when `--out` was given: where `recipients.csv` is.
    pub out: Option<&'a Path>,
}

/// `  label      text`, wrapped at spaces with the text's lines aligned under its start.
fn field(out: &mut String, label: &str, text: &str, width: usize) {
    let first = layout::pad(&format!("  {label}"), LABEL);
    let rest = " ".repeat(LABEL);
    for l in layout::wrap(text, width, &first, &rest) {
        out.push_str(&l);
        out.push('\n');
    }
}

/// `Amsterdam, NL` / `NL`, or the scope of an address that is not public.
fn place(ips: &Enrichment, ip: &str) -> (String, String, String) {
    let Some(info) = ip.parse().ok().and_then(|a| ips.get(a)) else {
        return (String::new(), String::new(), String::new());
    };
    if !info.scope.is_public() {
        return (
            info.scope.as_str().to_string(),
            String::new(),
            String::new(),
        );
    }
    let country = info.country.as_deref().unwrap_or("?").to_string();
    let network = match (info.asn, info.as_org.as_deref()) {
        (Some(a), Some(o)) => format!("AS{a} {}", safe(o)),
        (Some(a), None) => format!("AS{a}"),
        (None, Some(o)) => safe(o),
        (None, None) => String::new(),
    };
    (country, network, info.network.as_str().to_string())
}

/// `AS14061 DigitalOcean, LLC, NL, hosting`: one address's network in a sentence.
pub(crate) fn network_phrase(ips: &Enrichment, ip: &str) -> String {
    let (country, network, kind) = place(ips, ip);
    [network, country, kind]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `2024-05-13T14:19:37Z to 2024-05-15T03:07:00Z`.
fn window_text(u: &UserImpact) -> Option<String> {
    u.window
        .as_ref()
        .map(|w| format!("{} to {}", time::format(&w.start), time::format(&w.end)))
}

/// `Send ×8, HardDelete`: operations and how often, most frequent first.
fn operations<'a>(ops: impl Iterator<Item = &'a str>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for op in ops {
        *counts.entry(op).or_default() += 1;
    }
    let mut list: Vec<(&str, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    list.iter()
        .map(|(op, n)| {
            if *n > 1 {
                format!("{} ×{n}", safe(op))
            } else {
                safe(op)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the attacker did, one line per kind of action, from the blast radius.
pub(crate) fn did(b: &BlastRadius) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    if !b.mail_read.is_empty() {
        let items: u64 = b.mail_read.iter().map(|f| f.bind_items).sum();
        let folders: Vec<String> = b.mail_read.iter().map(|f| safe(&f.folder)).collect();
        let mut text = format!(
            "{items} item{} opened in {} folder{} ({})",
            if items == 1 { "" } else { "s" },
            folders.len(),
            if folders.len() == 1 { "" } else { "s" },
            folders.join(", ")
        );
        if !b.synced_folders.is_empty() {
            let synced: Vec<String> = b.synced_folders.iter().map(|f| safe(f)).collect();
            let _ = write!(text, "; synchronised whole: {}", synced.join(", "));
        }
        lines.push(("mail read".to_string(), text));
    }
    if !b.mail_sent.is_empty() {
        let recipients: BTreeSet<&str> = b
            .mail_sent
            .iter()
            .flat_map(|m| m.recipients.iter().map(String::as_str))
            .collect();
        let subjects: BTreeSet<&str> = b
            .mail_sent
            .iter()
            .filter_map(|m| m.subject.as_deref())
            .collect();
        let mut text = format!(
            "{} message{} to {} recipient{}",
            b.mail_sent.len(),
            if b.mail_sent.len() == 1 { "" } else { "s" },
            recipients.len(),
            if recipients.len() == 1 { "" } else { "s" },
        );
        if let Some(first) = b.mail_sent.iter().find_map(|m| m.subject.as_deref()) {
            let _ = write!(text, ", subject \"{}\"", safe(first));
            if subjects.len() > 1 {
                let _ = write!(text, " and {} more", subjects.len() - 1);
            }
        }
        lines.push(("mail sent".to_string(), text));
    }
    if !b.mail_deleted_or_moved.is_empty() {
        lines.push((
            "deleted".to_string(),
            format!(
                "{} mailbox action{}: {}",
                b.mail_deleted_or_moved.len(),
                if b.mail_deleted_or_moved.len() == 1 {
                    ""
                } else {
                    "s"
                },
                operations(b.mail_deleted_or_moved.iter().map(|a| a.operation.as_str()))
            ),
        ));
    }
    if !b.rules_and_forwarding.is_empty() || !b.forwarding_targets.is_empty() {
        let mut text = operations(b.rules_and_forwarding.iter().map(|a| a.operation.as_str()));
        if !b.forwarding_targets.is_empty() {
            let targets: Vec<String> = b.forwarding_targets.iter().map(|t| safe(t)).collect();
            if !text.is_empty() {
                text.push_str("; ");
            }
            let _ = write!(text, "mail forwarded to {}", targets.join(", "));
        }
        lines.push(("rules".to_string(), text));
    }
    if !b.files.is_empty() {
        let actions: u64 = b.files.iter().flat_map(|s| s.operations.values()).sum();
        let files: usize = b.files.iter().map(|s| s.files.len()).sum();
        let sites: Vec<String> = b.files.iter().map(|s| safe(&s.site)).collect();
        lines.push((
            "files".to_string(),
            format!(
                "{actions} action{} on {files} file{} in {} site{} ({})",
                if actions == 1 { "" } else { "s" },
                if files == 1 { "" } else { "s" },
                sites.len(),
                if sites.len() == 1 { "" } else { "s" },
                sites.join(", ")
            ),
        ));
    }
    if !b.identity_changes.is_empty() {
        lines.push((
            "identity".to_string(),
            operations(b.identity_changes.iter().map(|a| a.operation.as_str())),
        ));
    }
    if !b.delegated_mailboxes.is_empty() {
        let boxes: Vec<String> = b.delegated_mailboxes.iter().map(|m| safe(m)).collect();
        lines.push((
            "delegated".to_string(),
            format!("mailboxes of {}", boxes.join(", ")),
        ));
    }
    lines
}

/// One compromised account's block.
fn compromised(out: &mut String, cx: &Context, u: &UserImpact, width: usize, colour: bool) {
    let tag = if colour {
        "\u{1b}[1;31mCOMPROMISED\u{1b}[0m"
    } else {
        "COMPROMISED"
    };
    let head = format!("score {}", u.score);
    let user = layout::fit(&safe(&u.user), width.saturating_sub(13 + 2 + head.len())).into_owned();
    let _ = writeln!(out, "{tag}  {user}  {head}");
    match &u.window {
        Some(w) => field(
            out,
            "window",
            &format!(
                "{} to {} (UTC), {} attacker event{}",
                time::format(&w.start),
                time::format(&w.end),
                u.attacker_events.len(),
                if u.attacker_events.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
            width,
        ),
        None => field(out, "window", "no attacker event attributed", width),
    }
    if u.footprint.ips.is_empty() {
        field(out, "attacker", "no address attributed", width);
    } else {
        let rows: Vec<Vec<String>> = u
            .footprint
            .ips
            .iter()
            .map(|k| {
                let (country, network, kind) = place(cx.ips, &k.key);
                vec![
                    safe(&k.key),
                    country,
                    network,
                    kind,
                    format!("{} event{}", k.events, if k.events == 1 { "" } else { "s" }),
                ]
            })
            .collect();
        let cols = [
            Column::fixed("ip", 15).droppable(0),
            Column::new("country", 2, 12),
            Column::new("network", 12, 40),
            Column::new("kind", 7, 24).droppable(2),
            Column::new("events", 8, 12).right().droppable(1),
        ];
        // An IPv6 address is wider than 15: give the column what its longest value needs.
        let ip_w = rows
            .iter()
            .map(|r| layout::width(&r[0]))
            .max()
            .unwrap_or(15)
            .max(15);
        let mut cols = cols.to_vec();
        cols[0] = Column::fixed("ip", ip_w);
        let lines = layout::columns(&cols, &rows, width, &" ".repeat(LABEL), false);
        for (i, l) in lines.iter().enumerate() {
            if i == 0 {
                out.push_str(&layout::pad("  attacker", LABEL));
                out.push_str(&l[LABEL..]);
            } else {
                out.push_str(l);
            }
            out.push('\n');
        }
    }
    let lines = did(&u.blast_radius);
    if lines.is_empty() {
        field(
            out,
            "did",
            "nothing beyond signing in is in the evidence",
            width,
        );
    }
    for (label, text) in lines {
        field(out, &label, &text, width);
    }
    if let Some(w) = &u.window {
        let text = match w.containment.first() {
            Some(c) => {
                // The actions of the first containment, taken together (a reset and a
                // revocation a second apart), then whatever came later.
                let same: Vec<&crate::impact::window::Containment> = w
                    .containment
                    .iter()
                    .filter(|d| (d.time - c.time).num_minutes().abs() <= 10)
                    .collect();
                let actions: BTreeSet<String> = same.iter().map(|d| safe(&d.action)).collect();
                let actors: BTreeSet<String> = same.iter().map(|d| safe(&d.actor)).collect();
                let mut t = format!(
                    "{} {} by {}",
                    time::format(&c.time),
                    actions.into_iter().collect::<Vec<_>>().join(" and "),
                    actors.into_iter().collect::<Vec<_>>().join(", ")
                );
                let later = w.containment.len() - same.len();
                if later > 0 {
                    let _ = write!(
                        t,
                        " ({later} more action{} later)",
                        if later == 1 { "" } else { "s" }
                    );
                }
                match w.after_containment.len() {
                    0 => t.push_str("; no attacker event after it"),
                    n => {
                        let last = w.after_containment.iter().map(|e| e.time).max();
                        let _ = write!(
                            t,
                            "; {n} attacker event{} AFTER it, the last at {}",
                            if n == 1 { "" } else { "s" },
                            last.map(|t| time::format(&t)).unwrap_or_default()
                        );
                    }
                }
                t
            }
            None => {
                "no password reset, session revocation or disabling is in the evidence".to_string()
            }
        };
        field(out, "contained", &text, width);
    }
    let r = &u.recipients;
    let mut notify = format!(
        "{} recipient{} ({} external, {} internal)",
        r.to_notify(),
        if r.to_notify() == 1 { "" } else { "s" },
        r.external(),
        r.internal()
    );
    match cx.out {
        Some(dir) => {
            let _ = write!(
                notify,
                ": list in {}",
                safe(&dir.join("recipients.csv").display().to_string())
            );
        }
        None if r.to_notify() > 0 => {
            notify.push_str(": --out DIR writes the list (recipients.csv)");
        }
        None => {}
    }
    let own = r.user_only();
    if own > 0 {
        let _ = write!(
            notify,
            "; {own} more got only the user's own mail (listed apart)"
        );
    }
    field(out, "notify", &notify, width);
    if !u.accounts_reached.is_empty() {
        let reached: Vec<String> = u.accounts_reached.iter().map(|a| safe(a)).collect();
        field(out, "reached", &reached.join(", "), width);
    }
    out.push('\n');
}

/// The verdict block: compromised accounts, then suspicious and targeted, then the evidence.
pub fn block(cx: &Context, width: usize, colour: bool) -> String {
    let mut out = String::new();
    let users = cx.impact.flagged();
    if users.is_empty() {
        out.push_str("Verdicts: no account is compromised, suspicious or targeted.\n\n");
    } else {
        out.push_str("Verdicts (accounts not listed are clean)\n\n");
    }
    let mut any = false;
    for u in users.iter().filter(|u| u.verdict == Verdict::Compromised) {
        compromised(&mut out, cx, u, width, colour);
        any = true;
    }
    if any {
        out.push_str(&layout::wrapped(
            "Each account's story in time order, every line citing its evidence row: breachline explain ACCOUNT PATH...",
            width,
            "",
            "",
        ));
        out.push('\n');
    }
    let others: Vec<&&UserImpact> = users
        .iter()
        .filter(|u| u.verdict != Verdict::Compromised)
        .collect();
    if !others.is_empty() {
        for u in &others {
            let mut text = format!("{} (score {})", safe(&u.user), u.score);
            if let Some(w) = window_text(u) {
                let _ = write!(text, ", window {w}");
            }
            if !u.footprint.ips.is_empty() {
                let ips: Vec<String> = u.footprint.ips.iter().map(|k| safe(&k.key)).collect();
                let _ = write!(text, ", IPs {}", ips.join(", "));
            }
            if !u.rules.is_empty() {
                let rules: Vec<String> = u.rules.iter().map(|r| safe(r)).collect();
                let _ = write!(text, "; rules: {}", rules.join(", "));
            }
            let label = layout::pad(u.verdict.as_str(), 12);
            let first = if colour && u.verdict == Verdict::Suspicious {
                // The label is padded before the colour codes, so widths stay right.
                format!("\u{1b}[33m{}\u{1b}[0m", label.to_uppercase())
            } else {
                label.to_uppercase()
            };
            let plain = " ".repeat(12);
            let mut lines = layout::wrap(&text, width, &plain, &plain);
            // Put the (possibly coloured) label in place of the blank one.
            if let Some(l) = lines.first_mut() {
                *l = format!("{first}{}", &l[12..]);
            }
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out.push_str(&coverage(cx.ingested, width));
    out
}

/// What people call each kind of evidence.
pub(crate) fn source_name(s: Source) -> &'static str {
    match s {
        Source::Signin => "interactive sign-ins",
        Source::Noninteractive => "non-interactive sign-ins",
        Source::Audit => "unified audit log",
        Source::Messagetrace => "message trace",
        Source::Directory => "Entra audit log",
        Source::Risk => "Identity Protection",
    }
}

/// What the evidence covers and what it does not: files not read, sources missing, gaps,
/// files that look truncated.
pub fn coverage(ing: &Ingested, width: usize) -> String {
    let mut out = String::from("Evidence\n");
    let ev = ing.evidence_read();
    let sources: Vec<&str> = ev.sources_read.iter().map(|s| source_name(*s)).collect();
    field(
        &mut out,
        "read",
        &format!(
            "{} of {} file{}, {} events: {}",
            ev.files_read,
            ev.files,
            if ev.files == 1 { "" } else { "s" },
            ev.events,
            if sources.is_empty() {
                "nothing".to_string()
            } else {
                sources.join(", ")
            }
        ),
        width,
    );
    for n in &ev.files_not_read {
        field(
            &mut out,
            "not read",
            &format!("{} ({})", safe(&n.path), safe(&n.reason)),
            width,
        );
    }
    if !ev.sources_missing.is_empty() {
        let missing: Vec<&str> = ev.sources_missing.iter().map(|s| source_name(*s)).collect();
        field(
            &mut out,
            "missing",
            &format!(
                "no {}: what only they show is not checked",
                missing.join(", no ")
            ),
            width,
        );
    }
    for s in &ing.coverage.sources {
        if s.gaps.is_empty() {
            continue;
        }
        let shown: Vec<String> = s.gaps.iter().take(3).map(|g| g.to_string()).collect();
        let more = s.gaps.len().saturating_sub(shown.len());
        let mut text = format!("{}: {}", source_name(s.source), shown.join("; "));
        if more > 0 {
            let _ = write!(text, "; and {more} more (inspect lists them)");
        }
        field(&mut out, "gap", &text, width);
    }
    for f in &ing.files {
        for w in f.warnings.iter().filter(|w| w.contains("truncated")) {
            field(
                &mut out,
                "truncated",
                &format!("{}: {}", safe(&f.path), safe(w)),
                width,
            );
        }
    }
    out
}
