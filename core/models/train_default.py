#!/usr/bin/env python3
"""Trains restyle's embedded default fast-NST network (Johnson et al. 2016,
pytorch/examples `fast_neural_style` layout and key names, narrowed widths),
on the CPU or a CUDA GPU (`--device cuda`).

Same objective as `restyle train fast`: VGG16 (Keras/caffe ImageNet weights
from ../shared/weights/vgg16-keras-imagenet.onnx, given to `--vgg` as an
.npz extracted with onnx, or as restyle's canonical .safetensors from
`restyle weights import`, f32 or f16), content at relu2_2, style Grams at relu1_2/2_2/3_3/4_3 (Gram /
(C·H·W)), total variation; Adam lr 1e-3. Images are 0..255 RGB in and out,
like pytorch/examples.

Why PyTorch here: on this shared CPU candle's conv backward is ~5x slower
than oneDNN (see docs/PERFORMANCE.md), and the default model had to be
trained within about an hour; the Rust trainer computes the same loss.

  python3 train_default.py --style starry_night.jpg --content-dir DIR... \
      --vgg vgg16_caffe.npz --size 128 --batch 4 --steps N --out DIR
"""
import argparse, csv, glob, os, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.pad = k // 2
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(F.pad(x, [self.pad] * 4, mode="reflect"))


class UpsampleConvLayer(ConvLayer):
    def forward(self, x):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return super().forward(x)


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3, 1)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = ConvLayer(c, c, 3, 1)
        self.in2 = nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class TransformerNet(nn.Module):
    """pytorch/examples TransformerNet with widths (c1, c2, c3) instead of (32, 64, 128)."""

    def __init__(self, c1=32, c2=64, c3=128, n_res=5):
        super().__init__()
        self.conv1 = ConvLayer(3, c1, 9, 1); self.in1 = nn.InstanceNorm2d(c1, affine=True)
        self.conv2 = ConvLayer(c1, c2, 3, 2); self.in2 = nn.InstanceNorm2d(c2, affine=True)
        self.conv3 = ConvLayer(c2, c3, 3, 2); self.in3 = nn.InstanceNorm2d(c3, affine=True)
        for i in range(1, n_res + 1):
            setattr(self, f"res{i}", ResidualBlock(c3))
        self.n_res = n_res
        self.deconv1 = UpsampleConvLayer(c3, c2, 3, 1); self.in4 = nn.InstanceNorm2d(c2, affine=True)
        self.deconv2 = UpsampleConvLayer(c2, c1, 3, 1); self.in5 = nn.InstanceNorm2d(c1, affine=True)
        self.deconv3 = ConvLayer(c1, 3, 9, 1)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for i in range(1, self.n_res + 1):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


class Vgg16(nn.Module):
    """Keras/caffe VGG16 trunk up to relu4_3: RGB 0..255 in, BGR minus mean inside."""

    LAYERS = ["1_1", "1_2", "P", "2_1", "2_2", "P", "3_1", "3_2", "3_3", "P", "4_1", "4_2", "4_3"]

    def __init__(self, path):
        super().__init__()
        if path.endswith(".safetensors"):
            from safetensors.numpy import load_file
            w = {k: v.astype(np.float32) for k, v in load_file(path).items()}
        else:
            w = np.load(path)
        self.convs = nn.ModuleDict()
        for l in self.LAYERS:
            if l == "P":
                continue
            wt = torch.from_numpy(w[f"conv{l}.weight"])
            c = nn.Conv2d(wt.shape[1], wt.shape[0], 3, padding=1)
            c.weight.data.copy_(wt); c.bias.data.copy_(torch.from_numpy(w[f"conv{l}.bias"]))
            self.convs[l] = c
        self.register_buffer("mean", torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, rgb255):
        x = rgb255.flip(1) - self.mean
        out = {}
        for l in self.LAYERS:
            if l == "P":
                x = F.max_pool2d(x, 2)
            else:
                x = F.relu(self.convs[l](x))
                out["relu" + l] = x
        return out


