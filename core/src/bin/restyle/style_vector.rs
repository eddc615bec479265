//! `restyle style-vector PAINTING -o v.json|.safetensors`: the arbitrary
//! network's 100-d style vector of a painting, saved as data (reuse it with
//! `restyle stylize --style-vector v.json`, blend or sample around it).

use anyhow::Result;
use clap::Args;
use restyle_core::models::arbitrary;
use restyle_core::device::DeviceChoice;
use restyle_core::method::Method;
use restyle_core::stylize::Stylizer;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct StyleVectorArgs {
    /// The painting.
    pub style: PathBuf,
    /// Output: .json or .safetensors.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Shorter side the painting is seen at (brush scale).
    #[arg(long, default_value_t = arbitrary::DEFAULT_STYLE_SIZE)]
    pub style_size: usize,
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
}

pub fn run(args: StyleVectorArgs) -> Result<()> {
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let net = crate::stylize::load_arbitrary(args.weights_dir.as_deref(), &device)?;
    let img = restyle_core::image::load(&args.style)?;
    // Through the Stylizer, which checks the style size against the memory budget.
    let stylizer = Stylizer::new(Method::Arbitrary(net, arbitrary::Options::default()), device);
    let v = stylizer.style_vector(&img.rgb, Some(args.style_size))?;
    arbitrary::save_style_vector(&v, &args.output)?;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    eprintln!("wrote {} (100 values, L2 norm {norm:.3})", args.output.display());
    Ok(())
}
