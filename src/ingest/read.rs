//! Reading one evidence file: a reader thread frames records and sends them in batches through a
//! bounded channel (so memory stays flat on a 1 GB export); rayon workers decode the batches in
//! parallel; results are put back in file order, so 1 or N threads give the same events.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::iter::{ParallelBridge, ParallelIterator};

use crate::ingest::detect::{self, Detected, Variant};
use crate::ingest::discover::{Container, EvidenceFile};
use crate::ingest::framing::{self, JsonItem, JsonSplitter};
use crate::ingest::source::{self, TextEncoding, TextError};
use crate::ingest::{IngestOptions, Reject};
use crate::model::{Event, FileId, Origin};
use crate::normalize::columns::{normalize_name, Header, Row};
use crate::normalize::time::DateOrder;
use crate::normalize::{Note, Record, RowCtx, RowError};

/// Records per batch: large enough to amortize channel and task overhead, small enough that a
/// few batches in flight stay a few megabytes.
const BATCH_RECORDS: usize = 2048;
/// Batches the reader may run ahead of the decoders.
const BATCHES_IN_FLIGHT: usize = 8;

/// What reading one file produced, before cross-file deduplication.
pub struct FileRead {
    pub sha256: Option<String>,
    pub encoding: Option<TextEncoding>,
    pub variant: Option<Variant>,
    /// Set when the file could not be read or recognised at all.
    pub error: Option<String>,
    pub rows: u64,
    pub events: Vec<Event>,
    /// The first [`REJECTS_KEPT`] rejected rows, in record order.
    pub rejects: Vec<Reject>,
    /// Every rejected row, including those beyond [`REJECTS_KEPT`].
    pub rejected: u64,
    /// The rejects beyond [`REJECTS_KEPT`], as rejects CSV rows in a temporary file.
    pub spill: Option<std::fs::File>,
    pub warnings: Vec<String>,
    /// For a breachline `timeline.parquet` read back: the raw exports its events cite, which
    /// their `origin.file` indexes until accounting gives them file ids.
    pub cited: Vec<String>,
    /// With a spill (`IngestOptions::spill`): the events went to the spill files, not
    /// `events`, and ambiguous dates are to be read day-first when this is set.
    pub day_first: bool,
}

/// Events a file holds in memory before they go to the spill files, when there are any.
const SPILL_CHUNK: usize = 8192;

/// Rejected rows kept in memory per file (listed by `inspect --json`, the HTML report); the rest
/// stream to a temporary file and reach `--rejects` and rejects.csv, and every one is counted.
pub const REJECTS_KEPT: usize = 1000;

/// A framing-level reject (not JSON, truncated, oversized): (record, line, error).
type FramingReject = (u64, u64, RowError);

enum Batch {
    Csv {
        index: u64,
        first_record: u64,
        rows: CsvRows,
        framing: Vec<FramingReject>,
    },
    Json {
        index: u64,
        first_record: u64,
        text: Vec<u8>,
        items: Vec<(usize, usize, u64)>,
        framing: Vec<FramingReject>,
    },
}

/// A batch of CSV rows in one buffer: every cell's bytes back to back, cell end offsets, and per
/// row its first cell and starting line. One allocation per batch instead of one per row.
#[derive(Default)]
struct CsvRows {
    bytes: Vec<u8>,
    cell_ends: Vec<usize>,
    /// (index of the row's first cell in `cell_ends`, line the row starts on)
    rows: Vec<(usize, u64)>,
}

