//! Tables for the detect stage: findings, and the rules in force.

use std::collections::BTreeMap;

use crate::detect::{Evidence, Finding, Rule, Severity};
use crate::normalize::time;

use super::layout::{self, Column};
use super::terminal::new_table;
use super::verdict::safe;

/// How evidence rows are cited on a terminal: `file:line`, the directory every evidence file
/// shares left out (`audit/Purview_AuditLog_export_1.csv:37` for files under `fixtures/demo/`).
pub struct Citer {
    prefix: usize,
}

impl Citer {
    /// For the evidence files of one run.
    pub fn new(files: &[String]) -> Citer {
        let mut prefix: Option<&str> = None;
        for f in files {
            let dir = match f.rfind(['/', '\\']) {
                Some(i) => &f[..=i],
                None => "",
            };
            prefix = Some(match prefix {
                None => dir,
                Some(p) => {
                    let common = p
                        .char_indices()
                        .zip(dir.chars())
                        .take_while(|((_, a), b)| a == b)
                        .last()
                        .map(|((i, c), _)| i + c.len_utf8())
                        .unwrap_or(0);
                    // Back to the last separator, so a name is never cut.
                    let cut = p[..common].rfind(['/', '\\']).map(|i| i + 1).unwrap_or(0);
                    &p[..cut]
                }
            });
        }
        Citer {
            prefix: prefix.map(str::len).unwrap_or(0),
        }
    }

    /// The path without the shared directory.
    pub fn file<'a>(&self, path: &'a str) -> &'a str {
        path.get(self.prefix..)
            .filter(|s| !s.is_empty())
            .unwrap_or(path)
    }

    /// `file:line`, made safe for the terminal.
    pub fn cite(&self, e: &Evidence) -> String {
        super::safe_line(&format!("{}:{}", self.file(&e.file), e.line)).into_owned()
    }
}

/// Findings of one account and rule, taken together.
struct Group<'a> {
    user: &'a str,
    rule: &'a str,
    severity: Severity,
    count: usize,
    first: chrono::DateTime<chrono::Utc>,
    last: chrono::DateTime<chrono::Utc>,
    /// The most severe finding, the earliest of those: its summary and evidence are shown.
    lead: &'a Finding,
}

