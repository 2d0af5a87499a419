//! Converts the `@ip-location-db/asn` CSV files (RouteViews + NRO + DB-IP, CC-BY-4.0) into the
//! `asn.mmdb` that breachline embeds as its default ASN database.
//!
//! The CSV rows are inclusive ranges `start,end,asn,organization`. Each becomes the CIDRs that
//! cover it, holding a GeoLite2-ASN-shaped record (`autonomous_system_number`,
//! `autonomous_system_organization`) so the reader treats it like a MaxMind ASN database.
//!
//! Run it (see `data/geoip/README.md` for the whole refresh):
//!
//!     cargo run --release --example build-asn-mmdb -- asn-ipv4.csv asn-ipv6.csv \
//!         --version 2.3.2026061719 --out data/geoip/asn.mmdb
//!
//! The output is deterministic: the build date written into the database is the data's own
//! date (from the package version), not the time of the conversion.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use mmdb_writer::{Value, Writer};

fn main() -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut version: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--version" => version = args.next(),
            _ => inputs.push(PathBuf::from(a)),
        }
    }
    let (Some(out), Some(version)) = (out, version) else {
        bail!("usage: build-asn-mmdb CSV... --version PACKAGE_VERSION --out FILE.mmdb");
    };
    if inputs.is_empty() {
        bail!("no CSV file given (asn-ipv4.csv, asn-ipv6.csv)");
    }
    let build_epoch = epoch_of_version(&version)?;
    let description = format!(
        "ASN data from @ip-location-db/asn {version} (RouteViews, NRO, DB-IP; CC-BY-4.0), converted by breachline"
    );
    let mut writer = Writer::builder("ip-location-db-ASN")
        .description(&[("en", description.as_str())])
        .build_epoch(build_epoch)
        .build();

    // Organisations repeat across thousands of ranges; building each value once keeps the
    // writer's value pool small.
    let mut values: BTreeMap<(u32, String), Value> = BTreeMap::new();
    let mut rows = 0usize;
    let mut aliased = 0usize;
    for path in &inputs {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (i, rec) in reader.records().enumerate() {
            let line = i + 1;
            let rec = rec.with_context(|| format!("{}:{line}: not a CSV row", path.display()))?;
            let field = |n: usize, what: &str| {
                rec.get(n)
                    .with_context(|| format!("{}:{line}: no {what} column", path.display()))
            };
            let start: IpAddr = field(0, "range start")?
                .parse()
                .with_context(|| format!("{}:{line}: range start is not an IP", path.display()))?;
            let end: IpAddr = field(1, "range end")?
                .parse()
                .with_context(|| format!("{}:{line}: range end is not an IP", path.display()))?;
            let asn: u32 = field(2, "ASN")?
                .parse()
                .with_context(|| format!("{}:{line}: ASN is not a number", path.display()))?;
            let org = field(3, "organization")?.to_string();
            let value = values
                .entry((asn, org.clone()))
                .or_insert_with(|| {
                    Value::from_iter([
                        ("autonomous_system_number".to_string(), Value::from(asn)),
                        (
                            "autonomous_system_organization".to_string(),
                            Value::from(org),
                        ),
                    ])
                })
                .clone();
            if in_ipv4_alias(start) {
                // Teredo (2001::/32), 6to4 (2002::/16) and IPv4-mapped space are aliased to the
                // IPv4 tree by the writer: their owner is found through the embedded IPv4 address.
                aliased += 1;
                continue;
            }
            writer.insert_range(start, end, &value).with_context(|| {
                format!("{}:{line}: cannot insert {start}-{end}", path.display())
            })?;
            rows += 1;
        }
    }
    let bytes = writer.to_bytes().context("cannot serialise the database")?;
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "{rows} ranges ({aliased} in IPv4-aliased IPv6 space skipped), {} distinct AS records -> {} ({} bytes)",
        values.len(),
        out.display(),
        bytes.len()
    );
    Ok(())
}

fn in_ipv4_alias(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (s[0] == 0x2001 && s[1] == 0) || s[0] == 0x2002 || v6.to_ipv4_mapped().is_some()
        }
    }
}

/// `2.3.2026061719` -> 2026-06-17T19:00:00Z: the package versions end in the data's date and hour.
fn epoch_of_version(version: &str) -> anyhow::Result<SystemTime> {
    let stamp = version.rsplit('.').next().unwrap_or_default();
    let date = chrono::NaiveDateTime::parse_from_str(&format!("{stamp}0000"), "%Y%m%d%H%M%S")
        .with_context(|| format!("version {version:?} does not end in YYYYMMDDHH"))?;
    let secs = u64::try_from(date.and_utc().timestamp()).context("date before 1970")?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}
