//! `restyle-augment`: stylize a labelled dataset into a new one whose labels
//! still hold. See the README section "Dataset augmentation".

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use restyle_augment::engine::Engine;
use restyle_augment::layout::Format;
use restyle_augment::plan::{parse_range, PlanOptions};
use restyle_augment::run::{run, RunOptions};
use restyle_augment::shard::Shard;
use restyle_augment::styles::{list_style_images, StyleDistribution, StyleSource};
use std::path::{Path, PathBuf};

mod engines;

#[derive(Parser)]
#[command(name = "restyle-augment", version, about = "Style augmentation of labelled datasets (labels intact, resumable, shardable)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stylize INPUT into the new dataset OUTPUT (same layout, labels carried over).
    Run(RunArgs),
    /// Join the manifests and label files of a sharded run in OUTPUT.
    Merge {
        output: PathBuf,
    },
    /// Fit the random-style distribution N(μ, Σ) to the style vectors of a folder of paintings.
    FitStyles {
        dir: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Images per second on a dataset at several working sizes.
    Bench(BenchArgs),
}

#[derive(Args, Clone)]
struct EngineArgs {
    /// Network: arbitrary (Magenta/Ghiasi: --styles DIR or --random-style), multistyle26 (its 26 styles:
    /// one per output, --style-ids to restrict, --random-style for blends) or fast (one style: --model).
    #[arg(long, default_value = "arbitrary")]
    method: String,
    /// fast: a built-in network (starry_night, the default), a .pth/.safetensors file, or a name imported with `restyle weights import`.
    #[arg(long)]
    model: Option<String>,
    /// Folder with the weights (default: RESTYLE_WEIGHTS_DIR).
    #[arg(long)]
    weights_dir: Option<PathBuf>,
    /// auto | cpu | cuda[:N] | metal[:N]
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Args, Clone)]
struct StyleArgs {
    /// Folder of style images; each output takes one at random.
    #[arg(long, conflicts_with = "random_style")]
    styles: Option<PathBuf>,
    /// arbitrary: random style vectors z ~ N(μ, Σ) (Style Augmentation), μ, Σ from --style-distribution or the
    /// shipped default; multistyle26: a random blend of two of its styles per output.
    #[arg(long)]
    random_style: bool,
    /// A distribution written by `fit-styles` (JSON), or a folder of paintings to fit one from.
    #[arg(long, requires = "random_style")]
    style_distribution: Option<PathBuf>,
    /// multistyle26: draw only from these style ids (e.g. 0,3,7; default all 26).
    #[arg(long, value_delimiter = ',')]
    style_ids: Vec<usize>,
}

#[derive(Args)]
struct RunArgs {
    input: PathBuf,
    output: PathBuf,
    /// class-folders | yolo | coco | segmentation | csv (default: detected).
    #[arg(long)]
    format: Option<String>,
    #[command(flatten)]
    style: StyleArgs,
    /// Style strength, drawn uniformly per output: A..B or one value (0..1).
    #[arg(long, default_value = "1.0")]
    strength: String,
    /// Stylized copies per selected image.
    #[arg(long, default_value_t = PlanOptions::default().copies)]
    copies: u32,
    /// Also write each selected image unchanged.
    #[arg(long)]
    keep_originals: bool,
    /// Fraction of images to stylize (the rest are copied unchanged).
    #[arg(long, default_value_t = PlanOptions::default().fraction)]
    fraction: f64,
    #[arg(long, default_value_t = PlanOptions::default().seed)]
    seed: u64,
    /// Longest side the network works at (results are scaled back to each image's size).
    #[arg(long, default_value_t = RunOptions::DEFAULT_WORKING_SIZE)]
    size: usize,
    /// Images decoded/written together (bounds memory).
    #[arg(long, default_value_t = RunOptions::DEFAULT_BATCH)]
    batch: usize,
    /// Continue an interrupted run (outputs verified against the journal).
    #[arg(long)]
    resume: bool,
    /// This process's part: I/N (0-based). Default: from SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX, else all.
    #[arg(long)]
    shard: Option<String>,
    /// Number of shards when the index comes from the environment (required for Kubernetes).
    #[arg(long)]
    shard_count: Option<usize>,
    /// Only the first N images (a trial run).
    #[arg(long)]
    limit: Option<usize>,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Args)]
