//! `timeline.parquet` (written by `analyze --out`): the normalized timeline for DuckDB, Spark or a
//! SIEM, and evidence breachline reads back (`breachline-parquet`). The columns of `timeline.csv`
//! with empty cells as nulls, `asn` / `ip_asn` as UInt32, `origin_line` / `origin_record` as
//! UInt64, `time_unix_ms` (Int64, UTC) after `time`, and `origin_part` (UInt32) after
//! `origin_record` (schema 2; docs/output.md). Columns are built from the events directly, not
//! through the CSV cells. zstd compression.
//!
//! Every call into polars is in this module. Rows are written in batches so a multi-million-row
//! case does not hold the whole table twice in memory.

use std::path::Path;

use polars::prelude::*;

use super::csv::TIMELINE_COLUMNS;
use crate::enrich::{Enrichment, IpInfo};
use crate::model::Event;
use crate::normalize::time;
use crate::timeline::UserTimeline;

/// Rows per row group: large enough for good compression, small enough to bound memory.
const BATCH_ROWS: usize = 100_000;

/// Writing or reading a Parquet file failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ParquetError {
    pub path: String,
    pub message: String,
}

fn error(path: &Path, e: impl std::fmt::Display) -> ParquetError {
    ParquetError {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The column names of `timeline.parquet`, in order.
pub fn columns() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TIMELINE_COLUMNS.to_vec();
    let at = names.iter().position(|c| *c == "time").map_or(0, |i| i + 1);
    names.insert(at, "time_unix_ms");
    let at = names
        .iter()
        .position(|c| *c == "origin_record")
        .map_or(names.len(), |i| i + 1);
    names.insert(at, "origin_part");
    names
}

/// Text cells, empty as null.
fn text<'a>(name: &str, cells: impl Iterator<Item = Option<&'a str>>) -> Column {
    let v: Vec<Option<&str>> = cells.map(|s| s.filter(|s| !s.is_empty())).collect();
    Column::new(name.into(), v)
}

fn owned(name: &str, cells: impl Iterator<Item = Option<String>>) -> Column {
    let v: Vec<Option<String>> = cells.map(|s| s.filter(|s| !s.is_empty())).collect();
    Column::new(name.into(), v)
}

/// One batch of (timeline user, event) rows as a data frame, column by column.
fn frame(
    rows: &[(&str, &Event)],
    files: &[String],
    ips: &Enrichment,
) -> PolarsResult<DataFrame> {
    let infos: Vec<Option<&IpInfo>> = rows.iter().map(|(_, e)| ips.for_event(e)).collect();
    let ev = || rows.iter().map(|(_, e)| *e);
    let inf = || infos.iter().copied();
    let mut out: Vec<Column> = Vec::with_capacity(TIMELINE_COLUMNS.len() + 2);
    for name in columns() {
        let c = match name {
            "timeline_user" => text(name, rows.iter().map(|(u, _)| Some(*u))),
            "time" => owned(name, ev().map(|e| Some(time::format(&e.time)))),
            "time_unix_ms" => Column::new(
                name.into(),
                ev().map(|e| e.time.timestamp_millis()).collect::<Vec<i64>>(),
            ),
            "source" => text(name, ev().map(|e| Some(e.source.as_str()))),
            "user" => text(name, ev().map(|e| Some(&*e.user))),
            "operation" => text(name, ev().map(|e| Some(&*e.operation))),
            "outcome" => text(name, ev().map(|e| Some(e.outcome.as_str()))),
            "error_code" => text(name, ev().map(|e| e.error_code.as_deref())),
            "ip" => owned(name, ev().map(|e| e.ip.map(|i| i.to_string()))),
            "country" => text(name, ev().map(|e| e.country.as_deref())),
            "region" => text(name, ev().map(|e| e.region.as_deref())),
            "city" => text(name, ev().map(|e| e.city.as_deref())),
            "asn" => Column::new(name.into(), ev().map(|e| e.asn).collect::<Vec<Option<u32>>>()),
            "ip_scope" => text(name, inf().map(|i| i.map(|i| i.scope.as_str()))),
            "ip_country" => text(name, inf().map(|i| i.and_then(|i| i.country.as_deref()))),
            "ip_asn" => Column::new(
                name.into(),
                inf().map(|i| i.and_then(|i| i.asn)).collect::<Vec<Option<u32>>>(),
            ),
            "ip_as_org" => text(name, inf().map(|i| i.and_then(|i| i.as_org.as_deref()))),
            "ip_network" => text(name, inf().map(|i| i.map(|i| i.network.as_str()))),
            "ip_provider" => text(name, inf().map(|i| i.and_then(|i| i.provider.as_deref()))),
            "user_agent" => text(name, ev().map(|e| e.user_agent.as_deref())),
            "application" => text(name, ev().map(|e| e.application.as_deref())),
            "client_app" => text(name, ev().map(|e| e.client_app.as_deref())),
            "device_id" => text(name, ev().map(|e| e.device_id.as_deref())),
            "session_id" => text(name, ev().map(|e| e.session_id.as_deref())),
            "correlation_id" => text(name, ev().map(|e| e.correlation_id.as_deref())),
            "request_id" => text(name, ev().map(|e| e.request_id.as_deref())),
            "token_id" => text(name, ev().map(|e| e.token_id.as_deref())),
            "record_id" => text(name, ev().map(|e| e.record_id.as_deref())),
            "object" => text(name, ev().map(|e| e.object.as_deref())),
            "attrs" => owned(
                name,
                ev().map(|e| {
                    (!e.attrs.is_empty()).then(|| super::json::attrs_value(e).to_string())
                }),
            ),
            "origin_file" => text(
                name,
                ev().map(|e| files.get(e.origin.file as usize).map(String::as_str)),
            ),
            "origin_line" => Column::new(
                name.into(),
                ev().map(|e| Some(e.origin.line)).collect::<Vec<Option<u64>>>(),
            ),
            "origin_record" => Column::new(
                name.into(),
                ev().map(|e| Some(e.origin.record)).collect::<Vec<Option<u64>>>(),
            ),
            "origin_part" => Column::new(
                name.into(),
                ev().map(|e| Some(e.origin.part)).collect::<Vec<Option<u32>>>(),
            ),
            other => {
                return Err(PolarsError::ComputeError(
                    format!("no writer for column {other}").into(),
                ))
            }
        };
        out.push(c);
    }
    DataFrame::new(rows.len(), out)
}

