//! Per-class counts for the report: how many output images show each class
//! and how many objects of it they hold, overall and per split.
//!
//! Classes come from the labels the layout carries: YOLO class ids (first
//! field of each line), COCO category names (else ids), the class folder,
//! or the CSV label column. Segmentation masks are not decoded (no classes).
//! Objects are counted where labels list objects (YOLO, COCO); image-level
//! labels (class folders, CSV) count images only.

use crate::layout::{Dataset, Format, Item, Record};
use crate::Result;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ClassCounts {
    /// Output images with at least one label of the class.
    pub images: usize,
    /// Objects of the class in those images (layouts that label objects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<usize>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ClassReport {
    pub classes: BTreeMap<String, ClassCounts>,
    /// The same per split (empty when the layout has no split level).
    pub splits: BTreeMap<String, BTreeMap<String, ClassCounts>>,
    /// Label files that could not be read or parsed for counting (their
    /// copies are still written byte for byte; only the counts leave them out).
    pub unparsed: Vec<Unparsed>,
}

/// A label file left out of the class counts, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unparsed {
    pub file: String,
    pub reason: String,
}

/// The class of each object line of a YOLO label file (first field), read
/// from bytes: labels are copied byte for byte, so their text may be in any
/// encoding; a file that is not UTF-8 (or that holds NUL bytes) is not
/// counted. Blank lines are ignored.
pub fn yolo_classes(bytes: &[u8]) -> std::result::Result<Vec<&str>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text (invalid byte at offset {})", e.valid_up_to()))?;
    if text.contains('\0') {
        return Err("holds NUL bytes: not a text label file".into());
    }
    Ok(text.lines().filter_map(|line| line.split_whitespace().next()).collect())
}

/// The classes of one source image: class → objects (`None`: image-level label).
type Classes = BTreeMap<String, Option<usize>>;

/// Reads the labels of a dataset to count classes per output image.
pub struct Counter<'a> {
    ds: &'a Dataset,
    /// COCO: (file, image id as JSON text) → category names of its annotations.
    coco: HashMap<(usize, String), Vec<String>>,
    report: ClassReport,
}

impl<'a> Counter<'a> {
    pub fn new(ds: &'a Dataset) -> Self {
        let mut coco: HashMap<(usize, String), Vec<String>> = HashMap::new();
        for (fi, file) in ds.coco.iter().enumerate() {
            let names: HashMap<String, String> = file.json["categories"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| Some((c["id"].to_string(), c["name"].as_str()?.to_string())))
                .collect();
            for a in file.json["annotations"].as_array().into_iter().flatten() {
                let id = a["category_id"].to_string();
                let name = names.get(&id).cloned().unwrap_or(id);
                coco.entry((fi, a["image_id"].to_string())).or_default().push(name);
            }
        }
        Counter { ds, coco, report: ClassReport::default() }
    }