/// The findings at or above `min`, grouped by account and rule: one line per group with the
/// highest severity, how many findings, first and last time, one summary and the first
/// evidence row. Accounts come in the order of `accounts` (the verdicts' order), then by name;
/// within an account, groups in time order. `total` is every finding of the run, to say how
/// many are not shown.
pub fn grouped(
    list: &[Finding],
    min: Severity,
    accounts: &[&str],
    citer: &Citer,
    width: usize,
    colour: bool,
) -> String {
    let shown: Vec<&Finding> = list.iter().filter(|f| f.severity >= min).collect();
    let level = if min == Severity::Informational {
        "all findings".to_string()
    } else {
        format!("findings at {min} or above")
    };
    if list.is_empty() {
        return "No findings.\n".into();
    }
    if shown.is_empty() {
        return format!("No {level}; {} below (--all lists them).\n", list.len());
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut at: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for f in &shown {
        let key = (f.user.to_lowercase(), f.rule_id.as_str());
        match at.get(&key) {
            Some(&i) => {
                let g = &mut groups[i];
                g.count += 1;
                g.first = g.first.min(f.first);
                g.last = g.last.max(f.last);
                if f.severity > g.severity || (f.severity == g.severity && f.first < g.lead.first) {
                    g.severity = g.severity.max(f.severity);
                    g.lead = f;
                }
            }
            None => {
                at.insert(key, groups.len());
                groups.push(Group {
                    user: &f.user,
                    rule: &f.rule_id,
                    severity: f.severity,
                    count: 1,
                    first: f.first,
                    last: f.last,
                    lead: f,
                });
            }
        }
    }
    let rank = |u: &str| {
        accounts
            .iter()
            .position(|a| a.eq_ignore_ascii_case(u))
            .unwrap_or(accounts.len())
    };
    groups.sort_by(|a, b| {
        rank(a.user)
            .cmp(&rank(b.user))
            .then_with(|| a.user.to_lowercase().cmp(&b.user.to_lowercase()))
            .then(a.first.cmp(&b.first))
            .then(b.severity.cmp(&a.severity))
            .then(a.rule.cmp(b.rule))
    });
    // A line per group with what and when (and the first evidence row when there is room),
    // then its summary in at most two lines.
    let cols = [
        Column::fixed("severity", 8),
        Column::new("rule", 30, 44),
        Column::new("n", 1, 6).right(),
        Column::fixed("first (UTC)", 20),
        Column::fixed("last (UTC)", 20).droppable(1),
        Column::new("evidence", 28, 80).keep_end().droppable(2),
    ];
    let mut out = layout::wrapped(
        &format!(
            "Findings by account and rule: {level}, {} of {} ({} group{}){}",
            shown.len(),
            list.len(),
            groups.len(),
            if groups.len() == 1 { "" } else { "s" },
            if shown.len() < list.len() {
                "; --all lists every one"
            } else {
                ""
            }
        ),
        width,
        "",
        "",
    );
    let mut i = 0;
    while i < groups.len() {
        let user = groups[i].user.to_lowercase();
        let n = groups[i..]
            .iter()
            .take_while(|g| g.user.to_lowercase() == user)
            .count();
        let mine = &groups[i..i + n];
        let findings: usize = mine.iter().map(|g| g.count).sum();
        out.push('\n');
        out.push_str(&layout::fit(
            &format!(
                "{} ({findings} finding{})",
                safe(mine[0].user),
                if findings == 1 { "" } else { "s" }
            ),
            width,
        ));
        out.push('\n');
        let rows: Vec<Vec<String>> = mine
            .iter()
            .map(|g| {
                let more = g.lead.evidence.len().saturating_sub(1);
                let cite = g
                    .lead
                    .evidence
                    .first()
                    .map(|e| {
                        if more > 0 {
                            format!("{} (+{more})", citer.cite(e))
                        } else {
                            citer.cite(e)
                        }
                    })
                    .unwrap_or_default();
                vec![
                    g.severity.as_str().to_string(),
                    safe(g.rule),
                    g.count.to_string(),
                    time::format(&g.first),
                    time::format(&g.last),
                    cite,
                ]
            })
            .collect();
        let heads = layout::columns(&cols, &rows, width, "  ", true);
        out.push_str(&heads[0]);
        out.push('\n');
        let indent = " ".repeat(12);
        for (k, g) in mine.iter().enumerate() {
            let line = &heads[k + 1];
            // Severity is the first column: coloured after the layout, so widths hold.
            if colour && g.severity >= Severity::High {
                out.push_str(&format!(
                    "  \u{1b}[31m{}\u{1b}[0m{}",
                    &line[2..10],
                    &line[10..]
                ));
            } else {
                out.push_str(line);
            }
            out.push('\n');
            for l in layout::wrap_max(&safe(&g.lead.summary), width, &indent, &indent, 2) {
                out.push_str(&l);
                out.push('\n');
            }
        }
        i += n;
    }
    out
}

/// One row per rule.
pub fn rules(list: &[Rule]) -> String {
    let mut t = new_table(&["id", "severity", "kind", "title", "MITRE", "tests"]);
    for r in list {
        t.add_row(vec![
            r.meta.id.clone(),
            r.meta.severity.to_string(),
            r.meta.kind.to_string(),
            r.meta.title.clone(),
            r.meta.mitre.join(", "),
            r.tests.len().to_string(),
        ]);
    }
    format!("{t}\n{} rules\n", list.len())
}

/// `rules sigma`: how many Sigma rule documents breachline evaluates, per logsource, and every
/// one it skips with the reason. Plain tables, or Markdown for a README.
pub fn sigma_coverage(loaded: &crate::detect::sigma::Loaded, markdown: bool) -> String {
    use std::collections::BTreeMap;
    let evaluated = loaded.rules.len() + loaded.feeding.len();
    let share = if loaded.documents == 0 {
        0.0
    } else {
        100.0 * evaluated as f64 / loaded.documents as f64
    };
    let mut by_logsource: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &loaded.rules {
        if let Some(s) = crate::detect::sigma::SigmaMeta::of(r) {
            *by_logsource.entry(s.logsource.as_str()).or_default() += 1;
        }
    }
    let other = loaded
        .skipped
        .iter()
        .filter(|s| s.other_logsource())
        .count();
    let readable = loaded.documents - other;
    let headline = format!(
        "{evaluated} of {} Sigma rule documents evaluated ({share:.0}%); of the {readable} for logsources breachline reads, {:.0}%. {} skipped ({other} for other logsources){}\n",
        loaded.documents,
        if readable == 0 { 0.0 } else { 100.0 * evaluated as f64 / readable as f64 },
        loaded.skipped.len(),
        if loaded.feeding.is_empty() {
            String::new()
        } else {
            format!(
                "; {} of the evaluated only feed a correlation",
                loaded.feeding.len()
            )
        }
    );
    let skipped_rows: Vec<[String; 3]> = loaded
        .skipped
        .iter()
        .map(|s| {
            let file = if s.document > 1 {
                format!("{} (document {})", s.file, s.document)
            } else {
                s.file.clone()
            };
            [file, s.title.clone(), s.reason.clone()]
        })
        .collect();
    if markdown {
        let cell = |s: &str| s.replace('|', "\\|");
        let mut out = headline;
        out.push_str("\n| loaded as | rules |\n|---|---|\n");
        for (ls, n) in &by_logsource {
            out.push_str(&format!("| {ls} | {n} |\n"));
        }
        if !loaded.feeding.is_empty() {
            out.push_str(&format!(
                "| base rules of correlations | {} |\n",
                loaded.feeding.len()
            ));
        }
        out.push_str("\n| file | title | why it is skipped |\n|---|---|---|\n");
        for [f, t, r] in &skipped_rows {
            out.push_str(&format!("| `{}` | {} | {} |\n", cell(f), cell(t), cell(r)));
        }
        return out;
    }
    let mut t = new_table(&["loaded as", "rules"]);
    for (ls, n) in &by_logsource {
        t.add_row(vec![ls.to_string(), n.to_string()]);
    }
    let mut s = new_table(&["file", "title", "why it is skipped"]);
    for row in &skipped_rows {
        s.add_row(row.to_vec());
    }
    format!("{headline}\n{t}\n\n{s}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(user: &str, rule: &str, severity: Severity, minute: u32, summary: &str) -> Finding {
        let t = chrono::DateTime::parse_from_rfc3339(&format!("2024-05-13T14:{minute:02}:00Z"))
            .expect("time")
            .with_timezone(&chrono::Utc);
        Finding {
            rule_id: rule.into(),
            title: rule.into(),
            severity,
            user: user.into(),
            first: t,
            last: t,
            summary: summary.into(),
            ips: Vec::new(),
            mitre: Vec::new(),
            evidence: vec![Evidence {
                file: "evidence/audit/a very long export name that goes on and on.csv".into(),
                line: 12,
                record: 11,
                record_id: None,
                time: t,
                source: crate::model::Source::Audit,
                operation: "New-InboxRule".into(),
            }],
            details: Default::default(),
            no_seed: false,
        }
    }

    #[test]
    fn groups_by_account_and_rule_escapes_and_fits() {
        let list = vec![
            finding("a@x.example", "inbox-rule", Severity::High, 1, "first"),
            finding(
                "a@x.example",
                "inbox-rule",
                Severity::Critical,
                5,
                "rule \u{1b}[2J named \"..\"",
            ),
            finding("a@x.example", "first-seen-asn", Severity::Low, 0, "low one"),
            finding("b@x.example", "spray", Severity::High, 2, "spray"),
        ];
        let citer = Citer::new(&[
            "evidence/audit/x.csv".to_string(),
            "evidence/signins/y.csv".to_string(),
        ]);
        for width in [80, 120, 200] {
            let text = grouped(
                &list,
                Severity::High,
                &["b@x.example"],
                &citer,
                width,
                false,
            );
            assert!(!text.contains('\u{1b}'), "{text}");
            assert!(text.contains("\\x1b[2J"), "{text}");
            assert!(text.lines().all(|l| l.chars().count() <= width), "{text}");
            assert!(!text.contains("first-seen-asn"), "{text}");
            // b first (the verdicts' order), and the two inbox-rule findings are one group.
            assert!(text.find("b@x.example").unwrap() < text.find("a@x.example").unwrap());
            let rule_lines = text.lines().filter(|l| l.contains("inbox-rule")).count();
            assert_eq!(rule_lines, 1, "{text}");
            assert!(text.contains("critical"), "{text}");
        }
        assert_eq!(citer.file("evidence/audit/x.csv"), "audit/x.csv");
    }
}
