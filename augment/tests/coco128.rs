//! End to end on real COCO images (../shared/data/coco128) with the real
//! arbitrary network, through the `restyle-augment` binary as a user runs it.
//! Small working size (128 px) and a 10-image subset keep it quick; the
//! subset holds the grayscale 000000000086.jpg and the unlabelled
//! 000000000250.jpg and 000000000508.jpg.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SUBSET: &[&str] = &[
    "000000000009", "000000000025", "000000000030", "000000000034", "000000000036", "000000000042", "000000000086",
    "000000000250", "000000000508", "000000000077",
];

fn weights_dir() -> Option<PathBuf> {
    let p = restyle_weights::testing::real_weights("magenta-arbitrary-predict-int8.onnx")?;
    restyle_weights::testing::real_weights("magenta-arbitrary-transform-int8.onnx")?;
    Some(p.parent().unwrap().to_path_buf())
}

fn coco128() -> PathBuf {
    restyle_weights::testing::shared_data_dir().join("coco128")
}

/// A YOLO dataset of the subset (images, labels, config files) under `root`.
fn subset(root: &Path) {
    subset_of(root, SUBSET)
}

fn subset_of(root: &Path, stems: &[&str]) {
    let src = coco128();
    std::fs::create_dir_all(root).unwrap();
    for f in ["classes.txt", "config.yaml"] {
        std::fs::copy(src.join(f), root.join(f)).unwrap();
    }
    std::fs::create_dir_all(root.join("images/train2017")).unwrap();
    std::fs::create_dir_all(root.join("labels/train2017")).unwrap();
    for s in stems {
        std::fs::copy(src.join(format!("images/train2017/{s}.jpg")), root.join(format!("images/train2017/{s}.jpg"))).unwrap();
        let label = src.join(format!("labels/train2017/{s}.txt"));
        if label.exists() {
            std::fs::copy(label, root.join(format!("labels/train2017/{s}.txt"))).unwrap();
        }
    }
}

fn augment(args: &[&str], weights: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_restyle-augment"));
    c.args(args).arg("--weights-dir").arg(weights).arg("--device").arg("cpu").arg("--quiet");
    c
}

fn ok(mut c: Command) {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr));
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .filter(|p| !p.starts_with(".restyle-augment"))
        .map(|p| (p.clone(), std::fs::read(dir.join(&p)).unwrap()))
        .collect()
}

/// Two public-domain paintings (each style image costs a style prediction per process).
fn two_styles(dir: &Path) -> PathBuf {
    let d = dir.join("styles");
    std::fs::create_dir_all(&d).unwrap();
    for f in ["wave.jpg", "starry_night.jpg"] {
        std::fs::copy(restyle_weights::testing::shared_data_dir().join("style").join(f), d.join(f)).unwrap();
    }
    d
}

fn mean_abs_diff(a: &image::DynamicImage, b: &image::DynamicImage) -> f64 {
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.as_raw().len() as f64 / 255.0
}

