//! `analyze` in bounded memory (`--memory-budget`): ingest spills the events to disk by
//! account name (`ingest::spill`), and the steps of a staged run (profile, context, peaks,
//! assess, attackers, pivots, combine: this module's parent) run one group of accounts at a
//! time, each group loaded from disk, deduplicated and sorted once, then kept on disk sorted.
//! What needs every account is carried between groups as the staged run carries it: small
//! summaries. Only the flagged accounts' events are held at the end, for the reports; the
//! timelines stream from the groups into `timeline.csv` and `timeline.parquet`.
//!
//! The case files are the in-memory path's, byte for byte (tests/partitioned.rs): groups are
//! ranges of names, so the timelines come out in the same order.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustc_hash::FxHashMap;

use super::{Accounts, Context, GroupResult, PivotsFile, Profile};
use crate::detect::{Finding, Peaks, Rule};
use crate::enrich::{Enrichment, GeoIp, NetworkConfig};
use crate::impact::Impact;
use crate::ingest::accounting::{self, CoverageParts, EventSpan, FileStats};
use crate::ingest::spill::{NameRange, Spill};
use crate::ingest::{IngestOptions, Ingested};
use crate::model::{Event, Origin};

/// Decoded events take about this many times the bytes they take in a spill file: a group
/// is sized so that its events fit in the budget with room for the rest.
const DECODED_PER_SPILLED: u64 = 4;

/// The groups of accounts, on disk: each a range of account names, its events deduplicated
/// and sorted.
pub struct Groups {
    spill: Arc<Spill>,
    ranges: Vec<NameRange>,
    /// Show a bar while the timelines are written.
    progress: bool,
}

impl Groups {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The accounts of group `g`.
    pub fn accounts(&self, g: usize) -> Accounts {
        Accounts::Names(self.ranges[g].clone())
    }

    fn name(g: usize) -> String {
        format!("group-{g:04}.bin")
    }

    /// Group `g`'s events, sorted by (time, origin): its accounts' own and the copies of
    /// others' events in their timelines (a mail they received, a change made to them).
    pub fn events(&self, g: usize) -> std::io::Result<Vec<Event>> {
        self.spill.stored(&Self::name(g))
    }
}

impl crate::report::case::EventGroups for Groups {
    fn each_group(
        &self,
        only: Option<&[String]>,
        f: &mut crate::report::case::GroupFn,
    ) -> std::io::Result<()> {
        let bar = group_bar(self.progress, self.len(), "writing the timelines");
        for g in 0..self.len() {
            bar.iter().for_each(|b| b.inc(1));
            if only.is_some_and(|users| !users.iter().any(|u| self.ranges[g].contains(u))) {
                continue;
            }
            let events = self.events(g)?;
            let accounts = self.accounts(g);
            f(&events, &|u| accounts.owns(u))?;
        }
        bar.iter().for_each(|b| b.finish_and_clear());
        Ok(())
    }
}

/// A bar on stderr over the groups of one pass, when asked for and stderr is a terminal.
fn group_bar(wanted: bool, groups: usize, pass: &'static str) -> Option<indicatif::ProgressBar> {
    let bar = crate::report::terminal::progress_bar(
        wanted,
        groups as u64,
        "{spinner} {msg} {bar:40} {pos}/{len} groups, eta {eta}",
    )?;
    bar.set_message(pass);
    Some(bar)
}

/// Everything `analyze` needs after the rules, from the partitioned path.
pub struct Run {
    /// Reports, coverage and rejects of every file; `events` holds only the events in the
    /// timelines of the accounts with findings (what report.html and report.md show).
    pub ingested: Ingested,
    pub ips: Enrichment,
    pub findings: Vec<Finding>,
    pub impact: Impact,
    /// Every group's events, for the timelines.
    pub groups: Groups,
}

/// What the partitioned path is given besides the evidence.
pub struct Options<'a> {
    pub ingest: IngestOptions,
    /// Where the spill folder goes (removed at the end).
    pub work_dir: &'a Path,
    /// Bytes of memory the events of one group may take.
    pub budget: u64,
    pub rules: &'a [Rule],
    /// `--user`: only these accounts' findings.
    pub users: &'a [String],
    /// `--tenant-domain`.
    pub tenant: &'a [String],
    pub geo: &'a GeoIp,
    pub nets: &'a NetworkConfig,
}

/// One group's events as a staged step takes them.
fn group_ingested(
    events: Vec<Event>,
    files: &[crate::ingest::FileReport],
    coverage: crate::ingest::Coverage,
) -> Ingested {
    Ingested {
        files: files.to_vec(),
        skipped: Vec::new(),
        span: EventSpan::of(&events),
        events,
        rejects: Vec::new(),
        rejects_total: 0,
        spills: BTreeMap::new(),
        coverage,
    }
}

