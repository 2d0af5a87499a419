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
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, progress: Option<indicatif::ProgressBar>) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            progress,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        if let Some(p) = &self.progress {
            p.inc(n as u64);
        }
        Ok(n)
    }
}

/// The digest of the file on disk, filled in when reading ends (the rest of the file is read
/// first if decoding stopped early, so the hash always covers the whole file).
pub type DigestSlot = Arc<Mutex<Option<String>>>;

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
            let _ = io::copy(&mut r, &mut io::sink());
            let digest = format!("{:x}", r.hasher.finalize());
            if let Ok(mut slot) = self.slot.lock() {
                *slot = Some(digest);
            }
        }
    }
}

/// SHA-256 of a whole file (used for archives, whose entries are read separately).
pub fn hash_file(path: &std::path::Path) -> io::Result<String> {
    let mut r = HashingReader::new(File::open(path)?, None);
    io::copy(&mut r, &mut io::sink())?;
    Ok(format!("{:x}", r.hasher.finalize()))
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
            Ok((Box::new(flate2::read::MultiGzDecoder::new(r)), slot))
        }
        Container::Unreadable { reason } => Err(io::Error::other(reason.clone())),
        Container::Zip { entry } => {
            let mut archive =
                zip::ZipArchive::new(File::open(&file.path)?).map_err(io::Error::other)?;
            let mut data = Vec::new();
            archive
                .by_name(entry)
                .map_err(io::Error::other)?
                .read_to_end(&mut data)?;
            if let Some(p) = progress {
                p.inc(file.size);
            }
            Ok((Box::new(Cursor::new(data)), slot))
        }
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
