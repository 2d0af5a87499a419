//! `breachline stage ...`: the steps of a staged run over groups of accounts (docs/stages.md).
//! Each reads and writes files; the decisions are `crate::stages`'.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::args::GeoArgs;
use super::rules::RuleSelection;
use super::Cli;
use crate::ingest::{self, IngestOptions, Ingested};
use crate::report;
use crate::stages::{self, Accounts, Context, GroupResult, PeaksFile, PivotsFile, Profile};

#[derive(Args, Debug)]
pub struct StageArgs {
    #[command(subcommand)]
    pub step: Step,
}

/// Where a step writes its JSON.
#[derive(Args, Debug)]
pub struct OutFile {
    /// Write the step's JSON here.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// A group of accounts' events and the context.
#[derive(Args, Debug)]
pub struct GroupArgs {
    /// The group's events: breachline Parquet files (or folders of them) holding every row of
    /// each of its accounts (`timeline_user`).
    #[arg(required = true, value_name = "GROUP")]
    pub groups: Vec<PathBuf>,

    /// The context the `stage context` step wrote.
    #[arg(long, value_name = "FILE")]
    pub context: PathBuf,

    #[command(flatten)]
    pub geo: GeoArgs,
}

#[derive(Subcommand, Debug)]
pub enum Step {
    /// Split events (normalize's events.parquet) by account into group files: what Spark's
    /// shuffle does, for one machine.
    Group {
        /// breachline Parquet events.
        #[arg(required = true, value_name = "EVENTS")]
        events: Vec<PathBuf>,
        /// How many groups.
        #[arg(long, default_value_t = 8, value_name = "N")]
        groups: usize,
        /// Write group-NNNN.parquet files into this folder (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// What a group's accounts contribute to the tenant-wide context.
    Profile {
        #[arg(required = true, value_name = "GROUP")]
        groups: Vec<PathBuf>,
        #[command(flatten)]
        out: OutFile,
    },
    /// Merge the groups' profiles (and peaks) into the context every later step reads.
    Context {
        #[arg(required = true, value_name = "PROFILE")]
        profiles: Vec<PathBuf>,
        /// The groups' peaks (`stage peaks`), for the rules that compare with peers.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        peaks: Vec<PathBuf>,
        /// The tenant's own domains (as `analyze --tenant-domain`); inferred when absent.
        #[arg(long, value_name = "DOMAIN")]
        tenant_domain: Vec<String>,
        #[command(flatten)]
        geo: GeoArgs,
        #[command(flatten)]
        out: OutFile,
    },
    /// The group's accounts' daily peaks, for the rules that compare with peers.
    Peaks {
        #[command(flatten)]
        group: GroupArgs,
        #[command(flatten)]
        selection: RuleSelection,
        #[command(flatten)]
        out: OutFile,
    },
    /// Detection and assessment of the group's accounts.
    Assess {
        #[command(flatten)]
        group: GroupArgs,
        #[command(flatten)]
        selection: RuleSelection,
        /// Only these accounts (as `analyze --user`).
        #[arg(long, value_name = "UPN")]
        user: Vec<String>,
        /// Also write the group's rows of timeline.parquet, enriched, to this file.
        #[arg(long, value_name = "FILE")]
        timeline: Option<PathBuf>,
        #[command(flatten)]
        out: OutFile,
    },
    /// Every group's compromised accounts, with what `stage pivots` needs of them, as one small
    /// file: each group's pivots step reads it instead of every group's results.
    Attackers {
        /// Every group's `stage assess` results.
        #[arg(required = true, value_name = "RESULT")]
        results: Vec<PathBuf>,
        #[command(flatten)]
        out: OutFile,
    },
    /// The group's accounts that share a key with a compromised account's attacker.
    Pivots {
        #[command(flatten)]
        group: GroupArgs,
        /// `stage attackers`' file (or every group's `stage assess` results).
        #[arg(long, required = true, value_name = "FILE", num_args = 1..)]
        results: Vec<PathBuf>,
        #[command(flatten)]
        out: OutFile,
    },
    /// The case files (summary.json, findings.json, blast_radius.json, recipients.csv) from
    /// every group's results.
    Combine {
        #[arg(long, value_name = "FILE")]
        context: PathBuf,
        #[arg(long, required = true, value_name = "FILE", num_args = 1..)]
        results: Vec<PathBuf>,
        #[arg(long, value_name = "FILE", num_args = 1..)]
        pivots: Vec<PathBuf>,
        /// The `ingest.json` files `normalize` wrote.
        #[arg(long, required = true, value_name = "FILE", num_args = 1..)]
        ingest: Vec<PathBuf>,
        /// Write the case files into this folder (created if missing; other files are left).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{}: not a file name", path.display()))?;
    if let Some(d) = dir {
        std::fs::create_dir_all(d)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", d.display()))?;
    }
    report::case::write_json(dir.unwrap_or(Path::new(".")), name, value)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// Reads a group: every row of its files, read back as evidence (duplicates dropped as in
/// `analyze`), and its accounts.
fn read_group(paths: &[PathBuf]) -> anyhow::Result<(Ingested, Accounts)> {
    let files = stages::group_files(paths)?;
    let opts = IngestOptions {
        progress: false,
        ..IngestOptions::default()
    };
    let ing = ingest::ingest(&files, &opts)?;
    if let Some(f) = ing.files.iter().find(|f| f.error.is_some()) {
        anyhow::bail!(
            "{}: not read as a group of breachline events: {}",
            f.path,
            f.error.as_deref().unwrap_or_default()
        );
    }
    if ing.rejects_total > 0 {
        anyhow::bail!(
            "{} rows of the group could not be read back as events (first: {})",
            ing.rejects_total,
            ing.rejects
                .first()
                .map(|r| format!("{} row {}: {}", r.path, r.record, r.reason))
                .unwrap_or_default()
        );
    }
    let accounts = Accounts::of_groups(&files)?;
    Ok((ing, accounts))
}

fn open_context(group: &GroupArgs) -> anyhow::Result<(Context, crate::enrich::Enrichment)> {
    let ctx: Context = stages::read_json(&group.context)?;
    let (geo, nets) = group.geo.open()?;
    let ips = ctx.enrichment(&geo, &nets)?;
    Ok((ctx, ips))
}

pub fn run(args: &StageArgs, _cli: &Cli) -> anyhow::Result<u8> {
    match &args.step {
        Step::Group {
            events,
            groups,
            out,
        } => group(events, *groups, out)?,
        Step::Profile { groups, out } => {
            let (ing, accounts) = read_group(groups)?;
            write_json(&out.out, &stages::profile(&ing, &accounts))?;
        }
        Step::Context {
            profiles,
            peaks,
            tenant_domain,
            geo,
            out,
        } => {
            let (geo, nets) = geo.open()?;
            let profiles: Vec<Profile> = profiles
                .iter()
                .map(|p| stages::read_json(p))
                .collect::<anyhow::Result<_>>()?;
            let mut ctx = Context::new(profiles, tenant_domain, &geo, &nets);
            if !peaks.is_empty() {
                let mut all = crate::detect::Peaks::default();
                for p in peaks {
                    let file: PeaksFile = stages::read_json(p)?;
                    all.merge(file.peaks);
                }
                ctx.peaks = Some(all);
            }
            write_json(&out.out, &ctx)?;
        }
        Step::Peaks {
            group,
            selection,
            out,
        } => {
            let rules = selection.load()?;
            let (ctx, ips) = open_context(group)?;
            let (ing, accounts) = read_group(&group.groups)?;
            let peaks = stages::peaks(&ing, &ips, &rules.rules, &accounts, &ctx);
            write_json(
                &out.out,
                &PeaksFile {
                    schema: stages::SCHEMA,
                    peaks,
                },
            )?;
        }
        Step::Assess {
            group,
            selection,
            user,
            timeline,
            out,
        } => {
            let rules = selection.load()?;
            let (ctx, ips) = open_context(group)?;
            if ctx.peaks.is_none() && stages::needs_peaks(&rules.rules) {
                anyhow::bail!(
                    "{}: no peaks in this context, and a rule compares accounts with their peers: run `stage peaks` on every group and `stage context --peaks` first",
                    group.context.display()
                );
            }
            let (ing, accounts) = read_group(&group.groups)?;
            let users: Vec<String> = user.iter().map(|u| u.trim().to_lowercase()).collect();
            let result = stages::assess(&ing, &ips, &rules.rules, &accounts, &users, &ctx);
            if let Some(path) = timeline {
                group_timeline(path, &ing, &ips, &accounts)?;
            }
            write_json(&out.out, &result)?;
        }
        Step::Attackers { results, out } => {
            let results: Vec<GroupResult> = results
                .iter()
                .map(|p| stages::read_json(p))
                .collect::<anyhow::Result<_>>()?;
            write_json(&out.out, &stages::attackers(results))?;
        }
        Step::Pivots {
            group,
            results,
            out,
        } => {
            let (ctx, ips) = open_context(group)?;
            let results: Vec<GroupResult> = results
                .iter()
                .map(|p| stages::read_json(p))
                .collect::<anyhow::Result<_>>()?;
            let file = if stages::compromised(&results).is_empty() {
                PivotsFile {
                    schema: stages::SCHEMA,
                    ..PivotsFile::default()
                }
            } else {
                let (ing, accounts) = read_group(&group.groups)?;
                stages::pivots(&ing, &ips, &accounts, &results, ctx.profile.users)
            };
            write_json(&out.out, &file)?;
        }
        Step::Combine {
            context,
            results,
            pivots,
            ingest,
            out,
        } => combine(context, results, pivots, ingest, out)?,
    }
    Ok(super::exit::OK)
}

#[cfg(feature = "parquet")]
fn group(events: &[PathBuf], groups: usize, out: &Path) -> anyhow::Result<()> {
    report::outputs::check_no_overlap(events, &[report::outputs::OutputPath::Folder(out)])?;
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    report::parquet::split_by_user(events, groups, out).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn group(_events: &[PathBuf], _groups: usize, _out: &Path) -> anyhow::Result<()> {
    anyhow::bail!("this build has no Parquet support (built without the parquet feature)")
}

#[cfg(feature = "parquet")]
fn group_timeline(
    path: &Path,
    ing: &Ingested,
    ips: &crate::enrich::Enrichment,
    accounts: &Accounts,
) -> anyhow::Result<()> {
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let mut timelines = crate::timeline::build(&ing.events, &crate::timeline::Filter::default());
    timelines.retain(|t| accounts.owns(&t.user));
    report::parquet::write_timeline(path, &timelines, &files, ips)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn group_timeline(
    _path: &Path,
    _ing: &Ingested,
    _ips: &crate::enrich::Enrichment,
    _accounts: &Accounts,
) -> anyhow::Result<()> {
    anyhow::bail!("this build has no Parquet support (built without the parquet feature)")
}

fn combine(
    context: &Path,
    results: &[PathBuf],
    pivots: &[PathBuf],
    ingest: &[PathBuf],
    out: &Path,
) -> anyhow::Result<()> {
    let ctx: Context = stages::read_json(context)?;
    let results: Vec<GroupResult> = results
        .iter()
        .map(|p| stages::read_json(p))
        .collect::<anyhow::Result<_>>()?;
    let pivots: Vec<_> = pivots
        .iter()
        .map(|p| stages::read_json::<PivotsFile>(p))
        .collect::<anyhow::Result<_>>()?;
    // The files' reports, from every normalize call's ingest.json, in path order.
    let mut reports: Vec<(String, u64, Option<String>, bool)> = Vec::new();
    for path in ingest {
        let text = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))?;
        let files = value
            .get("files")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| anyhow::anyhow!("{}: not an ingest.json (no files)", path.display()))?;
        for f in files {
            reports.push((
                f.get("path")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                f.get("rows")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
                f.get("error")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string),
                f.get("status").and_then(serde_json::Value::as_str) == Some("cited"),
            ));
        }
    }
    reports.sort();
    let read: rustc_hash::FxHashSet<crate::model::Source> =
        ctx.profile.sources.iter().copied().collect();
    let evidence = crate::ingest::EvidenceRead::of(
        reports
            .iter()
            .map(|(path, rows, error, cited)| ingest::FileRead {
                path,
                rows: *rows,
                error: error.as_deref(),
                cited: *cited,
            }),
        &read,
        ctx.profile.events as usize,
    );
    let (findings, impact) = stages::combine(results, pivots, &ctx, ctx.profile.users);
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let command: Vec<String> = std::env::args().collect();
    report::case::write_verdicts(
        out,
        &report::case::Verdicts {
            findings: &findings,
            impact: &impact,
            evidence,
            users_in_evidence: ctx.profile.users as usize,
            databases: ctx.databases.clone(),
            command: &command,
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot write into {}: {e}", out.display()))
}
