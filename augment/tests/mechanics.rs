//! The pipeline's bookkeeping on small synthetic datasets, with a trivial
//! stand-in engine (colour inversion blended by strength) so that these run in
//! milliseconds; the real network is exercised end to end in `coco128.rs`.

use restyle_augment::engine::{Engine, PreparedStyle};
use restyle_augment::layout::Format;
use restyle_augment::manifest::{Entry, MANIFEST_FILE, REPORT_FILE};
use restyle_augment::plan::PlanOptions;
use restyle_augment::run::{run, RunOptions};
use restyle_augment::shard::Shard;
use restyle_augment::styles::StyleSource;
use restyle_core::image::{Picture, RgbImage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Invert;

impl Engine for Invert {
    fn describe(&self) -> String {
        "invert (test)".into()
    }
    fn style_vector(&self, style: &RgbImage) -> restyle_augment::Result<Vec<f32>> {
        Ok(vec![style.data.iter().sum::<f32>() / style.data.len() as f32])
    }
    fn stylize(&self, content: &Picture, style: &PreparedStyle, strength: f32, _seed: u64, _size: usize) -> restyle_augment::Result<Picture> {
        let tint = match style {
            PreparedStyle::Image(i) => i.data[0],
            PreparedStyle::Vector(v) => v[0].clamp(0.0, 1.0),
            PreparedStyle::Own => 0.5,
        };
        let data = content.rgb.data.iter().map(|x| (1.0 - strength) * x + strength * (1.0 - x) * 0.5 + 0.5 * strength * tint).collect();
        Ok(content.with_rgb(RgbImage::new(content.width(), content.height(), data)?)?)
    }
}

fn write_image(path: &Path, w: u32, h: u32, gray: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8]));
    if gray {
        image::DynamicImage::ImageRgb8(img).to_luma8().save(path).unwrap();
    } else {
        img.save(path).unwrap();
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn styles(dir: &Path) -> StyleSource {
    write_image(&dir.join("a.png"), 8, 8, false);
    let mut img = image::RgbImage::new(8, 8);
    img.pixels_mut().for_each(|p| *p = image::Rgb([250, 10, 10]));
    img.save(dir.join("b.png")).unwrap();
    StyleSource::Images { dir: dir.to_path_buf(), files: vec!["a.png".into(), "b.png".into()] }
}

fn opts(input: &Path, output: &Path) -> RunOptions {
    RunOptions {
        input: input.into(),
        output: output.into(),
        format: None,
        plan: PlanOptions { seed: 5, copies: 2, keep_originals: true, fraction: 1.0, strength: (0.4, 0.9) },
        working_size: 64,
        batch: 3,
        resume: false,
        shard: Shard::default(),
        progress: false,
        limit: None,
    }
}

/// Every file under `dir` (state folder excluded) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"))
        .filter(|p| !p.starts_with(".restyle-augment/"))
        .map(|p| (p.clone(), std::fs::read(dir.join(&p)).unwrap()))
        .collect()
}

fn yolo_dataset(root: &Path) {
    for (i, name) in ["a", "b", "c", "d", "e", "f", "g"].iter().enumerate() {
        let split = if i < 4 { "train" } else { "val" };
        write_image(&root.join(format!("images/{split}/{name}.png")), 20 + i as u32, 16, i == 2);
        if i != 3 {
            write(&root.join(format!("labels/{split}/{name}.txt")), format!("{i} 0.5 0.5 0.2 0.2\n").as_bytes());
        }
    }
    write(&root.join("images/train/broken.jpg"), b"\xff\xd8\xff\xe0 not a jpeg");
    write(&root.join("labels/train/broken.txt"), b"1 0.5 0.5 0.1 0.1\n");
    write(&root.join("data.yaml"), b"names: [a, b, c, d, e, f, g]\n");
}

