//! Argument groups shared by the subcommands that read evidence.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;

use crate::enrich::{self, Enrichment, GeoIp, GeoIpOptions, NetworkConfig};
use crate::ingest::{self, IngestOptions, Ingested};
use crate::normalize::time::{self, DateOrder};

/// Where the evidence is and how to read it.
#[derive(Args, Debug, Clone)]
pub struct EvidenceArgs {
    /// Evidence files or folders (walked recursively; .zip and .gz are read in place).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// How to read culture-formatted dates like 04/03/2024 in PowerShell and message-trace CSVs.
    #[arg(long, value_parser = super::values::date_order(), default_value_t = DateOrder::Auto)]
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

    #[command(flatten)]
    pub geo: GeoArgs,
}

/// Which GeoIP databases and network lists to use. Without any, the embedded country and ASN
/// databases and the built-in hosting / VPN list answer.
#[derive(Args, Debug, Clone, Default)]
pub struct GeoArgs {
    /// Your own city or country database (GeoLite2 / GeoIP2 City, DB-IP, IPinfo .mmdb); asked
    /// before the embedded one, and gives coordinates for impossible travel.
    #[arg(long, env = "BREACHLINE_GEOIP_CITY", value_name = "FILE")]
    pub geoip_city: Option<PathBuf>,

    /// Your own ASN database (GeoLite2 / GeoIP2 ASN, IPinfo .mmdb); asked before the embedded one.
    #[arg(long, env = "BREACHLINE_GEOIP_ASN", value_name = "FILE")]
    pub geoip_asn: Option<PathBuf>,

    /// Network config (TOML): trusted countries, corporate egress IPs / CIDRs, your own ASN
    /// lists (format in docs/enrichment.md).
    #[arg(long, env = "BREACHLINE_NETWORK_CONFIG", value_name = "FILE")]
    pub network_config: Option<PathBuf>,
}

impl GeoArgs {
    /// Opens the databases and lists; a missing or corrupt file is an error naming it.
    pub fn open(&self) -> anyhow::Result<(GeoIp, NetworkConfig)> {
        let geo = GeoIp::open(&GeoIpOptions {
            city: self.geoip_city.clone(),
            asn: self.geoip_asn.clone(),
        })?;
        let nets = match &self.network_config {
            Some(p) => NetworkConfig::load(p)?,
            None => NetworkConfig::builtin(),
        };
        Ok((geo, nets))
    }
}

impl EvidenceArgs {
    /// Ingests the evidence, writes the rejects file if asked, and says on stderr what needs
    /// attention.
    pub fn ingest(&self, quiet: bool) -> anyhow::Result<Ingested> {
        let ing = ingest::ingest(&self.paths, &self.options(quiet))?;
        self.write_rejects(&ing)?;
        Ok(ing)
    }

    /// How to ingest, as the options say.
    pub fn options(&self, quiet: bool) -> IngestOptions {
        IngestOptions {
            date_order: self.date_order,
            gap: chrono::Duration::hours(i64::from(self.gap_hours)),
            progress: !quiet,
            shard: None,
            spill: None,
        }
    }

    /// Writes `--rejects FILE`, if asked.
    pub fn write_rejects(&self, ing: &Ingested) -> anyhow::Result<()> {
        if let Some(path) = &self.rejects {
            let mut out = crate::report::outputs::Output::open(Some(path))
                .with_context(|| format!("cannot write {}", path.display()))?;
            crate::report::csv::write_all_rejects(&mut out, ing)
                .and_then(|_| out.finish())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }

    /// The files this group writes (`--rejects`), to check against the evidence.
    pub fn outputs(&self) -> Vec<crate::report::outputs::OutputPath<'_>> {
        self.rejects
            .iter()
            .map(|p| crate::report::outputs::OutputPath::File(p))
            .collect()
    }

    /// Ingests the evidence and looks up every distinct IP in it. The databases are opened
    /// first, so a wrong `--geoip-*` path fails before the evidence is read.
    pub fn load(&self, quiet: bool) -> anyhow::Result<(Ingested, Enrichment)> {
        let (geo, nets) = self.geo.open()?;
        let ing = self.ingest(quiet)?;
        let enrichment = enrich::enrich(&ing.events, &geo, &nets);
        Ok((ing, enrichment))
    }

    /// The exit code for a run that otherwise succeeded: with `--strict`, 3 when a row was
    /// rejected, a file was not read or read only in part, or something that might be evidence
    /// was skipped (an unreadable folder, a pipe inside a folder...).
    pub fn exit_code(&self, ing: &Ingested) -> u8 {
        let incomplete = ing.rejects_total > 0
            || !ing.rejects.is_empty()
            || ing.files.iter().any(|f| f.error.is_some())
            || ing
                .skipped
                .iter()
                .any(|s| s.kind == crate::ingest::discover::SkipKind::NotRead);
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
    if errors > 0 || ing.rejects_total > 0 {
        eprintln!(
            "breachline: {} of {} files not read, {} rows rejected (see inspect, or --rejects FILE)",
            errors,
            ing.files.len(),
            ing.rejects_total
        );
    }
    stderr_not_read(ing);
}

/// Lists on stderr what may hold evidence but was not read (an unreadable folder, a pipe in a
/// folder...), so it is never missed behind a table on stdout.
pub fn stderr_not_read(ing: &Ingested) {
    let not_read: Vec<&crate::ingest::Skipped> = ing
        .skipped
        .iter()
        .filter(|s| s.kind == crate::ingest::discover::SkipKind::NotRead)
        .collect();
    if !not_read.is_empty() {
        eprintln!(
            "breachline: {} paths that may hold evidence were not read (--strict fails on this):",
            not_read.len()
        );
        for s in not_read.iter().take(20) {
            eprintln!(
                "  {}: {}",
                crate::report::terminal::terminal_safe(&s.path),
                crate::report::terminal::terminal_safe(&s.reason)
            );
        }
        if not_read.len() > 20 {
            eprintln!("  ... and {} more (see inspect)", not_read.len() - 20);
        }
    }
}
