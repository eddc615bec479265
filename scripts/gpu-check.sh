#!/usr/bin/env bash
# GPU verification of restyle (issue 7, item 3): every variant on CUDA against
# the CPU, then `restyle bench` on CUDA against PyTorch CUDA in the same run.
#
# STATUS: UNEXECUTED. Written, with its `stage` half run on a CPU machine, by a
# session that had no GPU. The first run on a GPU will find what was guessed
# wrong; read its log before trusting any number from it.
#
# Two halves, because the GPU machine has no Rust toolchain and no network, and
# what travels there is limited to 64 MiB:
#
#   1. here (CPU):   scripts/build-cuda.sh -- --release   # target/cuda/release/restyle
#                    scripts/gpu-check.sh stage           # -> target/gpu-stage/ (binary, weights, images)
#   2. on the GPU:   scripts/gpu-check.sh run             # carry target/gpu-stage; results in $OUT
#      with the device tool: run(command="OUT=$OUT scripts/gpu-check.sh run", carry=["target/gpu-stage"], timeout_s=540)
#
# `run` writes to $OUT (default target/gpu-out): summary.md (the parity and
# ratio tables for the README), parity.jsonl, bench-restyle.txt,
# bench-peer.jsonl, env.txt, log.txt.
#
# Parity tolerance (stated, per variant, on 8-bit output pixels, CUDA vs CPU,
# same input and seed): feed-forward networks mean |diff| <= 0.5 and max
# |diff| <= 8 levels (f32 on both; the difference is summation order);
# Gatys/improved after a few optimiser steps mean |diff| <= 2 levels (an
# optimiser amplifies rounding differences step by step).
#
# Lines to adapt to the CLI are the VARIANTS and BENCHES tables below.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
stage="${RESTYLE_GPU_STAGE:-$repo/target/gpu-stage}"
mode="${1:-run}"

# name | restyle arguments after `stylize CONTENT -o OUT --device D`  | kind (net|optim)
VARIANTS=(
    "gatys|--method gatys --style STYLE --size 256 --steps 10 --seed 0|optim"
    "improved|--method improved --style STYLE --size 256 --steps 10 --seed 0|optim"
    "fast-default|--size 256|net"
    "multistyle26|--method multistyle26 --style-id 7 --size 256|net"
    "arbitrary|--method arbitrary --style STYLE --size 256|net"
)
# work | restyle bench arguments (--device cuda is added) | peer arguments for gpu_peer_bench.py
BENCHES=(
    "gatys|gatys --sizes 512,1024|gatys --sizes 512,1024"
    "fast|fast --sizes 1024,2048|fast --sizes 1024,2048"
    "multistyle26|multistyle26 --sizes 1024,2048|multistyle26 --sizes 1024,2048"
    "arbitrary|arbitrary --sizes 1024,2048|arbitrary --sizes 1024,2048"
    "train|train-fast --size 256 --batch 8|train --size 256 --batch 8"
)
AUGMENT_COUNT=64

die() { echo "gpu-check: $*" >&2; exit 1; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }

