//! Accounting: per-file row counts (parsed, duplicate, rejected), cross-file deduplication, the
//! time each source covers with its gaps, and warnings about exports that look truncated.

use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use crate::ingest::discover::{Container, EvidenceFile, Skipped};
use crate::ingest::read::FileRead;
use crate::ingest::{IngestOptions, Ingested, Reject};
use crate::model::{Event, Source, Text};

/// Whether a file was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Recognised and read; its rows are accounted below.
    Read,
    /// Could not be read or recognised: see `error`.
    Error,
    /// Not read in this run: events read back from a breachline `timeline.parquet` cite it
    /// (the raw export they were first read from). No rows of its own.
    Cited,
}

/// What happened to one evidence file.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    pub path: String,
    pub status: FileStatus,
    /// The kind of evidence (`signin`, `audit`, `messagetrace`), when recognised. Sign-in files
    /// can hold non-interactive records too; each event's own source says which.
    pub source: Option<Source>,
    /// Stable variant id (`ual-purview-csv`...), when recognised.
    pub variant: Option<&'static str>,
    pub description: Option<&'static str>,
    pub encoding: Option<&'static str>,
    pub bytes: u64,
    /// SHA-256 of the file on disk (the archive, for a zip entry).
    pub sha256: Option<String>,
    /// Data rows (records) framed; every one is parsed, duplicate or rejected.
    pub rows: u64,
    /// Rows that became events kept in the timeline.
    pub parsed: u64,
    /// Rows whose record was already read from an earlier file or row.
    pub duplicates: u64,
    /// Parsed rows whose record id was seen before on a record with another time, user,
    /// operation or result: both are kept (a conflict, or one id shared by several records,
    /// as an MFA interrupt and the sign-in that completes it can share a request id).
    pub conflicts: u64,
    pub rejected: u64,
    /// Events kept (a message-trace summary row can hold several recipients).
    pub events: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub users: u64,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

/// The time each source covers, tenant-wide and per user.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    pub sources: Vec<SourceCoverage>,
    pub users: Vec<UserCoverage>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SourceCoverage {
    pub source: Source,
    pub events: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Stretches longer than the gap threshold with no event of this source: a missing day of
    /// evidence is not proof of no activity.
    pub gaps: Vec<Gap>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Gap {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub hours: i64,
}

/// `FROM to TO (N h)`, as the reports list gaps.
impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to {} ({} h)",
            crate::normalize::time::format(&self.from),
            crate::normalize::time::format(&self.to),
            self.hours
        )
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct UserCoverage {
    pub user: Text,
    pub sources: Vec<UserSourceCoverage>,
}

#[derive(Clone, Debug, Serialize)]
pub struct UserSourceCoverage {
    pub source: Source,
    pub events: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub longest_gap_hours: i64,
}

/// The earliest time taken as real: Entra ID and the unified audit log did not exist before.
pub const EARLIEST_PLAUSIBLE: &str = "2000-01-01T00:00:00Z";

/// Whether an event time is plausible: from [`EARLIEST_PLAUSIBLE`] to one day after now.
/// Implausible times are kept (they are evidence) but counted and warned about per file, and
/// left out of coverage and gaps, which they would stretch over decades.
pub fn plausible(t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let earliest = DateTime::parse_from_rfc3339(EARLIEST_PLAUSIBLE)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    t >= earliest && t <= now + chrono::Duration::days(1)
}

/// SHA-256 of every archive that entries were read from, by path.
pub fn archive_hashes(files: &[EvidenceFile]) -> HashMap<String, Result<String, String>> {
    let mut paths: Vec<&std::path::Path> = files
        .iter()
        .filter(|f| matches!(f.container, Container::Zip { .. }))
        .map(|f| f.path.as_path())
        .collect();
    paths.dedup();
    paths
        .into_par_iter()
        .map(|p| {
            (
                p.display().to_string(),
                crate::ingest::source::hash_file(p).map_err(|e| e.to_string()),
            )
        })
        .collect()
}

