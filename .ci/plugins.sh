#!/bin/bash
# Plug-in stage: the GIMP 3 and Krita plug-ins tested inside the real hosts
# (recipes: ../shared/docs/plugin-hosts.md). Run as root on Debian bookworm.
#  1. hosts: Krita 5.1 on the host (apt), GIMP 3.0 in a Debian trixie chroot
#     (built once under $RESTYLE_CHROOT, reused afterwards) — .ci/plugins-setup.sh;
#  2. librestyle as the test build made it (no rebuild);
#  3. install each plug-in with plugin/install.py into throwaway profiles;
#  4. GIMP batch (every precision, every method, new layer, preview, built-in
#     names vs the CLI, missing style), kritarunner (the same for Krita, plus
#     cancel), Krita GUI and GIMP dialog under Xvfb (preview, new layer,
#     undo, Cancel clicked mid-run); exported PNGs checked by verify.py.
# RESTYLE_SCREENSHOTS=DIR also saves the dialogs as PNG into DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
R=${RESTYLE_CHROOT:-/var/cache/restyle-ci/trixie}
WEIGHTS=${RESTYLE_WEIGHTS_DIR:-$(cd .. && pwd)/shared/weights}
DATA=${RESTYLE_DATA_DIR:-$(cd .. && pwd)/shared/data}
SEL=16,12,64,40   # selection rectangle used by every test (x,y,w,h)
exec 3>&2   # timings go to the console even when a step's output goes to a log
t() { local s=$EPOCHREALTIME c="$*"; "$@"; echo "TIMING $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME-$s}") s: ${c:0:100}" >&3; }

t .ci/plugins-setup.sh
# The library the README's test command already built (same features, so
# this is a no-op after `cargo test --workspace`; `cargo build -p
# restyle-ffi` would rebuild it with other features).
t cargo test -q --workspace --no-run
LIB=${CARGO_TARGET_DIR:-$REPO/target}/debug/deps/librestyle.so
CLI=${CARGO_TARGET_DIR:-$REPO/target}/debug/restyle   # built by the same command (core's CLI tests)

# Work folders: one inside the chroot (GIMP), one on the host (Krita).
G=$R/tmp/restyle-ci; K=$(mktemp -d /tmp/restyle-krita.XXXXXX)
mount_binds() { for m in proc sys dev dev/pts; do mountpoint -q "$R/$m" || mount --bind "/$m" "$R/$m"; done; }
cleanup() { for m in dev/pts dev sys proc; do umount "$R/$m" 2>/dev/null || true; done; rm -rf "$K"; }
trap cleanup EXIT   # never rm -rf a chroot with /dev bound
mount_binds
rm -rf "$G"; mkdir -p "$G/io" "$K/io" "$K/home/.config" "$K/tmp"

# Input: a real photo, 128x96, with an alpha ramp (semi-transparent pixels too).
/usr/bin/python3 - "$DATA/content/chicago.jpg" "$G/io/in.png" <<'PY'
import sys
import numpy as np
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB").resize((128, 96), Image.LANCZOS)
a = np.tile(np.linspace(255, 64, 128).astype(np.uint8), (96, 1))
Image.fromarray(np.dstack([np.asarray(im), a]), "RGBA").save(sys.argv[2])
PY
cp "$DATA/style/starry_night.jpg" "$G/io/style.jpg"
# The CLI's multistyle26 output for one id: the plug-ins pick the style by
# its name and must give the same pixels.
MS_ID=20
"$CLI" stylize "$G/io/in.png" --method multistyle26 --style-id $MS_ID --weights-dir "$WEIGHTS" -o "$G/io/cli_ms.png" >/dev/null
MS_NAME=$("$CLI" info | /usr/bin/python3 -c "import re, sys; print(dict(re.findall(r'(\d+) ([a-z-]+)', sys.stdin.read().split('(--style-id):')[1]))['$MS_ID'])")
HAVE_ADAIN=$([ -f "$WEIGHTS/vgg_normalised.pth" ] && [ -f "$WEIGHTS/decoder.pth" ] && echo 1 || echo 0)
CLIENV="RESTYLE_CLI_MS=/tmp/restyle-ci/io/cli_ms.png RESTYLE_CLI_MS_ID=$MS_ID RESTYLE_CLI_MS_NAME=$MS_NAME RESTYLE_HAVE_ADAIN=$HAVE_ADAIN"
cp "$G/io/in.png" "$G/io/style.jpg" "$G/io/cli_ms.png" "$K/io/"