impl CsvRows {
    fn push(&mut self, record: &csv::ByteRecord, line: u64) {
        self.rows.push((self.cell_ends.len(), line));
        for cell in record.iter() {
            self.bytes.extend_from_slice(cell);
            self.cell_ends.push(self.bytes.len());
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// The cells of row `i` as byte slices.
    fn cells(&self, i: usize) -> impl Iterator<Item = &[u8]> {
        let first = self.rows[i].0;
        let last = self.rows.get(i + 1).map_or(self.cell_ends.len(), |r| r.0);
        (first..last).map(move |c| {
            let start = if c == 0 { 0 } else { self.cell_ends[c - 1] };
            &self.bytes[start..self.cell_ends[c]]
        })
    }
}

/// What the reader thread found besides the batches.
#[derive(Default)]
struct ReaderEnd {
    encoding: Option<TextEncoding>,
    error: Option<String>,
    rows: u64,
    /// File-level framing problems (an array never closed, blank lines), as file warnings.
    warnings: Vec<String>,
    /// Set when a read error stopped reading before the end of the file.
    read_error: Option<String>,
}

/// The decoder and what decoding needs to know about the file.
struct Plan {
    detected: Detected,
    /// CSV header, to spot a header repeated mid-file (exports concatenated with `cat`).
    header: Option<Vec<String>>,
}

/// Reads, frames, detects and decodes one file.
pub fn read_file(
    id: FileId,
    file: &EvidenceFile,
    opts: &IngestOptions,
    progress: Option<indicatif::ProgressBar>,
) -> FileRead {
    let (raw, digest) = match source::open_bytes(file, progress) {
        Ok(x) => x,
        Err(e) if matches!(file.container, Container::Unreadable { .. }) => {
            return FileRead::failed(e.to_string())
        }
        Err(e) => return FileRead::failed(format!("cannot read: {e}")),
    };
    // breachline's own timeline.parquet is binary: recognised by its magic, read whole.
    let mut raw = std::io::BufReader::with_capacity(1 << 16, raw);
    let magic = raw
        .fill_buf()
        .map(|b| b.starts_with(b"PAR1"))
        .unwrap_or(false);
    let mut read = if magic {
        read_parquet(id, &file.display, raw)
    } else {
        read_raw(id, &file.display, file.file_name(), Box::new(raw), opts)
    };
    let (sha256, hash_problem) = match &file.container {
        Container::Zip { .. } => (None, None),
        _ => match digest.lock().ok().and_then(|d| d.clone()) {
            Some(Ok(h)) => (Some(h), None),
            Some(Err(why)) => (None, Some(why)),
            None => (None, None),
        },
    };
    read.sha256 = sha256;
    if let Some(why) = hash_problem {
        if read.error.is_none() {
            read.error = Some(format!("cannot read the whole file: {why}"));
        }
    }
    read
}

/// Reads a breachline `timeline.parquet` back into events (variant `breachline-parquet`). Rows:
/// one per record; the copies of an event in other accounts' timelines (recipient, target) are
/// not records and are said in a warning.
fn read_parquet(id: FileId, display: &str, mut raw: impl std::io::Read) -> FileRead {
    let mut bytes = Vec::new();
    if let Err(e) = raw.read_to_end(&mut bytes) {
        return FileRead::failed(format!("cannot read: {e}"));
    }
    #[cfg(not(feature = "parquet"))]
    {
        let _ = (id, display, bytes);
        return FileRead::failed("a Parquet file, and this build has no Parquet support (built without the parquet feature)".into());
    }
    #[cfg(feature = "parquet")]
    {
        let back = match crate::report::parquet::read_timeline(bytes) {
            Ok(b) => b,
            Err(e) => return FileRead::failed(e),
        };
        let mut read = FileRead::failed(String::new());
        read.error = None;
        read.variant = Some(Variant::BreachlineParquet);
        let mut records: Vec<(u32, u64)> = back
            .events
            .iter()
            .map(|e| (e.origin.file, e.origin.record))
            .collect();
        records.dedup();
        read.rows = records.len() as u64 + back.rejects.len() as u64;
        if back.copies > 0 {
            read.warnings.push(format!(
                "{} rows repeat an event in another account's timeline (recipient, target): each event is read once",
                back.copies
            ));
        }
        read.warnings.push(format!(
            "events cite the {} raw export{} they were first read from, not this file",
            back.files.len(),
            if back.files.len() == 1 { "" } else { "s" }
        ));
        for (row, field, reason) in back.rejects {
            let err = RowError {
                field: Some(field),
                reason,
            };
            read.rejects.push(Reject::new(id, display, row, row, err));
        }
        read.rejected = read.rejects.len() as u64;
        read.events = back.events;
        read.cited = back.files;
        read
    }
}

/// Reads, frames, detects and decodes the bytes of one evidence file from any reader (the
/// fuzz targets feed it memory). `display` names the file in rejects; `file_name` is the
/// export's own name (it decides one variant, see detect.rs).
pub fn read_raw(
    id: FileId,
    display: &str,
    file_name: &str,
    raw: Box<dyn std::io::Read + Send>,
    opts: &IngestOptions,
) -> FileRead {
    let file_name = file_name.to_string();
    let (plan_tx, plan_rx) = sync_channel::<Arc<Plan>>(1);
    let (batch_tx, batch_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
    // Emptied row buffers go back to the reader, so big buffers are not mapped and unmapped
    // for every batch.
    let (recycle_tx, recycle_rx) = sync_channel::<CsvRows>(BATCHES_IN_FLIGHT * 2);
    let (end, outputs) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut end = ReaderEnd::default();
            frame(raw, &file_name, &plan_tx, &batch_tx, &recycle_rx, &mut end);
            end
        });
        let outputs = decode_all(id, display, opts, &plan_rx, batch_rx, &recycle_tx);
        let end = reader.join().unwrap_or_else(|_| ReaderEnd {
            error: Some("internal error: the reader thread panicked".into()),
            ..ReaderEnd::default()
        });
        (end, outputs)
    });
    let error = end.error.or(end.read_error);
    let mut read = FileRead {
        sha256: None,
        encoding: end.encoding,
        variant: outputs.as_ref().map(|s| s.variant),
        error,
        rows: end.rows,
        events: Vec::new(),
        rejects: Vec::new(),
        rejected: 0,
        spill: None,
        warnings: end.warnings,
        cited: Vec::new(),
        day_first: false,
    };
    if read.variant.is_none() {
        // Nothing was recognised: no row of the file is accounted as a row of an export.
        read.rows = 0;
    }
    if let Some(sink) = outputs {
        sink.finish(opts.date_order, &mut read);
    }
    read
}