/// Writes every timeline row to `path` (zstd); returns the number of rows.
pub fn write_timeline(
    path: &Path,
    timelines: &[UserTimeline],
    files: &[String],
    ips: &Enrichment,
) -> Result<u64, ParquetError> {
    let file = std::fs::File::create(path).map_err(|e| error(path, e))?;
    let schema = frame(&[], files, ips)
        .map_err(|e| error(path, e))?
        .schema()
        .clone();
    let mut writer = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .batched(&schema)
        .map_err(|e| error(path, e))?;
    let mut batch: Vec<(&str, &Event)> = Vec::with_capacity(BATCH_ROWS);
    let mut written = 0u64;
    let rows = timelines
        .iter()
        .flat_map(|t| t.events.iter().map(move |e| (&*t.user, *e)));
    for row in rows {
        batch.push(row);
        if batch.len() == BATCH_ROWS {
            let df = frame(&batch, files, ips).map_err(|e| error(path, e))?;
            writer.write_batch(&df).map_err(|e| error(path, e))?;
            written += batch.len() as u64;
            batch.clear();
        }
    }
    if !batch.is_empty() || written == 0 {
        let df = frame(&batch, files, ips).map_err(|e| error(path, e))?;
        writer.write_batch(&df).map_err(|e| error(path, e))?;
        written += batch.len() as u64;
    }
    writer.finish().map_err(|e| error(path, e))?;
    Ok(written)
}
/// A Parquet file's row count and, for the named columns, every value as text (null as
/// `None`): for checks and tests, so that they need no Parquet reader of their own.
pub fn read_columns(
    path: &Path,
    names: &[&str],
) -> Result<(usize, Vec<Vec<Option<String>>>), ParquetError> {
    let file = std::fs::File::open(path).map_err(|e| error(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| error(path, e))?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let column = df
            .column(name)
            .map_err(|e| error(path, e))?
            .as_materialized_series();
        let values = (0..column.len())
            .map(|i| match column.get(i) {
                Ok(AnyValue::Null) => Ok(None),
                Ok(AnyValue::String(s)) => Ok(Some(s.to_string())),
                Ok(v) => Ok(Some(v.to_string())),
                Err(e) => Err(error(path, e)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(values);
    }
    Ok((df.height(), out))
}

/// Writes `timeline.parquet` into a case folder: every user's timeline, as `timeline.csv`.
pub fn write_case(dir: &Path, case: &super::case::Case) -> Result<u64, ParquetError> {
    let ing = case.ingested;
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let timelines = crate::timeline::build(&ing.events, &crate::timeline::Filter::default());
    write_timeline(&dir.join("timeline.parquet"), &timelines, &files, case.ips)
}
