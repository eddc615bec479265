//! Dataset layouts: detect them, list their images and the labels each image
//! carries, and name the outputs.
//!
//! Supported (auto-detected, or forced with `--format`):
//! - `class-folders`: `ROOT/[split/]class/img.jpg` (ImageFolder); the folder is the label.
//! - `yolo`: `ROOT/images/**/x.jpg` + `ROOT/labels/**/x.txt` (copied byte for byte).
//! - `segmentation`: `ROOT/images/**/x.jpg` + `ROOT/masks/**/x.png` (copied byte for byte).
//! - `coco`: images + a COCO JSON (`ROOT/annotations.json`, `ROOT/*.json` or
//!   `ROOT/annotations/*.json`) whose `images` entries name the files.
//! - `csv`: a CSV manifest at the root with a header and a path column
//!   (`path`, `image`, `file`, `filename`, `image_path`, `filepath`).
//!
//! Paths inside the tool are relative to the dataset root, '/'-separated.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp"];
const CSV_PATH_COLUMNS: &[&str] = &["path", "image", "file", "filename", "image_path", "filepath", "file_name"];
const CSV_LABEL_COLUMNS: &[&str] = &["label", "class", "category", "labels", "target"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    ClassFolders,
    Yolo,
    Coco,
    Segmentation,
    Csv,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "class-folders" | "classfolders" | "imagefolder" | "folders" => Ok(Format::ClassFolders),
            "yolo" => Ok(Format::Yolo),
            "coco" => Ok(Format::Coco),
            "segmentation" | "masks" | "seg" => Ok(Format::Segmentation),
            "csv" => Ok(Format::Csv),
            _ => Err(Error::Usage(format!("unknown format '{s}': expected class-folders, yolo, coco, segmentation or csv"))),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::ClassFolders => "class-folders",
            Format::Yolo => "yolo",
            Format::Coco => "coco",
            Format::Segmentation => "segmentation",
            Format::Csv => "csv",
        })
    }
}

/// Where an image is referenced from a rewritten label file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// `images[index]` of COCO file `file`.
    Coco { file: usize, index: usize },
    /// Data row `row` (0-based, header excluded) of the CSV manifest.
    Csv { row: usize },
}

/// One source image.
#[derive(Clone, Debug)]
pub struct Item {
    /// The image, relative to the root.
    pub rel: String,
    /// Class or split, for the report.
    pub group: String,
    /// Label files copied byte for byte beside every output of this image
    /// (YOLO txt, segmentation mask), relative to the root.
    pub labels: Vec<String>,
    /// Entries of rewritten label files (COCO JSON, CSV) that name this image.
    pub records: Vec<Record>,
}

pub struct CocoFile {
    /// The JSON, relative to the root; the output is written at the same place.
    pub rel: String,
    /// Folder (relative to the root, "" or ending in '/') that `file_name` is relative to.
    pub image_prefix: String,
    pub json: serde_json::Value,
}

pub struct CsvFile {
    pub rel: String,
    /// Raw header line and raw data rows (fields as written, quotes kept).
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub path_column: usize,
    pub newline: &'static str,
}

pub struct Dataset {
    pub format: Format,
    pub root: PathBuf,
    /// Sorted by `rel`, unique.
    pub items: Vec<Item>,
    /// Root-level files that are neither images nor rewritten label files
    /// (data.yaml, classes.txt, README): copied unchanged.
    pub extra_files: Vec<String>,
    pub coco: Vec<CocoFile>,
    pub csv: Option<CsvFile>,
}

/// `dir/x.jpg` + `_aug2` → `dir/x_aug2.jpg` (the suffix goes before the extension).
pub fn suffixed(rel: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        return rel.to_string();
    }
    let name_start = rel.rfind('/').map_or(0, |i| i + 1);
    match rel[name_start..].rfind('.') {
        Some(dot) if dot > 0 => format!("{}{}{}", &rel[..name_start + dot], suffix, &rel[name_start + dot..]),
        _ => format!("{rel}{suffix}"),
    }
}

pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Relative '/'-separated path of `path` under `root`.
pub fn rel_string(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// Files under `dir` (recursively, sorted, hidden entries skipped), relative to `root`.
fn files_under(root: &Path, dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(&e.file_name().to_string_lossy()));
    for entry in walker {
        let entry = entry.map_err(|e| Error::Layout(format!("cannot list {}: {e}", dir.display())))?;
        if entry.file_type().is_file() {
            out.push(rel_string(root, entry.path()));
        }
    }
    Ok(out)
}

fn root_files(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(root).map_err(|e| Error::io(format!("cannot list {}", root.display()), e))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(format!("cannot list {}", root.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_hidden(&name) && entry.path().is_file() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Guesses the layout of `root`.
pub fn detect(root: &Path) -> Result<Format> {
    let images = root.join("images").is_dir();
    if images && root.join("labels").is_dir() {
        return Ok(Format::Yolo);
    }
    if images && root.join("masks").is_dir() {
        return Ok(Format::Segmentation);
    }
    if !coco_candidates(root)?.is_empty() {
        return Ok(Format::Coco);
    }
    if csv_candidate(root)?.is_some() {
        return Ok(Format::Csv);
    }
    if files_under(root, root)?.iter().any(|f| f.contains('/') && is_image(Path::new(f))) {
        return Ok(Format::ClassFolders);
    }
    Err(Error::Layout(format!(
        "cannot tell the layout of {}: expected class folders, images/+labels/ (YOLO), images/+masks/, a COCO JSON or a CSV manifest; pass --format",
        root.display()
    )))
}

/// Reads the dataset at `root` in `format` (detected when `None`).
pub fn open(root: &Path, format: Option<Format>) -> Result<Dataset> {
    if !root.is_dir() {
        return Err(Error::Usage(format!("input {} is not a directory", root.display())));
    }
    let format = match format {
        Some(f) => f,
        None => detect(root)?,
    };
    let mut ds = Dataset { format, root: root.to_path_buf(), items: Vec::new(), extra_files: Vec::new(), coco: Vec::new(), csv: None };
    let mut rewritten: Vec<String> = Vec::new();
    match format {
        Format::ClassFolders => {
            for rel in files_under(root, root)? {
                if is_image(Path::new(&rel)) {
                    let group = rel.rfind('/').map_or(String::new(), |i| rel[..i].to_string());
                    ds.items.push(Item { rel, group, labels: Vec::new(), records: Vec::new() });
                }
            }
        }
        Format::Yolo | Format::Segmentation => {
            let (label_dir, exts): (&str, &[&str]) =
                if format == Format::Yolo { ("labels", &["txt"]) } else { ("masks", IMAGE_EXTENSIONS) };
            if !root.join("images").is_dir() {
                return Err(Error::Layout(format!("{} has no images/ folder", root.display())));
            }
            for rel in files_under(root, &root.join("images"))? {
                if !is_image(Path::new(&rel)) {
                    continue;
                }
                let sub = &rel["images/".len()..];
                let group = sub.rfind('/').map_or(String::new(), |i| sub[..i].to_string());
                let stem_rel = match sub.rfind('.') {
                    Some(dot) if dot > sub.rfind('/').map_or(0, |s| s + 1) => &sub[..dot],
                    _ => sub,
                };
                let own_ext = sub.rsplit('.').next().unwrap_or("");
                let mut labels = Vec::new();
                // A mask usually shares the image's extension; try that first.
                let mut tries: Vec<&str> = Vec::new();
                if format == Format::Segmentation {
                    tries.push(own_ext);
                }
                tries.extend(exts.iter().copied());
                for ext in tries {
                    let candidate = format!("{label_dir}/{stem_rel}.{ext}");
                    if root.join(&candidate).is_file() {
                        labels.push(candidate);
                        break;
                    }
                }
                ds.items.push(Item { rel, group, labels, records: Vec::new() });
            }
        }
        Format::Coco => {
            let files = coco_candidates(root)?;
            if files.is_empty() {
                let problems = json_problems(root);
                let why = if problems.is_empty() { String::new() } else { format!(" ({})", problems.join("; ")) };
                return Err(Error::Layout(format!(
                    "{}: no COCO JSON (with \"images\" and \"annotations\") at the root or in annotations/{why}",
                    root.display()
                )));
            }
            for (fi, (rel, json)) in files.into_iter().enumerate() {
                let prefix = coco_image_prefix(root, &rel, &json);
                let group = Path::new(&rel).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let images = json["images"].as_array().map(|a| a.len()).unwrap_or(0);
                for index in 0..images {
                    let entry = &json["images"][index];
                    let name = entry["file_name"]
                        .as_str()
                        .ok_or_else(|| Error::parse(root.join(&rel), format!("images[{index}] has no file_name")))?;
                    check_relative(name).map_err(|r| Error::parse(root.join(&rel), r))?;
                    ds.items.push(Item {
                        rel: format!("{prefix}{name}"),
                        group: group.clone(),
                        labels: Vec::new(),
                        records: vec![Record::Coco { file: fi, index }],
                    });
                }
                rewritten.push(rel.clone());
                ds.coco.push(CocoFile { rel, image_prefix: prefix, json });
            }
        }
        Format::Csv => {
            let rel = csv_candidate(root)?.ok_or_else(|| {
                Error::Layout(format!("{}: no CSV at the root with a header naming a path column ({})", root.display(), CSV_PATH_COLUMNS.join(", ")))
            })?;
            let csv = read_csv(root, &rel)?;
            let label_col = csv
                .header
                .iter()
                .position(|h| CSV_LABEL_COLUMNS.contains(&unquote(h).trim().to_ascii_lowercase().as_str()))
                .or(if csv.header.len() > 1 { Some(if csv.path_column == 0 { 1 } else { 0 }) } else { None });
            for (row, fields) in csv.rows.iter().enumerate() {
                let value = unquote(fields.get(csv.path_column).map(String::as_str).unwrap_or(""));
                check_relative(&value).map_err(|r| Error::parse(root.join(&rel), format!("row {}: {r}", row + 2)))?;
                let group = label_col.and_then(|c| fields.get(c)).map(|f| unquote(f)).unwrap_or_default();
                ds.items.push(Item { rel: value, group, labels: Vec::new(), records: vec![Record::Csv { row }] });
            }
            rewritten.push(rel);
            ds.csv = Some(csv);
        }
    }
    // One item per image: merge rows/entries that name the same file.
    ds.items.sort_by(|a, b| a.rel.cmp(&b.rel));
    let mut merged: Vec<Item> = Vec::with_capacity(ds.items.len());
    for item in ds.items.drain(..) {
        match merged.last_mut() {
            Some(last) if last.rel == item.rel => last.records.extend(item.records),
            _ => merged.push(item),
        }
    }
    ds.items = merged;
    for name in root_files(root)? {
        let is_item = ds.items.iter().any(|i| i.rel == name);
        if !is_item && !rewritten.contains(&name) && !(format == Format::ClassFolders && is_image(Path::new(&name))) {
            ds.extra_files.push(name);
        }
    }
    Ok(ds)
}

fn check_relative(p: &str) -> std::result::Result<(), String> {
    let path = Path::new(p);
    if p.is_empty() {
        return Err("empty image path".into());
    }
    if path.is_absolute() || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(format!("image path '{p}' must be relative to the dataset and stay inside it"));
    }
    Ok(())
}

/// COCO JSON files: `*.json` at the root and in `annotations/`, that have
/// `images` and `annotations` arrays.
fn coco_candidates(root: &Path) -> Result<Vec<(String, serde_json::Value)>> {
    let mut paths: Vec<String> = root_files(root)?.into_iter().filter(|f| f.ends_with(".json")).collect();
    let ann = root.join("annotations");
    if ann.is_dir() {
        paths.extend(files_under(root, &ann)?.into_iter().filter(|f| f.ends_with(".json") && f.matches('/').count() == 1));
    }
    let mut out = Vec::new();
    for rel in paths {
        // Bytes, not text: a JSON file that is not UTF-8 is not a candidate
        // (and is named by `json_problems`), never a failure of the layout.
        let Ok(json) = read_json(root, &rel) else { continue };
        if json.get("images").is_some_and(|v| v.is_array()) && json.get("annotations").is_some_and(|v| v.is_array()) {
            out.push((rel, json));
        }
    }
    Ok(out)
}

fn read_json(root: &Path, rel: &str) -> std::result::Result<serde_json::Value, String> {
    let bytes = std::fs::read(root.join(rel)).map_err(|e| format!("cannot read: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON: {e}"))
}

/// The root / annotations JSON files that cannot be read or parsed, with the
/// reason (for the message when no COCO JSON is found).
fn json_problems(root: &Path) -> Vec<String> {
    let mut paths: Vec<String> = root_files(root).unwrap_or_default().into_iter().filter(|f| f.ends_with(".json")).collect();
    let ann = root.join("annotations");
    if ann.is_dir() {
        paths.extend(files_under(root, &ann).unwrap_or_default().into_iter().filter(|f| f.ends_with(".json") && f.matches('/').count() == 1));
    }
    paths.into_iter().filter_map(|rel| read_json(root, &rel).err().map(|e| format!("{rel}: {e}"))).collect()
}

/// Which folder `file_name` is relative to: the first candidate in which the
/// JSON's first few images exist.
fn coco_image_prefix(root: &Path, rel: &str, json: &serde_json::Value) -> String {
    let stem = Path::new(rel).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let split = stem.strip_prefix("instances_").unwrap_or(&stem).to_string();
    let json_dir = rel.rfind('/').map_or(String::new(), |i| format!("{}/", &rel[..i]));
    let candidates = [format!("images/{split}/"), format!("{split}/"), "images/".to_string(), json_dir, String::new()];
    let names: Vec<&str> = json["images"].as_array().into_iter().flatten().take(5).filter_map(|e| e["file_name"].as_str()).collect();
    for c in &candidates {
        if !names.is_empty() && names.iter().any(|n| root.join(format!("{c}{n}")).is_file()) {
            return c.clone();
        }
    }
    if root.join("images").is_dir() {
        "images/".into()
    } else {
        String::new()
    }
}

fn csv_candidate(root: &Path) -> Result<Option<String>> {
    for name in root_files(root)?.into_iter().filter(|f| f.to_ascii_lowercase().ends_with(".csv")) {
        let path = root.join(&name);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        // A CSV that is not UTF-8 text is not a label table we can rewrite.
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };
        let first = text.lines().next().unwrap_or("");
        if split_record(first).iter().any(|h| CSV_PATH_COLUMNS.contains(&unquote(h).trim().to_ascii_lowercase().as_str())) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

fn read_csv(root: &Path, rel: &str) -> Result<CsvFile> {
    let path = root.join(rel);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut records = split_records(&text).map_err(|r| Error::parse(&path, r))?.into_iter();
    let header = records.next().ok_or_else(|| Error::parse(&path, "empty CSV"))?;
    let path_column = header
        .iter()
        .position(|h| CSV_PATH_COLUMNS.contains(&unquote(h).trim().to_ascii_lowercase().as_str()))
        .ok_or_else(|| Error::parse(&path, format!("no path column in the header (one of {})", CSV_PATH_COLUMNS.join(", "))))?;
    let rows: Vec<Vec<String>> = records.filter(|r| !(r.len() == 1 && r[0].is_empty())).collect();
    Ok(CsvFile { rel: rel.to_string(), header, rows, path_column, newline })
}

/// Splits CSV text into records of raw fields (quotes kept as written), so
/// that fields we do not touch are written back byte for byte.
pub fn split_records(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                field.push(c);
            }
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            '\r' if !quoted && chars.peek() == Some(&'\n') => {}
            '\n' if !quoted => {
                fields.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut fields));
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push(fields);
    }
    Ok(records)
}

