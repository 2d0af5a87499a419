//! `report.md`: the case in Markdown, to paste into a ticket or a Word document. The short form
//! of `report.html`: verdicts, window, attacker IPs, key findings, blast radius counts,
//! recipients by domain, inputs with their hashes. Table cells are escaped (`|`, newlines,
//! markup) since subjects and rule names are the attacker's text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::case::Case;
use crate::detect::Severity;
use crate::impact::{SentBy, Verdict};
use crate::normalize::time;

/// Findings at or above this severity are listed; the rest are counted.
const KEY_SEVERITY: Severity = Severity::Medium;

/// Escapes text for one Markdown table cell: no cell break, no line break, no inline markup
/// or HTML from the evidence.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\r' => {}
            '\n' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header.iter().map(|_| "---|").collect::<String>()
    );
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

/// The whole summary as Markdown text.
pub fn render(case: &Case) -> String {
    let ing = case.ingested;
    let impact = case.impact;
    let mut out = String::new();
    out.push_str("# breachline case report\n\n");
    let (first, last) = (ing.span.first, ing.span.last);
    let _ = writeln!(
        out,
        "Tenant: {}. Evidence: {} files, {} events, {} user ids, {} to {} (UTC).\n",
        cell(&impact.tenant_domains.join(", ")),
        ing.evidence_read().files,
        ing.span.events,
        ing.coverage.users.len(),
        first.map(|t| time::format(&t)).unwrap_or_default(),
        last.map(|t| time::format(&t)).unwrap_or_default(),
    );

    out.push_str("## Verdicts\n\n");
    let users = impact.flagged();
    if users.is_empty() {
        out.push_str("No account is compromised or suspicious.\n\n");
    } else {
        let rows: Vec<Vec<String>> = users
            .iter()
            .map(|u| {
                let c = u.verdict == Verdict::Compromised;
                let window = match (&u.window, c) {
                    (Some(w), true) => {
                        format!("{} to {}", time::format(&w.start), time::format(&w.end))
                    }
                    _ => String::new(),
                };
                let ips: Vec<&str> = u
                    .footprint
                    .ips
                    .iter()
                    .filter(|_| c)
                    .map(|k| k.key.as_str())
                    .collect();
                vec![
                    u.user.clone(),
                    u.verdict.as_str().to_string(),
                    u.score.to_string(),
                    window,
                    ips.join(", "),
                    if c {
                        u.recipients.to_notify().to_string()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "account",
                "verdict",
                "score",
                "window (UTC)",
                "attacker IPs",
                "to notify",
            ],
            &rows,
        );
        out.push_str("Accounts not listed are clean.\n\n");
    }

    for u in impact
        .users
        .iter()
        .filter(|u| u.verdict == Verdict::Compromised)
    {
        let _ = writeln!(out, "## {}\n", cell(&u.user));
        if let Some(w) = &u.window {
            let _ = writeln!(
                out,
                "- Attacker active from **{}** to **{}** (UTC); {} attacker events attributed.",
                time::format(&w.start),
                time::format(&w.end),
                u.footprint.events.len()
            );
            for c in &w.containment {
                let _ = writeln!(
                    out,
                    "- Containment: {} at {} by {}.",
                    cell(&c.action),
                    time::format(&c.time),
                    cell(&c.actor)
                );
            }
            if w.containment.is_empty() {
                out.push_str("- No containment action is in the evidence.\n");
            }
            if !w.after_containment.is_empty() {
                let _ = writeln!(
                    out,
                    "- **{} attacker events after the first containment action.**",
                    w.after_containment.len()
                );
            }
        }
        out.push('\n');
        let rows: Vec<Vec<String>> = u
            .footprint
            .ips
            .iter()
            .map(|k| {
                let info = k.key.parse().ok().and_then(|ip| case.ips.get(ip));
                vec![
                    k.key.clone(),
                    info.and_then(|i| i.country.as_deref())
                        .unwrap_or("")
                        .to_string(),
                    info.and_then(|i| i.asn)
                        .map(|a| format!("AS{a}"))
                        .unwrap_or_default(),
                    info.and_then(|i| i.as_org.as_deref())
                        .unwrap_or("")
                        .to_string(),
                    k.events.to_string(),
                    time::format(&k.first),
                    time::format(&k.last),
                    k.why.clone(),
                ]
            })
            .collect();
        out.push_str("### Attacker IPs\n\n");
        table(
            &mut out,
            &[
                "ip", "country", "ASN", "owner", "events", "first", "last", "why",
            ],
            &rows,
        );

        let b = &u.blast_radius;
        out.push_str("### Blast radius\n\n");
        let read: u64 = b.mail_read.iter().map(|f| f.bind_items).sum();
        let rows = vec![
            vec!["mail items opened".to_string(), read.to_string()],
            vec!["folders read".to_string(), b.mail_read.len().to_string()],
            vec![
                "folders synchronised whole".to_string(),
                b.synced_folders.len().to_string(),
            ],
            vec!["messages sent".to_string(), b.mail_sent.len().to_string()],
            vec![
                "messages deleted or moved".to_string(),
                b.mail_deleted_or_moved.len().to_string(),
            ],
            vec![
                "inbox rule / forwarding changes".to_string(),
                b.rules_and_forwarding.len().to_string(),
            ],
            vec![
                "forwarding targets".to_string(),
                b.forwarding_targets.join(", "),
            ],
            vec![
                "identity changes (MFA, consent, app credentials)".to_string(),
                b.identity_changes.len().to_string(),
            ],
            vec![
                "sites with files touched".to_string(),
                b.files.len().to_string(),
            ],
            vec![
                "correspondents whose mail was exposed".to_string(),
                b.exposed_correspondents.len().to_string(),
            ],
        ];
        table(&mut out, &["what", "count"], &rows);

        let mut domains: BTreeMap<&str, (bool, u64, u64)> = BTreeMap::new();
        // Rows are sorted by domain then recipient: a recipient with rows of two kinds counts once.
        let mut previous: Option<&str> = None;
        for r in &u.recipients.recipients {
            let d = domains
                .entry(r.domain.as_str())
                .or_insert((r.internal, 0, 0));
            if previous != Some(r.recipient.as_str()) {
                d.1 += 1;
            }
            previous = Some(r.recipient.as_str());
            d.2 += r.count;
        }
        let list = &u.recipients;
        let _ = writeln!(
            out,
            "### Recipients to notify\n\n{} recipients ({} external, {} internal): {} got mail the attacker sent, {} mail of unknown origin. The full list is in `recipients.csv`.\n",
            list.to_notify(),
            list.external(),
            list.internal(),
            list.sent_by(SentBy::Attacker),
            list.sent_by(SentBy::Unknown),
        );
        let rows: Vec<Vec<String>> = domains
            .iter()
            .map(|(d, (internal, people, messages))| {
                vec![
                    d.to_string(),
                    if *internal { "yes" } else { "no" }.to_string(),
                    people.to_string(),
                    messages.to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            table(
                &mut out,
                &["domain", "internal", "recipients", "messages"],
                &rows,
            );
        }
        if !list.user_sent.is_empty() {
            let _ = writeln!(
                out,
                "Mail the user sent themselves in the window, not to notify (`sent_by` = `user` in `recipients.csv`):\n"
            );
            let rows: Vec<Vec<String>> = list
                .user_sent
                .iter()
                .map(|r| {
                    vec![
                        r.recipient.clone(),
                        r.count.to_string(),
                        r.subjects.join(" | "),
                        r.sent_by_reason.clone(),
                    ]
                })
                .collect();
            table(
                &mut out,
                &["recipient", "messages", "subjects", "why the user's own"],
                &rows,
            );
        }
        if !u.recipients.untraced_sends.is_empty() {
            let _ = writeln!(
                out,
                "{} sent messages have no message-trace row: their recipients are unknown from this evidence.\n",
                u.recipients.untraced_sends.len()
            );
        }
    }

    let key: Vec<_> = case
        .findings
        .iter()
        .filter(|f| f.severity >= KEY_SEVERITY)
        .collect();
    let _ = writeln!(
        out,
        "## Key findings\n\n{} findings in all; the {} at {} severity or above:\n",
        case.findings.len(),
        key.len(),
        KEY_SEVERITY.as_str()
    );
    let rows: Vec<Vec<String>> = key
        .iter()
        .map(|f| {
            vec![
                time::format(&f.first),
                f.severity.as_str().to_string(),
                f.user.clone(),
                f.rule_id.clone(),
                f.summary.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        table(
            &mut out,
            &["first (UTC)", "severity", "account", "rule", "summary"],
            &rows,
        );
    }

    out.push_str("## Evidence\n\n");
    let rows: Vec<Vec<String>> = ing
        .files
        .iter()
        .map(|f| {
            vec![
                f.path.clone(),
                f.variant.unwrap_or("NOT READ").to_string(),
                f.rows.to_string(),
                f.parsed.to_string(),
                f.duplicates.to_string(),
                f.rejected.to_string(),
                f.sha256.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "file",
            "variant",
            "rows",
            "parsed",
            "duplicates",
            "rejected",
            "SHA-256",
        ],
        &rows,
    );
    let dbs: Vec<String> = case
        .ips
        .databases
        .iter()
        .map(|d| format!("{} ({}, built {})", d.name, d.database_type, d.build_date))
        .collect();
    let _ = writeln!(out, "GeoIP databases: {}.\n", cell(&dbs.join("; ")));
    let _ = writeln!(
        out,
        "Written by breachline {}; the full report is `report.html` in the same folder.",
        env!("CARGO_PKG_VERSION")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_add_markup() {
        assert_eq!(cell("a|b\r\nc"), "a\\|b c");
        assert_eq!(
            cell("<script>*x*</script>"),
            "\\<script\\>\\*x\\*\\</script\\>"
        );
        assert_eq!(cell("[link](http://x)"), "\\[link\\](http://x)");
    }
}
