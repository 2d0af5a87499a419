//! `breachline timeline`: the merged per-user timeline across every source.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use super::args::{parse_instant, stderr_summary, EvidenceArgs};
use super::Cli;
use crate::model::Source;
use crate::report;
use crate::timeline::{self, Filter};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One table per user, for reading in a terminal.
    Table,
    /// Every normalized field, one row per event (schema in docs/formats.md).
    Csv,
    /// A JSON array of events.
    Json,
    /// One JSON event per line.
    Jsonl,
}

#[derive(Args, Debug)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub evidence: EvidenceArgs,

    /// Only these users (any case); repeatable. Default: everyone.
    #[arg(long, short, value_name = "UPN")]
    pub user: Vec<String>,

    /// Only events at or after this time (ISO 8601; UTC unless an offset is given).
    #[arg(long, value_parser = parse_instant, value_name = "TIME")]
    pub from: Option<DateTime<Utc>>,

    /// Only events at or before this time.
    #[arg(long, value_parser = parse_instant, value_name = "TIME")]
    pub to: Option<DateTime<Utc>>,

    /// Only these sources; repeatable.
    #[arg(long, value_parser = super::values::source(), value_name = "SOURCE")]
    pub source: Vec<Source>,

    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only the events that are evidence of a finding (built-in rules, plus --rules and
    /// --sigma, less --disable; at most 200 evidence rows per finding).
    #[arg(long)]
    pub evidence_only: bool,

    #[command(flatten)]
    pub selection: super::rules::RuleSelection,
}

pub fn run(args: &TimelineArgs, cli: &Cli) -> anyhow::Result<u8> {
    let mut outputs = args.evidence.outputs();
    if let Some(o) = &args.output {
        outputs.push(crate::report::outputs::OutputPath::File(o));
    }
    crate::report::outputs::check_no_overlap(&args.evidence.paths, &outputs)?;
    let (ing, ips) = args.evidence.load(cli.quiet)?;
    let filter = Filter {
        users: args.user.iter().map(|u| u.trim().to_lowercase()).collect(),
        from: args.from,
        to: args.to,
        sources: args.source.clone(),
    };
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let sel = &args.selection;
    let chooses_rules = !sel.rules.is_empty()
        || !sel.disable.is_empty()
        || !sel.params.is_empty()
        || !sel.sigma.is_empty()
        || !sel.sigma_fields.is_empty();
    if chooses_rules && !args.evidence_only {
        anyhow::bail!(
            "--rules, --sigma, --disable and --param choose the rules for --evidence-only; add it"
        );
    }
    let evidence: Vec<crate::model::Event>;
    let events = if args.evidence_only {
        let rules = sel.load()?;
        let findings = crate::detect::run(&ing.events, &ips, &rules.rules, &files, &filter.users);
        let cited = crate::detect::cited(&ing.events, &findings, &files);
        evidence = ing
            .events
            .iter()
            .zip(cited)
            .filter(|(_, c)| *c)
            .map(|(e, _)| e.clone())
            .collect();
        &evidence[..]
    } else {
        &ing.events[..]
    };
    let timelines = timeline::build(events, &filter);
    let mut out = report::output(args.output.as_deref())?;
    let written = match args.format {
        Format::Table => out
            .write_all(report::table::timeline(&timelines, &files, &ips).as_bytes())
            .and_then(|_| out.flush()),
        Format::Csv => report::csv::write_timeline(&mut out, &timelines, &files, &ips),
        Format::Json => report::json::write_timeline(&mut out, &timelines, &files, &ips, false),
        Format::Jsonl => report::json::write_timeline(&mut out, &timelines, &files, &ips, true),
    };
    report::ignore_broken_pipe(written)?;
    out.finish()?;
    if timelines.is_empty() && !filter.users.is_empty() {
        crate::report::terminal::eprint_line(&format!(
            "breachline: no events for {} in the evidence and time range given",
            filter.users.join(", ")
        ));
    }
    stderr_summary(&ing);
    let code = args.evidence.exit_code(&ing);
    // The process ends here: freeing millions of events one by one would only cost time.
    std::mem::forget(ing);
    Ok(code)
}
