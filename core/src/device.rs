//! Device choice: `auto | cpu | cuda[:N] | metal[:N]`, resolved at run time
//! against what this build was compiled with.

use crate::{Error, Result};
use candle_core::{DType, Device};
use std::str::FromStr;

/// What the user asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
    Metal(usize),
}

impl FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        let ordinal = |rest: &str| -> Result<usize> {
            if rest.is_empty() {
                return Ok(0);
            }
            rest.strip_prefix(':')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::InvalidArgument(format!("bad device '{s}': expected auto, cpu, cuda[:N] or metal[:N]")))
        };
        match s.as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            _ if s.starts_with("cuda") => Ok(Self::Cuda(ordinal(&s[4..])?)),
            _ if s.starts_with("metal") => Ok(Self::Metal(ordinal(&s[5..])?)),
            _ => Err(Error::InvalidArgument(format!("unknown device '{s}': expected auto, cpu, cuda[:N] or metal[:N]"))),
        }
    }
}

impl DeviceChoice {
    /// Opens the device. `Auto` takes the best compiled-in accelerator that
    /// initialises and falls back to the CPU.
    pub fn open(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(n) => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(Error::Device(
                        "CUDA was requested but this build has no CUDA support: rebuild with `--features cuda` (see README, CUDA)".into(),
                    ));
                }
                Device::new_cuda(n).map_err(|e| Error::Device(format!("cannot open cuda:{n}: {}{}", without_backtrace(&e), cuda_open_hint(n))))
            }
            Self::Metal(n) => {
                if !candle_core::utils::metal_is_available() {
                    return Err(Error::Device("Metal was requested but this build has no Metal support: rebuild with `--features metal`".into()));
                }
                Device::new_metal(n).map_err(|e| Error::Device(format!("cannot open metal:{n}: {e}")))
            }
            Self::Auto => {
                if candle_core::utils::cuda_is_available() {
                    if let Ok(d) = Device::new_cuda(0) {
                        return Ok(d);
                    }
                }
                if candle_core::utils::metal_is_available() {
                    if let Ok(d) = Device::new_metal(0) {
                        return Ok(d);
                    }
                }
                Ok(Device::Cpu)
            }
        }
    }
}

/// A short human name for a device, for "running on …" messages.
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", candle_core::utils::get_num_threads()),
        Device::Cuda(_) => cuda_details(device).unwrap_or_else(|| "cuda".to_string()),
        Device::Metal(_) => "metal".to_string(),
    }
}

/// A candle error's message without the backtrace candle attaches when
/// RUST_BACKTRACE is set: a device error should read as one sentence.
fn without_backtrace(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => without_backtrace(inner),
        other => other.to_string(),
    }
}

/// Why opening `cuda:N` may have failed, worded for the user: no driver,
/// fewer devices than N+1, or a build for another GPU generation.
fn cuda_open_hint(n: usize) -> String {
    #[cfg(feature = "cuda")]
    {
        use candle_core::cuda_backend::cudarc::driver::CudaContext;
        match CudaContext::device_count() {
            Ok(count) if (count as usize) <= n => {
                return format!(" (this machine has {count} CUDA device(s), numbered from 0)");
            }
            Ok(_) => {
                return " (the GPU is visible: is it busy, out of memory, or older than the build's CUDA_COMPUTE_CAP? see README, CUDA)"
                    .to_string();
            }
            Err(e) if format!("{e:?}").contains("CUDA_ERROR_STUB_LIBRARY") => {
                return " (the libcuda.so.1 found is a stub, not the NVIDIA driver: is the driver installed? try `nvidia-smi`)".to_string();
            }
            Err(_) => {}
        }
    }
    let _ = n;
    " (is the NVIDIA driver installed and the GPU visible? try `nvidia-smi`)".to_string()
}

/// "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB free of 79.6 GiB)".
fn cuda_details(device: &Device) -> Option<String> {
    #[cfg(feature = "cuda")]
    if let Device::Cuda(d) = device {
        let ctx = d.cuda_stream().context().clone();
        let name = ctx.name().ok()?;
        let (major, minor) = ctx.compute_capability().ok()?;
        let mem = cuda_memory(device).map(|(free, total)| format!(", {} free of {}", human_bytes(free), human_bytes(total)));
        return Some(format!("cuda:{} ({name}, sm_{major}{minor}{})", ctx.ordinal(), mem.unwrap_or_default()));
    }
    let _ = device;
    None
}