def gram(f):
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def load_images(dirs, size):
    paths = sorted(p for d in dirs for p in glob.glob(os.path.join(d, "*")) if p.lower().endswith((".jpg", ".jpeg", ".png")))
    imgs = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        s = size / min(im.size)
        im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.BICUBIC)
        imgs.append(torch.from_numpy(np.asarray(im, np.float32).copy()).permute(2, 0, 1))
    return paths, imgs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", required=True)
    ap.add_argument("--content-dir", nargs="+", required=True)
    ap.add_argument("--vgg", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--style-size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=1e9, help="stop after this wall time")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--content-weight", type=float, default=1.0)
    ap.add_argument("--style-weight", type=float, default=30.0)
    ap.add_argument("--tv-weight", type=float, default=1e-4)
    ap.add_argument("--widths", default="16,32,64")
    ap.add_argument("--n-res", type=int, default=5)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", help="start from these weights (.pth state dict or restyle's fp16 .safetensors)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda":
        # TF32 convolutions and products: the loss network's features need no more.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)

    c1, c2, c3 = (int(v) for v in a.widths.split(","))
    net = TransformerNet(c1, c2, c3, a.n_res).to(dev)
    opt = torch.optim.Adam(net.parameters(), a.lr)
    vgg = Vgg16(a.vgg).to(dev)
    start = 0
    if a.init:
        if a.init.endswith(".safetensors"):
            from safetensors.torch import load_file
            sd = load_file(a.init)
        else:
            sd = torch.load(a.init, map_location="cpu")
        net.load_state_dict({k: v.float() for k, v in sd.items()})
        print("initialised from", a.init)
    ckpt = os.path.join(a.out, "checkpoint.pth")
    if a.resume and os.path.exists(ckpt):
        st = torch.load(ckpt, map_location=dev)
        net.load_state_dict(st["model"]); opt.load_state_dict(st["optim"]); start = st["step"]
        print("resumed at step", start)

    _, imgs = load_images(a.content_dir, a.size)
    style = Image.open(a.style).convert("RGB")
    s = a.style_size / max(style.size)
    style = style.resize((round(style.width * s), round(style.height * s)), Image.BICUBIC)
    style = torch.from_numpy(np.asarray(style, np.float32).copy()).permute(2, 0, 1)[None].to(dev)
    with torch.no_grad():
        sf = vgg(style)
        style_grams = {k: gram(sf[k]) for k in ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]}

    log_path = os.path.join(a.out, "loss.csv")
    log = open(log_path, "a" if start else "w", newline="")
    w = csv.writer(log)
    if not start:
        w.writerow(["step", "content", "style", "tv", "total", "seconds"])
    t0 = time.time()
    for step in range(start + 1, a.steps + 1):
        batch = []
        for i in rng.integers(0, len(imgs), a.batch):
            im = imgs[i]
            y0 = rng.integers(0, im.shape[1] - a.size + 1); x0 = rng.integers(0, im.shape[2] - a.size + 1)
            crop = im[:, y0:y0 + a.size, x0:x0 + a.size]
            batch.append(crop.flip(2) if rng.random() < 0.5 else crop)
        x = torch.stack(batch).to(dev)
        y = net(x)
        fy = vgg(y)
        with torch.no_grad():
            fx = vgg(x)
        content = F.mse_loss(fy["relu2_2"], fx["relu2_2"])
        style_l = sum(F.mse_loss(gram(fy[k]), g.expand(a.batch, -1, -1)) for k, g in style_grams.items())
        tv = ((y[:, :, 1:, :] - y[:, :, :-1, :]) ** 2).mean() + ((y[:, :, :, 1:] - y[:, :, :, :-1]) ** 2).mean()
        total = a.content_weight * content + a.style_weight * style_l + a.tv_weight * tv
        opt.zero_grad()
        total.backward()
        opt.step()
        el = time.time() - t0
        w.writerow([step, f"{content.item():.6g}", f"{style_l.item():.6g}", f"{tv.item():.6g}", f"{total.item():.6g}", f"{el:.1f}"])
        if step % 10 == 0:
            log.flush()
            print(f"step {step} content {content.item():.4g} style {style_l.item():.4g} tv {tv.item():.4g} total {total.item():.4g} ({el / (step - start):.2f} s/step)", flush=True)
        last = step == a.steps or el > a.minutes * 60
        if step % a.checkpoint_every == 0 or last:
            torch.save({"model": net.state_dict(), "optim": opt.state_dict(), "step": step}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
            torch.save({k: v.cpu() for k, v in net.state_dict().items()}, os.path.join(a.out, "model.pth"))
        if last:
            break
    log.close()


if __name__ == "__main__":
    main()