#[test]
fn yolo_labels_copied_corrupt_skipped_and_runs_reproducible() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    yolo_dataset(&input);
    let st = styles(&t.path().join("styles"));
    let out = t.path().join("out");
    run(&opts(&input, &out), &st, &Invert).unwrap();
    let files = snapshot(&out);
    // 7 good images × (original + 2 copies), labels for 6 of them, + yaml, manifest, report.
    assert_eq!(files.keys().filter(|k| k.starts_with("images/")).count(), 21);
    assert_eq!(files.keys().filter(|k| k.starts_with("labels/")).count(), 18);
    assert_eq!(files["data.yaml"], std::fs::read(input.join("data.yaml")).unwrap());
    assert_eq!(files["labels/train/a_aug2.txt"], std::fs::read(input.join("labels/train/a.txt")).unwrap());
    assert_eq!(files["images/train/a.png"], std::fs::read(input.join("images/train/a.png")).unwrap(), "originals are byte copies");
    assert!(!files.keys().any(|k| k.contains("broken")), "a corrupt image and its label are skipped");
    let gray = image::open(out.join("images/train/c_aug1.png")).unwrap();
    assert_eq!(gray.color(), image::ColorType::L8);
    assert_eq!((gray.width(), gray.height()), (22, 16));
    assert_ne!(files["images/train/b_aug1.png"], files["images/train/b.png"]);
    let report: serde_json::Value = serde_json::from_slice(&files[REPORT_FILE]).unwrap();
    assert_eq!(report["skipped"][0]["source"], "images/train/broken.jpg");
    assert_eq!(report["groups"]["train"]["stylized"], 8);
    assert_eq!(report["groups"]["val"]["sources"], 3);
    let manifest: Vec<Entry> = std::str::from_utf8(&files[MANIFEST_FILE]).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(manifest.len(), 21);
    assert!(manifest.iter().filter(|e| e.copy > 0).all(|e| (0.4..=0.9).contains(&e.strength.unwrap())));

    // Same seed, different batch size → identical bytes.
    let out2 = t.path().join("out2");
    run(&RunOptions { batch: 1, ..opts(&input, &out2) }, &st, &Invert).unwrap();
    assert_eq!(snapshot(&out2), files);
    // Another seed changes the choices.
    let out3 = t.path().join("out3");
    let mut o = opts(&input, &out3);
    o.plan.seed = 6;
    run(&o, &st, &Invert).unwrap();
    assert_ne!(snapshot(&out3)[MANIFEST_FILE], files[MANIFEST_FILE]);
}

#[test]
fn outputs_are_refused_inside_the_input_or_in_foreign_folders() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    yolo_dataset(&input);
    let st = styles(&t.path().join("styles"));
    let e = run(&opts(&input, &input.join("aug")), &st, &Invert).unwrap_err().to_string();
    assert!(e.contains("inside the input"), "{e}");
    assert!(!input.join("aug").exists());
    let busy = t.path().join("busy");
    write(&busy.join("notes.txt"), b"mine");
    let e = run(&opts(&input, &busy), &st, &Invert).unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    let out = t.path().join("out");
    run(&opts(&input, &out), &st, &Invert).unwrap();
    let e = run(&opts(&input, &out), &st, &Invert).unwrap_err().to_string();
    assert!(e.contains("--resume"), "{e}");
    let mut other = opts(&input, &out);
    other.plan.seed = 99;
    other.resume = true;
    let e = run(&other, &st, &Invert).unwrap_err().to_string();
    assert!(e.contains("different settings") && e.contains("plan"), "{e}");
}

#[test]
fn resume_redoes_exactly_what_the_journal_cannot_vouch_for() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    yolo_dataset(&input);
    let st = styles(&t.path().join("styles"));
    let out = t.path().join("out");
    run(&opts(&input, &out), &st, &Invert).unwrap();
    let reference = snapshot(&out);
    // Simulate a crash: one output tampered with, one deleted, a torn journal line, a stale temporary file.
    std::fs::write(out.join("images/train/a_aug1.png"), b"half a file").unwrap();
    std::fs::remove_file(out.join("labels/val/f_aug2.txt")).unwrap();
    std::fs::remove_file(out.join(MANIFEST_FILE)).unwrap();
    write(&out.join("images/val/.restyle-x1.tmp"), b"partial");
    let journal = out.join(".restyle-augment/journal.shard-0-of-1.jsonl");
    let mut j = std::fs::read(&journal).unwrap();
    j.extend_from_slice(b"{\"source\":\"images/val/g.p");
    std::fs::write(&journal, j).unwrap();
    let s = run(&RunOptions { resume: true, ..opts(&input, &out) }, &st, &Invert).unwrap();
    assert_eq!(s.processed, 3, "a, f and the corrupt image are redone");
    assert_eq!(s.already_done, 5);
    assert_eq!(snapshot(&out), reference);
}

