//! How long `report.html` takes for a large case, and how big it gets: the demo case with the
//! victim's own events copied (shifted by whole weeks, so they are the user's, not the
//! attacker's) until their timeline has N rows. The victim's timeline is the one large table
//! the report embeds, so this is its worst case.
//!
//!     cargo run --release --example bench-report [-- ROWS]     (default 1,000,000)

use std::path::PathBuf;
use std::time::Instant;

use breachline::enrich::{self, GeoIp, GeoIpOptions, NetworkConfig};
use breachline::impact::{self, ImpactOptions, Verdict};
use breachline::ingest::{self, IngestOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = match std::env::args().nth(1) {
        Some(a) => a.replace('_', "").parse()?,
        None => 1_000_000,
    };
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let mut ing = ingest::ingest(&[demo], &IngestOptions::default())?;
    let geo = GeoIp::open(&GeoIpOptions::default())?;
    let ips = enrich::enrich(&ing.events, &geo, &NetworkConfig::builtin());
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let rules = breachline::detect::RuleSet::builtin()?;
    let findings = breachline::detect::run(&ing.events, &ips, &rules.rules, &files, &[]);
    let leads = impact::leads_from_findings(&ing.events, &files, &findings);
    let assessed = impact::assess(&ing.events, &files, &ips, &leads, &ImpactOptions::default());
    let victim = assessed
        .users
        .iter()
        .find(|u| u.verdict == Verdict::Compromised)
        .ok_or("the demo case has a compromised user")?;
    // Copies go after the originals, so the footprint's event indexes stay valid.
    let theirs: Vec<usize> = ing
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| &*e.user == victim.user.as_str())
        .map(|(i, _)| i)
        .collect();
    let attacker: std::collections::HashSet<usize> =
        victim.footprint.events.iter().map(|(i, _, _)| *i).collect();
    let own: Vec<usize> = theirs
        .into_iter()
        .filter(|i| !attacker.contains(i))
        .collect();
    // Each round shifts the copies by a few more seconds: the case keeps its two weeks, and the
    // victim becomes a heavy user.
    let mut timeline = breachline::report::html::timeline_of(&ing.events, &victim.user).len();
    let mut round = 1i64;
    while timeline < rows && !own.is_empty() {
        let add: Vec<_> = own
            .iter()
            .map(|i| {
                let mut e = ing.events[*i].clone();
                e.time += chrono::Duration::seconds(7 * round);
                e.origin.record += 1_000_000 * round as u64;
                e
            })
            .collect();
        timeline += add.len();
        ing.events.extend(add);
        round += 1;
    }
    let timeline = breachline::report::html::timeline_of(&ing.events, &victim.user).len();
    ing.span = breachline::ingest::accounting::EventSpan {
        events: ing.events.len(),
        first: ing.events.iter().map(|e| e.time).min(),
        last: ing.events.iter().map(|e| e.time).max(),
    };
    let case = breachline::report::case::Case {
        ingested: &ing,
        ips: &ips,
        findings: &findings,
        impact: &assessed,
        command: std::env::args().collect(),
        groups: None,
    };
    let started = Instant::now();
    let html = breachline::report::html::render(&case);
    let out = std::env::temp_dir().join("breachline-bench-report.html");
    std::fs::write(&out, &html)?;
    let elapsed = started.elapsed();
    println!(
        "report.html: {} timeline rows of {} events, {:.1} MB, rendered and written in {:.2} s ({})",
        timeline,
        ing.events.len(),
        html.len() as f64 / 1e6,
        elapsed.as_secs_f64(),
        out.display()
    );
    Ok(())
}
