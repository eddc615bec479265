//! One augmentation run (or one shard of it): plan, skip what a verified
//! journal says is done, stylize the rest in a bounded pipeline, and finish
//! with the manifest, the rewritten label files and the report.
//!
//! Pipeline: a reader thread decodes a chunk of `batch` images in parallel
//! (rayon); the calling thread runs the network on them one image at a time
//! (so an output never depends on which images share its batch); a writer
//! thread encodes and writes the chunk in parallel. Channels of depth 1 bound
//! memory to about three chunks, whatever the dataset size.

use crate::engine::{Engine, PreparedStyle};
use crate::layout::{self, Format, Item};
use crate::manifest::{self, Entry, Journal, LabelCopy, STATE_DIR};
use crate::plan::{self, PlanOptions, Planned, StyleDraw};
use crate::shard::Shard;
use crate::state::{config_path, done_path, journal_path, open_dataset, remove_stale_temporaries, state_dir};
use crate::styles::StyleSource;
use crate::{Error, Result};
use rayon::prelude::*;
use restyle_core::image::{self as img, Picture};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

pub struct RunOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub format: Option<Format>,
    pub plan: PlanOptions,
    /// Longest side the network works at; results are scaled back to the source size.
    pub working_size: usize,
    /// Images decoded / written together (memory bound).
    pub batch: usize,
    pub resume: bool,
    pub shard: Shard,
    /// Show a progress bar (terminal) or periodic progress lines (logs).
    pub progress: bool,
    /// Only the first N source images (trials, benchmarks).
    pub limit: Option<usize>,
}

impl RunOptions {
    /// `--size` when none is given (never upscales).
    pub const DEFAULT_WORKING_SIZE: usize = 512;
    /// `--batch` when none is given.
    pub const DEFAULT_BATCH: usize = 8;
}

// The run's state types live in `state` (shared with `merge`); their old
// paths under `run::` keep working.
pub use crate::state::{RunConfig, ShardDone, Skipped};

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub shard: Shard,
    /// Source images of this shard.
    pub sources: usize,
    /// Sources whose outputs a verified journal already had.
    pub already_done: usize,
    /// Sources processed now (written or skipped).
    pub processed: usize,
    pub stylized: usize,
    pub skipped: Vec<Skipped>,
    /// Style images left out because they could not be decoded.
    pub skipped_styles: Vec<Skipped>,
    pub seconds: f64,
    /// True when this run also wrote the final manifest/report (one shard).
    pub finalized: bool,
}

impl RunSummary {
    pub fn stylized_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.stylized as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Canonical path of `p`, which may not exist yet (its nearest existing
/// ancestor is canonicalised, the rest appended).
fn canonical_future(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().map_err(|e| Error::io("current directory", e))?.join(p) };
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name().map(|s| s.to_os_string()).unwrap_or_default());
        existing = existing.parent().ok_or_else(|| Error::Usage(format!("bad path {}", p.display())))?;
    }
    let mut c = existing.canonicalize().map_err(|e| Error::io(format!("cannot resolve {}", existing.display()), e))?;
    for r in rest.iter().rev() {
        if r == ".." {
            c.pop();
        } else if r != "." && !r.is_empty() {
            c.push(r);
        }
    }
    Ok(c)
}

/// Refuses an output inside the input (or the other way round), so the
/// source dataset is never written to.
pub fn check_paths(input: &Path, output: &Path) -> Result<(PathBuf, PathBuf)> {
    let input = input.canonicalize().map_err(|e| Error::io(format!("cannot open input {}", input.display()), e))?;
    let output_c = canonical_future(output)?;
    if output_c.starts_with(&input) {
        return Err(Error::Usage(format!(
            "output {} is inside the input {}: choose an output outside the dataset",
            output_c.display(),
            input.display()
        )));
    }
    if input.starts_with(&output_c) {
        return Err(Error::Usage(format!("input {} is inside the output {}", input.display(), output_c.display())));
    }
    Ok((input, output_c))
}

fn read_config(path: &Path) -> Result<Option<RunConfig>> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| Error::parse(path, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
    }
}

