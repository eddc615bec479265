//! AdaIN (Huang & Belongie 2017) networks as users have them: the two files
//! of naoto0804/pytorch-AdaIN, `vgg_normalised.pth` (the normalised VGG19
//! encoder) and `decoder.pth`. Both are state dicts of an `nn.Sequential`, so
//! their keys are module indices (`"2.weight"`); the canonical safetensors
//! keep those names (the network code in restyle-core lists what each index
//! is). The encoder file holds VGG19 up to conv5_4; only the layers up to
//! relu4_1 are used, and only those are kept (the canonical file is about a
//! sixth of the original).
//!
//! The checks here make a wrong file fail with a message that names it: the
//! decoder given as the encoder, a fast-NST network, a truncated file, or
//! layers whose widths do not chain.

use crate::{Error, Result};
use candle_core::{DType, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Which AdaIN file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `vgg_normalised.pth`: 1×1 conv (3 → 3), then VGG19.
    Vgg,
    /// `decoder.pth`.
    Decoder,
}

impl Part {
    /// Module indices of the convolutions used, in order. Encoder: the 1×1
    /// conv, conv1_1 … conv4_1 (reflection pad, ReLU and ceil-mode max pools
    /// fill the gaps); decoder: its nine 3×3 convs.
    pub fn conv_indices(self) -> &'static [usize] {
        match self {
            Part::Vgg => &[0, 2, 5, 9, 12, 16, 19, 22, 25, 29],
            Part::Decoder => &[1, 5, 8, 11, 14, 18, 21, 25, 28],
        }
    }

    /// The catalog's part name (`adain` model) and the upstream file name.
    pub fn name(self) -> &'static str {
        match self {
            Part::Vgg => "vgg",
            Part::Decoder => "decoder",
        }
    }

    pub fn upstream_file(self) -> &'static str {
        match self {
            Part::Vgg => "vgg_normalised.pth",
            Part::Decoder => "decoder.pth",
        }
    }
}

/// Which AdaIN file a state dict with these keys is, if any: the encoder
/// starts with the 1×1 conv `0.weight`, the decoder with a pad, so its first
/// conv is `1.weight`.
pub fn part_of(names: &[String]) -> Option<Part> {
    let has = |n: &str| names.iter().any(|x| x == n || x.strip_prefix("module.") == Some(n));
    if has("0.weight") && has("2.weight") && has("29.weight") {
        Some(Part::Vgg)
    } else if !has("0.weight") && has("1.weight") && has("28.weight") {
        Some(Part::Decoder)
    } else {
        None
    }
}

/// Reads either file (.pth, or canonical .safetensors) and checks it is
/// `want`: the tensors of the used convs, f32, keyed `"<index>.weight|bias"`.
pub fn import_part(path: &Path, want: Part) -> Result<Vec<(String, Tensor)>> {
    let raw = read_state_dict(path)?;
    let mut names: Vec<String> = raw.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    let what = |p: Part| format!("the AdaIN {} ({})", p.name(), p.upstream_file());
    match part_of(&names) {
        Some(p) if p == want => {}
        Some(p) => {
            return Err(Error::Format(format!(
                "{}: this is {}, not {}",
                path.display(),
                what(p),
                what(want)
            )))
        }
        None => {
            let sample: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
            return Err(Error::Format(format!(
                "{}: not {} (tensors {sample:?}…; expected nn.Sequential keys like {:?})",
                path.display(),
                what(want),
                want.conv_indices().iter().take(3).map(|i| format!("{i}.weight")).collect::<Vec<_>>()
            )));
        }
    }
    let mut all: HashMap<String, Tensor> =
        raw.into_iter().map(|(n, t)| (n.strip_prefix("module.").map(str::to_string).unwrap_or(n), t)).collect();
    let mut out = Vec::new();
    let mut c_in = 3;
    for (k, &i) in want.conv_indices().iter().enumerate() {
        let take = |all: &mut HashMap<String, Tensor>, key: String| -> Result<Tensor> {
            let t = all.remove(&key).ok_or_else(|| {
                Error::Format(format!("{}: {} lacks tensor '{key}' (a truncated or different file?)", path.display(), what(want)))
            })?;
            Ok(t.to_dtype(DType::F32)?)
        };
        let w = take(&mut all, format!("{i}.weight"))?;
        let b = take(&mut all, format!("{i}.bias"))?;
        let k_size = if want == Part::Vgg && k == 0 { 1 } else { 3 };
        let dims = w.dims().to_vec();
        let bad = |expect: String| {
            Error::Format(format!("{}: tensor '{i}.weight' of {} is {dims:?}, expected {expect}", path.display(), what(want)))
        };
        if dims.len() != 4 || dims[2] != k_size || dims[3] != k_size {
            return Err(bad(format!("[out, in, {k_size}, {k_size}]")));
        }
        // The decoder's input width is the encoder's output width, unknown here.
        if !(want == Part::Decoder && k == 0) && dims[1] != c_in {
            return Err(bad(format!("[out, {c_in}, {k_size}, {k_size}] (in-channels = the previous conv's out)")));
        }
        if want == Part::Vgg && k == 0 && dims[0] != 3 {
            return Err(bad("[3, 3, 1, 1]".into()));
        }
        if want == Part::Decoder && k + 1 == want.conv_indices().len() && dims[0] != 3 {
            return Err(bad(format!("[3, {c_in}, 3, 3] (RGB out)")));
        }
        if b.dims() != [dims[0]] {
            return Err(Error::Format(format!(
                "{}: tensor '{i}.bias' is {:?}, expected [{}]",
                path.display(),
                b.dims(),
                dims[0]
            )));
        }
        c_in = dims[0];
        out.push((format!("{i}.weight"), w));
        out.push((format!("{i}.bias"), b));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The catalog importers `adain-vgg` and `adain-decoder`.
pub fn import_vgg(path: &Path) -> Result<Vec<(String, Tensor)>> {
    import_part(path, Part::Vgg)
}

pub fn import_decoder(path: &Path) -> Result<Vec<(String, Tensor)>> {
    import_part(path, Part::Decoder)
}

/// By content, not name: a PyTorch zip pickle or a safetensors file.
fn read_state_dict(path: &Path) -> Result<Vec<(String, Tensor)>> {
    match super::detect_kind(path)? {
        super::FileKind::Safetensors => Ok(candle_core::safetensors::load(path, &candle_core::Device::Cpu)
            .map_err(|e| Error::Format(format!("{}: cannot read safetensors: {e}", path.display())))?
            .into_iter()
            .collect()),
        super::FileKind::TorchZip | super::FileKind::TorchLegacy => super::fast_pth::read_pth(path),
        other => Err(Error::Format(format!(
            "{}: an {other:?} file; AdaIN weights are PyTorch .pth state dicts (or their safetensors)",
            path.display()
        ))),
    }
}