fn split_record(line: &str) -> Vec<String> {
    split_records(line).ok().and_then(|mut r| r.drain(..).next()).unwrap_or_default()
}

/// The value of a raw CSV field.
pub fn unquote(field: &str) -> String {
    let f = field.trim_matches(|c| c == ' ' || c == '\t');
    if f.len() >= 2 && f.starts_with('"') && f.ends_with('"') {
        f[1..f.len() - 1].replace("\"\"", "\"")
    } else {
        field.to_string()
    }
}

/// A raw CSV field holding `value`.
pub fn quote(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

impl Dataset {
    /// Images per group, for the report.
    pub fn group_sizes(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for i in &self.items {
            *m.entry(i.group.clone()).or_default() += 1;
        }
        m
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn touch(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    #[test]
    fn suffix_goes_before_the_extension() {
        assert_eq!(suffixed("images/a/x.jpg", "_aug1"), "images/a/x_aug1.jpg");
        assert_eq!(suffixed("a.b/x", "_aug1"), "a.b/x_aug1");
        assert_eq!(suffixed("x.tar.png", "_s"), "x.tar_s.png");
        assert_eq!(suffixed("x.jpg", ""), "x.jpg");
    }

    #[test]
    fn detects_each_layout() {
        let t = tempfile::tempdir().unwrap();
        let yolo = t.path().join("yolo");
        touch(&yolo, "images/train/a.jpg", b"x");
        touch(&yolo, "labels/train/a.txt", b"0 0.5 0.5 0.1 0.1\n");
        touch(&yolo, "images/train/b.jpg", b"x");
        touch(&yolo, "data.yaml", b"names: [a]\n");
        let ds = open(&yolo, None).unwrap();
        assert_eq!(ds.format, Format::Yolo);
        assert_eq!(ds.items.len(), 2);
        assert_eq!(ds.items[0].labels, vec!["labels/train/a.txt".to_string()]);
        assert!(ds.items[1].labels.is_empty());
        assert_eq!(ds.items[0].group, "train");
        assert_eq!(ds.extra_files, vec!["data.yaml".to_string()]);

        let seg = t.path().join("seg");
        touch(&seg, "images/a.jpg", b"x");
        touch(&seg, "masks/a.png", b"m");
        let ds = open(&seg, None).unwrap();
        assert_eq!(ds.format, Format::Segmentation);
        assert_eq!(ds.items[0].labels, vec!["masks/a.png".to_string()]);

        let cls = t.path().join("cls");
        touch(&cls, "cat/1.png", b"x");
        touch(&cls, "dog/2.png", b"x");
        let ds = open(&cls, None).unwrap();
        assert_eq!(ds.format, Format::ClassFolders);
        assert_eq!(ds.items.iter().map(|i| i.group.as_str()).collect::<Vec<_>>(), ["cat", "dog"]);

        let coco = t.path().join("coco");
        touch(&coco, "images/train/a.jpg", b"x");
        touch(&coco, "annotations/instances_train.json", br#"{"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[],"categories":[]}"#);
        let ds = open(&coco, None).unwrap();
        assert_eq!(ds.format, Format::Coco);
        assert_eq!(ds.items[0].rel, "images/train/a.jpg");

        let csv = t.path().join("csv");
        touch(&csv, "img/a.jpg", b"x");
        touch(&csv, "img/b.jpg", b"x");
        touch(&csv, "train.csv", b"path,label,note\nimg/a.jpg,cat,\"hello, world\"\nimg/b.jpg,dog,x\nimg/a.jpg,pet,y\n");
        let ds = open(&csv, None).unwrap();
        assert_eq!(ds.format, Format::Csv);
        assert_eq!(ds.items.len(), 2, "rows naming the same image share one item");
        assert_eq!(ds.items[0].records.len(), 2);
        assert_eq!(ds.csv.as_ref().unwrap().rows[0][2], "\"hello, world\"");

        let empty = t.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(open(&empty, None).is_err());
    }

    #[test]
    fn csv_paths_must_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        touch(t.path(), "m.csv", b"path,label\n../x.jpg,a\n");
        assert!(open(t.path(), Some(Format::Csv)).err().unwrap().to_string().contains("inside"));
    }

    #[test]
    fn csv_quoting_round_trips() {
        let recs = split_records("a,\"b,\"\"c\"\"\"\r\n1,2\n").unwrap();
        assert_eq!(recs, vec![vec!["a".to_string(), "\"b,\"\"c\"\"\"".to_string()], vec!["1".into(), "2".into()]]);
        assert_eq!(unquote(&recs[0][1]), "b,\"c\"");
        assert_eq!(quote("b,\"c\""), recs[0][1]);
        assert!(split_records("\"open").is_err());
    }
}
