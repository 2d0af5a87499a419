//! Opening an evidence file for reading: the bytes on disk are hashed (SHA-256, for chain of
//! custody) as they stream past, decompressed if needed, and decoded to UTF-8 text.
//!
//! Encodings (docs/formats.md, "Text"): UTF-8 with or without BOM, UTF-16 LE/BE with a BOM, UTF-16
//! without a BOM (zero bytes at odd or even offsets), and Windows-1252 when the text is not UTF-8.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::ingest::discover::{Container, EvidenceFile};

/// Reads from `inner`, hashing every byte and counting progress.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    progress: Option<indicatif::ProgressBar>,
    /// The first read error: the digest then covers only part of the file and is not published.
    failed: Option<String>,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, progress: Option<indicatif::ProgressBar>) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            progress,
            failed: None,
        }
    }

    /// The SHA-256 of every byte read, or why it is not the file's hash (a read failed).
    pub fn finish(self) -> Result<String, String> {
        match self.failed {
            Some(why) => Err(format!(
                "reading failed after {} bytes ({why}): the SHA-256 would not cover the whole file",
                self.bytes
            )),
            None => Ok(format!("{:x}", self.hasher.finalize())),
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(why) = &self.failed {
            return Err(io::Error::other(why.clone()));
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                self.failed = Some(e.to_string());
                return Err(e);
            }
        };
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        if let Some(p) = &self.progress {
            p.inc(n as u64);
        }
        Ok(n)
    }
}

/// The digest of the file on disk, filled in when reading ends (the rest of the file is read
/// first if decoding stopped early, so the hash always covers the whole file); `Err` with the
/// reason when a read failed, so a partial hash is never published as the file's.
pub type DigestSlot = Arc<Mutex<Option<Result<String, String>>>>;

/// A hashing reader that publishes its digest when dropped.
struct Finishing<R: Read> {
    reader: Option<HashingReader<R>>,
    slot: DigestSlot,
}

impl<R: Read> Read for Finishing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.reader {
            Some(r) => r.read(buf),
            None => Ok(0),
        }
    }
}

impl<R: Read> Drop for Finishing<R> {
    fn drop(&mut self) {
        if let Some(mut r) = self.reader.take() {
            // A failure here is recorded in `r` and turns the digest into an error.
            let _ = io::copy(&mut r, &mut io::sink());
            if let Ok(mut slot) = self.slot.lock() {
                *slot = Some(r.finish());
            }
        }
    }
}

/// SHA-256 of a whole file (used for archives, whose entries are read separately).
pub fn hash_file(path: &std::path::Path) -> io::Result<String> {
    let mut r = HashingReader::new(File::open(path)?, None);
    io::copy(&mut r, &mut io::sink())?;
    r.finish().map_err(io::Error::other)
}

/// Opens the raw (decompressed) bytes of an evidence file. For plain and gzip files the digest
/// of the file on disk lands in the returned slot once the reader is dropped.
pub fn open_bytes(
    file: &EvidenceFile,
    progress: Option<indicatif::ProgressBar>,
) -> io::Result<(Box<dyn Read + Send>, DigestSlot)> {
    let slot: DigestSlot = Arc::new(Mutex::new(None));
    match &file.container {
        Container::Plain => {
            let r = Finishing {
                reader: Some(HashingReader::new(File::open(&file.path)?, progress)),
                slot: slot.clone(),
            };
            Ok((Box::new(r), slot))
        }
        Container::Gzip => {
            let r = Finishing {
                reader: Some(HashingReader::new(File::open(&file.path)?, progress)),
                slot: slot.clone(),
            };
            let limit = decompressed_limit(file.size);
            let r = Limited::new(
                flate2::read::MultiGzDecoder::new(r),
                limit,
                file.display.clone(),
            );
            Ok((Box::new(r), slot))
        }
        Container::Unreadable { reason } => Err(io::Error::other(reason.clone())),
        Container::Zip { member, .. } => {
            let r = zip_member(&file.path, member, &file.display)?;
            if let Some(p) = progress {
                p.inc(file.size);
            }
            Ok((r, slot))
        }
        Container::Stream => {
            let r = Finishing {
                reader: Some(HashingReader::new(File::open(&file.path)?, progress)),
                slot: slot.clone(),
            };
            let mut r = BufReader::new(r);
            let head = r.fill_buf()?;
            if head.starts_with(&[0x1f, 0x8b]) {
                return Ok((Box::new(flate2::read::MultiGzDecoder::new(r)), slot));
            }
            if head.starts_with(b"PK\x03\x04") {
                return Err(io::Error::other(
                    "a zip archive arriving through a pipe cannot be read (a zip needs its directory at the end): save it to a file first",
                ));
            }
            Ok((Box::new(r), slot))
        }
    }
}

