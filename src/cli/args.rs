//! Argument groups shared by the subcommands that read evidence.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;

use crate::ingest::{self, IngestOptions, Ingested};
use crate::normalize::time::{self, DateOrder};

/// Where the evidence is and how to read it.
#[derive(Args, Debug, Clone)]
pub struct EvidenceArgs {
    /// Evidence files or folders (walked recursively; .zip and .gz are read in place).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// How to read culture-formatted dates like 04/03/2024 in PowerShell and message-trace CSVs.
    #[arg(long, value_enum, default_value_t = DateOrder::Auto)]
    pub date_order: DateOrder,

    /// Report a stretch with no events of a source longer than this many hours as a gap.
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    pub gap_hours: u32,

    /// Write every rejected row (file, line, field, reason) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,

    /// Exit with code 3 when a file could not be read or a row was rejected.
    #[arg(long)]
    pub strict: bool,
}

impl EvidenceArgs {
    /// Ingests the evidence, writes the rejects file if asked, and says on stderr what needs
    /// attention.
    pub fn ingest(&self, quiet: bool) -> anyhow::Result<Ingested> {
        let opts = IngestOptions {
            date_order: self.date_order,
            gap: chrono::Duration::hours(i64::from(self.gap_hours)),
            progress: !quiet,
        };
        let ing = ingest::ingest(&self.paths, &opts)?;
        if let Some(path) = &self.rejects {
            let mut out = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            crate::report::csv::write_rejects(&mut out, &ing.rejects)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(ing)
    }

    /// The exit code for a run that otherwise succeeded.
    pub fn exit_code(&self, ing: &Ingested) -> u8 {
        let incomplete = !ing.rejects.is_empty() || ing.files.iter().any(|f| f.error.is_some());
        if self.strict && incomplete {
            super::exit::INCOMPLETE
        } else {
            super::exit::OK
        }
    }
}

/// Parses `--from` / `--to`: an ISO 8601 date or date-time, UTC unless it has an offset.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    time::parse_iso(s.trim()).ok_or_else(|| format!("expected an ISO 8601 date or time such as 2024-05-13 or 2024-05-13T14:00:00Z, found {s:?}"))
}

/// A one-line summary of problems for stderr, so a table on stdout is not the only place they show.
pub fn stderr_summary(ing: &Ingested) {
    let errors = ing.files.iter().filter(|f| f.error.is_some()).count();
    if errors > 0 || !ing.rejects.is_empty() {
        eprintln!(
            "breachline: {} of {} files not read, {} rows rejected (see inspect, or --rejects FILE)",
            errors,
            ing.files.len(),
            ing.rejects.len()
        );
    }
}
