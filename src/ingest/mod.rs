//! Ingest: find the evidence files, read every export variant into normalized events, and
//! account for every row: parsed, duplicate (the same record in two overlapping exports), or
//! rejected with file, line and reason.

pub mod accounting;
pub mod detect;
pub mod discover;
pub mod framing;
pub mod read;
pub mod source;

use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use crate::model::{Event, FileId};
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
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            date_order: DateOrder::Auto,
            gap: chrono::Duration::hours(24),
            progress: false,
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
    /// Deduplicated events sorted by (time, file, record, part): a total order.
    pub events: Vec<Event>,
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

/// Reads every evidence file under `paths`.
pub fn ingest(paths: &[PathBuf], opts: &IngestOptions) -> Result<Ingested, IngestError> {
    let (files, skipped) = discover::discover(paths)?;
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = progress_bar(opts.progress, total);
    let archive_hashes = accounting::archive_hashes(&files);
    let started = std::time::Instant::now();
    let reads: Vec<read::FileRead> = files
        .par_iter()
        .enumerate()
        .map(|(i, f)| read::read_file(i as FileId, f, opts, bar.clone()))
        .collect();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let read_done = started.elapsed();
    let ingested = accounting::account(files, skipped, reads, &archive_hashes, opts);
    if std::env::var_os("BREACHLINE_TIMING").is_some() {
        eprintln!(
            "timing: read+decode {:.2?}, accounting {:.2?}",
            read_done,
            started.elapsed() - read_done
        );
    }
    Ok(ingested)
}

fn progress_bar(wanted: bool, total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} reading evidence {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
