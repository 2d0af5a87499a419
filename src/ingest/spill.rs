//! Spill files: events written to disk as they are decoded, one bucket per range of account
//! names, so that evidence larger than memory can be analysed one group of accounts at a time
//! (`analyze --memory-budget`, src/stages/partitioned.rs).
//!
//! An event goes to the bucket of every account whose timeline it belongs to (its actor, a
//! message's recipient, a directory change's targets: [`Event::subjects`]), as the groups of a
//! staged run hold it (docs/stages.md). Buckets follow the names' byte order, so groups of
//! adjacent buckets are ranges of names, and the case files can be written group after group in
//! the order the in-memory path writes them.
//!
//! The files are breachline's own (postcard-encoded records, each after its length) and live
//! in a temporary folder that is removed when the run ends.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Event, FileId};
use rustc_hash::FxHashMap;

/// Classes of a name's first byte: bytes below `0`, each digit, the bytes between `9` and `a`,
/// each lower-case letter, the bytes above `z`.
const FIRST: usize = 39;
/// Classes of the second byte, in the same order but coarser: letters three at a time.
const SECOND: usize = 13;
/// How many buckets there are.
pub const BUCKETS: usize = FIRST * SECOND;

/// The class of a name's first byte, and whether the class holds that byte alone.
fn first_class(b: u8) -> (usize, bool) {
    match b {
        0..=b'/' => (0, false),
        b'0'..=b'9' => (1 + usize::from(b - b'0'), true),
        b':'..=b'`' => (11, false),
        b'a'..=b'z' => (12 + usize::from(b - b'a'), true),
        _ => (38, false),
    }
}

fn second_class(b: Option<u8>) -> usize {
    match b {
        None | Some(0..=b'/') => 0,
        Some(b'0'..=b'9') => 1,
        Some(b':'..=b'`') => 2,
        Some(b @ b'a'..=b'z') => 3 + usize::from(b - b'a') / 3,
        Some(_) => 12,
    }
}

/// The bucket of an account name, in any case (ASCII letters are compared lower-cased, as
/// [`Event::subjects`] gives names). Monotone: a lower-case name that sorts before another
/// (byte order) never has a higher bucket. The second byte only splits a first byte that has a
/// class of its own, which keeps it so.
pub fn bucket_of(user: &str) -> usize {
    let b = user.as_bytes();
    let Some(&first) = b.first() else { return 0 };
    let (class, alone) = first_class(first.to_ascii_lowercase());
    let second = if alone {
        second_class(b.get(1).map(u8::to_ascii_lowercase))
    } else {
        0
    };
    class * SECOND + second
}

/// One spilled event: the file it was read from (for a breachline Parquet file read back, its
/// events' `origin.file` names a raw export instead), the day-first reading of an ambiguous
/// date, and the event.
#[derive(Serialize)]
struct SpilledRef<'a> {
    read: FileId,
    #[serde(with = "option_time")]
    alternative: Option<DateTime<Utc>>,
    event: &'a Event,
}

/// [`SpilledRef`] read back.
#[derive(Deserialize)]
pub struct Spilled {
    pub read: FileId,
    #[serde(with = "option_time")]
    pub alternative: Option<DateTime<Utc>>,
    pub event: Event,
}

mod option_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        t.map(|t| (t.timestamp(), t.timestamp_subsec_nanos()))
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match <Option<(i64, u32)>>::deserialize(d)? {
            None => Ok(None),
            Some((secs, nanos)) => DateTime::from_timestamp(secs, nanos)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("time out of range")),
        }
    }
}

/// The buckets being written during ingest.
pub struct Spill {
    dir: tempfile::TempDir,
    buckets: Vec<Mutex<Option<BufWriter<std::fs::File>>>>,
    bytes: Vec<AtomicU64>,
    /// Bytes spilled per account name (an event counts for each account it belongs to).
    names: Mutex<FxHashMap<String, u64>>,
    /// Buckets split into a file per group.
    split_buckets: Mutex<Vec<usize>>,
    error: Mutex<Option<String>>,
}

/// A range of account names (lower case): from `from`, up to `to` (excluded; no end when
/// `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRange {
    pub from: String,
    pub to: Option<String>,
}

impl NameRange {
    /// Whether the name (ASCII letters in any case) is in the range.
    pub fn contains(&self, name: &str) -> bool {
        let lower = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(name.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(name)
        };
        *lower >= *self.from && self.to.as_deref().is_none_or(|t| *lower < *t)
    }

