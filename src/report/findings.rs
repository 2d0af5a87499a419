//! Tables for the detect stage: findings, and the rules in force.

use comfy_table::Cell;

use crate::detect::{Finding, Rule};
use crate::normalize::time;

use super::terminal::new_table;

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
            Cell::new(time::format(&f.first)),
            Cell::new(time::format(&f.last)),
            super::terminal::severity_cell(f.severity),
            Cell::new(&f.user),
            Cell::new(&f.rule_id),
            Cell::new(&f.summary),
            Cell::new(cite),
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
