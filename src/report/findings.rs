//! Tables for the detect stage: findings, and the rules in force.

use crate::detect::{Finding, Rule};
use crate::normalize::time;

use super::terminal::{new_table, safe_cell};

/// One row per finding, in the order given (the detect stage's total order).
pub fn findings(list: &[Finding]) -> String {
    if list.is_empty() {
        return "No findings.\n".into();
    }
    let mut t = new_table(&[
        "first (UTC)",
        "last (UTC)",
        "severity",
        "user",
        "rule",
        "summary",
        "evidence",
    ]);
    for f in list {
        let cite = f
            .evidence
            .first()
            .map(|e| {
                let more = f.evidence.len().saturating_sub(1);
                let more = if more > 0 {
                    format!(" (+{more})")
                } else {
                    String::new()
                };
                format!("{}:{}{more}", e.file, e.line)
            })
            .unwrap_or_default();
        t.add_row(vec![
            safe_cell(time::format(&f.first)),
            safe_cell(time::format(&f.last)),
            super::terminal::severity_cell(f.severity),
            safe_cell(&f.user),
            safe_cell(&f.rule_id),
            safe_cell(&f.summary),
            safe_cell(cite),
        ]);
    }
    format!("{t}\n{} findings\n", list.len())
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
        if let Some(s) = &r.meta.sigma {
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