impl FileRead {
    fn failed(error: String) -> FileRead {
        FileRead {
            sha256: None,
            encoding: None,
            variant: None,
            error: Some(error),
            rows: 0,
            events: Vec::new(),
            rejects: Vec::new(),
            rejected: 0,
            spill: None,
            warnings: Vec::new(),
            cited: Vec::new(),
            day_first: false,
        }
    }
}

/// The reader thread: decode text, frame records, detect the variant, send batches.
fn frame(
    raw: Box<dyn std::io::Read + Send>,
    file_name: &str,
    plan_tx: &SyncSender<Arc<Plan>>,
    batch_tx: &SyncSender<Batch>,
    recycled: &Receiver<CsvRows>,
    end: &mut ReaderEnd,
) {
    let (mut text, encoding) = match source::open_text(raw) {
        Ok(x) => x,
        Err(TextError::Empty) => {
            end.error = Some("the file is empty: no header and no records".into());
            return;
        }
        Err(TextError::Binary) => {
            end.error = Some("binary data, not a text export (NUL bytes in the first 8 KB); expected CSV or JSON".into());
            return;
        }
        Err(TextError::Io(e)) => {
            end.error = Some(format!("cannot read: {e}"));
            return;
        }
    };
    end.encoding = Some(encoding);
    let first = match text.fill_buf() {
        Ok(b) => b
            .iter()
            .copied()
            .find(|c| !c.is_ascii_whitespace() && *c != 0xEF && *c != 0xBB && *c != 0xBF),
        Err(e) => {
            end.error = Some(format!("cannot read: {e}"));
            return;
        }
    };
    match first {
        Some(b'[') | Some(b'{') => frame_json(text, plan_tx, batch_tx, end),
        _ => frame_csv(text, file_name, plan_tx, batch_tx, recycled, end),
    }
}

