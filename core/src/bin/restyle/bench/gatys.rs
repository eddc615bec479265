//! Gatys: one optimiser step beside PyTorch's, the basic and improved
//! presets after the same wall time (quality), coarse-to-fine against one
//! scale run to the same style distance.

use super::common::{load_average, load_vgg, median, peer, square, BenchArgs, Row, gflop_of};
use anyhow::{Context, Result};
use restyle_core::device::DeviceChoice;
use restyle_core::image::{self, RgbImage};
use restyle_core::models::vgg::{Features, Vgg};
use restyle_core::nst::gatys::{Gatys, GatysConfig, BASIC_CONTENT_LAYER, BASIC_STYLE_LAYERS};
use restyle_core::nst::loss;
use restyle_core::progress::{Control, Progress};
use restyle_core::request::StyleImage;
use std::path::Path;
use std::time::Instant;

/// Seconds per optimiser evaluation, measured like the peer: Adam steps (one
/// evaluation each) on the peer's loss layers.
pub fn gatys_step(args: &BenchArgs) -> Result<Vec<Row>> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let vgg = load_vgg(args, &dev)?;
    let content_p = args.shared.join("data/content/tubingen.jpg");
    let style_p = args.shared.join("data/style/starry_night.jpg");
    let mut cfg = GatysConfig::basic();
    cfg.optimizer = restyle_core::nst::gatys::OptimizerKind::Adam;
    let mut g = Gatys::new(vgg, cfg);
    let mut ours = Vec::new();
    for &size in &args.sizes {
        let content = square(&content_p, size)?;
        let style = StyleImage { image: square(&style_p, size)?, weight: 1.0 };
        g.config.size = Some(size);
        g.config.iterations = args.warmup + args.reps;
        let mut times = Vec::new();
        let mut last = Instant::now();
        let mut step = 0;
        let mut tick = |_: &Progress| {
            let now = Instant::now();
            step += 1;
            if step > args.warmup {
                times.push((now - last).as_secs_f64());
            }
            last = now;
            Control::Continue
        };
        g.run(&content, std::slice::from_ref(&style), 0, &mut tick)?;
        let m = median(times);
        println!("restyle gatys_step size {size}: median {m:.3} s");
        // One more step with the profile on, for the GFLOP count (its
        // first-step setup is not counted: only convolutions are).
        g.config.iterations = 1;
        let gflop = gflop_of(|| Ok(g.run(&content, std::slice::from_ref(&style), 0, &mut restyle_core::progress::silent()).map(|_| ())?))?;
        ours.push((size, m, gflop));
    }
    let peers = peer(args, "gatys");
    let rows: Vec<Row> = ours
        .into_iter()
        .map(|(size, m, gflop)| Row { work: "gatys_step".into(), size, restyle_s: m, peer: peers.iter().find(|p| p.0 == size).map(|p| (p.2.clone(), p.1)), gflop })
        .collect();
    rows.iter().for_each(Row::print);
    Ok(rows)
}

/// The standard distances every Gatys comparison reports, whatever loss made
/// the image: style = Σ over relu1_1…relu5_1 of the mean squared difference of
/// plain Grams (equal weights), content = mean squared difference of relu4_2
/// features (both on features ÷ the activation scale, as in `loss`).
struct Distances<'a> {
    vgg: &'a Vgg,
    device: candle_core::Device,
    style: Features,
    content: Features,
}

impl<'a> Distances<'a> {
    /// Targets for a result the size of `content`; the style is scaled to the
    /// same longest side, as the runs do with style scale 1.
    fn new(vgg: &'a Vgg, content: &RgbImage, style: &RgbImage) -> Result<Self> {
        let device = vgg.device().clone();
        let style = style.resize_longest(content.width.max(content.height))?;
        let (s, _) = Self::split(vgg, &device, &style)?;
        let (_, c) = Self::split(vgg, &device, content)?;
        Ok(Distances { vgg, device, style: s, content: c })
    }

    /// (style layers, content layer) of `img` in one forward pass.
    fn split(vgg: &Vgg, device: &candle_core::Device, img: &RgbImage) -> Result<(Features, Features)> {
        let mut layers = BASIC_STYLE_LAYERS.to_vec();
        layers.push(BASIC_CONTENT_LAYER);
        let f = vgg.forward(&img.to_tensor(device)?, &layers)?;
        let (c, s): (Vec<_>, Vec<_>) = f.0.into_iter().partition(|(n, _)| n == BASIC_CONTENT_LAYER);
        Ok((Features(s), Features(c)))
    }

