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
    /// An entry of a zip archive, by its name inside the archive.
    Zip {
        entry: String,
    },
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
}

impl EvidenceFile {
    /// The name the export had, for the one case where only the name tells (see detect.rs).
    pub fn file_name(&self) -> &str {
        match &self.container {
            Container::Zip { entry } => entry.rsplit('/').next().unwrap_or(entry),
            _ => self.path.file_name().and_then(|n| n.to_str()).unwrap_or(""),
        }
    }
}

/// A file passed over, with the reason.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// Extensions of files that are never evidence exports: notes, images, scripts, documents.
/// A file named explicitly on the command line is read whatever its extension.
const NOT_EVIDENCE: &[&str] = &[
    "md", "toml", "yaml", "yml", "png", "jpg", "jpeg", "gif", "svg", "bmp", "html", "htm", "pdf",
    "doc", "docx", "ppt", "pptx", "sha256", "md5", "sha1", "py", "ps1", "psm1", "sh", "exe", "dll",
    "mmdb", "rs",
];

/// Lists the evidence files under `paths`, in a stable order.
pub fn discover(paths: &[PathBuf]) -> Result<(Vec<EvidenceFile>, Vec<Skipped>), IngestError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|source| IngestError::Io {
            path: root.display().to_string(),
            source,
        })?;
        if meta.is_file() {
            add_file(root, meta.len(), &mut files, &mut skipped);
            continue;
        }
        let walker = walkdir::WalkDir::new(root).sort_by_file_name();
        for entry in walker {
            let entry = entry.map_err(|e| IngestError::Io {
                path: e
                    .path()
                    .map_or_else(|| root.display().to_string(), |p| p.display().to_string()),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("directory loop")),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            let name = entry.file_name().to_string_lossy();
            if name.starts_with('.') {
                skipped.push(Skipped {
                    path: path.display().to_string(),
                    reason: "hidden file".into(),
                });
                continue;
            }
            if let Some(ext) = extension(&name) {
                if NOT_EVIDENCE.contains(&ext.as_str()) {
                    skipped.push(Skipped {
                        path: path.display().to_string(),
                        reason: format!(".{ext} files are not evidence exports (name the file to read it anyway)"),
                    });
                    continue;
                }
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            add_file(path, size, &mut files, &mut skipped);
        }
    }
    Ok((files, skipped))
}

fn unreadable(path: &Path, reason: String) -> EvidenceFile {
    EvidenceFile {
        path: path.to_path_buf(),
        display: path.display().to_string(),
        container: Container::Unreadable { reason },
        size: 0,
    }
}

fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

fn add_file(path: &Path, size: u64, files: &mut Vec<EvidenceFile>, skipped: &mut Vec<Skipped>) {
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
    });
}

/// The file entries of a zip archive with their compressed sizes, in name order.
fn zip_entries(path: &Path) -> Result<Vec<(String, u64)>, String> {
    let archive = File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| e.to_string())?;
        if entry.is_file() {
            names.push((entry.name().to_string(), entry.compressed_size()));
        }
    }
    names.sort();
    Ok(names)
}

fn add_zip_entries(
    path: &Path,
    display: &str,
    entries: Vec<(String, u64)>,
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
    for (entry, compressed) in entries {
        let shown = format!("{display}!/{entry}");
        let base = entry.rsplit('/').next().unwrap_or(&entry);
        if base.starts_with('.') || entry.starts_with("__MACOSX/") {
            skipped.push(Skipped {
                path: shown,
                reason: "hidden file".into(),
            });
            continue;
        }
        if let Some(ext) = extension(base) {
            if NOT_EVIDENCE.contains(&ext.as_str()) {
                skipped.push(Skipped {
                    path: shown,
                    reason: format!(".{ext} files are not evidence exports"),
                });
                continue;
            }
        }
        files.push(EvidenceFile {
            path: path.to_path_buf(),
            display: shown,
            container: Container::Zip { entry },
            size: compressed,
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