#[test]
fn shards_then_merge_equal_one_run() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    yolo_dataset(&input);
    let st = styles(&t.path().join("styles"));
    let single = t.path().join("single");
    run(&opts(&input, &single), &st, &Invert).unwrap();
    let sharded = t.path().join("sharded");
    for i in 0..3 {
        let s = run(&RunOptions { shard: Shard::new(i, 3).unwrap(), ..opts(&input, &sharded) }, &st, &Invert).unwrap();
        assert!(!s.finalized);
        if i < 2 {
            let e = restyle_augment::merge::merge(&sharded).unwrap_err().to_string();
            assert!(e.contains("have not finished"), "{e}");
        }
    }
    restyle_augment::merge::merge(&sharded).unwrap();
    assert_eq!(snapshot(&sharded), snapshot(&single));
}

#[test]
fn coco_json_gets_new_images_and_annotations_with_fresh_ids() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    write_image(&input.join("images/a.png"), 12, 10, false);
    write_image(&input.join("images/b.png"), 10, 12, false);
    let json = serde_json::json!({
        "info": {"description": "tiny"},
        "images": [{"id": 1, "file_name": "a.png", "width": 12, "height": 10}, {"id": 7, "file_name": "b.png", "width": 10, "height": 12}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 4]},
            {"id": 11, "image_id": 7, "category_id": 2, "bbox": [2, 2, 3, 3]},
            {"id": 12, "image_id": 1, "category_id": 2, "bbox": [0, 0, 2, 2]}
        ],
        "categories": [{"id": 2, "name": "two"}, {"id": 3, "name": "three"}]
    });
    write(&input.join("annotations.json"), serde_json::to_string(&json).unwrap().as_bytes());
    let st = styles(&t.path().join("styles"));
    let out = t.path().join("out");
    let o = opts(&input, &out);
    assert_eq!(restyle_augment::layout::detect(&input).unwrap(), Format::Coco);
    run(&o, &st, &Invert).unwrap();
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("annotations.json")).unwrap()).unwrap();
    assert_eq!(got["info"], json["info"]);
    assert_eq!(got["categories"], json["categories"]);
    let images = got["images"].as_array().unwrap();
    let names: Vec<&str> = images.iter().map(|i| i["file_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.png", "a_aug1.png", "a_aug2.png", "b.png", "b_aug1.png", "b_aug2.png"]);
    let ids: Vec<i64> = images.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 8, 9, 7, 10, 11]);
    for n in &names {
        assert!(out.join("images").join(n).is_file(), "{n}");
    }
    let anns = got["annotations"].as_array().unwrap();
    assert_eq!(anns.len(), 9);
    let mut ann_ids: Vec<i64> = anns.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    ann_ids.sort();
    ann_ids.dedup();
    assert_eq!(ann_ids.len(), 9, "annotation ids are unique");
    // Each copy of a.png carries both of a's boxes, unchanged apart from ids.
    for id in [1, 8, 9] {
        let mut boxes: Vec<&serde_json::Value> = anns.iter().filter(|a| a["image_id"] == id).map(|a| &a["bbox"]).collect();
        boxes.sort_by_key(|b| b.to_string());
        assert_eq!(boxes, [&serde_json::json!([0, 0, 2, 2]), &serde_json::json!([1, 1, 4, 4])]);
    }
}

