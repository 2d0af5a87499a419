//! The command line: argument parsing and wiring of the stages. No analysis logic lives here.

pub mod analyze;
pub mod args;
pub mod enrich;
pub mod explain;
pub mod inspect;
pub mod normalize;
pub mod recipients;
pub mod rules;
pub mod stage;
pub mod timeline;
pub mod values;

use clap::{Parser, Subcommand};

/// Exit codes, as documented in `--help` and docs/cli.md.
pub mod exit {
    /// The command did what was asked.
    pub const OK: u8 = 0;
    /// An error stopped the command (unreadable path, output not writable).
    pub const ERROR: u8 = 1;
    /// Wrong arguments (clap's own code).
    pub const USAGE: u8 = 2;
    /// `--strict` was given and some file was not read or some row was rejected.
    pub const INCOMPLETE: u8 = 3;
    /// `analyze --fail-on SEVERITY` was given and a finding at or above it exists (wins over 3).
    pub const FINDINGS: u8 = 4;
    /// `analyze` read no evidence row at all: no verdict is possible (wins over 3 and 4).
    pub const NO_EVIDENCE: u8 = 5;
}

const AFTER_HELP: &str = "\
Exit codes: 0 done; 1 error; 2 bad arguments; 3 with --strict, some evidence was not read or some rows were rejected; 4 with analyze --fail-on SEVERITY, a finding at or above SEVERITY exists.

Examples:
  breachline inspect evidence/
  breachline timeline evidence/ --user alice@contoso.com --from 2024-05-13 --format csv > alice.csv
  breachline enrich 188.166.14.77 45.77.62.19 --geoip-city GeoLite2-City.mmdb
  breachline explain alice@contoso.com evidence/";

const ANALYZE_AFTER_HELP: &str = "\
Exit codes: 0 done; 1 error; 2 bad arguments; 3 with --strict, some evidence was not read or some rows were rejected; 4 with --fail-on SEVERITY, a finding at or above SEVERITY exists (4 wins over 3); 5 no evidence row was read, so no verdict is possible.

Examples:
  breachline analyze evidence/ --out case            # case folder with report.html and report.md
  breachline analyze evidence/ --out case --parquet  # and timeline.parquet
  breachline analyze evidence/ --quiet --json --fail-on high > findings.json";

const EXPLAIN_AFTER_HELP: &str = "\
Exit codes: 0 done; 1 error; 2 bad arguments; 3 with --strict, some evidence was not read or some rows were rejected; 5 no evidence row was read.

Example:
  breachline explain priya.natarajan@northwindtraders.example fixtures/demo";

/// Investigate Microsoft 365 account takeovers from exported evidence, offline.
#[derive(Parser, Debug)]
#[command(name = "breachline", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Worker threads (default: one per core). Results are identical for any number.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// No progress bar.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// What each evidence file is and how every row was accounted for.
    Inspect(inspect::InspectArgs),
    /// The merged per-user timeline across every source.
    Timeline(timeline::TimelineArgs),
    /// What is known about IP addresses: country, city, ASN, owner, hosting / VPN label.
    Enrich(enrich::EnrichArgs),
    /// Who must be told: every recipient of mail from an account in a window.
    Recipients(recipients::RecipientsArgs),
    /// Run the takeover rules over the evidence: the verdicts first, then the findings by
    /// account and rule.
    #[command(after_help = ANALYZE_AFTER_HELP)]
    Analyze(analyze::AnalyzeArgs),
    /// One account's story in time order: first signal, the attacker's sign-ins and sessions,
    /// containment and what came after, each line citing its evidence row.
    #[command(after_help = EXPLAIN_AFTER_HELP)]
    Explain(explain::ExplainArgs),
    /// List, show and test the rules.
    Rules(rules::RulesArgs),
    /// Exports in, breachline Parquet events out: the first step of a staged run
    /// (docs/stages.md).
    Normalize(normalize::NormalizeArgs),
    /// The steps of a staged run over groups of accounts, for Spark or another scheduler
    /// (docs/stages.md).
    Stage(stage::StageArgs),
}

/// Runs the command line; returns the process exit code.
pub fn run() -> u8 {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
        {
            eprintln!("breachline: cannot set {n} threads: {e}");
            return exit::ERROR;
        }
    }
    let result = match &cli.command {
        Command::Inspect(a) => inspect::run(a, &cli),
        Command::Timeline(a) => timeline::run(a, &cli),
        Command::Enrich(a) => enrich::run(a, &cli),
        Command::Recipients(a) => recipients::run(a, &cli),
        Command::Analyze(a) => analyze::run(a, &cli),
        Command::Explain(a) => explain::run(a, &cli),
        Command::Rules(a) => rules::run(a, &cli),
        Command::Normalize(a) => normalize::run(a, &cli),
        Command::Stage(a) => stage::run(a, &cli),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            crate::report::terminal::eprint_line(&format!("breachline: {e:#}"));
            exit::ERROR
        }
    }
}