#[test]
fn yolo_labels_intact_deterministic_crash_safe_and_shardable() {
    let Some(w) = weights_dir() else { return };
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("coco-sub");
    subset(&input);
    let style_dir = two_styles(t.path());
    let style = style_dir.to_str().unwrap();
    let common = |out: &Path| -> Vec<String> {
        ["run", input.to_str().unwrap(), out.to_str().unwrap(), "--styles", style, "--strength", "0.5..1", "--seed", "7", "--size", "128", "--batch", "2"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let args = |out: &Path| common(out);
    let run = |out: &Path, extra: &[&str]| {
        let mut a: Vec<String> = args(out);
        a.extend(extra.iter().map(|s| s.to_string()));
        augment(&a.iter().map(String::as_str).collect::<Vec<_>>(), &w)
    };

    let reference = t.path().join("ref");
    ok(run(&reference, &[]));
    let files = snapshot(&reference);
    for s in SUBSET {
        let rel = format!("images/train2017/{s}.jpg");
        let src = image::open(input.join(&rel)).unwrap();
        let out = image::load_from_memory(&files[&rel]).unwrap();
        assert_eq!((out.width(), out.height()), (src.width(), src.height()), "{rel}: size kept");
        assert_eq!(out.color(), src.color(), "{rel}: colour mode kept");
        let d = mean_abs_diff(&src, &out);
        assert!(d > 0.03, "{rel}: pixels barely changed ({d})");
        let label = format!("labels/train2017/{s}.txt");
        match std::fs::read(input.join(&label)) {
            Ok(bytes) => assert_eq!(files.get(&label), Some(&bytes), "{label} byte-identical"),
            Err(_) => assert!(!files.contains_key(&label), "{label}: no label invented"),
        }
    }
    assert_eq!(image::open(input.join("images/train2017/000000000086.jpg")).unwrap().color(), image::ColorType::L8);
    assert_eq!(files["config.yaml"], std::fs::read(input.join("config.yaml")).unwrap());
    let report: serde_json::Value = serde_json::from_slice(&files["augment-report.json"]).unwrap();
    assert_eq!(report["stylized"], 10);
    assert_eq!(report["label_files"], 8);

    // Same seed → byte-identical dataset.
    let again = t.path().join("again");
    ok(run(&again, &[]));
    assert_eq!(snapshot(&again), files, "a second run with the same seed is byte-identical");

    // SIGKILL mid-run, then --resume: equals the uninterrupted run, no partial files.
    let crashed = t.path().join("crashed");
    let mut child = run(&crashed, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let journal = crashed.join(".restyle-augment/journal.shard-0-of-1.jsonl");
    let start = std::time::Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal).map(|t| t.lines().count()).unwrap_or(0);
        if lines >= 3 || start.elapsed().as_secs() > 120 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert!(lines < 10 && !crashed.join("augment-manifest.jsonl").exists(), "the kill must land mid-run ({lines} journalled)");
    ok(run(&crashed, &["--resume"]));
    let resumed = snapshot(&crashed);
    assert!(!resumed.keys().any(|k| k.contains(".restyle-") && k.ends_with(".tmp")), "no partial files");
    assert_eq!(resumed, files, "resumed run equals the uninterrupted run");

    // Three shards as separate processes + merge equal the single run.
    let sharded = t.path().join("sharded");
    let children: Vec<_> = (0..3).map(|i| run(&sharded, &["--shard", &format!("{i}/3")]).spawn().unwrap()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut merge = Command::new(env!("CARGO_BIN_EXE_restyle-augment"));
    merge.arg("merge").arg(&sharded);
    ok(merge);
    assert_eq!(snapshot(&sharded), files, "3 shards + merge equal the single run");
}

/// Builds a COCO JSON from the subset's YOLO labels, runs with random style
/// vectors and two copies, and checks the new JSON.
#[test]
fn coco_json_from_yolo_labels() {
    let Some(w) = weights_dir() else { return };
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("coco-json");
    std::fs::create_dir_all(input.join("images")).unwrap();
    let (mut images, mut anns) = (Vec::new(), Vec::new());
    for (i, s) in SUBSET.iter().take(5).enumerate() {
        let src = coco128().join(format!("images/train2017/{s}.jpg"));
        std::fs::copy(&src, input.join(format!("images/{s}.jpg"))).unwrap();
        let (wd, ht) = image::image_dimensions(&src).unwrap();
        images.push(serde_json::json!({"id": i + 1, "file_name": format!("{s}.jpg"), "width": wd, "height": ht}));
        let text = std::fs::read_to_string(coco128().join(format!("labels/train2017/{s}.txt"))).unwrap_or_default();
        for line in text.lines() {
            let v: Vec<f64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
            let (bw, bh) = (v[3] * wd as f64, v[4] * ht as f64);
            let bbox = [v[1] * wd as f64 - bw / 2.0, v[2] * ht as f64 - bh / 2.0, bw, bh];
            anns.push(serde_json::json!({"id": anns.len() + 1, "image_id": i + 1, "category_id": v[0] as i64 + 1, "bbox": bbox, "area": bw * bh, "iscrowd": 0}));
        }
    }
    let json = serde_json::json!({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]});
    std::fs::write(input.join("annotations.json"), serde_json::to_vec(&json).unwrap()).unwrap();
    let out = t.path().join("out");
    ok(augment(&["run", input.to_str().unwrap(), out.to_str().unwrap(), "--random-style", "--copies", "2", "--strength", "0.5", "--size", "96"], &w));
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("annotations.json")).unwrap()).unwrap();
    let (gi, ga) = (got["images"].as_array().unwrap(), got["annotations"].as_array().unwrap());
    assert_eq!(gi.len(), 10);
    assert_eq!(ga.len(), 2 * anns.len());
    let mut ids: Vec<i64> = gi.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (6..16).collect::<Vec<i64>>(), "fresh image ids");
    let mut aids: Vec<i64> = ga.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    aids.sort();
    aids.dedup();
    assert_eq!(aids.len(), ga.len(), "fresh, unique annotation ids");
    for img in gi {
        let name = img["file_name"].as_str().unwrap();
        let dims = image::image_dimensions(out.join("images").join(name)).unwrap();
        assert_eq!((dims.0 as i64, dims.1 as i64), (img["width"].as_i64().unwrap(), img["height"].as_i64().unwrap()));
        let source = &images.iter().find(|s| name.starts_with(s["file_name"].as_str().unwrap().trim_end_matches(".jpg"))).unwrap();
        let boxes = |id: &serde_json::Value, list: &[serde_json::Value]| -> Vec<String> {
            let mut b: Vec<String> = list.iter().filter(|a| &a["image_id"] == id).map(|a| a["bbox"].to_string()).collect();
            b.sort();
            b
        };
        assert_eq!(boxes(&img["id"], ga), boxes(&source["id"], &anns), "{name}: boxes duplicated unchanged");
    }
}