fn frame_csv(
    mut text: Box<dyn BufRead + Send>,
    file_name: &str,
    plan_tx: &SyncSender<Arc<Plan>>,
    batch_tx: &SyncSender<Batch>,
    recycled: &Receiver<CsvRows>,
    end: &mut ReaderEnd,
) {
    let skipped = match framing::skip_type_line(&mut text) {
        Ok(n) => n,
        Err(e) => {
            end.error = Some(format!("cannot read: {e}"));
            return;
        }
    };
    let delimiter = match text.fill_buf() {
        Ok(head) => framing::sniff_delimiter(head),
        Err(e) => {
            end.error = Some(format!("cannot read: {e}"));
            return;
        }
    };
    let guard = RecordGuard::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(guard.wrap(text));
    let mut header = csv::StringRecord::new();
    match reader.read_record(&mut header) {
        Ok(true) => {}
        Ok(false) => {
            end.error = Some("the file is empty: no header and no records".into());
            return;
        }
        Err(e) => {
            end.error = Some(format!("the header row is not readable text: {e}"));
            return;
        }
    }
    let h = Header::new(&header);
    let Some(detected) = detect::detect_csv(&h, file_name) else {
        let shown: Vec<&str> = header.iter().take(8).collect();
        end.error = Some(format!(
            "not a recognised export: expected {}; found the columns {}{}",
            detect::CSV_EXPECTED,
            shown.join(", "),
            if header.len() > 8 { ", ..." } else { "" }
        ));
        return;
    };
    if let Some(note) = &detected.note {
        end.warnings.push(note.clone());
    }
    if delimiter != b',' {
        end.warnings.push(format!(
            "delimiter is {:?}, not a comma (re-saved by Excel?)",
            delimiter as char
        ));
    }
    let plan = Arc::new(Plan {
        detected,
        header: Some(h.names().to_vec()),
    });
    if plan_tx.send(plan).is_err() {
        return;
    }
    let mut index = 0;
    let mut rows = CsvRows::default();
    let mut framing: Vec<FramingReject> = Vec::new();
    let mut first_record = 1;
    let mut blank = 0u64;
    let mut record = csv::ByteRecord::new();
    loop {
        guard.reset();
        // Where the next record starts, for errors that carry no position (an I/O error).
        let next_line = reader.position().line() + 1 + skipped;
        match reader.read_byte_record(&mut record) {
            Ok(true) => {
                if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                    // A line of spaces is not a row.
                    blank += 1;
                    continue;
                }
                // The csv crate counts lines from 0 before the record; people count from 1.
                let line = record.position().map_or(0, |p| p.line()) + 1 + skipped;
                end.rows += 1;
                rows.push(&record, line);
            }
            Ok(false) => break,
            Err(e) => {
                end.rows += 1;
                let line = e.position().map_or(next_line, |p| p.line() + 1 + skipped);
                let recoverable = matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                );
                let reason = match guard.tripped() {
                    true => format!(
                        "a single CSV record is larger than {} MiB (an unclosed quote?); reading stopped here",
                        MAX_RECORD_BYTES >> 20
                    ),
                    false => format!("CSV row cannot be read: {e}"),
                };
                framing.push((end.rows, line, RowError::new(reason.clone())));
                if !recoverable {
                    end.read_error = Some(format!(
                        "reading stopped at line {line}: {reason}; the rows before it were read"
                    ));
                    break;
                }
            }
        }
        if rows.len() + framing.len() >= BATCH_RECORDS {
            let next = recycled.try_recv().unwrap_or_default();
            let full = std::mem::replace(&mut rows, next);
            let batch = Batch::Csv {
                index,
                first_record,
                rows: full,
                framing: std::mem::take(&mut framing),
            };
            if batch_tx.send(batch).is_err() {
                return;
            }
            index += 1;
            first_record = end.rows + 1;
        }
    }
    if blank > 0 {
        end.warnings.push(format!(
            "{blank} blank lines (only spaces) skipped: they are not rows"
        ));
    }
    if rows.len() > 0 || !framing.is_empty() {
        let _ = batch_tx.send(Batch::Csv {
            index,
            first_record,
            rows,
            framing,
        });
    }
}

/// The largest single record read (a JSON record, or a CSV row with its quoted cells): larger
/// ones are rejected before they are held in memory (docs/reliability.md, "Limits").
pub const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Counts the bytes the CSV reader pulls since the last record; past [`MAX_RECORD_BYTES`] the
/// read fails, so one unclosed quote cannot make the rest of a huge file one cell in memory.
#[derive(Clone, Default)]
struct RecordGuard(Arc<std::sync::atomic::AtomicU64>);

impl RecordGuard {
    fn wrap<R: std::io::Read>(&self, inner: R) -> Guarded<R> {
        Guarded {
            inner,
            guard: self.clone(),
        }
    }

    fn reset(&self) {
        self.0.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    fn tripped(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed) > MAX_RECORD_BYTES
    }
}

struct Guarded<R> {
    inner: R,
    guard: RecordGuard,
}

impl<R: std::io::Read> std::io::Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.guard.tripped() {
            return Err(std::io::Error::other(format!(
                "a single record is larger than {} MiB",
                MAX_RECORD_BYTES >> 20
            )));
        }
        let n = self.inner.read(buf)?;
        self.guard
            .0
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Records tried to recognise a JSON export: a bad first record (a broken line, an odd object)
/// does not make the whole file unrecognised.
pub const DETECT_TRIES: usize = 16;

