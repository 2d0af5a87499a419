//! Finding the evidence: folders walked recursively in name order, `.zip` archives and `.gz`
//! files recognised by their magic bytes and read in place, documentation and images skipped
//! (and listed, so nothing is skipped silently).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::ingest::IngestError;

/// How a file's bytes are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Container {
    Plain,
    Gzip,
    /// An entry of a zip archive, by its name inside the archive, with where its bytes are
    /// (read once from the archive's central directory).
    Zip {
        entry: String,
        member: crate::ingest::source::ZipMember,
    },
    /// A named pipe or other stream given on the command line (`/dev/stdin`, `<(...)`): read
    /// once, as it comes (gzip is recognised; a zip cannot be read from a pipe).
    Stream,
    /// Found but cannot be opened (permissions, a corrupt archive): reported as that file's error,
    /// while the rest of the evidence is read.
    Unreadable {
        reason: String,
    },
}

/// One evidence file to read.
#[derive(Clone, Debug)]
pub struct EvidenceFile {
    /// The file on disk (the archive, for a zip entry).
    pub path: PathBuf,
    /// How reports name it: the path, or `archive.zip!/entry.csv`.
    pub display: String,
    pub container: Container,
    /// Bytes on disk (compressed size for archive entries).
    pub size: u64,
    /// How it was found, when the investigator should know (a symbolic link followed).
    pub note: Option<String>,
}

impl EvidenceFile {
    /// The name the export had, for the one case where only the name tells (see detect.rs).
    pub fn file_name(&self) -> &str {
        match &self.container {
            Container::Zip { entry, .. } => entry.rsplit('/').next().unwrap_or(entry),
            _ => self.path.file_name().and_then(|n| n.to_str()).unwrap_or(""),
        }
    }
}

/// Why something was passed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// Not an export by its name (hidden files, notes, images, scripts): by design.
    NotEvidence,
    /// Might hold evidence but was not read (an unreadable folder, a named pipe or device inside
    /// a folder, a symbolic link to a folder, a broken link): `--strict` fails on these.
    NotRead,
}

/// A file passed over, with the reason.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
    pub kind: SkipKind,
}

impl Skipped {
    fn not_evidence(path: String, reason: impl Into<String>) -> Skipped {
        Skipped {
            path,
            reason: reason.into(),
            kind: SkipKind::NotEvidence,
        }
    }

    fn not_read(path: String, reason: impl Into<String>) -> Skipped {
        Skipped {
            path,
            reason: reason.into(),
            kind: SkipKind::NotRead,
        }
    }
}

/// Extensions of files that are never evidence exports: notes, images, scripts, documents.
/// A file named explicitly on the command line is read whatever its extension.
const NOT_EVIDENCE: &[&str] = &[
    "md", "toml", "yaml", "yml", "png", "jpg", "jpeg", "gif", "svg", "bmp", "html", "htm", "pdf",
    "doc", "docx", "ppt", "pptx", "sha256", "md5", "sha1", "py", "ps1", "psm1", "sh", "exe", "dll",
    "mmdb", "rs",
];

/// Lists a folder's entries; the walk asks this for every folder it enters.
pub type ReadDir<'a> = &'a dyn Fn(&Path) -> std::io::Result<Vec<PathBuf>>;

fn read_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect()
}

/// Lists the evidence files under `paths`, in a stable order.
pub fn discover(paths: &[PathBuf]) -> Result<(Vec<EvidenceFile>, Vec<Skipped>), IngestError> {
    discover_with(paths, &read_dir)
}

/// [`discover`] with the folder listing given: tests use it to make a folder fail to list where
/// permissions cannot (as root).
#[doc(hidden)]
pub fn discover_with(
    paths: &[PathBuf],
    list: ReadDir,
) -> Result<(Vec<EvidenceFile>, Vec<Skipped>), IngestError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|source| IngestError::Io {
            path: root.display().to_string(),
            source,
        })?;
        let shown = root.display().to_string();
        if meta.is_file() {
            let note = symlink_note(root);
            add_file(root, meta.len(), note, &mut files, &mut skipped);
        } else if meta.is_dir() {
            walk(root, list, &mut files, &mut skipped);
        } else if is_stream(&meta) {
            files.push(EvidenceFile {
                path: root.clone(),
                display: shown,
                container: Container::Stream,
                size: 0,
                note: Some("read as a stream (a named pipe or device)".into()),
            });
        } else {
            skipped.push(Skipped::not_read(
                shown,
                "not a file, folder or pipe (a socket?): not read",
            ));
        }
    }
    Ok((files, skipped))
}

#[cfg(unix)]
fn is_stream(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    t.is_fifo() || t.is_char_device()
}

#[cfg(not(unix))]
fn is_stream(_meta: &std::fs::Metadata) -> bool {
    false
}

/// A note for a path that is a symbolic link: where it points.
fn symlink_note(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into());
    Some(format!(
        "a symbolic link to {}: the file it points to was read",
        crate::report::terminal::terminal_safe(&target)
    ))
}