/// Free and total bytes of a CUDA device; `None` elsewhere or if the driver
/// cannot say.
pub fn cuda_memory(device: &Device) -> Option<(u64, u64)> {
    #[cfg(feature = "cuda")]
    if let Device::Cuda(d) = device {
        let (free, total) = d.cuda_stream().context().mem_get_info().ok()?;
        return Some((free as u64, total as u64));
    }
    let _ = device;
    None
}

/// "1.5 GiB", "640 MiB", "12 KiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 || v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Bytes taken by a dense tensor of this shape and dtype; for the memory
/// estimates passed to [`explain_oom`].
pub fn tensor_bytes(shape: &[usize], dtype: DType) -> u64 {
    shape.iter().map(|&d| d as u64).product::<u64>() * dtype.size_in_bytes() as u64
}

/// True when `err` is a device allocation failure: the CUDA driver's or
/// cuBLAS's out-of-memory codes, or Metal's equivalent message.
pub fn is_out_of_memory(err: &candle_core::Error) -> bool {
    let text = err.to_string();
    ["CUDA_ERROR_OUT_OF_MEMORY", "CUBLAS_STATUS_ALLOC_FAILED", "CURAND_STATUS_ALLOCATION_FAILED", "out of memory", "OutOfMemory"]
        .iter()
        .any(|pat| text.contains(pat))
}

/// Turns a device allocation failure into an error that says what was being
/// done, how much memory it needs (the caller's estimate, `needed_bytes`),
/// what the device has free, and what to try. Other errors pass through.
pub fn explain_oom(err: candle_core::Error, device: &Device, task: &str, needed_bytes: u64) -> Error {
    if !is_out_of_memory(&err) {
        return Error::Candle(err);
    }
    let name = match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(_) => cuda_details(device).map(|d| d.split(" (").next().unwrap_or("cuda").to_string()).unwrap_or_else(|| "cuda".into()),
        Device::Metal(_) => "metal".to_string(),
    };
    let have = match cuda_memory(device) {
        Some((free, total)) => format!("; the device has {} free of {}", human_bytes(free), human_bytes(total)),
        None => String::new(),
    };
    Error::Device(format!(
        "out of memory on {name} while {task}: it needs about {}{have}. Try a smaller image size or batch, \
         half precision where the method supports it, closing other programs that use the GPU, or `--device cpu` \
         ({})",
        human_bytes(needed_bytes),
        without_backtrace(&err)
    ))
}

/// [`explain_oom`] on a `Result`, for `?` chains: `x.on_oom(&dev, "styling 2048x2048", bytes)?`.
pub trait OomContext<T> {
    fn on_oom(self, device: &Device, task: &str, needed_bytes: u64) -> Result<T>;
}

impl<T> OomContext<T> for std::result::Result<T, candle_core::Error> {
    fn on_oom(self, device: &Device, task: &str, needed_bytes: u64) -> Result<T> {
        self.map_err(|e| explain_oom(e, device, task, needed_bytes))
    }
}

impl<T> OomContext<T> for Result<T> {
    fn on_oom(self, device: &Device, task: &str, needed_bytes: u64) -> Result<T> {
        self.map_err(|e| match e {
            Error::Candle(e) => explain_oom(e, device, task, needed_bytes),
            other => other,
        })
    }
}

/// Numeric precision asked for (`auto | f32 | f16 | bf16`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    #[default]
    Auto,
    F32,
    F16,
    Bf16,
}

impl FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "f32" | "fp32" | "float32" => Ok(Self::F32),
            "f16" | "fp16" | "half" | "float16" => Ok(Self::F16),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            other => Err(Error::InvalidArgument(format!("unknown precision '{other}': expected auto, f32, f16 or bf16"))),
        }
    }
}

/// What the numbers are for: the precision a workload tolerates differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// A feed-forward pass through a trained network (fast, multi-style, arbitrary).
    Inference,
    /// Optimising an image through VGG losses (Gatys, improved NST).
    Optimization,
    /// Training a network (backward passes, optimiser state).
    Training,
}

