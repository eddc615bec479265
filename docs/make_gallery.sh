#!/usr/bin/env bash
# Regenerates the gallery images under docs/gallery/ with the restyle CLI.
# Run from the repository root after `cargo build` (or set RESTYLE=path/to/restyle).
# Each method owner appends a section below.
set -euo pipefail
RESTYLE=${RESTYLE:-target/debug/restyle}
DATA=${DATA:-../shared/data}
WEIGHTS=${WEIGHTS:-../shared/weights}

# --- arbitrary (Magenta): one photo in five styles, and a strength sweep ---
out=docs/gallery/arbitrary
mkdir -p "$out"
# A 256 px copy of the photo, so that the outputs stay small.
photo=$(mktemp -d)/golden_gate.png
python3 -c "import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB'); im.thumbnail((256, 256), Image.BICUBIC); im.save(sys.argv[2])" \
  "$DATA/content/golden_gate.jpg" "$photo"
for style in starry_night the_scream mosaic udnie wave; do
  "$RESTYLE" stylize "$photo" --style "$DATA/style/$style.jpg" \
    --weights-dir "$WEIGHTS" -o "$out/golden_gate-$style.jpg"
done
for s in 0.0 0.25 0.5 0.75 1.0; do
  "$RESTYLE" stylize "$photo" --style "$DATA/style/starry_night.jpg" --strength "$s" \
    --weights-dir "$WEIGHTS" -o "$out/golden_gate-starry_night-strength-$s.jpg"
done
"$RESTYLE" stylize "$photo" --style "$DATA/style/the_scream.jpg" --style "$DATA/style/mosaic.jpg" \
  --style-weights 0.5,0.5 --weights-dir "$WEIGHTS" -o "$out/golden_gate-scream+mosaic.jpg"
"$RESTYLE" stylize "$photo" --style "$DATA/style/starry_night.jpg" --preserve-color luminance \
  --weights-dir "$WEIGHTS" -o "$out/golden_gate-starry_night-luminance.jpg"
python3 - "$out" <<'PY'
# A contact sheet of the arbitrary gallery, to view at a glance.
import sys
from pathlib import Path
from PIL import Image
d = Path(sys.argv[1])
rows = [[f"golden_gate-{s}.jpg" for s in ["starry_night", "the_scream", "mosaic", "udnie", "wave"]],
        [f"golden_gate-starry_night-strength-{s}.jpg" for s in ["0.0", "0.25", "0.5", "0.75", "1.0"]]]
ims = [[Image.open(d / f) for f in r] for r in rows]
w, h = ims[0][0].size
sheet = Image.new("RGB", (w * 5, h * 2), "white")
for i, r in enumerate(ims):
    for j, im in enumerate(r):
        sheet.paste(im.resize((w, h)), (j * w, i * h))
sheet.save(d / "sheet.jpg", quality=90)
PY

# --- fast (Johnson): the embedded default network (no style given), strength, colour ---
out=docs/gallery/fast
mkdir -p "$out"
for photo_name in chicago tubingen; do
  p=$(mktemp -d)/$photo_name.png
  python3 -c "import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB'); im.thumbnail((384, 384), Image.BICUBIC); im.save(sys.argv[2])" \
    "$DATA/content/$photo_name.jpg" "$p"
  "$RESTYLE" stylize "$p" -o "$out/$photo_name-default.jpg"
  "$RESTYLE" stylize "$p" --strength 0.5 -o "$out/$photo_name-default-strength-0.5.jpg"
  "$RESTYLE" stylize "$p" --preserve-color luminance -o "$out/$photo_name-default-luminance.jpg"
done

# --- multistyle26: one photo in several of the 26 built-in styles, and a blend ---
out=docs/gallery/multistyle26
mkdir -p "$out"
p=$(mktemp -d)/golden_gate.png
python3 -c "import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB'); im.thumbnail((256, 256), Image.BICUBIC); im.save(sys.argv[2])" \
  "$DATA/content/golden_gate.jpg" "$p"
for id in 0 3 7 12 19 25; do
  "$RESTYLE" stylize "$p" --method multistyle26 --style-id "$id" --weights-dir "$WEIGHTS" -o "$out/golden_gate-style$id.jpg"
done
"$RESTYLE" stylize "$p" --method multistyle26 --style-id 3:0.5,12:0.5 --weights-dir "$WEIGHTS" -o "$out/golden_gate-blend3+12.jpg"

# --- gatys (optimisation NST): basic vs improved vs improved + colour, three pairs ---
# Small (128 px) and few iterations so that it finishes in minutes on a CPU;
# raise GATYS_SIZE / GATYS_ITERS for nicer pictures.
out=docs/gallery/gatys
mkdir -p "$out"
GATYS_SIZE=${GATYS_SIZE:-128}
GATYS_ITERS=${GATYS_ITERS:-60}
for pair in tubingen:starry_night golden_gate:the_scream chicago:wave; do
  c=${pair%%:*}; s=${pair##*:}
  common=(--method gatys --size "$GATYS_SIZE" --iterations "$GATYS_ITERS" --weights-dir "$WEIGHTS" --style "$DATA/style/$s.jpg")
  "$RESTYLE" stylize "$DATA/content/$c.jpg" "${common[@]}" --preset basic -o "$out/$c-$s-basic.png"
  "$RESTYLE" stylize "$DATA/content/$c.jpg" "${common[@]}" --preset improved --iterations $((GATYS_ITERS / 2)) -o "$out/$c-$s-improved.png"
  "$RESTYLE" stylize "$DATA/content/$c.jpg" "${common[@]}" --preset improved --iterations $((GATYS_ITERS / 2)) \
    --preserve-color luminance -o "$out/$c-$s-improved-luminance.png"
done
