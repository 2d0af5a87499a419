//! `breachline explain ACCOUNT`: one account's story in time order, told from what the impact
//! stage worked out (verdict, footprint, window, containment, blast radius): the first signal,
//! the attacker's sign-ins, what was done in each session, containment and what came after it.
//! Every line cites its evidence row (`file:line`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use crate::detect::{Finding, Severity};
use crate::enrich::Enrichment;
use crate::impact::{UserImpact, Verdict};
use crate::model::{Event, Source};
use crate::normalize::time;

use super::findings::Citer;
use super::layout;
use super::verdict::{did, network_phrase, safe};

/// Attacker events of one session (or address) closer than this belong to one stretch of
/// activity; a longer pause starts another.
const PAUSE: i64 = 60;

/// One line of the story.
struct Item {
    time: DateTime<Utc>,
    /// Order among lines at the same time: signal, sign-in, activity, containment.
    rank: u8,
    text: String,
    cite: String,
}

/// A stretch of attacker activity in one session or from one address.
struct Run<'a> {
    key: String,
    events: Vec<(&'a Event, String)>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The first 8 characters of a session id: enough to tell sessions apart in a story.
fn short_session(s: &str) -> String {
    let s = safe(s);
    if layout::width(&s) > 12 {
        format!("{}…", s.chars().take(8).collect::<String>())
    } else {
        s
    }
}

/// The story of `u`, with `findings` (every finding of the run; the account's are picked).
pub fn render(
    u: &UserImpact,
    events: &[Event],
    ips: &Enrichment,
    findings: &[Finding],
    citer: &Citer,
    width: usize,
) -> String {
    let mut out = String::new();
    let mut head = format!(
        "{}: {} (score {})",
        safe(&u.user),
        u.verdict.as_str(),
        u.score
    );
    if let Some(w) = &u.window {
        let _ = write!(
            head,
            "; attacker active {} to {} (UTC)",
            time::format(&w.start),
            time::format(&w.end)
        );
    }
    out.push_str(&layout::wrapped(&head, width, "", "  "));
    for k in &u.footprint.ips {
        let text = format!(
            "attacker IP {} ({}): {}, {} to {}",
            safe(&k.key),
            network_phrase(ips, &k.key),
            plural(k.events as usize, "event", "events"),
            time::format(&k.first),
            time::format(&k.last)
        );
        out.push_str(&layout::wrapped(&text, width, "  ", "    "));
    }
    for (label, text) in did(&u.blast_radius) {
        out.push_str(&layout::wrapped(
            &format!("{label}: {text}"),
            width,
            "  ",
            "    ",
        ));
    }
    out.push('\n');

    let mut items: Vec<Item> = Vec::new();
    let mine: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.user.eq_ignore_ascii_case(&u.user))
        .collect();
    // The first signal: the first finding that weighs in the verdict (medium or above), else
    // the first of any.
    let first = mine
        .iter()
        .filter(|f| f.severity >= Severity::Medium)
        .min_by(|a, b| a.first.cmp(&b.first).then(b.severity.cmp(&a.severity)))
        .or_else(|| mine.iter().min_by_key(|f| f.first));
    if let Some(f) = first {
        items.push(Item {
            time: f.first,
            rank: 0,
            text: format!(
                "FIRST SIGNAL: {} {}: {}",
                f.severity,
                safe(&f.rule_id),
                safe(&f.summary)
            ),
            cite: f
                .evidence
                .first()
                .map(|e| citer.cite(e))
                .unwrap_or_default(),
        });
    }

    let contained: Option<DateTime<Utc>> = u
        .window
        .as_ref()
        .and_then(|w| w.containment.first())
        .map(|c| c.time);
    let after = |t: DateTime<Utc>| contained.is_some_and(|c| t > c);
    let label = |t: DateTime<Utc>| if after(t) { "AFTER CONTAINMENT: " } else { "" };

    // The attacker's events, as the impact stage attributed them (same order as its footprint).
    let mut runs: Vec<Run> = Vec::new();
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    for ((i, _, _), a) in u.footprint.events.iter().zip(&u.attacker_events) {
        let Some(e) = events.get(*i) else { continue };
        let cite = citer.cite(&a.evidence);
        if e.source == Source::Signin {
            let mut text = format!(
                "{}attacker sign-in{} from {}",
                label(e.time),
                if e.outcome == crate::model::Outcome::Failure {
                    " (failed)"
                } else {
                    ""
                },
                a.ip.as_deref()
                    .map(safe)
                    .unwrap_or_else(|| "an unknown address".into()),
            );
            if let Some(ip) = &a.ip {
                let _ = write!(text, " ({})", network_phrase(ips, ip));
            }
            if let Some(app) = e.application.as_deref() {
                let _ = write!(text, " to {}", safe(app));
            }
            if let Some(s) = e.session_id.as_deref() {
                let _ = write!(text, ", session {}", short_session(s));
            }
            let _ = write!(text, ": {}", safe(&a.why));
            items.push(Item {
                time: e.time,
                rank: 1,
                text,
                cite,
            });
            continue;
        }
        let key = e
            .session_id
            .as_deref()
            .map(|s| format!("in session {}", short_session(s)))
            .or_else(|| a.ip.as_deref().map(|ip| format!("from {}", safe(ip))))
            .unwrap_or_else(|| "with no session or address".to_string());
        let joins = open.get(&key).copied().filter(|&r| {
            let last = runs[r].events.last().map(|(p, _)| p.time).unwrap_or(e.time);
            e.time - last <= Duration::minutes(PAUSE) && after(last) == after(e.time)
        });
        match joins {
            Some(r) => runs[r].events.push((e, cite)),
            None => {
                open.insert(key.clone(), runs.len());
                runs.push(Run {
                    key,
                    events: vec![(e, cite)],
                });
            }
        }
    }
    for r in &runs {
        let (first, cite) = &r.events[0];
        let last = r.events.last().map(|(e, _)| e.time).unwrap_or(first.time);
        let ips_seen: BTreeSet<String> = r
            .events
            .iter()
            .filter_map(|(e, _)| e.ip.map(|i| i.to_string()))
            .collect();
        let from = ips_seen
            .iter()
            .map(|ip| format!("{} ({})", safe(ip), network_phrase(ips, ip)))
            .collect::<Vec<_>>()
            .join(", ");
        let n = r.events.len();
        let until = if n > 1 {
            format!(" until {}", time::format(&last))
        } else {
            String::new()
        };
        let refreshes = r
            .events
            .iter()
            .all(|(e, _)| e.source == Source::Noninteractive);
        let mut text = if refreshes {
            format!(
                "{}{} (non-interactive sign-in{}) {}{until}",
                label(first.time),
                plural(n, "token refresh", "token refreshes"),
                if n == 1 { "" } else { "s" },
                r.key
            )
        } else {
            let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
            for (e, _) in &r.events {
                *ops.entry(&e.operation).or_default() += 1;
            }
            let mut ops: Vec<(&str, usize)> = ops.into_iter().collect();
            ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let ops: Vec<String> = ops
                .iter()
                .map(|(op, k)| {
                    if *k > 1 {
                        format!("{} ×{k}", safe(op))
                    } else {
                        safe(op)
                    }
                })
                .collect();
            format!(
                "{}{} {}{until}: {}",
                label(first.time),
                plural(n, "action", "actions"),
                r.key,
                ops.join(", ")
            )
        };
        if r.key.starts_with("from ") {
            let _ = write!(
                text,
                " ({})",
                network_phrase(ips, r.key.trim_start_matches("from "))
            );
        } else if !from.is_empty() {
            let _ = write!(text, ", from {from}");
        }
        let cite = if n > 1 {
            format!("{cite} +{} more", n - 1)
        } else {
            cite.clone()
        };
        items.push(Item {
            time: first.time,
            rank: 2,
            text,
            cite,
        });
    }
    if let Some(w) = &u.window {
        for c in &w.containment {
            items.push(Item {
                time: c.time,
                rank: 3,
                text: format!(
                    "CONTAINMENT: {} by {} ({})",
                    safe(&c.action),
                    safe(&c.actor),
                    safe(&c.operation)
                ),
                cite: citer.cite(&c.evidence),
            });
        }
    }
    items.sort_by(|a, b| a.time.cmp(&b.time).then(a.rank.cmp(&b.rank)));
    if items.is_empty() {
        out.push_str("Nothing in the evidence to tell: no finding and no attacker event.\n");
        return out;
    }
    let indent = " ".repeat(22);
    for it in &items {
        let text = if it.cite.is_empty() {
            it.text.clone()
        } else {
            format!("{} [{}]", it.text, it.cite)
        };
        out.push_str(&layout::wrapped(
            &text,
            width,
            &format!("{}  ", time::format(&it.time)),
            &indent,
        ));
    }
    out.push('\n');
    if let Some(w) = &u.window {
        let text = match (w.containment.first(), w.after_containment.len()) {
            (None, _) if u.verdict == Verdict::Compromised => {
                "No containment action (password reset, session revocation, disabling) is in the evidence.".to_string()
            }
            (None, _) => String::new(),
            (Some(c), 0) => format!(
                "After the first containment action ({}): no attacker event in the evidence.",
                time::format(&c.time)
            ),
            (Some(c), n) => {
                let last = w.after_containment.iter().max_by_key(|e| e.time);
                format!(
                    "After the first containment action ({}): {} AFTER it, the last at {}{}.",
                    time::format(&c.time),
                    plural(n, "attacker event", "attacker events"),
                    last.map(|e| time::format(&e.time)).unwrap_or_default(),
                    last.map(|e| format!(" [{}]", citer.cite(e))).unwrap_or_default()
                )
            }
        };
        if !text.is_empty() {
            out.push_str(&layout::wrapped(&text, width, "", "  "));
        }
    }
    let lower = mine.iter().filter(|f| f.severity < Severity::High).count();
    out.push_str(&layout::wrapped(
        &format!(
            "{} on this account ({} below high); analyze --user {} --all lists them.",
            plural(mine.len(), "finding", "findings"),
            lower,
            safe(&u.user)
        ),
        width,
        "",
        "  ",
    ));
    out
}