#[test]
fn class_folders_with_copies_originals_and_fraction() {
    let Some(w) = weights_dir() else { return };
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("classes");
    for (i, s) in SUBSET.iter().take(6).enumerate() {
        let class = if i % 2 == 0 { "cat" } else { "dog" };
        std::fs::create_dir_all(input.join(class)).unwrap();
        std::fs::copy(coco128().join(format!("images/train2017/{s}.jpg")), input.join(format!("{class}/{s}.jpg"))).unwrap();
    }
    let out = t.path().join("out");
    let styles = two_styles(t.path());
    ok(augment(
        &["run", input.to_str().unwrap(), out.to_str().unwrap(), "--styles", styles.to_str().unwrap(), "--copies", "2", "--keep-originals", "--fraction", "0.5", "--seed", "3", "--size", "96"],
        &w,
    ));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("augment-report.json")).unwrap()).unwrap();
    assert_eq!(report["format"], "class-folders");
    assert_eq!(report["unchanged"], 6, "every source kept (selected ones as originals, the rest unchanged)");
    let stylized = report["stylized"].as_u64().unwrap();
    assert!(stylized.is_multiple_of(2) && (2..=10).contains(&stylized), "about half the images get 2 copies: {stylized}");
    for class in ["cat", "dog"] {
        for e in std::fs::read_dir(input.join(class)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert_eq!(std::fs::read(out.join(class).join(&name)).unwrap(), std::fs::read(input.join(class).join(&name)).unwrap());
        }
        let n = std::fs::read_dir(out.join(class)).unwrap().count() as u64;
        assert!(n >= 3, "class folder {class} kept");
    }
}

/// Six images (one grayscale, one unlabelled) for the multistyle26 / fast engines.
const SIX: &[&str] = &["000000000009", "000000000025", "000000000030", "000000000086", "000000000250", "000000000077"];

