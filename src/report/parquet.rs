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
const BATCH_ROWS: usize = 16_384;

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
fn frame(rows: &[(&str, &Event)], files: &[String], ips: &Enrichment) -> PolarsResult<DataFrame> {
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
                ev().map(|e| e.time.timestamp_millis())
                    .collect::<Vec<i64>>(),
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
            "asn" => Column::new(
                name.into(),
                ev().map(|e| e.asn).collect::<Vec<Option<u32>>>(),
            ),
            "ip_scope" => text(name, inf().map(|i| i.map(|i| i.scope.as_str()))),
            "ip_country" => text(name, inf().map(|i| i.and_then(|i| i.country.as_deref()))),
            "ip_asn" => Column::new(
                name.into(),
                inf()
                    .map(|i| i.and_then(|i| i.asn))
                    .collect::<Vec<Option<u32>>>(),
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
            "attrs" => owned(name, ev().map(attrs_in_order)),
            "origin_file" => text(
                name,
                ev().map(|e| files.get(e.origin.file as usize).map(String::as_str)),
            ),
            "origin_line" => Column::new(
                name.into(),
                ev().map(|e| Some(e.origin.line))
                    .collect::<Vec<Option<u64>>>(),
            ),
            "origin_record" => Column::new(
                name.into(),
                ev().map(|e| Some(e.origin.record))
                    .collect::<Vec<Option<u64>>>(),
            ),
            "origin_part" => Column::new(
                name.into(),
                ev().map(|e| Some(e.origin.part))
                    .collect::<Vec<Option<u32>>>(),
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

/// An event's attributes as the JSON object of `timeline.csv`'s `attrs` (a repeated name becomes
/// a list), with the names in the order the event first lists them rather than sorted, so that
/// reading the file back gives the attributes in their order.
fn attrs_in_order(e: &Event) -> Option<String> {
    if e.attrs.is_empty() {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    for (k, _) in &e.attrs {
        if !names.contains(&&**k) {
            names.push(k);
        }
    }
    // Written straight into one buffer: a JSON value per attribute was most of the time spent
    // on this column.
    let mut out: Vec<u8> = Vec::with_capacity(64 * e.attrs.len());
    out.push(b'{');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(&mut out, name);
        out.push(b':');
        let mut values = e.attr_all(name);
        let first = values.next().unwrap_or_default();
        match values.next() {
            None => json_string(&mut out, first),
            Some(second) => {
                out.push(b'[');
                json_string(&mut out, first);
                for v in std::iter::once(second).chain(values) {
                    out.push(b',');
                    json_string(&mut out, v);
                }
                out.push(b']');
            }
        }
    }
    out.push(b'}');
    // Only whole strings and ASCII punctuation were written.
    String::from_utf8(out).ok()
}

/// `s` as a JSON string (quoted and escaped as serde_json writes it).
fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A JSON object's members in the order written (serde_json's map sorts them).
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry::<String, serde_json::Value>()? {
                    out.push(kv);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Writes every timeline row to `path` (zstd); returns the number of rows.
pub fn write_timeline(
    path: &Path,
    timelines: &[UserTimeline],
    files: &[String],
    ips: &Enrichment,
) -> Result<u64, ParquetError> {
    let mut out = TimelineParquet::create(path, files, ips)?;
    let rows: Vec<(&str, &Event)> = timelines
        .iter()
        .flat_map(|t| t.events.iter().map(move |e| (&*t.user, *e)))
        .collect();
    out.push(&rows)?;
    out.finish()
}

/// A `timeline.parquet` being written, rows pushed in order a run at a time (a group of
/// accounts' timelines): full row groups are written as they fill, so the file is the same
/// however the rows were split into runs.
pub struct TimelineParquet<'a> {
    path: &'a Path,
    files: &'a [String],
    ips: &'a Enrichment,
    writer: polars::io::parquet::write::BatchedWriter<std::fs::File>,
    /// Rows short of a full row group, from the runs pushed so far.
    carry: Vec<(crate::model::Text, Event)>,
    rows: u64,
    building: std::time::Duration,
    writing: std::time::Duration,
}

impl<'a> TimelineParquet<'a> {
    pub fn create(
        path: &'a Path,
        files: &'a [String],
        ips: &'a Enrichment,
    ) -> Result<TimelineParquet<'a>, ParquetError> {
        let file = std::fs::File::create(path).map_err(|e| error(path, e))?;
        let schema = frame(&[], files, ips)
            .map_err(|e| error(path, e))?
            .schema()
            .clone();
        let writer = ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .batched(&schema)
            .map_err(|e| error(path, e))?;
        Ok(TimelineParquet {
            path,
            files,
            ips,
            writer,
            carry: Vec::new(),
            rows: 0,
            building: std::time::Duration::ZERO,
            writing: std::time::Duration::ZERO,
        })
    }

    /// Appends rows (timeline user, event); writes the row groups they fill.
    pub fn push(&mut self, rows: &[(&str, &Event)]) -> Result<(), ParquetError> {
        let carried: Vec<(&str, &Event)> = self.carry.iter().map(|(u, e)| (&**u, e)).collect();
        let all: Vec<(&str, &Event)> = if carried.is_empty() {
            rows.to_vec()
        } else {
            carried.into_iter().chain(rows.iter().copied()).collect()
        };
        let full = all.len() / BATCH_ROWS * BATCH_ROWS;
        Self::write_rows(
            &mut self.writer,
            (self.path, self.files, self.ips),
            &all[..full],
            (&mut self.building, &mut self.writing),
        )?;
        let rest: Vec<(crate::model::Text, Event)> = all[full..]
            .iter()
            .map(|(u, e)| (crate::model::Text::from(*u), (*e).clone()))
            .collect();
        self.rows += rows.len() as u64;
        self.carry = rest;
        Ok(())
    }

    /// Row groups are built a few at a time in parallel and written in order: the same file
    /// whatever the number of threads.
    fn write_rows(
        writer: &mut polars::io::parquet::write::BatchedWriter<std::fs::File>,
        (path, files, ips): (&Path, &[String], &Enrichment),
        rows: &[(&str, &Event)],
        (building, writing): (&mut std::time::Duration, &mut std::time::Duration),
    ) -> Result<(), ParquetError> {
        let in_flight = BATCH_ROWS * rayon::current_num_threads().clamp(1, 8);
        for chunk in rows.chunks(in_flight) {
            use rayon::prelude::*;
            let t = std::time::Instant::now();
            let frames: Vec<PolarsResult<DataFrame>> = chunk
                .par_chunks(BATCH_ROWS)
                .map(|batch| frame(batch, files, ips))
                .collect();
            *building += t.elapsed();
            let t = std::time::Instant::now();
            for df in frames {
                let df = df.map_err(|e| error(path, e))?;
                writer.write_batch(&df).map_err(|e| error(path, e))?;
            }
            *writing += t.elapsed();
        }
        Ok(())
    }

    /// Writes the last rows and closes the file; the number of rows.
    pub fn finish(mut self) -> Result<u64, ParquetError> {
        let path = self.path;
        if self.rows == 0 {
            let df = frame(&[], self.files, self.ips).map_err(|e| error(path, e))?;
            self.writer.write_batch(&df).map_err(|e| error(path, e))?;
        }
        let carried: Vec<(&str, &Event)> = self.carry.iter().map(|(u, e)| (&**u, e)).collect();
        Self::write_rows(
            &mut self.writer,
            (path, self.files, self.ips),
            &carried,
            (&mut self.building, &mut self.writing),
        )?;
        self.writer.finish().map_err(|e| error(path, e))?;
        if crate::timing::enabled() {
            eprintln!(
                "timing: timeline.parquet: columns built {:.2?}, encoded and written {:.2?}",
                self.building, self.writing
            );
        }
        Ok(self.rows)
    }
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

/// Writes `timeline.parquet` into a case folder: every user's timeline, as `timeline.csv`, a
/// group of accounts at a time.
pub fn write_case(dir: &Path, case: &super::case::Case) -> Result<u64, ParquetError> {
    let ing = case.ingested;
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let path = dir.join("timeline.parquet");
    let mut out = TimelineParquet::create(&path, &files, case.ips)?;
    let all = super::case::AllEvents(&ing.events);
    case.groups
        .unwrap_or(&all)
        .each_group(None, &mut |events, owns| {
            let timelines = crate::timeline::build(events, &crate::timeline::Filter::default());
            let rows: Vec<(&str, &Event)> = timelines
                .iter()
                .filter(|t| owns(&t.user))
                .flat_map(|t| t.events.iter().map(move |e| (&*t.user, *e)))
                .collect();
            out.push(&rows)
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .map_err(|e| error(&path, e))?;
    out.finish()
}

/// Columns a `timeline.parquet` must have to be read back as evidence.
pub const READ_BACK_COLUMNS: &[&str] = &[
    "timeline_user",
    "time",
    "source",
    "user",
    "operation",
    "outcome",
    "attrs",
    "origin_file",
    "origin_line",
    "origin_record",
];

/// The events of a breachline `timeline.parquet`, rebuilt.
#[derive(Default)]
pub struct ReadBack {
    /// One per event (its first row), sorted by origin; `origin.file` is an index into
    /// `files`.
    pub events: Vec<crate::model::Event>,
    /// The raw exports the events were read from, as their `origin_file` names them.
    pub files: Vec<String>,
    /// Rows that repeat an event in another account's timeline (recipient, target).
    pub copies: u64,
    /// Rows that could not be rebuilt: (row, 1-based; column; reason).
    pub rejects: Vec<(u64, String, String)>,
}

/// Whether `bytes` start like a Parquet file.
pub fn is_parquet(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PAR1")
}

fn outcome_of(s: &str) -> Option<crate::model::Outcome> {
    use crate::model::Outcome;
    [
        Outcome::Success,
        Outcome::Failure,
        Outcome::Interrupted,
        Outcome::Unknown,
    ]
    .into_iter()
    .find(|o| o.as_str() == s)
}

/// Reads a breachline `timeline.parquet` back into events. An error when the bytes are not
/// Parquet or lack breachline's columns.
pub fn read_timeline(bytes: Vec<u8>) -> Result<ReadBack, String> {
    use crate::model::{Event, Origin, Source};
    use crate::normalize::text::intern;
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let missing: Vec<&str> = READ_BACK_COLUMNS
        .iter()
        .copied()
        .filter(|c| df.column(c).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "a Parquet file, but not a breachline timeline.parquet (no column {})",
            missing.join(", ")
        ));
    }
    let bad = |c: &str, e: PolarsError| format!("column {c}: {e}");
    let strs = |c: &str| -> Result<Vec<Option<&str>>, String> {
        match df.column(c) {
            Ok(col) => Ok(col.str().map_err(|e| bad(c, e))?.iter().collect()),
            Err(_) => Ok(vec![None; df.height()]),
        }
    };
    let u64s = |c: &str| -> Result<Vec<Option<u64>>, String> {
        match df.column(c) {
            Ok(col) => {
                let col = col.cast(&DataType::UInt64).map_err(|e| bad(c, e))?;
                Ok(col.u64().map_err(|e| bad(c, e))?.iter().collect())
            }
            Err(_) => Ok(vec![None; df.height()]),
        }
    };
    let names = [
        "timeline_user",
        "time",
        "source",
        "user",
        "operation",
        "outcome",
        "error_code",
        "ip",
        "country",
        "region",
        "city",
        "user_agent",
        "application",
        "client_app",
        "device_id",
        "session_id",
        "correlation_id",
        "request_id",
        "token_id",
        "record_id",
        "object",
        "attrs",
        "origin_file",
    ];
    let cols: Vec<Vec<Option<&str>>> = names.iter().map(|c| strs(c)).collect::<Result<_, _>>()?;
    let col = |name: &str| &cols[names.iter().position(|n| *n == name).unwrap_or(0)];
    let (asn, line, record, part) = (
        u64s("asn")?,
        u64s("origin_line")?,
        u64s("origin_record")?,
        u64s("origin_part")?,
    );
    let mut out = ReadBack::default();
    let mut file_ids: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let text = |v: Option<&str>| v.map(intern);
    // Values that rarely repeat are not interned.
    let own = |v: Option<&str>| v.map(crate::model::Text::from);
    // An event is in its actor's timeline and in its recipient's or targets': the rows after
    // the first good one of an origin are copies, counted and not built. A group of accounts'
    // rows (docs/stages.md) may hold only a copy.
    let mut seen: rustc_hash::FxHashSet<(u32, u64, u32, u64)> = rustc_hash::FxHashSet::default();
    for i in 0..df.height() {
        let row = i as u64 + 1;
        let file = col("origin_file")[i].unwrap_or("");
        let next = file_ids.len() as u32;
        let file = *file_ids.entry(file).or_insert_with(|| {
            out.files.push(file.to_string());
            next
        });
        let origin = (
            file,
            record[i].unwrap_or(row),
            part[i].and_then(|p| u32::try_from(p).ok()).unwrap_or(0),
            line[i].unwrap_or(0),
        );
        if seen.contains(&origin) {
            out.copies += 1;
            continue;
        }
        let user = col("user")[i].unwrap_or("");
        let mut reject = |field: &str, why: String| {
            out.rejects.push((row, field.to_string(), why));
        };
        let Some(time) = col("time")[i].and_then(time::parse_iso) else {
            reject(
                "time",
                format!("not an ISO 8601 time: {:?}", col("time")[i]),
            );
            continue;
        };
        let Some(source) =
            col("source")[i].and_then(|s| Source::ALL.into_iter().find(|x| x.as_str() == s))
        else {
            reject("source", format!("not a source: {:?}", col("source")[i]));
            continue;
        };
        let Some(outcome) = col("outcome")[i].and_then(outcome_of) else {
            reject(
                "outcome",
                format!("not an outcome: {:?}", col("outcome")[i]),
            );
            continue;
        };
        let ip = match col("ip")[i] {
            None => None,
            Some(s) => match s.parse() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    reject("ip", format!("not an IP address: {s:?}"));
                    continue;
                }
            },
        };
        let mut attrs: Vec<(crate::model::Text, crate::model::Text)> = Vec::new();
        if let Some(a) = col("attrs")[i] {
            match serde_json::from_str::<Members>(a) {
                Ok(Members(map)) => {
                    for (k, v) in map {
                        let key = intern(&k);
                        let mut push = |v: &serde_json::Value| match v {
                            serde_json::Value::String(s) => attrs.push((key.clone(), intern(s))),
                            other => attrs.push((key.clone(), intern(&other.to_string()))),
                        };
                        match &v {
                            serde_json::Value::Array(list) => list.iter().for_each(&mut push),
                            other => push(other),
                        }
                    }
                }
                Err(e) => {
                    reject("attrs", format!("not a JSON object: {e}"));
                    continue;
                }
            }
        }
        let mut e = Event::new(
            time,
            source,
            intern(user),
            intern(col("operation")[i].unwrap_or("")),
        );
        e.outcome = outcome;
        e.error_code = text(col("error_code")[i]);
        e.ip = ip;
        e.country = text(col("country")[i]);
        e.region = text(col("region")[i]);
        e.city = text(col("city")[i]);
        e.asn = asn[i].and_then(|a| u32::try_from(a).ok());
        e.user_agent = text(col("user_agent")[i]);
        e.application = text(col("application")[i]);
        e.client_app = text(col("client_app")[i]);
        e.device_id = text(col("device_id")[i]);
        e.session_id = own(col("session_id")[i]);
        e.correlation_id = own(col("correlation_id")[i]);
        e.request_id = own(col("request_id")[i]);
        e.token_id = own(col("token_id")[i]);
        e.record_id = own(col("record_id")[i]);
        e.object = own(col("object")[i]);
        e.attrs = attrs;
        e.origin = Origin {
            file: origin.0,
            record: origin.1,
            part: origin.2,
            line: origin.3,
        };
        seen.insert(origin);
        out.events.push(e);
    }
    out.events.sort_by_key(|e| e.origin);
    Ok(out)
}

