//! Writing files atomically: a temporary file in the destination's folder,
//! synced, then renamed over it. A crash or a cancelled run never leaves a
//! half-written output, checkpoint or manifest. The one implementation for
//! every writer in restyle-core and its front ends.

use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Writes `path` atomically with `write`, which fills the open temporary file.
pub fn write_atomic_with(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let err = |e: std::io::Error| Error::ImageWrite { path: path.into(), reason: e.to_string() };
    let mut tmp = tempfile::Builder::new().prefix(".restyle-").suffix(".tmp").tempfile_in(dir).map_err(err)?;
    write(tmp.as_file_mut()).map_err(err)?;
    // Temporary files are created 0600; an output is an ordinary user file,
    // readable like anything else the user writes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(err)?;
    }
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Writes `path` atomically with a writer that takes a file path (libraries
/// that save to a path, such as candle's safetensors export): it writes a
/// temporary file beside `path`, which then replaces `path`.
pub fn write_atomic_via_path(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let err = |e: std::io::Error| Error::ImageWrite { path: path.into(), reason: e.to_string() };
    let tmp = tempfile::Builder::new().prefix(".restyle-").suffix(".tmp").tempfile_in(dir).map_err(err)?;
    write(tmp.path())?;
    std::fs::File::open(tmp.path()).and_then(|f| f.sync_all()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporaries() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        // A writer that fails leaves the previous file as it was.
        let e = write_atomic_with(&p, |_| Err(std::io::Error::other("disk full")));
        assert!(e.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
