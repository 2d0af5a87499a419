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
    pub rejects: Vec<Reject>,
    pub warnings: Vec<String>,
}

enum Batch {
    Csv {
        index: u64,
        first_record: u64,
        rows: CsvRows,
    },
    Json {
        index: u64,
        first_record: u64,
        text: Vec<u8>,
        items: Vec<(usize, usize, u64)>,
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
    /// Framing-level problems (JSON garbage, truncation), as rejects or file warnings.
    rejects: Vec<(u64, u64, RowError)>,
    warnings: Vec<String>,
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
    let file_name = file.file_name().to_string();
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
        let outputs = decode_all(id, opts.date_order, &plan_rx, batch_rx, &recycle_tx);
        let end = reader.join().unwrap_or_else(|_| ReaderEnd {
            error: Some("internal error: the reader thread panicked".into()),
            ..ReaderEnd::default()
        });
        (end, outputs)
    });
    let sha256 = match &file.container {
        Container::Zip { .. } => None,
        _ => digest.lock().ok().and_then(|d| d.clone()),
    };
    let mut read = FileRead {
        sha256,
        encoding: end.encoding,
        variant: outputs.as_ref().map(|(v, _)| *v),
        error: end.error,
        rows: end.rows,
        events: Vec::new(),
        rejects: Vec::new(),
        warnings: end.warnings,
    };
    for (record, line, err) in end.rejects {
        read.rejects
            .push(Reject::new(id, &file.display, record, line, err));
    }
    if let Some((_, outputs)) = outputs {
        merge(id, &file.display, opts.date_order, outputs, &mut read);
    }
    read.rejects.sort_by_key(|r| (r.record, r.line));
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
            warnings: Vec::new(),
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
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text);
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
    let mut first_record = 1;
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {
                // The csv crate counts lines from 0 before the record; people count from 1.
                let line = record.position().map_or(0, |p| p.line()) + 1 + skipped;
                end.rows += 1;
                rows.push(&record, line);
                if rows.len() == BATCH_RECORDS {
                    let next = recycled.try_recv().unwrap_or_default();
                    let full = std::mem::replace(&mut rows, next);
                    let batch = Batch::Csv {
                        index,
                        first_record,
                        rows: full,
                    };
                    if batch_tx.send(batch).is_err() {
                        return;
                    }
                    index += 1;
                    first_record = end.rows + 1;
                }
            }
            Ok(false) => break,
            Err(e) => {
                end.rows += 1;
                let line = e.position().map_or(0, |p| p.line()) + 1 + skipped;
                end.rejects.push((
                    end.rows,
                    line,
                    RowError::new(format!("CSV row cannot be read: {e}")),
                ));
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                ) {
                    end.warnings
                        .push(format!("reading stopped at line {line}: {e}"));
                    break;
                }
            }
        }
    }
    if rows.len() > 0 {
        let _ = batch_tx.send(Batch::Csv {
            index,
            first_record,
            rows,
        });
    }
}

