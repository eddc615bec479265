//! `restyle video-metrics SOURCE STYLIZED [--reference PER_FRAME]`: the
//! warping error (Lai et al. 2018) of a stylized video, and its deviation
//! from a per-frame stylization (core's `video::metrics`).

use anyhow::{bail, Result};
use clap::Args;
use restyle_core::video::ffmpeg::{self, Clip, Decoder};
use restyle_core::video::flow::FlowPreset;
use restyle_core::video::metrics::Metrics;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct VideoMetricsArgs {
    /// The source video (scaled to the stylized video's size).
    pub source: PathBuf,
    /// The stylized video.
    pub stylized: PathBuf,
    /// The per-frame stylization (`--temporal none`) to measure the deviation from.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Where the stylized video starts in the source (its --start), in seconds.
    #[arg(long)]
    pub start: Option<f64>,
    /// Optical flow preset for the metric: ultrafast, fast, medium.
    #[arg(long, default_value = "medium", value_parser = |s: &str| s.parse::<FlowPreset>().map_err(|e| e.to_string()))]
    pub flow_preset: FlowPreset,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: VideoMetricsArgs) -> Result<()> {
    let styl = ffmpeg::probe(&args.stylized)?;
    let (w, h) = (styl.width, styl.height);
    let mut src_info = ffmpeg::probe(&args.source)?;
    src_info.rate = styl.rate; // same frames in time as the stylized video
    let clip = Clip { start: args.start, duration: styl.duration };
    let mut source = Decoder::open(&args.source, &src_info, &clip, w, h)?;
    let mut stylized = Decoder::open(&args.stylized, &styl, &Clip::default(), w, h)?;
    let mut reference = match &args.reference {
        Some(p) => {
            let mut info = ffmpeg::probe(p)?;
            info.rate = styl.rate;
            Some(Decoder::open(p, &info, &Clip::default(), w, h)?)
        }
        None => None,
    };
    let mut m = Metrics::new(args.flow_preset.params());
    loop {
        let (Some(s), Some(o)) = (source.next_frame()?, stylized.next_frame()?) else { break };
        let r = match reference.as_mut() {
            Some(d) => match d.next_frame()? {
                Some(r) => Some(r),
                None => break,
            },
            None => None,
        };
        m.push(&s, &o, r.as_ref())?;
    }
    let sum = m.summary();
    if sum.frames < 2 {
        bail!("the videos have fewer than two frames in common");
    }
    if args.json {
        let j = serde_json::json!({
            "frames": sum.frames, "e_warp": sum.e_warp, "e_warp_reference": sum.e_warp_reference,
            "deviation": sum.deviation, "deviation_moving": sum.deviation_moving, "coverage": sum.coverage,
        });
        println!("{j}");
        return Ok(());
    }
    println!("frames: {} ({}×{}), {:.1}% of the pixels non-occluded on average", sum.frames, w, h, 100.0 * sum.coverage);
    println!("E_warp (×1e-4): {:.3}", sum.e_warp * 1e4);
    if let Some(r) = sum.e_warp_reference {
        println!("E_warp of the reference (×1e-4): {:.3} (ratio {:.2}×)", r * 1e4, r / sum.e_warp.max(1e-12));
    }
    if let Some(d) = sum.deviation {
        println!("deviation from the reference (/255): {d:.3} overall, {} on moving pixels", sum.deviation_moving.map_or("-".into(), |d| format!("{d:.3}")));
    }
    Ok(())
}