/// Walks a folder in name order: files are added, everything else is listed as skipped with
/// the reason. Symbolic links to files are followed (and noted); links to folders are not
/// (no loops), nor are named pipes, devices and sockets inside a folder (reading a pipe nobody
/// writes to would never end).
fn walk(dir: &Path, list: ReadDir, files: &mut Vec<EvidenceFile>, skipped: &mut Vec<Skipped>) {
    let mut entries = match list(dir) {
        Ok(e) => e,
        Err(e) => {
            skipped.push(Skipped::not_read(
                dir.display().to_string(),
                format!("a folder that cannot be listed: {e}"),
            ));
            return;
        }
    };
    entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    for path in entries {
        let shown = path.display().to_string();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let lmeta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                files.push(unreadable(&path, format!("cannot read: {e}")));
                continue;
            }
        };
        let link = lmeta.file_type().is_symlink();
        let meta = if link {
            match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    skipped.push(Skipped::not_read(
                        shown,
                        format!("a broken symbolic link: {e}"),
                    ));
                    continue;
                }
            }
        } else {
            lmeta
        };
        if meta.is_dir() {
            if link {
                skipped.push(Skipped::not_read(
                    shown,
                    "a symbolic link to a folder: not followed (name the folder to read it)",
                ));
            } else {
                walk(&path, list, files, skipped);
            }
            continue;
        }
        if !meta.is_file() {
            skipped.push(Skipped::not_read(
                shown,
                "a named pipe, device or socket inside a folder: not read (name a pipe on the command line to read it as a stream)",
            ));
            continue;
        }
        if name.starts_with('.') {
            skipped.push(Skipped::not_evidence(shown, "hidden file"));
            continue;
        }
        if let Some(ext) = extension(&name) {
            if NOT_EVIDENCE.contains(&ext.as_str()) {
                skipped.push(Skipped::not_evidence(
                    shown,
                    format!(
                        ".{ext} files are not evidence exports (name the file to read it anyway)"
                    ),
                ));
                continue;
            }
        }
        let note = if link { symlink_note(&path) } else { None };
        add_file(&path, meta.len(), note, files, skipped);
    }
}

fn unreadable(path: &Path, reason: String) -> EvidenceFile {
    EvidenceFile {
        path: path.to_path_buf(),
        display: path.display().to_string(),
        container: Container::Unreadable { reason },
        size: 0,
        note: None,
    }
}

fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

fn add_file(
    path: &Path,
    size: u64,
    note: Option<String>,
    files: &mut Vec<EvidenceFile>,
    skipped: &mut Vec<Skipped>,
) {
    let mut magic = [0u8; 4];
    let n = match File::open(path).and_then(|mut f| read_up_to(&mut f, &mut magic)) {
        Ok(n) => n,
        Err(e) => {
            files.push(unreadable(path, format!("cannot read: {e}")));
            return;
        }
    };
    let display = path.display().to_string();
    if n >= 4 && magic == *b"PK\x03\x04" {
        match zip_entries(path) {
            Ok(entries) => add_zip_entries(path, &display, entries, files, skipped),
            Err(reason) => files.push(unreadable(
                path,
                format!("a zip archive that cannot be opened: {reason}"),
            )),
        }
        return;
    }
    let container = if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Container::Gzip
    } else {
        Container::Plain
    };
    files.push(EvidenceFile {
        path: path.to_path_buf(),
        display,
        container,
        size,
        note,
    });
}

/// A zip entry's name and where its bytes are (or why they cannot be read).
type ZipEntry = (String, Result<crate::ingest::source::ZipMember, String>);

/// The file entries of a zip archive with where their bytes are, in name order: the central
/// directory is read once per archive (members are then read from their offsets).
fn zip_entries(path: &Path) -> Result<Vec<ZipEntry>, String> {
    let archive = std::io::BufReader::new(File::open(path).map_err(|e| e.to_string())?);
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let entry = match zip.by_index_raw(i) {
            Ok(e) => e,
            Err(e) => {
                names.push((format!("#{i}"), Err(format!("a damaged member: {e}"))));
                continue;
            }
        };
        if !entry.is_file() {
            continue;
        }
        let method = match entry.compression() {
            zip::CompressionMethod::Stored => 0,
            zip::CompressionMethod::Deflated => 8,
            #[allow(deprecated)]
            other => other.to_u16(),
        };
        let member = crate::ingest::source::ZipMember {
            data_start: entry.data_start(),
            compressed: entry.compressed_size(),
            size: entry.size(),
            crc32: entry.crc32(),
            method,
            encrypted: entry.encrypted(),
        };
        names.push((entry.name().to_string(), Ok(member)));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(names)
}

fn add_zip_entries(
    path: &Path,
    display: &str,
    entries: Vec<ZipEntry>,
    files: &mut Vec<EvidenceFile>,
    skipped: &mut Vec<Skipped>,
) {
    let is_workbook = entries.iter().any(|(n, _)| n == "[Content_Types].xml")
        && entries.iter().any(|(n, _)| n.starts_with("xl/"));
    if is_workbook {
        files.push(unreadable(
            path,
            "an Excel workbook, not an export: open it and save each sheet as CSV (UTF-8)".into(),
        ));
        return;
    }
    for (entry, member) in entries {
        let shown = format!("{display}!/{entry}");
        let base = entry.rsplit('/').next().unwrap_or(&entry);
        if base.starts_with('.') || entry.starts_with("__MACOSX/") {
            skipped.push(Skipped::not_evidence(shown, "hidden file"));
            continue;
        }
        if let Some(ext) = extension(base) {
            if NOT_EVIDENCE.contains(&ext.as_str()) {
                skipped.push(Skipped::not_evidence(
                    shown,
                    format!(".{ext} files are not evidence exports"),
                ));
                continue;
            }
        }
        let member = match member {
            Ok(m) => m,
            Err(reason) => {
                files.push(EvidenceFile {
                    path: path.to_path_buf(),
                    display: shown,
                    container: Container::Unreadable { reason },
                    size: 0,
                    note: None,
                });
                continue;
            }
        };
        files.push(EvidenceFile {
            path: path.to_path_buf(),
            display: shown,
            size: member.compressed,
            container: Container::Zip { entry, member },
            note: None,
        });
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
