//! Tables for the detect stage: findings, and the rules in force.

use comfy_table::{presets, Cell, ContentArrangement, Table};

use crate::detect::{Finding, Rule};
use crate::normalize::time;

fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied().map(Cell::new))
        .set_width(
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(160),
        );
    t
}

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
            time::format(&f.first),
            time::format(&f.last),
            f.severity.to_string(),
            f.user.clone(),
            f.rule_id.clone(),
            f.summary.clone(),
            cite,
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