/// Identity of a record for deduplication across overlapping exports: the audit `Id`
/// (= portal RecordId = PowerShell Identity); the sign-in request id, per source; or message id,
/// recipient, second and historical-report event.
#[derive(PartialEq, Eq, Hash)]
enum RecordKey<'a> {
    Audit(&'a str),
    /// A directory audit's id; a risk record's id with its time and state (risky users and
    /// risk detections are updated in place, and each state is worth keeping).
    Directory(&'a str),
    Risk(&'a str, i64, Option<&'a str>),
    SignIn(Source, &'a str),
    Message(&'a str, &'a str, i64, Option<&'a str>),
}

fn record_key(e: &Event) -> Option<RecordKey<'_>> {
    match e.source {
        Source::Audit => e.record_id.as_deref().map(RecordKey::Audit),
        Source::Directory => e.record_id.as_deref().map(RecordKey::Directory),
        Source::Risk => e.record_id.as_deref().map(|id| {
            let version = e.attr("last_updated").or_else(|| e.attr("risk_state"));
            RecordKey::Risk(id, e.time.timestamp_millis(), version)
        }),
        Source::Signin | Source::Noninteractive => e
            .request_id
            .as_deref()
            .map(|id| RecordKey::SignIn(e.source, id)),
        Source::Messagetrace => Some(RecordKey::Message(
            e.attr("message_id")?,
            e.attr("recipient")?,
            e.time.timestamp(),
            e.attr("event"),
        )),
    }
}

fn key_hash(e: &Event) -> Option<u64> {
    use std::hash::{BuildHasher, BuildHasherDefault};
    record_key(e).map(|k| BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(k))
}

/// Which events to keep: the first occurrence of each record key in (file, record) order, and
/// per file how many kept events share their key with an earlier, different record.
/// `files[f]` is file `f`'s events in record order (a group's share of them, on the partitioned
/// path: records with one key and the same content have one actor, so they meet in its group).
/// Key hashes are computed in parallel; the sequential pass looks only at 64-bit hashes and
/// compares the real keys when two hashes meet, so a hash collision never drops a record. A
/// key seen again on a record whose time (to the second), user, operation or result differ is
/// not a duplicate: both are kept and counted as conflicts.
pub fn first_occurrences(files: &[&[Event]]) -> (Vec<Vec<bool>>, Vec<u64>) {
    let hashes: Vec<Vec<Option<u64>>> = files
        .iter()
        .map(|events| events.par_iter().map(key_hash).collect())
        .collect();
    let total: usize = files.iter().map(|events| events.len()).sum();
    let mut first_at: FxHashMap<u64, (u32, u32)> =
        FxHashMap::with_capacity_and_hasher(total, Default::default());
    // Records whose hash met a different key or different content: rare, compared exactly.
    let mut others: Vec<(u32, u32)> = Vec::new();
    let mut keep: Vec<Vec<bool>> = files
        .iter()
        .map(|events| vec![true; events.len()])
        .collect();
    let mut conflicts = vec![0u64; files.len()];
    for (f, file_hashes) in hashes.iter().enumerate() {
        for (i, h) in file_hashes.iter().enumerate() {
            let Some(h) = *h else { continue };
            let here = (f as u32, i as u32);
            let event = |(f, i): (u32, u32)| &files[f as usize][i as usize];
            match first_at.entry(h) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(here);
                }
                std::collections::hash_map::Entry::Occupied(slot) => {
                    let e = event(here);
                    let key = record_key(e);
                    // Earlier records with this key: a duplicate if one has the same content.
                    let (mut seen, mut duplicate) = (false, false);
                    for at in std::iter::once(*slot.get()).chain(others.iter().copied()) {
                        if record_key(event(at)) == key {
                            seen = true;
                            if same_content(event(at), e) {
                                duplicate = true;
                                break;
                            }
                        }
                    }
                    if duplicate {
                        keep[f][i] = false;
                    } else {
                        if seen {
                            conflicts[f] += 1;
                        }
                        others.push(here);
                    }
                }
            }
        }
    }
    (keep, conflicts)
}

