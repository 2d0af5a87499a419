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

/// Identity of a record for deduplication across overlapping exports.
#[derive(Hash, PartialEq, Eq)]
enum RecordKey {
    /// Audit `Id` (= portal RecordId = PowerShell Identity).
    Audit(Text),
    /// Sign-in request id, per source.
    SignIn(Source, Text),
    /// Message id, recipient, second, and historical-report event.
    Message(Text, Text, i64, Option<Text>),
}

fn record_key(e: &Event) -> Option<RecordKey> {
    match e.source {
        Source::Audit => e.record_id.clone().map(RecordKey::Audit),
        Source::Signin | Source::Noninteractive => e
            .request_id
            .clone()
            .map(|id| RecordKey::SignIn(e.source, id)),
        Source::Messagetrace => {
            let id = e
                .attrs
                .iter()
                .find(|(k, _)| &**k == "message_id")
                .map(|(_, v)| v.clone())?;
            let recipient = e
                .attrs
                .iter()
                .find(|(k, _)| &**k == "recipient")
                .map(|(_, v)| v.clone())?;
            let event = e
                .attrs
                .iter()
                .find(|(k, _)| &**k == "event")
                .map(|(_, v)| v.clone());
            Some(RecordKey::Message(id, recipient, e.time.timestamp(), event))
        }
    }
}

/// Builds the reports, removes duplicates, sorts the events and measures coverage.
pub fn account(
    files: Vec<EvidenceFile>,
    skipped: Vec<Skipped>,
    reads: Vec<FileRead>,
    archive_hashes: &HashMap<String, Result<String, String>>,
    opts: &IngestOptions,
) -> Ingested {
    let total: usize = reads.iter().map(|r| r.events.len()).sum();
    let mut seen: FxHashSet<RecordKey> =
        FxHashSet::with_capacity_and_hasher(total, Default::default());
    let mut kept_events: Vec<Vec<Event>> = Vec::with_capacity(reads.len());
    let mut rejects: Vec<Reject> = Vec::new();
    let mut reports = Vec::with_capacity(files.len());
    for (file, mut read) in files.into_iter().zip(reads) {
        // A file's events come in record order, so rows are counted without a set: a row is
        // parsed if any of its events is kept, a duplicate if all of them were seen before.
        let (mut parsed, mut duplicates) = (0u64, 0u64);
        let mut row: Option<(u64, bool)> = None;
        let mut users: FxHashSet<Text> = FxHashSet::default();
        let (mut first, mut last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
        read.events.retain(|e| {
            if row.is_none_or(|(r, _)| r != e.origin.record) {
                match row {
                    Some((_, true)) => parsed += 1,
                    Some((_, false)) => duplicates += 1,
                    None => {}
                }
                row = Some((e.origin.record, false));
            }
            if let Some(key) = record_key(e) {
                if !seen.insert(key) {
                    return false;
                }
            }
            row = row.map(|(r, _)| (r, true));
            if !users.contains(&e.user) {
                users.insert(e.user.clone());
            }
            first = Some(first.map_or(e.time, |f| f.min(e.time)));
            last = Some(last.map_or(e.time, |l| l.max(e.time)));
            true
        });
        match row {
            Some((_, true)) => parsed += 1,
            Some((_, false)) => duplicates += 1,
            None => {}
        }
        let kept = read.events.len() as u64;
        kept_events.push(std::mem::take(&mut read.events));
        let rejected = read.rejects.len() as u64;
        let sha256 = match &file.container {
            Container::Zip { .. } => archive_hashes
                .get(&file.path.display().to_string())
                .and_then(|h| h.as_ref().ok().cloned()),
            // A file that cannot be decoded (a corrupt archive) is still evidence: hash its bytes.
            Container::Unreadable { .. } => crate::ingest::source::hash_file(&file.path).ok(),
            _ => read.sha256,
        };
        let variant = read.variant;
        let mut warnings = read.warnings;
        if let Some(v) = variant {
            for (cap, why) in v.row_caps() {
                if read.rows == *cap {
                    warnings.insert(0, format!("probably truncated: exactly {cap} rows, and {why}; export the rest of the time range"));
                }
            }
        }
        rejects.extend(read.rejects);
        reports.push(FileReport {
            path: file.display,
            status: if read.error.is_some() {
                FileStatus::Error
            } else {
                FileStatus::Read
            },
            source: variant.map(|v| v.family()),
            variant: variant.map(|v| v.id()),
            description: variant.map(|v| v.describe()),
            encoding: read.encoding.map(|e| e.label()),
            bytes: file.size,
            sha256,
            rows: read.rows,
            parsed,
            duplicates,
            rejected,
            events: kept,
            first,
            last,
            users: users.len() as u64,
            warnings,
            error: read.error,
        });
    }
    let t0 = std::time::Instant::now();
    let mut events = concat_largest_first(kept_events);
    sort_events(&mut events);
    let t1 = std::time::Instant::now();
    let coverage = coverage(&events, opts.gap);
    if std::env::var_os("BREACHLINE_TIMING").is_some() {
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
        coverage,
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

/// Time covered per source and per user; `events` must be sorted by time.
pub fn coverage(events: &[Event], gap: chrono::Duration) -> Coverage {
    let mut sources = Vec::new();
    for source in Source::ALL {
        let times: Vec<DateTime<Utc>> = events
            .iter()
            .filter(|e| e.source == source)
            .map(|e| e.time)
            .collect();
        let (Some(first), Some(last)) = (times.first(), times.last()) else {
            continue;
        };
        let gaps = times
            .windows(2)
            .filter(|w| w[1] - w[0] > gap)
            .map(|w| Gap {
                from: w[0],
                to: w[1],
                hours: (w[1] - w[0]).num_hours(),
            })
            .collect();
        sources.push(SourceCoverage {
            source,
            events: times.len() as u64,
            first: *first,
            last: *last,
            gaps,
        });
    }
    let mut per_user: FxHashMap<
        (Text, Source),
        (u64, DateTime<Utc>, DateTime<Utc>, chrono::Duration),
    > = FxHashMap::default();
    for e in events {
        per_user
            .entry((e.user.clone(), e.source))
            .and_modify(|(n, _, last, longest)| {
                *longest = (*longest).max(e.time - *last);
                *last = e.time;
                *n += 1;
            })
            .or_insert((1, e.time, e.time, chrono::Duration::zero()));
    }
    let mut per_user: Vec<_> = per_user.into_iter().collect();
    per_user.sort_by(|a, b| a.0.cmp(&b.0));
    let mut users: Vec<UserCoverage> = Vec::new();
    for ((user, source), (n, first, last, longest)) in per_user {
        let entry = UserSourceCoverage {
            source,
            events: n,
            first,
            last,
            longest_gap_hours: longest.num_hours(),
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