    /// The buckets its names can be in.
    pub fn buckets(&self) -> std::ops::RangeInclusive<usize> {
        bucket_of(&self.from)..=self.to.as_deref().map_or(BUCKETS - 1, bucket_of)
    }
}

/// Cuts the names (with their spilled bytes) into ranges in name order whose bytes add up to
/// at most `per_group` (a name larger than that alone); the ranges cover every name there is.
pub fn plan(names: &[(String, u64)], per_group: u64) -> Vec<NameRange> {
    let mut sorted: Vec<&(String, u64)> = names.iter().collect();
    sorted.sort();
    let mut starts: Vec<String> = vec![String::new()];
    let mut bytes = 0u64;
    for (name, size) in sorted {
        if bytes > 0 && bytes + size > per_group {
            starts.push(name.clone());
            bytes = 0;
        }
        bytes += size;
    }
    let mut ranges: Vec<NameRange> = Vec::with_capacity(starts.len());
    for (i, from) in starts.iter().enumerate() {
        ranges.push(NameRange {
            from: from.clone(),
            to: starts.get(i + 1).cloned(),
        });
    }
    ranges
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("dir", &self.dir.path())
            .finish()
    }
}

/// Appends one length-prefixed record to `out`.
fn frame_record(out: &mut Vec<u8>, value: &impl Serialize) -> Result<(), String> {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut body = postcard::to_extend(value, std::mem::take(out)).map_err(|e| e.to_string())?;
    let len = u32::try_from(body.len() - at - 4).map_err(|_| "an event over 4 GB".to_string())?;
    body[at..at + 4].copy_from_slice(&len.to_le_bytes());
    *out = body;
    Ok(())
}

/// Reads the records of one file in order; `None` at its end.
pub struct Records<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> Records<R> {
    pub fn new(inner: R) -> Records<R> {
        Records {
            inner,
            buf: Vec::new(),
        }
    }

    /// The next record's bytes.
    pub fn read_raw(&mut self) -> std::io::Result<Option<&[u8]>> {
        let mut len = [0u8; 4];
        match self.inner.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        self.buf.resize(u32::from_le_bytes(len) as usize, 0);
        self.inner.read_exact(&mut self.buf)?;
        Ok(Some(&self.buf))
    }
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8]) -> std::io::Result<T> {
    postcard::from_bytes(raw)
        .map_err(|e| std::io::Error::other(format!("a spill file is damaged: {e}")))
}

impl Spill {
    /// A temporary folder for the buckets inside `work_dir`.
    pub fn new(work_dir: &Path) -> std::io::Result<Spill> {
        std::fs::create_dir_all(work_dir)?;
        let dir = tempfile::Builder::new()
            .prefix("breachline-spill-")
            .tempdir_in(work_dir)?;
        Ok(Spill {
            dir,
            buckets: (0..BUCKETS).map(|_| Mutex::new(None)).collect(),
            bytes: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            names: Mutex::new(FxHashMap::default()),
            split_buckets: Mutex::new(Vec::new()),
            error: Mutex::new(None),
        })
    }