    /// (style distance, content distance) of `img`.
    fn measure(&self, img: &RgbImage) -> Result<(f32, f32)> {
        let scale = self.vgg.activation_scale();
        let (s, c) = Self::split(self.vgg, &self.device, img)?;
        let style = loss::gram_distance(&s, &self.style, scale)?;
        let (fc, tc) = (&c.0[0].1, &self.content.0[0].1);
        let content = loss::content(&(fc / scale)?, &(tc / scale)?)?.to_scalar::<f32>()?;
        Ok((style, content))
    }
}

/// `NAME:key=value,…`: the improved preset (or `preset=basic`) with overrides, for tuning runs.
fn variant(spec: &str, vgg: &Vgg) -> Result<(String, GatysConfig)> {
    let (name, overrides) = spec.split_once(':').with_context(|| format!("variant '{spec}': expected NAME:key=value,…"))?;
    let mut c = GatysConfig::improved(vgg);
    for item in overrides.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once('=').with_context(|| format!("variant '{spec}': '{item}' is not key=value"))?;
        if k == "preset" {
            // first, as it resets the others
            c = match v {
                "basic" => GatysConfig::basic(),
                "improved" => GatysConfig::improved(vgg),
                _ => anyhow::bail!("variant '{spec}': preset '{v}' (basic, improved)"),
            };
            continue;
        }
        let num = || v.parse::<f32>().with_context(|| format!("variant '{spec}': '{v}' is not a number"));
        match k {
            "content-weight" => c.content_weight = num()?,
            "style-weight" => c.style_weight = num()?,
            "chain-weight" => c.chain_weight = num()?,
            "gram-shift" => c.gram_shift = num()?,
            "scales" => c.scales = v.parse().with_context(|| format!("variant '{spec}': scales '{v}'"))?,
            "keep-detail" => c.keep_detail = v.parse().with_context(|| format!("variant '{spec}': keep-detail '{v}' (true/false)"))?,
            _ => anyhow::bail!("variant '{spec}': unknown key '{k}'"),
        }
    }
    Ok((name.to_string(), c))
}

/// `content:style` names (files in `data/content`, `data/style`, any extension) or paths.
fn pair_images(args: &BenchArgs, pair: &str) -> Result<(String, RgbImage, RgbImage)> {
    let (c, s) = pair.split_once(':').with_context(|| format!("pair '{pair}': expected content:style"))?;
    let find = |folder: &str, name: &str| -> Result<(String, RgbImage)> {
        let p = Path::new(name);
        let path = if p.is_file() {
            p.to_path_buf()
        } else {
            let dir = args.shared.join("data").join(folder);
            ["jpg", "png", "jpeg"]
                .iter()
                .map(|e| dir.join(format!("{name}.{e}")))
                .find(|p| p.is_file())
                .with_context(|| format!("no {folder} image '{name}' in {}", dir.display()))?
        };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok((stem, image::load(&path).with_context(|| format!("loading {}", path.display()))?.rgb))
    };
    let (cn, ci) = find("content", c)?;
    let (sn, si) = find("style", s)?;
    Ok((format!("{cn}-{sn}"), ci, si))
}

/// One Gatys run: (seconds, optimiser iterations over all scales, output).
/// `stop` may end it early from the progress reports.
fn timed_run(g: &Gatys, cfg: &GatysConfig, content: &RgbImage, style: &RgbImage, stop: &dyn Fn(&Progress) -> bool) -> Result<(f64, usize, RgbImage)> {
    let style = StyleImage { image: style.clone(), weight: 1.0 };
    let mut iterations = 0;
    let t = Instant::now();
    let out = g.run_with(cfg, content, std::slice::from_ref(&style), 0, &mut |p: &Progress| {
        iterations += 1;
        if stop(p) { Control::Cancel } else { Control::Continue }
    })?;
    Ok((t.elapsed().as_secs_f64(), iterations, out.image))
}

