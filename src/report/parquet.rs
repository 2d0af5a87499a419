//! `timeline.parquet` (`analyze --parquet`): the normalized timeline for DuckDB, Spark or a SIEM.
//! The same rows and columns as `timeline.csv`, with empty cells as nulls, `asn` / `ip_asn` as
//! UInt32, `origin_line` / `origin_record` as UInt64, and `time_unix_ms` (Int64, UTC) after `time`.
//!
//! Every call into polars is in this module. Rows are written in batches so a multi-million-row
//! case does not hold the whole table twice in memory.

use std::path::Path;

use polars::prelude::*;

use super::csv::{timeline_row, TIMELINE_COLUMNS};
use crate::enrich::Enrichment;
use crate::timeline::UserTimeline;

/// Rows per row group: large enough for good compression, small enough to bound memory.
const BATCH_ROWS: usize = 100_000;

/// Columns written as unsigned numbers rather than text.
const U32_COLUMNS: &[&str] = &["asn", "ip_asn"];
const U64_COLUMNS: &[&str] = &["origin_line", "origin_record"];

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
    names
}

/// One batch of rows as a data frame.
fn frame(rows: &[(Vec<String>, i64)]) -> PolarsResult<DataFrame> {
    let mut out: Vec<Column> = Vec::with_capacity(TIMELINE_COLUMNS.len() + 1);
    for (c, name) in TIMELINE_COLUMNS.iter().enumerate() {
        let cells = rows
            .iter()
            .map(|(r, _)| r.get(c).map(String::as_str).unwrap_or(""));
        let column = if U32_COLUMNS.contains(name) {
            let v: Vec<Option<u32>> = cells.map(|s| s.parse().ok()).collect();
            Column::new((*name).into(), v)
        } else if U64_COLUMNS.contains(name) {
            let v: Vec<Option<u64>> = cells.map(|s| s.parse().ok()).collect();
            Column::new((*name).into(), v)
        } else {
            let v: Vec<Option<&str>> = cells.map(|s| (!s.is_empty()).then_some(s)).collect();
            Column::new((*name).into(), v)
        };
        out.push(column);
        if *name == "time" {
            let ms: Vec<i64> = rows.iter().map(|(_, t)| *t).collect();
            out.push(Column::new("time_unix_ms".into(), ms));
        }
    }
    DataFrame::new(rows.len(), out)
}

/// Writes every timeline row to `path`; returns the number of rows.
pub fn write_timeline(
    path: &Path,
    timelines: &[UserTimeline],
    files: &[String],
    ips: &Enrichment,
) -> Result<u64, ParquetError> {
    let file = std::fs::File::create(path).map_err(|e| error(path, e))?;
    let schema = frame(&[]).map_err(|e| error(path, e))?.schema().clone();
    let mut writer = ParquetWriter::new(file)
        .batched(&schema)
        .map_err(|e| error(path, e))?;
    let mut batch: Vec<(Vec<String>, i64)> = Vec::with_capacity(BATCH_ROWS);
    let mut written = 0u64;
    let rows = timelines
        .iter()
        .flat_map(|t| t.events.iter().map(move |e| (t, *e)));
    for (t, e) in rows {
        batch.push((
            timeline_row(&t.user, e, files, ips),
            e.time.timestamp_millis(),
        ));
        if batch.len() == BATCH_ROWS {
            let df = frame(&batch).map_err(|e| error(path, e))?;
            writer.write_batch(&df).map_err(|e| error(path, e))?;
            written += batch.len() as u64;
            batch.clear();
        }
    }
    if !batch.is_empty() || written == 0 {
        let df = frame(&batch).map_err(|e| error(path, e))?;
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
