//! `breachline analyze`: run the rules over the evidence and print the findings.

use std::io::Write;

use clap::Args;

use super::args::{stderr_summary, EvidenceArgs};
use super::rules::RuleSelection;
use super::Cli;
use crate::detect::{self, Severity};
use crate::enrich::{self, GeoIp, NetworkConfig};
use crate::report;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub evidence: EvidenceArgs,

    #[command(flatten)]
    pub selection: RuleSelection,

    /// Only findings for these users (any case); repeatable.
    #[arg(long, short, value_name = "UPN")]
    pub user: Vec<String>,

    /// Only findings at or above this severity.
    #[arg(long, value_enum, default_value_t = Severity::Informational, value_name = "SEVERITY")]
    pub min_severity: Severity,

    /// Print the findings as JSON (an array; fields in docs/rules.md) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &AnalyzeArgs, cli: &Cli) -> anyhow::Result<u8> {
    let rules = args.selection.load()?;
    let ing = args.evidence.ingest(cli.quiet)?;
    let started = std::time::Instant::now();
    let cpu_started = cpu_seconds();
    let enrichment = enrich::enrich(&ing.events, &GeoIp::embedded(), &NetworkConfig::builtin());
    let enriched = std::time::Instant::now();
    let cpu_enriched = cpu_seconds();
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let users: Vec<String> = args.user.iter().map(|u| u.trim().to_lowercase()).collect();
    let mut findings = detect::run(&ing.events, &enrichment, &rules.rules, &files, &users);
    if std::env::var_os("BREACHLINE_TIMING").is_some() {
        let detect = enriched.elapsed().as_secs_f64();
        let cpu = match (cpu_started, cpu_enriched, cpu_seconds()) {
            (Some(a), Some(b), Some(c)) => format!(" (CPU: enrich {:.2} s, detect {:.2} s)", b - a, c - b),
            _ => String::new(),
        };
        eprintln!(
            "breachline: enrich {:.2} s ({} addresses); detect {:.2} s: {} events, {} rules, {:.2} M events/s, {} findings{cpu}",
            (enriched - started).as_secs_f64(),
            enrichment.len(),
            detect,
            ing.events.len(),
            rules.rules.len(),
            ing.events.len() as f64 / detect / 1e6,
            findings.len()
        );
    }
    findings.retain(|f| f.severity >= args.min_severity);
    let mut out = report::stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &findings)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"))
    } else {
        out.write_all(report::findings::findings(&findings).as_bytes())
    };
    report::ignore_broken_pipe(written.and_then(|_| out.flush()))?;
    stderr_summary(&ing);
    let code = args.evidence.exit_code(&ing);
    // The process ends here: freeing millions of events one by one would only cost time.
    std::mem::forget(ing);
    Ok(code)
}

/// CPU time of the process so far (user + system, all threads), where the OS says it: timing
/// on a busy machine is only fair in CPU seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux configuration in use.
    Some(ticks / 100.0)
}