    /// The folder the spill files are in (removed when the spill is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, bucket: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("bucket-{bucket:04}.bin"))
    }

    /// Writes a run of one file's events (in record order); `alternatives[i]` is the day-first
    /// time of `events[i]` when its date was ambiguous. A failure is kept and reported by
    /// [`Spill::error`]: the run cannot be complete without every event.
    pub fn write(&self, read: FileId, events: &[Event], alternatives: &[Option<DateTime<Utc>>]) {
        let mut out: Vec<Vec<u8>> = vec![Vec::new(); BUCKETS];
        let mut record = Vec::new();
        let mut targets: Vec<usize> = Vec::with_capacity(4);
        let mut names: FxHashMap<String, u64> = FxHashMap::default();
        let mut seen: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(4);
        for (i, event) in events.iter().enumerate() {
            record.clear();
            let spilled = SpilledRef {
                read,
                alternative: alternatives.get(i).copied().flatten(),
                event,
            };
            if let Err(e) = frame_record(&mut record, &spilled) {
                self.fail(e);
                return;
            }
            targets.clear();
            seen.clear();
            for (user, _) in event.subjects() {
                let b = bucket_of(&user);
                if !targets.contains(&b) {
                    targets.push(b);
                }
                if !seen.contains(&user) {
                    match names.get_mut(&*user) {
                        Some(n) => *n += record.len() as u64,
                        None => {
                            names.insert(user.to_string(), record.len() as u64);
                        }
                    }
                    seen.push(user);
                }
            }
            for b in &targets {
                out[*b].extend_from_slice(&record);
            }
        }
        if let Ok(mut all) = self.names.lock() {
            for (name, n) in names {
                *all.entry(name).or_insert(0) += n;
            }
        }
        for (b, bytes) in out.into_iter().enumerate() {
            if bytes.is_empty() {
                continue;
            }
            let Ok(mut slot) = self.buckets[b].lock() else {
                self.fail("a spill writer panicked".into());
                return;
            };
            if slot.is_none() {
                match std::fs::File::create(self.path(b)) {
                    Ok(f) => *slot = Some(BufWriter::with_capacity(1 << 15, f)),
                    Err(e) => {
                        self.fail(format!("cannot create {}: {e}", self.path(b).display()));
                        return;
                    }
                }
            }
            if let Some(w) = slot.as_mut() {
                if let Err(e) = w.write_all(&bytes) {
                    self.fail(format!("cannot write {}: {e}", self.path(b).display()));
                    return;
                }
            }
            self.bytes[b].fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    }

    fn fail(&self, why: String) {
        if let Ok(mut e) = self.error.lock() {
            e.get_or_insert(why);
        }
    }

    /// Flushes and closes every bucket; the first write error, if any.
    pub fn finish(&self) -> Result<(), String> {
        for b in &self.buckets {
            if let Ok(mut slot) = b.lock() {
                if let Some(mut w) = slot.take() {
                    if let Err(e) = w.flush() {
                        self.fail(format!("cannot write a spill file: {e}"));
                    }
                }
            }
        }
        match self.error.lock() {
            Ok(e) => e.clone().map_or(Ok(()), Err),
            Err(_) => Err("a spill writer panicked".into()),
        }
    }

    /// Every account name with the bytes spilled for it.
    pub fn names(&self) -> Vec<(String, u64)> {
        self.names
            .lock()
            .map(|n| n.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    fn split_path(&self, bucket: usize, group: usize) -> std::path::PathBuf {
        self.dir
            .path()
            .join(format!("bucket-{bucket:04}-group-{group:04}.bin"))
    }

    /// Splits every bucket that more than one of the `groups` needs into a file per group, so
    /// that each group reads only its share. Each event goes to the groups of its accounts
    /// whose names are in the bucket. Read a block at a time, decoded in parallel.
    pub fn split(&self, groups: &[NameRange]) -> std::io::Result<()> {
        use rayon::prelude::*;
        const BLOCK: usize = 64 << 20;
        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); BUCKETS];
        for (g, range) in groups.iter().enumerate() {
            for b in range.buckets() {
                needs[b].push(g);
            }
        }
        let group_of = |name: &str| -> usize {
            groups
                .partition_point(|r| *r.from <= *name)
                .saturating_sub(1)
        };
        for (b, wanting) in needs.iter().enumerate() {
            if wanting.len() < 2 || self.bytes[b].load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut writers: BTreeMap<usize, BufWriter<std::fs::File>> = BTreeMap::new();
            let file = std::fs::File::open(self.path(b))?;
            let mut records = Records::new(BufReader::with_capacity(1 << 16, file));
            loop {
                let mut block = Vec::with_capacity(BLOCK + (1 << 16));
                while block.len() < BLOCK {
                    let Some(raw) = records.read_raw()? else {
                        break;
                    };
                    block.extend_from_slice(&(raw.len() as u32).to_le_bytes());
                    block.extend_from_slice(raw);
                }
                if block.is_empty() {
                    break;
                }
                let spans = record_spans(&block)?;
                let targets: Vec<Vec<usize>> = spans
                    .par_iter()
                    .map(|r| {
                        let s: Spilled = decode(&block[r.clone()])?;
                        let mut to: Vec<usize> = s
                            .event
                            .subjects()
                            .filter(|(u, _)| bucket_of(u) == b)
                            .map(|(u, _)| group_of(&u))
                            .collect();
                        to.sort_unstable();
                        to.dedup();
                        Ok(to)
                    })
                    .collect::<std::io::Result<_>>()?;
                for (r, to) in spans.iter().zip(targets) {
                    for g in to {
                        let w = match writers.entry(g) {
                            std::collections::btree_map::Entry::Occupied(w) => w.into_mut(),
                            std::collections::btree_map::Entry::Vacant(slot) => {
                                slot.insert(BufWriter::with_capacity(
                                    1 << 16,
                                    std::fs::File::create(self.split_path(b, g))?,
                                ))
                            }
                        };
                        w.write_all(&block[r.start - 4..r.end])?;
                    }
                }
            }
            for (_, mut w) in writers {
                w.flush()?;
            }
            std::fs::remove_file(self.path(b))?;
            self.split_buckets
                .lock()
                .map_err(|_| std::io::Error::other("a spill writer panicked"))?
                .push(b);
        }
        Ok(())
    }

    /// Every event of group `g` (its names `range`), as spilled, each once though it may be
    /// in several buckets. The files only this group needs are removed once read (a bucket no
    /// other group needs, this group's share of a split one), so the spill folder does not
    /// hold the evidence twice while the groups are stored sorted.
    pub fn take(&self, g: usize, range: &NameRange) -> std::io::Result<Vec<Spilled>> {
        let split: Vec<usize> = self
            .split_buckets
            .lock()
            .map_err(|_| std::io::Error::other("a spill writer panicked"))?
            .clone();
        let mut out = Vec::new();
        for b in range.buckets() {
            if self.bytes[b].load(Ordering::Relaxed) == 0 {
                continue;
            }
            let path = if split.contains(&b) {
                self.split_path(b, g)
            } else {
                self.path(b)
            };
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                // A split bucket with nothing for this group.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && split.contains(&b) => {
                    continue
                }
                Err(e) => return Err(e),
            };
            let decoded: Vec<Spilled> = decode_file(&bytes)?;
            drop(bytes);
            std::fs::remove_file(&path)?;
            // Taken from the first bucket among its accounts of this group.
            out.extend(decoded.into_iter().filter(|s| {
                s.event
                    .subjects()
                    .filter(|(u, _)| range.contains(u))
                    .map(|(u, _)| bucket_of(&u))
                    .min()
                    == Some(b)
            }));
        }
        Ok(out)
    }

    /// Writes events to a file of the spill folder (a group's events once sorted), encoded in
    /// parallel.
    pub fn store(&self, name: &str, events: &[Event]) -> std::io::Result<()> {
        use rayon::prelude::*;
        let blocks: Vec<Vec<u8>> = events
            .par_chunks(4096)
            .map(|chunk| {
                let mut out = Vec::new();
                for e in chunk {
                    frame_record(&mut out, e).map_err(std::io::Error::other)?;
                }
                Ok(out)
            })
            .collect::<std::io::Result<_>>()?;
        let mut w =
            BufWriter::with_capacity(1 << 16, std::fs::File::create(self.dir().join(name))?);
        for b in blocks {
            w.write_all(&b)?;
        }
        w.flush()
    }

    /// Reads back what [`Spill::store`] wrote.
    pub fn stored(&self, name: &str) -> std::io::Result<Vec<Event>> {
        decode_file(&std::fs::read(self.dir().join(name))?)
    }
}