/// Whether two events with one record key are the same record: the same time to the second
/// (exports differ in fractional digits), user, operation and result.
fn same_content(a: &Event, b: &Event) -> bool {
    a.time.timestamp() == b.time.timestamp()
        && a.user == b.user
        && crate::model::operation_eq(&a.operation, &b.operation)
        && a.outcome == b.outcome
        && a.error_code == b.error_code
}

/// What a file's events add up to once duplicates are out: rows parsed (at least one event
/// kept) and duplicate (every event seen before), records sharing an id with a different one,
/// events kept, their distinct users, first and last times, and implausible times. Sums over
/// groups of accounts, as each event counts in its actor's group.
#[derive(Clone, Debug, Default)]
pub struct FileStats {
    pub parsed: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    pub events: u64,
    pub users: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub implausible: u64,
}

impl FileStats {
    /// Of one file's events in record order, `keep[i]` saying whether `events[i]` is kept; only
    /// those `counts` accepts (a group's own).
    pub fn of(
        events: &[Event],
        keep: &[bool],
        conflicts: u64,
        counts: impl Fn(&Event) -> bool + Sync,
        now: DateTime<Utc>,
    ) -> FileStats {
        // A file's events come in record order: a row is parsed if any of its events is kept,
        // a duplicate if all of them were seen before.
        let (mut parsed, mut duplicates) = (0u64, 0u64);
        let mut row: Option<((u32, u64), bool)> = None;
        for (e, k) in events.iter().zip(keep).filter(|(e, _)| counts(e)) {
            let at = (e.origin.file, e.origin.record);
            if row.is_none_or(|(r, _)| r != at) {
                match row {
                    Some((_, true)) => parsed += 1,
                    Some((_, false)) => duplicates += 1,
                    None => {}
                }
                row = Some((at, false));
            }
            if *k {
                row = row.map(|(r, _)| (r, true));
            }
        }
        match row {
            Some((_, true)) => parsed += 1,
            Some((_, false)) => duplicates += 1,
            None => {}
        }
        let kept = || {
            events
                .par_iter()
                .zip(keep.par_iter())
                .filter(|(e, k)| **k && counts(e))
                .map(|(e, _)| e)
        };
        let users: FxHashSet<&str> = kept().map(|e| &*e.user).collect();
        FileStats {
            parsed,
            duplicates,
            conflicts,
            events: kept().count() as u64,
            users: users.len() as u64,
            first: kept().map(|e| e.time).min(),
            last: kept().map(|e| e.time).max(),
            implausible: kept().filter(|e| !plausible(e.time, now)).count() as u64,
        }
    }

    /// Adds another group's share of the same file.
    pub fn add(&mut self, other: &FileStats) {
        self.parsed += other.parsed;
        self.duplicates += other.duplicates;
        self.conflicts += other.conflicts;
        self.events += other.events;
        self.users += other.users;
        self.first = self.first.into_iter().chain(other.first).min();
        self.last = self.last.into_iter().chain(other.last).max();
        self.implausible += other.implausible;
    }
}

/// Everything read, before accounting: the files found, what was skipped, each file's read,
/// and the archives' hashes.
pub struct ReadAll {
    pub files: Vec<EvidenceFile>,
    pub skipped: Vec<Skipped>,
    pub reads: Vec<FileRead>,
    pub archive_hashes: HashMap<String, Result<String, String>>,
}

