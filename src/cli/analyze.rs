//! `breachline analyze`: the whole pipeline. Ingest, enrich, run the rules, attribute the
//! attacker's activity, work out windows, blast radius and who to notify; print the findings
//! and verdicts, and with `--out DIR` write the case folder (files listed in docs/output.md).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::args::{stderr_summary, EvidenceArgs};
use super::rules::RuleSelection;
use super::Cli;
use crate::detect::{self, Severity};
use crate::impact;
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

    /// Only findings at or above this severity [default: high on the terminal; with --json,
    /// every finding].
    #[arg(long, value_parser = super::values::severity(), value_name = "SEVERITY")]
    pub min_severity: Option<Severity>,

    /// List every finding, low and informational ones included (same as --min-severity
    /// informational).
    #[arg(long, conflicts_with = "min_severity")]
    pub all: bool,

    /// Print the findings as JSON (an array; fields in docs/rules.md) instead of the verdicts
    /// and findings.
    #[arg(long)]
    pub json: bool,

    /// Write the case folder here: summary.json, findings.json, blast_radius.json,
    /// recipients.csv, timeline.csv, timeline.parquet, ingest.json, rejects.csv, report.html,
    /// report.md (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Accepted for compatibility: timeline.parquet is written by default (see --no-parquet).
    #[arg(long, requires = "out", hide = true, conflicts_with = "no_parquet")]
    pub parquet: bool,

    /// Do not write timeline.parquet (every event, typed columns) into the --out folder.
    #[arg(long, requires = "out")]
    pub no_parquet: bool,

    /// Which timelines timeline.csv holds: the flagged accounts' (compromised, suspicious,
    /// targeted), every account's, or none (timeline.parquet always has every event).
    #[arg(
        long,
        value_enum,
        value_name = "WHICH",
        default_value = "flagged",
        requires = "out"
    )]
    pub timeline_csv: report::case::TimelineCsv,

    /// Exit with code 4 when a finding at or above this severity exists (for scripts and CI;
    /// counts every finding of the run, whatever --min-severity shows).
    #[arg(long, value_parser = super::values::severity(), value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,

    /// The tenant's own domains (repeatable): decides internal versus external recipients, and
    /// the rules' `external_domain` tests. Inferred from the accounts that sign in or act in
    /// the audit log when absent.
    #[arg(long, value_name = "DOMAIN")]
    pub tenant_domain: Vec<String>,

    /// Memory the events may take (e.g. 512M, 8G). Evidence larger than this is analysed in
    /// groups of accounts, its events spilled to disk (--work-dir); the results are the same
    /// either way [default: half the machine's memory, or 4G where that is unknown].
    #[arg(long, value_parser = super::values::byte_size, value_name = "SIZE")]
    pub memory_budget: Option<u64>,

    /// Where events spill when the evidence is larger than --memory-budget (a temporary folder
    /// inside it, removed at the end) [default: the folder holding --out, else the system's
    /// temporary folder].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

impl AnalyzeArgs {
    /// The lowest severity listed: `--all` lists every finding; else `--min-severity`; else
    /// high and critical on the terminal, every finding with `--json`.
    pub fn min_severity(&self) -> Severity {
        match (self.all, self.min_severity) {
            (true, _) => Severity::Informational,
            (false, Some(s)) => s,
            (false, None) if self.json => Severity::Informational,
            (false, None) => Severity::High,
        }
    }
}

/// Detection then impact: the findings, and the verdicts, windows and blast radius they lead to.
/// The steps of a staged run (docs/stages.md) over one group that holds every account.
pub fn assess(
    ing: &crate::ingest::Ingested,
    ips: &crate::enrich::Enrichment,
    rules: &[detect::Rule],
    users: &[String],
    tenant_domains: &[String],
) -> (Vec<detect::Finding>, impact::Impact) {
    crate::stages::in_memory(ing, ips, rules, users, tenant_domains)
}

/// Half the machine's memory (Linux), else 4 GiB.
fn default_budget() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    total.map_or(4 << 30, |kb| kb * 1024 / 2)
}

