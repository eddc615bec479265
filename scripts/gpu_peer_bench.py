#!/usr/bin/env python3
"""PyTorch CUDA peer timings for scripts/gpu-check.sh (issue 7, item 3).

Same JSON-lines format as ../shared/tools/peer_bench.py, one object per line:
  {"peer": "pytorch-cuda 2.x", "work": "gatys_step", "size": 512, "median_s": ..., ...}

  gpu_peer_bench.py gatys      --sizes 512,1024      one Gatys step: VGG16 -> relu5_1, Grams, backward to the pixels
  gpu_peer_bench.py fast       --sizes 1024,2048     Johnson transformer net (32/64/128, 5 residual blocks), one image
  gpu_peer_bench.py multistyle26 --sizes 1024,2048   multistyle26 layer table (network-specs.md section 4)
  gpu_peer_bench.py arbitrary  --sizes 1024,2048     Magenta predict (256) + transform (network-specs.md sections 2, 3)
  gpu_peer_bench.py train      --size 256 --batch 8  one fast-NST training step: transformer + VGG16 loss, backward, Adam
  gpu_peer_bench.py augment    --size 512 --count 64 arbitrary transform per image incl. JPEG decode + PNG encode, images/s

Timing only: the networks other than VGG16 get random weights of the real
shapes (the time of a dense float32 network does not depend on its values);
VGG16 uses the real ImageNet weights when `onnx` is importable, else random
weights of the same shapes (reported as "weights" in each line).
PyTorch settings are its defaults for float32 (cuDNN convolutions may use TF32,
matmuls do not) plus cudnn.benchmark=True, i.e. PyTorch at its usual best.

UNEXECUTED as of this commit: no GPU was available to the session that wrote it.
"""
import argparse, json, statistics, time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
SHARED = next((p for p in [HERE.parent / "shared", HERE.parent.parent / "shared"] if p.is_dir()), HERE.parent.parent / "shared")
DEV = torch.device("cuda")  # main() switches to cpu for `--device cpu` (a check of this script, not a peer)


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def emit(**kw):
    print(json.dumps(kw), flush=True)