/// Builds the reports, removes duplicates, sorts the events and measures coverage.
pub fn account(all: ReadAll, opts: &IngestOptions) -> Ingested {
    let ReadAll {
        files,
        skipped,
        mut reads,
        archive_hashes,
    } = all;
    let (keep, conflicts) = {
        let lists: Vec<&[Event]> = reads.iter().map(|r| r.events.as_slice()).collect();
        first_occurrences(&lists)
    };
    let now = Utc::now();
    let mut stats = Vec::with_capacity(reads.len());
    let mut kept_events: Vec<Vec<Event>> = Vec::with_capacity(reads.len());
    for ((read, keep), conflicts) in reads.iter_mut().zip(keep).zip(conflicts) {
        stats.push(FileStats::of(&read.events, &keep, conflicts, |_| true, now));
        let mut flags = keep.iter();
        read.events
            .retain(|_| flags.next().copied().unwrap_or(true));
        kept_events.push(std::mem::take(&mut read.events));
    }
    let paths: Vec<String> = files.iter().map(|f| f.display.clone()).collect();
    let (maps, cited) = cite_maps(&reads, &paths);
    for (map, events) in maps.iter().zip(kept_events.iter_mut()) {
        if map.is_empty() {
            continue;
        }
        for e in events.iter_mut() {
            if let Some(id) = map.get(e.origin.file as usize) {
                e.origin.file = *id;
            }
        }
    }
    let t0 = std::time::Instant::now();
    let mut events = concat_largest_first(kept_events);
    sort_events(&mut events);
    let t1 = std::time::Instant::now();
    let coverage = coverage(&events, opts.gap);
    if crate::timing::enabled() {
        eprintln!(
            "timing: concat+sort {:.2?}, coverage {:.2?}",
            t1 - t0,
            t1.elapsed()
        );
    }
    let span = EventSpan::of(&events);
    let mut ing = reports(
        ReadAll {
            files,
            skipped,
            reads,
            archive_hashes,
        },
        stats,
        &cited,
        coverage,
        span,
    );
    ing.events = events;
    ing
}

/// How many events there are and the earliest and latest time among them (what the reports
/// say of the whole evidence, whether or not the events are held in memory).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSpan {
    pub events: usize,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

impl EventSpan {
    /// Of events sorted by time.
    pub fn of(events: &[Event]) -> EventSpan {
        EventSpan::of_sorted(events.iter().map(|e| e.time))
    }

    /// Of times in order.
    pub fn of_sorted(times: impl Iterator<Item = DateTime<Utc>>) -> EventSpan {
        times.fold(EventSpan::default(), |s, t| EventSpan {
            events: s.events + 1,
            first: s.first.or(Some(t)),
            last: Some(t),
        })
    }

    /// Adds another group's events (counted once each).
    pub fn add(&mut self, other: &EventSpan) {
        self.events += other.events;
        self.first = self.first.into_iter().chain(other.first).min();
        self.last = self.last.into_iter().chain(other.last).max();
    }
}

/// The ingest result without events: every file's report from its read and the stats of its
/// events, the cited exports' reports after them, and the coverage measured.
pub fn reports(
    all: ReadAll,
    stats: Vec<FileStats>,
    cited: &[String],
    coverage: Coverage,
    span: EventSpan,
) -> Ingested {
    let ReadAll {
        files,
        skipped,
        mut reads,
        archive_hashes,
    } = all;
    let mut rejects: Vec<Reject> = Vec::new();
    let mut rejects_total = 0u64;
    let mut spills = std::collections::BTreeMap::new();
    let mut reports = Vec::with_capacity(files.len() + cited.len());
    for ((file, read), stats) in files.into_iter().zip(reads.iter_mut()).zip(stats) {
        let rejected = read.rejected.max(read.rejects.len() as u64);
        rejects_total += rejected;
        if let Some(spill) = read.spill.take() {
            spills.insert(reports.len() as crate::model::FileId, spill);
        }
        let sha256 = match &file.container {
            Container::Zip { .. } => archive_hashes
                .get(&file.path.display().to_string())
                .and_then(|h| h.as_ref().ok().cloned()),
            // A file that cannot be decoded (a corrupt archive) is still evidence: hash its bytes.
            Container::Unreadable { .. } => crate::ingest::source::hash_file(&file.path).ok(),
            _ => read.sha256.take(),
        };
        let variant = read.variant;
        let mut warnings = std::mem::take(&mut read.warnings);
        if let Some(note) = &file.note {
            warnings.insert(0, note.clone());
        }
        let implausible = stats.implausible;
        if implausible > 0 {
            warnings.push(format!(
                "{implausible} events have implausible times (before {} or more than a day after the run): kept in the timeline, left out of coverage and gaps; check the export's date format and time zone",
                &EARLIEST_PLAUSIBLE[..10]
            ));
        }
        if let Some(v) = variant {
            for (cap, why) in v.row_caps() {
                if read.rows == *cap {
                    warnings.insert(0, format!("probably truncated: exactly {cap} rows, and {why}; export the rest of the time range"));
                }
            }
        }
        let conflicts = stats.conflicts;
        if conflicts > 0 {
            warnings.push(format!(
                "{conflicts} record{} share{} an id with an earlier record whose time, user, operation or result differ; both were kept",
                if conflicts == 1 { "" } else { "s" },
                if conflicts == 1 { "s" } else { "" },
            ));
        }
        rejects.append(&mut read.rejects);
        reports.push(FileReport {
            path: file.display,
            status: if read.error.is_some() {
                FileStatus::Error
            } else {
                FileStatus::Read
            },
            source: variant.and_then(|v| v.source()),
            variant: variant.map(|v| v.id()),
            description: variant.map(|v| v.describe()),
            encoding: read.encoding.map(|e| e.label()),
            bytes: file.size,
            sha256,
            rows: read.rows,
            parsed: stats.parsed,
            duplicates: stats.duplicates,
            conflicts,
            rejected,
            events: stats.events,
            first: stats.first,
            last: stats.last,
            users: stats.users,
            warnings,
            error: read.error.take(),
        });
    }
    reports.extend(cited.iter().map(|p| FileReport::cited(p)));
    Ingested {
        files: reports,
        skipped,
        events: Vec::new(),
        span,
        rejects,
        rejects_total,
        spills,
        coverage,
    }
}