# ---------------------------------------------------------------- stage (CPU)
if [[ "$mode" == stage ]]; then
    bin="${2:-}"
    [[ -n "$bin" ]] || for b in target/cuda/release/restyle target/cuda/debug/restyle; do [[ -x "$b" ]] && { bin="$b"; break; }; done
    [[ -x "$bin" ]] || die "no CUDA build: run scripts/build-cuda.sh -- --release first"
    shared="${RESTYLE_SHARED:-$repo/../shared}"
    [[ -d "$shared/weights" ]] || die "no $shared/weights"
    rm -rf "$stage" && mkdir -p "$stage/images" "$stage/cache" || die "cannot create $stage"
    # The binary needs libcuda.so.1 even to start: use the stub to run it here.
    source "$repo/scripts/cuda-env.sh" || die "cuda-env failed"
    fake="$(mktemp -d)"; ln -s "$CUDA_ROOT/lib/stubs/libcuda.so" "$fake/libcuda.so.1"
    here() { LD_LIBRARY_PATH="$fake:$RESTYLE_CUDA_LIB_DIR" "$bin" "$@"; }
    objcopy --strip-debug "$bin" "$stage/restyle" || cp "$bin" "$stage/restyle"
    # Canonical weights, made by the binary itself, as on a user's machine.
    for f in "$shared"/weights/*.onnx; do
        here weights import "$f" --cache-dir "$stage/cache" >>"$stage/stage.log" 2>&1 || die "weights import $f failed (see $stage/stage.log)"
    done
    cp "$shared/data/content/tubingen.jpg" "$shared/data/style/starry_night.jpg" "$stage/images/"
    mkdir -p "$stage/images/coco"
    find "$shared/data/coco128" -name '*.jpg' | sort | head -n "$AUGMENT_COUNT" | xargs -r cp -t "$stage/images/coco/"
    cp scripts/gpu_peer_bench.py "$stage/"
    size=$(du -sm "$stage" | cut -f1)
    echo "gpu-check: staged $stage: ${size} MiB (the device tool carries at most 64 MiB with the working tree)" >&2
    (( size < 60 )) || echo "gpu-check: WARNING: over budget; drop coco images or carry the VGG cache in a second call" >&2
    rm -rf "$fake"
    exit 0
fi
[[ "$mode" == run ]] || die "usage: $0 stage [BIN] | run"

# ---------------------------------------------------------------- run (GPU)
OUT="${OUT:-$repo/target/gpu-out}"
mkdir -p "$OUT" || die "cannot create $OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
bin="$stage/restyle"
[[ -x "$bin" ]] || die "no $bin: run '$0 stage' on the build machine and carry $stage"
export RESTYLE_CACHE_DIR="$stage/cache" RESTYLE_OFFLINE=1
content="$stage/images/tubingen.jpg" style="$stage/images/starry_night.jpg"

# CUDA 13 user-space libraries (cuBLAS, NVRTC, cuRAND, cudart): the GPU
# machine's PyTorch ships them as nvidia-* wheels; libcuda.so.1 is the driver's.
libdir="${RESTYLE_CUDA_LIB_DIR:-}"
if [[ -z "$libdir" ]]; then
    for d in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) /usr/local/cuda/lib64; do
        for c in "$d/nvidia/cu13/lib" "$d"; do
            [[ -e "$c/libcublas.so.13" ]] && { libdir="$c"; break 2; }
        done
    done
fi
[[ -n "$libdir" ]] || die "no libcublas.so.13 found (set RESTYLE_CUDA_LIB_DIR)"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{
    date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
    echo "libs: $libdir"; ldd "$bin" | grep -E 'cuda|cublas|nvrtc|curand|not found'
    python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'
    "$bin" info
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
ldd "$bin" | grep -q 'not found' && die "unresolved libraries (env.txt)"

# Parity: the same image on CPU and CUDA.
compare() { # a.png b.png -> "mean max"
    python3 - "$1" "$2" <<'EOF'
import sys, numpy as np
from PIL import Image
a, b = (np.asarray(Image.open(p).convert("RGB"), np.int16) for p in sys.argv[1:3])
if a.shape != b.shape:
    print("nan 999"); sys.exit(0)  # different sizes: fails the tolerance
d = np.abs(a - b)
print(f"{d.mean():.4f} {d.max()}")
EOF
}
: > "$OUT/parity.jsonl"
fails=0
for v in "${VARIANTS[@]}"; do
    IFS='|' read -r name args kind <<<"$v"
    if [[ "$kind" == net ]]; then tol_mean=0.5 tol_max=8; else tol_mean=2 tol_max=255; fi
    args="${args//STYLE/$style}"
    for dev in cpu cuda; do
        start=$(date +%s.%N)
        # shellcheck disable=SC2086
        if ! timeout 300 "$bin" stylize "$content" $args --device "$dev" -o "$OUT/$name-$dev.png" > "$OUT/$name-$dev.log" 2>&1; then
            echo "gpu-check: $name on $dev FAILED:"; tail -5 "$OUT/$name-$dev.log"
        fi
        echo "$name $dev: $(elapsed "$start") s"
    done
    if [[ -f "$OUT/$name-cpu.png" && -f "$OUT/$name-cuda.png" ]]; then
        read -r mean max <<<"$(compare "$OUT/$name-cpu.png" "$OUT/$name-cuda.png")"
        ok=$(python3 -c "print(str($mean <= $tol_mean and $max <= $tol_max).lower())" 2>/dev/null || echo false)
        [[ "$mean" == nan ]] && mean=null
    else
        mean=null max=null ok=false
    fi
    [[ "$ok" == true ]] || fails=$((fails + 1))
    echo "{\"variant\": \"$name\", \"mean_abs\": $mean, \"max_abs\": $max, \"tol_mean\": $tol_mean, \"tol_max\": $tol_max, \"ok\": $ok}" | tee -a "$OUT/parity.jsonl"
done

# Benchmarks: restyle on CUDA, then PyTorch CUDA, same machine, same run.
: > "$OUT/bench-restyle.txt"; : > "$OUT/bench-peer.jsonl"
for b in "${BENCHES[@]}"; do
    IFS='|' read -r work ours theirs <<<"$b"
    # shellcheck disable=SC2086
    timeout 240 "$bin" bench $ours --device cuda --no-peer 2>&1 | tee -a "$OUT/bench-restyle.txt"
    # shellcheck disable=SC2086
    timeout 240 python3 "$stage/gpu_peer_bench.py" $theirs 2>&1 | tee -a "$OUT/bench-peer.jsonl"
done
# Augmentation throughput: restyle-augment is not carried; time the arbitrary
# network per image through `restyle stylize` over the staged COCO images.
start=$(date +%s.%N); n=0
for f in "$stage"/images/coco/*.jpg; do
    "$bin" stylize "$f" --method arbitrary --style "$style" --size 512 --device cuda -o "$OUT/aug.png" >/dev/null 2>&1 && n=$((n + 1))
done
t=$(elapsed "$start")
echo "augment (restyle stylize per image, process start included): $n images in $t s" | tee -a "$OUT/bench-restyle.txt"
python3 "$stage/gpu_peer_bench.py" augment --size 512 --count "$AUGMENT_COUNT" 2>&1 | tee -a "$OUT/bench-peer.jsonl"
rm -f "$OUT/aug.png"

{
    echo "# GPU check $(date -u +%F) on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
    echo; echo "## Parity (CUDA vs CPU, 8-bit levels)"; echo
    echo "| variant | mean abs | max abs | tolerance (mean / max) | ok |"; echo "| --- | --- | --- | --- | --- |"
    python3 - "$OUT/parity.jsonl" <<'EOF2'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print("| {variant} | {mean_abs} | {max_abs} | {tol_mean} / {tol_max} | {ok} |".format(**r))
EOF2
    echo; echo "## restyle bench (CUDA)"; echo; echo '```'; cat "$OUT/bench-restyle.txt"; echo '```'
    echo; echo "## PyTorch CUDA peer"; echo; echo '```'; cat "$OUT/bench-peer.jsonl"; echo '```'
} > "$OUT/summary.md"
echo "gpu-check: done, $fails parity failure(s); $OUT/summary.md"
exit $(( fails > 0 ))