fn frame_json(
    text: Box<dyn BufRead + Send>,
    plan_tx: &SyncSender<Arc<Plan>>,
    batch_tx: &SyncSender<Batch>,
    end: &mut ReaderEnd,
) {
    let mut splitter = JsonSplitter::new(text);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut items: Vec<(usize, usize, u64)> = Vec::new();
    let mut framing: Vec<FramingReject> = Vec::new();
    let mut planned = false;
    // Records looked at while recognising the export, and the first of them.
    let mut tried = 0usize;
    let mut first_seen: Option<String> = None;
    let mut index = 0;
    let mut first_record = 1;
    loop {
        let item = match splitter.next_into(&mut buf) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                end.read_error = Some(format!(
                    "reading stopped at line {}: {e}; the records before it were read",
                    splitter.line()
                ));
                break;
            }
        };
        let mut new_records = 0;
        match item {
            JsonItem::Record {
                start,
                end: stop,
                line,
            } => {
                // A Graph page `{"@odata.context":..., "value":[...]}` holds the records.
                if let Some(records) = page_records(&buf[start..stop]) {
                    let page = buf.split_off(start);
                    for (offset, len, extra_lines) in records {
                        let at = buf.len();
                        buf.extend_from_slice(&page[offset..offset + len]);
                        end.rows += 1;
                        items.push((at, buf.len(), line + extra_lines));
                        new_records += 1;
                    }
                } else {
                    end.rows += 1;
                    items.push((start, stop, line));
                    new_records = 1;
                }
            }
            JsonItem::Garbage { line, found } => {
                end.rows += 1;
                framing.push((
                    end.rows,
                    line,
                    RowError::new(format!("not JSON where a record should start: {found:?}")),
                ));
            }
            JsonItem::Broken { line, found } => {
                end.rows += 1;
                framing.push((
                    end.rows,
                    line,
                    RowError::new(format!(
                        "the line ends inside this JSON record (a broken line of JSON lines); reading resumed on the next line: {found:?}"
                    )),
                ));
            }
            JsonItem::Oversized { line } => {
                end.rows += 1;
                framing.push((
                    end.rows,
                    line,
                    RowError::new(format!(
                        "a single JSON record larger than {} MiB: not read (split the export, or check the file is what it claims)",
                        MAX_RECORD_BYTES >> 20
                    )),
                ));
            }
            JsonItem::Truncated {
                line,
                inside_record,
            } => {
                if inside_record {
                    end.rows += 1;
                    framing.push((
                        end.rows,
                        line,
                        RowError::new(
                            "the file ends inside this JSON record: the file is truncated",
                        ),
                    ));
                } else {
                    end.warnings.push(format!("the JSON array opened on line {line} is never closed: the file is probably truncated"));
                }
            }
        }
        if !planned && new_records > 0 {
            // Try the new records, up to DETECT_TRIES in all; records that did not decide stay
            // in the batch and are decoded (and rejected with a reason) like any other.
            let from = items.len() - new_records;
            for &(s, e, _) in &items[from..] {
                if tried >= DETECT_TRIES {
                    break;
                }
                tried += 1;
                let text = String::from_utf8_lossy(&buf[s..e]);
                if first_seen.is_none() {
                    first_seen = Some(crate::normalize::truncate(&text, 120).to_string());
                }
                if let Some(detected) = detect::detect_json(&text) {
                    if plan_tx
                        .send(Arc::new(Plan {
                            detected,
                            header: None,
                        }))
                        .is_err()
                    {
                        return;
                    }
                    planned = true;
                    break;
                }
            }
            if !planned && tried >= DETECT_TRIES {
                break;
            }
        }
        if planned && items.len() + framing.len() >= BATCH_RECORDS {
            let batch = Batch::Json {
                index,
                first_record,
                text: std::mem::take(&mut buf),
                items: std::mem::take(&mut items),
                framing: std::mem::take(&mut framing),
            };
            if batch_tx.send(batch).is_err() {
                return;
            }
            index += 1;
            first_record = end.rows + 1;
            buf.reserve(1 << 20);
        } else if !planned && framing.len() > 100_000 {
            // Only garbage so far: do not hold it all.
            break;
        }
    }
    if !planned {
        if end.error.is_none() {
            end.error = Some(match first_seen {
                Some(first) => format!(
                    "not a recognised export: expected {}; none of the first {tried} records is one (the first starts {first:?})",
                    detect::JSON_EXPECTED
                ),
                None => "no JSON records found".into(),
            });
        }
        return;
    }
    if !items.is_empty() || !framing.is_empty() {
        let _ = batch_tx.send(Batch::Json {
            index,
            first_record,
            text: buf,
            items,
            framing,
        });
    }
}

/// The records of a Graph page (`value`) or an Event Hub body (`records`), as (offset, length,
/// lines after the page's first line).
fn page_records(text: &[u8]) -> Option<Vec<(usize, usize, u64)>> {
    // Cheap test first: only objects that mention both keys can be pages.
    let head = &text[..text.len().min(4096)];
    let graph_page = memchr::memmem::find(head, b"@odata").is_some()
        && memchr::memmem::find(text, b"\"value\"").is_some();
    // An Event Hub body from Azure Monitor diagnostic settings: `{"records":[...]}`.
    let event_hub = memchr::memmem::find(head, b"\"records\"").is_some();
    if !graph_page && !event_hub {
        return None;
    }
    let s = std::str::from_utf8(text).ok()?;
    let mut value = None;
    let mut other_keys = 0;
    crate::normalize::json::for_each_field(s, |k, v| {
        if (graph_page && k == "value") || (event_hub && k == "records") {
            value = Some(v);
        } else {
            other_keys += 1;
        }
    })
    .ok()?;
    // A record that merely has a `records` field is not an envelope.
    if !graph_page && other_keys > 0 {
        return None;
    }
    let value = value?;
    let mut out = Vec::new();
    crate::normalize::json::for_each_element(value.get(), |el| {
        let offset = el.get().as_ptr() as usize - s.as_ptr() as usize;
        let lines = memchr::memchr_iter(b'\n', &text[..offset]).count() as u64;
        out.push((offset, el.get().len(), lines));
    })
    .ok()?;
    Some(out)
}