/// Ingests into spill files, then runs the steps group by group.
pub fn run(paths: &[std::path::PathBuf], opts: Options) -> anyhow::Result<Run> {
    let spill =
        Arc::new(Spill::new(opts.work_dir).with_context(|| {
            format!("cannot make a spill folder in {}", opts.work_dir.display())
        })?);
    let mut ingest = opts.ingest.clone();
    ingest.spill = Some(spill.clone());
    let t = std::time::Instant::now();
    let all = crate::ingest::read_all(paths, &ingest)?;
    drop(ingest);
    spill.finish().map_err(|e| {
        anyhow::anyhow!(
            "cannot write the spill files in {}: {e}",
            spill.dir().display()
        )
    })?;
    let t = crate::timing::lap("read, decode and spill", t);
    let per_group = (opts.budget / DECODED_PER_SPILLED).max(1);
    let ranges = crate::ingest::spill::plan(&spill.names(), per_group);
    spill
        .split(&ranges)
        .context("cannot split the spill files into groups")?;
    let t = crate::timing::lap("split the spill files into groups", t);
    let groups = Groups {
        ranges,
        spill,
        progress: opts.ingest.progress,
    };
    if crate::timing::enabled() {
        eprintln!("timing: {} groups", groups.len());
    }

    // Pass 1: each group's events deduplicated, counted, sorted and stored; its profile.
    let paths_of: Vec<String> = all.files.iter().map(|f| f.display.clone()).collect();
    let (maps, cited) = accounting::cite_maps(&all.reads, &paths_of);
    let day_first: Vec<bool> = all.reads.iter().map(|r| r.day_first).collect();
    let mut stats = vec![FileStats::default(); all.reads.len()];
    let mut coverage = CoverageParts::new(opts.ingest.gap);
    let mut span = EventSpan::default();
    let mut profiles: Vec<Profile> = Vec::with_capacity(groups.len());
    let now = chrono::Utc::now();
    let progress = opts.ingest.progress;
    let bar = group_bar(progress, groups.len(), "sorting and profiling");
    for g in 0..groups.len() {
        bar.iter().for_each(|b| b.inc(1));
        let t_load = std::time::Instant::now();
        let accounts = groups.accounts(g);
        let mut spilled = groups
            .spill
            .take(g, &groups.ranges[g])
            .context("cannot read the spill files back")?;
        for s in spilled.iter_mut() {
            if let Some(t) = s.alternative.filter(|_| day_first[s.read as usize]) {
                s.event.time = t;
            }
        }
        let t_dedup = std::time::Instant::now();
        // Each file's events in record order, as the in-memory path deduplicates them.
        spilled.sort_unstable_by_key(|s| (s.read, s.event.origin));
        let mut by_read: Vec<Vec<Event>> = vec![Vec::new(); all.reads.len()];
        for s in spilled {
            by_read[s.read as usize].push(s.event);
        }
        let lists: Vec<&[Event]> = by_read.iter().map(Vec::as_slice).collect();
        let (keep, conflicts) = accounting::first_occurrences(&lists);
        let mut events = Vec::new();
        for (read, ((mut list, keep), conflicts)) in
            by_read.into_iter().zip(keep).zip(conflicts).enumerate()
        {
            stats[read].add(&FileStats::of(
                &list,
                &keep,
                conflicts,
                |e| accounts.counts(e),
                now,
            ));
            let mut flags = keep.iter();
            list.retain(|_| flags.next().copied().unwrap_or(true));
            if let Some(map) = maps.get(read).filter(|m| !m.is_empty()) {
                for e in list.iter_mut() {
                    if let Some(id) = map.get(e.origin.file as usize) {
                        e.origin.file = *id;
                    }
                }
            }
            events.append(&mut list);
        }
        let t_sort = std::time::Instant::now();
        accounting::sort_events(&mut events);
        let mut own = CoverageParts::new(opts.ingest.gap);
        own.add(&events, |e| accounts.counts(e));
        span.add(&EventSpan::of_sorted(
            events.iter().filter(|e| accounts.counts(e)).map(|e| e.time),
        ));
        coverage.merge(own.clone());
        let t_store = std::time::Instant::now();
        groups
            .spill
            .store(&Groups::name(g), &events)
            .context("cannot write a group's events to the spill folder")?;
        let t_profile = std::time::Instant::now();
        let ing = group_ingested(events, &[], own.finish());
        profiles.push(super::profile(&ing, &accounts));
        if crate::timing::enabled() {
            eprintln!(
                "timing: group {g}: load {:.2?}, deduplicate {:.2?}, sort and measure {:.2?}, store {:.2?}, profile {:.2?}",
                t_dedup - t_load,
                t_sort - t_dedup,
                t_store - t_sort,
                t_profile - t_store,
                t_profile.elapsed()
            );
        }
    }
    bar.iter().for_each(|b| b.finish_and_clear());
    let mut ingested = accounting::reports(all, stats, &cited, coverage.finish(), span);
    let files = ingested.files.clone();
    let t = crate::timing::lap("deduplicate, sort and profile the groups", t);

    let mut ctx = Context::new(profiles, opts.tenant, opts.geo, opts.nets);
    let ips = ctx.enrichment(opts.geo, opts.nets)?;
    let load = |g: usize| -> anyhow::Result<Ingested> {
        let events = groups
            .events(g)
            .context("cannot read a group's events back from the spill folder")?;
        Ok(group_ingested(
            events,
            &files,
            crate::ingest::Coverage::default(),
        ))
    };
    // The peers' reference needs every group's detection first; its findings are kept (the
    // peers' test comes later), so a group without findings is not read again.
    let mut detected: Vec<Option<Vec<Finding>>> = vec![None; groups.len()];
    if super::needs_peaks(opts.rules) {
        let mut peaks = Peaks::default();
        let bar = group_bar(progress, groups.len(), "running the rules");
        for (g, kept) in detected.iter_mut().enumerate() {
            bar.iter().for_each(|b| b.inc(1));
            let ing = load(g)?;
            // As in memory: with `--user`, the peers are those accounts too.
            let (findings, own) = super::detect_accounts(
                &ing,
                &ips,
                opts.rules,
                &groups.accounts(g),
                opts.users,
                &ctx,
            );
            peaks.merge(own);
            *kept = Some(findings);
        }
        bar.iter().for_each(|b| b.finish_and_clear());
        ctx.peaks = Some(peaks);
    }
    let t = crate::timing::lap("context and peaks", t);

    // Assess each group; keep the events in the assessed accounts' timelines for the reports,
    // and where each attacker event is among them.
    let mut results: Vec<GroupResult> = Vec::with_capacity(groups.len());
    let mut shown: FxHashMap<Origin, Event> = FxHashMap::default();
    let mut footprints: FxHashMap<String, Vec<Origin>> = FxHashMap::default();
    let bar = group_bar(progress, groups.len(), "assessing");
    for (g, findings) in detected.into_iter().enumerate() {
        bar.iter().for_each(|b| b.inc(1));
        if findings.as_ref().is_some_and(Vec::is_empty) {
            results.push(GroupResult {
                schema: super::SCHEMA,
                ..GroupResult::default()
            });
            continue;
        }
        let ing = load(g)?;
        let accounts = groups.accounts(g);
        let result = match findings {
            Some(f) => super::assess_detected(&ing, &ips, opts.rules, &ctx, (f, Peaks::default())),
            None => super::assess(&ing, &ips, opts.rules, &accounts, opts.users, &ctx),
        };
        let assessed: rustc_hash::FxHashSet<&str> =
            result.users.iter().map(|u| u.user.as_str()).collect();
        for e in &ing.events {
            if e.subjects().any(|(s, _)| assessed.contains(&*s)) {
                shown.entry(e.origin).or_insert_with(|| e.clone());
            }
        }
        for u in &result.users {
            footprints.insert(
                u.user.clone(),
                u.footprint
                    .events
                    .iter()
                    .map(|(i, _, _)| ing.events[*i].origin)
                    .collect(),
            );
        }
        results.push(result);
    }
    bar.iter().for_each(|b| b.finish_and_clear());
    let t = crate::timing::lap("detect and assess", t);
    let attackers = super::attackers(results.clone());
    let users_in_evidence = ingested.coverage.users.len() as u64;
    let mut pivots: Vec<PivotsFile> = Vec::new();
    if !attackers.users.is_empty() {
        let bar = group_bar(progress, groups.len(), "linking accounts to the attackers");
        for g in 0..groups.len() {
            bar.iter().for_each(|b| b.inc(1));
            let ing = load(g)?;
            pivots.push(super::pivots(
                &ing,
                &ips,
                &groups.accounts(g),
                std::slice::from_ref(&attackers),
                users_in_evidence,
            ));
        }
        bar.iter().for_each(|b| b.finish_and_clear());
    }
    let t = crate::timing::lap("pivots", t);
    let (findings, mut impact) = super::combine(results, pivots, &ctx, users_in_evidence);

    // The reports' events, in the total order, and the attacker's events as indexes into them.
    let mut events: Vec<Event> = shown.into_values().collect();
    accounting::sort_events(&mut events);
    let at: FxHashMap<Origin, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.origin, i))
        .collect();
    for u in impact.users.iter_mut() {
        let Some(origins) = footprints.remove(&u.user) else {
            continue;
        };
        for ((i, _, _), origin) in u.footprint.events.iter_mut().zip(origins) {
            if let Some(&j) = at.get(&origin) {
                *i = j;
            }
        }
    }
    ingested.events = events;
    crate::timing::lap("combine", t);
    Ok(Run {
        ingested,
        ips,
        findings,
        impact,
        groups,
    })
}
