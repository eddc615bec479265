#!/usr/bin/env python3
"""The embedded default network's gallery and its before/after check
(docs/gallery/fast/before-after.jpg and .md): each gallery photo stylized by `restyle stylize`
with the network at HEAD (core/models/starry_night.safetensors) and at
--before (a git revision), a side-by-side sheet, and per photo the content
distance (relu4_2) to the photo and the style distance (Grams at relu1_1 …
relu5_1) to starry_night.jpg, on the features of VGG16 (the Keras/caffe
weights), ÷ 255·0.226 as restyle's losses see them (lower = closer).

Needs numpy, pillow, onnx, torch (e.g. the peers' environment, `.peer`):
  .peer/bin/python scripts/fast_gallery.py --before 1037dd9 [--restyle target/release/restyle]
"""
import argparse, os, subprocess, tempfile
import numpy as np
from PIL import Image, ImageDraw

ap = argparse.ArgumentParser()
ap.add_argument("--before", required=True, help="git revision of the earlier network")
ap.add_argument("--restyle", default="target/release/restyle")
ap.add_argument("--shared", default="../shared")
ap.add_argument("--size", type=int, default=512)
ap.add_argument("--out", default="docs/gallery/fast")
a = ap.parse_args()
photos = ["chicago.jpg", "tubingen.jpg", "golden_gate.jpg", "hoovertowernight.jpg"]
tmp = tempfile.mkdtemp()
old = os.path.join(tmp, "before.safetensors")
with open(old, "wb") as f:
    f.write(subprocess.check_output(["git", "show", f"{a.before}:core/models/starry_night.safetensors"]))


def stylize(photo, model, out):
    cmd = [a.restyle, "stylize", f"{a.shared}/data/content/{photo}", "--size", str(a.size), "-o", out]
    subprocess.run(cmd + (["--model", model] if model else []), check=True, capture_output=True)
    return out


def vgg_features():
    import onnx, torch, torch.nn.functional as F
    from onnx import numpy_helper
    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(f"{a.shared}/weights/vgg16-keras-imagenet.onnx").graph.initializer}
    convs = []
    for b, n in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 1)]:
        for c in range(1, n + 1):
            pre = f"functional_1/block{b}_conv{c}_1/"
            convs.append((f"{b}_{c}", torch.from_numpy(init[pre + "convolution/ReadVariableOp:0"].copy()), torch.from_numpy(init[pre + "Squeeze:0"].copy())))
    mean = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)

    def features(path, size):
        im = Image.open(path).convert("RGB").resize(size, Image.BICUBIC)
        h = torch.from_numpy(np.asarray(im, np.float32)).permute(2, 0, 1)[None].flip(1) - mean
        out = {}
        with torch.no_grad():
            for name, w, bias in convs:
                if name.endswith("_1") and name != "1_1":
                    h = F.max_pool2d(h, 2)
                h = F.relu(F.conv2d(h, w, bias, padding=1))
                out["relu" + name] = h / (255 * 0.226)
        return out
    return features


features = vgg_features()


def gram(f):
    _, c, h, w = f.shape
    f = f.reshape(c, h * w)
    return f @ f.T / (c * h * w)


style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
rows, lines = [], ["| photo | content distance before → after | style distance before → after |", "| --- | --- | --- |"]
for p in photos:
    base = os.path.splitext(p)[0]
    after = stylize(p, None, os.path.join(tmp, f"{base}-after.png"))
    before = stylize(p, old, os.path.join(tmp, f"{base}-before.png"))
    size = Image.open(after).size
    size = (size[0] * 384 // max(size), size[1] * 384 // max(size))
    fp, fs = features(f"{a.shared}/data/content/{p}", size), features(f"{a.shared}/data/style/starry_night.jpg", (384, 384))
    d = []
    for img in (before, after):
        f = features(img, size)
        content = float(((f["relu4_2"] - fp["relu4_2"]) ** 2).mean())
        style = float(sum(((gram(f[l]) - gram(fs[l])) ** 2).mean() for l in style_layers))
        d.append((content, style))
    lines.append(f"| {p} | {d[0][0]:.2f} → {d[1][0]:.2f} | {d[0][1]:.3f} → {d[1][1]:.3f} |")
    rows.append([Image.open(f"{a.shared}/data/content/{p}").convert("RGB"), Image.open(before).convert("RGB"), Image.open(after).convert("RGB")])

w = 320
sheet_h = sum(round(r[0].height * w / r[0].width) + 6 for r in rows) + 24
sheet = Image.new("RGB", (3 * w + 12, sheet_h), "white")
draw = ImageDraw.Draw(sheet)
for i, t in enumerate(["photo", f"before ({a.before})", "after (embedded now)"]):
    draw.text((i * (w + 6) + 4, 6), t, fill="black")
y = 24
for r in rows:
    h = round(r[0].height * w / r[0].width)
    for i, im in enumerate(r):
        sheet.paste(im.resize((w, h), Image.BICUBIC), (i * (w + 6), y))
    y += h + 6
sheet.save(os.path.join(a.out, "before-after.jpg"), quality=88)
with open(os.path.join(a.out, "before-after.md"), "w") as f:
    f.write(f"`scripts/fast_gallery.py --before {a.before}` at {a.size} px (VGG16 features ÷ 255·0.226; lower = closer):\n\n" + "\n".join(lines) + "\n")
print("\n".join(lines))