    /// Counts `outputs` images written from `item`.
    /// A label file that cannot be read or parsed is listed in
    /// [`ClassReport::unparsed`] and left out of the counts; it never fails.
    pub fn add(&mut self, item: &Item, outputs: usize) -> Result<()> {
        if outputs == 0 {
            return Ok(());
        }
        let classes = self.classes_of(item);
        let split = self.split_of(item);
        let mut tables = vec![&mut self.report.classes];
        if let Some(s) = split {
            tables.push(self.report.splits.entry(s).or_default());
        }
        for table in tables {
            for (class, objects) in &classes {
                let c = table.entry(class.clone()).or_default();
                c.images += outputs;
                if let Some(n) = objects {
                    c.objects = Some(c.objects.unwrap_or(0) + n * outputs);
                }
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> ClassReport {
        self.report.unparsed.sort();
        self.report.unparsed.dedup();
        self.report
    }

    fn classes_of(&mut self, item: &Item) -> Classes {
        let mut out = Classes::new();
        match self.ds.format {
            Format::Yolo => {
                for l in &item.labels {
                    let path = self.ds.root.join(l);
                    let bytes = match std::fs::read(&path) {
                        Ok(b) => b,
                        Err(e) => {
                            self.report.unparsed.push(Unparsed { file: l.clone(), reason: format!("cannot read: {e}") });
                            continue;
                        }
                    };
                    match yolo_classes(&bytes) {
                        Ok(classes) => {
                            for class in classes {
                                *out.entry(class.to_string()).or_insert(Some(0)).get_or_insert(0) += 1;
                            }
                        }
                        Err(reason) => self.report.unparsed.push(Unparsed { file: l.clone(), reason }),
                    }
                }
            }
            Format::Coco => {
                for r in &item.records {
                    let Record::Coco { file, index } = r else { continue };
                    let id = self.ds.coco[*file].json["images"][*index]["id"].to_string();
                    for name in self.coco.get(&(*file, id)).into_iter().flatten() {
                        *out.entry(name.clone()).or_insert(Some(0)).get_or_insert(0) += 1;
                    }
                }
            }
            Format::ClassFolders => {
                let class = item.group.rsplit('/').next().unwrap_or_default();
                out.insert(class.to_string(), None);
            }
            Format::Csv if !item.group.is_empty() => {
                out.insert(item.group.clone(), None);
            }
            Format::Csv | Format::Segmentation => {}
        }
        out
    }

    /// The split an item belongs to, when the layout has a split level:
    /// the folder under `images/` (YOLO), the folders above the class
    /// (class folders), the JSON file when there are several (COCO).
    fn split_of(&self, item: &Item) -> Option<String> {
        let split = match self.ds.format {
            Format::Yolo | Format::Segmentation => item.group.clone(),
            Format::ClassFolders => item.group.rsplit_once('/').map(|(s, _)| s.to_string()).unwrap_or_default(),
            Format::Coco if self.ds.coco.len() > 1 => item.group.clone(),
            Format::Coco | Format::Csv => String::new(),
        };
        (!split.is_empty()).then_some(split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::tests::touch;

    #[test]
    fn yolo_counts_images_and_objects_per_class_and_split() {
        let t = tempfile::tempdir().unwrap();
        touch(t.path(), "images/train/a.jpg", b"x");
        touch(t.path(), "labels/train/a.txt", b"0 0.5 0.5 0.1 0.1\n0 0.2 0.2 0.1 0.1\n3 0.5 0.5 0.2 0.2\n");
        touch(t.path(), "images/val/b.jpg", b"x");
        touch(t.path(), "labels/val/b.txt", b"3 0.5 0.5 0.1 0.1\n\n");
        touch(t.path(), "images/val/c.jpg", b"x");
        let ds = crate::layout::open(t.path(), None).unwrap();
        let mut c = Counter::new(&ds);
        for (item, n) in ds.items.iter().zip([2, 1, 1]) {
            c.add(item, n).unwrap();
        }
        let r = c.finish();
        let cc = |images, objects| ClassCounts { images, objects: Some(objects) };
        assert_eq!(r.classes["0"], cc(2, 4));
        assert_eq!(r.classes["3"], cc(3, 3));
        assert_eq!(r.splits["train"]["3"], cc(2, 2));
        assert_eq!(r.splits["val"]["3"], cc(1, 1));
        assert!(!r.splits["val"].contains_key("0"));
    }

    #[test]
    fn coco_names_and_class_folders() {
        let t = tempfile::tempdir().unwrap();
        let coco = t.path().join("coco");
        touch(&coco, "images/a.jpg", b"x");
        touch(&coco, "images/b.jpg", b"x");
        touch(
            &coco,
            "annotations.json",
            br#"{"images":[{"id":1,"file_name":"a.jpg"},{"id":2,"file_name":"b.jpg"}],
                "annotations":[{"id":1,"image_id":1,"category_id":1},{"id":2,"image_id":1,"category_id":1},{"id":3,"image_id":2,"category_id":9}],
                "categories":[{"id":1,"name":"person"}]}"#,
        );
        let ds = crate::layout::open(&coco, None).unwrap();
        let mut c = Counter::new(&ds);
        for item in &ds.items {
            c.add(item, 1).unwrap();
        }
        let r = c.finish();
        assert_eq!(r.classes["person"], ClassCounts { images: 1, objects: Some(2) });
        assert_eq!(r.classes["9"], ClassCounts { images: 1, objects: Some(1) }, "unnamed category keeps its id");
        assert!(r.splits.is_empty(), "one JSON file: no splits");

        let cls = t.path().join("cls");
        touch(&cls, "train/cat/1.png", b"x");
        touch(&cls, "train/dog/2.png", b"x");
        touch(&cls, "val/cat/3.png", b"x");
        let ds = crate::layout::open(&cls, None).unwrap();
        let mut c = Counter::new(&ds);
        for item in &ds.items {
            c.add(item, 2).unwrap();
        }
        let r = c.finish();
        assert_eq!(r.classes["cat"], ClassCounts { images: 4, objects: None });
        assert_eq!(r.splits["train"]["dog"].images, 2);
        assert_eq!(r.splits["val"].len(), 1);
    }
}