/// Basic vs improved preset after the same wall time (`--seconds` each) on
/// each pair at the first of `--sizes`, scored by [`Distances`].
pub fn quality(args: &BenchArgs) -> Result<()> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let g = Gatys::new(load_vgg(args, &dev)?, GatysConfig::basic());
    let size = args.sizes[0];
    let budget = args.seconds;
    println!("quality: {size} px, {budget} s per run, load average {}", load_average());
    println!("| pair | preset | iterations | seconds | style distance | content distance |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for pair in &args.pairs {
        let (name, content, style) = pair_images(args, pair)?;
        let content = content.resize_longest(size)?;
        let d = Distances::new(&g.vgg, &content, &style)?;
        let (s0, c0) = d.measure(&content)?;
        println!("| {name} | (the photo) | 0 | 0 | {s0:.4e} | {c0:.4e} |");
        let presets = if args.variants.is_empty() {
            vec![("basic".to_string(), GatysConfig::basic()), ("improved".to_string(), GatysConfig::improved(&g.vgg))]
        } else {
            args.variants.iter().map(|v| variant(v, &g.vgg)).collect::<Result<Vec<_>>>()?
        };
        for (preset, cfg) in presets {
            let cfg = GatysConfig { size: Some(size), iterations: usize::MAX, max_seconds: Some(budget), ..cfg };
            let (t, it, img) = timed_run(&g, &cfg, &content, &style, &|_| false)?;
            let (sd, cd) = d.measure(&img)?;
            println!("| {name} | {preset} | {it} | {t:.1} | {sd:.4e} | {cd:.4e} |");
            if let Some(dir) = &args.out {
                std::fs::create_dir_all(dir)?;
                image::save(&image::Picture::from_rgb(img), dir.join(format!("{name}-{preset}.jpg")))?;
            }
        }
    }
    println!("load average after: {}", load_average());
    Ok(())
}

/// Time to a result at each of `--sizes` (basic losses): `--scales`
/// coarse-to-fine with `--iterations` per scale first, then one scale until
/// its style distance reaches the coarse-to-fine result's (or `--seconds`).
pub fn coarse_to_fine(args: &BenchArgs) -> Result<()> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let g = Gatys::new(load_vgg(args, &dev)?, GatysConfig::basic());
    let (name, content0, style) = pair_images(args, &args.pairs[0])?;
    println!("coarse_to_fine {name}, load average {}", load_average());
    for &size in &args.sizes {
        let content = content0.resize_longest(size)?;
        let d = Distances::new(&g.vgg, &content, &style)?;
        // The same distances with result and painting both at 256 px: how
        // much of the painting's large-scale structure the result carries,
        // which full-size Grams (small receptive fields at 1024 px) do not see.
        let coarse = Distances::new(&g.vgg, &content.resize_longest(COARSE_SIDE)?, &style)?;
        let large_scale = |img: &RgbImage| -> Result<f32> { Ok(coarse.measure(&img.resize_longest(COARSE_SIDE)?)?.0) };
        let save = |img: &RgbImage, what: &str| -> Result<()> {
            if let Some(dir) = &args.out {
                std::fs::create_dir_all(dir)?;
                image::save(&image::Picture::from_rgb(img.clone()), dir.join(format!("{name}-{size}-{what}.jpg")))?;
            }
            Ok(())
        };
        let base = GatysConfig { size: Some(size), ..GatysConfig::basic() };
        let multi = GatysConfig { scales: args.scales, iterations: args.iterations, ..base.clone() };
        let (tm, im, img) = timed_run(&g, &multi, &content, &style, &|_| false)?;
        let (target, cm) = d.measure(&img)?;
        println!(
            "{size} px, {} scales × {} it: {tm:.1} s, {im} iterations, style distance {target:.4e}, content {cm:.4e}, style distance at {COARSE_SIDE} px {:.4e}",
            args.scales,
            args.iterations,
            large_scale(&img)?
        );
        save(&img, "coarse-to-fine")?;
        // The basic style term is β·mean over its layers of the same Gram MSEs
        // as the distance, so the run can stop when it crosses the target.
        let per_unit = base.style_weight as f64 / base.style_layers.len() as f64;
        let by_loss = std::cell::Cell::new(f64::NAN);
        let reached = |p: &Progress| {
            p.losses.iter().filter(|(n, _)| *n == "style").any(|(_, v)| {
                by_loss.set(*v as f64 / per_unit);
                by_loss.get() <= target as f64
            })
        };
        let single = GatysConfig { iterations: usize::MAX, max_seconds: Some(args.seconds), ..base };
        let (ts, is, img) = timed_run(&g, &single, &content, &style, &reached)?;
        let (ds, cs) = d.measure(&img)?;
        let ls = large_scale(&img)?;
        save(&img, "one-scale")?;
        // not reached within the cap: the speed-up is only a lower bound
        let (verdict, bound) = if ds <= target * 1.01 { ("reached", "") } else { ("NOT reached (cap)", "> ") };
        println!(
            "{size} px, 1 scale: {ts:.1} s, {is} iterations, style distance {ds:.4e} ({verdict}; by its loss {:.4e}), content {cs:.4e}, style distance at {COARSE_SIDE} px {ls:.4e}; speed-up {bound}{:.2}",
            by_loss.get(),
            ts / tm
        );
    }
    println!("load average after: {}", load_average());
    Ok(())
}

/// Side at which bench coarse-to-fine also measures large-scale style.
const COARSE_SIDE: usize = 256;