# GIMP 3 (chroot): plug-in installed the way a user does it.
python3 plugin/install.py gimp --dir "$G/gimp3/plug-ins" --lib "$LIB" --weights "$WEIGHTS" >/dev/null
# A fast network imported by name, beside the installed weights: the dialog must list it.
/usr/bin/python3 plugin/tests/fast_model.py "$G/gimp3/plug-ins/restyle/weights" painterly >/dev/null
E="env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp/restyle-ci/home GIMP3_DIRECTORY=/tmp/restyle-ci/gimp3"
t chroot "$R" $E RESTYLE_IN=/tmp/restyle-ci/io/in.png RESTYLE_OUT=/tmp/restyle-ci/io/gimp.png \
  RESTYLE_STYLE=/tmp/restyle-ci/io/style.jpg $CLIENV \
  timeout 300 gimp-console-3.0 -i --batch-interpreter=python-fu-eval -b - --quit \
  < plugin/tests/gimp_batch.py > "$G/gimp.log" 2>&1 || { tail -40 "$G/gimp.log"; echo "GIMP host test FAILED"; exit 1; }
grep '^RESTYLE-GIMP' "$G/gimp.log"
grep -q '^RESTYLE-GIMP-ALL-OK' "$G/gimp.log" || { tail -40 "$G/gimp.log"; echo "GIMP host test FAILED"; exit 1; }
/usr/bin/python3 plugin/tests/verify.py "$G/io/in.png" "$G/io/gimp.png" $SEL

# Krita 5.1 (host): kritarunner, then the GUI's real menu action under Xvfb.
PYK=$K/home/.local/share/krita/pykrita
python3 plugin/install.py krita --dir "$PYK" --lib "$LIB" --weights "$WEIGHTS" --kritarc "$K/home/.config/kritarc" >/dev/null
KE="env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=$K/home TMPDIR=$K/tmp"
t $KE QT_QPA_PLATFORM=offscreen PYTHONPATH="$PYK:$REPO/plugin/tests" RESTYLE_CLI_MS="$K/io/cli_ms.png" RESTYLE_CLI_MS_ID=$MS_ID RESTYLE_CLI_MS_NAME=$MS_NAME \
  timeout 300 kritarunner -s krita_runner_test -f main "$K/io/in.png" "$K/io/style.jpg" "$K/io/krita_runner.png" \
  > "$K/kr.log" 2>&1 || true   # kritarunner exits 0 even on errors: the sentinel decides
grep '^RESTYLE-KRITA' "$K/kr.log"
grep -q '^RESTYLE-KRITA-OK' "$K/kr.log" || { tail -40 "$K/kr.log"; echo "kritarunner host test FAILED"; exit 1; }
/usr/bin/python3 plugin/tests/verify.py "$K/io/in.png" "$K/io/krita_runner.png" $SEL

SHOTS=${RESTYLE_SCREENSHOTS:-}
[ -z "$SHOTS" ] || mkdir -p "$SHOTS"   # Krita saves its dialogs there during the GUI test
t $KE RESTYLE_SELFTEST_OUT="$K/io/krita_gui.png" RESTYLE_SELFTEST_STYLE="$K/io/style.jpg" RESTYLE_SELFTEST_SEL=$SEL \
  ${SHOTS:+RESTYLE_SCREENSHOT=$SHOTS/krita-dialog.png RESTYLE_SCREENSHOT_BUILTIN=$SHOTS/krita-builtin.png RESTYLE_SCREENSHOT_ERROR=$K/io/krita-error.png} \
  timeout 300 xvfb-run -a -s '-screen 0 1280x1024x24' krita --nosplash "$K/io/in.png" > "$K/krgui.log" 2>&1 || true
