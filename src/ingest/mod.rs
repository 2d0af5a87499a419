//! Ingest: find the evidence files, read every export variant into normalized events, and
//! account for every row: parsed, duplicate (the same record in two overlapping exports), or
//! rejected with file, line and reason.

pub mod accounting;
pub mod detect;
pub mod discover;
pub mod framing;
pub mod read;
pub mod source;
pub mod spill;

use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use rustc_hash::FxHashSet;

use crate::model::{Event, FileId, Source};
use crate::normalize::time::DateOrder;
use crate::normalize::RowError;
pub use accounting::{Coverage, FileReport, FileStatus};
pub use discover::Skipped;

/// Errors that stop ingest as a whole (a path that does not exist, an unreadable archive).
/// Problems inside a file never stop it: they become rejects and file warnings.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// How to ingest.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    pub date_order: DateOrder,
    /// A stretch longer than this with no events of a source is reported as a gap.
    pub gap: chrono::Duration,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// `(i, n)`: read only the files whose place in the walk's order is `i` modulo `n`, and
    /// list what was skipped only when `i` is 0 (`normalize --shard`, docs/stages.md).
    pub shard: Option<(usize, usize)>,
    /// Events go to these spill files as they are decoded instead of into memory
    /// (`analyze --memory-budget`; `Ingested::events` is then empty).
    pub spill: Option<std::sync::Arc<spill::Spill>>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            date_order: DateOrder::Auto,
            gap: chrono::Duration::hours(24),
            progress: false,
            shard: None,
            spill: None,
        }
    }
}

/// A row that could not be used, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reject {
    #[serde(skip)]
    pub file: FileId,
    pub path: String,
    /// 1-based line in the decoded text where the row starts.
    pub line: u64,
    /// 1-based position of the row among the file's records.
    pub record: u64,
    /// The column or JSON field at fault, where one is.
    pub field: Option<String>,
    pub reason: String,
}

impl Reject {
    pub fn new(file: FileId, path: &str, record: u64, line: u64, err: RowError) -> Reject {
        Reject {
            file,
            path: path.to_string(),
            line,
            record,
            field: err.field,
            reason: err.reason,
        }
    }
}

/// Everything ingest produced.
#[derive(Debug)]
pub struct Ingested {
    pub files: Vec<FileReport>,
    pub skipped: Vec<Skipped>,
    /// Deduplicated events sorted by (time, file, record, part): a total order. On the
    /// partitioned path (`analyze --memory-budget`) only the flagged accounts' events are here.
    pub events: Vec<Event>,
    /// How many events there are in all, first and last times.
    pub span: accounting::EventSpan,
    /// Rejected rows, at most [`read::REJECTS_KEPT`] per file (in file, then record order);
    /// `rejects_total` counts them all and the rest are in `spills`.
    pub rejects: Vec<Reject>,
    /// Every rejected row of every file.
    pub rejects_total: u64,
    /// Per file id, the rejects beyond the first [`read::REJECTS_KEPT`], as rejects CSV rows in
    /// a temporary file (see `report::csv::write_all_rejects`).
    pub spills: std::collections::BTreeMap<FileId, std::fs::File>,
    pub coverage: Coverage,
}

/// What the evidence read covers, stated before any verdict: verdicts rest only on what was
/// read, so files not read and kinds of evidence missing are said first, never an all-clear
/// from nothing.
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceRead {
    pub files: usize,
    pub files_read: usize,
    pub files_not_read: Vec<NotRead>,
    pub rows: u64,
    pub events: usize,
    /// Sources with at least one event, and those with none.
    pub sources_read: Vec<Source>,
    pub sources_missing: Vec<Source>,
}

/// A file that was not read, and why.
#[derive(Clone, Debug, Serialize)]
pub struct NotRead {
    pub path: String,
    pub reason: String,
}

impl EvidenceRead {
    /// True when no evidence row became an event: nothing can be concluded.
    pub fn nothing(&self) -> bool {
        self.events == 0
    }

    /// One line for a terminal, or `None` when every file was read.
    pub fn warning(&self) -> Option<String> {
        if self.nothing() {
            return Some(format!(
                "No evidence was read ({} file{}, {} not read): no verdict is possible.",
                self.files,
                if self.files == 1 { "" } else { "s" },
                self.files_not_read.len()
            ));
        }
        if self.files_not_read.is_empty() {
            return None;
        }
        let names: Vec<String> = self
            .files_not_read
            .iter()
            .take(5)
            .map(|n| format!("{} ({})", n.path, n.reason))
            .collect();
        let more = self.files_not_read.len().saturating_sub(names.len());
        Some(format!(
            "{} of {} files not read: verdicts cover only the {} that were. Not read: {}{}",
            self.files_not_read.len(),
            self.files,
            self.files_read,
            names.join("; "),
            if more > 0 {
                format!("; and {more} more (see ingest.json or inspect)")
            } else {
                String::new()
            }
        ))
    }
}