/// Output of one decoded batch.
struct Decoded {
    index: u64,
    events: Vec<Event>,
    rejects: Vec<(u64, u64, RowError)>,
    /// (event index in `events`, day-first time) for rows whose date order was ambiguous.
    alternatives: Vec<(usize, DateTime<Utc>)>,
    day_first: u64,
    month_first: u64,
    notes: BTreeMap<Note, u64>,
}

/// Decodes every batch in parallel; `None` when the reader never detected a variant. Decoded
/// batches are taken into the file's [`FileSink`] in file order as soon as they are ready, so
/// rejects stream to their spill file instead of piling up.
fn decode_all(
    id: FileId,
    path: &str,
    opts: &IngestOptions,
    plan_rx: &Receiver<Arc<Plan>>,
    batches: Receiver<Batch>,
    recycle: &SyncSender<CsvRows>,
) -> Option<FileSink> {
    let Ok(plan) = plan_rx.recv() else {
        // Drain so the reader never blocks on a full channel.
        for _ in batches.iter() {}
        return None;
    };
    let order = opts.date_order;
    let mut sink = FileSink::new(id, path, plan.detected.variant);
    sink.spill = opts.spill.clone();
    let sink = std::sync::Mutex::new(sink);
    batches.into_iter().par_bridge().for_each(|batch| {
        let decoded = decode_batch(id, order, &plan, batch, recycle);
        let full = sink
            .lock()
            .ok()
            .and_then(|mut sink| sink.take_or_spill(decoded));
        if let (Some((events, alternatives)), Some(spill)) = (full, &opts.spill) {
            spill.write(id, &events, &alternatives);
        }
    });
    let mut sink = match sink.into_inner() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    sink.drain_pending();
    Some(sink)
}

/// Events taken out of a [`FileSink`] to be spilled, with the day-first time of each whose date
/// was ambiguous.
type Held = (Vec<Event>, Vec<Option<DateTime<Utc>>>);

/// What a file's decoded batches add up to, taken in file order.
struct FileSink {
    id: FileId,
    path: String,
    variant: Variant,
    next: u64,
    pending: BTreeMap<u64, Decoded>,
    events: Vec<Event>,
    /// (index in `events`, day-first time) for rows whose date order was ambiguous.
    alternatives: Vec<(usize, DateTime<Utc>)>,
    day_first: u64,
    month_first: u64,
    notes: BTreeMap<Note, u64>,
    rejects: RejectSink,
    /// Where events go once [`SPILL_CHUNK`] of them are held, if anywhere.
    spill: Option<Arc<super::spill::Spill>>,
    /// Ambiguous dates among the events already spilled.
    spilled_alternatives: usize,
}

impl FileSink {
    fn new(id: FileId, path: &str, variant: Variant) -> FileSink {
        FileSink {
            id,
            path: path.to_string(),
            variant,
            next: 0,
            pending: BTreeMap::new(),
            events: Vec::new(),
            alternatives: Vec::new(),
            day_first: 0,
            month_first: 0,
            notes: BTreeMap::new(),
            rejects: RejectSink::default(),
            spill: None,
            spilled_alternatives: 0,
        }
    }

    /// The events held and their ambiguous dates' day-first times, taken out to be spilled
    /// (outside the sink's lock, so that decoding threads do not wait on the encoding).
    fn take_held(&mut self) -> Held {
        let mut alternatives = vec![None; self.events.len()];
        self.spilled_alternatives += self.alternatives.len();
        for (i, t) in self.alternatives.drain(..) {
            alternatives[i] = Some(t);
        }
        (std::mem::take(&mut self.events), alternatives)
    }

    /// Writes the events held to the spill files, if there are any.
    fn spill_held(&mut self) {
        if let Some(spill) = self.spill.clone() {
            let (events, alternatives) = self.take_held();
            spill.write(self.id, &events, &alternatives);
        }
    }