fn manifest(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("augment-manifest.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Every output image keeps its source's size and mode and changed; every
/// label file is byte-identical and none is invented.
fn check_outputs(input: &Path, files: &BTreeMap<String, Vec<u8>>, stems: &[&str], min_change: f64) {
    for s in stems {
        let rel = format!("images/train2017/{s}.jpg");
        let src = image::open(input.join(&rel)).unwrap();
        let out = image::load_from_memory(&files[&rel]).unwrap();
        assert_eq!((out.width(), out.height(), out.color()), (src.width(), src.height(), src.color()), "{rel}: size and mode kept");
        let d = mean_abs_diff(&src, &out);
        assert!(d > min_change, "{rel}: pixels barely changed ({d})");
        let label = format!("labels/train2017/{s}.txt");
        match std::fs::read(input.join(&label)) {
            Ok(bytes) => assert_eq!(files.get(&label), Some(&bytes), "{label} byte-identical"),
            Err(_) => assert!(!files.contains_key(&label), "{label}: no label invented"),
        }
    }
}

/// multistyle26 on real COCO images: labels intact, pixels changed, styles
/// drawn from --style-ids and recorded, deterministic; --random-style
/// blends; the report's per-class counts match the output's label files.
#[test]
fn multistyle26_engine_end_to_end() {
    let Some(onnx) = restyle_weights::testing::real_weights("multistyle26.onnx") else { return };
    let w = onnx.parent().unwrap().to_path_buf();
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("six");
    subset_of(&input, SIX);
    let run = |out: &Path, extra: &[&str]| {
        let mut a = vec!["run", input.to_str().unwrap(), out.to_str().unwrap(), "--method", "multistyle26", "--seed", "5", "--size", "128"];
        a.extend_from_slice(extra);
        augment(&a, &w)
    };
    let out = t.path().join("ms");
    ok(run(&out, &["--style-ids", "3,7,12", "--strength", "0.7..1"]));
    let files = snapshot(&out);
    check_outputs(&input, &files, SIX, 0.03);
    let entries = manifest(&out);
    assert_eq!(entries.len(), SIX.len());
    let mut styles = std::collections::BTreeSet::new();
    for e in &entries {
        assert_eq!(e["method"], "multistyle26");
        let s = e["style"].as_str().unwrap();
        assert!(["3", "7", "12"].contains(&s), "style id {s} outside --style-ids");
        styles.insert(s.to_string());
    }
    assert!(styles.len() >= 2, "every output got the same style: {styles:?}");
    let again = t.path().join("again");
    ok(run(&again, &["--style-ids", "3,7,12", "--strength", "0.7..1"]));
    assert_eq!(snapshot(&again), files, "same seed → byte-identical dataset");

    // Per-class counts, computed here from the output's own label files.
    let mut classes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for e in &entries {
        let label = e["output"].as_str().unwrap().replace("images/", "labels/").replace(".jpg", ".txt");
        let Some(bytes) = files.get(&label) else { continue };
        let mut objects: BTreeMap<String, u64> = BTreeMap::new();
        for line in String::from_utf8_lossy(bytes).lines() {
            if let Some(class) = line.split_whitespace().next() {
                *objects.entry(class.to_string()).or_default() += 1;
            }
        }
        for (class, n) in objects {
            let c = classes.entry(class).or_default();
            c.0 += 1;
            c.1 += n;
        }
    }
    assert!(classes.len() > 3, "{classes:?}");
    let report: serde_json::Value = serde_json::from_slice(&files["augment-report.json"]).unwrap();
    for table in [&report["classes"], &report["classes_per_split"]["train2017"]] {
        let got: BTreeMap<String, (u64, u64)> = table
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), (v["images"].as_u64().unwrap(), v["objects"].as_u64().unwrap())))
            .collect();
        assert_eq!(got, classes, "report per-class counts");
    }

    // Random blends of two allowed styles, recorded as a --style-id spec.
    let blend = t.path().join("blend");
    ok(run(&blend, &["--random-style", "--style-ids", "4,9", "--limit", "2"]));
    for e in manifest(&blend) {
        let s = e["style"].as_str().unwrap();
        let ids: Vec<&str> = s.split(',').map(|p| p.split(':').next().unwrap()).collect();
        assert_eq!(ids, ["4", "9"], "blend {s}");
    }

    // Style images are for the arbitrary network only.
    let mut c = run(&t.path().join("bad"), &["--styles", input.to_str().unwrap()]);
    let o = c.output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--method arbitrary"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The fast engine with its embedded network: no weights at all.
#[test]
fn fast_engine_with_the_embedded_model() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("three");
    subset_of(&input, &SIX[2..5]);
    let no_weights = t.path().join("no-weights");
    std::fs::create_dir_all(&no_weights).unwrap();
    let out = t.path().join("fast");
    let mut c = augment(&["run", input.to_str().unwrap(), out.to_str().unwrap(), "--method", "fast", "--size", "96", "--strength", "0.8"], &no_weights);
    c.env("RESTYLE_OFFLINE", "1").env("RESTYLE_CACHE_DIR", t.path().join("cache"));
    ok(c);
    let files = snapshot(&out);
    check_outputs(&input, &files, &SIX[2..5], 0.03);
    for e in manifest(&out) {
        assert_eq!((e["method"].as_str(), e["style"].as_str()), (Some("fast:starry_night"), Some("starry_night")));
        assert!((e["strength"].as_f64().unwrap() - 0.8).abs() < 1e-6);
    }
}