/// Where each record of a spill file's bytes is.
fn record_spans(bytes: &[u8]) -> std::io::Result<Vec<std::ops::Range<usize>>> {
    let damaged = || std::io::Error::other("a spill file is damaged: a record runs past its end");
    let mut spans = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(damaged)?;
        let start = at + 4;
        let end = start + u32::from_le_bytes(len) as usize;
        if end > bytes.len() {
            return Err(damaged());
        }
        spans.push(start..end);
        at = end;
    }
    Ok(spans)
}

/// Every record of a spill file's bytes, decoded in parallel, in order.
fn decode_file<T: serde::de::DeserializeOwned + Send>(bytes: &[u8]) -> std::io::Result<Vec<T>> {
    use rayon::prelude::*;
    record_spans(bytes)?
        .into_par_iter()
        .map(|r| decode(&bytes[r]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Source;

    #[test]
    fn buckets_follow_the_order_of_names() {
        let mut names: Vec<String> = Vec::new();
        let alphabet: Vec<char> = "!-.09:@_`abcmxyz{~é".chars().collect();
        for a in &alphabet {
            names.push(a.to_string());
            for b in &alphabet {
                names.push(format!("{a}{b}"));
                names.push(format!("{a}{b}zz"));
            }
        }
        names.push(String::new());
        names.sort();
        for pair in names.windows(2) {
            assert!(
                bucket_of(&pair[0]) <= bucket_of(&pair[1]),
                "{:?} sorts before {:?} but has a higher bucket",
                pair[0],
                pair[1]
            );
        }
        assert!(names.iter().all(|n| bucket_of(n) < BUCKETS));
        // Names of one tenant spread over many buckets.
        let spread: std::collections::BTreeSet<usize> =
            ["adele", "alex", "bob", "carol", "megan", "mike", "zoe"]
                .iter()
                .map(|n| bucket_of(n))
                .collect();
        assert_eq!(spread.len(), 7);
    }

    #[test]
    fn groups_are_ranges_of_names_within_the_budget() {
        let names: Vec<(String, u64)> = [
            ("carol", 5),
            ("alice", 5),
            ("bob", 20),
            ("dan", 1),
            ("eve", 1),
        ]
        .iter()
        .map(|(n, b)| (n.to_string(), *b))
        .collect();
        let ranges = plan(&names, 10);
        let from: Vec<&str> = ranges.iter().map(|r| r.from.as_str()).collect();
        assert_eq!(from, ["", "bob", "carol"]);
        assert_eq!(ranges[0].to.as_deref(), Some("bob"));
        assert_eq!(ranges[2].to, None);
        assert!(ranges[0].contains("Alice") && !ranges[0].contains("bob"));
        assert!(ranges[2].contains("zed") && ranges[2].contains("carol"));
        assert_eq!(plan(&names, 1000).len(), 1);
        assert_eq!(plan(&[], 1).len(), 1, "no names: one group");
    }

    #[test]
    fn spilled_events_come_back_whole_and_once_per_range() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path()).unwrap();
        let t = crate::normalize::time::parse_iso("2024-05-01T10:00:00.123456789Z").unwrap();
        let mut mail = Event::new(
            t,
            Source::Messagetrace,
            "alice@contoso.com".into(),
            "Message".into(),
        );
        mail.attrs
            .push(("recipient".into(), "Zed@Fabrikam.com".into()));
        mail.ip = "203.0.113.9".parse().ok();
        mail.origin.record = 7;
        let alone = Event::new(t, Source::Audit, "bob@contoso.com".into(), "Send".into());
        // Alex shares alice's bucket (both start "al").
        let alex = Event::new(t, Source::Audit, "alex@contoso.com".into(), "Send".into());
        assert_eq!(
            bucket_of("alex@contoso.com"),
            bucket_of("alice@contoso.com")
        );
        let events = [mail.clone(), alone.clone(), alex.clone()];
        spill.write(3, &events, &[Some(t), None, None]);
        spill.finish().unwrap();
        let everyone = NameRange {
            from: String::new(),
            to: None,
        };
        let all = spill.take(0, &everyone).unwrap();
        assert_eq!(all.len(), 3, "the mail is in two buckets but loads once");
        let back = all.iter().find(|s| s.event.origin.record == 7).unwrap();
        assert_eq!(back.event, mail);
        assert_eq!((back.read, back.alternative), (3, Some(t)));
        let files = |dir: &Path| std::fs::read_dir(dir).unwrap().count();
        assert_eq!(files(spill.dir()), 0, "files read are removed");

        // A group per account: alice's bucket is split between alex's group and hers; the
        // recipient's holds only the copy of the mail.
        let spill = Spill::new(dir.path()).unwrap();
        spill.write(3, &events, &[Some(t), None, None]);
        spill.finish().unwrap();
        let ranges = plan(&spill.names(), 1);
        let from: Vec<&str> = ranges.iter().map(|r| r.from.as_str()).collect();
        assert_eq!(
            from,
            [
                "",
                "alice@contoso.com",
                "bob@contoso.com",
                "zed@fabrikam.com"
            ]
        );
        spill.split(&ranges).unwrap();
        let got = |g: usize| -> Vec<Event> {
            spill
                .take(g, &ranges[g])
                .unwrap()
                .into_iter()
                .map(|s| s.event)
                .collect()
        };
        assert_eq!(got(0), vec![alex]);
        assert_eq!(got(1), vec![mail.clone()]);
        assert_eq!(got(2), vec![alone.clone()]);
        assert_eq!(got(3), vec![mail.clone()]);
        assert_eq!(files(spill.dir()), 0);
        spill
            .store("group.bin", &[alone.clone(), mail.clone()])
            .unwrap();
        assert_eq!(spill.stored("group.bin").unwrap(), vec![alone, mail]);
    }
}