    /// Takes a batch; with a spill, returns the events to spill once enough are held.
    fn take_or_spill(&mut self, d: Decoded) -> Option<Held> {
        self.take(d);
        (self.spill.is_some() && self.events.len() >= SPILL_CHUNK).then(|| self.take_held())
    }

    fn take(&mut self, d: Decoded) {
        self.pending.insert(d.index, d);
        while let Some(d) = self.pending.remove(&self.next) {
            self.next += 1;
            self.append(d);
        }
    }

    /// Takes what is left (batch indexes always run 0.., so this only matters after a panic).
    fn drain_pending(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        for (_, d) in rest {
            self.append(d);
        }
    }

    fn append(&mut self, mut d: Decoded) {
        let offset = self.events.len();
        self.alternatives
            .extend(d.alternatives.iter().map(|(i, t)| (offset + i, *t)));
        self.events.append(&mut d.events);
        self.day_first += d.day_first;
        self.month_first += d.month_first;
        for (n, c) in d.notes {
            *self.notes.entry(n).or_insert(0) += c;
        }
        for (record, line, err) in d.rejects {
            self.rejects
                .push(Reject::new(self.id, &self.path, record, line, err));
        }
    }

    /// Settles day/month order for the file and hands everything to `read`.
    fn finish(mut self, order: DateOrder, read: &mut FileRead) {
        let (day_first, month_first) = (self.day_first, self.month_first);
        let ambiguous = self.alternatives.len() + self.spilled_alternatives;
        self.spill_held();
        let use_day_first = order == DateOrder::Auto && day_first > 0 && month_first == 0;
        if order == DateOrder::Auto {
            if day_first > 0 && month_first > 0 {
                read.warnings.push(format!(
                    "dates disagree on day/month order ({day_first} values are day-first, {month_first} month-first); ambiguous ones were read month-first: check the export and use --date-order"
                ));
            } else if ambiguous > 0 && day_first == 0 && month_first == 0 {
                read.warnings.push(format!(
                    "{ambiguous} culture-formatted dates could be day/month or month/day and nothing in the file decides; read as month/day (en-US). Use --date-order dmy if the export came from a day-first locale"
                ));
            } else if use_day_first {
                read.warnings.push("culture-formatted dates read as day/month/year (the file has days above 12 in the first position)".into());
            }
        }
        read.day_first = use_day_first;
        let mut events = self.events;
        if use_day_first {
            for (i, alt) in self.alternatives {
                events[i].time = alt;
            }
        }
        read.events = events;
        for (note, count) in self.notes {
            read.warnings.push(format!("{count} {}", note.describe()));
        }
        let rejects = self.rejects;
        if let Some(why) = &rejects.spill_error {
            read.warnings.push(format!(
                "only the first {REJECTS_KEPT} rejected rows are listed: the rest could not be written to a temporary file ({why}); all {} are counted",
                rejects.total
            ));
        }
        read.rejected = rejects.total;
        read.rejects = rejects.kept;
        read.spill = rejects
            .spill
            .and_then(|w| w.into_inner().ok())
            .and_then(|b| b.into_inner().ok());
    }
}

/// A file's rejects in record order: the first [`REJECTS_KEPT`] kept, the rest written to a
/// temporary file (as rejects CSV rows), all counted.
#[derive(Default)]
struct RejectSink {
    kept: Vec<Reject>,
    total: u64,
    spill: Option<csv::Writer<std::io::BufWriter<std::fs::File>>>,
    spill_error: Option<String>,
}

impl RejectSink {
    fn push(&mut self, r: Reject) {
        self.total += 1;
        if self.kept.len() < REJECTS_KEPT {
            self.kept.push(r);
            return;
        }
        if self.spill_error.is_some() {
            return;
        }
        if self.spill.is_none() {
            match tempfile::tempfile() {
                Ok(f) => {
                    self.spill = Some(
                        csv::WriterBuilder::new()
                            .has_headers(false)
                            .from_writer(std::io::BufWriter::new(f)),
                    )
                }
                Err(e) => {
                    self.spill_error = Some(e.to_string());
                    return;
                }
            }
        }
        if let Some(w) = &mut self.spill {
            let cells = crate::report::csv::reject_cells(&r);
            if let Err(e) = w.write_record(cells.iter().map(|c| c.as_bytes())) {
                self.spill_error = Some(e.to_string());
            }
        }
    }
}