/// Checks or records the run settings in the output's state folder.
fn claim_output(out: &Path, config: &RunConfig) -> Result<()> {
    let path = config_path(out);
    let compare = |existing: RunConfig| -> Result<()> {
        if &existing == config {
            return Ok(());
        }
        let a = serde_json::to_value(&existing).expect("config serialises");
        let b = serde_json::to_value(config).expect("config serialises");
        let differ: Vec<String> =
            b.as_object().into_iter().flatten().filter(|(k, v)| a.get(k.as_str()) != Some(v)).map(|(k, _)| k.clone()).collect();
        Err(Error::Usage(format!(
            "{} holds a run with different settings ({}); use a new output folder",
            out.display(),
            differ.join(", ")
        )))
    };
    if let Some(existing) = read_config(&path)? {
        return compare(existing);
    }
    let busy = std::fs::read_dir(out)
        .map_err(|e| Error::io(format!("cannot list {}", out.display()), e))?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name() != STATE_DIR);
    if busy {
        // Another shard may have claimed the folder since we looked.
        if let Some(existing) = read_config(&path)? {
            return compare(existing);
        }
        return Err(Error::Usage(format!(
            "output {} is not empty and holds no restyle-augment run: choose an empty or new folder",
            out.display()
        )));
    }
    std::fs::create_dir_all(state_dir(out)).map_err(|e| Error::io("cannot create the state folder", e))?;
    let text = serde_json::to_string_pretty(config).expect("config serialises");
    restyle_core::fsio::write_atomic(&path, text.as_bytes())?;
    Ok(())
}

struct Work {
    item: Item,
    plans: Vec<Planned>,
}

struct Decoded {
    work: Work,
    /// Source bytes, kept when an unchanged copy is planned.
    bytes: Option<Vec<u8>>,
    picture: std::result::Result<Picture, String>,
}

struct Styled {
    work: Work,
    bytes: Option<Vec<u8>>,
    /// One picture per stylized plan, in plan order; or why the item is skipped.
    result: std::result::Result<Vec<Picture>, String>,
}

