#!/usr/bin/env python3
"""Checks a batch example's output folder against its input folder (host
python3, PIL + numpy): one PNG per input image, same size, stylized (mean
RGB difference above 10/255), no partial files left, and the input folder
byte-identical to the listing taken before (SHA-256 per file, in BEFORE).

  verify_folder.py IN_DIR OUT_DIR BEFORE      (BEFORE from --snapshot)
  verify_folder.py --snapshot IN_DIR > BEFORE
"""
import hashlib
import os
import sys

import numpy as np
from PIL import Image


def snapshot(d):
    return "".join("%s %s\n" % (hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest(), f)
                   for f in sorted(os.listdir(d)))


if sys.argv[1] == "--snapshot":
    sys.stdout.write(snapshot(sys.argv[2]))
    sys.exit(0)
src, out, before = sys.argv[1:4]
ok = snapshot(src) == open(before).read()
print("input folder unchanged: %s" % ok)
names = sorted(os.listdir(src))
outs = sorted(os.listdir(out))
if outs != sorted(os.path.splitext(n)[0] + ".png" for n in names):
    sys.exit("outputs %s for inputs %s" % (outs, names))
for n in names:
    a = np.asarray(Image.open(os.path.join(src, n)).convert("RGB")).astype(int)
    b = np.asarray(Image.open(os.path.join(out, os.path.splitext(n)[0] + ".png")).convert("RGB")).astype(int)
    same_size = a.shape == b.shape
    diff = np.abs(a - b).mean() if same_size else -1
    print("%s: %dx%d -> same size %s, mean RGB difference %.1f" % (n, a.shape[1], a.shape[0], same_size, diff))
    ok = ok and same_size and diff > 10
sys.exit(0 if ok else 1)
