#!/usr/bin/env python3
"""Writes the real PyTorch and wheel seeds of the fuzz corpus (issue 19).

Run with a Python that has torch (e.g. the CI's torch environment):
    python3 tests/fuzz/make_seeds.py
The files are tiny real torch.save outputs (zip format and the legacy
format) with the key names of a fast_neural_style transformer network, so
that the import path reaches tensor loading and the fast-network importer,
and wheels (zip archives) holding them. The other targets' seeds are written
by restyle_tests::fuzz::seeds.
"""
import io
import pathlib
import zipfile

import torch

corpus = pathlib.Path(__file__).resolve().parent / "corpus"
torch.manual_seed(19)


def state(prefix=""):
    # The first layers of pytorch/examples' TransformerNet, tiny channel counts.
    return {
        prefix + "conv1.conv2d.weight": torch.randn(2, 3, 3, 3),
        prefix + "conv1.conv2d.bias": torch.randn(2),
        prefix + "in1.weight": torch.ones(2),
        prefix + "in1.bias": torch.zeros(2),
        prefix + "in1.running_mean": torch.zeros(2),
        prefix + "in1.running_var": torch.ones(2),
        prefix + "deconv3.conv2d.weight": torch.randn(3, 2, 1, 1).half(),
    }


def saved(obj, legacy=False):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def wheel(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(name, data)
        z.writestr("tinyfast-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinyfast\nVersion: 1.0\n")
        z.writestr("tinyfast-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("tinyfast-1.0.dist-info/RECORD", "")
    return buf.getvalue()


seeds = {
    "pytorch/seed-fast.pth": saved(state()),
    "pytorch/seed-fast-dataparallel.pth": saved(state("module.")),
    "pytorch/seed-fast-wrapped.pth": saved({"state_dict": state(), "epoch": 3}),
    "pytorch/seed-fast-legacy.pth": saved(state(), legacy=True),
}
seeds["wheel/seed-fast-pth.whl"] = wheel([("tinyfast/models/tiny.pth", seeds["pytorch/seed-fast.pth"])])
seeds["wheel/seed-onnx.whl"] = wheel([("tinyfast/models/tiny.onnx", (corpus / "onnx/seed-tiny.onnx").read_bytes())])
for rel, data in seeds.items():
    (corpus / rel).write_bytes(data)
    print(f"{rel}: {len(data)} bytes")
