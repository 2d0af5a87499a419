//! `breachline inspect`: per file the detected variant, rows parsed / duplicate / rejected, time
//! range and users; coverage per source with gaps.

use std::io::Write;

use clap::Args;
use serde_json::json;

use super::args::{stderr_summary, EvidenceArgs};
use super::Cli;
use crate::report;

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub evidence: EvidenceArgs,

    /// Print the report as JSON (schema in docs/formats.md) instead of tables.
    #[arg(long)]
    pub json: bool,

    /// How many IP addresses the table lists (most events first); --json lists them all.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub ip_rows: usize,
}

pub fn run(args: &InspectArgs, cli: &Cli) -> anyhow::Result<u8> {
    crate::report::outputs::check_no_overlap(&args.evidence.paths, &args.evidence.outputs())?;
    let (ing, ips) = args.evidence.load(cli.quiet)?;
    let mut out = report::stdout();
    let written = if args.json {
        let value = json!({
            "files": ing.files,
            "skipped": ing.skipped,
            "coverage": ing.coverage,
            "rejected": ing.rejects_total,
            "rejects_listed": ing.rejects.len(),
            "rejects": ing.rejects,
            "ips": ips.sorted(),
            "geoip": ips.databases,
        });
        serde_json::to_writer_pretty(&mut out, &value)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"))
            .and_then(|_| out.flush())
    } else {
        let text = format!(
            "{}\nIP addresses\n{}\n\nGeoIP databases\n{}\n",
            report::table::inspect(&ing),
            report::table::ips(&ips, args.ip_rows),
            report::table::databases(&ips)
        );
        out.write_all(text.as_bytes()).and_then(|_| out.flush())
    };
    report::ignore_broken_pipe(written)?;
    if args.json {
        stderr_summary(&ing);
    } else {
        super::args::stderr_not_read(&ing);
    }
    let code = args.evidence.exit_code(&ing);
    // The process ends here: freeing millions of events one by one would only cost time.
    std::mem::forget(ing);
    Ok(code)
}
