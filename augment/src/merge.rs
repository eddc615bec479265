//! Finishing a run: join the shards' journals into the manifest, rewrite the
//! label files that list images (COCO JSON, CSV), copy the dataset's other
//! root files, and write the report. A single-shard run calls this itself;
//! sharded runs call it once through `restyle-augment merge` after every
//! shard has finished. The result does not depend on how the work was split.

use crate::classes::{ClassCounts, Counter, Unparsed};
use crate::layout::{self, Dataset};
use crate::manifest::{self, Entry, MANIFEST_FILE, REPORT_FILE};
use crate::state::{self, RunConfig, ShardDone, Skipped};
use crate::shard::Shard;
use crate::{Error, Result};
use restyle_core::fsio::write_atomic;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct GroupCounts {
    pub sources: usize,
    pub stylized: usize,
    pub unchanged: usize,
    pub skipped: usize,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub format: String,
    pub input: String,
    pub engine: String,
    pub sources: usize,
    pub stylized: usize,
    pub unchanged: usize,
    pub label_files: usize,
    /// Per class (class folders, CSV label column) or split (YOLO, masks, COCO file).
    pub groups: BTreeMap<String, GroupCounts>,
    /// Output images and objects per class (YOLO class id, COCO category
    /// name, class folder, CSV label; see [`crate::classes`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<String, ClassCounts>,
    /// The same per split, when the layout has splits.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub classes_per_split: BTreeMap<String, BTreeMap<String, ClassCounts>>,
    pub skipped: Vec<Skipped>,
    /// Style images that could not be decoded, left out of the draw (`--styles DIR`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_styles: Vec<Skipped>,
    /// Label files copied byte for byte but left out of the class counts
    /// because they could not be read or parsed (e.g. not UTF-8).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unparsed_labels: Vec<Unparsed>,
}

/// Merges the finished shards of the run in `out` and writes the final files.
pub fn merge(out: &Path) -> Result<Report> {
    let config: RunConfig = {
        let path = state::config_path(out);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("{} holds no restyle-augment run ({})", out.display(), path.display()), e))?;
        serde_json::from_str(&text).map_err(|e| Error::parse(&path, e.to_string()))?
    };
    let mut skipped = Vec::new();
    let mut skipped_styles = Vec::new();
    let mut entries: HashMap<String, Entry> = HashMap::new();
    let mut missing = Vec::new();
    for i in 0..config.shards {
        let shard = Shard::new(i, config.shards)?;
        let done = match std::fs::read_to_string(state::done_path(out, shard)) {
            Ok(t) => t,
            Err(_) => {
                missing.push(shard.to_string());
                continue;
            }
        };
        let done: ShardDone = serde_json::from_str(&done).map_err(|e| Error::parse(state::done_path(out, shard), e.to_string()))?;
        skipped.extend(done.skipped);
        skipped_styles.extend(done.skipped_styles);
        // Later lines win: a resumed run re-journals what it redid.
        for e in manifest::read_journal(&state::journal_path(out, shard))? {
            entries.insert(e.output.clone(), e);
        }
    }
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "cannot merge {}: shard(s) {} have not finished (rerun them with --resume)",
            out.display(),
            missing.join(", ")
        )));
    }
    let ds = state::open_dataset(Path::new(&config.input), Some(config.format), config.limit)?;
    // Keep only entries of the current plan, and make sure the files are intact.
    let sources: HashMap<&str, &layout::Item> = ds.items.iter().map(|i| (i.rel.as_str(), i)).collect();
    let skipped_sources: std::collections::HashSet<&str> = skipped.iter().map(|s| s.source.as_str()).collect();
    let mut kept: Vec<Entry> = entries
        .into_values()
        .filter(|e| sources.contains_key(e.source.as_str()) && !skipped_sources.contains(e.source.as_str()))
        .collect();
    kept.sort_by(|a, b| a.output.cmp(&b.output));
    let broken: Vec<&str> = kept.iter().filter(|e| !e.verify(out)).map(|e| e.output.as_str()).collect();
    if !broken.is_empty() {
        return Err(Error::Usage(format!(
            "{} output(s) no longer match the journal (e.g. {}): rerun the shards with --resume",
            broken.len(),
            broken[0]
        )));
    }
    skipped.sort();
    skipped_styles.sort();
    skipped_styles.dedup();
    finalize(out, &ds, &config, &kept, skipped, skipped_styles)
}

