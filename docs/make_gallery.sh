#!/usr/bin/env bash
# Regenerates the gallery images under docs/gallery/ with the restyle CLI.
# Run from the repository root after `cargo build` (or set RESTYLE=path/to/restyle).
# Each method owner appends a section below.
set -euo pipefail
RESTYLE=${RESTYLE:-target/debug/restyle}
DATA=${DATA:-../shared/data}
WEIGHTS=${WEIGHTS:-../shared/weights}
# `docs/make_gallery.sh gatys` (or arbitrary, fast, multistyle26) renders one section only.
ONLY=${1:-all}
section() { [[ "$ONLY" == all || "$ONLY" == "$1" ]]; }
# thumb NAME SIZE: prints the path of a SIZE px (longest side) PNG copy of
# $DATA/content/NAME.jpg, so that the outputs stay small.
thumb() {
  local out
  out=$(mktemp -d)/$1.png
  python3 -c "import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB'); im.thumbnail((int(sys.argv[3]),) * 2, Image.BICUBIC); im.save(sys.argv[2])" \
    "$DATA/content/$1.jpg" "$out" "$2"
  echo "$out"
}

# --- coarse-to-fine vs one scale at 1024 px (about 10 minutes, release build) ---
# Only on request: `docs/make_gallery.sh c2f`.
if [[ "$ONLY" == c2f ]]; then
out=docs/gallery/gatys/1024
mkdir -p "$out"
full=$(mktemp -d)
"$RESTYLE" bench coarse-to-fine --sizes 1024 --scales 3 --iterations 10 --seconds 1800 \
  --pairs tubingen:starry_night --shared "$(dirname "$DATA")" --out "$full" | tee "$out/coarse_to_fine.txt"
python3 - "$full" "$out" <<'PY'
# Half-size copies and a full-resolution crop of each result (the files stay small).
import sys
from pathlib import Path
from PIL import Image
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for run in ["coarse-to-fine", "one-scale"]:
    im = Image.open(src / f"tubingen-starry_night-1024-{run}.jpg")
    im.resize((im.width // 2, im.height // 2), Image.BICUBIC).save(dst / f"{run}.jpg", quality=80)
    im.crop((300, 100, 700, 400)).save(dst / f"{run}-crop.jpg", quality=85)
PY
fi

# --- arbitrary (Magenta): one photo in five styles, and a strength sweep ---
if section arbitrary; then
out=docs/gallery/arbitrary
mkdir -p "$out"
photo=$(thumb golden_gate 256)
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

fi

# --- fast (Johnson): the embedded default network (no style given), strength, colour ---
if section fast; then
out=docs/gallery/fast
mkdir -p "$out"
for photo_name in chicago tubingen; do
  p=$(thumb "$photo_name" 384)
  "$RESTYLE" stylize "$p" -o "$out/$photo_name-default.jpg"
  "$RESTYLE" stylize "$p" --strength 0.5 -o "$out/$photo_name-default-strength-0.5.jpg"
  "$RESTYLE" stylize "$p" --preserve-color luminance -o "$out/$photo_name-default-luminance.jpg"
done

fi

# --- multistyle26: one photo in several of the 26 built-in styles, and a blend ---
if section multistyle26; then
out=docs/gallery/multistyle26
mkdir -p "$out"
p=$(thumb golden_gate 256)
for id in 0 3 7 12 19 25; do
  "$RESTYLE" stylize "$p" --method multistyle26 --style-id "$id" --weights-dir "$WEIGHTS" -o "$out/golden_gate-style$id.jpg"
done
"$RESTYLE" stylize "$p" --method multistyle26 --style-id 3:0.5,12:0.5 --weights-dir "$WEIGHTS" -o "$out/golden_gate-blend3+12.jpg"
fi

# --- gatys (optimisation NST): basic vs improved vs improved + colour, three pairs ---
# Every run gets the same wall-clock budget. The basic and improved images are
# the outputs of `restyle bench quality`, so the distances it prints (saved in
# quality.txt, tabled in docs/quality.md) are those of these pictures; the
# colour variants run the improved preset with the same budget. Slow on a CPU:
# 3 pairs × 4 runs × GATYS_SECONDS (60 s: about 13 min with the release
# binary, RESTYLE=/work/rel-target/release/restyle, the documented run).
if section gatys; then
out=docs/gallery/gatys
mkdir -p "$out"
GATYS_SIZE=${GATYS_SIZE:-256}
GATYS_SECONDS=${GATYS_SECONDS:-60}
GATYS_PAIRS=${GATYS_PAIRS:-tubingen:starry_night golden_gate:the_scream chicago:wave}
# Both presets, plus basic with α = 0.25: the content weight at which basic's
# content distance is about the improved preset's, to compare the two at a
# similar content distance (docs/quality.md).
"$RESTYLE" bench quality --sizes "$GATYS_SIZE" --seconds "$GATYS_SECONDS" --pairs "${GATYS_PAIRS// /,}" \
  --shared "$(dirname "$DATA")" --out "$out" \
  --variant basic:preset=basic --variant improved: \
  --variant basic-a0.25:preset=basic,content-weight=0.25 | tee "$out/quality.txt"
for pair in $GATYS_PAIRS; do
  c=${pair%%:*}; s=${pair##*:}
  p=$(thumb "$c" "$GATYS_SIZE")
  for mode in luminance histogram; do
    "$RESTYLE" stylize "$p" --method gatys --preset improved --size "$GATYS_SIZE" --iterations 100000 \
      --max-seconds "$GATYS_SECONDS" --weights-dir "$WEIGHTS" --style "$DATA/style/$s.jpg" \
      --preserve-color "$mode" -o "$out/$c-$s-improved-$mode.jpg"
  done
done
fi
