//! PyTorch's legacy (pre-1.6, non-zip) `torch.save` format, which files
//! published before 2020 use (e.g. the AdaIN release's `.pth` files):
//! five pickles in a row — a magic number, the protocol version (1001),
//! system info, the object (tensors refer to storages by key through
//! persistent ids), the list of storage keys — then each storage as an
//! 8-byte little-endian element count followed by its raw little-endian data.
//!
//! candle's pickle reader parses the pickles; this module skips the magic
//! number (a 10-byte LONG1 candle cannot decode) and reads the storages.

use crate::{Error, Result};
use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Tensor};
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;

/// The first pickle of a legacy file: protocol 2, LONG1 of 10 bytes holding
/// 0x1950a86a20f9469cfc6c, STOP.
const MAGIC: [u8; 15] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

/// Whether `head` (a file's first bytes) starts a legacy `torch.save` file.
pub fn is_legacy(head: &[u8]) -> bool {
    head.starts_with(&MAGIC)
}

/// All tensors of a legacy state dict (or of one under `state_dict` /
/// `model`), in the storage's dtype.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bad = |m: String| Error::Format(format!("{}: legacy PyTorch file: {m}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    if !is_legacy(&bytes) {
        return Err(bad("no legacy magic number".into()));
    }
    let mut cur = Cursor::new(&bytes[MAGIC.len()..]);
    let mut pickle = |what: &str| -> Result<Object> {
        let mut stack = Stack::empty();
        super::pickle_guard::guarded(|| stack.read_loop(&mut cur)).map_err(|e| bad(format!("{what}: {e}")))?;
        stack.finalize().map_err(|e| bad(format!("{what}: {e}")))
    };
    match pickle("protocol version")? {
        Object::Int(1001) => {}
        other => return Err(bad(format!("unknown protocol version {other:?}"))),
    }
    if let Object::Dict(info) = pickle("system info")? {
        let little = info.iter().any(|(k, v)| *k == Object::Unicode("little_endian".into()) && *v == Object::Bool(true));
        if !little {
            return Err(bad("written on a big-endian machine".into()));
        }
    }
    let infos = tensor_infos(pickle("state dict")?);
    if infos.is_empty() {
        return Err(bad("no tensors in it".into()));
    }
    let keys = match pickle("storage keys")? {
        Object::List(k) => k,
        other => return Err(bad(format!("storage key list expected, got {other:?}"))),
    };
    // Storages follow in key order; their element size comes from the tensors using them.
    let dtype_of: HashMap<&str, DType> = infos.iter().map(|t| (t.path.as_str(), t.dtype)).collect();
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    let data = &bytes[MAGIC.len()..];
    let mut pos = cur.position() as usize;
    for key in keys {
        let Object::Unicode(key) = key else { return Err(bad("a storage key is not a string".into())) };
        let dtype = *dtype_of.get(key.as_str()).ok_or_else(|| bad(format!("storage '{key}' used by no tensor")))?;
        let mut n = [0u8; 8];
        Cursor::new(data.get(pos..).unwrap_or_default()).read_exact(&mut n).map_err(|_| bad("truncated".into()))?;
        let len = (u64::from_le_bytes(n) as usize).checked_mul(dtype.size_in_bytes()).ok_or_else(|| bad("bad size".into()))?;
        let start = pos + 8;
        let raw = data.get(start..start + len).ok_or_else(|| bad(format!("storage '{key}' is truncated")))?;
        storages.insert(key, raw);
        pos = start + len;
    }
    let mut out = Vec::with_capacity(infos.len());
    for t in infos {
        let raw = storages.get(&t.path).ok_or_else(|| bad(format!("tensor '{}' refers to a missing storage", t.name)))?;
        if !t.layout.is_contiguous() {
            return Err(bad(format!("tensor '{}' is not contiguous", t.name)));
        }
        let start = t.layout.start_offset();
        let len = t.layout.shape().elem_count() * t.dtype.size_in_bytes();
        let slice = raw.get(start..start + len).ok_or_else(|| bad(format!("tensor '{}' overruns its storage", t.name)))?;
        let tensor = Tensor::from_raw_buffer(slice, t.dtype, t.layout.dims(), &candle_core::Device::Cpu)?;
        out.push((t.name, tensor));
    }
    Ok(out)
}

/// The tensors of a state dict object (or of the dict under `state_dict` /
/// `model`); `path` is the storage key.
fn tensor_infos(obj: Object) -> Vec<candle_core::pickle::TensorInfo> {
    // A state dict is an OrderedDict with a `_metadata` attribute: BUILD.
    let obj = match obj {
        Object::Build { callable, .. } => *callable,
        o => o,
    };
    let Object::Dict(entries) = obj else { return Vec::new() };
    let mut nested = None;
    let mut infos = Vec::new();
    for (name, value) in entries {
        if nested.is_none() && matches!(&name, Object::Unicode(k) if k == "state_dict" || k == "model") {
            nested = Some(value);
            continue;
        }
        if let Ok(Some(info)) = super::pickle_guard::guarded(|| value.into_tensor_info(name, Path::new(""))) {
            infos.push(candle_core::pickle::TensorInfo { path: info.path.trim_start_matches('/').to_string(), ..info });
        }
    }
    match (infos.is_empty(), nested) {
        (true, Some(inner)) => tensor_infos(inner),
        _ => infos,
    }
}