#[test]
fn class_folders_csv_and_masks_keep_their_labels() {
    let t = tempfile::tempdir().unwrap();
    let st = styles(&t.path().join("styles"));
    let o = |input: &Path, out: &Path| RunOptions { plan: PlanOptions { copies: 1, keep_originals: false, ..opts(input, out).plan }, ..opts(input, out) };

    let cls = t.path().join("cls");
    write_image(&cls.join("train/cat/1.png"), 9, 9, false);
    write_image(&cls.join("train/dog/2.png"), 9, 9, false);
    write_image(&cls.join("val/dog/3.png"), 9, 9, true);
    let out = t.path().join("cls-out");
    run(&o(&cls, &out), &st, &Invert).unwrap();
    for f in ["train/cat/1.png", "train/dog/2.png", "val/dog/3.png"] {
        assert!(out.join(f).is_file(), "{f}: one copy keeps the name");
        assert_ne!(std::fs::read(out.join(f)).unwrap(), std::fs::read(cls.join(f)).unwrap());
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join(REPORT_FILE)).unwrap()).unwrap();
    assert_eq!(report["format"], "class-folders");
    assert_eq!(report["groups"]["train/dog"]["stylized"], 1);

    let csv = t.path().join("csv");
    write_image(&csv.join("img/a.png"), 9, 9, false);
    write_image(&csv.join("img/b.png"), 9, 9, false);
    write(&csv.join("labels.csv"), b"path,label,note\r\nimg/a.png,cat,\"x, y\"\r\nimg/b.png,dog,z\r\n");
    let out = t.path().join("csv-out");
    let mut oc = o(&csv, &out);
    oc.plan.keep_originals = true;
    run(&oc, &st, &Invert).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("labels.csv")).unwrap(),
        "path,label,note\r\nimg/a.png,cat,\"x, y\"\r\nimg/a_aug1.png,cat,\"x, y\"\r\nimg/b.png,dog,z\r\nimg/b_aug1.png,dog,z\r\n"
    );

    let seg = t.path().join("seg");
    write_image(&seg.join("images/a.jpg"), 16, 16, false);
    write_image(&seg.join("masks/a.png"), 16, 16, true);
    let out = t.path().join("seg-out");
    let mut os = o(&seg, &out);
    os.plan.copies = 2;
    run(&os, &st, &Invert).unwrap();
    for m in ["masks/a_aug1.png", "masks/a_aug2.png"] {
        assert_eq!(std::fs::read(out.join(m)).unwrap(), std::fs::read(seg.join("masks/a.png")).unwrap());
    }
    let _: PathBuf = out;
}

#[test]
fn random_style_vectors_come_from_the_default_distribution() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    yolo_dataset(&input);
    let dist = restyle_augment::styles::StyleDistribution::default_set().unwrap();
    assert_eq!(dist.dim, 100);
    let st = StyleSource::Random(dist);
    let out = t.path().join("out");
    run(&opts(&input, &out), &st, &Invert).unwrap();
    let manifest = std::fs::read_to_string(out.join(MANIFEST_FILE)).unwrap();
    let styles: std::collections::BTreeSet<String> =
        manifest.lines().filter_map(|l| serde_json::from_str::<Entry>(l).unwrap().style).collect();
    assert_eq!(styles.len(), 14, "every stylized output has its own random style vector");
    assert!(styles.iter().all(|s| s.starts_with("random:")));
}

/// A small YOLO dataset of real coco128 files (images, labels, config files).
fn coco_subset(root: &Path, stems: &[&str]) {
    let src = restyle_weights::testing::shared_data_dir().join("coco128");
    for f in ["classes.txt", "config.yaml"] {
        write(&root.join(f), &std::fs::read(src.join(f)).unwrap());
    }
    for s in stems {
        write(&root.join(format!("images/train2017/{s}.jpg")), &std::fs::read(src.join(format!("images/train2017/{s}.jpg"))).unwrap());
        let label = src.join(format!("labels/train2017/{s}.txt"));
        if label.exists() {
            write(&root.join(format!("labels/train2017/{s}.txt")), &std::fs::read(label).unwrap());
        }
    }
}

fn sha_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(dir)
}

/// Issue 19 item 4: a label file that is not UTF-8 used to fail the whole
/// run at finalisation (all images written, exit 1, no manifest/report).
/// Labels are bytes: copied byte for byte, and a file that cannot be parsed
/// for the class counts is listed in the report, never fatal.
#[test]
fn non_utf8_label_is_copied_and_reported_never_fatal() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    coco_subset(&input, &["000000000009", "000000000025", "000000000030"]);
    let latin1 = b"23 0.770336 0.489695 0.335891 0.697559 # caf\xe9\n45 0.5 0.5 0.1 0.1\n".to_vec();
    write(&input.join("labels/train2017/000000000025.txt"), &latin1);
    let before = sha_tree(&input);
    let st = styles(&t.path().join("styles"));
    let out = t.path().join("out");
    let o = RunOptions { plan: PlanOptions { copies: 1, keep_originals: false, ..opts(&input, &out).plan }, ..opts(&input, &out) };
    run(&o, &st, &Invert).unwrap();
    assert_eq!(sha_tree(&input), before, "sources untouched");
    let files = snapshot(&out);
    assert_eq!(files["labels/train2017/000000000025.txt"], latin1, "copied byte for byte");
    assert!(files.contains_key(MANIFEST_FILE));
    let report: serde_json::Value = serde_json::from_slice(&files[REPORT_FILE]).unwrap();
    assert_eq!(report["unparsed_labels"][0]["file"], "labels/train2017/000000000025.txt", "{report:#}");
    assert!(report["unparsed_labels"][0]["reason"].as_str().unwrap().contains("UTF-8"));
    assert_eq!(report["stylized"], 3, "the image itself is stylized");
    // Other files still counted: 000000000009's classes are there.
    assert!(report["classes"].as_object().is_some_and(|c| !c.is_empty()));
    // A rerun (resume) succeeds the same way.
    run(&RunOptions { resume: true, ..o }, &st, &Invert).unwrap();
    assert_eq!(snapshot(&out), files);
}