/// Events read back from a breachline `timeline.parquet` cite the raw exports they were first
/// read from: their `origin.file` indexes the read's `cited` list until here, and becomes the id
/// of that export's report: a file read in this run too (`paths`, the reports' paths in order),
/// else a `cited` report added after them. Per read, the map from its cited list to file ids
/// (empty for a raw export), and the paths of the cited reports to add.
pub fn cite_maps(
    reads: &[FileRead],
    paths: &[String],
) -> (Vec<Vec<crate::model::FileId>>, Vec<String>) {
    let mut ids: HashMap<String, crate::model::FileId> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), i as crate::model::FileId))
        .collect();
    let mut added = Vec::new();
    let maps = reads
        .iter()
        .map(|read| {
            read.cited
                .iter()
                .map(|path| {
                    *ids.entry(path.clone()).or_insert_with(|| {
                        added.push(path.clone());
                        (paths.len() + added.len() - 1) as crate::model::FileId
                    })
                })
                .collect()
        })
        .collect();
    (maps, added)
}

impl FileReport {
    /// A raw export that events read back from a `timeline.parquet` cite.
    pub fn cited(path: &str) -> FileReport {
        FileReport {
            path: path.to_string(),
            status: FileStatus::Cited,
            source: None,
            variant: None,
            description: None,
            encoding: None,
            bytes: 0,
            sha256: None,
            rows: 0,
            parsed: 0,
            duplicates: 0,
            conflicts: 0,
            rejected: 0,
            events: 0,
            first: None,
            last: None,
            users: 0,
            warnings: vec![
                "not read in this run: events read back from a breachline timeline.parquet cite it"
                    .into(),
            ],
            error: None,
        }
    }
}

/// Sorts events by (time, origin), a total order. Events are large, so the sort runs on small
/// keys and the events are then moved into place once each.
pub fn sort_events(events: &mut [Event]) {
    let mut keys: Vec<(DateTime<Utc>, crate::model::Origin, usize)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.time, e.origin, i))
        .collect();
    keys.par_sort_unstable();
    // keys[k].2 is the index of the event that belongs at position k: follow each cycle.
    let mut placed = vec![false; events.len()];
    for start in 0..events.len() {
        if placed[start] {
            continue;
        }
        let mut k = start;
        loop {
            placed[k] = true;
            let from = keys[k].2;
            if from == start {
                break;
            }
            events.swap(k, from);
            k = from;
        }
    }
}