/// Runs one shard of an augmentation.
pub fn run(opts: &RunOptions, styles: &StyleSource, engine: &dyn Engine) -> Result<RunSummary> {
    opts.plan.validate()?;
    if opts.working_size < 16 {
        return Err(Error::Usage(format!("--size {} is too small (at least 16)", opts.working_size)));
    }
    let (input, out) = check_paths(&opts.input, &opts.output)?;
    let ds = open_dataset(&input, opts.format, opts.limit)?;
    // Every style image is decoded before any work: an undecodable one is
    // reported and left out of the draw (the run settings record the usable
    // set, so removing it later still resumes).
    let checked;
    let (styles, skipped_styles) = match styles.without_undecodable()? {
        Some((usable, bad)) => {
            checked = usable;
            (&checked, bad)
        }
        None => (styles, Vec::new()),
    };
    std::fs::create_dir_all(&out).map_err(|e| Error::io(format!("cannot create {}", out.display()), e))?;
    let config = RunConfig {
        tool: "restyle-augment/1".into(),
        input: input.to_string_lossy().into_owned(),
        format: ds.format,
        plan: opts.plan.clone(),
        styles: styles.identity()?,
        engine: engine.describe(),
        working_size: opts.working_size,
        shards: opts.shard.count,
        limit: opts.limit,
    };
    claim_output(&out, &config)?;
    let shard = opts.shard;
    let jpath = journal_path(&out, shard);
    if jpath.exists() && !opts.resume {
        return Err(Error::Usage(format!(
            "shard {shard} of {} has already started (journal {}): pass --resume to continue it",
            out.display(),
            jpath.display()
        )));
    }
    if shard.count == 1 {
        remove_stale_temporaries(&out);
    }
    let _ = std::fs::remove_file(done_path(&out, shard));

    // What is done already: entries whose files still hash as recorded.
    let mut done: HashMap<String, Entry> = HashMap::new();
    for e in manifest::read_journal(&jpath)? {
        done.insert(e.output.clone(), e);
    }
    let style_count = styles.count();
    let mut todo = Vec::new();
    let mut sources = 0;
    for (k, item) in ds.items.iter().enumerate() {
        if !shard.owns(k) {
            continue;
        }
        sources += 1;
        let plans = plan::plan(&opts.plan, &item.rel, style_count);
        let complete = plans.iter().all(|p| {
            done.get(&p.output).is_some_and(|e| {
                e.source == item.rel && e.copy == p.copy && e.seed == p.stylized.map(|s| s.seed) && e.verify(&out)
            })
        });
        if !complete {
            todo.push(Work { item: item.clone(), plans });
        }
    }
    let already_done = sources - todo.len();
    drop(done);

    let journal = Journal::open(&jpath)?;
    let started = Instant::now();
    let total = todo.len();
    let bar = Progress::new(opts.progress, total as u64, shard);
    let batch = opts.batch.max(1);
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut stylized = 0usize;
    let mut prepared: HashMap<usize, PreparedStyle> = HashMap::new();

    std::thread::scope(|scope| -> Result<()> {
        let (decoded_tx, decoded_rx) = sync_channel::<Vec<Decoded>>(1);
        let (styled_tx, styled_rx) = sync_channel::<Vec<Styled>>(1);
        let input = &input;
        let out = &out;
        let journal = &journal;
        let bar = &bar;
        let method = config.engine.as_str();

        // Reader: decode a chunk in parallel.
        let mut todo_iter = todo.into_iter();
        scope.spawn(move || {
            loop {
                let chunk: Vec<Work> = todo_iter.by_ref().take(batch).collect();
                if chunk.is_empty() {
                    break;
                }
                let decoded: Vec<Decoded> = chunk.into_par_iter().map(|w| decode(input, w)).collect();
                if decoded_tx.send(decoded).is_err() {
                    break;
                }
            }
        });

        // Writer: encode + write a chunk in parallel, then journal each source.
        let writer = scope.spawn(move || -> Result<Vec<Skipped>> {
            let mut skipped = Vec::new();
            for chunk in styled_rx {
                let results: Vec<Result<Option<Skipped>>> = chunk.into_par_iter().map(|s| write(input, out, journal, styles, method, s)).collect();
                for r in results {
                    if let Some(s) = r? {
                        skipped.push(s);
                    }
                    bar.inc();
                }
            }
            Ok(skipped)
        });

        // The network, on this thread.
        let mut failure = None;
        for chunk in decoded_rx {
            let mut styled = Vec::with_capacity(chunk.len());
            for d in chunk {
                let result = match d.picture {
                    Err(reason) => Err(reason),
                    Ok(picture) => {
                        let mut pictures = Vec::new();
                        let mut err = None;
                        for p in d.work.plans.iter().filter_map(|p| p.stylized) {
                            let style = match prepared_style(styles, engine, &mut prepared, p.style) {
                                Ok(s) => s,
                                Err(e) => {
                                    failure = Some(e);
                                    break;
                                }
                            };
                            match engine.stylize(&picture, style, p.strength, p.seed, opts.working_size) {
                                Ok(pic) => pictures.push(pic),
                                Err(e) => {
                                    err = Some(format!("stylize failed: {e}"));
                                    break;
                                }
                            }
                        }
                        if failure.is_some() {
                            break;
                        }
                        stylized += pictures.len();
                        err.map_or(Ok(pictures), Err)
                    }
                };
                styled.push(Styled { work: d.work, bytes: d.bytes, result });
            }
            if failure.is_some() || styled_tx.send(styled).is_err() {
                break;
            }
        }
        drop(styled_tx);
        let written = writer.join().map_err(|_| Error::Usage("writer thread panicked".into()))?;
        if let Some(e) = failure {
            return Err(e);
        }
        skipped = written?;
        Ok(())
    })?;
    bar.finish();
    skipped.sort();
    let seconds = started.elapsed().as_secs_f64();
    let done = ShardDone { shard: shard.tag(), skipped: skipped.clone(), skipped_styles: skipped_styles.clone() };
    restyle_core::fsio::write_atomic(&done_path(&out, shard), serde_json::to_string_pretty(&done).expect("serialises").as_bytes())?;
    let finalized = shard.count == 1;
    if finalized {
        crate::merge::merge(&out)?;
    }
    Ok(RunSummary { shard, sources, already_done, processed: total, stylized, skipped, skipped_styles, seconds, finalized })
}

fn prepared_style<'a>(
    styles: &StyleSource,
    engine: &dyn Engine,
    cache: &'a mut HashMap<usize, PreparedStyle>,
    draw: StyleDraw,
) -> Result<&'a PreparedStyle> {
    match (styles, draw) {
        (StyleSource::Images { dir, files }, StyleDraw::Image(i)) => {
            if !cache.contains_key(&i) {
                let path = dir.join(&files[i]);
                let mut rgb = img::load(&path)?.rgb;
                // Style networks look at a few hundred pixels; keep memory small.
                if rgb.width.max(rgb.height) > 512 {
                    rgb = rgb.resize_longest(512)?;
                }
                cache.insert(i, engine.prepare_style(rgb)?);
            }
            Ok(&cache[&i])
        }
        (StyleSource::Random(dist), StyleDraw::Random(key)) => {
            // Random vectors are cheap and seldom repeat: keep one at a time.
            cache.clear();
            cache.insert(usize::MAX, PreparedStyle::Vector(dist.sample_key(key)));
            Ok(&cache[&usize::MAX])
        }
        (StyleSource::Builtin { .. }, draw) => {
            let blend = styles.blend(draw).ok_or_else(|| Error::Usage("no blend for a built-in style".into()))?;
            cache.clear();
            cache.insert(usize::MAX, PreparedStyle::Vector(blend));
            Ok(&cache[&usize::MAX])
        }
        (StyleSource::Fixed(_), _) => Ok(cache.entry(usize::MAX).or_insert(PreparedStyle::Own)),
        _ => Err(Error::Usage("style draw does not match the style source".into())),
    }
}