impl Ingested {
    pub fn evidence_read(&self) -> EvidenceRead {
        let read: FxHashSet<Source> = self.coverage.sources.iter().map(|s| s.source).collect();
        EvidenceRead::of(
            self.files.iter().map(|f| FileRead {
                path: &f.path,
                rows: f.rows,
                error: f.error.as_deref(),
                cited: f.status == FileStatus::Cited,
            }),
            &read,
            self.span.events,
        )
    }
}

/// What [`EvidenceRead`] needs of one file's report (`ingest.json`).
pub struct FileRead<'a> {
    pub path: &'a str,
    pub rows: u64,
    /// Why the file was not read, if it was not.
    pub error: Option<&'a str>,
    /// Only cited by events read back from a `timeline.parquet`, not read here.
    pub cited: bool,
}

impl EvidenceRead {
    /// From the files' reports, the sources with events and the number of events.
    pub fn of<'a>(
        reports: impl Iterator<Item = FileRead<'a>>,
        read: &FxHashSet<Source>,
        events: usize,
    ) -> EvidenceRead {
        let mut files = 0;
        let mut rows = 0;
        let mut not_read = Vec::new();
        for f in reports {
            // Raw exports that events read back from a timeline.parquet cite were not read
            // here.
            files += usize::from(!f.cited);
            rows += f.rows;
            if let Some(e) = f.error {
                not_read.push(NotRead {
                    path: f.path.to_string(),
                    reason: crate::normalize::truncate(e, 160),
                });
            }
        }
        EvidenceRead {
            files,
            files_read: files - not_read.len(),
            files_not_read: not_read,
            rows,
            events,
            sources_read: Source::ALL
                .into_iter()
                .filter(|s| read.contains(s))
                .collect(),
            sources_missing: Source::ALL
                .into_iter()
                .filter(|s| !read.contains(s) && *s != Source::Noninteractive)
                .collect(),
        }
    }
}

/// Reads every evidence file under `paths`.
pub fn ingest(paths: &[PathBuf], opts: &IngestOptions) -> Result<Ingested, IngestError> {
    let started = std::time::Instant::now();
    let all = read_all(paths, opts)?;
    let read_done = started.elapsed();
    let ingested = accounting::account(all, opts);
    if crate::timing::enabled() {
        eprintln!(
            "timing: read+decode {:.2?}, accounting {:.2?}",
            read_done,
            started.elapsed() - read_done
        );
    }
    Ok(ingested)
}

/// What the events of the evidence under `paths` would take in memory, roughly: twice the
/// bytes of the exports (held in memory, events take 0.7 to 1.4 times the export they came from,
/// BENCHMARKS.md), ten times more for compressed ones (audit CSV and JSON compress about ten to
/// one).
pub fn estimate(paths: &[PathBuf]) -> Result<u64, IngestError> {
    let (files, _) = discover::discover(paths)?;
    Ok(files
        .iter()
        .map(|f| {
            let unpacked = match f.container {
                discover::Container::Zip { .. } | discover::Container::Gzip => 10,
                _ => 1,
            };
            f.size.saturating_mul(2 * unpacked)
        })
        .sum())
}

/// Finds and reads every evidence file under `paths`, before accounting (with a spill in
/// `opts`, the events go to its files).
pub fn read_all(
    paths: &[PathBuf],
    opts: &IngestOptions,
) -> Result<accounting::ReadAll, IngestError> {
    let (mut files, mut skipped) = discover::discover(paths)?;
    if let Some((i, n)) = opts.shard {
        let n = n.max(1);
        let mut place = 0;
        files.retain(|_| {
            place += 1;
            (place - 1) % n == i
        });
        if i != 0 {
            skipped.clear();
        }
    }
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = progress_bar(opts.progress, total);
    let archive_hashes = accounting::archive_hashes(&files);
    let reads: Vec<read::FileRead> = files
        .par_iter()
        .enumerate()
        .map(|(i, f)| {
            let mut read = read::read_file(i as FileId, f, opts, bar.clone());
            // Events a file hands over whole (a breachline Parquet file) spill here.
            if let Some(spill) = opts.spill.as_ref().filter(|_| !read.events.is_empty()) {
                spill.write(i as FileId, &read.events, &[]);
                read.events = Vec::new();
            }
            read
        })
        .collect();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    Ok(accounting::ReadAll {
        files,
        skipped,
        reads,
        archive_hashes,
    })
}

fn progress_bar(wanted: bool, total: u64) -> Option<indicatif::ProgressBar> {
    crate::report::terminal::progress_bar(
        wanted,
        total,
        "{spinner} reading evidence {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
}