grep '^RESTYLE-KRITA-GUI' "$K/krgui.log" || { tail -40 "$K/krgui.log"; echo "Krita GUI host test FAILED"; exit 1; }
for want in 'preview shown: True, document unchanged: True' \
    "new layer: error None, layers \['Background', 'restyle: style'\], source identical and result on the new layer: True" \
    'undo removes the new layer: True' 'action error: None changed: True' 'undo restores the layer: True' \
    'cancel (new layer True): cancelled, image unchanged: True' 'cancel (new layer False): cancelled, image unchanged: True' \
    "missing style: error 'cannot read image /nonexistent/style.jpg.*layer unchanged: True"; do
  grep -q "RESTYLE-KRITA-GUI $want" "$K/krgui.log" || { tail -40 "$K/krgui.log"; echo "Krita GUI check FAILED: $want"; exit 1; }
done
! grep -q 'RESTYLE-KRITA-GUI exception' "$K/krgui.log" || { grep -A8 'RESTYLE-KRITA-GUI exception' "$K/krgui.log"; exit 1; }
/usr/bin/python3 plugin/tests/verify.py "$K/io/in.png" "$K/io/krita_gui.png" $SEL

# The Krita dialog outside Krita, offscreen, with PyQt6 (Krita 6's binding,
# from PyPI: no Krita 6 host is installable here) and PyQt5 (Krita 5's).
for q in 6 5; do
  PY=/usr/bin/python3; [ $q = 6 ] && PY=${RESTYLE_PYQT6_VENV:-/var/cache/restyle-ci/pyqt6-venv}/bin/python
  t env RESTYLE_QT=$q QT_QPA_PLATFORM=offscreen RESTYLE_LIB="$LIB" RESTYLE_WEIGHTS_DIR="$WEIGHTS" \
    timeout 300 "$PY" plugin/tests/dialog_qt_test.py "$DATA/content/chicago.jpg" "$DATA/style/starry_night.jpg" \
    > "$K/qt$q.log" 2>&1 || true
  grep -q "^RESTYLE-QT$q-DIALOG-OK" "$K/qt$q.log" || { tail -30 "$K/qt$q.log"; echo "PyQt$q dialog test FAILED"; exit 1; }
  grep -E '^(methods|first preview|preview)' "$K/qt$q.log" | sed "s/^/PyQt$q dialog: /"
done

# Batch examples (plugin/examples/): a folder of two photos, stylized by
# gimp-console and by kritarunner; outputs checked, inputs untouched.
mkdir -p "$G/batch/in"
cp "$G/io/in.png" "$G/batch/in/chicago.png"
/usr/bin/python3 -c "from PIL import Image; Image.open('$DATA/content/golden_gate.jpg').convert('RGB').resize((96, 72)).save('$G/batch/in/golden_gate.jpg')"
/usr/bin/python3 plugin/tests/verify_folder.py --snapshot "$G/batch/in" > "$G/batch/before"
t chroot "$R" $E RESTYLE_IN_DIR=/tmp/restyle-ci/batch/in RESTYLE_OUT_DIR=/tmp/restyle-ci/batch/gimp-out \
  RESTYLE_METHOD=multistyle26 RESTYLE_BUILTIN=$MS_NAME timeout 300 gimp-console-3.0 -i --batch-interpreter=python-fu-eval \
  -b - --quit < plugin/examples/gimp_stylize_folder.py > "$G/batch/gimp.log" 2>&1 || { tail -20 "$G/batch/gimp.log"; exit 1; }
grep '^restyle:' "$G/batch/gimp.log"
/usr/bin/python3 plugin/tests/verify_folder.py "$G/batch/in" "$G/batch/gimp-out" "$G/batch/before"
t $KE QT_QPA_PLATFORM=offscreen PYTHONPATH="$PYK:$REPO/plugin/examples" timeout 300 kritarunner -s krita_stylize_folder -f main \
  "$G/batch/in" "$K/batch-out" method=fast strength=0.9 > "$K/batch.log" 2>&1 || true
grep '^restyle:' "$K/batch.log"
/usr/bin/python3 plugin/tests/verify_folder.py "$G/batch/in" "$K/batch-out" "$G/batch/before"

