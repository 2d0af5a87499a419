//! `breachline normalize`: exports in, breachline's Parquet events out (the first step of a
//! staged run, docs/stages.md): `events.parquet`, `ingest.json` and `rejects.csv`.

use std::path::PathBuf;

use clap::Args;

use super::args::stderr_summary;
use super::Cli;
use crate::ingest::{self, IngestOptions};
use crate::normalize::time::DateOrder;
use crate::report;

#[derive(Args, Debug)]
pub struct NormalizeArgs {
    /// Evidence files or folders (walked as `analyze` walks them).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Write events.parquet, ingest.json and rejects.csv into this folder (replaced whole).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Read only the files whose place in the walk is I modulo N (I/N, from 0): N calls with
    /// I = 0..N-1 read every file once. What the walk skipped is listed by I = 0 only.
    #[arg(long, value_name = "I/N", value_parser = shard)]
    pub shard: Option<(usize, usize)>,

    /// How to read culture-formatted dates like 04/03/2024.
    #[arg(long, value_parser = super::values::date_order(), default_value_t = DateOrder::Auto)]
    pub date_order: DateOrder,

    /// Report a stretch with no events of a source longer than this many hours as a gap.
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    pub gap_hours: u32,

    /// Exit with code 3 when a file could not be read or a row was rejected.
    #[arg(long)]
    pub strict: bool,
}

fn shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("expected I/N with 0 <= I < N, such as 0/4; found {s:?}");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

pub fn run(args: &NormalizeArgs, cli: &Cli) -> anyhow::Result<u8> {
    report::outputs::check_no_overlap(
        &args.paths,
        &[report::outputs::OutputPath::Folder(&args.out)],
    )?;
    let opts = IngestOptions {
        date_order: args.date_order,
        gap: chrono::Duration::hours(i64::from(args.gap_hours)),
        progress: !cli.quiet,
        shard: args.shard,
        spill: None,
    };
    let ing = ingest::ingest(&args.paths, &opts)?;
    write(&args.out, &ing)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.out.display()))?;
    stderr_summary(&ing);
    let incomplete = ing.rejects_total > 0 || ing.files.iter().any(|f| f.error.is_some());
    Ok(if args.strict && incomplete {
        super::exit::INCOMPLETE
    } else {
        super::exit::OK
    })
}

fn write(dir: &std::path::Path, ing: &ingest::Ingested) -> std::io::Result<()> {
    report::outputs::write_case_folder(dir, |staging| {
        report::case::write_json(staging, "ingest.json", &report::case::ingest_report(ing))?;
        let mut out = report::outputs::AtomicFile::create(&staging.join("rejects.csv"))?;
        report::csv::write_all_rejects(&mut out, ing)?;
        out.commit()?;
        events_parquet(staging, ing)
    })
}

#[cfg(feature = "parquet")]
fn events_parquet(dir: &std::path::Path, ing: &ingest::Ingested) -> std::io::Result<()> {
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let timelines = crate::timeline::build(&ing.events, &crate::timeline::Filter::default());
    report::parquet::write_timeline(
        &dir.join("events.parquet"),
        &timelines,
        &files,
        &crate::enrich::Enrichment::default(),
    )
    .map(|_| ())
    .map_err(|e| std::io::Error::other(e.to_string()))
}

#[cfg(not(feature = "parquet"))]
fn events_parquet(_dir: &std::path::Path, _ing: &ingest::Ingested) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "this build has no Parquet support (built without the parquet feature)",
    ))
}