/// The group (of `groups`) an account's rows go to when events are split by account
/// (`stage group`, docs/stages.md): a fixed hash of its lower-case name, the same on every run
/// and machine.
pub fn group_of(user: &str, groups: usize) -> usize {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(user.as_bytes());
    (h.finish() % groups.max(1) as u64) as usize
}

/// Splits breachline Parquet events by account into `groups` files in `out`
/// (`group-NNNN.parquet`; groups with no rows are not written): every row of one
/// `timeline_user` lands in the same file. Returns the files written.
pub fn split_by_user(
    inputs: &[std::path::PathBuf],
    groups: usize,
    out: &Path,
) -> Result<Vec<std::path::PathBuf>, ParquetError> {
    let groups = groups.max(1);
    let mut parts: Vec<Option<DataFrame>> = vec![None; groups];
    for path in inputs {
        let file = std::fs::File::open(path).map_err(|e| error(path, e))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| error(path, e))?;
        let users = df
            .column("timeline_user")
            .and_then(|c| c.str().cloned())
            .map_err(|e| error(path, e))?;
        let of: Vec<usize> = users
            .iter()
            .map(|u| group_of(u.unwrap_or(""), groups))
            .collect();
        for (g, slot) in parts.iter_mut().enumerate() {
            let mask: BooleanChunked = of.iter().map(|&x| x == g).collect();
            let part = df.filter(&mask).map_err(|e| error(path, e))?;
            if part.height() == 0 {
                continue;
            }
            match slot {
                Some(acc) => {
                    acc.vstack_mut(&part).map_err(|e| error(path, e))?;
                }
                None => *slot = Some(part),
            }
        }
    }
    let mut written = Vec::new();
    for (g, part) in parts.into_iter().enumerate() {
        let Some(mut df) = part else { continue };
        let path = out.join(format!("group-{g:04}.parquet"));
        let file = std::fs::File::create(&path).map_err(|e| error(&path, e))?;
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut df)
            .map_err(|e| error(&path, e))?;
        written.push(path);
    }
    Ok(written)
}
