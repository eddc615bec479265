#!/usr/bin/env bash
# The video contact sheet (docs/gallery/video/contact-sheet.png): four
# consecutive frames of bigbuckbunny.mp4 stylized frame by frame
# (--temporal none, row 1) and with the flow-guided blend (--temporal flow,
# row 2); rows 3 and 4 are each row's change from the previous frame,
# amplified 4× (flicker shows as speckle there). Then the side-by-side clip
# (docs/gallery/video/side-by-side.mp4): 4 s of the same source at 384 px
# a side, per-frame | flow, H.264 with the source's audio. Needs ffmpeg.
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

# The side-by-side clip: both halves made by restyle losslessly, then one
# H.264 encode of the stacked frames (so both halves lose the same), with
# the source's audio of the same 4 s.
for mode in none flow; do
  "$RESTYLE" video "$src" --method "$METHOD" --resize 384 --start 1 --duration 4 \
    --temporal "$mode" --codec ffv1 -o "$tmp/clip-$mode.mkv"
done
font=$(fc-match -f '%{file}' 'DejaVu Sans:bold' 2>/dev/null || true)
label() {  # label TEXT: a drawtext filter, or nothing without a font
  [[ -n $font ]] && printf "drawtext=fontfile=%s:text='%s':x=8:y=8:fontsize=16:fontcolor=white:box=1:boxcolor=black@0.5:boxborderw=4" "$font" "$1" || printf null
}
ffmpeg -v error -y -i "$tmp/clip-none.mkv" -i "$tmp/clip-flow.mkv" -ss 1 -t 4 -i "$src" \
  -filter_complex "[0:v]setpts=PTS-STARTPTS,$(label 'per frame')[a];[1:v]setpts=PTS-STARTPTS,$(label 'flow (restyle)')[b];[a][b]hstack=inputs=2:shortest=1,format=yuv420p[v]" \
  -map '[v]' -map '2:a?' -c:v libx264 -preset slow -crf 26 -c:a aac -b:a 64k -shortest -movflags +faststart \
  "$out/side-by-side.mp4"
echo "wrote $out/side-by-side.mp4 ($(stat -c %s "$out/side-by-side.mp4") bytes)"