fn decode(input: &Path, work: Work) -> Decoded {
    let path = input.join(&work.item.rel);
    let (bytes, picture) = match std::fs::read(&path) {
        Err(e) => (None, Err(format!("cannot read: {e}"))),
        Ok(bytes) => {
            let picture = img::decode(&bytes, img::DEFAULT_MAX_PIXELS).map_err(|e| format!("cannot decode: {e}"));
            let keep = work.plans.iter().any(|p| p.stylized.is_none());
            (keep.then_some(bytes), picture)
        }
    };
    Decoded { work, bytes, picture }
}

/// Writes every output of one source (image + label copies), then journals
/// them. Returns the skip reason for a source that could not be processed.
fn write(input: &Path, out: &Path, journal: &Journal, styles: &StyleSource, method: &str, s: Styled) -> Result<Option<Skipped>> {
    let item = &s.work.item;
    let pictures = match s.result {
        Ok(p) => p,
        Err(reason) => return Ok(Some(Skipped { source: item.rel.clone(), reason })),
    };
    // Read every label first: an unreadable label skips the source before anything is written.
    let mut labels = Vec::new();
    for l in &item.labels {
        match std::fs::read(input.join(l)) {
            Ok(b) => labels.push((l, b)),
            Err(e) => return Ok(Some(Skipped { source: item.rel.clone(), reason: format!("cannot read label {l}: {e}") })),
        }
    }
    let mut pictures = pictures.into_iter();
    let mut entries = Vec::new();
    for p in &s.work.plans {
        let bytes = match p.stylized {
            None => s.bytes.clone().ok_or_else(|| Error::Usage("source bytes missing".into()))?,
            Some(_) => {
                let picture = pictures.next().ok_or_else(|| Error::Usage("stylized picture missing".into()))?;
                let format = image_format(&p.output)?;
                img::encode(&picture, format)?
            }
        };
        let target = out.join(&p.output);
        create_parent(&target)?;
        restyle_core::fsio::write_atomic(&target, &bytes)?;
        let mut copies = Vec::new();
        for (l, b) in &labels {
            let output = layout::suffixed(l, &p.suffix);
            let target = out.join(&output);
            create_parent(&target)?;
            restyle_core::fsio::write_atomic(&target, b)?;
            copies.push(LabelCopy { source: (*l).clone(), output, sha256: manifest::sha256_hex(b) });
        }
        let st = p.stylized;
        entries.push(Entry {
            source: item.rel.clone(),
            output: p.output.clone(),
            group: item.group.clone(),
            copy: p.copy,
            method: st.map(|_| method.to_string()),
            style: st.map(|st| styles.label(st.style)),
            strength: st.map(|st| st.strength),
            seed: st.map(|st| st.seed),
            sha256: manifest::sha256_hex(&bytes),
            labels: copies,
        });
    }
    journal.append(&entries)?;
    Ok(None)
}

fn image_format(rel: &str) -> Result<image::ImageFormat> {
    image::ImageFormat::from_path(rel).map_err(|_| Error::Usage(format!("{rel}: unknown image format")))
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    Ok(())
}

/// A progress bar with ETA and images/s on a terminal; a line every 30 s in logs.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    log: Option<std::sync::Mutex<(Instant, Instant, u64)>>,
    total: u64,
    shard: Shard,
    count: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn new(enabled: bool, total: u64, shard: Shard) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (enabled && tty).then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  ETA {eta}  {msg}")
                    .expect("valid template"),
            );
            b
        });
        let now = Instant::now();
        let log = (enabled && !tty).then(|| std::sync::Mutex::new((now, now, 0)));
        Progress { bar, log, total, shard, count: Default::default() }
    }

    fn inc(&self) {
        let n = self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        if let Some(log) = &self.log {
            let mut g = log.lock().unwrap_or_else(|p| p.into_inner());
            if g.1.elapsed().as_secs() >= 30 || n == self.total {
                let secs = g.0.elapsed().as_secs_f64().max(1e-9);
                let rate = n as f64 / secs;
                let eta = if rate > 0.0 { (self.total - n) as f64 / rate } else { 0.0 };
                eprintln!("shard {}: {n}/{} images, {rate:.2} img/s, ETA {eta:.0} s", self.shard, self.total);
                g.1 = Instant::now();
                g.2 = n;
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}
