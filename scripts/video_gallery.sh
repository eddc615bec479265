#!/usr/bin/env bash
# The video contact sheet (docs/gallery/video/contact-sheet.png): four
# consecutive frames of bigbuckbunny.mp4 stylized frame by frame
# (--temporal none, row 1) and with the flow-guided blend (--temporal flow,
# row 2); rows 3 and 4 are each row's change from the previous frame,
# amplified 4× (flicker shows as speckle there). Needs ffmpeg.
# Run from the repository root after a build (RESTYLE=path/to/restyle).
set -euo pipefail
RESTYLE=${RESTYLE:-target/release/restyle}
DATA=${DATA:-../shared/data}
METHOD=${METHOD:-fast}
out=docs/gallery/video
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src="$DATA/video/bigbuckbunny.mp4"
for mode in none flow; do
  # ffv1 in Matroska: lossless, so the sheet shows restyle's frames, not the encoder's.
  "$RESTYLE" video "$src" --method "$METHOD" --resize 192 --start 1 --duration 1.2 \
    --temporal "$mode" --codec ffv1 -o "$tmp/$mode.mkv"
done
first=20  # frames first..first+3
row() {  # row VIDEO EXTRA_FILTER OUT
  ffmpeg -v error -y -i "$1" -vf "$2select='between(n,$first,$((first + 3)))',tile=4x1" -frames:v 1 "$3"
}
row "$tmp/none.mkv" "" "$tmp/r1.png"
row "$tmp/flow.mkv" "" "$tmp/r2.png"
amp="tblend=all_mode=difference,lutrgb=r='min(val*4,255)':g='min(val*4,255)':b='min(val*4,255)',"
row "$tmp/none.mkv" "$amp" "$tmp/r3.png"
row "$tmp/flow.mkv" "$amp" "$tmp/r4.png"
ffmpeg -v error -y -i "$tmp/r1.png" -i "$tmp/r2.png" -i "$tmp/r3.png" -i "$tmp/r4.png" \
  -filter_complex "[0][1][2][3]vstack=inputs=4" "$out/contact-sheet.png"
echo "wrote $out/contact-sheet.png"
