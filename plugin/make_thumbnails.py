#!/usr/bin/env python3
"""Makes plugin/thumbnails/multistyle26.jpg: the 26 built-in styles applied by
the library to one fixed photo, one 64x64 tile per style id, left to right.

  RESTYLE_LIB=target/debug/librestyle.so python3 plugin/make_thumbnails.py \\
      [--photo ../shared/data/content/golden_gate.jpg] [--weights ../shared/weights]

Committed (45 KB) rather than computed on first use: the dialogs open at
once, with no 26 network runs and nothing written into the user's profile;
the plug-in host tests check the tiles still match what the library makes
for each id. Needs PIL.
"""
import argparse
import os
import sys

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import restyle_binding as rb  # noqa: E402

WORK = 128  # stylized at this size, then reduced to the tile (finer strokes)


def tiles(photo, weights):
    """The 26 tiles (PIL images, THUMB_SIDE square), by style id."""
    im = Image.open(photo).convert("RGB")
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((WORK, WORK), Image.LANCZOS)
    src = im.tobytes()
    out = []
    with rb.Context(weights) as ctx:
        for i in range(rb.MULTISTYLE26_STYLES):
            px = bytearray(src)
            ctx.stylize(px, WORK, WORK, rb.FORMAT_RGB8, method="multistyle26", builtin_style=i)
            t = Image.frombytes("RGB", (WORK, WORK), bytes(px))
            out.append(t.resize((rb.THUMB_SIDE, rb.THUMB_SIDE), Image.LANCZOS))
    return out


def main():
    root = os.path.dirname(HERE)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photo", default=os.path.join(root, "..", "shared", "data", "content", "golden_gate.jpg"))
    ap.add_argument("--weights", default=os.environ.get("RESTYLE_WEIGHTS_DIR") or os.path.join(root, "..", "shared", "weights"))
    ap.add_argument("-o", "--out", default=os.path.join(HERE, "thumbnails", "multistyle26.jpg"))
    a = ap.parse_args()
    ts = tiles(a.photo, a.weights)
    sheet = Image.new("RGB", (rb.THUMB_SIDE * len(ts), rb.THUMB_SIDE))
    for i, t in enumerate(ts):
        sheet.paste(t, (i * rb.THUMB_SIDE, 0))
    tmp = a.out + ".tmp"
    sheet.save(tmp, "JPEG", quality=88)
    os.replace(tmp, a.out)  # atomic: never a half-written sprite
    print("wrote %s (%d styles, %d bytes)" % (a.out, len(ts), os.path.getsize(a.out)))


if __name__ == "__main__":
    main()
