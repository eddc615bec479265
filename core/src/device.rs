//! Device choice: `auto | cpu | cuda[:N] | metal[:N]`, resolved at run time
//! against what this build was compiled with.

use crate::{Error, Result};
use candle_core::Device;
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
                Device::new_cuda(n).map_err(|e| Error::Device(format!("cannot open cuda:{n}: {e} (is the NVIDIA driver loaded and the GPU visible? try `nvidia-smi`)")))
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
        Device::Cuda(_) => "cuda".to_string(),
        Device::Metal(_) => "metal".to_string(),
    }
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
}
