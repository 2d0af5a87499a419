//! Where outputs may go, and writing them so that evidence is never touched and a reader never
//! sees a half-written file (docs/reliability.md, "What is never written").
//!
//! * Inputs and outputs never overlap: [`check_no_overlap`] compares canonical paths and refuses
//!   an output file that is an input file or lies inside an input folder, and an output folder
//!   that is, holds or lies inside an input.
//! * A single output file (`--rejects`, `timeline --output`) is written to a temporary name in
//!   the same folder and renamed over the destination ([`AtomicFile`]); a symbolic link at the
//!   destination is replaced, never followed.
//! * The case folder (`analyze --out`) is written into a staging folder next to it and swapped
//!   in whole ([`write_case_folder`]): a previous case there is replaced as a whole (no mix of
//!   old and new files), a folder holding anything else is refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// An output the command will write.
#[derive(Clone, Copy, Debug)]
pub enum OutputPath<'a> {
    /// A single file (`-` is standard output and never checked).
    File(&'a Path),
    /// A folder the command fills (the case folder).
    Folder(&'a Path),
}

/// The canonical form of a path that may not exist yet: its deepest existing ancestor
/// canonicalized, with the missing components appended. `None` when nothing can be resolved.
fn resolve(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = fs::canonicalize(p) {
        return Some(c);
    }
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(p)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = fs::canonicalize(cur) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Some(out);
        }
        rest.push(cur.file_name()?.to_os_string());
        cur = cur.parent()?;
    }
}

/// Refuses outputs that would write over, into or around the evidence: an error naming both
/// paths. Inputs that cannot be resolved (a pipe such as `/dev/stdin`) cannot overlap a file
/// the command creates and are not compared.
pub fn check_no_overlap(inputs: &[PathBuf], outputs: &[OutputPath]) -> anyhow::Result<()> {
    let inputs: Vec<(&PathBuf, PathBuf, bool)> = inputs
        .iter()
        .filter_map(|p| {
            let c = fs::canonicalize(p).ok()?;
            let dir = c.is_dir();
            Some((p, c, dir))
        })
        .collect();
    for out in outputs {
        let (shown, is_folder) = match out {
            OutputPath::File(p) if p.as_os_str() == "-" => continue,
            OutputPath::File(p) => (*p, false),
            OutputPath::Folder(p) => (*p, true),
        };
        let Some(o) = resolve(shown) else { continue };
        for (given, i, input_is_dir) in &inputs {
            let clash = if o == *i {
                Some("is the evidence itself")
            } else if *input_is_dir && o.starts_with(i) {
                Some("lies inside the evidence folder")
            } else if is_folder && i.starts_with(&o) {
                Some("holds the evidence")
            } else {
                None
            };
            if let Some(why) = clash {
                anyhow::bail!(
                    "refusing to write {} {}: it {why} {} (evidence is only ever read; choose an output outside the evidence)",
                    if is_folder { "the output folder" } else { "the output file" },
                    shown.display(),
                    given.display()
                );
            }
        }
    }
    Ok(())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name next to `dest` for a temporary file or folder: hidden, with the process id.
fn temp_sibling(dest: &Path, what: &str) -> io::Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} has no file name", dest.display())))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(
        ".{}.breachline-{what}-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
        _ => PathBuf::from(tmp),
    })
}

/// A file written under a temporary name in its destination folder and renamed over the
/// destination by [`AtomicFile::commit`]; dropped without a commit, the temporary file is removed.
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    file: Option<io::BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> io::Result<AtomicFile> {
        if fs::metadata(dest).is_ok_and(|m| m.is_dir()) {
            return Err(io::Error::other(format!("{} is a folder", dest.display())));
        }
        let tmp = temp_sibling(dest, "tmp")?;
        // create_new: never opens an existing file or follows a symbolic link at that name.
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            tmp,
            file: Some(io::BufWriter::with_capacity(1 << 16, file)),
        })
    }

    /// Flushes, syncs and renames the file into place (a symbolic link there is replaced).
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(w) = self.file.take() {
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
        }
        fs::rename(&self.tmp, &self.dest)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Standard output or an [`AtomicFile`]: call [`Output::finish`] when everything is written.
pub enum Output {
    Stdout(io::BufWriter<io::Stdout>),
    File(AtomicFile),
}

impl Output {
    /// `None` or `-` is standard output.
    pub fn open(path: Option<&Path>) -> io::Result<Output> {
        match path {
            Some(p) if p.as_os_str() != "-" => Ok(Output::File(AtomicFile::create(p)?)),
            _ => Ok(Output::Stdout(super::stdout())),
        }
    }

    /// Flushes standard output, or puts the file in place.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Output::Stdout(mut s) => super::ignore_broken_pipe(s.flush()),
            Output::File(f) => f.commit(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s) => s.write(buf),
            Output::File(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::File(f) => f.flush(),
        }
    }
}

/// Names a case folder may hold: the files `analyze --out` writes (a previous case).
pub fn is_case_file(name: &str) -> bool {
    super::case::CASE_FILES.contains(&name)
        || super::case::REPORT_FILES.contains(&name)
        || name == "timeline.parquet"
}

/// What is in an existing `--out` folder.
enum Existing {
    Missing,
    Empty,
    PreviousCase,
}

fn existing(dir: &Path) -> io::Result<Existing> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Missing),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Err(io::Error::other(format!(
            "{} is a symbolic link: name the folder it points to",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        return Err(io::Error::other(format!(
            "{} exists and is not a folder",
            dir.display()
        )));
    }
    let mut foreign = Vec::new();
    let mut any = false;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        any = true;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !(is_file && is_case_file(&name)) {
            foreign.push(name);
        }
    }
    if !any {
        return Ok(Existing::Empty);
    }
    if !foreign.is_empty() {
        foreign.sort();
        let shown: Vec<String> = foreign
            .iter()
            .take(5)
            .map(|n| crate::report::terminal::terminal_safe(n).into_owned())
            .collect();
        return Err(io::Error::other(format!(
            "{} is not empty and is not a breachline case folder (it holds {}{}): choose a new or empty folder",
            dir.display(),
            shown.join(", "),
            if foreign.len() > 5 { ", ..." } else { "" }
        )));
    }
    Ok(Existing::PreviousCase)
}

/// Writes a case folder: `fill` writes every file into a staging folder next to `dir`, which
/// then replaces `dir` whole. A previous case in `dir` (only case files) is replaced; a folder
/// holding anything else is refused before anything is written. On any error the staging
/// folder is removed and `dir` is left as it was.
pub fn write_case_folder(dir: &Path, fill: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let before = existing(dir)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let staging = temp_sibling(dir, "staging")?;
    fs::create_dir(&staging)?;
    if let Err(e) = fill(&staging) {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    match before {
        Existing::Missing => fs::rename(&staging, dir),
        Existing::Empty | Existing::PreviousCase => {
            let old = temp_sibling(dir, "old")?;
            if let Err(e) = fs::rename(dir, &old) {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
            if let Err(e) = fs::rename(&staging, dir) {
                // Put the previous case back.
                let _ = fs::rename(&old, dir);
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
            fs::remove_dir_all(&old)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_file_replaces_a_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        fs::write(&target, "keep").unwrap();
        let link = dir.path().join("out.txt");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut f = AtomicFile::create(&link).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(fs::read_to_string(&link).unwrap(), "new");
        assert!(!fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn an_uncommitted_atomic_file_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x.csv");
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
