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
/// Key hashes are computed in parallel; the sequential pass looks only at 64-bit hashes and
/// compares the real keys when two hashes meet, so a hash collision never drops a record. A
/// key seen again on a record whose time (to the second), user, operation or result differ is
/// not a duplicate: both are kept and counted as conflicts.
fn first_occurrences(reads: &[FileRead]) -> (Vec<Vec<bool>>, Vec<u64>) {
    let hashes: Vec<Vec<Option<u64>>> = reads
        .iter()
        .map(|r| r.events.par_iter().map(key_hash).collect())
        .collect();
    let total: usize = reads.iter().map(|r| r.events.len()).sum();
    let mut first_at: FxHashMap<u64, (u32, u32)> =
        FxHashMap::with_capacity_and_hasher(total, Default::default());
    // Records whose hash met a different key or different content: rare, compared exactly.
    let mut others: Vec<(u32, u32)> = Vec::new();
    let mut keep: Vec<Vec<bool>> = reads.iter().map(|r| vec![true; r.events.len()]).collect();
    let mut conflicts = vec![0u64; reads.len()];
    for (f, file_hashes) in hashes.iter().enumerate() {
        for (i, h) in file_hashes.iter().enumerate() {
            let Some(h) = *h else { continue };
            let here = (f as u32, i as u32);
            let event = |(f, i): (u32, u32)| &reads[f as usize].events[i as usize];
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

/// Builds the reports, removes duplicates, sorts the events and measures coverage.
pub fn account(
    files: Vec<EvidenceFile>,
    skipped: Vec<Skipped>,
    mut reads: Vec<FileRead>,
    archive_hashes: &HashMap<String, Result<String, String>>,
    opts: &IngestOptions,
) -> Ingested {
    let (keep, conflicts) = first_occurrences(&reads);
    let now = Utc::now();
    let mut kept_events: Vec<Vec<Event>> = Vec::with_capacity(reads.len());
    let mut rejects: Vec<Reject> = Vec::new();
    let mut rejects_total = 0u64;
    let mut spills = std::collections::BTreeMap::new();
    let mut reports = Vec::with_capacity(files.len());
    for (((file, read), keep), conflicts) in files
        .into_iter()
        .zip(reads.iter_mut())
        .zip(keep)
        .zip(conflicts)
    {
        // A file's events come in record order: a row is parsed if any of its events is kept,
        // a duplicate if all of them were seen before.
        let (mut parsed, mut duplicates) = (0u64, 0u64);
        let mut row: Option<((u32, u64), bool)> = None;
        for (e, k) in read.events.iter().zip(&keep) {
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
        let mut flags = keep.iter();
        read.events
            .retain(|_| flags.next().copied().unwrap_or(true));
        let users: FxHashSet<&str> = read.events.par_iter().map(|e| &*e.user).collect();
        let users = users.len() as u64;
        let first = read.events.par_iter().map(|e| e.time).min();
        let last = read.events.par_iter().map(|e| e.time).max();
        let kept = read.events.len() as u64;
        kept_events.push(std::mem::take(&mut read.events));
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
        let implausible = kept_events.last().map_or(0, |evs: &Vec<Event>| {
            evs.iter().filter(|e| !plausible(e.time, now)).count()
        });
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
            parsed,
            duplicates,
            conflicts,
            rejected,
            events: kept,
            first,
            last,
            users,
            warnings,
            error: read.error.take(),
        });
    }
    cite_raw_exports(&reads, &mut kept_events, &mut reports);
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
    Ingested {
        files: reports,
        skipped,
        events,
        rejects,
        rejects_total,
        spills,
        coverage,
    }
}

/// Events read back from a breachline `timeline.parquet` cite the raw exports they were first
/// read from: their `origin.file` indexes the read's `cited` list until here, and becomes the id
/// of that export's report: a file read in this run too, else a `cited` report added at the end.
fn cite_raw_exports(reads: &[FileRead], kept: &mut [Vec<Event>], reports: &mut Vec<FileReport>) {
    let mut ids: HashMap<String, crate::model::FileId> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.clone(), i as crate::model::FileId))
        .collect();
    for (read, events) in reads.iter().zip(kept.iter_mut()) {
        if read.cited.is_empty() {
            continue;
        }
        let map: Vec<crate::model::FileId> = read
            .cited
            .iter()
            .map(|path| {
                *ids.entry(path.clone()).or_insert_with(|| {
                    reports.push(FileReport::cited(path));
                    (reports.len() - 1) as crate::model::FileId
                })
            })
            .collect();
        for e in events.iter_mut() {
            if let Some(id) = map.get(e.origin.file as usize) {
                e.origin.file = *id;
            }
        }
    }
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

/// Time covered per source and per user; `events` must be sorted by time. Chunks of the sorted
/// events are measured in parallel and merged in order.
pub fn coverage(events: &[Event], gap: chrono::Duration) -> Coverage {
    let now = Utc::now();
    type Chunk<'a> = (
        FxHashMap<(&'a str, Source), Span>,
        Vec<Option<Span>>,
        Vec<Vec<Gap>>,
    );
    let chunks: Vec<Chunk> = events
        .par_chunks(64 * 1024)
        .map(|chunk| {
            let mut users: FxHashMap<(&str, Source), Span> = FxHashMap::default();
            let mut sources: Vec<Option<Span>> = vec![None; Source::ALL.len()];
            let mut gaps: Vec<Vec<Gap>> = vec![Vec::new(); Source::ALL.len()];
            for e in chunk.iter().filter(|e| plausible(e.time, now)) {
                users
                    .entry((&*e.user, e.source))
                    .and_modify(|s| s.push(e.time))
                    .or_insert_with(|| Span::new(e.time));
                let i = e.source as usize;
                match &mut sources[i] {
                    Some(s) => {
                        if e.time - s.last > gap {
                            gaps[i].push(Gap {
                                from: s.last,
                                to: e.time,
                                hours: (e.time - s.last).num_hours(),
                            });
                        }
                        s.push(e.time);
                    }
                    None => sources[i] = Some(Span::new(e.time)),
                }
            }
            (users, sources, gaps)
        })
        .collect();
    let mut per_user: FxHashMap<(&str, Source), Span> = FxHashMap::default();
    let mut per_source: Vec<Option<Span>> = vec![None; Source::ALL.len()];
    let mut source_gaps: Vec<Vec<Gap>> = vec![Vec::new(); Source::ALL.len()];
    for (users, sources, gaps) in chunks {
        for (key, span) in users {
            per_user
                .entry(key)
                .and_modify(|s| s.then(&span))
                .or_insert(span);
        }
        for (i, span) in sources.into_iter().enumerate() {
            let Some(span) = span else { continue };
            match &mut per_source[i] {
                Some(s) => {
                    if span.first - s.last > gap {
                        source_gaps[i].push(Gap {
                            from: s.last,
                            to: span.first,
                            hours: (span.first - s.last).num_hours(),
                        });
                    }
                    s.then(&span);
                }
                None => per_source[i] = Some(span),
            }
            source_gaps[i].extend(gaps[i].iter().cloned());
        }
    }
    let sources = Source::ALL
        .iter()
        .zip(per_source)
        .zip(source_gaps)
        .filter_map(|((source, span), gaps)| {
            span.map(|s| SourceCoverage {
                source: *source,
                events: s.events,
                first: s.first,
                last: s.last,
                gaps,
            })
        })
        .collect();
    let mut per_user: Vec<((&str, Source), Span)> = per_user.into_iter().collect();
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
            Some(u) if &*u.user == user => u.sources.push(entry),
            _ => users.push(UserCoverage {
                user: Text::from(user),
                sources: vec![entry],
            }),
        }
    }
    Coverage { sources, users }
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
