#!/usr/bin/env python3
"""Checks a host's exported result against its input (host python3, PIL + numpy):
same size, alpha unchanged, RGB changed inside the selection rectangle and
unchanged outside (up to 8-bit export rounding).

  verify.py IN.png OUT.png X,Y,W,H [--expect-unchanged]
"""
import sys

import numpy as np
from PIL import Image

src, out, sel = sys.argv[1], sys.argv[2], [int(v) for v in sys.argv[3].split(",")]
a = np.asarray(Image.open(src).convert("RGBA")).astype(int)
b = np.asarray(Image.open(out).convert("RGBA")).astype(int)
if a.shape != b.shape:
    sys.exit("%s: size %s, input %s" % (out, b.shape, a.shape))
x, y, w, h = sel
inside = np.zeros(a.shape[:2], bool)
inside[y:y + h, x:x + w] = True
d = np.abs(a - b)
changed = (d[..., :3].max(-1) > 5)[inside].mean()
outside, alpha = d[~inside].max(), d[..., 3].max()
print("%s: %dx%d, changed inside %.3f, max diff outside %d, alpha max diff %d"
      % (out, a.shape[1], a.shape[0], changed, outside, alpha))
if "--expect-unchanged" in sys.argv:
    sys.exit(0 if d.max() == 0 else 1)
sys.exit(0 if changed > 0.9 and outside == 0 and alpha == 0 else 1)