fn finalize(
    out: &Path,
    ds: &Dataset,
    config: &RunConfig,
    entries: &[Entry],
    skipped: Vec<Skipped>,
    skipped_styles: Vec<Skipped>,
) -> Result<Report> {
    let mut by_source: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in entries {
        by_source.entry(e.source.as_str()).or_default().push(e);
    }
    for v in by_source.values_mut() {
        v.sort_by_key(|e| e.copy);
    }
    for (fi, coco) in ds.coco.iter().enumerate() {
        let json = rewrite_coco(coco, fi, &by_source)?;
        write_file(out, &coco.rel, serde_json::to_string(&json).expect("json serialises").as_bytes())?;
    }
    if let Some(csv) = &ds.csv {
        write_file(out, &csv.rel, rewrite_csv(csv, &by_source).as_bytes())?;
    }
    for rel in &ds.extra_files {
        let src = ds.root.join(rel);
        let bytes = std::fs::read(&src).map_err(|e| Error::io(format!("cannot read {}", src.display()), e))?;
        write_file(out, rel, &bytes)?;
    }
    write_file(out, MANIFEST_FILE, manifest::manifest_text(entries).as_bytes())?;

    let mut groups: BTreeMap<String, GroupCounts> = BTreeMap::new();
    for (g, n) in ds.group_sizes() {
        groups.entry(g).or_default().sources = n;
    }
    let group_of: HashMap<&str, &str> = ds.items.iter().map(|i| (i.rel.as_str(), i.group.as_str())).collect();
    for s in &skipped {
        if let Some(g) = group_of.get(s.source.as_str()) {
            groups.entry(g.to_string()).or_default().skipped += 1;
        }
    }
    let (mut stylized, mut unchanged, mut label_files) = (0, 0, 0);
    for e in entries {
        let g = groups.entry(e.group.clone()).or_default();
        if e.copy == 0 {
            g.unchanged += 1;
            unchanged += 1;
        } else {
            g.stylized += 1;
            stylized += 1;
        }
        label_files += e.labels.len();
    }
    let mut counter = Counter::new(ds);
    for item in &ds.items {
        counter.add(item, by_source.get(item.rel.as_str()).map_or(0, Vec::len))?;
    }
    let classes = counter.finish();
    let report = Report {
        format: ds.format.to_string(),
        input: config.input.clone(),
        engine: config.engine.clone(),
        sources: ds.items.len(),
        stylized,
        unchanged,
        label_files,
        groups,
        classes: classes.classes,
        classes_per_split: classes.splits,
        skipped,
        skipped_styles,
        unparsed_labels: classes.unparsed,
    };
    write_file(out, REPORT_FILE, (serde_json::to_string_pretty(&report).expect("report serialises") + "\n").as_bytes())?;
    state::remove_stale_temporaries(out);
    Ok(report)
}

fn write_file(out: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let path = out.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    Ok(write_atomic(&path, bytes)?)
}

fn max_id(values: &[serde_json::Value]) -> i64 {
    values.iter().filter_map(|v| v["id"].as_i64()).max().unwrap_or(0)
}

/// New COCO JSON: for every image entry, its outputs in copy order; an
/// unchanged copy keeps its entry and annotations, a stylized copy gets a new
/// image entry (fresh id, new file name) and duplicates of the image's
/// annotations (fresh ids). Fresh ids count up from the file's largest id,
/// in image order, so they do not depend on sharding.
fn rewrite_coco(coco: &layout::CocoFile, fi: usize, by_source: &HashMap<&str, Vec<&Entry>>) -> Result<serde_json::Value> {
    let _ = fi;
    let empty = Vec::new();
    let images = coco.json["images"].as_array().unwrap_or(&empty);
    let annotations = coco.json["annotations"].as_array().unwrap_or(&empty);
    let mut anns_of: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
    for a in annotations {
        anns_of.entry(a["image_id"].to_string()).or_default().push(a);
    }
    let mut next_image = max_id(images) + 1;
    let mut next_ann = max_id(annotations) + 1;
    let (mut new_images, mut new_anns) = (Vec::new(), Vec::new());
    for image in images {
        let Some(name) = image["file_name"].as_str() else { continue };
        let rel = format!("{}{}", coco.image_prefix, name);
        let anns = anns_of.get(&image["id"].to_string()).map(Vec::as_slice).unwrap_or(&[]);
        for e in by_source.get(rel.as_str()).map(Vec::as_slice).unwrap_or(&[]) {
            if e.copy == 0 {
                new_images.push(image.clone());
                new_anns.extend(anns.iter().map(|a| (*a).clone()));
                continue;
            }
            let file_name = e.output.strip_prefix(&coco.image_prefix).unwrap_or(&e.output);
            let mut img = image.clone();
            img["id"] = next_image.into();
            img["file_name"] = file_name.into();
            for a in anns {
                let mut a = (*a).clone();
                a["id"] = next_ann.into();
                a["image_id"] = next_image.into();
                next_ann += 1;
                new_anns.push(a);
            }
            new_images.push(img);
            next_image += 1;
        }
    }
    let mut json = coco.json.clone();
    json["images"] = new_images.into();
    json["annotations"] = new_anns.into();
    Ok(json)
}

/// New CSV: header unchanged; each row repeated for each output of its image,
/// with only the path field replaced (other fields kept byte for byte).
fn rewrite_csv(csv: &layout::CsvFile, by_source: &HashMap<&str, Vec<&Entry>>) -> String {
    let mut text = csv.header.join(",") + csv.newline;
    for row in &csv.rows {
        let value = layout::unquote(row.get(csv.path_column).map(String::as_str).unwrap_or(""));
        for e in by_source.get(value.as_str()).map(Vec::as_slice).unwrap_or(&[]) {
            let mut r = row.clone();
            if e.copy != 0 {
                r[csv.path_column] = layout::quote(&e.output);
            }
            text.push_str(&r.join(","));
            text.push_str(csv.newline);
        }
    }
    text
}