fn decode_batch(
    id: FileId,
    order: DateOrder,
    plan: &Plan,
    batch: Batch,
    recycle: &SyncSender<CsvRows>,
) -> Decoded {
    let mut cx = RowCtx::new(order);
    let mut out = Decoded {
        index: 0,
        events: Vec::new(),
        rejects: Vec::new(),
        alternatives: Vec::new(),
        day_first: 0,
        month_first: 0,
        notes: BTreeMap::new(),
    };
    let decoder = &plan.detected.decoder;
    let one = |record: Record<'_>, number: u64, line: u64, cx: &mut RowCtx, out: &mut Decoded| {
        let start = out.events.len();
        cx.row_alternative = None;
        match decoder.decode(record, cx, &mut out.events) {
            Ok(()) => {
                for (part, e) in out.events[start..].iter_mut().enumerate() {
                    e.origin = Origin {
                        file: id,
                        record: number,
                        part: part as u32,
                        line,
                    };
                    e.attrs.shrink_to_fit();
                }
                if let Some(alt) = cx.row_alternative.take() {
                    out.alternatives
                        .extend((start..out.events.len()).map(|i| (i, alt)));
                }
            }
            Err(err) => {
                out.events.truncate(start);
                out.rejects.push((number, line, err));
            }
        }
    };
    let decode_row = |row: &Row<'_>, number: u64, line: u64, cx: &mut RowCtx, out: &mut Decoded| {
        if is_repeated_header(row, plan.header.as_deref()) {
            out.rejects.push((
                number,
                line,
                RowError::new(
                    "a repeated header row (were exports joined end to end?); not a record",
                ),
            ));
        } else {
            one(Record::Csv(row), number, line, cx, out);
        }
    };
    match batch {
        Batch::Csv {
            index,
            first_record,
            rows,
            framing,
        } => {
            out.index = index;
            let taken: std::collections::HashSet<u64> = framing.iter().map(|f| f.0).collect();
            out.rejects.extend(framing);
            let mut numbers = (first_record..).filter(|n| !taken.contains(n));
            out.events.reserve(rows.len());
            let mut cells: Vec<&str> = Vec::new();
            for i in 0..rows.len() {
                let number = numbers.next().unwrap_or(first_record);
                let line = rows.rows[i].1;
                cells.clear();
                let valid = rows.cells(i).all(|bytes| match std::str::from_utf8(bytes) {
                    Ok(s) => {
                        cells.push(s);
                        true
                    }
                    Err(_) => false,
                });
                if !valid {
                    cx.note(Note::InvalidUtf8);
                    let lossy: Vec<String> = rows
                        .cells(i)
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .collect();
                    let lossy_cells: Vec<&str> = lossy.iter().map(String::as_str).collect();
                    decode_row(&Row::new(&lossy_cells), number, line, &mut cx, &mut out);
                    continue;
                }
                decode_row(&Row::new(&cells), number, line, &mut cx, &mut out);
            }
            drop(cells);
            let mut rows = rows;
            rows.bytes.clear();
            rows.cell_ends.clear();
            rows.rows.clear();
            // The reader may have finished: then the buffer is simply freed.
            let _ = recycle.try_send(rows);
        }
        Batch::Json {
            index,
            first_record,
            text,
            items,
            framing,
        } => {
            out.index = index;
            // Record numbers run over records and framing rejects together, in file order.
            let taken: std::collections::HashSet<u64> = framing.iter().map(|f| f.0).collect();
            out.rejects.extend(framing);
            let mut numbers = (first_record..).filter(|n| !taken.contains(n));
            for (start, end, line) in items.into_iter() {
                let number = numbers.next().unwrap_or(first_record);
                let bytes = &text[start..end];
                match std::str::from_utf8(bytes) {
                    Ok(s) => one(Record::Json(s), number, line, &mut cx, &mut out),
                    Err(_) => {
                        cx.note(Note::InvalidUtf8);
                        let s = String::from_utf8_lossy(bytes).into_owned();
                        one(Record::Json(&s), number, line, &mut cx, &mut out);
                    }
                }
            }
        }
    }
    out.rejects.sort_by_key(|r| (r.0, r.1));
    out.day_first = cx.day_first;
    out.month_first = cx.month_first;
    out.notes = cx.notes;
    out
}

fn is_repeated_header(row: &Row, header: Option<&[String]>) -> bool {
    let Some(header) = header else { return false };
    if row.len() != header.len() || row.len() < 2 {
        return false;
    }
    // Cheap test on the first cell before normalizing every cell.
    let first = row
        .get(0)
        .unwrap_or("")
        .trim_start_matches('\u{feff}')
        .trim()
        .trim_matches('"');
    first.eq_ignore_ascii_case(&header[0])
        && row.iter().zip(header).all(|(c, h)| normalize_name(c) == *h)
}
