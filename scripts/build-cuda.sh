#!/usr/bin/env bash
# Builds `restyle` with CUDA from a fresh clone; no GPU is needed.
#
#   scripts/build-cuda.sh                 # dev profile, --features cuda -> target/cuda/debug/restyle
#   scripts/build-cuda.sh --cudnn         # also cuDNN (installs the cuDNN 9.21 wheel, ~800 MB more)
#   scripts/build-cuda.sh --check         # `cargo check` only: Rust side + cudarc/candle-kernels build scripts
#   scripts/build-cuda.sh -- --release    # anything after `--` goes to cargo
#
# Environment: CARGO_TARGET_DIR (default target/cuda, a separate tree so the
# CPU build and its lock are untouched), CUDA_COMPUTE_CAP (default 90 =
# H100/H200), RESTYLE_CUDA_PREFIX (toolkit location, see cuda-env.sh),
# RESTYLE_CUDA_NICE (default 19: this is background work on a shared machine),
# CUDAFORGE_THREADS (parallel nvcc processes, default: all cores).
#
# After building it checks the binary: it must need the driver's
# libcuda.so.1 and find cuBLAS/NVRTC/cuRAND/cudart 13 in the toolkit, and,
# run against the stub driver, it must report CUDA as unusable with a clear
# message and fall back to the CPU for `--device auto` (the binary's `info`
# and core's device:: unit tests, compiled with CUDA).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

features=cuda mode=build
cargo_args=()
while (($#)); do
    case "$1" in
        --cudnn) features=cudnn; export RESTYLE_CUDA_CUDNN=1 ;;
        --check) mode=check ;;
        --) shift; cargo_args+=("$@"); break ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "build-cuda: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# shellcheck source=scripts/cuda-env.sh
source "$repo/scripts/cuda-env.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/cuda}"
# candle-kernels compiles ~15 CUDA files (its quantized-LLM kernels, unused
# here but not optional) with one nvcc per core at most; its default is half
# the cores, i.e. one on a 2-core machine.
export CUDAFORGE_THREADS="${CUDAFORGE_THREADS:-$(nproc)}"
nice_level="${RESTYLE_CUDA_NICE:-19}"

echo "build-cuda: nvcc $("$NVCC" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p'), sm_${CUDA_COMPUTE_CAP}, features=$features, target dir $CARGO_TARGET_DIR" >&2
start=$(date +%s)
nice -n "$nice_level" cargo "$mode" -p restyle-core --features "$features" --bins --lib "${cargo_args[@]}"
echo "build-cuda: cargo $mode took $(( $(date +%s) - start )) s" >&2
[[ "$mode" == check ]] && exit 0

profile=debug
for a in "${cargo_args[@]}"; do [[ "$a" == --release ]] && profile=release; done
bin="$CARGO_TARGET_DIR/$profile/restyle"
[[ -x "$bin" ]] || { echo "build-cuda: $bin was not produced" >&2; exit 1; }

# The binary must load the real driver (libcuda.so.1, resolved at run time),
# and every other CUDA library must come from the 13.x toolkit. (The linker
# drops libraries nothing calls, e.g. NVRTC and cuBLASLt.)
needed="$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
for lib in libcuda.so.1 libcublas.so.13 libcurand.so.10 libcudart.so.13; do
    grep -qx "$lib" <<<"$needed" || { echo "build-cuda: $bin does not link $lib; it links: $needed" >&2; exit 1; }
done
[[ "$features" == cudnn ]] && { grep -qx 'libcudnn.so.9' <<<"$needed" || { echo "build-cuda: no libcudnn.so.9 in $bin" >&2; exit 1; }; }

# Smoke test without a GPU: the stub driver answers every call with
# CUDA_ERROR_STUB_LIBRARY, which must become a clear error for `cuda` and a
# CPU fallback for `auto`.
fake="$(mktemp -d)"
trap 'rm -rf "$fake"' EXIT
ln -s "$CUDA_ROOT/lib/stubs/libcuda.so" "$fake/libcuda.so.1"
run() { LD_LIBRARY_PATH="$fake:$RESTYLE_CUDA_LIB_DIR" "$bin" "$@"; }
missing="$(LD_LIBRARY_PATH="$fake:$RESTYLE_CUDA_LIB_DIR" ldd "$bin" | grep 'not found' || true)"
[[ -z "$missing" ]] || { echo "build-cuda: unresolved libraries: $missing" >&2; exit 1; }
info="$(run info)"
grep -q 'cuda compiled in: true' <<<"$info" || { echo "build-cuda: '$bin info' does not report CUDA support:" >&2; echo "$info" >&2; exit 1; }
grep -q 'device (auto): cpu' <<<"$info" || { echo "build-cuda: with no usable GPU, --device auto should fall back to cpu:" >&2; echo "$info" >&2; exit 1; }
# The device unit tests, compiled with CUDA and run against the stub driver.
LD_LIBRARY_PATH="$fake:$RESTYLE_CUDA_LIB_DIR" nice -n "$nice_level" \
    cargo test -p restyle-core --features "$features" --lib "${cargo_args[@]}" -- device::
echo "build-cuda: OK: $bin (sm_${CUDA_COMPUTE_CAP}, $features); at run time: LD_LIBRARY_PATH=$RESTYLE_CUDA_LIB_DIR plus the NVIDIA driver's libcuda.so.1" >&2