/// Joins the per-file event lists, reusing the largest one's allocation so a single big export
/// is never held twice (the order does not matter: the caller sorts).
fn concat_largest_first(mut lists: Vec<Vec<Event>>) -> Vec<Event> {
    let Some(largest) = (0..lists.len()).max_by_key(|i| lists[*i].len()) else {
        return Vec::new();
    };
    let mut all = std::mem::take(&mut lists[largest]);
    all.reserve_exact(lists.iter().map(Vec::len).sum());
    for mut list in lists {
        all.append(&mut list);
    }
    all
}

/// First, last, count and longest gap of a run of times, mergeable left to right.
#[derive(Clone, Copy)]
struct Span {
    events: u64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    longest_gap: chrono::Duration,
}

impl Span {
    fn new(t: DateTime<Utc>) -> Span {
        Span {
            events: 1,
            first: t,
            last: t,
            longest_gap: chrono::Duration::zero(),
        }
    }

    fn push(&mut self, t: DateTime<Utc>) {
        self.longest_gap = self.longest_gap.max(t - self.last);
        self.last = t;
        self.events += 1;
    }

    /// Appends a later span.
    fn then(&mut self, later: &Span) {
        self.longest_gap = self
            .longest_gap
            .max(later.longest_gap)
            .max(later.first - self.last);
        self.last = later.last;
        self.events += later.events;
    }
}

/// Time covered per source and per user; `events` must be sorted by time.
pub fn coverage(events: &[Event], gap: chrono::Duration) -> Coverage {
    let mut parts = CoverageParts::new(gap);
    parts.add(events, |_| true);
    parts.finish()
}

/// Coverage measured a group of accounts at a time (each event in its actor's group), then
/// finished: the same result as [`coverage`] over every event at once. A source's gaps are found
/// from the first and last time in each stretch of `gap` length: two times in one stretch are
/// never further apart than the threshold, so only the times either side of empty stretches
/// matter, and those are few.
/// Per stretch of time (its index from the epoch), the first and last time in it.
type Stretches = std::collections::BTreeMap<i64, (DateTime<Utc>, DateTime<Utc>)>;

/// Adds per-source event counts and stretches into others.
fn merge_sources(into: &mut [(u64, Stretches)], from: Vec<(u64, Stretches)>) {
    for ((total, all), (n, stretches)) in into.iter_mut().zip(from) {
        *total += n;
        for (k, (first, last)) in stretches {
            all.entry(k)
                .and_modify(|(a, b)| {
                    *a = (*a).min(first);
                    *b = (*b).max(last);
                })
                .or_insert((first, last));
        }
    }
}

#[derive(Clone)]
pub struct CoverageParts {
    gap: chrono::Duration,
    users: Vec<((Text, Source), Span)>,
    /// Per source: events, and per stretch of `gap` length (its index from the epoch), the
    /// first and last time in it.
    sources: Vec<(u64, Stretches)>,
}

impl CoverageParts {
    pub fn new(gap: chrono::Duration) -> CoverageParts {
        CoverageParts {
            gap,
            users: Vec::new(),
            sources: vec![(0, Stretches::new()); Source::ALL.len()],
        }
    }

    fn stretch(&self, t: DateTime<Utc>) -> i64 {
        let width = self.gap.num_nanoseconds().unwrap_or(i64::MAX).max(1);
        t.timestamp_nanos_opt().unwrap_or(0).div_euclid(width)
    }

