#!/usr/bin/env bash
# The video table of docs/video.md: end-to-end fps at 512 px (longer side)
# and flicker (E_warp, deviation from per-frame) for --temporal none,
# ema 0.5 and flow, per method, on a few seconds of a sample clip; then the
# optical flow's cost per 512² frame. Release build, needs ffmpeg.
# Usage: scripts/video_bench.sh [CLIP] [SECONDS]   (default bigbuckbunny, 3 s;
# docs/video.md: 2 s of bigbuckbunny and of bikes)
set -euo pipefail
RESTYLE=${RESTYLE:-target/release/restyle}
DATA=${DATA:-../shared/data}
clip=${1:-$DATA/video/bigbuckbunny.mp4}
secs=${2:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| method | temporal | fps | E_warp ×1e-4 | deviation /255 | on moving pixels /255 |"
echo "| --- | --- | --- | --- | --- | --- |"
for method in fast arbitrary; do
  style=()
  [[ $method == arbitrary ]] && style=(--style "$DATA/style/starry_night.jpg")
  # The last row: the low-deviation setting (weaker blend, finer flow, the
  # hard mask) that meets the issue's goal of 2x at <= 3.5/255.
  for t in none "ema 0.5" "flow 0.8" "flow 0.43 --flow-preset medium --temporal-feather 0"; do
    set -- $t
    name=${1}; strength=${2:-0.8}; shift $(( $# > 1 ? 2 : 1 ))
    file="$tmp/$method-$name-$strength$*.mkv"; file=${file// /}
    [[ $name == none ]] && file="$tmp/$method-none.mkv"
    # Lossless (ffv1) so the metrics see restyle's frames, not the encoder's.
    log=$("$RESTYLE" video "$clip" --method "$method" "${style[@]}" --resize 512 --duration "$secs" \
      --temporal "$name" --temporal-strength "$strength" "$@" --codec ffv1 -o "$file" 2>&1 | tr '\r' '\n' | tail -1)
    fps=$(sed -n 's/.*, \([0-9.]*\) fps.*/\1/p' <<<"$log")
    j=$("$RESTYLE" video-metrics "$clip" "$file" --reference "$tmp/$method-none.mkv" --json)
    python3 - "$method" "$t" "$fps" "$j" <<'PY'
import json, sys
m, t, fps, j = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
f = lambda v, k=1: "-" if v is None else f"{v * k:.2f}"
print(f"| {m} | {t} | {fps} | {f(j['e_warp'], 1e4)} | {f(j['deviation'])} | {f(j['deviation_moving'])} |")
PY
  done
done
echo
"$RESTYLE" bench flow --sizes 512 --reps 5 --shared "$(dirname "$DATA")"