fn frame_json(
    text: Box<dyn BufRead + Send>,
    plan_tx: &SyncSender<Arc<Plan>>,
    batch_tx: &SyncSender<Batch>,
    end: &mut ReaderEnd,
) {
    let mut splitter = JsonSplitter::new(text);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut items: Vec<(usize, usize, u64)> = Vec::new();
    let mut planned = false;
    let mut index = 0;
    let mut first_record = 1;
    loop {
        let item = match splitter.next_into(&mut buf) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                end.warnings.push(format!("reading stopped: {e}"));
                break;
            }
        };
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
                    }
                } else {
                    end.rows += 1;
                    items.push((start, stop, line));
                }
            }
            JsonItem::Garbage { line, found } => {
                end.rows += 1;
                end.rejects.push((
                    end.rows,
                    line,
                    RowError::new(format!("not JSON where a record should start: {found:?}")),
                ));
                continue;
            }
            JsonItem::Truncated {
                line,
                inside_record,
            } => {
                if inside_record {
                    end.rows += 1;
                    end.rejects.push((
                        end.rows,
                        line,
                        RowError::new(
                            "the file ends inside this JSON record: the file is truncated",
                        ),
                    ));
                } else {
                    end.warnings.push(format!("the JSON array opened on line {line} is never closed: the file is probably truncated"));
                }
                continue;
            }
        }
        if !planned {
            let Some(&(s, e, _)) = items.first() else {
                continue;
            };
            let Ok(first) = std::str::from_utf8(&buf[s..e]) else {
                end.error = Some("the first JSON record is not valid UTF-8 text".into());
                return;
            };
            let Some(detected) = detect::detect_json(first) else {
                end.error = Some(format!(
                    "not a recognised export: expected {}; the first record starts {:?}",
                    detect::JSON_EXPECTED,
                    crate::normalize::truncate(first, 120)
                ));
                return;
            };
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
        }
        if items.len() >= BATCH_RECORDS {
            let batch = Batch::Json {
                index,
                first_record,
                text: std::mem::take(&mut buf),
                items: std::mem::take(&mut items),
            };
            if batch_tx.send(batch).is_err() {
                return;
            }
            index += 1;
            first_record = end.rows + 1;
            buf.reserve(1 << 20);
        }
    }
    if !planned {
        if end.error.is_none() {
            end.error = Some("no JSON records found".into());
        }
        return;
    }
    if !items.is_empty() {
        let _ = batch_tx.send(Batch::Json {
            index,
            first_record,
            text: buf,
            items,
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

/// Decodes every batch in parallel; `None` when the reader never detected a variant.
fn decode_all(
    id: FileId,
    order: DateOrder,
    plan_rx: &Receiver<Arc<Plan>>,
    batches: Receiver<Batch>,
    recycle: &SyncSender<CsvRows>,
) -> Option<(Variant, Vec<Decoded>)> {
    let Ok(plan) = plan_rx.recv() else {
        // Drain so the reader never blocks on a full channel.
        for _ in batches.iter() {}
        return None;
    };
    let mut outputs: Vec<Decoded> = batches
        .into_iter()
        .par_bridge()
        .map(|batch| decode_batch(id, order, &plan, batch, recycle))
        .collect();
    outputs.sort_by_key(|d| d.index);
    Some((plan.detected.variant, outputs))
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
        } => {
            out.index = index;
            out.events.reserve(rows.len());
            let mut cells: Vec<&str> = Vec::new();
            for i in 0..rows.len() {
                let number = first_record + i as u64;
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
        } => {
            out.index = index;
            for (i, (start, end, line)) in items.into_iter().enumerate() {
                let number = first_record + i as u64;
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

/// Puts decoded batches back in file order and settles day/month order for the file.
fn merge(id: FileId, path: &str, order: DateOrder, outputs: Vec<Decoded>, read: &mut FileRead) {
    let day_first: u64 = outputs.iter().map(|o| o.day_first).sum();
    let month_first: u64 = outputs.iter().map(|o| o.month_first).sum();
    let ambiguous: usize = outputs.iter().map(|o| o.alternatives.len()).sum();
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
    let mut notes: BTreeMap<Note, u64> = BTreeMap::new();
    read.events
        .reserve_exact(outputs.iter().map(|o| o.events.len()).sum());
    for o in outputs {
        let mut events = o.events;
        if use_day_first {
            for (i, alt) in o.alternatives {
                events[i].time = alt;
            }
        }
        read.events.append(&mut events);
        for (record, line, err) in o.rejects {
            read.rejects.push(Reject::new(id, path, record, line, err));
        }
        for (n, c) in o.notes {
            *notes.entry(n).or_insert(0) += c;
        }
    }
    for (note, count) in notes {
        read.warnings.push(format!("{count} {}", note.describe()));
    }
}