    /// Measures the events `counts` accepts, sorted by time; their users are not in an earlier
    /// group. Chunks are measured in parallel and merged in order.
    pub fn add(&mut self, events: &[Event], counts: impl Fn(&Event) -> bool + Sync) {
        let now = Utc::now();
        type Chunk<'a> = (FxHashMap<(&'a str, Source), Span>, Vec<(u64, Stretches)>);
        let this = &*self;
        let chunks: Vec<Chunk> = events
            .par_chunks(64 * 1024)
            .map(|chunk| {
                let mut users: FxHashMap<(&str, Source), Span> = FxHashMap::default();
                let mut sources: Vec<(u64, Stretches)> =
                    vec![(0, Stretches::new()); Source::ALL.len()];
                for e in chunk.iter().filter(|e| plausible(e.time, now) && counts(e)) {
                    users
                        .entry((&*e.user, e.source))
                        .and_modify(|s| s.push(e.time))
                        .or_insert_with(|| Span::new(e.time));
                    let (n, stretches) = &mut sources[e.source as usize];
                    *n += 1;
                    stretches
                        .entry(this.stretch(e.time))
                        .and_modify(|(_, last)| *last = e.time)
                        .or_insert((e.time, e.time));
                }
                (users, sources)
            })
            .collect();
        let mut per_user: FxHashMap<(&str, Source), Span> = FxHashMap::default();
        for (users, sources) in chunks {
            for (key, span) in users {
                per_user
                    .entry(key)
                    .and_modify(|s| s.then(&span))
                    .or_insert(span);
            }
            merge_sources(&mut self.sources, sources);
        }
        self.users.extend(
            per_user
                .into_iter()
                .map(|((user, source), span)| ((Text::from(user), source), span)),
        );
    }

    /// Adds another group's measure (its users not in this one).
    pub fn merge(&mut self, other: CoverageParts) {
        self.users.extend(other.users);
        merge_sources(&mut self.sources, other.sources);
    }

    pub fn finish(self) -> Coverage {
        let gap = self.gap;
        let sources = Source::ALL
            .iter()
            .zip(self.sources)
            .filter(|(_, (n, _))| *n > 0)
            .filter_map(|(source, (events, stretches))| {
                let first = stretches.values().next()?.0;
                let mut last = first;
                let mut gaps = Vec::new();
                for (a, b) in stretches.into_values() {
                    if a - last > gap {
                        gaps.push(Gap {
                            from: last,
                            to: a,
                            hours: (a - last).num_hours(),
                        });
                    }
                    last = b;
                }
                Some(SourceCoverage {
                    source: *source,
                    events,
                    first,
                    last,
                    gaps,
                })
            })
            .collect();
        let mut per_user = self.users;
        per_user.sort_by(|a, b| a.0.cmp(&b.0));
        let mut users: Vec<UserCoverage> = Vec::new();
        for ((user, source), s) in per_user {
            let entry = UserSourceCoverage {
                source,
                events: s.events,
                first: s.first,
                last: s.last,
                longest_gap_hours: s.longest_gap.num_hours(),
            };
            match users.last_mut() {
                Some(u) if u.user == user => u.sources.push(entry),
                _ => users.push(UserCoverage {
                    user,
                    sources: vec![entry],
                }),
            }
        }
        Coverage { sources, users }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Source};

    #[test]
    fn sort_events_gives_time_then_origin_order() {
        let t = |s: &str| crate::normalize::time::parse_iso(s).unwrap();
        let times = [
            "2024-01-03T00:00:00Z",
            "2024-01-01T00:00:00Z",
            "2024-01-02T00:00:00Z",
            "2024-01-01T00:00:00Z",
            "2024-01-02T00:00:00Z",
        ];
        let mut events: Vec<Event> = times
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut e = Event::new(t(s), Source::Audit, "u".into(), "op".into());
                e.origin = Origin {
                    file: (i % 2) as u32,
                    record: i as u64,
                    part: 0,
                    line: 0,
                };
                e
            })
            .collect();
        sort_events(&mut events);
        let got: Vec<(String, u64)> = events
            .iter()
            .map(|e| (crate::normalize::time::format(&e.time), e.origin.record))
            .collect();
        assert_eq!(
            got,
            [
                ("2024-01-01T00:00:00Z".into(), 1),
                ("2024-01-01T00:00:00Z".into(), 3),
                ("2024-01-02T00:00:00Z".into(), 2),
                ("2024-01-02T00:00:00Z".into(), 4),
                ("2024-01-03T00:00:00Z".into(), 0),
            ]
        );
    }
}