def timed(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return {"median_s": round(statistics.median(ts), 6), "min_s": round(min(ts), 6), "max_s": round(max(ts), 6)}


def peer():
    if DEV.type != "cuda":
        return f"pytorch-cpu {torch.__version__} (script check only)"
    return f"pytorch-cuda {torch.__version__} (cuda {torch.version.cuda}, {torch.cuda.get_device_name(0)})"


# ---- VGG16 to conv5_1 (the loss network) ----

VGG_CFG = [(1, 2, 3, 64), (2, 2, 64, 128), (3, 3, 128, 256), (4, 3, 256, 512), (5, 1, 512, 512)]


def vgg16_convs():
    """[(name, weight, bias)] for conv1_1 .. conv5_1, and where the weights came from."""
    try:
        import onnx
        from onnx import numpy_helper
        m = onnx.load(str(SHARED / "weights" / "vgg16-keras-imagenet.onnx"))
        init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
        out = []
        for b, n, _, _ in VGG_CFG:
            for c in range(1, n + 1):
                pre = f"functional_1/block{b}_conv{c}_1/"
                out.append((f"{b}_{c}", torch.from_numpy(init[pre + "convolution/ReadVariableOp:0"].copy()).to(DEV),
                            torch.from_numpy(init[pre + "Squeeze:0"].copy()).to(DEV)))
        return out, "real"
    except Exception:  # no onnx module or no weights file here: same shapes, random values
        g = torch.Generator().manual_seed(0)
        out = []
        for b, n, cin, cout in VGG_CFG:
            for c in range(1, n + 1):
                i = cin if c == 1 else cout
                w = torch.randn(cout, i, 3, 3, generator=g) * (2.0 / (9 * i)) ** 0.5
                out.append((f"{b}_{c}", w.to(DEV), torch.zeros(cout).to(DEV)))
        return out, "random-same-shapes"


def vgg_features(convs, x_rgb01):
    mean = torch.tensor([103.939, 116.779, 123.68], device=DEV).view(1, 3, 1, 1)
    x = x_rgb01.flip(1) * 255.0 - mean
    feats = {}
    for n, w, b in convs:
        if n.endswith("_1") and n != "1_1":
            x = F.max_pool2d(x, 2)
        x = F.relu(F.conv2d(x, w, b, padding=1))
        feats[n] = x
    return feats


def gram(f):
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def gatys(a):
    convs, src = vgg16_convs()
    style_layers, content_layer = ["1_1", "2_1", "3_1", "4_1", "5_1"], "4_2"
    for size in a.sizes:
        g = torch.Generator(device=DEV).manual_seed(1)
        c = torch.rand(1, 3, size, size, device=DEV, generator=g)
        s = torch.rand(1, 3, size, size, device=DEV, generator=g)
        with torch.no_grad():
            fc, fs = vgg_features(convs, c), vgg_features(convs, s)
            target_c = fc[content_layer]
            target_s = {l: gram(fs[l]) for l in style_layers}
        x = c.clone().requires_grad_(True)

        def step():
            x.grad = None
            f = vgg_features(convs, x)
            loss = F.mse_loss(f[content_layer], target_c)
            for l in style_layers:
                loss = loss + 1e3 * F.mse_loss(gram(f[l]), target_s[l])
            loss = loss + 1e-4 * ((x[..., 1:, :] - x[..., :-1, :]).abs().sum() + (x[..., :, 1:] - x[..., :, :-1]).abs().sum())
            loss.backward()

        emit(peer=peer(), work="gatys_step", size=size, weights=src, **timed(step, a.reps, a.warmup))


# ---- feed-forward transformer nets (reflect pad, conv, instance norm) ----

class ConvIN(nn.Module):
    def __init__(self, cin, cout, k, stride=1, up=False, act="relu", norm=True, bias=False):
        super().__init__()
        self.pad, self.up, self.act = k // 2, up, act
        self.conv = nn.Conv2d(cin, cout, k, stride, bias=bias)
        self.norm = nn.InstanceNorm2d(cout, affine=True) if norm else None

    def forward(self, x):
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(F.pad(x, (self.pad,) * 4, mode="reflect"))
        if self.norm is not None:
            x = self.norm(x)
        return {"relu": F.relu, "sigmoid": torch.sigmoid, "none": lambda t: t}[self.act](x)


class Transformer(nn.Module):
    """contract (k9, s2, s2), residual blocks, expand (up, up, k9); widths per network."""

    def __init__(self, w1, w2, w3, blocks, e1, e2, first_norm=True, out_act="sigmoid", out_norm=True):
        super().__init__()
        self.contract = nn.Sequential(ConvIN(3, w1, 9, norm=first_norm, bias=not first_norm),
                                      ConvIN(w1, w2, 3, 2, norm=first_norm, bias=not first_norm),
                                      ConvIN(w2, w3, 3, 2, norm=first_norm, bias=not first_norm))
        self.res = nn.ModuleList(nn.Sequential(ConvIN(w3, w3, 3), ConvIN(w3, w3, 3, act="none")) for _ in range(blocks))
        self.expand = nn.Sequential(ConvIN(w3, e1, 3, up=True), ConvIN(e1, e2, 3, up=True),
                                    ConvIN(e2, 3, 9, act=out_act, norm=out_norm, bias=not out_norm))

    def forward(self, x):
        x = self.contract(x)
        for r in self.res:
            x = x + r(x)
        return self.expand(x)


def johnson():
    return Transformer(32, 64, 128, 5, 64, 32, out_act="none", out_norm=False)


def multistyle26_net():
    return Transformer(32, 32, 32, 6, 8, 4)


def magenta_transform():
    return Transformer(8, 16, 32, 5, 16, 8, first_norm=False)


class InvRes(nn.Module):
    def __init__(self, cin, cout, t, stride):
        super().__init__()
        h = cin * t
        layers = [] if t == 1 else [nn.Conv2d(cin, h, 1), nn.ReLU6()]
        layers += [nn.ZeroPad2d((1, 1, 1, 1) if stride == 1 else (0, 1, 0, 1)), nn.Conv2d(h, h, 3, stride, groups=h), nn.ReLU6(),
                   nn.Conv2d(h, cout, 1)]
        self.body, self.skip = nn.Sequential(*layers), stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.skip else self.body(x)


def magenta_predict():
    cfg = [(32, 16, 1, 1), (16, 24, 6, 2), (24, 24, 6, 1), (24, 32, 6, 2), (32, 32, 6, 1), (32, 32, 6, 1), (32, 64, 6, 2),
           (64, 64, 6, 1), (64, 64, 6, 1), (64, 64, 6, 1), (64, 96, 6, 1), (96, 96, 6, 1), (96, 96, 6, 1), (96, 160, 6, 2),
           (160, 160, 6, 1), (160, 160, 6, 1), (160, 320, 6, 1)]
    return nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, 32, 3, 2), nn.ReLU6(), *[InvRes(*c) for c in cfg],
                         nn.Conv2d(320, 1280, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Conv2d(1280, 100, 1, bias=False))