/// Issue 19 item 3 (augment side): a truncated training image must be
/// reported and skipped — no output, no label copy — not stylized as a
/// half-grey picture (the core decoder now refuses truncated JPEGs).
#[test]
fn truncated_jpeg_is_skipped_with_its_labels() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    coco_subset(&input, &["000000000009", "000000000030"]);
    let p = input.join("images/train2017/000000000009.jpg");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() * 4 / 10]).unwrap();
    let st = styles(&t.path().join("styles"));
    let out = t.path().join("out");
    run(&opts(&input, &out), &st, &Invert).unwrap();
    let files = snapshot(&out);
    assert!(!files.keys().any(|k| k.contains("000000000009")), "no output or label for a truncated image: {:?}", files.keys());
    let report: serde_json::Value = serde_json::from_slice(&files[REPORT_FILE]).unwrap();
    assert_eq!(report["skipped"][0]["source"], "images/train2017/000000000009.jpg", "{report:#}");
    assert!(files.contains_key("images/train2017/000000000030_aug1.jpg"));
}

/// Issue 19 item 5: a corrupt painting in `--styles` killed the run partway,
/// and after removing it the folder was refused even with `--resume`. Every
/// style is decoded up front; a bad one is reported and left out of the
/// draw, and the settings record the usable set, so removing it resumes.
#[test]
fn corrupt_style_image_is_reported_skipped_and_removing_it_resumes() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    yolo_dataset(&input);
    let sdir = t.path().join("styles");
    let good = styles(&sdir);
    write(&sdir.join("aa-corrupt.jpg"), b"\xff\xd8\xff\xe0 this is not a painting");
    let with_bad = StyleSource::Images { dir: sdir.clone(), files: vec!["a.png".into(), "aa-corrupt.jpg".into(), "b.png".into()] };
    let out = t.path().join("out");
    let s = run(&opts(&input, &out), &with_bad, &Invert).unwrap();
    assert_eq!(s.skipped_styles.len(), 1);
    assert_eq!(s.skipped_styles[0].source, "aa-corrupt.jpg");
    let files = snapshot(&out);
    let report: serde_json::Value = serde_json::from_slice(&files[REPORT_FILE]).unwrap();
    assert_eq!(report["skipped_styles"][0]["source"], "aa-corrupt.jpg", "{report:#}");
    assert!(!std::str::from_utf8(&files[MANIFEST_FILE]).unwrap().contains("aa-corrupt"), "never drawn");
    // The same run as one with only the good styles.
    let clean = t.path().join("clean");
    run(&opts(&input, &clean), &good, &Invert).unwrap();
    let strip = |mut m: BTreeMap<String, Vec<u8>>| {
        m.remove(REPORT_FILE);
        m
    };
    assert_eq!(strip(snapshot(&clean)), strip(files.clone()));
    // The user removes the bad painting and resumes: accepted, nothing redone.
    std::fs::remove_file(sdir.join("aa-corrupt.jpg")).unwrap();
    let s = run(&RunOptions { resume: true, ..opts(&input, &out) }, &good, &Invert).unwrap();
    assert_eq!(s.processed, 1, "only the corrupt content image is retried");
    assert_eq!(snapshot(&out), snapshot(&clean));
    // Every style corrupt: refused before any work.
    let bad_only = t.path().join("bad-styles");
    write(&bad_only.join("x.png"), b"");
    let none = StyleSource::Images { dir: bad_only, files: vec!["x.png".into()] };
    let out2 = t.path().join("out2");
    let e = run(&opts(&input, &out2), &none, &Invert).unwrap_err().to_string();
    assert!(e.contains("none of the 1 style images") && e.contains("x.png"), "{e}");
    assert!(!out2.exists() || snapshot(&out2).is_empty(), "no work done");
}