# Release artefacts (plugin/package.py, without weights): the Krita zip
# through Krita's own importer into a clean profile, then the GUI must show
# the filter in its menu; the GIMP archive unpacked into a clean profile
# must register the procedure.
t python3 plugin/package.py --lib "$LIB" -o "$K/dist" 2>/dev/null
KI=$K/import-home; mkdir -p "$KI/.config" "$KI/tmp"
KIE="env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=$KI TMPDIR=$KI/tmp"
t $KIE QT_QPA_PLATFORM=offscreen PYTHONPATH="$REPO/plugin/tests" timeout 300 kritarunner -s krita_import_test -f main \
  "$K"/dist/restyle-krita-*.zip "$KI/.local/share/krita" "$KI/.config/kritarc" > "$K/import.log" 2>&1 || true
grep '^RESTYLE-KRITA-IMPORT' "$K/import.log"
grep -q '^RESTYLE-KRITA-IMPORT-OK' "$K/import.log" || { tail -30 "$K/import.log"; echo "Krita zip import FAILED"; exit 1; }
t $KIE RESTYLE_SELFTEST_MENU=1 timeout 180 xvfb-run -a -s '-screen 0 1280x1024x24' krita --nosplash > "$K/menu.log" 2>&1 || true
grep -q "^RESTYLE-KRITA-MENU \['Tools > Scripts > Neural Style Transfer (restyle)...'\]" "$K/menu.log" \
  || { tail -30 "$K/menu.log"; echo "the imported Krita plug-in is not in the menu"; exit 1; }
grep '^RESTYLE-KRITA-MENU' "$K/menu.log"
mkdir -p "$G/pkg/gimp3/plug-ins"
tar -xzf "$K"/dist/restyle-gimp-*.tar.gz -C "$G/pkg/gimp3/plug-ins"
chroot "$R" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp/restyle-ci/pkg/home GIMP3_DIRECTORY=/tmp/restyle-ci/pkg/gimp3 \
  timeout 120 gimp-console-3.0 -i --batch-interpreter=python-fu-eval \
  -b "print('RESTYLE-GIMP-PKG registered:', Gimp.get_pdb().lookup_procedure('plug-in-restyle') is not None, flush=True)" \
  --quit > "$G/pkg.log" 2>&1 || true
grep -q 'RESTYLE-GIMP-PKG registered: True' "$G/pkg.log" || { tail -20 "$G/pkg.log"; echo "GIMP archive install FAILED"; exit 1; }
grep 'RESTYLE-GIMP-PKG' "$G/pkg.log"

# GIMP's dialog in interactive runs under Xvfb: preview, new layer, a
# built-in style, Cancel clicked mid-run, Cancel in the dialog.
t chroot "$R" $E RESTYLE_IN=/tmp/restyle-ci/io/in.png RESTYLE_STYLE=/tmp/restyle-ci/io/style.jpg \
  RESTYLE_SELFTEST_DIALOG=/tmp/restyle-ci/io/dialog-steps ${SHOTS:+RESTYLE_SHOTS_DIR=/tmp/restyle-ci/io} \
  timeout 300 xvfb-run -a -s '-screen 0 1280x1024x24' gimp-console-3.0 -i --batch-interpreter=python-fu-eval -b - --quit \
  < plugin/tests/gimp_dialog.py > "$G/gimp-dialog.log" 2>&1 || true
grep '^RESTYLE-GIMP-DIALOG' "$G/gimp-dialog.log" || true
grep -q '^RESTYLE-GIMP-DIALOG-ALL-OK' "$G/gimp-dialog.log" || { tail -40 "$G/gimp-dialog.log"; echo "GIMP dialog host test FAILED"; exit 1; }
if [ -n "$SHOTS" ]; then
  mkdir -p "$SHOTS"
  cp "$G/io/gimp-dialog.png" "$G/io/gimp-builtin.png" "$SHOTS/" || true
  cp "$K/io/krita-error.png" "$SHOTS/" 2>/dev/null || true
fi
echo "plug-in stage passed"