/// The most a compressed member (a zip entry, a `.gz` file) may expand to: 100 times its
/// compressed size, and never less than 1 GiB. Exports compress 5 to 30 times; more is a zip bomb.
pub const MAX_RATIO: u64 = 100;
pub const MIN_DECOMPRESSED_LIMIT: u64 = 1 << 30;

pub fn decompressed_limit(compressed: u64) -> u64 {
    compressed
        .saturating_mul(MAX_RATIO)
        .max(MIN_DECOMPRESSED_LIMIT)
}

/// Stops a decompressing reader past `limit` bytes with an error naming the member.
pub struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
    name: String,
}

impl<R> Limited<R> {
    pub fn new(inner: R, limit: u64, name: String) -> Self {
        Limited {
            inner,
            left: limit,
            limit,
            name,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a member of exactly the limit from a larger one.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            return Err(io::Error::other(format!(
                "{} expands to more than {} MiB ({} times its compressed size at most): reading stopped, as for a zip bomb",
                self.name,
                self.limit >> 20,
                MAX_RATIO
            )));
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Where a zip member's bytes are, read once from the archive's central directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZipMember {
    pub data_start: u64,
    pub compressed: u64,
    pub size: u64,
    pub crc32: u32,
    /// 0 stored, 8 deflated; anything else is not supported.
    pub method: u16,
    pub encrypted: bool,
}

/// Streams one zip member: the archive is opened, the member's bytes are read from their
/// offset and inflated as they are read (nothing buffered whole), checked against the CRC-32 at
/// the end and stopped past [`decompressed_limit`].
fn zip_member(
    path: &std::path::Path,
    m: &ZipMember,
    name: &str,
) -> io::Result<Box<dyn Read + Send>> {
    use std::io::{Seek, SeekFrom};
    if m.encrypted {
        return Err(io::Error::other(
            "an encrypted zip member: extract it with the password, then read the files",
        ));
    }
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(m.data_start))?;
    let raw = BufReader::with_capacity(1 << 16, f.take(m.compressed));
    let inflated: Box<dyn Read + Send> = match m.method {
        0 => Box::new(raw),
        8 => Box::new(flate2::read::DeflateDecoder::new(raw)),
        other => {
            return Err(io::Error::other(format!(
                "zip compression method {other} is not supported (stored and deflate are): extract the archive and read the files"
            )))
        }
    };
    let limit = decompressed_limit(m.compressed).max(m.size.min(decompressed_limit(m.compressed)));
    Ok(Box::new(CrcChecked {
        inner: Limited::new(inflated, limit, name.to_string()),
        crc: flate2::Crc::new(),
        expected: m.crc32,
        name: name.to_string(),
    }))
}

/// Checks a zip member's CRC-32 when its end is reached.
struct CrcChecked<R> {
    inner: R,
    crc: flate2::Crc,
    expected: u32,
    name: String,
}

impl<R: Read> Read for CrcChecked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.crc.sum() != self.expected {
            return Err(io::Error::other(format!(
                "{}: the CRC-32 does not match (the archive is damaged)",
                self.name
            )));
        }
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// The text encoding breachline found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
    Utf16BeBom,
    Utf16LeNoBom,
    Utf16BeNoBom,
    Windows1252,
}

impl TextEncoding {
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with BOM",
            TextEncoding::Utf16LeBom => "UTF-16LE with BOM",
            TextEncoding::Utf16BeBom => "UTF-16BE with BOM",
            TextEncoding::Utf16LeNoBom => "UTF-16LE without BOM",
            TextEncoding::Utf16BeNoBom => "UTF-16BE without BOM",
            TextEncoding::Windows1252 => "Windows-1252 (not valid UTF-8)",
        }
    }
}