struct BenchArgs {
    /// Dataset to time (default: ../shared/data/coco128).
    #[arg(long, default_value = "../shared/data/coco128")]
    input: PathBuf,
    #[arg(long, default_value = "256,512")]
    sizes: String,
    /// Images per size.
    #[arg(long, default_value_t = 32)]
    limit: usize,
    #[command(flatten)]
    style: StyleArgs,
    /// Also time onnxruntime on the same network (../shared/tools/peer_bench.py arbitrary|multistyle26) and print the ratio.
    #[arg(long)]
    peer: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

fn style_source(args: &StyleArgs, engine_args: &EngineArgs, engine: &dyn Engine) -> Result<StyleSource> {
    let method = engine_args.method.as_str();
    if method != "arbitrary" && args.styles.is_some() {
        bail!("--styles DIR needs --method arbitrary (multistyle26 and fast use their own trained styles)");
    }
    if method != "multistyle26" && !args.style_ids.is_empty() {
        bail!("--style-ids is for --method multistyle26");
    }
    if method != "arbitrary" && args.style_distribution.is_some() {
        bail!("--style-distribution is for --method arbitrary (style vectors)");
    }
    if method == "fast" {
        if args.random_style {
            bail!("--method fast has one style (its model's); for random styles use --method multistyle26 or arbitrary");
        }
        let model = engine_args.model.clone().unwrap_or_else(|| restyle_core::method::open::DEFAULT_MODEL.to_string());
        return Ok(StyleSource::Fixed(model));
    }
    if method == "multistyle26" {
        let total = restyle_core::models::multistyle::NUM_STYLES;
        let mut ids = if args.style_ids.is_empty() { (0..total).collect() } else { args.style_ids.clone() };
        ids.sort_unstable();
        ids.dedup();
        if let Some(bad) = ids.iter().find(|i| **i >= total) {
            bail!("--style-ids: {bad} is not a multistyle26 style (0..{})", total - 1);
        }
        return Ok(StyleSource::Builtin { ids, total, blend: args.random_style });
    }
    if let Some(dir) = &args.styles {
        return Ok(StyleSource::Images { dir: dir.clone(), files: list_style_images(dir)? });
    }
    if !args.random_style {
        bail!("choose the styles: --styles DIR (style images) or --random-style (random style vectors)");
    }
    let dist = match &args.style_distribution {
        None => StyleDistribution::default_set()?,
        Some(p) if p.is_dir() => fit(p, engine)?,
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            StyleDistribution::from_json(&text, &p.display().to_string())?
        }
    };
    Ok(StyleSource::Random(dist))
}

fn fit(dir: &Path, engine: &dyn Engine) -> Result<StyleDistribution> {
    let files = list_style_images(dir)?;
    let mut vectors = Vec::new();
    for f in &files {
        let img = restyle_core::image::load(dir.join(f))?;
        vectors.push(engine.style_vector(&img.rgb)?);
    }
    Ok(StyleDistribution::fit(&vectors, format!("{} style images of {}", files.len(), dir.display()))?)
}

/// Freed feature maps are kept for the next op of the same shape instead of
/// going back to the system (see `restyle_core::alloc`).
#[global_allocator]
static ALLOCATOR: restyle_core::alloc::RetainingAllocator = restyle_core::alloc::RetainingAllocator::new();

fn main() -> Result<()> {
    ALLOCATOR.set_cap(restyle_core::alloc::cap_for(restyle_core::budget::physical_memory()));
    let cli = Cli::parse();
    match cli.command {
        Command::Run(a) => {
            let engine = load_engine(&a.engine)?;
            let styles = style_source(&a.style, &a.engine, engine.as_ref())?;
            let (shard, from) = Shard::resolve(a.shard.as_deref(), a.shard_count, |k| std::env::var(k).ok())?;
            let plan = PlanOptions {
                seed: a.seed,
                copies: a.copies,
                keep_originals: a.keep_originals,
                fraction: a.fraction,
                strength: parse_range(&a.strength)?,
            };
            let format = a.format.as_deref().map(str::parse::<Format>).transpose()?;
            if !a.quiet {
                eprintln!("restyle-augment: {} on {}, shard {shard} ({from})", engine.describe(), a.input.display());
            }
            let opts = RunOptions {
                input: a.input,
                output: a.output.clone(),
                format,
                plan,
                working_size: a.size,
                batch: a.batch,
                resume: a.resume,
                shard,
                progress: !a.quiet,
                limit: a.limit,
            };
            let s = run(&opts, &styles, engine.as_ref())?;
            for k in &s.skipped_styles {
                eprintln!("warning: style image {} left out: {}", k.source, k.reason);
            }
            if !a.quiet {
                eprintln!(
                    "shard {}: {} source images ({} already done), {} stylized in {:.1} s ({:.2} img/s), {} skipped",
                    s.shard,
                    s.sources,
                    s.already_done,
                    s.stylized,
                    s.seconds,
                    s.stylized_per_second(),
                    s.skipped.len()
                );
                for k in &s.skipped {
                    eprintln!("  skipped {}: {}", k.source, k.reason);
                }
                if s.finalized {
                    eprintln!("wrote {}", a.output.join(restyle_augment::manifest::REPORT_FILE).display());
                } else {
                    eprintln!("when every shard has finished: restyle-augment merge {}", a.output.display());
                }
            }
        }
        Command::Merge { output } => {
            let r = restyle_augment::merge::merge(&output)?;
            eprintln!(
                "merged {}: {} sources, {} stylized, {} unchanged, {} label files, {} skipped",
                output.display(),
                r.sources,
                r.stylized,
                r.unchanged,
                r.label_files,
                r.skipped.len()
            );
        }
        Command::FitStyles { dir, output, engine } => {
            let engine = load_engine(&engine)?;
            let dist = fit(&dir, engine.as_ref())?;
            restyle_core::fsio::write_atomic(&output, dist.to_json().as_bytes())?;
            eprintln!("fitted N(μ, Σ) to {} style vectors of dimension {} → {}", dist.count, dist.dim, output.display());
        }
        Command::Bench(b) => bench(b)?,
    }
    Ok(())
}