pub fn run(args: &AnalyzeArgs, cli: &Cli) -> anyhow::Result<u8> {
    let mut outputs = args.evidence.outputs();
    if let Some(dir) = &args.out {
        outputs.push(report::outputs::OutputPath::Folder(dir));
    }
    report::outputs::check_no_overlap(&args.evidence.paths, &outputs)?;
    let rules = args.selection.load()?;
    let users: Vec<String> = args.user.iter().map(|u| u.trim().to_lowercase()).collect();
    let budget = args.memory_budget.unwrap_or_else(default_budget);
    let size = crate::ingest::estimate(&args.evidence.paths)?;
    let (ing, enrichment, findings, assessed, groups) = if size <= budget {
        let (ing, enrichment) = args.evidence.load(cli.quiet)?;
        let (findings, assessed) =
            assess(&ing, &enrichment, &rules.rules, &users, &args.tenant_domain);
        (ing, enrichment, findings, assessed, None)
    } else {
        let (geo, nets) = args.evidence.geo.open()?;
        let work_dir = args
            .work_dir
            .clone()
            .or_else(|| {
                args.out
                    .as_ref()
                    .and_then(|o| std::path::absolute(o).ok())
                    .and_then(|o| o.parent().map(PathBuf::from))
            })
            .unwrap_or_else(std::env::temp_dir);
        // The spill folder goes inside the work folder: never into the evidence.
        report::outputs::check_no_overlap(
            &args.evidence.paths,
            &[report::outputs::OutputPath::File(
                &work_dir.join("breachline-spill"),
            )],
        )?;
        if !cli.quiet {
            crate::report::terminal::eprint_line(&format!(
                    "breachline: the evidence's events (about {} MB in memory) are over the memory budget ({} MB): analysing them a group of accounts at a time, spilled to a temporary folder in {}",
                    size.div_ceil(1 << 20),
                    budget.div_ceil(1 << 20),
                    work_dir.display()
                ));
        }
        let run = crate::stages::partitioned::run(
            &args.evidence.paths,
            crate::stages::partitioned::Options {
                ingest: args.evidence.options(cli.quiet),
                work_dir: &work_dir,
                budget,
                rules: &rules.rules,
                users: &users,
                tenant: &args.tenant_domain,
                geo: &geo,
                nets: &nets,
            },
        )?;
        args.evidence.write_rejects(&run.ingested)?;
        (
            run.ingested,
            run.ips,
            run.findings,
            run.impact,
            Some(run.groups),
        )
    };
    if let Some(dir) = &args.out {
        let case = report::case::Case {
            ingested: &ing,
            ips: &enrichment,
            findings: &findings,
            impact: &assessed,
            command: std::env::args().collect(),
            groups: groups.as_ref().map(|g| g as &dyn report::case::EventGroups),
        };
        report::case::write_folder(dir, &case, args.timeline_csv, |_staging| {
            if !args.no_parquet {
                #[cfg(feature = "parquet")]
                {
                    let t = std::time::Instant::now();
                    report::parquet::write_case(_staging, &case).map_err(|e| {
                        std::io::Error::other(format!("cannot write timeline.parquet: {e}"))
                    })?;
                    crate::timing::lap("write timeline.parquet", t);
                }
                #[cfg(not(feature = "parquet"))]
                return Err(std::io::Error::other(
                    "this build has no Parquet support (built without the parquet feature)",
                ));
            }
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("cannot write the case folder {}: {e}", dir.display()))?;
    }
    let min = args.min_severity();
    let evidence = ing.evidence_read();
    let mut out = report::stdout();
    // What was not read comes before any verdict (on stderr too, when stdout is JSON).
    let width = usize::from(report::terminal::width());
    let preface = evidence
        .warning()
        .map(|w| {
            let mut lines = report::layout::wrap(&report::safe_line(&w), width, "", "  ");
            lines.push(String::new());
            lines.push(String::new());
            lines.join("\n")
        })
        .unwrap_or_default();
    if args.json && !preface.is_empty() {
        eprint!("breachline: {preface}");
    }
    let written = if args.json {
        let shown: Vec<&detect::Finding> = findings.iter().filter(|f| f.severity >= min).collect();
        serde_json::to_writer_pretty(&mut out, &shown)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"))
    } else {
        let text = if evidence.nothing() {
            String::new()
        } else {
            let colour = report::terminal::colour();
            let cx = report::verdict::Context {
                ingested: &ing,
                ips: &enrichment,
                impact: &assessed,
                out: args.out.as_deref(),
            };
            let order: Vec<&str> = assessed.flagged().iter().map(|u| u.user.as_str()).collect();
            let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
            let citer = report::findings::Citer::new(&files);
            format!(
                "{}\n{}\n{}",
                report::verdict::block(&cx, width, colour),
                report::findings::grouped(&findings, min, &order, &citer, width, colour),
                report::layout::wrapped(
                    report::table::databases_line(&enrichment).trim_end(),
                    width,
                    "",
                    "  "
                )
            )
        };
        out.write_all(preface.as_bytes())
            .and_then(|_| out.write_all(text.as_bytes()))
    };
    report::ignore_broken_pipe(written.and_then(|_| out.flush()))?;
    if let Some(dir) = &args.out {
        crate::report::terminal::eprint_line(&format!(
            "breachline: case folder written to {}",
            dir.display()
        ));
    }
    stderr_summary(&ing);
    let mut code = args.evidence.exit_code(&ing);
    if let Some(level) = args.fail_on {
        if findings.iter().any(|f| f.severity >= level) {
            code = super::exit::FINDINGS;
        }
    }
    if evidence.nothing() {
        code = super::exit::NO_EVIDENCE;
    }
    // The process ends here: freeing millions of events one by one would only cost time.
    std::mem::forget(ing);
    Ok(code)
}