/// Why a file cannot be read as text.
#[derive(Debug)]
pub enum TextError {
    Io(io::Error),
    Empty,
    Binary,
}

const SNIFF: usize = 8192;

/// Wraps raw bytes in a UTF-8 text reader, choosing the encoding from the first bytes.
pub fn open_text(
    mut raw: Box<dyn Read + Send>,
) -> Result<(Box<dyn BufRead + Send>, TextEncoding), TextError> {
    let mut head = vec![0u8; SNIFF];
    let mut n = 0;
    while n < SNIFF {
        match raw.read(&mut head[n..]).map_err(TextError::Io)? {
            0 => break,
            k => n += k,
        }
    }
    head.truncate(n);
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(TextError::Empty);
    }
    if looks_binary(&head) {
        return Err(TextError::Binary);
    }
    let encoding = sniff(&head);
    if encoding == TextEncoding::Utf8Bom {
        head.drain(..3);
    }
    let bytes = Cursor::new(head).chain(raw);
    let reader: Box<dyn BufRead + Send> = match encoding {
        TextEncoding::Utf8 => Box::new(BufReader::with_capacity(1 << 20, bytes)),
        TextEncoding::Utf8Bom => Box::new(BufReader::with_capacity(1 << 20, bytes)),
        other => {
            let enc = match other {
                TextEncoding::Utf16LeBom | TextEncoding::Utf16LeNoBom => encoding_rs::UTF_16LE,
                TextEncoding::Utf16BeBom | TextEncoding::Utf16BeNoBom => encoding_rs::UTF_16BE,
                _ => encoding_rs::WINDOWS_1252,
            };
            let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(enc))
                .bom_override(true)
                .build(bytes);
            Box::new(BufReader::with_capacity(1 << 20, decoder))
        }
    };
    Ok((reader, encoding))
}

fn sniff(head: &[u8]) -> TextEncoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return TextEncoding::Utf8Bom;
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return TextEncoding::Utf16LeBom;
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return TextEncoding::Utf16BeBom;
    }
    let sample = &head[..head.len().min(512)];
    let zeros_odd = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    let zeros_even = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let half = sample.len() / 2;
    if half > 0 && zeros_odd * 10 >= half * 7 && zeros_even * 10 < half {
        return TextEncoding::Utf16LeNoBom;
    }
    if half > 0 && zeros_even * 10 >= half * 7 && zeros_odd * 10 < half {
        return TextEncoding::Utf16BeNoBom;
    }
    match std::str::from_utf8(head) {
        Ok(_) => TextEncoding::Utf8,
        // A character cut by the end of the sample is still UTF-8.
        Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
        Err(_) => TextEncoding::Windows1252,
    }
}

/// True when the first bytes look like binary data rather than text in any supported encoding.
pub fn looks_binary(head: &[u8]) -> bool {
    let enc = sniff(head);
    matches!(enc, TextEncoding::Utf8 | TextEncoding::Windows1252) && head.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FailsAfter(usize);

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk went away"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(b'a');
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_while_hashing_publishes_no_hash() {
        let slot: DigestSlot = Arc::new(Mutex::new(None));
        {
            let mut r = Finishing {
                reader: Some(HashingReader::new(FailsAfter(10), None)),
                slot: slot.clone(),
            };
            let mut buf = [0u8; 4];
            r.read_exact(&mut buf).unwrap();
        }
        let got = slot.lock().unwrap().clone().unwrap();
        let why = got.unwrap_err();
        assert!(
            why.contains("disk went away") && why.contains("10 bytes"),
            "{why}"
        );
    }

    #[test]
    fn a_member_expanding_past_the_limit_is_stopped_naming_it() {
        let mut r = Limited::new(io::repeat(0).take(5000), 4096, "a.zip!/bomb.csv".into());
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("a.zip!/bomb.csv"), "{err}");
        // Exactly at the limit is fine.
        let mut r = Limited::new(io::repeat(0).take(4096), 4096, "x".into());
        assert_eq!(io::copy(&mut r, &mut io::sink()).unwrap(), 4096);
        assert_eq!(decompressed_limit(10), MIN_DECOMPRESSED_LIMIT);
        assert_eq!(decompressed_limit(100 << 20), 100 * (100 << 20));
    }
}
