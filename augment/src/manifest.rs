//! The record of what was written: one entry per output image (with its label
//! copies and content hashes). During a run entries are appended to a
//! journal, one line per entry, only after the files they name are in place,
//! so a crash leaves at worst a torn last line. `--resume` trusts an output
//! only when its entry exists and the file's hash still matches. At the end
//! the entries are written, sorted, as `augment-manifest.jsonl`.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

pub const MANIFEST_FILE: &str = "augment-manifest.jsonl";
pub const REPORT_FILE: &str = "augment-report.json";
/// Run state (settings, shard journals): hidden so layouts ignore it.
pub const STATE_DIR: &str = ".restyle-augment";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelCopy {
    pub source: String,
    pub output: String,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Source image, relative to the input root.
    pub source: String,
    /// Output image, relative to the output root.
    pub output: String,
    /// Class or split of the source.
    pub group: String,
    /// 0: unchanged copy; 1..: stylized copy number.
    pub copy: u32,
    /// The engine of a stylized copy (`arbitrary`, `multistyle26`, `fast:MODEL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Its style: image file, `random:KEY`, multistyle26 id or blend, or the fast model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<LabelCopy>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| sha256_hex(&b))
}

impl Entry {
    /// True when the output image and every label copy exist under `out`
    /// with the recorded hashes.
    pub fn verify(&self, out: &Path) -> bool {
        sha256_file(&out.join(&self.output)).as_deref() == Some(self.sha256.as_str())
            && self.labels.iter().all(|l| sha256_file(&out.join(&l.output)).as_deref() == Some(l.sha256.as_str()))
    }
}

/// An append-only journal of entries.
pub struct Journal {
    file: Mutex<std::fs::File>,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(format!("cannot open journal {}", path.display()), e))?;
        Ok(Journal { file: Mutex::new(file) })
    }

    /// Appends the entries of one source image as whole lines and syncs them.
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        let mut text = String::new();
        for e in entries {
            text.push_str(&serde_json::to_string(e).expect("entry serialises"));
            text.push('\n');
        }
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(text.as_bytes()).map_err(|e| Error::io("cannot append to the journal", e))?;
        f.sync_data().map_err(|e| Error::io("cannot sync the journal", e))
    }
}

/// Entries of a journal; a torn or unreadable line (a crash mid-append) is
/// ignored, so the outputs it named are redone.
pub fn read_journal(path: &Path) -> Result<Vec<Entry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("cannot read journal {}", path.display()), e)),
    };
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// Sorted entries as JSON lines.
pub fn manifest_text(entries: &[Entry]) -> String {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.output.cmp(&b.output));
    sorted.iter().map(|e| serde_json::to_string(e).expect("entry serialises") + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(out: &str) -> Entry {
        Entry {
            source: "a.jpg".into(),
            output: out.into(),
            group: "g".into(),
            copy: 1,
            method: Some("arbitrary".into()),
            style: Some("wave.jpg".into()),
            strength: Some(0.7),
            seed: Some(42),
            sha256: sha256_hex(b"img"),
            labels: vec![LabelCopy { source: "a.txt".into(), output: "a_aug1.txt".into(), sha256: sha256_hex(b"lbl") }],
        }
    }

    #[test]
    fn journal_survives_a_torn_line_and_verifies_hashes() {
        let t = tempfile::tempdir().unwrap();
        let j = t.path().join("j.jsonl");
        let journal = Journal::open(&j).unwrap();
        journal.append(&[entry("a_aug1.jpg")]).unwrap();
        drop(journal);
        let mut f = std::fs::OpenOptions::new().append(true).open(&j).unwrap();
        f.write_all(b"{\"source\":\"b.jpg\",\"outp").unwrap();
        let entries = read_journal(&j).unwrap();
        assert_eq!(entries, vec![entry("a_aug1.jpg")]);

        let e = &entries[0];
        assert!(!e.verify(t.path()));
        std::fs::write(t.path().join("a_aug1.jpg"), b"img").unwrap();
        std::fs::write(t.path().join("a_aug1.txt"), b"lbl").unwrap();
        assert!(e.verify(t.path()));
        std::fs::write(t.path().join("a_aug1.txt"), b"changed").unwrap();
        assert!(!e.verify(t.path()));
    }

    #[test]
    fn manifest_is_sorted() {
        let text = manifest_text(&[entry("b.jpg"), entry("a.jpg")]);
        let outs: Vec<Entry> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(outs[0].output, "a.jpg");
        assert_eq!(outs[1].output, "b.jpg");
    }
}
