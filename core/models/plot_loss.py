#!/usr/bin/env python3
"""loss.csv (train_default.py or restyle train fast) -> loss.png: the
weighted terms per step, smoothed over 25 steps. Needs numpy + pillow only.
  python3 plot_loss.py loss.csv loss.png [style_weight] [tv_weight]"""
import csv, sys
import numpy as np
from PIL import Image, ImageDraw

rows = list(csv.DictReader(open(sys.argv[1])))
sw = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
tw = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
series = {"content": np.array([float(r["content"]) for r in rows]),
          "style x%g" % sw: sw * np.array([float(r["style"]) for r in rows]),
          "total": np.array([float(r["total"]) for r in rows])}
W, H, M = 640, 360, 50
img = Image.new("RGB", (W, H), "white"); d = ImageDraw.Draw(img)
k = 25
sm = {n: np.convolve(v, np.ones(k) / k, mode="valid") for n, v in series.items()}
lo = np.log10(min(v.min() for v in sm.values())); hi = np.log10(max(v.max() for v in sm.values()))
n = len(rows)
def xy(i, v):
    return M + (W - 2 * M) * i / max(1, n - 1), H - M - (H - 2 * M) * (np.log10(v) - lo) / (hi - lo)
d.rectangle([M, M, W - M, H - M], outline="black")
for e in range(int(np.floor(lo)), int(np.ceil(hi)) + 1):
    if lo <= e <= hi:
        _, y = xy(0, 10 ** e); d.text((5, y - 5), f"1e{e}", fill="black")
for (name, v), col in zip(sm.items(), ["blue", "orange", "black"]):
    pts = [xy(i + k // 2, x) for i, x in enumerate(v)]
    d.line(pts, fill=col, width=2)
    d.text((pts[-1][0] - 90, pts[-1][1] - 14), name, fill=col)
d.text((M, H - M + 10), f"step 1 … {n} (log scale, {k}-step moving average)", fill="black")
d.text((M, 20), "embedded starry_night network: training loss", fill="black")
img.save(sys.argv[2])
