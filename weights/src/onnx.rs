//! Minimal ONNX reader: the protobuf messages restyle needs, decoded with
//! prost from hand-written definitions (field numbers from onnx.proto), so
//! that building needs no protoc. Only what importers use is declared;
//! prost skips every other field.

use crate::{Error, Result};
use candle_core::{Device, Tensor};
use prost::Message;
use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
}

/// ONNX `TensorProto.DataType` values restyle reads.
pub mod data_type {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const DOUBLE: i32 = 11;
}

impl TensorProto {
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().map(|&d| d.max(0) as usize).collect()
    }

    /// The values widened to f32 (int8/int32 quantized values are exact in f32
    /// up to 2^24, which covers every int8 weight and the int32 biases seen).
    pub fn to_f32_vec(&self) -> Result<Vec<f32>> {
        let raw = &self.raw_data;
        // Checked: the dims are the file's, and their product can overflow.
        // Zero dims count as 1 here: a tensor's strides are products of its
        // other dims, and candle computes them unchecked (fuzzing found
        // [0, 2^40, 2^40], zero elements but strides past usize).
        let too_many = || Error::tensor(&self.name, format!("shape {:?} has too many elements", self.shape()));
        self.shape().iter().try_fold(1usize, |a, &d| a.checked_mul(d.max(1))).ok_or_else(too_many)?;
        let n: usize = self.shape().iter().product();
        let v: Vec<f32> = match self.data_type {
            data_type::FLOAT if !raw.is_empty() => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            data_type::FLOAT => self.float_data.clone(),
            data_type::DOUBLE if !raw.is_empty() => {
                raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("chunk of 8")) as f32).collect()
            }
            data_type::DOUBLE => self.double_data.iter().map(|&v| v as f32).collect(),
            data_type::INT8 if !raw.is_empty() => raw.iter().map(|&b| b as i8 as f32).collect(),
            data_type::UINT8 if !raw.is_empty() => raw.iter().map(|&b| b as f32).collect(),
            data_type::INT8 | data_type::UINT8 | data_type::INT32 if raw.is_empty() => self.int32_data.iter().map(|&v| v as f32).collect(),
            data_type::INT32 => raw.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32).collect(),
            data_type::INT64 if !raw.is_empty() => {
                raw.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("chunk of 8")) as f32).collect()
            }
            data_type::INT64 => self.int64_data.iter().map(|&v| v as f32).collect(),
            t => return Err(Error::tensor(&self.name, format!("unsupported ONNX data type {t}"))),
        };
        if v.len() != n {
            return Err(Error::tensor(&self.name, format!("{} values for shape {:?}", v.len(), self.shape())));
        }
        Ok(v)
    }

    /// The values as an f32 candle tensor on the CPU.
    pub fn to_tensor(&self) -> Result<Tensor> {
        Ok(Tensor::from_vec(self.to_f32_vec()?, self.shape(), &Device::Cpu)?)
    }
}

impl NodeProto {
    pub fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.attribute.iter().find(|a| a.name == name)
    }
}

/// A parsed ONNX model with its initializers indexed by name.
pub struct OnnxModel {
    pub graph: GraphProto,
    index: HashMap<String, usize>,
}

impl OnnxModel {
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            Error::Format(reason) => Error::Onnx { path: path.into(), reason },
            other => other,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let model = ModelProto::decode(bytes).map_err(|e| Error::Format(format!("protobuf decode failed: {e}")))?;
        let graph = model.graph.ok_or_else(|| Error::Format("the model has no graph".into()))?;
        let index = graph.initializer.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        Ok(OnnxModel { graph, index })
    }

    pub fn initializer(&self, name: &str) -> Option<&TensorProto> {
        self.index.get(name).map(|&i| &self.graph.initializer[i])
    }

    pub fn initializer_names(&self) -> impl Iterator<Item = &str> {
        self.graph.initializer.iter().map(|t| t.name.as_str())
    }

    /// A float initializer, as stored.
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        self.initializer(name).ok_or_else(|| Error::tensor(name, "no such initializer in the ONNX graph"))?.to_tensor()
    }

    /// An initializer as real values: when a `DequantizeLinear` node reads
    /// it, `(q − zero_point) · scale` (per channel along the node's `axis`,
    /// default 1, when the scale is 1-D; per tensor otherwise); else as stored.
    pub fn dequantized(&self, name: &str) -> Result<Tensor> {
        let q = self.tensor(name)?;
        let Some(node) = self.graph.node.iter().find(|n| n.op_type == "DequantizeLinear" && n.input.first().map(String::as_str) == Some(name))
        else {
            return Ok(q);
        };
        let scale = self.tensor(&node.input[1])?;
        let zero = match node.input.get(2).filter(|s| !s.is_empty()) {
            Some(z) => self.tensor(z)?,
            None => scale.zeros_like()?,
        };
        let broadcast = |t: Tensor| -> Result<Tensor> {
            if t.elem_count() == 1 {
                return Ok(t.flatten_all()?.reshape(vec![1; q.rank()])?.broadcast_as(q.shape())?);
            }
            let axis = node.attr("axis").map_or(1, |a| a.i);
            let axis = if axis < 0 { axis + q.rank() as i64 } else { axis } as usize;
            let mut shape = vec![1; q.rank()];
            shape[axis] = t.elem_count();
            Ok(t.reshape(shape)?.broadcast_as(q.shape())?)
        };
        let (zero, scale) = (broadcast(zero)?, broadcast(scale)?);
        Ok(((q - zero)? * scale)?)
    }

    /// Nodes of a given op type, in graph order.
    pub fn nodes_of<'a>(&'a self, op_type: &'a str) -> impl Iterator<Item = &'a NodeProto> + 'a {
        self.graph.node.iter().filter(move |n| n.op_type == op_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, dims: &[i64], data_type: i32, raw: Vec<u8>) -> TensorProto {
        TensorProto { name: name.into(), dims: dims.to_vec(), data_type, raw_data: raw, ..Default::default() }
    }

    #[test]
    fn decodes_and_dequantizes_per_channel() {
        let q = tensor("w", &[2, 3], data_type::INT8, vec![1, 2, 3, 0xff, 0xfe, 0xfd]);
        let s = tensor("s", &[2], data_type::FLOAT, [0.5f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect());
        let z = tensor("z", &[2], data_type::INT8, vec![0, 1]);
        let node = NodeProto {
            input: vec!["w".into(), "s".into(), "z".into()],
            output: vec!["w_dq".into()],
            op_type: "DequantizeLinear".into(),
            attribute: vec![AttributeProto { name: "axis".into(), i: 0, ..Default::default() }],
            ..Default::default()
        };
        let model = ModelProto {
            ir_version: 8,
            graph: Some(GraphProto { node: vec![node], initializer: vec![q, s, z], ..Default::default() }),
            ..Default::default()
        };
        let parsed = OnnxModel::from_bytes(&model.encode_to_vec()).unwrap();
        let w = parsed.dequantized("w").unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(w, vec![vec![0.5, 1.0, 1.5], vec![-4.0, -6.0, -8.0]]);
        assert!(parsed.tensor("nope").is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(OnnxModel::from_bytes(b"\x0a\xff\xff\xff\xff\x0fgarbage").is_err());
        assert!(OnnxModel::from_bytes(b"").is_err()); // no graph
    }
}