def feed_forward(a, work, net):
    net = net.to(DEV).eval()
    for size in a.sizes:
        x = torch.rand(1, 3, size, size, device=DEV)
        with torch.inference_mode():
            emit(peer=peer(), work=work, size=size, weights="random-same-shapes", **timed(lambda: net(x), a.reps, a.warmup))


def arbitrary(a):
    p, t = magenta_predict().to(DEV).eval(), magenta_transform().to(DEV).eval()
    st = torch.rand(1, 3, 256, 256, device=DEV)
    for size in a.sizes:
        x = torch.rand(1, 3, size, size, device=DEV)
        with torch.inference_mode():
            emit(peer=peer(), work="arbitrary_predict256_transform", size=size, weights="random-same-shapes",
                 **timed(lambda: (p(st), t(x)), a.reps, a.warmup))


def train(a):
    convs, src = vgg16_convs()
    convs = [(n, w.requires_grad_(False), b.requires_grad_(False)) for n, w, b in convs if n in
             ("1_1", "1_2", "2_1", "2_2", "3_1", "3_2", "3_3", "4_1", "4_2", "4_3")]
    net = johnson().to(DEV).train()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    style_layers, content_layer = ["1_2", "2_2", "3_3", "4_3"], "2_2"
    x = torch.rand(a.batch, 3, a.size, a.size, device=DEV)
    with torch.no_grad():
        fs = vgg_features(convs, torch.rand(1, 3, a.size, a.size, device=DEV))
        target_s = {l: gram(fs[l]) for l in style_layers}

    def step():
        opt.zero_grad(set_to_none=True)
        y = net(x).clamp(0, 1)
        fy, fx = vgg_features(convs, y), vgg_features(convs, x)
        loss = F.mse_loss(fy[content_layer], fx[content_layer].detach())
        for l in style_layers:
            loss = loss + 1e5 * F.mse_loss(gram(fy[l]), target_s[l].expand(a.batch, -1, -1))
        loss.backward()
        opt.step()

    emit(peer=peer(), work="train_fast_step", size=a.size, batch=a.batch, weights=src, **timed(step, a.reps, a.warmup))


def augment(a):
    from PIL import Image
    import numpy as np
    import tempfile
    files = sorted((SHARED / "data" / "coco128").rglob("*.jpg"))[: a.count]
    if not files:
        raise SystemExit(f"no JPEG under {SHARED / 'data' / 'coco128'}")
    t = magenta_transform().to(DEV).eval()
    with tempfile.TemporaryDirectory() as out, torch.inference_mode():
        def run_all():
            for i, f in enumerate(files):
                im = np.asarray(Image.open(f).convert("RGB").resize((a.size, a.size)), np.float32) / 255.0
                x = torch.from_numpy(im).permute(2, 0, 1)[None].to(DEV)
                y = (t(x)[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()
                Image.fromarray(y).save(Path(out) / f"{i}.png")
        r = timed(run_all, 1, 1)
    emit(peer=peer(), work="augment_arbitrary", size=a.size, images=len(files), weights="random-same-shapes",
         images_per_s=round(len(files) / r["median_s"], 2), **r)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["gatys", "fast", "multistyle26", "arbitrary", "train", "augment"])
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: only checks that this script runs")
    a = ap.parse_args()
    global DEV
    DEV = torch.device(a.device)
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("PyTorch sees no CUDA device")
    torch.backends.cudnn.benchmark = True
    defaults = {"gatys": "512,1024", "fast": "1024,2048", "multistyle26": "1024,2048", "arbitrary": "1024,2048"}
    a.sizes = [int(s) for s in (a.sizes or defaults.get(a.what, "256")).split(",")]
    a.size = a.size or {"train": 256, "augment": 512}.get(a.what, a.sizes[0])
    {"gatys": gatys, "fast": lambda a: feed_forward(a, "fast", johnson()),
     "multistyle26": lambda a: feed_forward(a, "multistyle26", multistyle26_net()),
     "arbitrary": arbitrary, "train": train, "augment": augment}[a.what](a)


if __name__ == "__main__":
    main()