fn bench(b: BenchArgs) -> Result<()> {
    let engine = load_engine(&b.engine)?;
    let mut style_args = b.style.clone();
    if b.engine.method == "arbitrary" && style_args.styles.is_none() && !style_args.random_style {
        style_args.random_style = true;
    }
    let styles = style_source(&style_args, &b.engine, engine.as_ref())?;
    let sizes: Vec<usize> = b.sizes.split(',').map(|s| s.trim().parse()).collect::<std::result::Result<_, _>>().context("--sizes")?;
    println!("restyle-augment bench: {} on {} ({} images per size), {}", engine.describe(), b.input.display(), b.limit, threads());
    let mut ours = Vec::new();
    for size in sizes {
        let tmp = tempfile::tempdir()?;
        let opts = RunOptions {
            input: b.input.clone(),
            output: tmp.path().join("out"),
            format: None,
            plan: PlanOptions { seed: 1, strength: (0.5, 1.0), ..PlanOptions::default() },
            working_size: size,
            batch: RunOptions::DEFAULT_BATCH,
            resume: false,
            shard: Shard::default(),
            progress: false,
            limit: Some(b.limit),
        };
        let s = run(&opts, &styles, engine.as_ref())?;
        println!(
            "size {size}: {} images end to end (decode, stylize, scale back, encode, labels) in {:.2} s: {:.2} img/s, {:.3} s/img",
            s.stylized,
            s.seconds,
            s.stylized_per_second(),
            s.seconds / s.stylized.max(1) as f64
        );
        ours.push((size, s.seconds / s.stylized.max(1) as f64));
    }
    if b.peer {
        // onnxruntime runs the same networks for arbitrary (fixed 384×384) and multistyle26 (square, per size).
        let sizes_arg = b.sizes.clone();
        let peer_args: Vec<&str> = match b.engine.method.as_str() {
            "arbitrary" => vec!["arbitrary"],
            "multistyle26" => vec!["multistyle26", "--sizes", &sizes_arg],
            other => {
                println!("no peer for --method {other} in ../shared/tools/peer_bench.py");
                return Ok(());
            }
        };
        let script = Path::new("../shared/tools/peer_bench.py");
        let out = std::process::Command::new("python3").arg(script).args(&peer_args).output();
        match out {
            Ok(o) if o.status.success() => {
                for line in String::from_utf8_lossy(&o.stdout).lines() {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
                    let median = v["median_s"].as_f64().unwrap_or(0.0);
                    let peer_size = v["size"].as_u64().unwrap_or(0) as usize;
                    println!("peer {} {} size {peer_size}: {:.3} s/img (network only, {peer_size}×{peer_size})", v["peer"], v["work"], median);
                    // multistyle26: compare like sizes; arbitrary: the peer has one size.
                    for (size, secs) in ours.iter().filter(|(s, _)| b.engine.method == "arbitrary" || *s == peer_size) {
                        if median > 0.0 {
                            println!("  ours at {size} end to end / peer network-only: {:.2}×", secs / median);
                        }
                    }
                }
            }
            Ok(o) => println!("peer benchmark failed: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")),
            Err(e) => println!("peer benchmark not run (python3: {e})"),
        }
    }
    Ok(())
}

fn load_engine(e: &EngineArgs) -> Result<Box<dyn Engine>> {
    engines::load(&e.method, e.model.as_deref(), e.weights_dir.as_deref(), &e.device)
}

fn threads() -> String {
    format!("{} threads", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}