/// The dtype to compute a workload in on `device`.
///
/// Optimisation and training stay f32: Gram matrices sum H·W products and
/// overflow f16's range (65504) at ordinary image sizes, and candle has no
/// loss scaling for half-precision gradients. Inference may run in f16 or
/// bf16 when asked for, on CUDA only: candle's CPU half-precision kernels are
/// slower than its f32 ones, so they buy nothing there. `Auto` is f32
/// everywhere until the GPU parity run (scripts/gpu-check.sh) has measured
/// the half-precision error of each network.
pub fn dtype_for(device: &Device, workload: Workload, precision: Precision) -> Result<DType> {
    let half = match precision {
        Precision::Auto | Precision::F32 => return Ok(DType::F32),
        Precision::F16 => DType::F16,
        Precision::Bf16 => DType::BF16,
    };
    if workload != Workload::Inference {
        return Err(Error::InvalidArgument(format!(
            "{half:?} is only supported for network inference; {workload:?} runs in f32 (Gram matrices and gradients lose too much in half precision)"
        )));
    }
    if !device.is_cuda() {
        return Err(Error::InvalidArgument(format!(
            "{half:?} is only supported on CUDA; on {} use f32 (candle's half-precision CPU kernels are slower than f32)",
            describe(device)
        )));
    }
    Ok(half)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_device_names() {
        assert_eq!("auto".parse::<DeviceChoice>().unwrap(), DeviceChoice::Auto);
        assert_eq!("CPU".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("cuda".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(0));
        assert_eq!("cuda:1".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(1));
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
        assert!("tpu".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn cpu_always_opens() {
        assert!(DeviceChoice::Cpu.open().unwrap().is_cpu());
    }

    /// Without CUDA support, or with it but no usable GPU (CI runs the CUDA
    /// build against a stub driver), asking for CUDA must fail with a hint,
    /// and `auto` must still give a device.
    #[test]
    fn cuda_request_opens_or_explains() {
        match DeviceChoice::Cuda(0).open() {
            Ok(d) => assert!(d.is_cuda()),
            Err(e) => {
                let msg = e.to_string();
                if cfg!(feature = "cuda") {
                    assert!(msg.contains("cannot open cuda:0"), "{msg}");
                    assert!(msg.contains("nvidia-smi") || msg.contains("CUDA device(s)") || msg.contains("CUDA_COMPUTE_CAP"), "{msg}");
                } else {
                    assert!(msg.contains("--features cuda"), "{msg}");
                }
            }
        }
        assert!(DeviceChoice::Auto.open().is_ok());
    }

    #[test]
    fn oom_errors_name_task_size_and_hint() {
        let dev = Device::Cpu;
        let oom = candle_core::Error::Msg("DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")".into());
        let bytes = tensor_bytes(&[1, 64, 2048, 2048], DType::F32);
        assert_eq!(bytes, 1 << 30);
        let msg = explain_oom(oom, &dev, "styling 2048x2048", bytes).to_string();
        assert!(msg.contains("out of memory on cpu while styling 2048x2048"), "{msg}");
        assert!(msg.contains("about 1.0 GiB"), "{msg}");
        assert!(msg.contains("smaller image"), "{msg}");
        assert!(msg.contains("CUDA_ERROR_OUT_OF_MEMORY"), "{msg}");

        // Anything else passes through untouched.
        let other: candle_core::Result<()> = Err(candle_core::Error::Msg("shape mismatch".into()));
        match other.on_oom(&dev, "x", 1) {
            Err(Error::Candle(e)) => assert!(e.to_string().contains("shape mismatch")),
            r => panic!("unexpected {r:?}"),
        }
    }

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(640 << 20), "640 MiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn precision_policy() {
        let cpu = Device::Cpu;
        assert_eq!("BF16".parse::<Precision>().unwrap(), Precision::Bf16);
        assert!("f8".parse::<Precision>().is_err());
        for w in [Workload::Inference, Workload::Optimization, Workload::Training] {
            assert_eq!(dtype_for(&cpu, w, Precision::Auto).unwrap(), DType::F32);
            assert_eq!(dtype_for(&cpu, w, Precision::F32).unwrap(), DType::F32);
        }
        // Half precision is refused where it is slower (CPU) or inaccurate (gradients).
        assert!(dtype_for(&cpu, Workload::Inference, Precision::F16).is_err());
        let e = dtype_for(&cpu, Workload::Optimization, Precision::Bf16).unwrap_err().to_string();
        assert!(e.contains("f32"), "{e}");
    }
}
